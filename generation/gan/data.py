"""Training images: read a folder once (with `generation.decode`, as pools do), check it, keep it in memory.

A training set is a stack of 8-bit grey square images of one size plus, optionally, one label
per image, taken from a CSV file (columns `file,label`) or from the name of each image's
sub-folder. Files are decoded by `generation.decode` (PNG, JPEG, TIFF, DICOM with its own window),
cut to their centred square and, when larger than the training resolution, resampled with the
pool's own Lanczos filter (`generation.render`). Anything unusable is refused as a whole, with a
message that names the files and says what to do.

`BatchOrder` decides which images each step sees: epochs of a seeded random permutation, with a
state that a checkpoint saves, so a resumed run reads the images a run that never stopped would.
"""

from __future__ import annotations

import csv
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from generation.decode import DecodeError, decode_file, make_options, sniff
from generation.render import quantise, resample, to_square

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".dcm", ".dicom")
EXAMPLES = 3  # files named in an error message


class TrainingDataError(ValueError):
    """The training images cannot be used; the message says which and what to do."""


@dataclass
class TrainingSet:
    images: np.ndarray  # uint8 (N, size, size)
    labels: np.ndarray | None = None  # int64 (N,) indices into label_names
    label_names: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # relative paths, for messages

    def __post_init__(self) -> None:
        images = self.images
        if not isinstance(images, np.ndarray) or images.ndim != 3 or images.shape[1] != images.shape[2]:
            shape = getattr(images, "shape", type(images).__name__)
            raise TrainingDataError(f"training images must be an array of shape (N, size, size), got {shape}")
        if len(images) == 0:
            raise TrainingDataError("no training images: give at least one")
        if images.dtype != np.uint8:
            raise TrainingDataError(f"training images must be uint8 (use TrainingSet.from_floats), got {images.dtype}")
        if self.labels is not None:
            self.labels = np.asarray(self.labels, dtype=np.int64)
            if self.labels.shape != (len(images),):
                raise TrainingDataError(f"{len(images)} images but {self.labels.shape} labels")
            if len(self.label_names) < 2 or self.labels.min() < 0 or self.labels.max() >= len(self.label_names):
                raise TrainingDataError(f"labels must index at least two label names, got {self.label_names}")

    @classmethod
    def from_floats(cls, images: np.ndarray, labels=None, label_names=None) -> TrainingSet:
        """From floats in [0, 1] (N, size, size), e.g. phantoms drawn in memory."""
        images = np.asarray(images)
        if images.size and (not np.isfinite(images).all() or images.min() < 0 or images.max() > 1):
            raise TrainingDataError("training images must hold finite values in [0, 1] (divide 8-bit images by 255)")
        return cls(quantise(images) if images.size else images.astype(np.uint8), labels, list(label_names or []))

    @property
    def size(self) -> int:
        return self.images.shape[1]

    def digest(self) -> str:
        """sha256 of the pixels and labels: a resumed run must train on the very same set."""
        digest = hashlib.sha256(str(self.images.shape).encode())
        digest.update(np.ascontiguousarray(self.images).tobytes())
        if self.labels is not None:
            digest.update(self.labels.tobytes())
            digest.update("\n".join(self.label_names).encode())
        return digest.hexdigest()


def load_training_set(
    folder: Path | str,
    resolution: int | None = None,
    *,
    labels_csv: Path | str | None = None,
    labels_from_folders: bool = False,
    window: str = "auto",
) -> TrainingSet:
    """Every image below `folder` at `resolution` px (None: their own size, if a power of two)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise TrainingDataError(f"image folder {folder} does not exist or is not a folder")
    if labels_csv is not None and labels_from_folders:
        raise TrainingDataError("give labels either from a CSV file or from sub-folder names, not both")
    files = image_files(folder)
    if not files:
        raise TrainingDataError(f"no images (PNG, JPEG, TIFF or DICOM) in {folder} or its sub-folders")
    if labels_csv is not None:
        names = _labels_from_csv(Path(labels_csv), files, folder)
    elif labels_from_folders:
        names = _labels_from_folders(files, folder)
    else:
        names = None
    pixels = _decode_all(folder, files, window)
    side = _common_side(pixels, files)
    size = _pick_resolution(side, resolution)
    images = np.stack([quantise(resample(p, size)) for p in pixels])
    if names is None:
        return TrainingSet(images, files=files)
    label_names = sorted(set(names))
    if len(label_names) < 2:
        raise TrainingDataError(f"every image has the label {label_names[0]!r}: a conditional GAN needs at least two "
                                "labels (train without labels instead)")
    index = {name: i for i, name in enumerate(label_names)}
    return TrainingSet(images, np.array([index[n] for n in names]), label_names, files)


def image_files(folder: Path) -> list[str]:
    found = []
    for root, subfolders, names in os.walk(folder):
        subfolders[:] = sorted(name for name in subfolders if not name.startswith("."))
        for name in names:
            path = Path(root) / name
            if name.startswith(".") or not path.is_file():
                continue
            if path.suffix.lower() in IMAGE_SUFFIXES or (not path.suffix and sniff(path) == "dicom"):
                found.append(path.relative_to(folder).as_posix())
    return sorted(found)


def _examples(items) -> str:
    items = list(items)
    more = f" and {len(items) - EXAMPLES} more" if len(items) > EXAMPLES else ""
    return ", ".join(str(item) for item in items[:EXAMPLES]) + more


def _labels_from_csv(path: Path, files: list[str], folder: Path) -> list[str]:
    if not path.is_file():
        raise TrainingDataError(f"labels file {path} does not exist")
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or not {"file", "label"} <= {name.strip() for name in reader.fieldnames}:
            raise TrainingDataError(f"{path} must be a CSV file with a header row naming the columns file and label "
                                    f"(got {reader.fieldnames})")
        rows = [{key.strip(): (value or "").strip() for key, value in row.items() if key} for row in reader]
    labels: dict[str, str] = {}
    for number, row in enumerate(rows, start=2):
        name = row["file"].replace("\\", "/").removeprefix("./")
        if not name or not row["label"]:
            raise TrainingDataError(f"{path} line {number}: both file and label must be filled in")
        if name in labels and labels[name] != row["label"]:
            raise TrainingDataError(f"{path} gives {name} two labels ({labels[name]!r} and {row['label']!r})")
        labels[name] = row["label"]
    unknown = sorted(set(labels) - set(files))
    if unknown:
        raise TrainingDataError(f"{path} names {len(unknown)} files that are not images in {folder}: "
                                f"{_examples(unknown)} (file names are relative to the image folder)")
    missing = [name for name in files if name not in labels]
    if missing:
        raise TrainingDataError(f"{len(missing)} images in {folder} have no label in {path}: {_examples(missing)}; "
                                "label every image or move the others out")
    return [labels[name] for name in files]


def _labels_from_folders(files: list[str], folder: Path) -> list[str]:
    loose = [name for name in files if "/" not in name]
    if loose:
        raise TrainingDataError(f"{len(loose)} images lie directly in {folder}, in no labelled sub-folder: "
                                f"{_examples(loose)}; put every image in a sub-folder named after its label")
    return [name.split("/", 1)[0] for name in files]


def _decode_all(folder: Path, files: list[str], window: str) -> list[np.ndarray]:
    options = make_options(window=window, frames="first", color="refuse")
    pixels, bad = [], []
    for name in files:
        try:
            pixels.append(to_square(decode_file(folder / name, options)[0].pixels, "center"))
        except DecodeError as error:
            bad.append(f"{name} ({error})")
    if bad:
        raise TrainingDataError(f"{len(bad)} files in {folder} cannot be used: {_examples(bad)}; "
                                "fix or remove them")
    return pixels


def _common_side(pixels: list[np.ndarray], files: list[str]) -> int:
    sides: dict[int, list[str]] = {}
    for image, name in zip(pixels, files, strict=True):
        sides.setdefault(image.shape[0], []).append(name)
    if len(sides) > 1:
        listing = "; ".join(f"{side} px: {len(names)} files such as {names[0]}" for side, names in sorted(sides.items()))
        raise TrainingDataError(f"the images have {len(sides)} different sizes (after cutting each to its centred "
                                f"square: {listing}); training needs one size: resize them to one size first "
                                "(or keep only the files of one size)")
    return next(iter(sides))


def _pick_resolution(side: int, resolution: int | None) -> int:
    if resolution is None:
        if side & (side - 1) or side < 4:
            below = 2 ** (side.bit_length() - 1)
            raise TrainingDataError(f"the images are {side} px, not a power of two: give a training resolution "
                                    f"such as {below} (--resolution {below})")
        return side
    if resolution < 4 or resolution & (resolution - 1):
        raise TrainingDataError(f"the training resolution must be a power of two such as 128, 256 or 512, "
                                f"got {resolution}")
    if resolution > side:
        raise TrainingDataError(f"the images are {side} px but the training resolution is {resolution} px: "
                                f"a GAN trained on upsampled images learns the blur; train at {side} px or less")
    return resolution


class BatchOrder:
    """Which images each step trains on: a seeded random permutation per epoch, resumable."""

    def __init__(self, count: int, seed: int):
        self.count = count
        self.generator = torch.Generator().manual_seed(seed)
        self.permutation = torch.randperm(count, generator=self.generator)
        self.position = 0

    def next(self, n: int) -> torch.Tensor:
        """The indices of the next `n` images (a new permutation starts when one is used up)."""
        taken = []
        while n > 0:
            if self.position == self.count:
                self.permutation = torch.randperm(self.count, generator=self.generator)
                self.position = 0
            chunk = self.permutation[self.position : self.position + n]
            taken.append(chunk)
            self.position += len(chunk)
            n -= len(chunk)
        return torch.cat(taken)

    def state_dict(self) -> dict:
        return {"count": self.count, "generator": self.generator.get_state(),
                "permutation": self.permutation.clone(), "position": self.position}

    def load_state_dict(self, state: dict) -> None:
        if state["count"] != self.count:
            raise ValueError(f"the checkpoint's batch order is over {state['count']} images, this set has {self.count}")
        self.generator.set_state(state["generator"])
        self.permutation = state["permutation"].clone()
        self.position = int(state["position"])

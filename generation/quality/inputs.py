"""Read the two inputs of the quality report into per-resolution sets of images.

An input is a pool folder (it has manifest.json: its main images of the asked class, at each
of its resolutions) or a plain folder of PNG, JPEG, TIFF or BMP files, all of one square size
(read recursively; each file is its own source). `--real` and `--synthetic` may name the same
pool. Catch images are never used.

`source` is the pool's source_id: every slice of one volume shares it, so it stands for the
patient wherever the report must keep one patient's images together.

Labels come from the pool's manifest, or from a CSV (`--labels`) with a `label` column and one
key column: `id`, `source_id` or `file` (a folder input's path below the folder, or a pool
image's recorded source, optionally prefixed with real/ or synthetic/).

The training list (`--train-list`) names, one per line, the real images the generator was
trained on, by id, source_id or file path (a path matches a recorded source path or its tail);
the other real images are the hold-out set. Blank lines and lines starting with # are skipped.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image, UnidentifiedImageError

from generation.manifest import MANIFEST_NAME, ManifestError, load_manifest

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
KINDS = ("real", "synthetic")
SHOWN = 5


class QualityInputError(ValueError):
    """The inputs cannot be used for a quality report; the message says why and what to do."""


@dataclass
class ImageSet:
    """The images of one class at one resolution, in a fixed order."""

    kind: str  # "real" or "synthetic"
    resolution: int
    ids: list[str]
    sources: list[str]  # source_id: shared by the slices of one volume (one patient)
    names: list[str]  # what a person recognises: the recorded source path, or the file below the folder
    labels: list[str | None]
    pixels: np.ndarray  # (n, size, size) uint8
    trained: np.ndarray = field(default=None)  # bool per image: the generator was trained on it (real only)

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, index) -> "ImageSet":
        index = np.asarray(index, dtype=int)
        pick = lambda values: [values[i] for i in index]  # noqa: E731
        return ImageSet(self.kind, self.resolution, pick(self.ids), pick(self.sources), pick(self.names),
                        pick(self.labels), self.pixels[index],
                        None if self.trained is None else self.trained[index])

    def floats(self) -> np.ndarray:
        return self.pixels.astype(np.float32) / 255.0


@dataclass
class QualityInputs:
    """What the report works on: per resolution, the real and the synthetic set."""

    sets: dict[int, tuple[ImageSet, ImageSet]]
    has_labels: bool
    has_train_list: bool
    notes: list[str]
    description: dict


def load_inputs(real: str | Path, synthetic: str | Path, *, labels: str | Path | None = None,
                train_list: str | Path | None = None) -> QualityInputs:
    """Load both inputs, apply the labels and the training list; raise QualityInputError if unusable."""
    notes: list[str] = []
    real_sets = _read_input(Path(real), "real")
    synthetic_sets = _read_input(Path(synthetic), "synthetic")
    resolutions = sorted(set(real_sets) & set(synthetic_sets))
    if not resolutions:
        raise QualityInputError(
            f"the real images ({_sizes(real_sets)} px in {real}) and the synthetic images ({_sizes(synthetic_sets)} "
            f"px in {synthetic}) share no resolution: build one pool from both folders with "
            "`python -m generation pool build --real ... --synthetic ...` and pass it as both --real and --synthetic"
        )
    dropped = sorted(set(real_sets) ^ set(synthetic_sets))
    if dropped:
        notes.append(f"resolutions with only one class are skipped: {', '.join(map(str, dropped))} px")
    sets = {r: (real_sets[r], synthetic_sets[r]) for r in resolutions}
    if labels is not None:
        _apply_label_csv(Path(labels), sets)
        notes.append(f"labels from {labels}")
    has_labels = _check_labels(sets)
    if train_list is not None:
        _apply_train_list(Path(train_list), sets, notes)
    else:
        for real_set, _ in sets.values():
            real_set.trained = np.zeros(len(real_set), dtype=bool)
        notes.append("no --train-list: every real image is taken as one the generator never saw; memorisation "
                     "is measured against all real images")
    description = {"real": str(real), "synthetic": str(synthetic), "labels": None if labels is None else str(labels),
                   "train_list": None if train_list is None else str(train_list)}
    return QualityInputs(sets, has_labels, train_list is not None, notes, description)


def _sizes(sets: dict) -> str:
    return ", ".join(map(str, sorted(sets))) or "no"


def _read_input(path: Path, kind: str) -> dict[int, ImageSet]:
    if not path.is_dir():
        raise QualityInputError(f"--{kind} {path} is not a folder (give a pool folder or a folder of images)")
    if (path / MANIFEST_NAME).is_file():
        return _read_pool(path, kind)
    return _read_folder(path, kind)


def _read_pool(pool: Path, kind: str) -> dict[int, ImageSet]:
    try:
        manifest = load_manifest(pool)
    except ManifestError as exc:
        raise QualityInputError(f"--{kind} {pool}: {exc}") from None
    by_resolution: dict[int, list[dict]] = {}
    for image in manifest["images"]:
        if image["class"] == kind and image["role"] == "main":
            by_resolution.setdefault(image["resolution"], []).append(image)
    if not by_resolution:
        raise QualityInputError(f"the pool {pool} has no {kind} images (catch images are not used): "
                                f"give a pool or a folder that holds {kind} images as --{kind}")
    sets = {}
    for resolution, images in sorted(by_resolution.items()):
        images.sort(key=lambda image: image["id"])
        pixels = np.stack([_read_grey(pool / image["file"], resolution) for image in images])
        sets[resolution] = ImageSet(kind, resolution, [i["id"] for i in images], [i["source_id"] for i in images],
                                    [i["source"].split("#")[0] for i in images], [i["label"] for i in images], pixels)
    return sets


def _read_folder(folder: Path, kind: str) -> dict[int, ImageSet]:
    files = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                   and not any(part.startswith(".") for part in p.relative_to(folder).parts))
    if not files:
        raise QualityInputError(f"--{kind} {folder} holds no images (PNG, JPEG, TIFF or BMP, searched recursively) "
                                "and no manifest.json: give a pool folder or a folder of images")
    pixels, sizes = [], {}
    for file in files:
        image = _read_grey(file, None)
        pixels.append(image)
        sizes.setdefault(image.shape, []).append(file.relative_to(folder).as_posix())
    if len(sizes) > 1 or next(iter(sizes))[0] != next(iter(sizes))[1]:
        examples = "; ".join(f"{names[0]} is {shape[1]}x{shape[0]}" for shape, names in list(sizes.items())[:SHOWN])
        raise QualityInputError(
            f"the images in {folder} are not all of one square size ({examples}): the report compares images "
            "rendered the same way, so build a pool first (`python -m generation pool build --real ... "
            "--synthetic ... --resolutions 64,128,256 --out POOL`) and pass the pool folder"
        )
    names = [file.relative_to(folder).as_posix() for file in files]
    size = pixels[0].shape[0]
    ids = [f"{kind}/{name}" for name in names]
    return {size: ImageSet(kind, size, ids, list(ids), names, [None] * len(files), np.stack(pixels))}


def _read_grey(path: Path, size: int | None) -> np.ndarray:
    try:
        with Image.open(path) as image:
            if image.mode in ("I;16", "I;16B", "I", "F"):
                values = np.asarray(image, dtype=np.float64)
                low, high = values.min(), values.max()
                array = np.zeros(values.shape, np.uint8) if high == low else \
                    np.rint((values - low) / (high - low) * 255).astype(np.uint8)
            else:
                array = np.asarray(image.convert("L"))
    except (UnidentifiedImageError, OSError) as exc:
        raise QualityInputError(f"{path} cannot be read as an image ({exc})") from None
    if size is not None and array.shape != (size, size):
        raise QualityInputError(f"{path} is {array.shape[1]}x{array.shape[0]}, its manifest says {size}x{size}: "
                                "run `python -m generation pool check` on the pool")
    return array


def _image_keys(image_set: ImageSet, i: int) -> list[str]:
    name = image_set.names[i]
    return [image_set.ids[i], image_set.sources[i], name, f"{image_set.kind}/{name}"]


def _apply_label_csv(path: Path, sets: dict[int, tuple[ImageSet, ImageSet]]) -> None:
    try:
        rows = list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines()))
    except (OSError, UnicodeDecodeError) as exc:
        raise QualityInputError(f"the labels file {path} cannot be read as UTF-8 text ({exc})") from None
    header = [name.strip().lower() for name in rows[0]] if rows else []
    keys = [key for key in ("id", "source_id", "file") if key in header]
    if "label" not in header or len(keys) != 1:
        raise QualityInputError(f"the labels file {path} needs a header with a 'label' column and one of 'id', "
                                f"'source_id' or 'file'; it has {', '.join(header) or 'no header'}")
    key_at, label_at = header.index(keys[0]), header.index("label")
    table: dict[str, str] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) <= max(key_at, label_at) or not row[key_at].strip() or not row[label_at].strip():
            raise QualityInputError(f"{path} row {number}: needs a {keys[0]} and a label")
        key, label = row[key_at].strip(), row[label_at].strip()
        if table.get(key, label) != label:
            raise QualityInputError(f"{path} row {number}: {key} has two labels ({table[key]!r} and {label!r})")
        table[key] = label
    used, unlabelled = set(), []
    for image_sets in sets.values():
        for image_set in image_sets:
            for i in range(len(image_set)):
                hit = next((k for k in _image_keys(image_set, i) if k in table), None)
                image_set.labels[i] = table.get(hit) if hit is not None else None
                if hit is None:
                    unlabelled.append(f"{image_set.kind}/{image_set.names[i]}")
                else:
                    used.add(hit)
    unknown = sorted(set(table) - used)
    if unknown:
        raise QualityInputError(f"the labels file {path} names {len(unknown)} image(s) that are not in the inputs "
                                f"({', '.join(unknown[:SHOWN])}); its '{keys[0]}' column must match the inputs")
    if unlabelled:
        raise QualityInputError(f"{len(unlabelled)} image(s) have no label in {path} "
                                f"({', '.join(sorted(set(unlabelled))[:SHOWN])}): label every real and synthetic image")


def _check_labels(sets: dict[int, tuple[ImageSet, ImageSet]]) -> bool:
    """True when every image has a label; refuse labels that do not match between the classes."""
    labelled = {image_set.kind: [label is not None for label in image_set.labels]
                for image_sets in sets.values() for image_set in image_sets}
    if not any(any(flags) for flags in labelled.values()):
        return False
    for resolution, image_sets in sets.items():
        for image_set in image_sets:
            missing = [name for name, label in zip(image_set.names, image_set.labels) if label is None]
            if missing:
                raise QualityInputError(
                    f"{len(missing)} {image_set.kind} image(s) at {resolution} px have no label "
                    f"({', '.join(missing[:SHOWN])}): give every real and synthetic image a label (--labels CSV) "
                    "or none")
        real_labels, synthetic_labels = set(image_sets[0].labels), set(image_sets[1].labels)
        if synthetic_labels - real_labels:
            raise QualityInputError(
                f"at {resolution} px the synthetic images carry labels the real images do not have "
                f"({', '.join(sorted(synthetic_labels - real_labels))}; real: {', '.join(sorted(real_labels))}): "
                "the labels of the two classes must match")
        if len(real_labels) < 2:
            raise QualityInputError(f"at {resolution} px every real image has the label {next(iter(real_labels))!r}: "
                                    "usefulness needs at least two labels")
    return True


def _apply_train_list(path: Path, sets: dict[int, tuple[ImageSet, ImageSet]], notes: list[str]) -> None:
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise QualityInputError(f"the training list {path} cannot be read as UTF-8 text ({exc})") from None
    entries = {_clean(line) for line in lines if line.strip() and not line.lstrip().startswith("#")}
    if not entries:
        raise QualityInputError(f"the training list {path} names no image (one id, source_id or path per line)")
    matched: set[str] = set()
    for real_set, _ in sets.values():
        real_set.trained = np.zeros(len(real_set), dtype=bool)
        for i in range(len(real_set)):
            hits = {entry for entry in entries if _matches(entry, _image_keys(real_set, i))}
            real_set.trained[i] = bool(hits)
            matched |= hits
    if not matched:
        example = next(iter(sets.values()))[0]
        raise QualityInputError(f"none of the {len(entries)} names in the training list {path} matches a real image "
                                f"(for example {sorted(entries)[0]!r}; real images are named like "
                                f"{example.names[0]!r} or by id {example.ids[0]!r})")
    if len(matched) < len(entries):
        notes.append(f"{len(entries) - len(matched)} of the {len(entries)} training-list names match no real image "
                     "(the generator may have seen images that are not in the report)")
    for resolution, (real_set, _) in sets.items():
        if real_set.trained.all():
            raise QualityInputError(f"every real image at {resolution} px is in the training list {path}: the "
                                    "report needs real images the generator never saw (a hold-out set)")


def _clean(line: str) -> str:
    return line.strip().replace("\\", "/").removeprefix("./")


def _matches(entry: str, keys: list[str]) -> bool:
    if entry in keys:
        return True
    path = PurePosixPath(entry).as_posix()
    return any(path.endswith("/" + key) or key.endswith("/" + path) for key in keys[2:])

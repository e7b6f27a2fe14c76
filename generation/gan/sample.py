"""Draw images from a generator, write them as PNGs, and record how to draw each one again.

Image i of a run started from `seed` has its own seed `image_seed(seed, i)` and label (the
generator's labels in turn, or the one asked for). Its noise is drawn from that seed alone, and
the networks always run on full batches of `SAMPLE_BATCH` (the last one padded), so an image
drawn again from its recorded seed and label comes out bit for bit the same on the same kind of
device and torch version (`regenerate`, `verify_samples`). On CUDA, cuDNN is held to
deterministic float32 while sampling; its images match the CPU's to ~1e-6.

`write_samples` writes the images IMAGES/sample_0000.png, ... (8- or 16-bit grey) and a manifest
beside that folder (the command: OUT/images/ and OUT/samples.json, so that `pool build
--synthetic OUT/images` sees images only):

    {"format": "mirage-samples/1", "checkpoint": "<how pools name the generator>", "folder": "images",
     "generator": {"kind": "checkpoint" | "torchscript" | "entry-point" | "folder", ...},
     "seed": 0, "bits": 8, "batch": 16, "device": "cpu", "torch": "2.13.0", "width": 256, "height": 256,
     "images": [{"file": "sample_0000.png", "seed": 2968811710, "label": null, "sha256": "..."}, ...]}

`pool_meta(manifest)` turns it into the `synthetic_meta` that `generation.pool.build_pool` records.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from generation.gan import checkpoint as checkpoints
from generation.gan.device import exact_cudnn, pick_device
from generation.gan.networks import build_generator
from generation.gan.sources import (
    SAMPLE_BATCH,
    EntryPointSource,
    TorchScriptSource,
    checkpoint_label,
    file_sha256,
    label_ids,
    latent,
    padded_batches,
)

__all__ = ["SAMPLE_BATCH", "CheckpointSource", "checkpoint_label", "copy_folder", "exact_cudnn", "generate",
           "image_seed", "latent", "load_generator", "open_source", "pool_meta", "regenerate", "sample",
           "verify_samples", "write_samples"]

MANIFEST_FORMAT = "mirage-samples/1"
MANIFEST_NAME = "samples.json"


def load_generator(path: Path | str, *, device: str | torch.device | None = None) -> torch.nn.Module:
    """Rebuild the generator (the moving average) saved in checkpoint `path`, in eval mode, float32.

    It draws at the stage the run had reached: `generator.resolution` px.
    """
    saved = checkpoints.load(path)
    config = checkpoints.config_of(saved)
    generator = build_generator(config)
    generator.load_state_dict(checkpoints.generator_weights(saved))
    generator.stage, generator.alpha = checkpoints.sampling_stage(saved, config)
    return generator.to(pick_device(device)).eval()


def image_seed(seed: int, index: int) -> int:
    """The seed of image `index` in a run started from `seed` (stable, independent per index)."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def assign_labels(names: list[str], n: int, label: str | None = None) -> list[str] | None:
    """One label per image: `label` for all, else `names` in turn; None without labels."""
    if label is not None:
        return [label] * n
    return [names[i % len(names)] for i in range(n)] if names else None


@torch.no_grad()
def generate(generator: torch.nn.Module, seeds: list[int], labels: list[str] | None = None) -> np.ndarray:
    """Images (len(seeds), r, r), float32 in [0, 1], one per seed (and label, for a conditional generator)."""
    device = next(generator.parameters()).device
    ids = label_ids(list(generator.config.labels), labels, len(seeds))
    size = generator.resolution
    out = np.empty((len(seeds), size, size), dtype=np.float32)
    with exact_cudnn() if device.type == "cuda" else contextlib.nullcontext():
        for start, count, z in padded_batches(seeds, generator.config.latent_dim):
            chunk = None
            if ids is not None:
                chunk = torch.tensor(ids[start : start + count] + [0] * (len(z) - count), device=device)
            images = generator(z.to(device), chunk).float().squeeze(1).clamp(-1, 1).add(1).div(2)
            out[start : start + count] = images[:count].cpu().numpy()
    return out


def sample(checkpoint, n: int, *, seed: int, labels: list[str] | None = None,
           device: str | torch.device | None = None) -> list[tuple[np.ndarray, int]]:
    """Draw `n` images; return (image float32 in [0, 1], the image's own seed) pairs."""
    if n < 1:
        raise ValueError(f"the number of images to sample must be at least 1, got {n}")
    generator = checkpoint if isinstance(checkpoint, torch.nn.Module) else load_generator(checkpoint, device=device)
    seeds = [image_seed(seed, i) for i in range(n)]
    if labels is None:
        labels = assign_labels(list(generator.config.labels), n)
    return list(zip(generate(generator, seeds, labels), seeds, strict=True))


class CheckpointSource:
    """A checkpoint written by `python -m generation train` (either format)."""

    kind = "checkpoint"

    def __init__(self, path: Path | str, *, device: torch.device | None = None):
        self.path = Path(path)
        self.generator = load_generator(self.path, device=device)
        self.sha256 = file_sha256(self.path)
        self.name = f"{self.path.name}@{self.sha256[:12]}"
        self.label_names = list(self.generator.config.labels)

    def record(self) -> dict:
        config = self.generator.config
        return {"kind": self.kind, "name": self.name, "path": str(self.path.resolve()), "sha256": self.sha256,
                "arch": config.arch, "resolution": self.generator.resolution, "stage": self.generator.stage,
                "alpha": self.generator.alpha, "labels": self.label_names, "batch": SAMPLE_BATCH}

    def draw(self, seeds: list[int], labels: list[str] | None) -> np.ndarray:
        return generate(self.generator, seeds, labels)


def open_source(kind: str, spec: str, *, device=None, latent_dim: int | None = None,
                label_names: list[str] | None = None):
    """The source of kind checkpoint, torchscript or entry-point named by `spec`."""
    if kind == "checkpoint":
        return CheckpointSource(spec, device=pick_device(device))
    if kind == "torchscript":
        return TorchScriptSource(spec, latent_dim=latent_dim, device=pick_device(device))
    if kind == "entry-point":
        return EntryPointSource(spec, label_names=label_names)
    raise ValueError(f"unknown generator kind {kind!r}")


def to_pixels(images: np.ndarray, bits: int) -> np.ndarray:
    """Floats in [0, 1] -> uint8 or uint16 (rounded); uint8 images pass as they are (8 bits only)."""
    if images.dtype == np.uint8:
        if bits != 8:
            raise ValueError("this generator returns 8-bit images: use --bits 8")
        return images
    top = 255 if bits == 8 else 65535
    return np.clip(np.rint(images.astype(np.float64) * top), 0, top).astype(np.uint8 if bits == 8 else np.uint16)


def png_bytes(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def write_samples(source, n: int, *, seed: int, out_dir: Path | str, index_path: Path | str | None = None,
                  bits: int = 8, label: str | None = None, labels: list[str] | None = None,
                  min_resolution: int | None = None, created_by: str | None = None) -> dict:
    """Draw `n` images from `source` (a source, or a checkpoint path) into `out_dir`; return the manifest.

    The manifest goes to `index_path` (default: samples.json beside `out_dir`).
    Labels: `labels` (one per image), else `label` for all, else the generator's labels in turn.
    Refuses images smaller than `min_resolution` (the study's largest) before writing any file.
    """
    if n < 1:
        raise ValueError(f"the number of images to sample must be at least 1, got {n}")
    if bits not in (8, 16):
        raise ValueError(f"bits must be 8 or 16, got {bits}")
    if not hasattr(source, "draw"):
        source = CheckpointSource(source)
    seeds = [image_seed(seed, i) for i in range(n)]
    if labels is None:
        labels = assign_labels(source.label_names, n, label)
    out_dir = Path(out_dir)
    index_path = Path(index_path) if index_path is not None else out_dir.parent / MANIFEST_NAME
    index = {"format": MANIFEST_FORMAT, "created_by": created_by, "checkpoint": source.name,
             "folder": _relative(out_dir, index_path), "generator": source.record(), "seed": seed, "bits": bits,
             "batch": SAMPLE_BATCH,
             "device": _device_of(source), "torch": torch.__version__, "images": []}
    for start in range(0, n, SAMPLE_BATCH * 4):
        chunk = slice(start, start + SAMPLE_BATCH * 4)
        pixels = to_pixels(source.draw(seeds[chunk], None if labels is None else labels[chunk]), bits)
        if start == 0:
            _check_first(source, pixels, seeds[0], None if labels is None else labels[0], bits, min_resolution)
            index["height"], index["width"] = (int(v) for v in pixels.shape[1:])
            out_dir.mkdir(parents=True, exist_ok=True)
        for offset, image in enumerate(pixels):
            i = start + offset
            name = f"sample_{i:04d}.png"
            data = png_bytes(image)
            (out_dir / name).write_bytes(data)
            index["images"].append({"file": name, "seed": seeds[i], "label": None if labels is None else labels[i],
                                    "sha256": hashlib.sha256(data).hexdigest()})
    _write_json(index_path, index)
    return index


def _relative(folder: Path, index_path: Path) -> str:
    return Path(os.path.relpath(folder.resolve(), index_path.resolve().parent)).as_posix()


def images_folder(manifest_path: Path, index: dict) -> Path:
    """Where a manifest's images are (manifests of the first layout kept them beside it)."""
    return manifest_path.parent / index.get("folder", ".")

def _device_of(source) -> str:
    generator = getattr(source, "generator", None)
    if generator is not None:
        return next(generator.parameters()).device.type
    return str(getattr(source, "device", "cpu"))


def _check_first(source, pixels: np.ndarray, seed: int, label, bits: int, min_resolution: int | None) -> None:
    height, width = pixels.shape[1:]
    if min_resolution is not None and min(height, width) < min_resolution:
        raise ValueError(f"the generator draws {width}x{height} px images, below the study's largest resolution "
                         f"{min_resolution} px: both classes must be resampled alike by `pool build`, so use a "
                         f"generator trained at {min_resolution} px or more, or leave that resolution out")
    alone = to_pixels(source.draw([seed], None if label is None else [label]), bits)
    if not np.array_equal(alone[0], pixels[0]):
        raise ValueError(f"{source.name} draws a different image for seed {seed} alone than in a batch: each "
                         "image must depend on its own seed (and label) only, or it cannot be drawn again "
                         "(no batch statistics, no shared random state)")


def _write_json(path: Path, data) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(data, indent=1) + "\n")
    os.replace(temporary, path)


def copy_folder(folder: Path | str, out_dir: Path | str, *, index_path: Path | str | None = None,
                name: str | None = None, created_by: str | None = None) -> dict:
    """Record a folder of finished images (from any model): copy each file into out_dir, note its sha256.

    The manifest goes to `index_path` (default: samples.json beside `out_dir`)."""
    from generation.decode import DecodeError, decode_file
    from generation.gan.data import IMAGE_SUFFIXES, image_files

    folder, out_dir = Path(folder), Path(out_dir)
    index_path = Path(index_path) if index_path is not None else out_dir.parent / MANIFEST_NAME
    if not folder.is_dir():
        raise ValueError(f"image folder {folder} does not exist or is not a folder")
    files = image_files(folder)
    if not files:
        raise ValueError(f"no images ({', '.join(IMAGE_SUFFIXES)} or DICOM) in {folder} or its sub-folders")
    bad = []
    for relative in files:
        try:
            decode_file(folder / relative)
        except DecodeError as error:
            bad.append(f"{relative} ({error})")
    if bad:
        raise ValueError(f"{len(bad)} files in {folder} cannot be read as images: {', '.join(bad[:3])}")
    label = name or f"folder:{folder.resolve().name}"
    index = {"format": MANIFEST_FORMAT, "created_by": created_by, "checkpoint": label,
             "folder": _relative(out_dir, index_path),
             "generator": {"kind": "folder", "name": label, "folder": str(folder.resolve())},
             "seed": None, "images": []}
    for relative in files:
        target = out_dir / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(folder / relative, target)
        index["images"].append({"file": relative, "source": relative, "seed": None, "label": None,
                                "sha256": file_sha256(target)})
    _write_json(index_path, index)
    return index


def pool_meta(index: dict) -> dict[str, dict]:
    """The manifest as `build_pool(synthetic_meta=...)` takes it: file -> generator name, checkpoint, seed."""
    name = index["generator"].get("name") or index["checkpoint"]
    return {entry["file"]: {"generator": {"name": name, "checkpoint": index["checkpoint"], "seed": entry["seed"]}}
            for entry in index["images"]}


def regenerate(manifest_path: Path | str, entry: dict | int, *, source=None) -> np.ndarray:
    """Draw one recorded image again from its seed and label (a folder's image: read back, hash checked)."""
    manifest_path = Path(manifest_path)
    index = json.loads(manifest_path.read_text())
    if isinstance(entry, int):
        entry = index["images"][entry]
    record = index["generator"]
    if record["kind"] == "folder":
        path = images_folder(manifest_path, index) / entry["file"]
        if file_sha256(path) != entry["sha256"]:
            raise ValueError(f"{path} is not the recorded file (its sha256 differs)")
        with Image.open(path) as image:
            return np.asarray(image)
    if source is None:
        source = _reopen(record, index.get("device"))
    label = entry.get("label")
    return to_pixels(source.draw([entry["seed"]], None if label is None else [label]), index["bits"])[0]


def _reopen(record: dict, device: str | None):
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("these images were drawn on CUDA: draw them again on a machine with a GPU (on the CPU "
                         "the same seeds give images within 1e-4, whose 8-bit pixels may differ by 1)")
    if record["kind"] in ("checkpoint", "torchscript"):
        if file_sha256(record["path"]) != record["sha256"]:
            raise ValueError(f"{record['path']} has changed since the images were drawn (its sha256 differs)")
        return open_source(record["kind"], record["path"], device=device, latent_dim=record.get("latent_dim"))
    return open_source(record["kind"], record["entry_point"], label_names=record.get("labels"))


def verify_samples(manifest_path: Path | str) -> list[str]:
    """Draw every recorded image again and compare it with its PNG; return the files that differ."""
    manifest_path = Path(manifest_path)
    index = json.loads(manifest_path.read_text())
    source = None if index["generator"]["kind"] == "folder" else _reopen(index["generator"], index.get("device"))
    different = []
    for entry in index["images"]:
        with Image.open(images_folder(manifest_path, index) / entry["file"]) as image:
            written = np.asarray(image)
        if not np.array_equal(regenerate(manifest_path, entry, source=source), written):
            different.append(entry["file"])
    return different

"""Where synthetic images come from: a Mirage checkpoint, or a generator brought from elsewhere.

Every source draws images from seeds (and labels), so `python -m generation sample` writes and
records them the same way whatever made them:

- `CheckpointSource`: a checkpoint written by `python -m generation train` (`sample.py`).
- `TorchScriptSource`: a TorchScript module (`torch.jit.save`). It is called as `module(z)`, or
  `module(z, labels)` when it has a `labels` attribute (a list of label names; `labels` is then an
  int64 tensor of indices into it), with z a float32 (N, latent_dim) tensor of standard normal
  noise drawn from each image's seed exactly as for Mirage's own generators. It returns (N, 1, H, W)
  or (N, H, W) floats in [-1, 1]. latent_dim is the module's `latent_dim` attribute, or given.
- `EntryPointSource`: a Python function named `module:function`, importable from the current
  folder or the Python path, with the signature

      generate(n: int, seeds: list[int], labels: list[str] | None) -> numpy uint8 array (n, H, W)

  Image i must depend on seeds[i] and labels[i] only: the same seed must give the same image
  whether it is drawn alone or in a batch, so any image can be drawn again from its record.
- A folder of finished images is not drawn at all: `sample.copy_folder` records it.

Each source says what it is (`record()`, kept in the samples manifest) and how pools name it
(`name`: file name and the first 12 hex digits of its sha256, or the entry point).
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import warnings
from pathlib import Path

import numpy as np
import torch

SAMPLE_BATCH = 16  # images per forward pass: always full (padded), so an image never depends on its batch


def file_sha256(path: Path | str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def checkpoint_label(path: Path | str) -> str:
    """How pools name a generator file: its name and the first 12 hex digits of its sha256."""
    path = Path(path)
    return f"{path.name}@{file_sha256(path)[:12]}"


def latent(seed: int, latent_dim: int) -> torch.Tensor:
    """The noise vector of one image: standard normal, drawn on the CPU from its seed."""
    return torch.randn(latent_dim, generator=torch.Generator().manual_seed(seed))


def padded_batches(seeds: list[int], latent_dim: int, batch: int = SAMPLE_BATCH):
    """(start, count, z) per batch of `batch` noise vectors; the last batch is padded with zeros.

    Every forward pass then has the same shape, so the arithmetic (and so every bit of an image)
    does not depend on how many images are drawn with it: drawn alone it comes out the same.
    """
    for start in range(0, len(seeds), batch):
        chunk = seeds[start : start + batch]
        z = torch.zeros(batch, latent_dim)
        z[: len(chunk)] = torch.stack([latent(s, latent_dim) for s in chunk])
        yield start, len(chunk), z


def label_ids(names: list[str], labels: list[str] | None, n: int) -> list[int] | None:
    """Label names -> indices into `names`, refusing unknown ones; None for an unconditional generator."""
    if not names:
        if labels is not None and any(label is not None for label in labels):
            raise ValueError("this generator has no labels: leave --label/--labels out")
        return None
    if labels is None or len(labels) != n:
        raise ValueError(f"this generator is conditional: give one label per image, from {', '.join(names)}")
    unknown = sorted({label for label in labels if label not in names}, key=str)
    if unknown:
        raise ValueError(f"unknown labels {unknown}: this generator knows {', '.join(names)}")
    return [names.index(label) for label in labels]


class TorchScriptSource:
    kind = "torchscript"

    def __init__(self, path: Path | str, *, latent_dim: int | None = None, device: torch.device):
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(f"TorchScript file {self.path} does not exist")
        try:
            with warnings.catch_warnings():  # torch 2.13 deprecates TorchScript, which others still export
                warnings.simplefilter("ignore", DeprecationWarning)
                self.module = torch.jit.load(str(self.path), map_location=device).eval()
        except Exception as error:  # torch raises RuntimeError and others for a file that is not TorchScript
            raise ValueError(f"{self.path} is not a TorchScript module saved with torch.jit.save ({error})") from error
        self.device = device
        self.latent_dim = int(getattr(self.module, "latent_dim", 0) or latent_dim or 0)
        if self.latent_dim < 1:
            raise ValueError(f"{self.path.name} has no latent_dim attribute: give the length of its noise "
                             "vector with --latent-dim")
        self.label_names = [str(name) for name in getattr(self.module, "labels", [])]
        self.sha256 = file_sha256(self.path)
        self.name = f"{self.path.name}@{self.sha256[:12]}"

    def record(self) -> dict:
        return {"kind": self.kind, "name": self.name, "path": str(self.path.resolve()), "sha256": self.sha256,
                "latent_dim": self.latent_dim, "labels": self.label_names, "batch": SAMPLE_BATCH}

    @torch.no_grad()
    def draw(self, seeds: list[int], labels: list[str] | None) -> np.ndarray:
        from generation.gan.device import exact_cudnn

        ids = label_ids(self.label_names, labels, len(seeds))
        pieces = []
        with exact_cudnn():
            for start, count, z in padded_batches(seeds, self.latent_dim):
                z = z.to(self.device)
                if ids is None:
                    out = self.module(z)
                else:
                    chunk = ids[start : start + count] + [0] * (len(z) - count)
                    out = self.module(z, torch.tensor(chunk, dtype=torch.int64, device=self.device))
                pieces.append(_check_output(out, len(z), self.path.name)[:count])
        return np.concatenate(pieces)


def _check_output(out, n: int, name: str) -> np.ndarray:
    if not isinstance(out, torch.Tensor) or not out.is_floating_point():
        raise ValueError(f"{name} must return a float tensor, got {type(out).__name__} "
                         f"{getattr(out, 'dtype', '')}")
    if out.ndim == 4 and out.shape[1] == 1:
        out = out[:, 0]
    if out.ndim != 3 or out.shape[0] != n:
        raise ValueError(f"{name} must return images of shape (N, 1, H, W) or (N, H, W) for N = {n}, "
                         f"got {tuple(out.shape)}")
    return out.float().clamp(-1, 1).add(1).div(2).cpu().numpy()


class EntryPointSource:
    kind = "entry-point"

    def __init__(self, spec: str, *, label_names: list[str] | None = None):
        module_name, _, function_name = spec.partition(":")
        if not module_name or not function_name:
            raise ValueError(f"entry point {spec!r} must look like module:function (e.g. mygan.sampler:generate)")
        try:
            module = importlib.import_module(module_name)
        except ImportError as error:
            raise ValueError(f"cannot import {module_name!r} for the entry point {spec!r} ({error}); run from the "
                             "folder that holds it or add that folder to PYTHONPATH") from error
        self.function = getattr(module, function_name, None)
        if not callable(self.function):
            raise ValueError(f"{module_name!r} has no function {function_name!r}")
        self.spec = spec
        self.name = spec
        self.label_names = list(label_names or [])
        self.module_file = inspect.getsourcefile(module) or getattr(module, "__file__", None)
        self.module_sha256 = file_sha256(self.module_file) if self.module_file else None

    def record(self) -> dict:
        return {"kind": self.kind, "name": self.name, "entry_point": self.spec, "module_file": self.module_file,
                "module_sha256": self.module_sha256, "labels": self.label_names}

    def draw(self, seeds: list[int], labels: list[str] | None) -> np.ndarray:
        if self.label_names:
            label_ids(self.label_names, labels, len(seeds))  # refuses unknown labels
        out = self.function(len(seeds), list(seeds), None if labels is None else list(labels))
        if not isinstance(out, np.ndarray) or out.dtype != np.uint8 or out.ndim != 3 or len(out) != len(seeds):
            shape = getattr(out, "shape", None)
            raise ValueError(f"{self.spec} must return a numpy uint8 array of shape (n, H, W) for n = {len(seeds)}, "
                             f"got {type(out).__name__} {getattr(out, 'dtype', '')} {shape}")
        return out

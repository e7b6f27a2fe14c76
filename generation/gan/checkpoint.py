"""The one checkpoint file of a run: everything needed to sample from it and to resume it exactly.

`RUN/<arch>.pt` (format "mirage-gan/2") holds, as plain tensors and lists (loadable with
`torch.load(..., weights_only=True)`, no code runs on loading):

    format, code_version, config          the full GanConfig
    generator, discriminator, generator_ema, optimizer_g, optimizer_d   float32 state dicts, on the CPU
    state      step, images_seen, stage, alpha, seconds, world_size, augment (p and the heuristic's
               running sum), data_sha256 (the training set), last losses
    order      the batch order (permutation, position, its generator's state)
    rng        one entry per process: python, numpy, torch CPU and CUDA generators, plus the
               run's own noise and augmentation generators

It is written to a temporary file, flushed to disk and renamed over the previous one
(`os.replace`), so a run killed at any moment leaves the last complete checkpoint.

Format "mirage-gan/1" (the shipped demo `dcgan.pt`) holds a DCGAN's config, fp16 generator and
discriminator and a progress dict; it still loads for sampling, never for resuming.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch

from generation.gan.config import GanConfig

FORMAT = "mirage-gan/2"
LEGACY_FORMAT = "mirage-gan/1"
CODE_VERSION = "2"


class CheckpointError(ValueError):
    """A file is not a checkpoint this code can use; the message says why."""


def checkpoint_name(config: GanConfig) -> str:
    return f"{config.arch}.pt"


def save(path: Path, payload: dict) -> None:
    """torch.save to PATH.tmp, fsync, then rename over PATH."""
    path = Path(path)
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as handle:
        torch.save(payload, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    try:  # make the rename itself durable
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    except OSError:
        pass


def load(path: Path | str) -> dict:
    """Read a checkpoint of either format, on the CPU; raise CheckpointError for anything else."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist: give the .pt file written by `train`")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for a file that is not a checkpoint
        raise CheckpointError(f"{path} is not a readable torch checkpoint ({error})") from error
    if not isinstance(checkpoint, dict) or checkpoint.get("format") not in (FORMAT, LEGACY_FORMAT):
        raise CheckpointError(f"{path} is not a Mirage GAN checkpoint (expected format {FORMAT!r})")
    return checkpoint


def config_of(checkpoint: dict) -> GanConfig:
    values = dict(checkpoint["config"])
    if checkpoint["format"] == LEGACY_FORMAT:
        # The first format had only the DCGAN, trained without augmentation or labels.
        values = {"arch": "dcgan", "augment": "off", **values}
    return GanConfig.from_dict(values)


def generator_weights(checkpoint: dict) -> dict:
    """The generator to sample from: the moving average (the legacy format stored only that one)."""
    weights = checkpoint["generator_ema" if checkpoint["format"] == FORMAT else "generator"]
    return {k: v.float() if v.is_floating_point() else v for k, v in weights.items()}


def sampling_stage(checkpoint: dict, config: GanConfig) -> tuple[int, float]:
    """The stage and alpha the run had reached (a progressive run may stop before its last stage)."""
    state = checkpoint.get("state") or {}
    return int(state.get("stage", len(config.resolutions()) - 1)), float(state.get("alpha", 1.0))


def cpu_state(module_or_optimizer) -> dict:
    """A state dict with every tensor copied to the CPU (so the file never names a device)."""
    return _to_cpu(module_or_optimizer.state_dict())


def _to_cpu(value):
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", copy=True)
    if isinstance(value, dict):
        return {k: _to_cpu(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_cpu(v) for v in value)
    return value


# --- random number generators ------------------------------------------------------------------


def capture_rng(generators: dict[str, torch.Generator]) -> dict:
    """Every generator's state, as tensors and lists (weights_only-loadable)."""
    version, mt, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "python": [version, list(mt), gauss],
        "numpy": [name, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)],
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "generators": {key: generator.get_state() for key, generator in generators.items()},
    }


def restore_rng(state: dict, generators: dict[str, torch.Generator]) -> None:
    version, mt, gauss = state["python"]
    random.setstate((version, tuple(mt), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"][: torch.cuda.device_count()])
    for key, generator in generators.items():
        generator.set_state(state["generators"][key])

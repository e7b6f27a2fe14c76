"""Load a trained generator and draw images from it, each with its own recorded seed.

Image i of a run started from `seed` uses the noise of `image_seed(seed, i)`, so any single
image can be drawn again from its recorded seed alone (`generate(generator, [that_seed])`).
Sampling runs in float32 on any device; on CUDA, cuDNN is held to deterministic algorithms
without TF32 while sampling, so an image is the same on every draw and matches the CPU's to ~1e-6.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from generation.gan.config import GanConfig
from generation.gan.networks import Generator
from generation.gan.train import CHECKPOINT_FORMAT, pick_device

BATCH = 64  # images per forward pass while sampling


def load_generator(path: Path | str, *, device: str | torch.device | None = None) -> Generator:
    """Rebuild the generator saved in checkpoint `path`, in eval mode, in float32."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist: give the .pt file written by `train`")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises several types for a file that is not a checkpoint
        raise ValueError(f"{path} is not a readable torch checkpoint ({error})") from error
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a Mirage GAN checkpoint (expected format {CHECKPOINT_FORMAT!r})")
    generator = Generator(GanConfig.from_dict(checkpoint["config"]))
    weights = checkpoint["generator"]
    generator.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in weights.items()})
    return generator.to(pick_device(device)).eval()


def checkpoint_label(path: Path | str) -> str:
    """How pools name a checkpoint: its file name and the first 12 hex digits of its sha256."""
    path = Path(path)
    return f"{path.name}@{hashlib.sha256(path.read_bytes()).hexdigest()[:12]}"


def image_seed(seed: int, index: int) -> int:
    """The seed of image `index` in a run started from `seed` (stable, independent per index)."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def latent(seed: int, latent_dim: int) -> torch.Tensor:
    """The noise vector of one image: standard normal, drawn on the CPU from its seed."""
    return torch.randn(latent_dim, generator=torch.Generator().manual_seed(seed))


@contextlib.contextmanager
def exact_cudnn():
    """cuDNN in plain float32 (no TF32) with deterministic algorithms; the settings are restored after.

    By default cuDNN convolves float32 in TF32 (10-bit mantissa) and may pick algorithms whose sums
    vary from run to run: on an H100 the same seeds then gave images up to 7e-3 from the CPU's
    (8-bit pixels off by up to 2) and not bit-identical from one draw to the next.
    """
    cudnn = torch.backends.cudnn
    before = cudnn.deterministic, cudnn.allow_tf32
    cudnn.deterministic, cudnn.allow_tf32 = True, False
    try:
        yield
    finally:
        cudnn.deterministic, cudnn.allow_tf32 = before


@torch.no_grad()
def generate(generator: Generator, seeds: list[int]) -> np.ndarray:
    """Images (len(seeds), size, size), float32 in [0, 1], one per seed."""
    device = next(generator.parameters()).device
    size = generator.config.image_size
    out = np.empty((len(seeds), size, size), dtype=np.float32)
    with exact_cudnn() if device.type == "cuda" else contextlib.nullcontext():
        for start in range(0, len(seeds), BATCH):
            chunk = seeds[start : start + BATCH]
            z = torch.stack([latent(s, generator.config.latent_dim) for s in chunk]).to(device)
            images = generator(z).float().squeeze(1).add(1).div(2).clamp(0, 1)
            out[start : start + len(chunk)] = images.cpu().numpy()
    return out


def sample(
    checkpoint: Path | str | Generator,
    n: int,
    *,
    seed: int,
    device: str | torch.device | None = None,
) -> list[tuple[np.ndarray, int]]:
    """Draw `n` images; return (image float32 in [0, 1], the image's own seed) pairs."""
    if n < 1:
        raise ValueError(f"the number of images to sample must be at least 1, got {n}")
    generator = checkpoint if isinstance(checkpoint, Generator) else load_generator(checkpoint, device=device)
    seeds = [image_seed(seed, i) for i in range(n)]
    return list(zip(generate(generator, seeds), seeds, strict=True))


def write_samples(checkpoint: Path | str, n: int, *, seed: int, out_dir: Path | str, index_path: Path | str) -> dict:
    """Write `n` samples as 8-bit PNGs `sample_0000.png`, ... and an index (JSON) of their seeds.

    Returns the index: {"checkpoint": label, "seed": seed, "images": [{"file", "seed"}, ...]}.
    """
    generator = load_generator(checkpoint)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    index = {"checkpoint": checkpoint_label(checkpoint), "seed": seed, "images": []}
    for i, (image, own_seed) in enumerate(sample(generator, n, seed=seed)):
        name = f"sample_{i:04d}.png"
        Image.fromarray(np.clip(np.rint(image * 255), 0, 255).astype(np.uint8)).save(out_dir / name)
        index["images"].append({"file": name, "seed": own_seed})
    Path(index_path).write_text(json.dumps(index, indent=1) + "\n")
    return index

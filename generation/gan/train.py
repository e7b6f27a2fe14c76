"""Train the demo GAN on a stack of grey images, within a time budget and a step budget.

The loop is DCGAN's: one discriminator step and one generator step per batch, both with the
non-saturating logistic loss, plus a lazy R1 penalty (Mescheder et al. 2018; lazy as in
StyleGAN2, Karras et al. 2020): every `r1_every` steps the discriminator's gradient on real
images is pushed towards zero, which steadies training. (The minibatch-stddev layer at the end
of the discriminator, in `networks.py`, is what keeps the generator diverse.) The generator that
gets saved is an exponential moving average of the trained one, which gives cleaner samples
after short runs. The device is chosen once; on CUDA the forward passes run in bfloat16 autocast.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from generation.gan.config import GanConfig
from generation.gan.networks import Discriminator, Generator

CHECKPOINT_FORMAT = "mirage-gan/1"
CHECKPOINT_NAME = "dcgan.pt"


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """The given device, else CUDA when present, else the CPU."""
    if device is not None:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def check_images(images: np.ndarray, config: GanConfig) -> None:
    """Raise ValueError, saying what to change, unless `images` is (N, size, size) in [0, 1]."""
    if not isinstance(images, np.ndarray) or images.ndim != 3:
        shape = getattr(images, "shape", type(images).__name__)
        raise ValueError(f"training images must be an array of shape (N, height, width), got {shape}")
    n, height, width = images.shape
    if n == 0:
        raise ValueError("no training images: give at least one")
    if (height, width) != (config.image_size, config.image_size):
        raise ValueError(
            f"training images are {height}x{width} px but the config asks for {config.image_size} px: "
            "resize them or change image_size"
        )
    if not np.isfinite(images).all() or images.min() < 0 or images.max() > 1:
        raise ValueError("training images must hold finite values in [0, 1] (divide 8-bit images by 255)")


def r1_penalty(discriminator: Discriminator, real: torch.Tensor) -> torch.Tensor:
    """Mean squared norm of the discriminator's gradient on real images (R1, Mescheder et al. 2018)."""
    real = real.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(discriminator(real).sum(), real, create_graph=True)
    return grad.pow(2).sum(dim=(1, 2, 3)).mean()


def _update_ema(ema: Generator, generator: Generator, decay: float) -> None:
    with torch.no_grad():
        for p_ema, p in zip(ema.parameters(), generator.parameters(), strict=True):
            p_ema.lerp_(p, 1.0 - decay)
        for b_ema, b in zip(ema.buffers(), generator.buffers(), strict=True):
            b_ema.copy_(b)


def save_checkpoint(
    path: Path, config: GanConfig, generator: Generator, discriminator: Discriminator, progress: dict
) -> None:
    """Config + fp16 state dicts: enough to rebuild both networks (and to resume later).

    The tensors are stored on the CPU whatever device trained them, so the file loads on a machine
    without a GPU and its bytes (and so its sha256 label in pools) do not name a device.
    """

    def half(module: torch.nn.Module) -> dict:
        return {k: (v.half() if v.is_floating_point() else v).cpu() for k, v in module.state_dict().items()}

    torch.save(
        {
            "format": CHECKPOINT_FORMAT,
            "config": config.to_dict(),
            "generator": half(generator),
            "discriminator": half(discriminator),
            "progress": progress,
        },
        path,
    )


def train(
    images: np.ndarray,
    config: GanConfig,
    out_dir: Path | str,
    *,
    device: str | torch.device | None = None,
    log: Callable[[str], None] = print,
    on_step: Callable[[int], None] | None = None,
) -> Path:
    """Train on `images` (N, size, size) floats in [0, 1]; return the path of the checkpoint.

    Stops after `config.seconds` or `config.max_steps`, whichever comes first, then writes
    `out_dir/dcgan.pt` and `out_dir/config.json`. `on_step(steps_done)`, if given, is called after
    every step (benchmarks time steps with it; it must not touch the networks).
    """
    check_images(images, config)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    device = pick_device(device)
    torch.manual_seed(config.seed)
    batches = torch.Generator().manual_seed(config.seed)  # picks images and noise, on the CPU

    data = torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)).unsqueeze(1).mul(2).sub(1).to(device)
    generator = Generator(config).to(device)
    discriminator = Discriminator(config).to(device)
    ema = copy.deepcopy(generator).eval().requires_grad_(False)
    betas = (config.beta1, config.beta2)
    opt_g = torch.optim.Adam(generator.parameters(), lr=config.lr, betas=betas)
    opt_d = torch.optim.Adam(discriminator.parameters(), lr=config.lr, betas=betas)
    autocast = torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")
    log(f"training on {len(data)} images of {config.image_size} px, device {device}, "
        f"budget {config.seconds:g} s or {config.max_steps} steps")

    start = time.monotonic()
    step = 0
    loss_d = loss_g = torch.tensor(float("nan"))
    while step < config.max_steps and (step == 0 or time.monotonic() - start < config.seconds):
        real = data[torch.randint(len(data), (config.batch_size,), generator=batches).to(device)]
        z = torch.randn(config.batch_size, config.latent_dim, generator=batches).to(device)

        # Discriminator: real images up, generated images down.
        with autocast:
            fake = generator(z)
            loss_d = F.softplus(-discriminator(real)).mean() + F.softplus(discriminator(fake.detach())).mean()
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        if config.r1_gamma > 0 and step % config.r1_every == 0:
            # Lazy R1, in float32: scaled by r1_every, so it weighs as much as if applied every step.
            (config.r1_gamma / 2 * config.r1_every * r1_penalty(discriminator, real)).backward()
        opt_d.step()

        # Generator: make the discriminator call its images real.
        with autocast:
            loss_g = F.softplus(-discriminator(fake)).mean()
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        # Warm up the average, so that it follows the generator closely in short runs.
        _update_ema(ema, generator, min(config.ema_decay, (1 + step) / (10 + step)))

        step += 1
        if on_step is not None:
            on_step(step)
        if step % config.log_every == 0:
            log(f"step {step}: loss D {loss_d.item():.3f}, loss G {loss_g.item():.3f}, "
                f"{time.monotonic() - start:.0f} s")

    seconds = time.monotonic() - start
    if not (torch.isfinite(loss_d) and torch.isfinite(loss_g)):
        raise RuntimeError(f"training diverged (loss D {loss_d.item()}, loss G {loss_g.item()}): lower lr and retry")
    progress = {"steps": step, "seconds": round(seconds, 1), "device": str(device),
                "loss_d": loss_d.item(), "loss_g": loss_g.item(), "images": len(data)}
    path = out_dir / CHECKPOINT_NAME
    save_checkpoint(path, config, ema, discriminator, progress)
    config.save(out_dir / "config.json")
    log(f"saved {path} after {step} steps in {seconds:.0f} s")
    return path

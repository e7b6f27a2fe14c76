"""Configuration of the demo GAN: a handful of plain values with defaults that run on a laptop CPU."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path


@dataclass
class GanConfig:
    image_size: int = 128  # output side in pixels: a power of two, 16 or more
    latent_dim: int = 128  # length of the noise vector z
    base_channels: int = 8  # width unit: layers at resolution r have base * image_size / r channels
    max_channels: int = 128  # cap on the channels of the low-resolution layers
    lr: float = 2e-4  # Adam learning rate of both networks (DCGAN: 2e-4, betas 0.5, 0.999)
    beta1: float = 0.5
    beta2: float = 0.999
    batch_size: int = 16  # small, so a CPU takes many steps in a few minutes; raise it on a GPU
    ema_decay: float = 0.995  # the sampled generator is a moving average of the trained one
    mbstd_group: int = 4  # minibatch-stddev group size in the discriminator (Karras et al. 2018)
    r1_gamma: float = 1.0  # weight of the R1 penalty on real images (Mescheder et al. 2018); 0 turns it off
    r1_every: int = 16  # lazy R1: apply it (scaled up) every this many steps only (Karras et al. 2020)
    seed: int = 0
    seconds: float = 600.0  # time budget of one training run
    max_steps: int = 100_000  # and a step budget: training stops at whichever comes first
    log_every: int = 50  # steps between log lines

    def __post_init__(self) -> None:
        size = self.image_size
        if size < 16 or size & (size - 1):
            raise ValueError(f"image_size must be a power of two of at least 16 (e.g. 128), got {size}")
        for name in ("latent_dim", "base_channels", "max_channels", "batch_size", "max_steps", "log_every",
                     "mbstd_group", "r1_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.seconds <= 0:
            raise ValueError(f"seconds (the time budget) must be positive, got {self.seconds}")
        if self.r1_gamma < 0:
            raise ValueError(f"r1_gamma must be 0 (off) or more, got {self.r1_gamma}")
        if not 0 <= self.ema_decay < 1:
            raise ValueError(f"ema_decay must be in [0, 1), got {self.ema_decay}")

    def channels(self, resolution: int) -> int:
        """Feature channels of both networks at a given resolution (4 .. image_size)."""
        return min(self.max_channels, self.base_channels * self.image_size // resolution)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> GanConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown GanConfig fields {unknown}; known fields are {sorted(known)}")
        return cls(**values)

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")

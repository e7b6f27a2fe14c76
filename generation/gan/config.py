"""Configuration of one GAN training run: plain values, with defaults that run on a laptop CPU.

A run's full configuration (every value, defaults resolved) is written as `config.json` next to its
checkpoint and inside it, so any run can be rebuilt, resumed or repeated from it.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

ARCHS = ("progressive", "dcgan")
CONDITIONINGS = ("none", "projection", "acgan")
AUGMENTS = ("ada", "fixed", "off")
MAX_SIZE = 1024

# Optimiser and moving-average values that differ between the two designs; a field left at None
# takes its design's value. Progressive: Karras et al. 2018 (Adam 1e-3, betas 0 and 0.99, EMA 0.999).
# DCGAN: Radford et al. 2016 (Adam 2e-4, betas 0.5 and 0.999), EMA 0.995 for short runs.
ARCH_DEFAULTS = {
    "progressive": {"lr": 1e-3, "beta1": 0.0, "beta2": 0.99, "ema_decay": 0.999},
    "dcgan": {"lr": 2e-4, "beta1": 0.5, "beta2": 0.999, "ema_decay": 0.995},
}

# What may change when a run is resumed: budgets and bookkeeping, nothing that shapes the training.
RESUMABLE_CHANGES = ("seconds", "max_steps", "max_images", "log_every", "checkpoint_every")


@dataclass
class GanConfig:
    arch: str = "progressive"  # "progressive" (Karras et al. 2018) or "dcgan" (Radford et al. 2016)
    image_size: int = 128  # output side in px, a power of two: the last stage's resolution
    latent_dim: int = 128  # length of the noise vector z (the paper: 512)
    base_channels: int = 8  # feature channels at full resolution; layers at r px have base * size / r
    max_channels: int = 128  # cap on the channels of the low-resolution layers (the paper: 512)
    conditioning: str = "none"  # "none", "projection" (Miyato & Koyama 2018) or "acgan" (Odena et al. 2017)
    labels: list[str] = field(default_factory=list)  # label names, in the order of the label ids
    acgan_weight: float = 1.0  # weight of the auxiliary classifier's loss (acgan only)
    lr: float | None = None  # Adam learning rate of both networks (None: the design's, ARCH_DEFAULTS)
    beta1: float | None = None
    beta2: float | None = None
    batch_size: int = 16  # images per step, over all processes together
    ema_decay: float | None = None  # the sampled generator is a moving average of the trained one
    mbstd_group: int = 4  # minibatch-stddev group size in the discriminator (Karras et al. 2018)
    r1_gamma: float = 1.0  # weight of the R1 penalty on real images (Mescheder et al. 2018); 0 turns it off
    r1_every: int = 16  # lazy R1: apply it (scaled up) every this many steps only (Karras et al. 2020)
    augment: str = "ada"  # "ada" (adaptive, Karras et al. 2020), "fixed" (always augment_p) or "off"
    augment_p: float = 0.0  # starting (ada) or constant (fixed) probability of each augmentation
    ada_target: float = 0.6  # ada raises p while E[sign(D(real))] is above this, lowers it below
    ada_interval: int = 4  # steps between adjustments of p
    ada_images: int = 500_000  # images over which p could move from 0 to 1
    fade_images: int = 800_000  # images shown while a new resolution fades in (progressive)
    stable_images: int = 800_000  # images shown at each resolution once faded in (and at 4 px)
    seed: int = 0
    seconds: float | None = None  # budgets: training stops at the first one reached (None: no limit);
    max_steps: int | None = None  # progressive runs with no budget stop at the end of their growth
    max_images: int | None = None  # schedule, growth_images()
    log_every: int = 50  # steps between rows of losses.csv (and log lines)
    checkpoint_every: int = 500  # steps between checkpoints (also written at every stage change and the end)
    grid_images: int = 16  # samples in each stage's grid PNG
    mixed_precision: bool = True  # bf16 autocast on CUDA (never on the CPU); R1 always in float32
    channels_last: bool = True  # channels-last memory layout on CUDA
    deterministic: bool = False  # CUDA: deterministic cuDNN, so that a resumed run is bit-identical there too

    def __post_init__(self) -> None:
        for name, value in ARCH_DEFAULTS.get(self.arch, {}).items():
            if getattr(self, name) is None:
                setattr(self, name, value)
        self.labels = [str(label) for label in self.labels]
        self._check()

    def _check(self) -> None:
        if self.arch not in ARCHS:
            raise ValueError(f"arch must be one of {', '.join(ARCHS)}, got {self.arch!r}")
        size, smallest = self.image_size, 4 if self.arch == "progressive" else 8
        if not isinstance(size, int) or size < smallest or size > MAX_SIZE or size & (size - 1):
            raise ValueError(f"the resolution (image_size) must be a power of two from {smallest} to {MAX_SIZE} "
                             f"px (e.g. 256), got {size}")
        for name in ("latent_dim", "base_channels", "max_channels", "batch_size", "log_every", "mbstd_group",
                     "r1_every", "ada_interval", "ada_images", "checkpoint_every", "grid_images"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("fade_images", "stable_images"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be 0 or more, got {getattr(self, name)}")
        for name in ("seconds", "max_steps", "max_images"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} (a budget) must be positive or None (no limit), got {value}")
        if self.conditioning not in CONDITIONINGS:
            raise ValueError(f"conditioning must be one of {', '.join(CONDITIONINGS)}, got {self.conditioning!r}")
        if self.conditional and len(self.labels) < 2:
            raise ValueError(f"conditioning {self.conditioning!r} needs at least two labels, got {self.labels}")
        if not self.conditional and self.labels:
            raise ValueError(f"labels {self.labels} given but conditioning is 'none': "
                             "choose projection or acgan, or train without labels")
        if len(set(self.labels)) != len(self.labels):
            raise ValueError(f"label names must be distinct, got {self.labels}")
        if self.augment not in AUGMENTS:
            raise ValueError(f"augment must be one of {', '.join(AUGMENTS)}, got {self.augment!r}")
        for name in ("augment_p", "ada_target"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if self.r1_gamma < 0 or self.acgan_weight < 0:
            raise ValueError(f"r1_gamma and acgan_weight must be 0 (off) or more, got {self.r1_gamma}, "
                             f"{self.acgan_weight}")
        if not 0 <= self.ema_decay < 1:
            raise ValueError(f"ema_decay must be in [0, 1), got {self.ema_decay}")
        if not (self.lr > 0 and 0 <= self.beta1 < 1 and 0 <= self.beta2 < 1):
            raise ValueError(f"lr must be positive and the betas in [0, 1), got {self.lr}, {self.beta1}, {self.beta2}")

    @property
    def conditional(self) -> bool:
        return self.conditioning != "none"

    def resolutions(self) -> list[int]:
        """4, 8, ..., image_size: one stage per resolution."""
        return [4 * 2**k for k in range(int(math.log2(self.image_size)) - 1)]

    def channels(self, resolution: int) -> int:
        """Feature channels of both networks at a given resolution (4 .. image_size)."""
        return min(self.max_channels, self.base_channels * self.image_size // resolution)

    def growth_images(self) -> int:
        """Images until the last resolution has faded in and been trained for stable_images."""
        return self.stable_images + (len(self.resolutions()) - 1) * (self.fade_images + self.stable_images)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> GanConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown GanConfig fields {unknown}; known fields are {sorted(known)}")
        return cls(**values)

    @classmethod
    def paper(cls, image_size: int, **values) -> GanConfig:
        """The networks of Karras et al. 2018 at `image_size`: latent 512, min(512, 16384 / r) channels at r px."""
        return cls(image_size=image_size, latent_dim=512, base_channels=max(1, 16384 // image_size),
                   max_channels=512, **values)

    def save(self, path: Path | str) -> None:
        """Write the configuration as JSON, atomically (a reader never sees half a file)."""
        write_atomically(Path(path), (json.dumps(self.to_dict(), indent=2) + "\n").encode())


def write_atomically(path: Path, data: bytes) -> None:
    """Write `data` to a temporary file beside `path`, flush it to disk, then rename it over `path`."""
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)

"""The two networks of a run, by design: `build_generator(config)` and `build_discriminator(config)`.

Every generator is called as G(z, labels, stage, alpha) -> images (N, 1, r, r) in [-1, 1] (the
progressive one clamps only when sampling), and every discriminator as D(images, labels, stage,
alpha) -> (real/fake logits (N,), class logits (N, labels) or None). `stage` and `alpha` matter to
the progressive design only (`progressive.py`); the DCGAN (`dcgan.py`) always works at full size.
"""

from __future__ import annotations

from torch import nn

from generation.gan.config import GanConfig
from generation.gan.dcgan import DcganDiscriminator, DcganGenerator
from generation.gan.progressive import ProgressiveDiscriminator, ProgressiveGenerator

GENERATORS = {"progressive": ProgressiveGenerator, "dcgan": DcganGenerator}
DISCRIMINATORS = {"progressive": ProgressiveDiscriminator, "dcgan": DcganDiscriminator}


def build_generator(config: GanConfig) -> nn.Module:
    return GENERATORS[config.arch](config)


def build_discriminator(config: GanConfig) -> nn.Module:
    return DISCRIMINATORS[config.arch](config)

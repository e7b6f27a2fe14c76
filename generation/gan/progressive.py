"""The progressive-growing GAN (Karras et al. 2018, arXiv:1710.10196), grey images, 4 px to the target.

Both networks hold the layers of every resolution from the start; `stage` says how many are in
use (stage 0 draws 4 x 4 px, stage k draws 4 * 2**k px) and `alpha` how far the newest one is
faded in. During a fade-in the new resolution's output is blended with the previous stage's output
upsampled (generator) or its input downsampled (discriminator):

    image = (1 - alpha) * upsample(to_gray[k-1](x)) + alpha * to_gray[k](block[k](x))

Generator: z (pixel-normed; with labels, a pixel-normed label embedding is appended) -> dense 4x4
-> conv -> per resolution: nearest-neighbour 2x upsampling, two 3x3 convs -> a 1x1 conv to one
grey channel. Leaky ReLU and pixel norm after every conv. No output non-linearity: sampling
clamps to [-1, 1].

Discriminator: the mirror image: a 1x1 conv from grey -> per resolution: two 3x3 convs, 2x
average pooling -> at 4x4, minibatch stddev, a 3x3 conv, a dense layer to features h, and the
real/fake logit. With labels, either a projection term <embed(label), h> is added to the logit
(Miyato & Koyama 2018) or a second head classifies h into the labels (AC-GAN, Odena et al. 2017).

All weights use the equalised learning rate (`layers.py`). Channels per resolution come from
`GanConfig.channels`; the paper's networks are `base_channels = 16384 / image_size`, `max_channels
= 512`, `latent_dim = 512`.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from generation.gan.config import GanConfig
from generation.gan.layers import EqualConv2d, EqualEmbedding, EqualLinear, leaky, minibatch_stddev, pixel_norm


class GeneratorBlock(nn.Module):
    """Double the resolution: upsample, then two 3x3 convs with leaky ReLU and pixel norm."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv1 = EqualConv2d(in_channels, out_channels, 3)
        self.conv2 = EqualConv2d(out_channels, out_channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = pixel_norm(leaky(self.conv1(x)))
        return pixel_norm(leaky(self.conv2(x)))


class DiscriminatorBlock(nn.Module):
    """Halve the resolution: two 3x3 convs with leaky ReLU, then 2x average pooling."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv1 = EqualConv2d(in_channels, in_channels, 3)
        self.conv2 = EqualConv2d(in_channels, out_channels, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = leaky(self.conv1(x))
        return F.avg_pool2d(leaky(self.conv2(x)), 2)


class ProgressiveGenerator(nn.Module):
    def __init__(self, config: GanConfig):
        super().__init__()
        self.config = config
        sizes = config.resolutions()  # 4, 8, ..., image_size
        self.stage = len(sizes) - 1  # what forward() draws when not told: the last stage, fully faded in
        self.alpha = 1.0
        c4 = config.channels(4)
        labels = len(config.labels) if config.conditional else 0
        self.embed = EqualEmbedding(labels, config.latent_dim) if labels else None
        in_features = config.latent_dim * (2 if labels else 1)
        self.dense = EqualLinear(in_features, c4 * 16, gain=math.sqrt(2) / 4)  # the paper's gain for it
        self.conv4 = EqualConv2d(c4, c4, 3)
        self.blocks = nn.ModuleList(GeneratorBlock(config.channels(r // 2), config.channels(r)) for r in sizes[1:])
        self.to_gray = nn.ModuleList(EqualConv2d(config.channels(r), 1, 1, gain=1.0) for r in sizes)

    @property
    def resolution(self) -> int:
        """Side in px of the images forward() draws by default."""
        return 4 * 2**self.stage

    def forward(
        self, z: torch.Tensor, labels: torch.Tensor | None = None, stage: int | None = None, alpha: float | None = None
    ) -> torch.Tensor:
        """z: (N, latent_dim), labels: (N,) int64 or None -> images (N, 1, 4 * 2**stage, same)."""
        stage = self.stage if stage is None else stage
        alpha = self.alpha if alpha is None else alpha
        x = pixel_norm(z)
        if self.embed is not None:
            x = torch.cat([x, pixel_norm(self.embed(labels))], dim=1)
        x = pixel_norm(leaky(self.dense(x))).view(z.shape[0], -1, 4, 4)
        x = pixel_norm(leaky(self.conv4(x)))
        if stage == 0:
            return self.to_gray[0](x)
        for block in self.blocks[: stage - 1]:
            x = block(x)
        new = self.to_gray[stage](self.blocks[stage - 1](x))
        if alpha >= 1:
            return new
        old = F.interpolate(self.to_gray[stage - 1](x), scale_factor=2, mode="nearest")
        return torch.lerp(old, new, alpha)


class ProgressiveDiscriminator(nn.Module):
    def __init__(self, config: GanConfig):
        super().__init__()
        self.config = config
        sizes = config.resolutions()
        c4 = config.channels(4)
        self.from_gray = nn.ModuleList(EqualConv2d(1, config.channels(r), 1) for r in sizes)
        # blocks[k - 1] takes resolution 4 * 2**k down to half of it.
        self.blocks = nn.ModuleList(DiscriminatorBlock(config.channels(r), config.channels(r // 2)) for r in sizes[1:])
        self.final_conv = EqualConv2d(c4 + 1, c4, 3)
        self.final_dense = EqualLinear(c4 * 16, c4)
        self.out = EqualLinear(c4, 1, gain=1.0)
        labels = len(config.labels) if config.conditional else 0
        self.project = EqualEmbedding(labels, c4) if config.conditioning == "projection" else None
        self.classify = EqualLinear(c4, labels, gain=1.0) if config.conditioning == "acgan" else None

    def forward(
        self, images: torch.Tensor, labels: torch.Tensor | None = None, stage: int | None = None, alpha: float = 1.0
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """images (N, 1, r, r) with r = 4 * 2**stage -> (real/fake logits (N,), class logits (N, labels) or None)."""
        stage = len(self.from_gray) - 1 if stage is None else stage
        x = leaky(self.from_gray[stage](images))
        if stage > 0:
            x = self.blocks[stage - 1](x)
            if alpha < 1:
                old = leaky(self.from_gray[stage - 1](F.avg_pool2d(images, 2)))
                x = torch.lerp(old, x, alpha)
            for block in reversed(self.blocks[: stage - 1]):
                x = block(x)
        x = minibatch_stddev(x, self.config.mbstd_group)
        x = leaky(self.final_conv(x))
        h = leaky(self.final_dense(x.flatten(1)))
        logits = self.out(h).squeeze(1)
        if self.project is not None:
            logits = logits + (self.project(labels) * h).sum(dim=1)
        classes = self.classify(h) if self.classify is not None else None
        return logits, classes

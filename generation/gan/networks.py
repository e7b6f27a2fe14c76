"""The demo GAN's two networks, DCGAN-style (Radford et al. 2016, arXiv:1511.06434).

Generator: noise z -> 4x4 feature map -> doubled by transposed convolutions up to the image size
-> one grey channel in [-1, 1]. Discriminator: the mirror image, ending in one real/fake logit.
Channel widths per resolution come from `GanConfig.channels`, so both networks grow with the
image size in the same way (the progressive GAN on the roadmap keeps this layout).

Three departures from the DCGAN paper, for short CPU runs and exact sampling:
- the generator normalises each pixel's features (pixel norm, Karras et al. 2018) instead of
  batch norm, so an image depends on its own seed only, never on the rest of its batch;
- the discriminator uses spectral norm (Miyato et al. 2018) instead of batch norm, which keeps
  it from winning outright in the first few hundred steps;
- the discriminator ends with a minibatch standard deviation layer (Karras et al. 2018): it sees
  how much the images of a batch differ from each other, so a generator that draws the same
  image again and again (mode collapse) is easy to tell apart from real data.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from generation.gan.config import GanConfig


def _resolutions(config: GanConfig) -> list[int]:
    """4, 8, ..., image_size."""
    sizes = [4]
    while sizes[-1] < config.image_size:
        sizes.append(sizes[-1] * 2)
    return sizes


def _init_weights(module: nn.Module) -> None:
    # DCGAN initialisation: small normal weights, zero biases.
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


def pixel_norm(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Scale each pixel's feature vector (dim 1) to unit mean square (Karras et al. 2018)."""
    return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + eps)


class PixelNorm(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return pixel_norm(x)


def minibatch_stddev(x: torch.Tensor, group_size: int) -> torch.Tensor:
    """Append one channel: the features' standard deviation across a group of images, averaged.

    The batch is split into groups of `group_size` images (fewer when the batch size is not a
    multiple); every image gets the single number of its group, as a constant feature map.
    """
    n, c, h, w = x.shape
    g = math.gcd(group_size, n)
    groups = x.float().view(g, n // g, c, h, w)  # image i is in group i % (n // g), as in StyleGAN
    std = (groups.var(dim=0, unbiased=False) + 1e-8).sqrt()  # (n // g, c, h, w)
    std = std.mean(dim=(1, 2, 3)).view(-1, 1, 1, 1).repeat(g, 1, h, w).to(x.dtype)  # (n, 1, h, w)
    return torch.cat([x, std], dim=1)


class Generator(nn.Module):
    def __init__(self, config: GanConfig):
        super().__init__()
        self.config = config
        sizes = _resolutions(config)  # 4, 8, ..., image_size
        self.project = nn.Linear(config.latent_dim, config.channels(4) * 4 * 4)
        self.blocks = nn.Sequential(
            *[
                nn.Sequential(
                    nn.ConvTranspose2d(config.channels(r), config.channels(2 * r), 4, stride=2, padding=1),
                    nn.ReLU(inplace=True),
                    PixelNorm(),
                )
                for r in sizes[:-2]
            ]
        )
        # The last doubling writes the grey image directly: no wide feature maps at full size.
        self.to_image = nn.ConvTranspose2d(config.channels(sizes[-2]), 1, 4, stride=2, padding=1)
        self.apply(_init_weights)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """z: (N, latent_dim) -> images (N, 1, size, size) in [-1, 1]."""
        x = self.project(pixel_norm(z)).view(z.shape[0], -1, 4, 4)
        x = pixel_norm(torch.relu(x))
        x = self.blocks(x)
        return torch.tanh(self.to_image(x))


class Discriminator(nn.Module):
    def __init__(self, config: GanConfig):
        super().__init__()
        self.config = config
        sizes = _resolutions(config)[::-1]  # image_size, ..., 8, 4
        # Spectral normalisation (Miyato et al. 2018) keeps the discriminator from winning too early.
        self.from_image = spectral_norm(nn.Conv2d(1, config.channels(sizes[1]), 4, stride=2, padding=1))
        self.blocks = nn.Sequential(
            *[
                nn.Sequential(
                    spectral_norm(nn.Conv2d(config.channels(r), config.channels(r // 2), 4, stride=2, padding=1)),
                    nn.LeakyReLU(0.2, inplace=True),
                )
                for r in sizes[1:-1]
            ]
        )
        # At 4x4: minibatch stddev adds one channel, a 3x3 convolution mixes it in, a linear layer decides.
        self.final = spectral_norm(nn.Conv2d(config.channels(4) + 1, config.channels(4), 3, padding=1))
        self.head = spectral_norm(nn.Linear(config.channels(4) * 4 * 4, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """images: (N, 1, size, size) in [-1, 1] -> real/fake logits (N,)."""
        x = nn.functional.leaky_relu(self.from_image(images), 0.2)
        x = self.blocks(x)
        x = nn.functional.leaky_relu(self.final(minibatch_stddev(x, self.config.mbstd_group)), 0.2)
        return self.head(x.flatten(1)).squeeze(1)

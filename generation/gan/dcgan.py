"""The DCGAN (Radford et al. 2016, arXiv:1511.06434), as the demo generator and the lung-ultrasound study use it.

Generator: noise z -> 4x4 feature map -> doubled by transposed convolutions up to the image size
-> one grey channel in [-1, 1]. Discriminator: the mirror image, ending in one real/fake logit.
Channel widths per resolution come from `GanConfig.channels`, as in the progressive GAN.

Three departures from the DCGAN paper, for short CPU runs and exact sampling:
- the generator normalises each pixel's features (pixel norm, Karras et al. 2018) instead of
  batch norm, so an image depends on its own seed only, never on the rest of its batch;
- the discriminator uses spectral norm (Miyato et al. 2018) instead of batch norm, which keeps
  it from winning outright in the first few hundred steps;
- the discriminator ends with a minibatch standard deviation layer (Karras et al. 2018): it sees
  how much the images of a batch differ from each other, so a generator that draws the same
  image again and again (mode collapse) is easy to tell apart from real data.

With labels, the generator appends a pixel-normed label embedding to z and the discriminator adds
a projection term or an auxiliary classifier head on its last features, as in `progressive.py`.
Both networks take (and ignore) `stage` and `alpha`, so one training loop drives both designs.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from generation.gan.config import GanConfig
from generation.gan.layers import PixelNorm, minibatch_stddev, pixel_norm


def _init_weights(module: nn.Module) -> None:
    # DCGAN initialisation: small normal weights, zero biases.
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if getattr(module, "bias", None) is not None:
            nn.init.zeros_(module.bias)


class DcganGenerator(nn.Module):
    def __init__(self, config: GanConfig):
        super().__init__()
        self.config = config
        sizes = config.resolutions()  # 4, 8, ..., image_size
        self.stage = len(sizes) - 1
        self.alpha = 1.0
        labels = len(config.labels) if config.conditional else 0
        self.embed = nn.Embedding(labels, config.latent_dim) if labels else None
        self.project = nn.Linear(config.latent_dim * (2 if labels else 1), config.channels(4) * 4 * 4)
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

    @property
    def resolution(self) -> int:
        return self.config.image_size

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None, stage=None, alpha=None) -> torch.Tensor:
        """z: (N, latent_dim), labels (N,) or None -> images (N, 1, size, size) in [-1, 1]."""
        x = pixel_norm(z)
        if self.embed is not None:
            x = torch.cat([x, pixel_norm(self.embed(labels))], dim=1)
        x = self.project(x).view(z.shape[0], -1, 4, 4)
        x = pixel_norm(torch.relu(x))
        x = self.blocks(x)
        return torch.tanh(self.to_image(x))


class DcganDiscriminator(nn.Module):
    def __init__(self, config: GanConfig):
        super().__init__()
        self.config = config
        sizes = config.resolutions()[::-1]  # image_size, ..., 8, 4
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
        features = config.channels(4) * 4 * 4
        self.final = spectral_norm(nn.Conv2d(config.channels(4) + 1, config.channels(4), 3, padding=1))
        self.head = spectral_norm(nn.Linear(features, 1))
        labels = len(config.labels) if config.conditional else 0
        self.projection = nn.Embedding(labels, features) if config.conditioning == "projection" else None
        self.classify = spectral_norm(nn.Linear(features, labels)) if config.conditioning == "acgan" else None

    def forward(self, images: torch.Tensor, labels: torch.Tensor | None = None, stage=None, alpha=None):
        """images: (N, 1, size, size) in [-1, 1] -> (real/fake logits (N,), class logits (N, labels) or None)."""
        x = nn.functional.leaky_relu(self.from_image(images), 0.2)
        x = self.blocks(x)
        x = nn.functional.leaky_relu(self.final(minibatch_stddev(x, self.config.mbstd_group)), 0.2)
        h = x.flatten(1)
        logits = self.head(h).squeeze(1)
        if self.projection is not None:
            logits = logits + (self.projection(labels) * h).sum(dim=1)
        classes = self.classify(h) if self.classify is not None else None
        return logits, classes

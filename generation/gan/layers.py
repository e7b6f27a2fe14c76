"""Building blocks shared by the networks: pixel norm, minibatch stddev, equalised-learning-rate layers.

Equalised learning rate (Karras et al. 2018, section 4.1): weights are drawn from N(0, 1) and
multiplied at run time by He's constant gain / sqrt(fan_in). Adam's step is then the same
relative size for every layer, whatever its fan-in, which keeps the wide low-resolution layers and
the narrow high-resolution ones learning at the same speed.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

LEAK = 0.2  # slope of the leaky ReLUs (Karras et al. 2018)


def pixel_norm(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Scale each pixel's feature vector (dim 1) to unit mean square (Karras et al. 2018, 4.2).

    Computed in float32 whatever the input's type, so bf16 autocast cannot turn it into noise.
    """
    x32 = x.float()
    return (x32 * torch.rsqrt(x32.pow(2).mean(dim=1, keepdim=True) + eps)).to(x.dtype)


class PixelNorm(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return pixel_norm(x)


def minibatch_stddev(x: torch.Tensor, group_size: int) -> torch.Tensor:
    """Append one channel: the features' standard deviation across a group of images, averaged.

    The batch is cut into consecutive groups of `group_size` images (a divisor of the batch size
    when it is not a multiple: gcd(group_size, n)); every image gets the single number of its group,
    as a constant feature map. Consecutive groups keep a batch of real images followed by a batch
    of generated ones apart, and make half a batch on each of two processes give exactly the
    groups of the whole batch on one (Karras et al. 2018, 3).
    """
    n, c, h, w = x.shape
    g = math.gcd(group_size, n)
    groups = x.float().reshape(n // g, g, c, h, w)  # image i is in group i // g
    std = (groups.var(dim=1, unbiased=False) + 1e-8).sqrt()  # (n // g, c, h, w)
    std = std.mean(dim=(1, 2, 3)).repeat_interleave(g).view(n, 1, 1, 1).expand(n, 1, h, w).to(x.dtype)
    return torch.cat([x, std], dim=1)


class EqualLinear(nn.Module):
    """A linear layer with an equalised learning rate."""

    def __init__(self, in_features: int, out_features: int, gain: float = math.sqrt(2)):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_features, in_features))
        self.bias = nn.Parameter(torch.zeros(out_features))
        self.scale = gain / math.sqrt(in_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.scale, self.bias)


class EqualConv2d(nn.Module):
    """A stride-1 'same' convolution with an equalised learning rate."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, gain: float = math.sqrt(2)):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(out_channels, in_channels, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.scale = gain / math.sqrt(in_channels * kernel * kernel)
        self.padding = kernel // 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.scale, self.bias, padding=self.padding)


class EqualEmbedding(nn.Module):
    """One learned vector per label, scaled like an equalised linear layer on a one-hot input
    (`gain` / sqrt(dim) keeps a projection discriminator's class term near 1 at the start)."""

    def __init__(self, labels: int, dim: int, gain: float = 1.0):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(labels, dim))
        self.scale = gain / math.sqrt(dim)

    def forward(self, labels: torch.Tensor) -> torch.Tensor:
        return F.embedding(labels, self.weight) * self.scale


def leaky(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, LEAK)

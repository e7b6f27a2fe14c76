"""Adaptive discriminator augmentation (ADA, Karras et al. 2020, arXiv:2006.06676), for small data sets.

Below about 10k training images a discriminator learns the training set by heart and the
generator collapses. ADA shows the discriminator every image, real or generated, through random
augmentations, each applied with probability p, and tunes p while training: the heuristic

    r_t = E[sign(D(real))]

measures overfitting (the discriminator calls every real image confidently real); every
`ada_interval` steps p moves up when r_t is above the target (0.6) and down when below, by
(images seen since the last adjustment) / `ada_images`. As long as p stays below about 0.8 the
augmentations do not "leak" into the generated images, since the generator only ever sees the
discriminator's verdict on augmented images, whose distribution still identifies the real one.

The augmentations are a subset of the paper's, safe for grey medical images and differentiable
(the generator's gradient passes through them): horizontal flip, integer translation by up to 1/8
of the side (reflecting at the borders), brightness (+N(0, 0.2)) and contrast (x 2**N(0, 0.5)).
Random numbers come from a `torch.Generator` on the CPU, so a run repeats exactly on any device.
"""

from __future__ import annotations

import torch

from generation.gan.config import GanConfig

MAX_SHIFT = 0.125  # of the image side
BRIGHTNESS_STD = 0.2  # in image units ([-1, 1])
CONTRAST_STD = 0.5  # in octaves


def augment(images: torch.Tensor, p: float, generator: torch.Generator, rows: slice | None = None,
            total: int | None = None) -> torch.Tensor:
    """Each image (N, 1, h, w) flipped, shifted, brightened and contrasted, each with probability p.

    Under several processes, `images` are `rows` of a batch of `total`: the random numbers are
    drawn for the whole batch and sliced, so the batch is augmented as on one process.
    """
    if p <= 0:
        return images
    n, _, h, w = images.shape
    total, rows = (n, slice(0, n)) if total is None else (total, rows)
    draws = (torch.rand(total, 4, generator=generator) < p)[rows]  # which augmentations each image gets
    shifts = (torch.rand(total, 2, generator=generator) * 2 - 1)[rows]
    brightness = (torch.randn(total, generator=generator) * BRIGHTNESS_STD)[rows]
    contrast = torch.exp2(torch.randn(total, generator=generator) * CONTRAST_STD)[rows]

    device, dtype = images.device, images.dtype
    flip, move, bright, contrasted = (draws[:, i] for i in range(4))
    x = torch.where(flip.to(device).view(n, 1, 1, 1), images.flip(3), images)
    if move.any():
        offsets = torch.round(shifts * MAX_SHIFT * torch.tensor([h, w])).long() * move.long()[:, None]
        x = translate(x, offsets.to(device))
    x = x + (brightness * bright).to(device, dtype).view(n, 1, 1, 1)
    factor = torch.where(contrasted, contrast, torch.ones(n)).to(device, dtype).view(n, 1, 1, 1)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * factor + mean


def translate(images: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
    """Shift image i by offsets[i] = (rows, columns) whole pixels, mirroring at the borders."""
    n, c, h, w = images.shape
    rows = _reflect(torch.arange(h, device=images.device)[None, :] - offsets[:, :1], h)  # (n, h)
    cols = _reflect(torch.arange(w, device=images.device)[None, :] - offsets[:, 1:], w)  # (n, w)
    batch = torch.arange(n, device=images.device)[:, None, None]
    moved = images[batch, :, rows[:, :, None], cols[:, None, :]]  # (n, h, w, c)
    return moved.permute(0, 3, 1, 2)


def _reflect(index: torch.Tensor, size: int) -> torch.Tensor:
    if size == 1:
        return torch.zeros_like(index)
    period = 2 * (size - 1)
    index = torch.remainder(index, period)
    return torch.where(index >= size, period - index, index)


class AdaptiveAugment:
    """The augmentation probability p and the overfitting heuristic that tunes it."""

    def __init__(self, config: GanConfig):
        self.config = config
        self.p = config.augment_p if config.augment != "off" else 0.0
        # Sum of sign(D(real)) since the last adjustment, kept where the logits are (no device sync
        # per step), and the count of real images behind it.
        self.signs: torch.Tensor | float = 0.0
        self.count = 0

    def observe(self, real_logits: torch.Tensor) -> None:
        """Remember the discriminator's verdict on this process's real images."""
        if self.config.augment == "ada":
            self.signs = self.signs + real_logits.detach().float().sign().sum()
            self.count += real_logits.numel()

    def adjust(self, all_reduce=None) -> None:
        """Move p by the heuristic (summed over processes by `all_reduce`, if given); call every interval."""
        if self.config.augment != "ada":
            return
        totals = torch.tensor([float(self.signs), float(self.count)], dtype=torch.float64)
        if all_reduce is not None:
            totals = all_reduce(totals)
        signs, count = totals.tolist()
        if count > 0:
            heuristic = signs / count
            target = self.config.ada_target
            direction = 1.0 if heuristic > target else -1.0 if heuristic < target else 0.0
            self.p = min(1.0, max(0.0, self.p + direction * count / self.config.ada_images))
        self.signs, self.count = 0.0, 0

    def state_dict(self) -> dict:
        return {"p": self.p, "signs": float(self.signs), "count": self.count}

    def load_state_dict(self, state: dict) -> None:
        self.p, self.signs, self.count = float(state["p"]), float(state["signs"]), int(state["count"])

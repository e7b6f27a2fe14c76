"""Where a progressive run stands after a number of training images: its stage and fade-in alpha.

Stage 0 trains at 4 x 4 px for `stable_images`; every later stage k (4 * 2**k px) first fades its
new layers in over `fade_images` (alpha rising linearly from 0 to 1), then trains them at alpha 1
for `stable_images` (Karras et al. 2018, section 3). The last stage goes on until the budget ends.
The position depends on the count of images alone, so a resumed run is where it left off.
"""

from __future__ import annotations

from generation.gan.config import GanConfig


def stage_at(images_seen: int, config: GanConfig) -> tuple[int, float]:
    """(stage, alpha) for the step that starts after `images_seen` training images."""
    last = len(config.resolutions()) - 1
    if config.arch != "progressive":
        return last, 1.0
    remaining = images_seen - config.stable_images
    if remaining < 0:
        return 0, 1.0
    for stage in range(1, last + 1):
        if remaining < config.fade_images:
            return stage, remaining / config.fade_images
        remaining -= config.fade_images
        if remaining < config.stable_images or stage == last:
            return stage, 1.0
        remaining -= config.stable_images
    return last, 1.0


def resolution_of(stage: int) -> int:
    return 4 * 2**stage

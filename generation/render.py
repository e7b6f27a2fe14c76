"""Turn a [0, 1] float image into the pool's PNG files, the same way for every class.

Steps: crop (center) or pad to a square, resample with one antialiasing filter
(Pillow's LANCZOS on a 32-bit float image) to each resolution, quantise to 8-bit
grayscale (round, clip), and encode a PNG that holds only IHDR, IDAT and IEND:
no text, EXIF, ICC profile, physical size or timestamp, so equal pixels give
equal bytes.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

CROP_CHOICES = ("center", "pad")
FILTER_NAME = "lanczos"


def to_square(pixels: np.ndarray, crop: str = "center") -> np.ndarray:
    """Cut the centred square (``center``) or add black borders (``pad``)."""
    if crop not in CROP_CHOICES:
        raise ValueError(f"crop must be one of {', '.join(CROP_CHOICES)}, got {crop!r}")
    height, width = pixels.shape
    if height == width:
        return pixels
    if crop == "center":
        side = min(height, width)
        top, left = (height - side) // 2, (width - side) // 2
        return pixels[top : top + side, left : left + side]
    side = max(height, width)
    top, left = (side - height) // 2, (side - width) // 2
    square = np.zeros((side, side), dtype=pixels.dtype)
    square[top : top + height, left : left + width] = pixels
    return square


def resample(pixels: np.ndarray, size: int) -> np.ndarray:
    """Resize a square float image to size x size with Lanczos (antialiased)."""
    if pixels.shape == (size, size):
        return np.array(pixels, dtype=np.float32)  # Pillow returns an unfiltered copy at the same size too
    image = Image.fromarray(np.ascontiguousarray(pixels, dtype=np.float32))
    return np.asarray(image.resize((size, size), Image.Resampling.LANCZOS), dtype=np.float32)


def quantise(pixels: np.ndarray) -> np.ndarray:
    """Map [0, 1] floats to 0..255 by rounding; Lanczos overshoot is clipped."""
    return np.clip(np.rint(pixels * 255.0), 0, 255).astype(np.uint8)


def encode_png(gray: np.ndarray) -> bytes:
    """Encode an 8-bit grayscale array as a PNG with no metadata chunks."""
    if gray.dtype != np.uint8 or gray.ndim != 2:
        raise ValueError(f"encode_png needs a 2-D uint8 array, got {gray.dtype} {gray.shape}")
    buffer = io.BytesIO()
    Image.fromarray(gray).save(buffer, format="PNG", compress_level=6)
    return buffer.getvalue()


def render(pixels: np.ndarray, resolutions: list[int], crop: str = "center") -> dict[int, bytes]:
    """All renditions of one image: resolution -> PNG bytes."""
    square = to_square(pixels, crop)
    return {size: encode_png(quantise(resample(square, size))) for size in resolutions}

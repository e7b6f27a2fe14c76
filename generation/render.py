"""Turn a [0, 1] float image into the pool's PNG files, the same way for every class.

Steps: crop (center) or pad to a square, resample with one antialiasing filter
(Pillow's LANCZOS on a 32-bit float image) to each resolution, quantise to 8-bit
grayscale (round, clip), and encode a PNG that holds only IHDR, IDAT and IEND:
no text, EXIF, ICC profile, physical size or timestamp, so equal pixels give
equal bytes.

What a reader's browser receives is `canonical_png` of those pixels instead: a
compressed PNG's size and its encoder's per-row filter choices depend on the
content, and differ between real and synthetic images, so they would tell a
reader the class without looking.
"""

from __future__ import annotations

import io
import struct
import zlib

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


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_STORED_BLOCK = 65535  # the most one uncompressed deflate block holds


def canonical_png(pixels: np.ndarray) -> bytes:
    """Encode an 8-bit grayscale array as a PNG whose layout depends on its width and height only.

    Every row has filter type 0 (none), the image data is zlib with stored (uncompressed) deflate blocks,
    and the only chunks are IHDR, IDAT and IEND. Two images of the same size therefore give byte strings
    of the same length that differ only in the pixel bytes and the checksums. The stored blocks are written
    here rather than by ``zlib.compress(level=0)``, so the layout does not depend on the zlib version.
    """
    if pixels.dtype != np.uint8 or pixels.ndim != 2 or pixels.size == 0:
        raise ValueError(f"canonical_png needs a non-empty 2-D uint8 array, got {pixels.dtype} {pixels.shape}")
    height, width = pixels.shape
    rows = np.zeros((height, width + 1), dtype=np.uint8)  # column 0: each row's filter type, 0
    rows[:, 1:] = pixels
    raw = rows.tobytes()
    blocks = []
    for start in range(0, len(raw), _STORED_BLOCK):
        block = raw[start : start + _STORED_BLOCK]
        final = start + _STORED_BLOCK >= len(raw)
        blocks.append(struct.pack("<BHH", final, len(block), len(block) ^ 0xFFFF) + block)
    # zlib header 0x78 0x01: deflate with a 32 KiB window, "fastest" level, header check bits.
    idat = b"\x78\x01" + b"".join(blocks) + struct.pack(">I", zlib.adler32(raw))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grayscale, no interlace
    return PNG_SIGNATURE + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def canonical_png_size(width: int, height: int) -> int:
    """The length in bytes of `canonical_png` of any width x height image."""
    raw = height * (width + 1)
    blocks = -(-raw // _STORED_BLOCK)
    return len(PNG_SIGNATURE) + (12 + 13) + (12 + 2 + 5 * blocks + raw + 4) + 12


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def render(pixels: np.ndarray, resolutions: list[int], crop: str = "center") -> dict[int, bytes]:
    """All renditions of one image: resolution -> PNG bytes."""
    square = to_square(pixels, crop)
    return {size: encode_png(quantise(resample(square, size))) for size in resolutions}

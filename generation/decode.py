"""Read DICOM, PNG, JPEG and TIFF files into grayscale float arrays in [0, 1].

The file type is detected from the content (the DICM marker of a DICOM file, or
whatever Pillow recognises), never from the extension alone. A file that cannot
be used raises `DecodeError`, whose message is the reason shown to a person in
the pool's rejected.json.

Grey levels:
- DICOM: modality LUT (rescale slope/intercept), then the VOI LUT or window
  stored in the file (``window="auto"``; without either, the image's own
  min..max), or a named preset / custom ``"W,L"`` window. MONOCHROME1 is
  inverted so that bright always means high signal.
- PNG/JPEG/TIFF are display images and are taken as stored: 8 bit / 255,
  16 bit / 65535; 32-bit integer and float images use their own min..max.
  Windows apply to DICOM only.
- Colour images are refused ("RGB image in a grayscale pool") or converted with
  the ITU-R BT.601 luma weights, as ``color`` says. An RGB image whose three
  channels are identical is grayscale and accepted either way.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image, ImageOps, UnidentifiedImageError
from pydicom.dataset import Dataset
from pydicom.pixels import (
    apply_color_lut,
    apply_modality_lut,
    apply_voi,
    apply_windowing,
    pixel_array,
)

MAX_PIXELS = 100_000_000
TOO_LARGE = "image larger than the 100-megapixel limit"
COLOR_REFUSED = "RGB image in a grayscale pool"

# Window presets as (width, level), in Hounsfield units.
WINDOW_PRESETS = {
    "lung": (1500.0, -600.0),
    "bone": (1500.0, 300.0),
    "brain": (80.0, 40.0),
    "soft": (400.0, 40.0),
}
FRAME_CHOICES = ("first", "middle", "all")
COLOR_CHOICES = ("refuse", "convert")
LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114])


class DecodeError(ValueError):
    """A file cannot be used; the message is the reason for a person."""


@dataclass(frozen=True)
class Window:
    """How DICOM values become grey levels: "auto" or an explicit width/level."""

    text: str
    width: float | None = None
    level: float | None = None


@dataclass(frozen=True)
class DecodeOptions:
    window: Window = Window("auto")
    frames: str = "first"
    color: str = "refuse"


@dataclass(frozen=True)
class Frame:
    """One decoded picture: 2-D float32 in [0, 1]; `index` is the DICOM frame
    number for multi-frame files and None otherwise."""

    pixels: np.ndarray
    index: int | None = None

    def pixel_hash(self) -> str:
        digest = hashlib.sha256(str(self.pixels.shape).encode())
        digest.update(np.ascontiguousarray(self.pixels).tobytes())
        return digest.hexdigest()


def parse_window(text: str) -> Window:
    """Parse ``auto``, a preset name (lung, bone, brain, soft) or ``W,L``."""
    name = text.strip().lower()
    if name == "auto":
        return Window("auto")
    if name in WINDOW_PRESETS:
        width, level = WINDOW_PRESETS[name]
        return Window(name, width, level)
    parts = name.split(",")
    try:
        width, level = (float(part) for part in parts)
    except ValueError:
        raise ValueError(
            f"window {text!r} is not understood: use auto, "
            f"{', '.join(WINDOW_PRESETS)}, or WIDTH,LEVEL such as 400,40"
        ) from None
    if not width >= 1:
        raise ValueError(f"window width must be at least 1, got {width:g} in {text!r}")
    return Window(name, width, level)


def make_options(window: str = "auto", frames: str = "first", color: str = "refuse") -> DecodeOptions:
    """Validate the user's choices and bundle them."""
    if frames not in FRAME_CHOICES:
        raise ValueError(f"frames must be one of {', '.join(FRAME_CHOICES)}, got {frames!r}")
    if color not in COLOR_CHOICES:
        raise ValueError(f"color must be one of {', '.join(COLOR_CHOICES)}, got {color!r}")
    return DecodeOptions(parse_window(window), frames, color)


def sniff(path: Path) -> str:
    """Return "dicom" when the file carries the DICM marker, else "other"."""
    with open(path, "rb") as handle:
        head = handle.read(132)
    return "dicom" if head[128:132] == b"DICM" else "other"


def decode_file(path: Path, options: DecodeOptions = DecodeOptions()) -> list[Frame]:
    """Decode one file into one or more frames, or raise DecodeError."""
    path = Path(path)
    try:
        kind = sniff(path)
    except OSError as exc:
        raise DecodeError(f"file cannot be read ({exc.strerror})") from None
    if kind == "dicom":
        return decode_dicom(path, options)
    return [decode_raster(path, options)]


# --- DICOM -------------------------------------------------------------------


def decode_dicom(path: Path, options: DecodeOptions) -> list[Frame]:
    try:
        ds = pydicom.dcmread(path)
    except Exception as exc:  # pydicom raises many types on damaged headers
        raise DecodeError(_damage_reason(exc, "DICOM")) from None
    if not any(key in ds for key in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
        if "Rows" in ds and "Columns" in ds:
            raise DecodeError("truncated file")  # header describes an image; pixels cut off
        raise DecodeError("DICOM has no pixel data")
    n_frames = int(ds.get("NumberOfFrames", 1) or 1)
    indices = _frame_indices(n_frames, options.frames)
    if int(ds.Rows) * int(ds.Columns) * len(indices) > MAX_PIXELS:
        raise DecodeError(TOO_LARGE)
    frames = []
    for index in indices:
        raw = _dicom_pixels(ds, index if n_frames > 1 else None)
        pixels = _dicom_to_unit(raw, ds, options)
        frames.append(Frame(pixels, index if n_frames > 1 else None))
    return frames


def _frame_indices(n_frames: int, frames: str) -> list[int]:
    if frames == "all":
        return list(range(n_frames))
    if frames == "middle":
        return [n_frames // 2]
    return [0]


def _dicom_pixels(ds: Dataset, index: int | None) -> np.ndarray:
    try:
        return pixel_array(ds, index=index)
    except Exception as exc:
        if "less than expected" in str(exc) or isinstance(exc, EOFError):
            raise DecodeError("truncated file") from None
        syntax = ds.file_meta.get("TransferSyntaxUID")
        name = getattr(syntax, "name", syntax) or "unknown transfer syntax"
        raise DecodeError(
            f"DICOM pixel data could not be decoded ({name}): "
            "convert the file to an uncompressed transfer syntax"
        ) from None


def _dicom_to_unit(raw: np.ndarray, ds: Dataset, options: DecodeOptions) -> np.ndarray:
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).upper()
    if photometric == "PALETTE COLOR":
        rgb = apply_color_lut(raw, ds)
        return _gray_from_rgb(rgb, np.iinfo(rgb.dtype).max, options.color)
    if raw.ndim == 3 or int(ds.get("SamplesPerPixel", 1)) > 1:
        top = 2 ** int(ds.get("BitsStored", 8)) - 1
        return _gray_from_rgb(raw, top, options.color)
    values = apply_modality_lut(raw, ds)
    unit = _apply_window(values, ds, options.window)
    if photometric == "MONOCHROME1":
        unit = 1.0 - unit
    return unit.astype(np.float32)


def _apply_window(values: np.ndarray, ds: Dataset, window: Window) -> np.ndarray:
    """Map modality values to [0, 1] with pydicom's own VOI functions."""
    if window.width is not None:
        preset = Dataset()
        preset.PhotometricInterpretation = "MONOCHROME2"
        preset.BitsStored = 16
        preset.PixelRepresentation = 0
        preset.WindowWidth = window.width
        preset.WindowCenter = window.level
        return _scaled_output(apply_windowing, values, preset)
    if _has_voi_lut(ds):
        if np.issubdtype(values.dtype, np.floating) and np.array_equal(values, np.round(values)):
            values = values.astype(np.int64)  # the LUT indexes integer values
        return _scaled_output(apply_voi, values, ds)
    if ds.get("WindowCenter") is not None and ds.get("WindowWidth") is not None:
        return _scaled_output(apply_windowing, values, ds)
    return _min_max(values)


def _has_voi_lut(ds: Dataset) -> bool:
    sequence = ds.get("VOILUTSequence")
    if not sequence:
        return False
    item = sequence[0]
    return item.get("LUTDescriptor") is not None and item.get("LUTData") is not None


def _scaled_output(voi_function, values: np.ndarray, ds: Dataset) -> np.ndarray:
    """Apply `voi_function` and scale by its full output range, found by
    probing the function itself so its range conventions stay pydicom's."""
    out = np.asarray(voi_function(values, ds), dtype=np.float64)
    if voi_function is apply_voi:
        item = ds.VOILUTSequence[0]
        entries, first = int(item.LUTDescriptor[0]) or 2**16, int(item.LUTDescriptor[1])
        probe = np.arange(first, first + entries, dtype=np.int64)
    else:
        probe = np.array([-1e30, 1e30])
    with np.errstate(over="ignore"):
        probed = np.asarray(voi_function(probe, ds), dtype=np.float64)
    low, high = float(probed.min()), float(probed.max())
    if high <= low:
        return np.zeros(out.shape)
    return np.clip((out - low) / (high - low), 0.0, 1.0)


def _min_max(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    low, high = float(values.min()), float(values.max())
    if high <= low:
        return np.zeros(values.shape)
    return (values - low) / (high - low)


def _gray_from_rgb(rgb: np.ndarray, top: float, color: str) -> np.ndarray:
    rgb = np.asarray(rgb)[..., :3]
    if np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2]):
        gray = rgb[..., 0].astype(np.float64)
    elif color == "convert":
        gray = rgb.astype(np.float64) @ LUMA_WEIGHTS
    else:
        raise DecodeError(COLOR_REFUSED)
    return np.clip(gray / top, 0.0, 1.0).astype(np.float32)


# --- PNG, JPEG, TIFF and other Pillow formats -----------------------------------


def decode_raster(path: Path, options: DecodeOptions) -> Frame:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as image:
                if image.width * image.height > MAX_PIXELS:
                    raise DecodeError(TOO_LARGE)
                image.load()
                image = ImageOps.exif_transpose(image)
                return Frame(_raster_to_unit(image, options.color))
    except Image.DecompressionBombError:
        raise DecodeError(TOO_LARGE) from None
    except UnidentifiedImageError:
        raise DecodeError("not an image file") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        if isinstance(exc, DecodeError):
            raise
        raise DecodeError(_damage_reason(exc, "image")) from None


def _raster_to_unit(image: Image.Image, color: str) -> np.ndarray:
    mode = image.mode
    if mode == "1":
        return np.asarray(image, dtype=np.float32)
    if mode in ("L", "LA"):
        return (np.asarray(image.getchannel(0), dtype=np.float32) / 255.0)
    if mode.startswith("I;16"):
        return (np.asarray(image, dtype=np.float64) / 65535.0).astype(np.float32)
    if mode in ("I", "F"):
        return _min_max(np.asarray(image)).astype(np.float32)
    if mode in ("RGB", "RGBA", "RGBX", "P", "PA", "CMYK", "YCbCr", "LAB", "HSV"):
        return _gray_from_rgb(np.asarray(image.convert("RGB")), 255.0, color)
    raise DecodeError(f"unsupported image mode {mode}: save it as 8- or 16-bit grayscale")


def _damage_reason(exc: BaseException, kind: str) -> str:
    text = str(exc)
    if isinstance(exc, EOFError) or "truncated" in text.lower() or "end of file" in text.lower():
        return "truncated file"
    return f"damaged {kind} file ({type(exc).__name__}: {text[:120]})"

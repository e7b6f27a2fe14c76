"""Read DICOM, PNG, JPEG and TIFF files into grayscale float arrays in [0, 1].

The file type is detected from the content (the DICM marker of a DICOM file, or
whatever Pillow recognises), never from the extension alone. A file that cannot
be used raises `DecodeError`, whose message is the reason shown to a person in
the pool's rejected.json.

Grey levels:
- DICOM: modality LUT (rescale slope/intercept), then the VOI LUT or window
  stored in the file (``window="auto"``; without either, the image's own
  min..max), or a named preset / custom ``"W,L"`` window. MONOCHROME1 is
  inverted so that bright always means high signal. In enhanced multi-frame
  files the rescale and window of each frame's functional group (else the
  shared group) are used. An invalid stored window is refused.
- PNG/JPEG/TIFF are display images and are taken as stored: 8 bit / 255,
  16 bit / 65535; 32-bit integer and float images use their own min..max.
  Windows apply to DICOM only.
- Images with NaN or infinite values are refused.
- Compressed DICOM is decoded by the pydicom plugins in pydicom's own order,
  with GDCM last: GDCM adds JPEG Lossless (Process 14, the usual lossless
  syntax of CR, DX and CT archives), and the syntaxes another plugin decodes
  keep that plugin, so their pixels stay bit for bit what they were. 12-bit
  JPEG Extended (Process 2 and 4) needs pylibjpeg-libjpeg, which is GPL-3 and
  so not installed with Mirage; without it such a file is refused with the
  command that installs it.
- Colour images are refused ("RGB image in a grayscale pool") or converted with
  the ITU-R BT.601 luma weights, as ``color`` says. An RGB image whose three
  channels are identical is grayscale and accepted either way.
"""

from __future__ import annotations

import copy
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
    get_decoder,
    pixel_array,
)
from pydicom.uid import JPEGExtended12Bit

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
# pydicom's plugin order with GDCM moved to the end (see the module docstring).
DECODER_ORDER = ("pylibjpeg", "pyjpegls", "pydicom", "pillow", "gdcm")
JPEG_12BIT_DECODER = (
    "12-bit JPEG Extended needs the optional decoder pylibjpeg-libjpeg, which is GPL-3 and so not "
    "installed with Mirage: install it (`pip install pylibjpeg-libjpeg`) if its licence suits you, "
    "or convert the file to an uncompressed transfer syntax"
)


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
        pixels = _dicom_to_unit(raw, _frame_view(ds, index), options)
        frames.append(Frame(pixels, index if n_frames > 1 else None))
    return frames


def _frame_indices(n_frames: int, frames: str) -> list[int]:
    if frames == "all":
        return list(range(n_frames))
    if frames == "middle":
        return [n_frames // 2]
    return [0]


def _frame_view(ds: Dataset, index: int) -> Dataset:
    """The dataset as pydicom's LUT functions should see it for frame `index`.

    Enhanced multi-frame objects keep rescale (Pixel Value Transformation
    Sequence) and window (Frame VOI LUT Sequence) in functional groups, which
    pydicom's `apply_modality_lut` and `apply_windowing` do not read. Each set
    is taken whole from the frame's own group, else the shared group, else the
    top level (the file unchanged). `ds` itself is never modified.
    """
    groups = []
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    if per_frame and index < len(per_frame):
        groups.append(per_frame[index])
    shared = ds.get("SharedFunctionalGroupsSequence")
    if shared:
        groups.append(shared[0])
    rescale = _group_item(groups, "PixelValueTransformationSequence", ("RescaleSlope", "RescaleIntercept"))
    window = _group_item(groups, "FrameVOILUTSequence", ("WindowCenter", "WindowWidth"))
    if rescale is None and window is None:
        return ds
    view = _flat_copy(ds)
    if rescale is not None:
        _take(view, rescale, ("RescaleSlope", "RescaleIntercept", "RescaleType"))
        if "ModalityLUTSequence" in view:
            del view.ModalityLUTSequence  # the frame's rescale is the modality transform
    if window is not None:
        _take(view, window, ("WindowCenter", "WindowWidth", "VOILUTFunction"))
        if "VOILUTSequence" in view:
            del view.VOILUTSequence  # the frame's own window wins over a top-level LUT
    return view


def _group_item(groups: list[Dataset], sequence: str, required: tuple[str, ...]) -> Dataset | None:
    """First item of `sequence` in the first group that has it with `required` values."""
    for group in groups:
        items = group.get(sequence)
        if items and all(items[0].get(key) is not None for key in required):
            return items[0]
    return None


def _take(view: Dataset, item: Dataset, keys: tuple[str, ...]) -> None:
    """Replace `keys` in `view` by those of `item` (absent in `item`: removed)."""
    for key in keys:
        if key in view:
            delattr(view, key)
        if key in item:
            view.add(copy.deepcopy(item[key]))


def _flat_copy(ds: Dataset) -> Dataset:
    """A new top-level dataset holding the same elements as `ds`.

    Replacing or deleting an element of the copy leaves `ds` untouched (unlike
    ``copy.copy(ds)`` or ``Dataset(ds)``, which share the element dictionary).
    """
    view = Dataset()
    for element in ds:
        view.add(element)
    if hasattr(ds, "file_meta"):
        view.file_meta = ds.file_meta  # LUT data stored as OW needs the byte order
    return view


def _dicom_pixels(ds: Dataset, index: int | None) -> np.ndarray:
    failures = []
    for plugin in _decoder_plugins(ds):
        try:
            return pixel_array(ds, index=index, decoding_plugin=plugin)
        except Exception as exc:
            failures.append(exc)
    if any("less than expected" in str(exc) or isinstance(exc, EOFError) for exc in failures):
        raise DecodeError("truncated file")
    syntax = ds.file_meta.get("TransferSyntaxUID")
    name = getattr(syntax, "name", syntax) or "unknown transfer syntax"
    if syntax == JPEGExtended12Bit and int(ds.get("BitsStored") or 8) > 8 and "pylibjpeg" not in _plugins_for(syntax):
        raise DecodeError(f"DICOM pixel data could not be decoded ({name}): {JPEG_12BIT_DECODER}")
    raise DecodeError(
        f"DICOM pixel data could not be decoded ({name}): "
        "convert the file to an uncompressed transfer syntax"
    )


def _decoder_plugins(ds: Dataset) -> list[str]:
    """The installed plugins for the file's transfer syntax, in DECODER_ORDER;
    [""] (pydicom's own choice) for uncompressed data or an unknown syntax."""
    plugins = _plugins_for(ds.file_meta.get("TransferSyntaxUID"))
    rank = {name: position for position, name in enumerate(DECODER_ORDER)}
    # a plugin pydicom adds later goes before GDCM, so GDCM stays the last resort
    return sorted(plugins, key=lambda name: rank.get(name, len(DECODER_ORDER) - 1.5)) or [""]


def _plugins_for(syntax) -> tuple[str, ...]:
    try:
        return get_decoder(syntax).available_plugins
    except (NotImplementedError, TypeError, ValueError):
        return ()


def _dicom_to_unit(raw: np.ndarray, ds: Dataset, options: DecodeOptions) -> np.ndarray:
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).upper()
    if photometric == "PALETTE COLOR":
        rgb = apply_color_lut(raw, ds)
        return _gray_from_rgb(rgb, np.iinfo(rgb.dtype).max, options.color)
    if raw.ndim == 3 or int(ds.get("SamplesPerPixel", 1)) > 1:
        top = 2 ** int(ds.get("BitsStored", 8)) - 1
        return _gray_from_rgb(raw, top, options.color)
    if _table_applies(raw, ds):
        # Every step below maps each stored value on its own (the min..max fallback of a linear rescale
        # reaches its extremes at the image's own lowest and highest value), so it is computed once per
        # stored value in the image's range and then looked up: the same numbers, a fraction of the work.
        low = int(raw.min())
        table = _gray_to_unit(np.arange(low, int(raw.max()) + 1, dtype=raw.dtype), ds, photometric, options)
        return table[raw.astype(np.int64) - low]
    return _gray_to_unit(raw, ds, photometric, options)


TABLE_MIN_PIXELS = 65_536  # below this, the direct computation is as fast


def _table_applies(raw: np.ndarray, ds: Dataset) -> bool:
    return (np.issubdtype(raw.dtype, np.integer) and raw.size >= TABLE_MIN_PIXELS
            and "ModalityLUTSequence" not in ds and int(raw.max()) - int(raw.min()) < 2**17)


def _gray_to_unit(raw: np.ndarray, ds: Dataset, photometric: str, options: DecodeOptions) -> np.ndarray:
    values = apply_modality_lut(raw, ds)
    _require_finite(values)
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
        lut_ds = _voi_lut_view(ds)
        entries, first = _lut_range(lut_ds)
        # Values outside the LUT map to its first/last entry anyway; clipping first
        # keeps pydicom's unsigned index array (uint16 at most) from wrapping.
        values = np.clip(values, first, first + entries - 1)
        return _scaled_output(apply_voi, values, lut_ds)
    if ds.get("WindowCenter") is not None and ds.get("WindowWidth") is not None:
        _check_stored_window(ds)
        try:
            return _scaled_output(apply_windowing, values, ds)
        except (ValueError, AttributeError) as exc:  # anything _check_stored_window missed
            raise DecodeError(f"DICOM window cannot be applied ({exc})") from None
    return _min_max(values)


def window_to_unit(values: np.ndarray, window: Window, auto_range: tuple[float, float]) -> np.ndarray:
    """Grey levels for values that carry no DICOM attributes (a NIfTI volume's voxels).

    A given window (preset or ``W,L``) is applied exactly as to DICOM; ``auto`` maps
    ``auto_range`` (low, high) to 0..1, clipped. Returns float32 in [0, 1].
    """
    values = np.asarray(values, dtype=np.float64)
    _require_finite(values)
    if window.width is not None:
        return _apply_window(values, Dataset(), window).astype(np.float32)
    low, high = (float(bound) for bound in auto_range)
    if high <= low:
        return np.zeros(values.shape, dtype=np.float32)
    return np.clip((values - low) / (high - low), 0.0, 1.0).astype(np.float32)


def _check_stored_window(ds: Dataset) -> None:
    """Refuse a stored window that pydicom's `apply_windowing` cannot apply,
    with a reason a person understands (pydicom raises a bare ValueError)."""
    element = ds["WindowWidth"]
    width = element.value[0] if element.VM > 1 else element.value
    try:
        width = float(width)
    except (TypeError, ValueError):
        raise DecodeError(f"DICOM window width is not a number (found {width!r})") from None
    if not width > 0:
        raise DecodeError(f"DICOM window width must be positive (found {width:g})")
    function = str(ds.get("VOILUTFunction") or "LINEAR").strip().upper()
    if function == "LINEAR" and width < 1:
        raise DecodeError(f"DICOM window width must be at least 1 for a LINEAR window (found {width:g})")


def _has_voi_lut(ds: Dataset) -> bool:
    sequence = ds.get("VOILUTSequence")
    if not sequence:
        return False
    item = sequence[0]
    return item.get("LUTDescriptor") is not None and item.get("LUTData") is not None


def _lut_range(ds: Dataset) -> tuple[int, int]:
    """(number of entries, first mapped value) of the first VOI LUT."""
    descriptor = ds.VOILUTSequence[0].LUTDescriptor
    return int(descriptor[0]) or 2**16, int(descriptor[1])


def _voi_lut_view(ds: Dataset) -> Dataset:
    """`ds`, or a copy whose VOI LUT declares 16 bits per entry where it declares 8.

    pydicom 3.0.2's `apply_voi` builds its index array in the dtype of the LUT
    entries, so an 8-bit LUT with more than 256 entries wraps its indices
    (a sawtooth). 8-bit LUT data (values <= 255) read as 16-bit entries is the
    same mapping; `_scaled_output` rescales by the probed output range anyway.
    """
    item = ds.VOILUTSequence[0]
    descriptor = item["LUTDescriptor"]
    if int(descriptor.value[2]) != 8:
        return ds
    wide = _flat_copy(item)
    wide.add_new(descriptor.tag, descriptor.VR, [int(descriptor.value[0]), int(descriptor.value[1]), 16])
    view = _flat_copy(ds)
    # a new element: assigning to view.VOILUTSequence would change the one `ds` shares
    view.add_new(0x00283010, "SQ", [wide, *ds.VOILUTSequence[1:]])
    return view


def _require_finite(values: np.ndarray) -> None:
    if np.issubdtype(values.dtype, np.floating) and not np.isfinite(values).all():
        raise DecodeError("image contains NaN or infinite values")


def _scaled_output(voi_function, values: np.ndarray, ds: Dataset) -> np.ndarray:
    """Apply `voi_function` and scale by its full output range, found by
    probing the function itself so its range conventions stay pydicom's."""
    out = np.asarray(voi_function(values, ds), dtype=np.float64)
    if voi_function is apply_voi:
        entries, first = _lut_range(ds)
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
        values = np.asarray(image)
        _require_finite(values)
        return _min_max(values).astype(np.float32)
    if mode in ("RGB", "RGBA", "RGBX", "P", "PA", "CMYK", "YCbCr", "LAB", "HSV"):
        return _gray_from_rgb(np.asarray(image.convert("RGB")), 255.0, color)
    raise DecodeError(f"unsupported image mode {mode}: save it as 8- or 16-bit grayscale")


def _damage_reason(exc: BaseException, kind: str) -> str:
    text = str(exc)
    if isinstance(exc, EOFError) or "truncated" in text.lower() or "end of file" in text.lower():
        return "truncated file"
    return f"damaged {kind} file ({type(exc).__name__}: {text[:120]})"

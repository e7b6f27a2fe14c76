"""Volumes (NIfTI files and DICOM series) become 2-D slices by a stated rule.

A volume is one source: all slices taken from it share its source id, so a
reader never sees two slices of one patient's volume and a split by source
never puts one volume on both sides.

What is a volume:
- a NIfTI-1 or NIfTI-2 file (``.nii`` or ``.nii.gz``, recognised by its header,
  not its name), 3-D (or 4-D with one volume);
- a DICOM series: two or more single-frame DICOM files in one folder with the
  same SeriesInstanceUID that are cross-sectional slices (they carry
  ImagePositionPatient and ImageOrientationPatient, or their modality is CT, MR,
  PT or NM). Radiographs (CR, DX, MG...) stay one image per file. A folder
  holding two such series is refused: one folder per series.

Slice order and orientation:
- NIfTI: turned to the closest canonical (RAS) orientation without resampling;
  slices are axial, slice 0 the most inferior, each shown as a radiology viewer
  shows it (the patient's right on the left, anterior at the top).
- DICOM series: ordered by ImagePositionPatient along the slice normal (the
  cross product of the ImageOrientationPatient rows and columns), else, when a
  slice lacks them, by InstanceNumber; each slice as stored. A series with
  slices of different sizes, slices that are not parallel, two slices at one
  position or a gap (a spacing above 1.5 times the median, or a missing
  instance number) is refused.

Rules (``--slices``), slice indices counting from 0 in that order:
``middle`` (count // 2), ``every:K`` (0, K, 2K, ...), ``list:3,7,12``, and
``mask:SUFFIX`` or ``mask:FOLDER``: the slices where a mask volume of the same
shape has a non-zero label. The mask of ``dir/ct.nii.gz`` (or of the series
folder ``dir/ct``) below --real is ``dir/ct<SUFFIX>.nii.gz`` (or ``.nii``) with a
suffix such as ``_seg``, or ``FOLDER/real/dir/ct.nii.gz`` with a folder (its
path as rejected.json writes it, so real and synthetic volumes of one name keep
their own masks). A mask is matched to its
volume through both files' orientations, so it may be stored in another axis
order; a DICOM series' mask is a NIfTI file and needs the series'
ImagePositionPatient.

Grey levels: DICOM slices are decoded exactly as the same file alone
(generation.decode: modality and VOI LUTs, the window options). NIfTI voxels
(after scl_slope/scl_inter) take the given window, or for ``auto`` the file's
cal_min..cal_max when set, else the volume's own min..max, the same for all its
slices.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
from nibabel.orientations import apply_orientation, io_orientation, ornt_transform

from generation.decode import MAX_PIXELS, TOO_LARGE, DecodeError, DecodeOptions, Frame, decode_dicom, window_to_unit

RULE_KINDS = ("middle", "every", "list", "mask")
RULE_HELP = "middle, every:K, list:3,7,12, mask:SUFFIX (such as mask:_seg) or mask:FOLDER"
NIFTI_SUFFIXES = (".nii.gz", ".nii")
MASK_LIKE = ("_mask", "_seg")  # names that say "segmentation" (refused as images without a mask rule)
SERIES_MODALITIES = ("CT", "MR", "PT", "NM")
MAX_VOXELS = 500_000_000
TOO_MANY_VOXELS = "volume larger than the 500-megavoxel limit"
GAP_FACTOR = 1.5
_HEADER_TAGS = ["SeriesInstanceUID", "Modality", "NumberOfFrames", "ImagePositionPatient",
                "ImageOrientationPatient"]


# --- the rule ------------------------------------------------------------------------


@dataclass(frozen=True)
class SliceRule:
    """Which slices of a volume become images; `text` is what the user wrote."""

    text: str = "middle"
    kind: str = "middle"
    step: int | None = None
    indices: tuple[int, ...] = ()
    mask_suffix: str | None = None
    mask_folder: str | None = None

    def select(self, count: int, labelled: np.ndarray | None = None) -> list[int]:
        """The slice indices this rule takes from a volume of `count` slices (mask rule: `labelled`
        says which slices carry a label). Raises DecodeError when the volume cannot satisfy it."""
        if self.kind == "middle":
            return [count // 2]
        if self.kind == "every":
            return list(range(0, count, self.step))
        if self.kind == "list":
            beyond = [index for index in self.indices if index >= count]
            if beyond:
                raise DecodeError(f"--slices {self.text} asks for slice {beyond[0]}, but the volume has "
                                  f"{count} slices (0 to {count - 1})")
            return list(self.indices)
        chosen = [int(index) for index in np.flatnonzero(labelled)]
        if not chosen:
            raise DecodeError("its mask has no labelled (non-zero) voxel, so no slice is chosen")
        return chosen


def parse_slice_rule(text: str) -> SliceRule:
    """Parse ``middle``, ``every:K``, ``list:3,7,12``, ``mask:SUFFIX`` or ``mask:FOLDER``; ValueError says why not."""
    raw = str(text).strip()
    kind, _, value = raw.partition(":")
    kind = kind.strip().lower()
    value = value.strip()
    if kind == "middle" and not value:
        return SliceRule(raw, "middle")
    if kind == "every":
        try:
            step = int(value)
        except ValueError:
            step = 0
        if step < 1:
            raise ValueError(f"--slices {raw!r}: every:K needs a whole number K of at least 1, such as every:5")
        return SliceRule(raw, "every", step=step)
    if kind == "list":
        try:
            indices = tuple(int(part) for part in value.split(","))
        except ValueError:
            indices = ()
        if not indices or min(indices) < 0:
            raise ValueError(f"--slices {raw!r}: list: needs slice numbers from 0 separated by commas, "
                             "such as list:3,7,12")
        if len(set(indices)) != len(indices):
            raise ValueError(f"--slices {raw!r} names a slice twice")
        return SliceRule(raw, "list", indices=tuple(sorted(indices)))
    if kind == "mask":
        if not value:
            raise ValueError(f"--slices {raw!r}: mask: needs a file name suffix (mask:_seg) or a folder of masks")
        if Path(value).is_dir():
            return SliceRule(raw, "mask", mask_folder=str(Path(value)))
        if "/" in value or os.sep in value:
            raise ValueError(f"--slices {raw!r}: the mask folder {value} does not exist")
        if value.endswith(NIFTI_SUFFIXES):
            raise ValueError(f"--slices {raw!r}: give the suffix without .nii or .nii.gz, such as mask:_seg")
        return SliceRule(raw, "mask", mask_suffix=value)
    raise ValueError(f"--slices {raw!r} is not a slice rule: use {RULE_HELP}")


# --- recognising volumes -----------------------------------------------------------------


def nifti_stem(name: str) -> str:
    """A file name without its .nii or .nii.gz ending."""
    for suffix in NIFTI_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def is_nifti_name(name: str) -> bool:
    return name.lower().endswith(NIFTI_SUFFIXES)


def nifti_kind(path: Path) -> str | None:
    """"nifti1" or "nifti2" from the file's header (gzipped or not); "pair" for the
    header of a .hdr/.img pair; None when the file is not NIfTI."""
    try:
        with open(path, "rb") as handle:
            zipped = handle.read(2) == b"\x1f\x8b"
        with (gzip.open(path, "rb") if zipped else open(path, "rb")) as handle:
            head = handle.read(548)
    except (OSError, EOFError, zlib.error):
        return None
    if len(head) < 348:
        return None
    for order in "<>":
        size = struct.unpack(order + "i", head[:4])[0]
        if size == 348 and head[344:348] in (b"n+1\x00", b"ni1\x00"):
            return "nifti1" if head[344:348] == b"n+1\x00" else "pair"
        if size == 540 and len(head) >= 540 and head[4:8] == b"n+2\x00":
            return "nifti2"
    return None


def looks_like_mask(name: str) -> bool:
    """A NIfTI file whose name ends like a segmentation mask (ct_seg.nii.gz)."""
    return is_nifti_name(name) and nifti_stem(name).lower().endswith(MASK_LIKE)


def is_mask_of_rule(name: str, rule: SliceRule) -> bool:
    """Whether the file `name` is a mask file of the suffix rule (listed as a mask, not an image)."""
    return rule.mask_suffix is not None and is_nifti_name(name) and nifti_stem(name).endswith(rule.mask_suffix)


@dataclass(frozen=True)
class SliceHeader:
    """What grouping DICOM files into series needs from one file's header."""

    series_uid: str
    is_slice: bool


def read_slice_header(path: Path) -> SliceHeader | None:
    """The grouping facts of a DICOM file, or None when it has no series (it stays a file)."""
    try:
        ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=_HEADER_TAGS)
    except Exception:  # a damaged header: the file is decoded alone and rejected with its reason
        return None
    uid = str(ds.get("SeriesInstanceUID") or "").strip()
    if not uid:
        return None
    single = int(ds.get("NumberOfFrames") or 1) == 1
    placed = ds.get("ImagePositionPatient") is not None and ds.get("ImageOrientationPatient") is not None
    cross_sectional = placed or str(ds.get("Modality") or "").upper() in SERIES_MODALITIES
    return SliceHeader(uid, single and cross_sectional)


def find_mask(root: Path, relpath: str, rule: SliceRule, kind: str = "real") -> Path:
    """The mask file of the volume at `relpath` (a NIfTI file or a series folder) under `root`, the
    `kind` ("real", "synthetic" or "catch") folder."""
    volume = Path(root) / relpath
    if rule.mask_folder is not None:
        base = Path(rule.mask_folder) / kind / Path(relpath).parent
        stem = nifti_stem(volume.name) if relpath != "." else Path(root).resolve().name
        candidates = [base / (stem + suffix) for suffix in NIFTI_SUFFIXES]
        if is_nifti_name(volume.name):
            candidates.insert(0, base / volume.name)
    else:
        folder = volume.resolve().parent if relpath == "." else volume.parent
        stem = nifti_stem(volume.resolve().name if relpath == "." else volume.name)
        candidates = [folder / (stem + rule.mask_suffix + suffix) for suffix in NIFTI_SUFFIXES]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise DecodeError(f"no mask for --slices {rule.text}: looked for {candidates[0]}")


# --- NIfTI ---------------------------------------------------------------------------------


def decode_nifti(path: Path, options: DecodeOptions, rule: SliceRule,
                 mask: Path | None = None) -> tuple[list[Frame], int]:
    """The slices `rule` takes from the NIfTI file at `path`, and the volume's slice count."""
    image = _load_nifti(path, "NIfTI")
    raw, ornt = _nifti_voxels(image, path, "NIfTI")
    canonical = apply_orientation(raw, ornt)  # a view: axes R, A, S
    count = canonical.shape[2]
    if canonical.shape[0] * canonical.shape[1] > MAX_PIXELS:
        raise DecodeError(TOO_LARGE)
    labelled = None
    if rule.kind == "mask":
        labelled = _nifti_mask_slices(mask, canonical.shape)
    indices = rule.select(count, labelled)
    slope, inter = _scaling(image)
    if np.issubdtype(raw.dtype, np.floating) and not np.isfinite(raw).all():
        raise DecodeError("image contains NaN or infinite values")
    auto_range = _auto_range(image, raw, slope, inter)
    frames = []
    for index in indices:
        values = np.asarray(canonical[:, :, index], dtype=np.float64) * slope + inter
        unit = window_to_unit(values, options.window, auto_range)
        frames.append(Frame(np.ascontiguousarray(unit.T[::-1, ::-1]), index))
    return frames, count


def _load_nifti(path: Path, what: str):
    kind = nifti_kind(path)
    if kind == "pair":
        raise DecodeError(f"{what} header of a .hdr/.img pair: convert it to a single .nii or .nii.gz file")
    if kind is None:
        raise DecodeError(f"damaged {what} file (no NIfTI header)")
    image_type = nib.Nifti1Image if kind == "nifti1" else nib.Nifti2Image
    try:
        return image_type.from_filename(str(path))
    except Exception as exc:  # nibabel raises many types on damaged headers
        raise DecodeError(_nifti_damage(exc, what)) from None


def _nifti_voxels(image, path: Path, what: str) -> tuple[np.ndarray, np.ndarray]:
    """The stored (unscaled) voxels as a 3-D array and their orientation to RAS."""
    shape = image.shape
    if len(shape) == 4 and shape[3] == 1:
        shape = shape[:3]
    if len(shape) == 2:
        shape = (*shape, 1)
    if len(shape) != 3:
        raise DecodeError(f"{len(image.shape)}-D {what} ({'x'.join(map(str, image.shape))}): "
                          "give one 3-D volume per file")
    if int(np.prod(shape, dtype=np.int64)) > MAX_VOXELS:
        raise DecodeError(TOO_MANY_VOXELS)
    dtype = image.get_data_dtype()
    if dtype.fields is not None or np.issubdtype(dtype, np.complexfloating):
        raise DecodeError(f"{what} voxels of type {dtype} (colour or complex) cannot be shown in grey")
    try:
        raw = np.asarray(image.dataobj.get_unscaled()).reshape(shape)
    except Exception as exc:
        raise DecodeError(_nifti_damage(exc, what)) from None
    if raw.dtype == bool:
        raw = raw.astype(np.uint8)
    affine = image.affine
    if affine is None or not np.isfinite(affine).all():
        raise DecodeError(f"{what} orientation (affine) is not finite")
    return raw, io_orientation(affine)[:3]


def _scaling(image) -> tuple[float, float]:
    slope, inter = float(image.dataobj.slope), float(image.dataobj.inter)
    if not (np.isfinite(slope) and np.isfinite(inter)):
        raise DecodeError(f"NIfTI scl_slope / scl_inter are not finite ({slope}, {inter})")
    return slope, inter


def _auto_range(image, raw: np.ndarray, slope: float, inter: float) -> tuple[float, float]:
    low, high = float(image.header["cal_min"]), float(image.header["cal_max"])
    if np.isfinite(low) and np.isfinite(high) and high > low:
        return low, high
    ends = sorted((float(raw.min()) * slope + inter, float(raw.max()) * slope + inter))
    return ends[0], ends[1]


def _mask_voxels(mask: Path) -> tuple[np.ndarray, object]:
    image = _load_nifti(mask, "mask")
    raw, _ = _nifti_voxels(image, mask, "mask")
    if np.issubdtype(raw.dtype, np.floating) and not np.isfinite(raw).all():
        raise DecodeError(f"its mask {mask.name} contains NaN or infinite values")
    return raw, image.affine


def _nifti_mask_slices(mask: Path | None, shape: tuple[int, ...]) -> np.ndarray:
    raw, affine = _mask_voxels(mask)
    canonical = apply_orientation(raw, io_orientation(affine)[:3])
    _require_shape(canonical.shape, shape, mask)
    return np.any(canonical != 0, axis=(0, 1))


def _require_shape(found: tuple[int, ...], wanted: tuple[int, ...], mask: Path) -> None:
    if tuple(found) != tuple(wanted):
        raise DecodeError(f"its mask {mask.name} is {'x'.join(map(str, found))} voxels, "
                          f"the volume {'x'.join(map(str, wanted))}: a mask must have the volume's shape")


def _nifti_damage(exc: BaseException, what: str) -> str:
    text = str(exc)
    if isinstance(exc, EOFError) or "ended before" in text or "Expected" in text and "bytes" in text:
        return "truncated file"
    return f"damaged {what} file ({type(exc).__name__}: {text.splitlines()[0][:120] if text else ''})"


# --- DICOM series ------------------------------------------------------------------------------


def decode_series(paths: list[Path], options: DecodeOptions, rule: SliceRule,
                  mask: Path | None = None) -> tuple[list[Frame], int]:
    """The slices `rule` takes from the DICOM series made of the files `paths`, and its slice count."""
    headers = [_series_header(path) for path in paths]
    _require_one_size(headers, paths)
    order, affine = _series_order(headers, paths)
    count = len(order)
    labelled = None
    if rule.kind == "mask":
        if affine is None:
            raise DecodeError("a mask is matched to a series through ImagePositionPatient and "
                              "ImageOrientationPatient, which this series lacks")
        rows, columns = int(headers[0].Rows), int(headers[0].Columns)
        raw, mask_affine = _mask_voxels(mask)
        in_series = apply_orientation(raw, ornt_transform(io_orientation(mask_affine)[:3], io_orientation(affine)))
        _require_shape(in_series.shape, (columns, rows, count), mask)
        labelled = np.any(in_series != 0, axis=(0, 1))
    frames = []
    for index in rule.select(count, labelled):
        path = paths[order[index]]
        try:
            (frame,) = decode_dicom(path, options)
        except DecodeError as exc:
            raise DecodeError(f"slice {index} ({path.name}): {exc}") from None
        frames.append(Frame(frame.pixels, index))
    return frames, count


def _series_header(path: Path):
    try:
        return pydicom.dcmread(path, stop_before_pixels=True)
    except Exception as exc:
        raise DecodeError(f"slice {path.name} cannot be read ({type(exc).__name__})") from None


def _require_one_size(headers, paths: list[Path]) -> None:
    sizes: dict[tuple[int, int], list[str]] = {}
    for ds, path in zip(headers, paths):
        sizes.setdefault((int(ds.get("Rows") or 0), int(ds.get("Columns") or 0)), []).append(path.name)
    if len(sizes) > 1:
        parts = [f"{len(names)} of {r}x{c} (such as {names[0]})" for (r, c), names in
                 sorted(sizes.items(), key=lambda item: -len(item[1]))]
        raise DecodeError(f"series has slices of different sizes: {', '.join(parts)}")


def _series_order(headers, paths: list[Path]) -> tuple[list[int], np.ndarray | None]:
    """Positions of the files in slice order, and the series' affine (RAS) when it is placed in space."""
    placed = all(ds.get("ImagePositionPatient") is not None and ds.get("ImageOrientationPatient") is not None
                 for ds in headers)
    if placed:
        return _order_by_position(headers, paths)
    return _order_by_instance(headers, paths), None


def _order_by_position(headers, paths: list[Path]) -> tuple[list[int], np.ndarray]:
    orientations = np.array([[float(v) for v in ds.ImageOrientationPatient] for ds in headers])
    positions = np.array([[float(v) for v in ds.ImagePositionPatient] for ds in headers])
    if orientations.shape[1] != 6 or positions.shape[1] != 3:
        raise DecodeError("series has an ImageOrientationPatient or ImagePositionPatient of the wrong length")
    if np.abs(orientations - orientations[0]).max() > 1e-4:
        raise DecodeError("series slices are not parallel (their ImageOrientationPatient differs)")
    row, column = orientations[0, :3], orientations[0, 3:]
    normal = np.cross(row, column)
    along = positions @ normal
    order = [int(i) for i in np.argsort(along, kind="stable")]
    spacing = np.diff(along[order])
    if len(spacing) and spacing.min() < 1e-3 * max(float(np.median(spacing)), 1e-3):
        at = int(np.argmin(spacing))
        raise DecodeError(f"two slices of the series are at one position ({paths[order[at]].name} and "
                          f"{paths[order[at + 1]].name}): several echoes or times in one series?")
    if len(spacing) > 1 and spacing.max() > GAP_FACTOR * float(np.median(spacing)):
        at = int(np.argmax(spacing))
        raise DecodeError(f"series has missing slices: {spacing.max():.3g} mm between {paths[order[at]].name} "
                          f"and {paths[order[at + 1]].name}, where slices are {np.median(spacing):.3g} mm apart")
    pixel_spacing = headers[0].get("PixelSpacing") or [1.0, 1.0]
    step = (positions[order[-1]] - positions[order[0]]) / max(len(order) - 1, 1)
    lps = np.eye(4)
    lps[:3, 0] = row * float(pixel_spacing[1])
    lps[:3, 1] = column * float(pixel_spacing[0])
    lps[:3, 2] = step if np.linalg.norm(step) > 0 else normal
    lps[:3, 3] = positions[order[0]]
    return order, np.diag([-1.0, -1.0, 1.0, 1.0]) @ lps  # DICOM's LPS to NIfTI's RAS


def _order_by_instance(headers, paths: list[Path]) -> list[int]:
    numbers = []
    for ds, path in zip(headers, paths):
        try:
            numbers.append(int(ds.InstanceNumber))
        except (AttributeError, TypeError, ValueError):
            raise DecodeError(f"slice order unknown: {path.name} has neither ImagePositionPatient "
                              "nor InstanceNumber") from None
    order = [int(i) for i in np.argsort(numbers, kind="stable")]
    ordered = [numbers[i] for i in order]
    for before, after in zip(ordered, ordered[1:]):
        if after == before:
            raise DecodeError(f"two slices of the series have InstanceNumber {after}")
        if after != before + 1:
            raise DecodeError(f"series has missing slices: InstanceNumber jumps from {before} to {after}")
    return order

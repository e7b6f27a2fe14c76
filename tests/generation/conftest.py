"""Fixtures that write real image files: DICOM built with pydicom, PNGs with Pillow,
and the DICOM test corpus shipped inside pydicom (only files present offline).

The helpers are handed out as fixtures, so test modules need no imports from here.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid


def corpus_file(name: str) -> Path:
    """A file from pydicom's bundled test data; skip (never download) if absent."""
    path = pydicom.data.get_testdata_file(name, download=False)
    if path is None:
        pytest.skip(f"{name} is not bundled with this pydicom")
    return Path(path)


def write_dicom(path: Path, pixels: np.ndarray, photometric: str = "MONOCHROME2", **attributes) -> Path:
    """Write an uncompressed DICOM file; a 3-D array becomes a multi-frame image."""
    pixels = np.asarray(pixels)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "OT"
    ds.Rows, ds.Columns = pixels.shape[-2:]
    if pixels.ndim == 3:
        ds.NumberOfFrames = pixels.shape[0]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    bits = pixels.dtype.itemsize * 8
    ds.BitsAllocated = bits
    ds.BitsStored = bits
    ds.HighBit = bits - 1
    ds.PixelRepresentation = 1 if np.issubdtype(pixels.dtype, np.signedinteger) else 0
    for key, value in attributes.items():
        setattr(ds, key, value)
    ds.PixelData = pixels.astype(pixels.dtype.newbyteorder("<")).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def write_png(path: Path, pixels: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(pixels)).save(path)
    return path


def write_png_header_only(path: Path, width: int, height: int) -> Path:
    """A tiny PNG whose header claims width x height (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 1024)) + chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)
    return path


def gradient(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A distinct 8-bit test picture: a gradient plus seeded noise."""
    rng = np.random.default_rng(seed)
    ramp = np.add.outer(np.linspace(0, 150, height), np.linspace(0, 80, width))
    return np.clip(ramp + rng.integers(0, 25, (height, width)), 0, 255).astype(np.uint8)


@pytest.fixture(name="corpus_file")
def _corpus_file():
    return corpus_file


@pytest.fixture(name="write_dicom")
def _write_dicom():
    return write_dicom


@pytest.fixture(name="write_png")
def _write_png():
    return write_png


@pytest.fixture(name="write_png_header_only")
def _write_png_header_only():
    return write_png_header_only


@pytest.fixture(name="gradient")
def _gradient():
    return gradient


@pytest.fixture
def image_dirs(tmp_path: Path) -> tuple[Path, Path]:
    """Three real and three synthetic distinct PNGs of mixed sizes."""
    real, synthetic = tmp_path / "real", tmp_path / "synthetic"
    for number, (height, width) in enumerate([(40, 40), (30, 50), (64, 48)]):
        write_png(real / f"case{number}.png", gradient(height, width, seed=number))
        write_png(synthetic / "batch" / f"fake{number}.png", gradient(height, width, seed=100 + number))
    return real, synthetic


@pytest.fixture
def catch_dir(tmp_path: Path) -> Path:
    """Two distinct 'obviously fake' PNGs (coarse noise), one in a subfolder."""
    catch = tmp_path / "catch"
    rng = np.random.default_rng(500)
    write_png(catch / "early.png", np.kron(rng.integers(0, 256, (5, 5)), np.ones((8, 8))).astype(np.uint8))
    write_png(catch / "epoch1" / "sample.png", rng.integers(0, 256, (36, 44), dtype=np.uint8))
    return catch


@pytest.fixture(scope="module")
def torch_one_thread():
    """The test machine is shared: one thread is plenty for the tiny networks of the GAN tests."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)

"""Benchmark `pool build`: images per second for 512 px 16-bit DICOM in, five
resolutions (32..512) out, against the bare minimum for the same work measured
in the same run (pydicom decode, then one PIL resize and one PNG encode per
output, in a plain single-process loop), and workers=1 against all cores.

    .venv/bin/python bench/pool_build.py [--count 48] [--size 512] [--repeat 2]

Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pydicom
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from generation import build_pool  # noqa: E402

RESOLUTIONS = (32, 64, 128, 256, 512)


def write_ct(path: Path, size: int, seed: int) -> None:
    """A 16-bit signed CT-like slice: a disc of soft tissue in air, with noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:size, :size]
    radius = size * (0.35 + 0.1 * rng.random())
    body = (x - size / 2) ** 2 + (y - size / 2) ** 2 < radius**2
    hu = np.where(body, 40, -1000) + rng.normal(0, 20, (size, size))
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID, ds.SOPInstanceUID = CTImageStorage, meta.MediaStorageSOPInstanceUID
    ds.Modality = "CT"
    ds.Rows = ds.Columns = size
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.RescaleSlope, ds.RescaleIntercept = 1, -1024
    ds.WindowCenter, ds.WindowWidth = 40, 400
    ds.PixelData = (hu + 1024).astype("<i2").tobytes()
    ds.save_as(path, enforce_file_format=True)


def bare_minimum(files: list[Path]) -> float:
    """Seconds for decode + one resize + one PNG encode per output, no pipeline.

    The file's window (40/400) is applied with one numpy expression so the PNGs
    hold the same grey levels as the pool's (PNG speed depends on content)."""
    started = time.perf_counter()
    for path in files:
        hu = pydicom.dcmread(path).pixel_array.astype(np.float32) - 1024
        image = Image.fromarray(np.clip((hu + 160) * (255 / 400), 0, 255).astype(np.uint8))
        for size in RESOLUTIONS:
            image.resize((size, size), Image.Resampling.LANCZOS).save(io.BytesIO(), format="PNG")
    return time.perf_counter() - started


def bare_minimum_float(files: list[Path]) -> float:
    """The same bare loop, but resampling in float and quantising afterwards, as the pipeline must
    (issue #3: "to float, ... resample ..., quantise to 8-bit"): the floor for the pipeline's own work."""
    started = time.perf_counter()
    for path in files:
        hu = pydicom.dcmread(path).pixel_array.astype(np.float32) - 1024
        image = Image.fromarray(np.clip((hu + 160) / 400, 0, 1).astype(np.float32))
        for size in RESOLUTIONS:
            resized = np.asarray(image.resize((size, size), Image.Resampling.LANCZOS))
            Image.fromarray(np.clip(np.rint(resized * 255), 0, 255).astype(np.uint8)).save(io.BytesIO(), format="PNG")
    return time.perf_counter() - started


def pipeline(real: Path, synthetic: Path, out: Path, workers: int) -> float:
    summary = build_pool(real, synthetic, out, resolutions=RESOLUTIONS, workers=workers)
    return summary.seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=96, help="DICOM files in all (half real, half synthetic)")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=2, help="runs per row; the fastest is kept")
    args = parser.parse_args()
    cores = os.cpu_count() or 1
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        files = []
        for number in range(args.count):
            target = root / ("real" if number % 2 == 0 else "synthetic") / f"{number:03d}.dcm"
            target.parent.mkdir(exist_ok=True)
            write_ct(target, args.size, number)
            files.append(target)
        rows = [("bare minimum, 1 process", 1, min(bare_minimum(files) for _ in range(args.repeat))),
                ("bare, float resample", 1, min(bare_minimum_float(files) for _ in range(args.repeat)))]
        for workers in sorted({1, cores}):
            best = min(
                pipeline(root / "real", root / "synthetic", root / f"pool-{workers}-{run}", workers)
                for run in range(args.repeat)
            )
            rows.append((f"pool build, workers={workers}", workers, best))
    baseline = args.count / rows[0][2]
    float_baseline = args.count / rows[1][2]
    print(f"{args.count} DICOM files, {args.size} px, 16 bit -> PNG at {','.join(map(str, RESOLUTIONS))}; "
          f"{cores} cores; best of {args.repeat}")
    print(f"{'run':<28}{'seconds':>9}{'images/s':>10}{'per core':>10}{'vs bare':>9}{'vs float bare':>15}")
    for name, workers, seconds in rows:
        rate = args.count / seconds
        print(f"{name:<28}{seconds:>9.2f}{rate:>10.1f}{rate / workers:>10.1f}{rate / workers / baseline:>9.2f}"
              f"{rate / workers / float_baseline:>15.2f}")
    single = next(seconds for name, workers, seconds in rows[2:] if workers == 1)
    print(f"scaling workers=1 -> workers={cores}: {single / rows[-1][2]:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

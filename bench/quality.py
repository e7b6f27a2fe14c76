"""Benchmark the quality report: the whole report for N real + N synthetic images at SIZE px, with
seconds per stage and peak memory, beside bare radiomic feature extraction of the same images in the
same run (the floor: the report's largest single cost).

    .venv/bin/python bench/quality.py [--n 1000] [--size 256] [--workers all] [--features frd-v1]

Real and synthetic images are labelled demo phantoms from different seeds (two samples of one
distribution), so every stage runs, usefulness included. Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from generation.manifest import FORMAT  # noqa: E402
from generation.phantoms import labelled_phantoms, to_uint8  # noqa: E402


def write_pool(folder: Path, n: int, size: int) -> Path:
    entries = []
    for kind, seed in (("real", 1), ("synthetic", 2)):
        images, labels = labelled_phantoms(n, seed=seed, size=size)
        for number, (image, label) in enumerate(zip(images, labels)):
            identifier = hashlib.sha256(f"{kind}{number}".encode()).hexdigest()[:32]
            file = f"images/{size}/{identifier}.png"
            (folder / file).parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(to_uint8(image)).save(folder / file)
            entries.append({"id": identifier, "source_id": identifier, "class": kind, "resolution": size,
                            "file": file, "sha256": hashlib.sha256((folder / file).read_bytes()).hexdigest(),
                            "width": size, "height": size, "source": f"{kind}_{number:04d}.png",
                            "generator": None if kind == "real" else {"name": "phantom"}, "label": label})
    manifest = {"format": FORMAT, "code_version": "0.1.0", "created_by": "bench/quality.py", "images": entries,
                "settings": {"resolutions": [size], "crop": "center", "window": "auto", "frames": "first",
                             "seed": 0, "filter": "lanczos"}}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def peak_mib() -> tuple[float, float]:
    """Peak resident memory of this process and of its largest finished child, MiB."""
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=1000, help="images per class (default 1000)")
    parser.add_argument("--size", type=int, default=256, help="px (default 256)")
    parser.add_argument("--workers", type=int, default=os.cpu_count(), help="processes (default all cores)")
    parser.add_argument("--features", default="frd-v1", choices=("frd-v1", "original"))
    parser.add_argument("--bootstrap", type=int, default=100)
    args = parser.parse_args()

    from generation.quality.features import extract_features
    from generation.quality.inputs import load_inputs
    from generation.quality.report import run_report

    with tempfile.TemporaryDirectory() as temporary:
        started = time.perf_counter()
        pool = write_pool(Path(temporary) / "pool", args.n, args.size)
        print(f"pool of {args.n} + {args.n} phantoms at {args.size} px written in "
              f"{time.perf_counter() - started:.1f} s; {args.workers} worker(s), features {args.features}")
        started = time.perf_counter()
        inputs = load_inputs(pool, pool)
        loading = time.perf_counter() - started
        real, synthetic = inputs.sets[args.size]
        started = time.perf_counter()
        extract_features(np.concatenate([real.pixels, synthetic.pixels]), feature_set=args.features,
                         workers=args.workers)
        bare = time.perf_counter() - started
        bare_peak = peak_mib()
        started = time.perf_counter()
        report = run_report(inputs, Path(temporary) / "report", workers=args.workers, feature_set=args.features,
                            bootstrap=args.bootstrap, progress=sys.stderr.isatty())
        total = time.perf_counter() - started
        report_peak = peak_mib()
    seconds = report["resolutions"][0]["seconds"]
    print(f"\n{'stage':<28}{'seconds':>10}")
    print(f"{'load pool':<28}{loading:>10.1f}")
    print(f"{'bare feature extraction':<28}{bare:>10.1f}   ({2 * args.n / bare:.1f} images/s)")
    for stage, value in seconds.items():
        print(f"{stage:<28}{value:>10.1f}")
    print(f"{'report total (with figures)':<28}{total:>10.1f}")
    print(f"\nreport features / bare extraction: {seconds['features'] / bare:.2f}x")
    print(f"peak memory: {bare_peak[0]:.0f} MiB after bare extraction (largest worker {bare_peak[1]:.0f} MiB); "
          f"{report_peak[0]:.0f} MiB after the report (largest worker {report_peak[1]:.0f} MiB)")


if __name__ == "__main__":
    main()

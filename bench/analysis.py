"""Benchmark: the full analysis report for a large simulated study.

    .venv/bin/python bench/analysis.py [--readers 1000] [--trials 1000] [--n-boot 2000] [--out DIR]

Simulates readers x trials single-image responses (every reader reads every
image of a pool spread over five resolutions, with confidence 1-5), then
times `build_report` section by section and `write_report` (JSON, HTML,
PNG plots).  Prints seconds per stage and the process's peak memory.
Goal: 1,000 readers x 1,000 trials (10^6 responses) with 2,000 bootstrap
draws in under 30 s and 4 GB on 2 cores.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis import report as report_module  # noqa: E402
from analysis.report import build_report, write_report  # noqa: E402
from analysis.tidy import validate  # noqa: E402

GOAL_SECONDS = 30.0
GOAL_GB = 4.0


def simulate(readers: int, trials: int, *, resolutions=(16, 32, 64, 128, 256), seed: int = 0) -> pd.DataFrame:
    """Every reader reads every image once; accuracy rises with resolution, readers and images vary."""
    rng = np.random.default_rng(seed)
    per_level = trials // len(resolutions)
    n_images = per_level * len(resolutions)
    reader = np.repeat(np.arange(readers), n_images)
    image = np.tile(rng.permutation(n_images), readers)
    level = image // per_level
    truth_synthetic = image % 2 == 1
    logit = (-0.4 + 0.5 * level + rng.normal(0, 0.5, readers)[reader] + rng.normal(0, 0.5, n_images)[image])
    correct = rng.random(reader.size) < 1 / (1 + np.exp(-logit))
    said_synthetic = np.where(correct, truth_synthetic, ~truth_synthetic)
    labels = np.array(["real", "synthetic"])
    return pd.DataFrame({
        "study": "bench",
        "reader": pd.Categorical.from_codes(reader, [f"reader{i:04d}" for i in range(readers)]),
        "trial": np.tile(np.arange(1, n_images + 1), readers),
        "case": pd.Categorical.from_codes(image, [f"img{i:05d}" for i in range(n_images)]),
        "truth": pd.Categorical.from_codes(truth_synthetic.astype(int), labels),
        "answer": pd.Categorical.from_codes(said_synthetic.astype(int), labels),
        "confidence": rng.integers(1, 6, reader.size),
        "resolution": np.asarray(resolutions)[level],
        "trial_kind": "main",
        "response_ms": rng.gamma(4.0, 300.0, reader.size).round(),
        "design": "single",
    })


def timed_sections(timings: dict) -> None:
    """Wrap the report's section runner and the headline so that every section's seconds are recorded."""
    original = report_module._Context.run

    def run(self, section, data, design):
        start = time.perf_counter()
        try:
            return original(self, section, data, design)
        finally:
            timings[f"{design}.{section.key}"] += time.perf_counter() - start

    report_module._Context.run = run
    headline = report_module.headline

    def timed_headline(*args, **kwargs):
        start = time.perf_counter()
        try:
            return headline(*args, **kwargs)
        finally:
            timings["headline (U-statistic MRMC per design, measure, resolution; trend)"] += time.perf_counter() - start

    report_module.headline = timed_headline


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2  # Linux: kilobytes


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readers", type=int, default=1000)
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--n-boot", type=int, default=2000)
    parser.add_argument("--out", type=Path, default=None, help="keep the report here (default: a temp folder)")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    df = simulate(args.readers, args.trials)
    simulate_s = time.perf_counter() - start
    memory_after_data = peak_gb()

    timings: dict[str, float] = defaultdict(float)
    timed_sections(timings)
    stages = []
    start = time.perf_counter()
    validate(df)
    stages.append(("validate alone (also run inside build_report)", time.perf_counter() - start))
    start = time.perf_counter()
    report = build_report(df, n_boot=args.n_boot, seed=0)
    build_s = time.perf_counter() - start
    out = args.out or Path(tempfile.mkdtemp(prefix="mirage-bench-"))
    start = time.perf_counter()
    write_report(report, df, out)
    write_s = time.perf_counter() - start

    stages += sorted(timings.items(), key=lambda item: -item[1])
    other = build_s - sum(timings.values())
    stages.append(("build_report: validate, exclusions, bookkeeping", other))
    stages.append(("write_report: JSON, HTML, PNG plots", write_s))
    total = build_s + write_s
    peak = peak_gb()

    print(f"Mirage analysis benchmark: {args.readers:,} readers x {args.trials:,} trials = {len(df):,} responses, "
          f"{args.n_boot:,} bootstrap draws")
    print(f"(simulating the data: {simulate_s:.1f} s, not counted; "
          f"peak memory after simulating {memory_after_data:.2f} GB)")
    print(f"{'stage':<72} {'seconds':>8}")
    for name, seconds in stages:
        print(f"{name:<72} {seconds:8.2f}")
    print(f"{'total report (build + write)':<72} {total:8.2f}   goal < {GOAL_SECONDS:.0f} s: "
          f"{'met' if total < GOAL_SECONDS else 'NOT met'}")
    print(f"{'peak memory (process, GB)':<72} {peak:8.2f}   goal < {GOAL_GB:.0f} GB: "
          f"{'met' if peak < GOAL_GB else 'NOT met'}")
    print(f"report written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

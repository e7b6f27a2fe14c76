"""Run the quality report's stages at each resolution and write its files.

OUT/
  quality.json        every figure, per resolution, with the settings, warnings and seconds per stage
  quality.html        the same for a person: one page, figures embedded, no scripts, works offline
  flagged.json        synthetic sources flagged as possible copies of training images (for a pool build)
  machine_reader.csv  the machine readers' answers as a tidy responses table
  figures/*.png       the figures of the page
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from tqdm import tqdm

from generation.manifest import CODE_VERSION
from generation.quality import cnn
from generation.quality.inputs import QualityInputError, QualityInputs

STAGES = ("fidelity", "prdc", "diversity", "memorisation", "usefulness", "machine")
MIN_IMAGES = 10
NEAR_COPY = 0.995  # a flagged image this similar to a training image is named in the warnings whatever the count
NO_LABELS = "the images carry no labels: usefulness is skipped (give --labels or a labelled pool)"
FORMAT = "mirage-quality/1"
FLAGGED_FORMAT = "mirage-quality-flagged/1"


def run_report(inputs: QualityInputs, out: str | Path, *, workers: int | None = None, feature_set: str = "frd-v1",
               bootstrap: int = 100, stages: tuple[str, ...] = STAGES, seed: int = 0, steps: int = cnn.STEPS,
               quantile: float = 0.99, progress: bool = False, created_by: str = "",
               on_progress: Callable[[str, float], None] | None = None) -> dict:
    """Compute every asked stage at every resolution, write OUT's files and return the report.

    `on_progress(step, fraction)` is called as each step starts ("64 px memorisation", then "writing the
    report"), with the fraction of the steps already done, and once more with ("done", 1.0) at the end.
    """
    from generation.quality import diversity, fidelity, machine_reader, memorisation, prdc, usefulness
    from generation.quality.features import extract_features

    workers = workers or os.cpu_count() or 1
    out = Path(out)
    for resolution, (real, synthetic) in inputs.sets.items():
        for image_set in (real, synthetic):
            if len(image_set) < MIN_IMAGES:
                raise QualityInputError(f"only {len(image_set)} {image_set.kind} image(s) at {resolution} px: the "
                                        f"report needs at least {MIN_IMAGES} of each class (a few hundred for "
                                        "precision and recall)")
    report = {"format": FORMAT, "code_version": CODE_VERSION, "created_by": created_by, "inputs": inputs.description,
              "settings": {"feature_set": feature_set, "bootstrap": bootstrap, "stages": list(stages), "seed": seed,
                           "cnn_steps": steps, "copy_quantile": quantile, "workers": workers,
                           "cnn_device": str(cnn.device()) if {"usefulness", "machine"} & set(stages) else None},
              "notes": list(inputs.notes), "warnings": [], "resolutions": []}
    tidy_rows: list[dict] = []
    private: dict[int, dict] = {}
    steps_done = _Steps(on_progress, len(inputs.sets) * len(_steps(stages, inputs.has_labels)) + 1)
    for resolution, (real, synthetic) in inputs.sets.items():
        entry = {"resolution": resolution, "n_real": len(real), "n_synthetic": len(synthetic),
                 "n_real_sources": len(set(real.sources)), "n_real_held_out": int((~real.trained).sum()),
                 "labels": sorted(set(real.labels)) if inputs.has_labels else None, "seconds": {}}
        keep: dict = {"real": real, "synthetic": synthetic}
        clock = _Clock(entry["seconds"], steps_done, f"{resolution} px ")
        if {"fidelity", "prdc", "machine"} & set(stages):
            with clock("features"):
                real_f, names = extract_features(real.pixels, feature_set=feature_set, workers=workers,
                                                 progress=progress, description=f"{resolution} px real features")
                synthetic_f, synthetic_names = extract_features(synthetic.pixels, feature_set=feature_set,
                                                                workers=workers, progress=progress,
                                                                description=f"{resolution} px synthetic features")
                synthetic_f = _align(synthetic_f, synthetic_names, names)
        if "fidelity" in stages:
            with clock("fidelity"):
                entry["fidelity"] = fidelity.fidelity(real_f, synthetic_f, names, real.sources, bootstrap=bootstrap,
                                                      seed=seed)
        if "prdc" in stages or "machine" in stages:
            real_e, synthetic_e = prdc.embed(real_f, synthetic_f)
        if "prdc" in stages:
            with clock("prdc"):
                entry["prdc"] = prdc.prdc_report(real_f, synthetic_f, real.sources, splits=max(10, bootstrap // 2),
                                                 seed=seed)
        if "diversity" in stages:
            with clock("diversity"):
                entry["diversity"] = diversity.diversity(real, synthetic, seed=seed)
        if "memorisation" in stages:
            with clock("memorisation"):
                result = memorisation.memorisation(real, synthetic, quantile=quantile)
                keep["memorisation"] = result
                entry["memorisation"] = _public(result)
        if "usefulness" in stages and inputs.has_labels:
            with clock("usefulness"), _torch_threads(1):
                with tqdm(unit="net", desc=f"{resolution} px usefulness", file=sys.stderr, disable=not progress) as bar:
                    entry["usefulness"] = usefulness.usefulness(real, synthetic, seed=seed, steps=steps, progress=bar)
        elif "usefulness" in stages:
            entry["usefulness"] = None
            if NO_LABELS not in report["notes"]:
                report["notes"].append(NO_LABELS)
        if "machine" in stages:
            with clock("machine"), _torch_threads(1):
                with tqdm(total=machine_reader.FOLDS, unit="fold", desc=f"{resolution} px machine reader",
                          file=sys.stderr, disable=not progress) as bar:
                    cnn_summary, cnn_rows = machine_reader.cnn_reader(real, synthetic, seed=seed, steps=steps,
                                                                      progress=bar)
                nn_summary, nn_rows = machine_reader.nearest_neighbour_reader(real, synthetic, real_e, synthetic_e,
                                                                              seed=seed)
                entry["machine_reader"] = {"machine-cnn": cnn_summary, "machine-1nn": nn_summary}
                tidy_rows += cnn_rows + nn_rows
        report["warnings"] += _warnings(entry)
        report["resolutions"].append(entry)
        private[resolution] = keep
    report["flagged"] = _flagged(report, private)
    steps_done.start("writing the report")
    _write(report, private, tidy_rows, out)
    steps_done.finish()
    return report


def _steps(stages: tuple[str, ...], has_labels: bool) -> list[str]:
    """The timed steps of one resolution, in the order run_report takes them."""
    steps = ["features"] if {"fidelity", "prdc", "machine"} & set(stages) else []
    return steps + [stage for stage in STAGES if stage in stages and (stage != "usefulness" or has_labels)]


class _Steps:
    """Counts the report's steps and tells `callback` which one starts and how far the report is."""

    def __init__(self, callback: Callable[[str, float], None] | None, total: int):
        self.callback, self.total, self.done = callback, total, 0

    def start(self, step: str) -> None:
        if self.callback is not None:
            self.callback(step, self.done / self.total)

    def finish(self) -> None:
        self.done += 1
        if self.done == self.total and self.callback is not None:
            self.callback("done", 1.0)


class _Clock:
    def __init__(self, seconds: dict, steps: _Steps, prefix: str):
        self.seconds, self.steps, self.prefix = seconds, steps, prefix

    def __call__(self, stage: str):
        self.stage = stage
        return self

    def __enter__(self):
        self.steps.start(self.prefix + self.stage)
        self.start = time.perf_counter()

    def __exit__(self, *exc):
        self.seconds[self.stage] = round(time.perf_counter() - self.start, 3)
        if exc[0] is None:
            self.steps.finish()


@contextlib.contextmanager
def _torch_threads(threads: int):
    """Run the small networks on `threads` threads. torch's default (a thread per core) made them 18x
    slower on a busy 2-core machine: their layers are too small to share out."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _align(values: np.ndarray, names: list[str], wanted: list[str]) -> np.ndarray:
    if names == wanted:
        return values
    column = {name: n for n, name in enumerate(names)}
    return np.stack([values[:, column[name]] if name in column else np.full(len(values), np.nan)
                     for name in wanted], axis=1)


def _public(result: dict) -> dict:
    """The memorisation result without the indices kept for the figures."""
    copy = dict(result)
    copy["synthetic"] = [{k: v for k, v in row.items() if not k.startswith("_")} for row in result["synthetic"]]
    return copy


def _warnings(entry: dict) -> list[str]:
    at = f"{entry['resolution']} px"
    found = []
    fid = entry.get("fidelity")
    if fid and not fid["within_real_range"]:
        found.append(f"{at}: the real-versus-synthetic FRD ({fid['real_vs_synthetic']['median']:.2f}) is above the "
                     f"real-versus-real interval (up to {fid['real_vs_real']['ci_high']:.2f}); features that differ "
                     f"most: {', '.join(row['feature'] for row in fid['top_features'][:3])}")
    if entry.get("prdc") and entry["prdc"]["warning"]:
        found.append(f"{at}: {entry['prdc']['warning']}")
    if entry.get("diversity"):
        found += entry["diversity"]["warnings"]
    memo = entry.get("memorisation")
    if memo and memo["warning"]:
        found.append(f"{at}: {memo['warning']}")
    near_copies = [row["source"] for row in memo["synthetic"] if row["flagged"] and row["shift_tolerant"] >= NEAR_COPY] \
        if memo else []
    if near_copies:
        found.append(f"{at}: {len(near_copies)} synthetic image(s) are near-exact copies of training images "
                     f"(correlation at least {NEAR_COPY}: {', '.join(near_copies[:5])}); see flagged.json")
    elif memo and memo["n_flagged"] > max(1.0, 2 * memo["expected_by_chance"]):
        found.append(f"{at}: {memo['n_flagged']} synthetic image(s) flagged as possible copies of training images "
                     f"(about {memo['expected_by_chance']:.1f} expected by chance); see flagged.json")
    machine = entry.get("machine_reader")
    if machine:
        for reader, result in machine.items():
            if result["auc_ci_low"] > 0.5 and result.get("permutation_p", 0) < 0.05:
                found.append(f"{at}: the {reader} reader tells real from synthetic (AUC {result['auc']:.2f}, "
                             f"95% CI {result['auc_ci_low']:.2f}-{result['auc_ci_high']:.2f})")
    return found


def _flagged(report: dict, private: dict) -> list[dict]:
    """Flagged synthetic sources across resolutions: what a pool build needs to leave them out."""
    by_source: dict[str, dict] = {}
    for resolution, keep in private.items():
        result = keep.get("memorisation")
        if not result:
            continue
        for row in result["synthetic"]:
            if not row["flagged"]:
                continue
            item = by_source.setdefault(row["source_id"], {"source_id": row["source_id"], "source": row["source"],
                                                           "ids": [], "resolutions": [], "nearest_training": [],
                                                           "shift_tolerant": []})
            item["ids"].append(row["id"])
            item["resolutions"].append(resolution)
            item["nearest_training"].append(row["nearest_training_source"])
            item["shift_tolerant"].append(round(row["shift_tolerant"], 5))
    return sorted(by_source.values(), key=lambda item: -max(item["shift_tolerant"]))


def _write(report: dict, private: dict, tidy_rows: list[dict], out: Path) -> None:
    from generation.quality import figures
    from generation.quality.html import render_html

    out.mkdir(parents=True, exist_ok=True)
    (out / "figures").mkdir(exist_ok=True)
    pictures = figures.draw_all(report, private, out / "figures")
    rules = [entry["memorisation"]["rule"] for entry in report["resolutions"] if entry.get("memorisation")]
    flagged = {"format": FLAGGED_FORMAT, "rule": rules[0] if rules else None, "synthetic": report["flagged"]}
    (out / "flagged.json").write_text(json.dumps(flagged, indent=1) + "\n")
    if tidy_rows:
        from generation.quality.machine_reader import TIDY_COLUMNS

        with open(out / "machine_reader.csv", "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=TIDY_COLUMNS)
            writer.writeheader()
            writer.writerows(tidy_rows)
    (out / "quality.json").write_text(json.dumps(_finite(report), indent=1) + "\n")
    (out / "quality.html").write_text(render_html(report, pictures), encoding="utf-8")


def _finite(value):
    """The report with numpy scalars as Python numbers and NaN or infinity as null (strict JSON)."""
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value

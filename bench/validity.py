"""Validity by simulation: the headline's false-positive rate at chance and its interval coverage.

    .venv/bin/python bench/validity.py [--studies 2000] [--workers 2] [--only NAME ...] [--seed 0]

Whole studies with known truth (`analysis.simulation`: readers with random bias and skill, images with
a random "looks synthetic" effect shared by all readers and across resolutions) are scheduled by the
web app's own scheduler (`readerstudy.scheduling`: shared case set in a Latin square, fully crossed, or
random subsets per reader), answered, and analysed by `analysis.headline` exactly as the report does.
For each scenario, `--studies` studies with readers at chance give every headline figure's
false-positive rate at alpha 0.05, and as many with skilled readers give the coverage of its 95%
interval of the true population value. The Monte Carlo 95% interval of each rate is printed beside it.

Goal: 5% +/- 1.5 and 95% +/- 1.5 in every scenario with 2,000 studies each. For comparison the table
also shows the per-reading exact binomial test the results page used to lead with.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analysis.simulation import Scenario, SimTrial, measure_key, simulate_responses, true_values  # noqa: E402

GOAL_FPR, GOAL_COVERAGE, TOLERANCE = 0.05, 0.95, 0.015

SCENARIOS = [
    Scenario("no reader or image variability", reader_sd=0.0, image_sd=0.0, source_correlation=0.0),
    Scenario("readers and images vary (split-plot)"),
    Scenario("large image effects (split-plot)", image_sd=1.0),
    Scenario("confidence: accuracy and AUC (split-plot)", confidence=True),
    Scenario("fully crossed (sources at every resolution)", case_set="crossed"),
    Scenario("random subset per reader", case_set="random"),
    Scenario("readers' skill varies", skill_sd=0.5),
    Scenario("3 readers", readers=3),
    Scenario("2-image forced choice", design="choice", alternatives=2),
    Scenario("4-image forced choice", design="choice", alternatives=4, trials_per_resolution=30),
    Scenario("realism rating with 'real or synthetic?'", design="rating", rating_ask_class=True),
]
ALTERNATIVE = {"skill": 0.4, "skill_slope": 0.3}
SCHEDULES = 25


def spec_for(scenario: Scenario):
    from readerstudy.scheduling import ScheduleSpec

    return ScheduleSpec(design=scenario.design, resolutions=tuple(scenario.resolutions),
                        trials_per_resolution=scenario.trials_per_resolution, alternatives=scenario.alternatives,
                        odd_class="real", case_set="random" if scenario.case_set == "random" else "shared",
                        allow_source_repeat=scenario.case_set == "crossed", order="interleaved")


def pool_for(scenario: Scenario):
    """Enough sources per class, each rendered at every resolution (twice what one study needs)."""
    from readerstudy.scheduling import ImageRef

    t = scenario.trials_per_resolution
    per_class = 2 * t * len(scenario.resolutions) * (scenario.alternatives if scenario.design == "choice" else 1)
    images, next_id = [], 0
    for cls in ("real", "synthetic"):
        for i in range(per_class):
            for res in scenario.resolutions:
                images.append(ImageRef(next_id, f"{cls[0]}{i}", cls, res))
                next_id += 1
    return images


def schedule(scenario: Scenario, images, by_id, study_seed: int) -> list[SimTrial]:
    from readerstudy.scheduling import schedule_trials

    spec = spec_for(scenario)
    trials = []
    for reader in range(scenario.readers):
        for planned in schedule_trials(images, spec, study_seed * 1000 + reader, study_seed=study_seed,
                                       reader_index=reader):
            if planned.kind != "main":
                continue
            refs = [by_id[i] for i in planned.image_ids]
            trials.append(SimTrial(reader, planned.resolution, tuple(r.source_id for r in refs),
                                   tuple(r.image_class for r in refs), planned.odd_position))
    return trials


def per_reading_binomial(df) -> dict:
    """The per-reading exact binomial p-value per resolution, for comparison."""
    from analysis.proportions import binomial_p_value

    out = {}
    for res, part in df.groupby("resolution"):
        chance = 1.0 / part["alternatives"].iloc[0] if "alternatives" in part and part["alternatives"].notna().all() \
            else 0.5
        if "correct" in part and part["correct"].notna().any():
            correct = part["correct"].fillna(0)
        else:
            correct = (part["answer"] == part["truth"]).astype(int)
        out[res] = binomial_p_value(int(correct.sum()), len(part), chance)
    return out


def run_batch(args) -> list[tuple]:
    """(figure, rejected, covered) for each headline figure of `count` studies."""
    from analysis.headline import headline
    from analysis.tidy import validate

    scenario, null, first, count = args
    images = pool_for(scenario)
    by_id = {i.id: i for i in images}
    truth = true_values(scenario)
    out = []
    # Schedules come from SCHEDULES study seeds in turn: which source sits where is exchangeable, and every
    # study draws its own readers and image effects.
    schedules = {}
    for study in range(first, first + count):
        rng = np.random.default_rng([study, int(null)])
        key = study % SCHEDULES
        if key not in schedules:
            schedules[key] = schedule(scenario, images, by_id, key)
        trials = schedules[key]
        df = validate(simulate_responses(scenario, trials, rng))
        rows, trend = headline(df)
        for row in rows.itertuples():
            value = truth.get((measure_key(row.measure), row.resolution))
            if row.measure.startswith("follow-up"):
                value = truth.get(("accuracy", row.resolution))
            covered = None if value is None or row.ci_low is None else bool(row.ci_low <= value <= row.ci_high)
            rejected = None if row.p_value is None else bool(row.p_value < 0.05)
            out.append((f"{row.measure} at {row.resolution} px", rejected, covered))
        for row in trend.itertuples():
            slope = _true_slope(scenario, truth, row.measure)
            covered = None if row.ci_low is None else bool(row.ci_low <= slope <= row.ci_high)
            out.append((f"{row.measure}: trend", None if row.p_value is None else bool(row.p_value < 0.05),
                        covered))
        if scenario.design == "single" and null:
            for res, p in per_reading_binomial(df).items():
                out.append((f"per-reading binomial at {res} px (old headline)", bool(p < 0.05), None))
    return out


def _true_slope(scenario: Scenario, truth: dict, measure: str) -> float:
    x = np.log2(np.asarray(scenario.resolutions, dtype=float))
    y = np.array([truth[(measure_key(measure), res)] for res in scenario.resolutions])
    centred = x - x.mean()
    return float((centred * y).sum() / (centred**2).sum())


def _mc(k: int, n: int) -> str:
    if n == 0:
        return "n/a"
    p = k / n
    half = 1.96 * math.sqrt(max(p * (1 - p), 1e-12) / n)
    return f"{100 * p:5.1f}% [{100 * max(p - half, 0):4.1f}, {100 * min(p + half, 1):5.1f}]"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--studies", type=int, default=2000, help="studies per scenario and per truth (default 2000)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--only", nargs="*", help="scenario names (substrings) to run")
    args = parser.parse_args(argv)
    scenarios = [s for s in SCENARIOS if not args.only or any(o in s.name for o in args.only)]
    print(f"{args.studies} studies per scenario at chance and as many with skilled readers "
          f"(d' {ALTERNATIVE['skill']} + {ALTERNATIVE['skill_slope']} per doubling); {args.workers} workers")
    print(f"{'scenario':46} {'figure':58} {'false positives':>24} {'coverage':>24}  goal")
    failed = 0
    started = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        for scenario in scenarios:
            t0 = time.perf_counter()
            chunk = max(1, args.studies // (4 * args.workers))
            jobs = []
            for null, sc in ((True, scenario), (False, replace(scenario, **ALTERNATIVE))):
                jobs += [(sc, null, first, min(chunk, args.studies - first)) for first in range(0, args.studies, chunk)]
            results = list(pool.map(run_batch, jobs))
            tallies: dict[str, list[int]] = {}
            for (sc, null, _, _), batch in zip(jobs, results):
                for figure, rejected, covered in batch:
                    t = tallies.setdefault(figure, [0, 0, 0, 0])
                    if null and rejected is not None:
                        t[0] += rejected
                        t[1] += 1
                    if not null and covered is not None:
                        t[2] += covered
                        t[3] += 1
            for figure, (k, n, c, m) in tallies.items():
                ok_fpr = n == 0 or abs(k / n - GOAL_FPR) <= TOLERANCE
                ok_cov = m == 0 or abs(c / m - GOAL_COVERAGE) <= TOLERANCE
                old = figure.startswith("per-reading")
                verdict = "(for comparison)" if old else ("met" if ok_fpr and ok_cov else "NOT MET")
                failed += (not old) and not (ok_fpr and ok_cov)
                print(f"{scenario.name:46} {figure:58} {_mc(k, n):>24} {_mc(c, m):>24}  {verdict}")
            print(f"{'':46} {'(' + format(time.perf_counter() - t0, '.0f') + ' s for this scenario)':58}")
    print(f"total {time.perf_counter() - started:.0f} s; {failed} figure(s) outside the goal")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

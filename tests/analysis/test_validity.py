"""A small, seeded run of bench/validity.py: the headline keeps its error rates in whole simulated studies.

Studies are scheduled by the web app's scheduler, answered by simulated readers with known truth
(`analysis.simulation`) and analysed by `analysis.headline`. With readers at chance each headline
figure must reject in about 5% of studies, and with skilled readers its 95% interval must cover the
true value in about 95%; the bounds below are the rates' 99.9% Monte Carlo intervals for this many
studies. The per-reading binomial test that the results page used to lead with fails the same check.
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import replace
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "validity.py"
STUDIES = 80


@pytest.fixture(scope="module")
def validity():
    spec = importlib.util.spec_from_file_location("mirage_bench_validity", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rates(validity, scenario, null: bool):
    batch = validity.run_batch((scenario, null, 0, STUDIES))
    headline = [(rejected, covered) for figure, rejected, covered in batch if not figure.startswith("per-reading")]
    old = [rejected for figure, rejected, _ in batch if figure.startswith("per-reading")]
    return headline, old


def _bound(p: float, n: int) -> float:
    return 3.29 * math.sqrt(p * (1 - p) / n)


def _scenario(validity, name):
    return next(s for s in validity.SCENARIOS if s.name.startswith(name))


@pytest.mark.parametrize("name", ["large image effects", "random subset per reader", "2-image forced choice",
                                  "realism rating"])
def test_false_positives_at_chance_stay_near_five_percent(validity, name):
    headline, old = _rates(validity, _scenario(validity, name), null=True)
    tests = [rejected for rejected, _ in headline if rejected is not None]
    rate = sum(tests) / len(tests)
    assert len(tests) >= STUDIES * 3
    assert abs(rate - 0.05) <= _bound(0.05, len(tests)), rate


def test_the_per_reading_binomial_test_fails_the_same_check(validity):
    # Every reader reads the same images and the images differ in how synthetic they look: readings are not
    # independent, and the exact binomial test on pooled readings rejects far more often than 5%.
    scenario = replace(_scenario(validity, "fully crossed"), image_sd=1.0)
    headline, old = _rates(validity, scenario, null=True)
    assert sum(old) / len(old) > 0.05 + _bound(0.05, len(old))
    tests = [rejected for rejected, _ in headline if rejected is not None]
    assert abs(sum(tests) / len(tests) - 0.05) <= _bound(0.05, len(tests))


@pytest.mark.parametrize("name", ["readers and images vary", "confidence: accuracy and AUC", "4-image forced choice"])
def test_intervals_cover_the_true_value_in_95_percent_of_studies(validity, name):
    scenario = replace(_scenario(validity, name), **validity.ALTERNATIVE)
    headline, _ = _rates(validity, scenario, null=False)
    covered = [c for _, c in headline if c is not None]
    rate = sum(covered) / len(covered)
    assert abs(rate - 0.95) <= _bound(0.95, len(covered)), rate

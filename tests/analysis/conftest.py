"""Shared fixtures for the analysis tests: the reference data folder and small simulated studies."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REFDATA = Path(__file__).resolve().parents[2].parent / "shared" / "refdata"


def simulate_responses(*, n_readers: int = 6, n_cases: int = 24, resolutions=(32, 64, 128),
                       designs=("single",), seed: int = 0, skill=(0.5, 0.7, 0.9),
                       practice: int = 2, catch: int = 2, repeats: int = 3) -> pd.DataFrame:
    """A small tidy responses table where readers improve with resolution.

    ``skill[i]`` is the probability of a correct answer at ``resolutions[i]``.
    Every reader reads every case of every resolution once per design, plus
    ``practice`` practice and ``catch`` catch trials (always answered correctly),
    and (single design) ``repeats`` repeat trials of the reader's first cases.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for design in designs:
        for r in range(n_readers):
            reader = f"reader{r}"
            trial = 0
            for level, resolution in enumerate(resolutions):
                p = skill[level]
                for c in range(n_cases):
                    truth = "synthetic" if c % 2 else "real"
                    other = "real" if truth == "synthetic" else "synthetic"
                    correct = rng.random() < p
                    trial += 1
                    row = {"study": "demo", "reader": reader, "trial": trial,
                           "case": f"{design}-{resolution}-{c}", "truth": truth,
                           "resolution": resolution, "trial_kind": "main", "response_ms": 800 + 50 * c,
                           "design": design}
                    if design == "single":
                        row.update(answer=truth if correct else other,
                                   confidence=int(rng.integers(1, 6)),
                                   exposure_ms=float(500 + 10 * (c % 5)), exposure_ok=True)
                    elif design == "choice":
                        row.update(alternatives=4, chosen_position=int(rng.integers(0, 4)),
                                   correct=int(correct), answer="empty")
                    else:
                        realism = rng.integers(3, 6) if (truth == "real") == correct else rng.integers(1, 4)
                        row.update(rating=int(realism), answer="empty")
                    rows.append(row)
            if design == "single":
                for row in [r for r in rows if r["reader"] == reader and r["design"] == "single"][:repeats]:
                    trial += 1
                    rows.append({**row, "trial": trial, "trial_kind": "repeat"})
            for kind, count in (("practice", practice), ("catch", catch)):
                for c in range(count):
                    trial += 1
                    rows.append({"study": "demo", "reader": reader, "trial": trial,
                                 "case": f"{kind}-{c}", "truth": "real", "answer": "real",
                                 "resolution": resolutions[-1], "trial_kind": kind, "design": design,
                                 "correct": 1 if design == "choice" else np.nan,
                                 "alternatives": 4 if design == "choice" else np.nan,
                                 "rating": 5 if design == "rating" else np.nan})
    return pd.DataFrame(rows)


@pytest.fixture
def refdata() -> Path:
    """The published reference data; under CI=true its absence fails the test instead of skipping it."""
    if not REFDATA.is_dir():
        message = f"reference data not found at {REFDATA} (clone the project beside ../shared)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return REFDATA


@pytest.fixture
def published(refdata) -> dict:
    return json.loads((refdata / "published_simple_cases.json").read_text())["published"]


@pytest.fixture
def simulate():
    """The `simulate_responses` factory, for tests that need their own study."""
    return simulate_responses


@pytest.fixture
def responses() -> pd.DataFrame:
    return simulate_responses(designs=("single", "choice", "rating"))

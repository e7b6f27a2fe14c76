"""Method of constant stimuli: the psychometric curve recovers the exposure a simulated reader needs."""

import numpy as np
import pandas as pd
import pytest

from analysis.designs import exposure_curve
from analysis.report import build_report
from analysis.tidy import AnalysisInputError, validate


def _study(threshold_ms: float, seed: int = 0, readers: int = 8, per_level: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for r in range(readers):
        shift = rng.normal(0, 0.2)
        for i in range(4 * per_level):
            exposure = (100, 200, 400, 800)[i % 4]
            p = 0.5 + 0.5 / (1 + np.exp(-2 * (np.log2(exposure) - np.log2(threshold_ms) - shift)))
            truth = "synthetic" if i % 2 else "real"
            other = "real" if truth == "synthetic" else "synthetic"
            rows.append({"reader": f"r{r}", "case": f"c{i}", "truth": truth, "resolution": 128,
                         "answer": truth if rng.random() < p else other, "exposure_ms": exposure,
                         "exposure_ok": i % 97 != 0})
    return pd.DataFrame(rows)


def test_the_fitted_threshold_is_near_the_true_one_and_inside_its_interval():
    table = exposure_curve(validate(_study(300.0)))
    assert table["exposure_ms"].tolist() == [100, 200, 400, 800]
    row = table.iloc[0]
    assert row["threshold_ms"] == pytest.approx(300, rel=0.2)
    assert row["ci_low"] < 300 < row["ci_high"]
    assert table["accuracy"].is_monotonic_increasing
    assert (table["fitted"].diff().dropna() > 0).all()


def test_the_report_shows_the_curve_for_a_few_levels_and_needs_two():
    report = build_report(_study(250.0), n_boot=50)
    single = report["designs"]["single"]
    assert single["exposure_curve"] and "hype_time" not in single
    with pytest.raises(AnalysisInputError, match="two or more exposures"):
        exposure_curve(validate(_study(250.0).assign(exposure_ms=200)))

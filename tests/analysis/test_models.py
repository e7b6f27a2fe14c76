"""GEE, mixed model, two-way bootstrap and trend test."""

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.contingency_tables import Table

from analysis.models import (
    bootstrap_accuracy, cochran_armitage, gee_accuracy, gee_logistic, mixed_logistic, trend_test,
)
from analysis.tidy import AnalysisInputError, validate


@pytest.mark.parametrize("structure", ["exchangeable", "independence"])
def test_gee_matches_r_gee(refdata, published, structure):
    # R gee(Y ~ X1 + X2 + X3, id = Id, family = binomial), values in statsmodels' test_gee.py
    data = pd.read_csv(refdata / "gee_logistic_1_statsmodels.csv", header=None,
                       names=["id", "y", "x1", "x2", "x3"])
    table = gee_logistic(data, "y ~ x1 + x2 + x3", groups="id", cov_struct=structure)
    expected = published["gee_logistic_R_gee"][structure]
    assert table["coef"].to_numpy() == pytest.approx(expected["params"], abs=1e-6)
    assert table["se"].to_numpy() == pytest.approx(expected["robust_se"], abs=1e-6)
    assert ((table["ci_low"] < table["coef"]) & (table["coef"] < table["ci_high"])).all()


def test_gee_rejects_an_unknown_working_correlation(refdata):
    data = pd.read_csv(refdata / "gee_logistic_1_statsmodels.csv", header=None,
                       names=["id", "y", "x1", "x2", "x3"])
    with pytest.raises(AnalysisInputError, match="exchangeable"):
        gee_logistic(data, "y ~ x1", groups="id", cov_struct="ar1")


def simulated(n_readers=20, n_cases=30, logits=(0.0, 1.0, 2.0), reader_sd=0.0, seed=1):
    """Readers x cases x resolutions with known logits (cases nested in resolution)."""
    rng = np.random.default_rng(seed)
    rows = []
    for r in range(n_readers):
        u = rng.normal(0, reader_sd)
        for level, logit in enumerate(logits):
            for c in range(n_cases):
                p = 1 / (1 + np.exp(-(logit + u)))
                truth = "real" if c % 2 else "synthetic"
                rows.append({"reader": f"r{r}", "case": f"{level}-{c}", "truth": truth,
                             "resolution": 32 * 2 ** level, "correct": int(rng.random() < p),
                             "answer": "empty"})
    return validate(pd.DataFrame(rows))


def test_gee_accuracy_recovers_known_accuracies():
    df = simulated(n_readers=30)
    table = gee_accuracy(df)
    truth = 1 / (1 + np.exp(-np.array([0.0, 1.0, 2.0])))
    assert table["resolution"].tolist() == [32, 64, 128]
    assert ((table["ci_low"] < truth) & (truth < table["ci_high"])).all()
    observed = df.groupby("resolution")["correct"].mean().to_numpy()
    assert table["accuracy"].to_numpy() == pytest.approx(observed, abs=1e-6)  # saturated marginal model


def test_mixed_model_finds_reader_variation_and_known_logits():
    table = mixed_logistic(simulated(n_readers=30, reader_sd=1.0, seed=3))
    assert table["logit"].is_monotonic_increasing
    assert table["logit"].to_numpy() == pytest.approx([0.0, 1.0, 2.0], abs=0.45)
    assert 0.5 < table["reader_sd"].iloc[0] < 1.6
    assert ((table["ci_low"] < table["accuracy"]) & (table["accuracy"] < table["ci_high"])).all()


def test_bootstrap_is_reproducible_and_brackets_the_estimate():
    df = simulated()
    a = bootstrap_accuracy(df, n_boot=300, seed=7)
    b = bootstrap_accuracy(df, n_boot=300, seed=7)
    pd.testing.assert_frame_equal(a, b)
    assert ((a["ci_low"] < a["accuracy"]) & (a["accuracy"] < a["ci_high"])).all()
    assert a["accuracy"].to_numpy() == pytest.approx(df.groupby("resolution")["correct"].mean().to_numpy())


def test_with_one_reader_the_bootstrap_se_is_the_binomial_se():
    # one reader, each case read once: resampling cases gives SE ~ sqrt(p(1-p)/n) (Efron & Tibshirani 1993)
    df = simulated(n_readers=1, n_cases=400, logits=(0.5,))
    row = bootstrap_accuracy(df, n_boot=4000, seed=0).iloc[0]
    p = row["accuracy"]
    assert row["boot_se"] == pytest.approx(np.sqrt(p * (1 - p) / 400), rel=0.08)


def test_reader_variation_widens_the_two_way_interval():
    homogeneous = bootstrap_accuracy(simulated(reader_sd=0.0, seed=5), n_boot=1000)
    varied = bootstrap_accuracy(simulated(reader_sd=1.5, seed=5), n_boot=1000)
    assert (varied["boot_se"] > 1.3 * homogeneous["boot_se"]).all()


def test_bootstrap_sparse_and_chunked_paths_agree_with_the_dense_path(monkeypatch):
    df = simulated(n_readers=8, n_cases=10)
    dense = bootstrap_accuracy(df, n_boot=200, seed=2)
    chunked = bootstrap_accuracy(df, n_boot=200, seed=2, chunk_elements=50)
    pd.testing.assert_frame_equal(dense, chunked)
    monkeypatch.setattr("analysis.models.DENSE_ABOVE", 2.0)
    pd.testing.assert_frame_equal(dense, bootstrap_accuracy(df, n_boot=200, seed=2), check_exact=False, rtol=1e-12)


def test_cochran_armitage_matches_agresti():
    # Agresti (2013) Categorical Data Analysis 3rd ed., Table 3.8 (alcohol vs malformation),
    # scores 0, 0.5, 1.5, 4, 7: M^2 = 6.57, P = 0.010.  z^2 = N/(N-1) M^2.
    present = np.array([48, 38, 5, 1, 1])
    totals = present + np.array([17066, 14464, 788, 126, 37])
    scores = [0, 0.5, 1.5, 4.0, 7.0]
    result = cochran_armitage(present, totals, scores)
    assert round(result["z"] ** 2, 2) == 6.57
    assert round(result["p_value"], 3) == 0.010
    table = Table(np.column_stack([totals - present, present]))
    m2 = table.test_ordinal_association(row_scores=np.array(scores), col_scores=np.array([0, 1])).zscore ** 2
    n = totals.sum()
    assert result["z"] ** 2 == pytest.approx(m2 * n / (n - 1), rel=1e-9)


def test_trend_test_sees_rising_accuracy_and_not_a_flat_one():
    rising = trend_test(simulated(logits=(0.0, 1.0, 2.0)))
    flat = trend_test(simulated(logits=(0.3, 0.3, 0.3), seed=4))
    assert rising["p_value"].max() < 1e-6
    assert rising.loc[1, "estimate"] == pytest.approx(1.0, abs=0.3)  # one logit per doubling
    assert flat["p_value"].min() > 0.01


def test_trend_test_needs_two_resolutions():
    with pytest.raises(AnalysisInputError, match="two or more resolutions"):
        trend_test(simulated(logits=(1.0,)))


def test_gee_needs_two_readers_and_the_trend_copes_with_one():
    one = simulated(n_readers=1, n_cases=40)
    with pytest.raises(AnalysisInputError, match="at least two"):
        gee_accuracy(one)
    slope = trend_test(one).iloc[1]
    assert slope["se"] > 0.05 and slope["ci_low"] < slope["estimate"] < slope["ci_high"]


def test_the_trend_slope_keeps_its_false_positive_rate_with_few_readers():
    # Validity by simulation: no true trend, 4 readers. Reader-clustered sandwich errors alone reject far
    # more often than 5% with so few clusters (Cameron & Miller 2015, J Hum Resour 50:317); the slope's
    # test must stay near its nominal level.
    p_values = [trend_test(simulated(n_readers=4, n_cases=40, logits=(0.4, 0.4, 0.4), reader_sd=0.5, seed=s))
                .iloc[1]["p_value"] for s in range(80)]
    assert np.mean(np.array(p_values) < 0.05) <= 0.10

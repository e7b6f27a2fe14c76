"""Empirical ROC, AUC and DeLong intervals/tests, checked against pROC on its aSAH data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from analysis.roc import auc, delong, delong_paired, roc_curve


@pytest.fixture
def asah(refdata) -> pd.DataFrame:
    # refdata/asah_proc.csv: pROC's aSAH data (41 Poor = cases, 72 Good = controls).
    data = pd.read_csv(refdata / "asah_proc.csv")
    return data.assign(truth=(data["outcome"] == "Poor").astype(int))


def test_s100b_auc_and_ci_match_proc_printout(asah, published):
    # published_simple_cases.json delong_auc_pROC.s100b: pROC prints
    # "Area under the curve: 0.7314", "95% CI: 0.6301-0.8326 (DeLong)".
    ref = published["delong_auc_pROC"]["s100b"]
    res = delong(asah["truth"], asah["s100b"])
    assert res["auc"] == pytest.approx(ref["auc"], abs=5e-5)
    assert res["ci_low"] == pytest.approx(ref["ci95_delong"][0], abs=5e-5)
    assert res["ci_high"] == pytest.approx(ref["ci95_delong"][1], abs=5e-5)


def test_ndka_and_wfns_match_proc_full_precision(asah, published):
    # published_simple_cases.json delong_auc_pROC.ndka / .wfns (pROC tests/testthat/test-ci.auc.R, test-auc.R).
    ref = published["delong_auc_pROC"]
    ndka = delong(asah["truth"], asah["ndka"])
    assert ndka["auc"] == pytest.approx(ref["ndka"]["auc"], abs=1e-12)
    assert [ndka["ci_low"], ndka["ci_high"]] == pytest.approx(ref["ndka"]["ci95_delong"], abs=1e-12)
    assert auc(asah["truth"], asah["wfns"]) == pytest.approx(ref["wfns"]["auc"], abs=1e-12)


@pytest.mark.parametrize(
    "pair", ["wfns_vs_s100b", "wfns_vs_ndka", "ndka_vs_s100b"]
)
def test_paired_delong_matches_proc_roc_test(asah, published, pair):
    # published_simple_cases.json delong_auc_pROC["roc.test_delong_paired"] (pROC test-roc.test.R).
    ref = published["delong_auc_pROC"]["roc.test_delong_paired"][pair]
    first, second = pair.split("_vs_")
    res = delong_paired(asah["truth"], asah[first], asah[second])
    assert res["z"] == pytest.approx(ref["Z"], abs=1e-10)
    assert res["p_value"] == pytest.approx(ref["p"], abs=1e-12)
    assert [res["ci_low"], res["ci_high"]] == pytest.approx(ref["ci95_diff"], abs=1e-12)
    assert res["difference"] == pytest.approx(res["auc_a"] - res["auc_b"])


def test_paired_difference_changes_sign_when_the_scores_are_swapped(asah):
    forward = delong_paired(asah["truth"], asah["wfns"], asah["ndka"])
    backward = delong_paired(asah["truth"], asah["ndka"], asah["wfns"])
    assert backward["z"] == pytest.approx(-forward["z"])
    assert backward["p_value"] == pytest.approx(forward["p_value"])


def test_roc_curve_lists_the_points_of_a_small_example():
    curve = roc_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    assert curve["fpr"].tolist() == [0.0, 0.0, 0.5, 0.5, 1.0]
    assert curve["tpr"].tolist() == [0.0, 0.5, 0.5, 1.0, 1.0]
    assert np.isinf(curve["threshold"].iloc[0])


labelled_scores = st.integers(min_value=2, max_value=40).flatmap(
    lambda n: st.tuples(
        st.lists(st.booleans(), min_size=n, max_size=n).filter(lambda t: 0 < sum(t) < len(t)),
        st.lists(st.integers(min_value=0, max_value=5), min_size=n, max_size=n),
    )
)


@settings(max_examples=60, deadline=None)
@given(labelled_scores)
def test_auc_is_the_trapezoidal_area_and_the_mann_whitney_statistic(data):
    truth, score = np.array(data[0]), np.array(data[1], dtype=float)
    curve = roc_curve(truth, score)
    area = np.trapezoid(curve["tpr"], curve["fpr"])
    u = stats.mannwhitneyu(score[truth], score[~truth]).statistic
    assert auc(truth, score) == pytest.approx(area)
    assert auc(truth, score) == pytest.approx(u / (truth.sum() * (~truth).sum()))


def test_delong_variance_equals_the_textbook_double_sum():
    # DeLong et al. (1988) eqs: V10_i = mean_j psi(x_i, y_j), S10 = var(V10) / n1 (+ S01 / n0).
    rng = np.random.default_rng(3)
    truth = np.r_[np.ones(15, bool), np.zeros(20, bool)]
    score = rng.integers(0, 6, size=35).astype(float) + truth
    x, y = score[truth], score[~truth]
    psi = (x[:, None] > y[None, :]) + 0.5 * (x[:, None] == y[None, :])
    variance = psi.mean(1).var(ddof=1) / x.size + psi.mean(0).var(ddof=1) / y.size
    assert delong(truth, score)["se"] == pytest.approx(np.sqrt(variance), rel=1e-12)


@pytest.mark.parametrize(
    "truth, score, message",
    [
        ([1, 1, 1], [0.1, 0.2, 0.3], "only one class"),
        ([0, 1, 2], [0.1, 0.2, 0.3], "only 0"),
        ([0, 1, 0, 1], [0.1, np.nan, 0.3, 0.4], "NaN"),
        ([0, 1, 0, 1], [0.1, 0.3, 0.4], "one score per case"),
    ],
)
def test_bad_input_is_refused_with_a_message(truth, score, message):
    with pytest.raises(ValueError, match=message):
        delong(truth, score)


@pytest.mark.parametrize("truth", [np.array([True] * 3), np.array([False] * 3)])
def test_boolean_truth_with_one_class_is_refused(truth):
    with pytest.raises(ValueError, match="only one class"):
        auc(truth, [1, 2, 3])
    with pytest.raises(ValueError, match="only one class"):
        roc_curve(truth, [1, 2, 3])


def test_boolean_truth_is_read_as_0_and_1():
    truth, score = [0, 0, 1, 1, 0, 1], [0.1, 0.4, 0.35, 0.8, 0.5, 0.2]
    as_bool = np.array(truth, dtype=bool)
    assert auc(as_bool, score) == auc(truth, score)
    assert delong(as_bool, score) == delong(truth, score)


def test_delong_needs_two_cases_of_each_class():
    with pytest.raises(ValueError, match="at least 2 signal and 2 noise"):
        delong([0, 0, 1], [0.1, 0.2, 0.3])

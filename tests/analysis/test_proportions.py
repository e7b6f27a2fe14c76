"""Binomial intervals, exact tests, Holm, proportion tables and class rates.

Reference values: shared/refdata/published_simple_cases.json (sources quoted there).
"""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st
from scipy.stats import binomtest
from statsmodels.stats.multitest import multipletests

from analysis.proportions import (
    binomial_interval, binomial_p_values, class_rates, fool_rates, holm, proportion_table,
)
from analysis.tidy import validate

DETERMINISTIC = settings(derandomize=True, max_examples=25, deadline=None)


def test_wilson_and_clopper_pearson_match_r_binom(published):
    # R binom::binom.confint output pasted in statsmodels' results_proportion.py
    cases = published["binomial_intervals_R_binom"]["cases"]
    for label, expected in cases.items():
        k, n = map(int, label.split("/"))
        for ours, theirs in (("wilson", "wilson"), ("clopper-pearson", "exact")):
            low, high = binomial_interval(k, n, method=ours)
            assert low == pytest.approx(expected[theirs][0], abs=1e-7), (label, ours)
            assert high == pytest.approx(expected[theirs][1], abs=1e-7), (label, ours)


def test_exact_test_matches_the_r_binom_test_help_example(published):
    # R stats::binom.test help page (Conover 1971): binom.test(c(682, 243), p = 3/4)
    case = published["exact_binomial_test_R_doc_example"]
    assert binomial_p_values(case["k"], case["n"], case["p0"])[()] == pytest.approx(case["p_value"], abs=5e-5)
    low, high = binomial_interval(case["k"], case["n"], method="clopper-pearson")
    assert [round(low, 3), round(high, 3)] == case["ci95_3sf"]


def test_holm_matches_r_multtest(published):
    # R multtest mt.rawp2adjp, as used in statsmodels' test_multi.py
    for case in ("case1", "case2"):
        expected = published["holm_R_multtest"][case]
        assert holm(expected["raw_p"]) == pytest.approx(expected["holm"], abs=1e-12)


@settings(derandomize=True, max_examples=10, deadline=None)
@given(p=st.lists(st.floats(0, 1), min_size=1, max_size=30))
def test_holm_equals_statsmodels_multipletests(p):
    assert holm(p) == pytest.approx(multipletests(p, method="holm")[1], abs=1e-12)


def test_holm_keeps_missing_p_values_missing():
    adjusted = holm([0.01, np.nan, 0.04])
    assert np.isnan(adjusted[1])
    assert adjusted[[0, 2]] == pytest.approx([0.02, 0.04])


@DETERMINISTIC
@given(n=st.integers(1, 400), chance=st.sampled_from([0.5, 0.25, 0.1]), data=st.data())
def test_vectorised_p_values_equal_scipy_binomtest(n, chance, data):
    k = data.draw(st.integers(0, n))
    assert binomial_p_values(k, n, chance)[()] == pytest.approx(binomtest(k, n, chance).pvalue, rel=1e-9)


def test_empty_groups_give_nan_not_an_error():
    low, high = binomial_interval([0], [0])
    assert np.isnan(low[0]) and np.isnan(high[0])


def single(rows):
    """rows: (reader, resolution, truth, answer)"""
    return validate(pd.DataFrame(rows, columns=["reader", "resolution", "truth", "answer"]).assign(
        case=lambda d: [f"c{i}" for i in range(len(d))]))


def test_proportion_table_columns_and_values():
    df = single([("a", 32, "real", "real"), ("a", 32, "synthetic", "real"),
                 ("a", 64, "real", "real"), ("a", 64, "synthetic", "synthetic")])
    table = proportion_table(df)
    assert list(table.columns) == ["resolution", "n", "correct", "accuracy", "ci_low", "ci_high",
                                   "chance", "p_value", "p_value_holm"]
    assert table["accuracy"].tolist() == [0.5, 1.0]
    assert table["p_value"].tolist() == pytest.approx([1.0, 0.5])
    assert table["p_value_holm"].tolist() == pytest.approx([1.0, 1.0])


def test_chance_none_uses_the_number_of_alternatives():
    df = validate(pd.DataFrame({"reader": "a", "case": ["x", "y", "z", "w"], "truth": "real",
                                "resolution": 32, "design": "choice", "alternatives": 4,
                                "correct": [1, 0, 0, 1]}))
    table = proportion_table(df, by=(), chance=None)
    assert table["chance"].iloc[0] == 0.25
    assert table["p_value"].iloc[0] == pytest.approx(binomtest(2, 4, 0.25).pvalue)


responses_strategy = st.lists(
    st.tuples(st.sampled_from(["r1", "r2", "r3"]), st.sampled_from([16, 32, 64]),
              st.sampled_from(["real", "synthetic"]), st.sampled_from(["real", "synthetic", "empty"])),
    min_size=1, max_size=60)


@DETERMINISTIC
@given(rows=responses_strategy)
def test_group_counts_add_up_to_the_pooled_counts(rows):
    df = single(rows)
    pooled = proportion_table(df, by=())
    for by in (("resolution",), ("reader",), ("reader", "resolution")):
        table = proportion_table(df, by=by)
        assert table["n"].sum() == pooled["n"].iloc[0] == len(rows)
        assert table["correct"].sum() == pooled["correct"].iloc[0]
        assert ((table["ci_low"] <= table["accuracy"]) & (table["accuracy"] <= table["ci_high"])).all()


SWAP = {"real": "synthetic", "synthetic": "real", "empty": "empty"}


@DETERMINISTIC
@given(rows=responses_strategy)
def test_swapping_labels_swaps_the_class_rates(rows):
    df = single(rows)
    swapped = single([(r, res, SWAP[t], SWAP[a]) for r, res, t, a in rows])
    a = class_rates(df, by=("resolution",))
    b = class_rates(swapped, by=("resolution",))
    pairs = [("n_real", "n_synthetic"), ("sensitivity", "specificity"),
             ("real_error_rate", "synthetic_error_rate"),
             ("sensitivity_ci_low", "specificity_ci_low")]
    for left, right in pairs:
        pd.testing.assert_series_equal(a[left], b[right], check_names=False)
        pd.testing.assert_series_equal(a[right], b[left], check_names=False)


@settings(derandomize=True, max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_a_guessing_reader_is_near_chance_and_its_interval_covers_it(seed):
    rng = np.random.default_rng(seed)
    n = 20_000
    df = validate(pd.DataFrame({"reader": "guesser", "case": np.arange(n), "resolution": 64,
                                "truth": rng.choice(["real", "synthetic"], n),
                                "answer": rng.choice(["real", "synthetic"], n)}))
    row = proportion_table(df, by=()).iloc[0]
    assert abs(row["accuracy"] - 0.5) < 0.015  # 4 standard errors
    # coverage: of many guessing readers, about 95% of Wilson intervals hold 0.5
    k = rng.binomial(200, 0.5, size=4000)
    low, high = binomial_interval(k, np.full(4000, 200))
    assert 0.93 < np.mean((low <= 0.5) & (0.5 <= high)) <= 0.98


def test_class_rates_on_a_known_table():
    rows = ([("a", 32, "synthetic", "synthetic")] * 3 + [("a", 32, "synthetic", "real")]
            + [("a", 32, "real", "real")] * 2 + [("a", 32, "real", "synthetic")] * 2
            + [("a", 32, "real", "empty")])
    rates = class_rates(single(rows), by=()).iloc[0]
    assert (rates["n_real"], rates["n_synthetic"]) == (4, 4)  # the empty answer is left out
    assert rates["sensitivity"] == 0.75 and rates["synthetic_error_rate"] == 0.25
    assert rates["specificity"] == 0.5 and rates["real_error_rate"] == 0.5


def test_fool_rates_sorts_the_most_convincing_synthetic_images_first():
    df = validate(pd.DataFrame({
        "reader": ["a", "b", "a", "b", "a"], "case": ["s1", "s1", "s2", "s2", "r1"],
        "truth": ["synthetic"] * 4 + ["real"], "answer": ["synthetic", "real", "real", "real", "real"],
        "resolution": 32}))
    table = fool_rates(df)
    assert table["case"].tolist() == ["s2", "s1"]
    assert table["fool_rate"].tolist() == [1.0, 0.5]

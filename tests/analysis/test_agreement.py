"""Fleiss' and Cohen's kappa against R irr, SAS PROC FREQ and the Fleiss (1971) example."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.agreement import cohen_kappa, fleiss_kappa, fleiss_kappa_from_counts

# Fleiss (1971) psychiatric diagnoses, 30 subjects x 6 raters, categories 1-5, as R irr's
# `diagnoses` (rows sorted), copied from statsmodels/stats/tests/test_inter_rater.py
# (commit 039c320d; the source named in published_simple_cases.json fleiss_kappa).
DIAGNOSES = [
    [4, 4, 4, 4, 4, 4], [2, 2, 2, 5, 5, 5], [2, 3, 3, 3, 3, 5], [5, 5, 5, 5, 5, 5],
    [2, 2, 2, 4, 4, 4], [1, 1, 3, 3, 3, 3], [3, 3, 3, 3, 5, 5], [1, 1, 3, 3, 3, 4],
    [1, 1, 4, 4, 4, 4], [5, 5, 5, 5, 5, 5], [1, 4, 4, 4, 4, 4], [1, 2, 4, 4, 4, 4],
    [2, 2, 2, 3, 3, 3], [1, 4, 4, 4, 4, 4], [2, 2, 4, 4, 4, 5], [3, 3, 3, 3, 3, 5],
    [1, 1, 1, 4, 5, 5], [1, 1, 1, 1, 1, 2], [2, 2, 4, 4, 4, 4], [1, 3, 3, 5, 5, 5],
    [5, 5, 5, 5, 5, 5], [2, 4, 4, 4, 4, 4], [2, 2, 4, 5, 5, 5], [1, 1, 4, 4, 4, 4],
    [1, 4, 4, 4, 4, 5], [2, 2, 2, 2, 2, 4], [1, 1, 1, 1, 5, 5], [2, 2, 4, 4, 4, 4],
    [1, 3, 3, 3, 3, 3], [5, 5, 5, 5, 5, 5],
]

# R irr `anxiety`, raters 2 and 3 (20 subjects), from the same statsmodels test file
# (published_simple_cases.json cohens_kappa.irr_anxiety_raters_2_3).
ANXIETY_RATER2 = [3, 6, 4, 6, 2, 4, 2, 4, 3, 3, 2, 3, 3, 3, 2, 2, 1, 3, 3, 4]
ANXIETY_RATER3 = [2, 1, 4, 4, 3, 2, 1, 6, 1, 1, 1, 2, 3, 3, 1, 1, 3, 3, 2, 2]


def _long(ratings) -> pd.DataFrame:
    return pd.DataFrame(
        [{"reader": f"r{j}", "case": i, "answer": v} for i, row in enumerate(ratings) for j, v in enumerate(row)]
    )


def _from_counts(counts) -> pd.DataFrame:
    """Long table with one row per rating from an items x categories count table."""
    rows = []
    for item, row in enumerate(counts):
        labels = [category for category, n in enumerate(row) for _ in range(n)]
        rows += [{"reader": f"r{j}", "case": item, "answer": label} for j, label in enumerate(labels)]
    return pd.DataFrame(rows)


def _pairs_from_table(table):
    a, b = [], []
    for i, row in enumerate(table):
        for j, n in enumerate(row):
            a += [i] * n
            b += [j] * n
    return a, b


def test_fleiss_kappa_of_the_diagnoses_matches_r_irr(published):
    # published_simple_cases.json fleiss_kappa.diagnoses: irr::kappam.fleiss -> Kappa 0.4302445,
    # z 17.65183, p-value 0.
    ref = published["fleiss_kappa"]["diagnoses"]
    res = fleiss_kappa(_long(DIAGNOSES))
    assert res["kappa"] == pytest.approx(ref["kappa"], abs=5e-8)
    assert res["z"] == pytest.approx(ref["z"], abs=5e-6)
    assert res["p_value"] == pytest.approx(ref["p_value"], abs=1e-12)
    assert (res["n_items"], res["n_raters"], res["n_items_dropped"]) == (30, 6, 0)


def test_fleiss_kappa_of_the_wikipedia_table(published):
    # published_simple_cases.json fleiss_kappa.wikipedia_table: 10 subjects x 14 raters, kappa 0.210.
    ref = published["fleiss_kappa"]["wikipedia_table"]
    res = fleiss_kappa(_from_counts(ref["counts"]))
    assert round(res["kappa"], 3) == ref["kappa"]
    assert fleiss_kappa_from_counts(ref["counts"])["kappa"] == pytest.approx(res["kappa"])


def test_items_with_missing_ratings_are_dropped_and_counted():
    data = _long(DIAGNOSES)
    incomplete = data.drop(index=data[(data.case == 3) & (data.reader == "r0")].index)
    res = fleiss_kappa(incomplete)
    expected = fleiss_kappa(data[data.case != 3])
    assert res["n_items_dropped"] == 1 and res["n_items"] == 29
    assert res["kappa"] == pytest.approx(expected["kappa"])


def test_fleiss_kappa_is_one_for_perfect_agreement_and_near_zero_for_chance():
    agree = _long([["real"] * 4, ["synthetic"] * 4, ["real"] * 4])
    assert fleiss_kappa(agree)["kappa"] == pytest.approx(1.0)
    rng = np.random.default_rng(5)
    chance = _long(rng.choice(["real", "synthetic"], size=(400, 5)))
    assert abs(fleiss_kappa(chance)["kappa"]) < 0.05


def test_cohen_kappa_matches_sas_proc_freq(published):
    # published_simple_cases.json cohens_kappa.sas_table10: Kappa 0.4842, ASE 0.1380,
    # 95% CI (0.2137, 0.7547), Z 3.2626, two-sided p 0.0011.
    ref = published["cohens_kappa"]["sas_table10"]
    a, b = _pairs_from_table([[0, 4, 1], [0, 8, 0], [0, 1, 5]])
    res = cohen_kappa(a, b)
    assert round(res["kappa"], 4) == ref["kappa"]
    assert round(res["se"], 4) == ref["ASE"]
    assert [round(res["ci_low"], 4), round(res["ci_high"], 4)] == ref["ci95"]
    assert round(res["z"], 4) == ref["Z"]
    assert round(res["p_value"], 4) == ref["p_two_sided"]


def test_cohen_kappa_matches_r_irr_kappa2(published):
    # published_simple_cases.json cohens_kappa.irr_anxiety_raters_2_3: irr::kappa2(anxiety[, 2:3])
    # Kappa -0.006289308, z -0.0604067, p-value 0.9518317.
    ref = published["cohens_kappa"]["irr_anxiety_raters_2_3"]
    res = cohen_kappa(ANXIETY_RATER2, ANXIETY_RATER3)
    assert res["kappa"] == pytest.approx(ref["kappa"], abs=5e-10)
    assert res["z"] == pytest.approx(ref["z"], abs=5e-8)
    assert res["p_value"] == pytest.approx(ref["p_value"], abs=5e-8)


def test_cohen_kappa_is_symmetric_in_the_two_readers():
    a, b = ANXIETY_RATER2, ANXIETY_RATER3
    assert cohen_kappa(a, b)["kappa"] == pytest.approx(cohen_kappa(b, a)["kappa"])


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d.drop(columns="answer"), "lacks column"),
        (lambda d: d.iloc[0:0], "empty"),
        (lambda d: d[d.reader == "r0"], "at least 2 readers"),
        (lambda d: pd.concat([d, d.iloc[:1]]), "repeated rating"),
        (lambda d: d.assign(answer="real"), "one category"),
    ],
)
def test_bad_tables_are_refused_with_a_message(change, message):
    with pytest.raises(ValueError, match=message):
        fleiss_kappa(change(_long(DIAGNOSES)))


def test_cohen_kappa_refuses_unequal_lengths():
    with pytest.raises(ValueError, match="same items"):
        cohen_kappa([1, 2, 3], [1, 2])

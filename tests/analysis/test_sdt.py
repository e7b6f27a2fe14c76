"""d' and criterion for yes/no responses, and d' for m-alternative forced choice."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from analysis.sdt import dprime_mafc, dprime_table, proportion_correct_mafc, rates_to_dprime


def _responses(hits: int, n_signal: int, false_alarms: int, n_noise: int, **extra) -> pd.DataFrame:
    truth = ["synthetic"] * n_signal + ["real"] * n_noise
    answer = (["synthetic"] * hits + ["real"] * (n_signal - hits)
              + ["synthetic"] * false_alarms + ["real"] * (n_noise - false_alarms))
    return pd.DataFrame({"truth": truth, "answer": answer, **extra})


def test_schneider_example_dprime_and_beta(published):
    # published_simple_cases.json signal_detection.schneider_notes: H = .7, F = .1 -> d' 1.806, beta 1.981.
    ref = published["signal_detection"]["schneider_notes"]
    d, c = rates_to_dprime(ref["hit_rate"], ref["fa_rate"])
    assert round(d, 3) == ref["d_prime"]
    assert round(math.exp(d * c), 3) == ref["beta"]


def test_statistics_sdt_example_with_the_half_over_n_correction(published):
    # published_simple_cases.json signal_detection.statistics_sdt_perl (Stanislaw & Todorov 1999 data):
    # 50/50 hits, 17/25 false alarms, a rate of 1 becomes 1 - 1/(2N): H .99, F .68, d' 1.86, c -1.4.
    ref = published["signal_detection"]["statistics_sdt_perl"]
    table = dprime_table(
        _responses(ref["hits"], ref["signal_trials"], ref["false_alarms"], ref["noise_trials"]),
        correction="1/2N",
    ).iloc[0]
    assert table["hit_rate"] == pytest.approx(ref["hit_rate"])
    assert table["fa_rate"] == pytest.approx(ref["fa_rate"])
    assert round(table["d_prime"], 2) == ref["d_prime"]
    assert round(table["criterion"], 1) == ref["c"]
    assert round(math.log(math.exp(table["d_prime"] * table["criterion"])), 1) == ref["ln_beta"]


def test_loglinear_correction_adds_half_a_count_and_one_trial():
    # Hautus (1995): H = (hits + 0.5) / (n_signal + 1), F = (fa + 0.5) / (n_noise + 1), always.
    row = dprime_table(_responses(10, 10, 0, 8)).iloc[0]
    assert (row["hits"], row["false_alarms"], row["n_signal"], row["n_noise"]) == (10, 0, 10, 8)
    assert row["hit_rate"] == pytest.approx(10.5 / 11)
    assert row["fa_rate"] == pytest.approx(0.5 / 9)
    assert row["d_prime"] == pytest.approx(stats.norm.ppf(10.5 / 11) - stats.norm.ppf(0.5 / 9))


def test_groups_get_one_row_each():
    data = pd.concat([_responses(8, 10, 2, 10, reader="ann"), _responses(5, 10, 5, 10, reader="bob")])
    table = dprime_table(data, by="reader")
    assert table["reader"].tolist() == ["ann", "bob"]
    assert table["d_prime"].iloc[1] == pytest.approx(0.0)
    assert table["d_prime"].iloc[0] > 1


counts = st.tuples(st.integers(1, 30), st.integers(1, 30)).flatmap(
    lambda n: st.tuples(st.integers(0, n[0]), st.just(n[0]), st.integers(0, n[1]), st.just(n[1]))
)


@settings(max_examples=50, deadline=None)
@given(counts, st.sampled_from(["loglinear", "1/2N"]))
def test_swapping_the_answer_labels_negates_dprime_and_criterion(c, correction):
    data = _responses(*c)
    swapped = data.assign(answer=data["answer"].map({"real": "synthetic", "synthetic": "real"}))
    original = dprime_table(data, correction=correction).iloc[0]
    flipped = dprime_table(swapped, correction=correction).iloc[0]
    assert flipped["d_prime"] == pytest.approx(-original["d_prime"], abs=1e-9)
    assert flipped["criterion"] == pytest.approx(-original["criterion"], abs=1e-9)


@settings(max_examples=50, deadline=None)
@given(counts)
def test_calling_the_other_class_the_signal_keeps_dprime_and_negates_c(c):
    data = _responses(*c)
    as_synthetic = dprime_table(data).iloc[0]
    as_real = dprime_table(data, signal="real").iloc[0]
    assert as_real["d_prime"] == pytest.approx(as_synthetic["d_prime"], abs=1e-9)
    assert as_real["criterion"] == pytest.approx(-as_synthetic["criterion"], abs=1e-9)


@pytest.mark.parametrize("pc", [0.3, 0.5, 0.76, 0.9, 0.99])
def test_two_alternative_dprime_is_root_two_z_and_agrees_with_the_integral(pc):
    # Macmillan & Creelman (2005), eq. 7.2: d'(2AFC) = sqrt(2) z(PC); the general integral
    # PC = int phi(x - d') Phi(x)^(m-1) dx must give the same PC back for m = 2.
    d = dprime_mafc(pc, 2)
    assert d == pytest.approx(math.sqrt(2) * stats.norm.ppf(pc))
    assert proportion_correct_mafc(d, 2) == pytest.approx(pc, abs=1e-10)


@pytest.mark.parametrize("m", [3, 4, 8])
def test_chance_performance_means_zero_dprime(m):
    assert dprime_mafc(1 / m, m) == pytest.approx(0.0, abs=1e-8)


@pytest.mark.parametrize("m", [3, 4])
def test_mafc_dprime_agrees_with_a_simulated_observer(m):
    # Independent check of the m-AFC model: the signal alternative ~ N(d', 1) must beat m - 1 N(0, 1).
    d = dprime_mafc(0.7, m)
    rng = np.random.default_rng(11)
    draws = rng.standard_normal((400_000, m))
    draws[:, 0] += d
    assert (draws.argmax(axis=1) == 0).mean() == pytest.approx(0.7, abs=0.003)


def test_more_alternatives_need_more_dprime_for_the_same_accuracy():
    values = [dprime_mafc(0.8, m) for m in (2, 3, 4, 8, 16)]
    assert values == sorted(values)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: rates_to_dprime(1.0, 0.2), "strictly between 0 and 1"),
        (lambda: dprime_mafc(1.0, 4), "strictly between 0 and 1"),
        (lambda: dprime_mafc(0.7, 1), "integer >= 2"),
        (lambda: dprime_table(_responses(3, 5, 1, 5), correction="none"), "correction must be"),
        (lambda: dprime_table(_responses(3, 5, 1, 5).drop(columns="answer")), "lacks column"),
        (lambda: dprime_table(_responses(3, 5, 1, 5).iloc[0:0]), "empty"),
        (lambda: dprime_table(_responses(3, 5, 0, 0)), "exactly two classes"),
        (lambda: dprime_table(_responses(3, 5, 1, 5).assign(answer="empty")), "filter those rows"),
    ],
)
def test_bad_input_is_refused_with_a_message(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_a_group_without_one_class_is_named():
    data = pd.concat([_responses(3, 5, 1, 5, reader="ann"), _responses(3, 5, 0, 0, reader="bob")])
    with pytest.raises(ValueError, match="no 'real' images.*bob"):
        dprime_table(data, by=["reader"])


@pytest.mark.parametrize("correction", ["loglinear", "1/2N"])
def test_incomplete_nan_keeps_the_other_groups(correction):
    # d' = z(H) - z(F) needs both classes (Macmillan & Creelman 2005, eq. 1.5): a group without
    # real images has no false-alarm rate, so no d' -- but the complete groups keep theirs.
    ann = _responses(3, 5, 1, 5, reader="ann")
    bob = _responses(3, 5, 0, 0, reader="bob")
    table = dprime_table(pd.concat([ann, bob]), by=["reader"], correction=correction, incomplete="nan")
    alone = dprime_table(ann, by=["reader"], correction=correction)
    pd.testing.assert_frame_equal(table.iloc[[0]].reset_index(drop=True), alone)
    row = table.set_index("reader").loc["bob"]
    assert (row["n_signal"], row["n_noise"], row["hits"]) == (5, 0, 3)
    assert row["hit_rate"] == pytest.approx(alone["hit_rate"].iloc[0])  # the class that is there keeps its rate
    assert np.isnan(row["fa_rate"]) and np.isnan(row["d_prime"]) and np.isnan(row["criterion"])


def test_incomplete_must_be_raise_or_nan():
    with pytest.raises(ValueError, match="incomplete must be"):
        dprime_table(_responses(3, 5, 1, 5), incomplete="skip")


# Alexander, J. R. M. (2006), "An approximation to d' for M-alternative forced choice", Table 1 (exact
# values from the Green & Swets integral): the proportion correct that d' = 2 gives for m alternatives.
# The same table is the reference data of the Statistics::SDT 0.07 test suite (m-AFC, "d' should = 2").
ALEXANDER_2006_TABLE_1_D_PRIME_2 = {2: 0.921, 3: 0.866, 4: 0.823, 8: 0.711, 16: 0.595}


@pytest.mark.parametrize("m, pc", sorted(ALEXANDER_2006_TABLE_1_D_PRIME_2.items()))
def test_m_afc_matches_the_published_table_for_d_prime_2(m, pc):
    assert round(proportion_correct_mafc(2.0, m), 3) == pc
    # The table's three decimals bound the inverse: d' within the table's own rounding of 2.
    assert dprime_mafc(pc, m) == pytest.approx(2.0, abs=0.01)

"""Sample size for beating chance, with a design effect for readers."""

import math

import pytest

from analysis.planning import achieved_power, design_table, independent_n
from analysis.tidy import AnalysisInputError
from statsmodels.stats.proportion import proportion_effectsize


def test_cohens_table_value():
    # Cohen (1988), Statistical Power Analysis, Table 6.4.1: h = 0.20, a2 = .05, power .80 -> n = 196
    p1 = 0.5
    while abs(proportion_effectsize(p1, 0.5)) < 0.2:  # find the p1 with h = 0.2 against 0.5
        p1 += 1e-6
    assert math.ceil(independent_n(p1, chance=0.5) - 0.5) == 196


def test_no_reader_correlation_means_no_design_effect():
    n = independent_n(0.6)
    table = design_table(0.6, icc=0.0, trials_per_reader=[10, 50])
    assert table["design_effect"].tolist() == [1.0, 1.0]
    assert table["readers"].tolist() == [math.ceil(n / 10), math.ceil(n / 50)]


def test_reader_correlation_costs_readers_and_power_is_met():
    table = design_table(0.6, icc=0.1, trials_per_reader=[25, 50, 100, 200])
    assert table["design_effect"].tolist() == pytest.approx([3.4, 5.9, 10.9, 20.9])
    assert (table["achieved_power"] >= 0.8).all()
    assert table["readers"].is_monotonic_decreasing
    assert table["readers"].min() >= 0.1 * independent_n(0.6)  # bounded by n * icc


def test_power_grows_with_readers():
    powers = [achieved_power(r, 50, 0.6, icc=0.05) for r in (2, 5, 10, 20)]
    assert powers == sorted(powers) and powers[-1] > 0.9


def test_forced_choice_chance_needs_fewer_responses_than_yes_no():
    assert independent_n(0.45, chance=0.25) < independent_n(0.7, chance=0.5)


def test_impossible_requests_are_refused():
    with pytest.raises(AnalysisInputError, match="equals chance"):
        design_table(0.5)
    with pytest.raises(AnalysisInputError, match="between 0 and 1"):
        independent_n(1.2)
    with pytest.raises(AnalysisInputError, match="intraclass"):
        design_table(0.6, icc=1.5)

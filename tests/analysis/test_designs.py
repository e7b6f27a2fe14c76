"""Forced choice, rating and timed-exposure (HYPE) statistics."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binomtest, mannwhitneyu, t as t_dist, wilcoxon

from analysis.designs import (
    choice_agreement, choice_table, hype_infinity, hype_time, position_bias, rating_auc,
    rating_distribution, rating_summary, rating_test, reader_thresholds, staircase_next,
)
from analysis.sdt import dprime_mafc
from analysis.tidy import AnalysisInputError, main_trials, validate


# --------------------------------------------------------------------------- staircase


@pytest.mark.parametrize("history, expected", [
    ([], 500),                                   # nothing yet: stay
    ([False], 510),                              # +10 ms after an error
    ([True], 500), ([True, True], 500),          # fewer than three in a row: stay
    ([True, True, True], 470),                   # -30 ms after three correct in a row
    ([True, True, True, True], 500),             # the run count starts again after a step down
    ([True, True, True, True, True, True], 470),
    ([True, True, False, True, True], 500),      # an error breaks the run
    ([True, True, False, True, True, True], 470),
])
def test_staircase_steps(history, expected):
    # Zhou et al. 2019 (HYPE-time): +10 ms after an error, -30 ms after 3 consecutive correct
    assert staircase_next(500, history) == expected


def test_staircase_is_clamped():
    assert staircase_next(110, [True] * 3) == 100
    assert staircase_next(995, [False]) == 1000
    assert staircase_next(5000, []) == 1000
    assert staircase_next(300, [True] * 3, lo=290, down=50) == 290


def test_staircase_rejects_bad_settings():
    with pytest.raises(AnalysisInputError, match="lo <= hi"):
        staircase_next(500, [], lo=600, hi=400)
    with pytest.raises(AnalysisInputError, match="run length"):
        staircase_next(500, [], run=0)


def test_a_simulated_staircase_settles_near_the_readers_threshold():
    # a reader correct above 400 ms, guessing below: the 3-down/1-up rule converges to ~79% correct
    rng = np.random.default_rng(0)
    exposure, history, shown = 800, [], []
    for _ in range(400):
        correct = bool(exposure >= 400 or rng.random() < 0.5)
        history.append(correct)
        shown.append(exposure)
        exposure = staircase_next(exposure, history)
    assert 340 <= np.median(shown[200:]) <= 440


# --------------------------------------------------------------------------- HYPE


def timed(thresholds: dict) -> pd.DataFrame:
    rows = []
    for reader, exposures in thresholds.items():
        for i, ms in enumerate(exposures):
            rows.append({"reader": reader, "case": f"{reader}{i}", "truth": "real", "answer": "real",
                         "resolution": 64, "exposure_ms": ms, "exposure_ok": True})
    return validate(pd.DataFrame(rows))


def test_reader_threshold_is_the_modal_exposure():
    df = timed({"a": [500, 470, 470, 480], "b": [300, 310, 300, 310, 320]})
    table = reader_thresholds(df).set_index("reader")
    assert table.loc["a", "threshold_ms"] == 470
    assert table.loc["b", "threshold_ms"] == 300  # tie between 300 and 310: the shorter exposure
    assert table.loc["b", "n_trials"] == 5


def test_failed_displays_do_not_count_towards_the_threshold():
    df = timed({"a": [500, 500, 400, 400, 400]})
    df.loc[df["exposure_ms"] == 400, "exposure_ok"] = False
    assert reader_thresholds(df)["threshold_ms"].tolist() == [500]


def test_hype_time_is_the_mean_threshold_with_a_t_interval():
    df = timed({"a": [300, 300], "b": [400, 400], "c": [620, 620]})
    row = hype_time(df).iloc[0]
    values = np.array([300.0, 400.0, 620.0])
    half = t_dist.ppf(0.975, 2) * values.std(ddof=1) / np.sqrt(3)
    assert row["threshold_ms"] == pytest.approx(values.mean())
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((values.mean() - half, values.mean() + half))


def test_hype_infinity_is_the_error_rate_over_both_classes(responses):
    single = main_trials(validate(responses)).query("design == 'single'")
    table = hype_infinity(single)
    by_hand = 1 - single.groupby("resolution")["correct"].mean()
    assert table["hype_infinity"].to_numpy() == pytest.approx(by_hand.to_numpy())
    real = single[single["truth"] == "real"]
    fake = single[single["truth"] == "synthetic"]
    assert table["real_error_rate"].to_numpy() == pytest.approx(
        1 - real.groupby("resolution")["correct"].mean().to_numpy())
    assert table["fake_error_rate"].to_numpy() == pytest.approx(
        1 - fake.groupby("resolution")["correct"].mean().to_numpy())
    assert ((table["ci_low"] <= table["hype_infinity"]) & (table["hype_infinity"] <= table["ci_high"])).all()


# --------------------------------------------------------------------------- forced choice


def test_choice_accuracy_is_tested_against_one_in_m(responses):
    choice = main_trials(validate(responses)).query("design == 'choice'")
    table = choice_table(choice)
    assert (table["chance"] == 0.25).all() and (table["alternatives"] == 4).all()
    first = table.iloc[0]
    assert first["p_value"] == pytest.approx(binomtest(int(first["correct"]), int(first["n"]), 0.25).pvalue)
    assert first["d_prime"] == pytest.approx(dprime_mafc(first["accuracy"], 4))


def choices(positions, m=4):
    return validate(pd.DataFrame({"reader": "a", "case": [f"q{i}" for i in range(len(positions))],
                                  "truth": "real", "resolution": 64, "design": "choice",
                                  "alternatives": m, "chosen_position": positions, "correct": 0}))


def test_position_bias_flags_a_reader_who_always_picks_the_first_image():
    biased = position_bias(choices([0] * 40 + [1, 2, 3] * 4)).iloc[0]
    even = position_bias(choices([0, 1, 2, 3] * 13)).iloc[0]
    assert biased["counts"] == [40, 4, 4, 4] and biased["p_value"] < 1e-10
    assert even["chi2"] == 0 and even["p_value"] == pytest.approx(1.0)


def test_choice_agreement_is_one_when_readers_agree_on_every_quartet():
    rows = [{"reader": r, "case": f"q{c}", "truth": "real", "resolution": 64, "design": "choice",
             "alternatives": 4, "correct": int(c % 3 == 0)} for r in "abc" for c in range(9)]
    table = choice_agreement(validate(pd.DataFrame(rows)))
    assert table["kappa"].iloc[0] == pytest.approx(1.0)
    assert table["n_readers"].iloc[0] == 3


# --------------------------------------------------------------------------- rating


def ratings(real, fake):
    """real/fake: {reader: [ratings]}"""
    rows = []
    for truth, table in (("real", real), ("synthetic", fake)):
        for reader, values in table.items():
            rows += [{"reader": reader, "case": f"{truth}{i}", "truth": truth, "resolution": 64,
                      "design": "rating", "rating": v} for i, v in enumerate(values)]
    return validate(pd.DataFrame(rows))


def test_rating_test_is_wilcoxon_on_per_reader_means():
    real = {"a": [5, 4], "b": [4, 4], "c": [5, 5], "d": [3, 4], "e": [4, 5], "f": [5, 3]}
    fake = {"a": [2, 2], "b": [3, 4], "c": [1, 2], "d": [3, 3], "e": [2, 1], "f": [4, 4]}
    row = rating_test(ratings(real, fake)).iloc[0]
    mean_real = [np.mean(v) for v in real.values()]
    mean_fake = [np.mean(v) for v in fake.values()]
    expected = wilcoxon(mean_real, mean_fake)
    assert row["n_readers"] == 6
    assert row["p_value"] == pytest.approx(expected.pvalue)
    assert row["mean_difference"] == pytest.approx(np.mean(mean_real) - np.mean(mean_fake))


def test_rating_auc_equals_the_mann_whitney_probability():
    real = {"a": [5, 4, 4, 2, 5]}
    fake = {"a": [1, 4, 2, 3, 2, 1]}
    row = rating_auc(ratings(real, fake)).iloc[0]
    u = mannwhitneyu(real["a"], fake["a"]).statistic
    assert row["auc"] == pytest.approx(u / (5 * 6))
    assert row["ci_low"] < row["auc"] < row["ci_high"]


def test_rating_summary_and_distribution():
    df = ratings({"a": [5, 4, 4]}, {"a": [1, 2, 2, 2]})
    summary = rating_summary(df).set_index("truth")
    assert summary.loc["real", "mean"] == pytest.approx(13 / 3)
    assert summary.loc["synthetic", "median"] == 2
    dist = rating_distribution(df)
    assert dist.groupby("truth", observed=True)["share"].sum().tolist() == pytest.approx([1.0, 1.0])
    assert dist.query("truth == 'synthetic' and rating == 2")["n"].item() == 3


def test_rating_functions_say_when_there_are_no_ratings(responses):
    single = main_trials(validate(responses)).query("design == 'single'")
    with pytest.raises(AnalysisInputError, match="rating"):
        rating_test(single)


# --------------------------------------------------------------------------- repeat trials


def test_repeat_agreement_pairs_each_repeat_with_the_first_answer():
    from analysis.designs import repeat_agreement

    first = ["real", "real", "synthetic", "synthetic", "real", "synthetic"]
    again = ["real", "synthetic", "synthetic", "synthetic", "real", "real"]
    rows = [{"reader": "a", "case": f"c{i}", "truth": "real", "answer": answer, "resolution": 64,
             "trial_kind": "main"} for i, answer in enumerate(first)]
    rows += [{"reader": "a", "case": f"c{i}", "truth": "real", "answer": answer, "resolution": 64,
              "trial_kind": "repeat"} for i, answer in enumerate(again)]
    rows.append({"reader": "b", "case": "c0", "truth": "real", "answer": "real", "resolution": 64,
                 "trial_kind": "repeat"})  # b never read c0 as a main trial: no pair
    row = repeat_agreement(validate(pd.DataFrame(rows))).iloc[0]
    assert row["n_pairs"] == 6 and row["agreement"] == pytest.approx(4 / 6)
    # 2x2 table [[2, 1], [1, 2]]: po = 4/6, pe = 1/2, kappa = (po - pe) / (1 - pe) = 1/3 (Cohen 1960)
    assert row["kappa"] == pytest.approx(1 / 3)


def test_the_spine_quartet_study_is_reproduced_in_shape():
    # Plausibility, not exact data: the spine MRI quartet study as quoted in the project brief
    # (8 experts x 50 quartets, the real image found in 29.0% of answers against 25% chance, i.e.
    # 116 of 400; not checked against the paper, whose abstract is shared/seeds/002_*.txt).
    rows = [{"reader": f"expert{r}", "case": f"q{q}", "truth": "real", "resolution": 256,
             "design": "choice", "alternatives": 4, "correct": int((r * 50 + q) % 100 < 29)}
            for r in range(8) for q in range(50)]
    row = choice_table(validate(pd.DataFrame(rows))).iloc[0]
    assert (row["n"], row["correct"], row["accuracy"], row["chance"]) == (400, 116, 0.29, 0.25)
    assert row["p_value"] == pytest.approx(binomtest(116, 400, 0.25).pvalue)
    assert row["ci_low"] < 0.29 < row["ci_high"]

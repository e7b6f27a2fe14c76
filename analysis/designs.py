"""Statistics specific to each reading design.

* Forced choice among ``m`` images (find the odd one): accuracy against
  chance ``1/m``, d' for m-alternative forced choice, position bias, and
  agreement between readers.
* Realism rating: rating distributions, Wilcoxon signed-rank test of the
  per-reader mean rating of real vs synthetic images, ROC AUC of the rating.
* Repeat trials: how consistently a reader answers the same image twice.
* Timed exposure (HYPE): the adaptive staircase used by the reading screen,
  per-reader exposure thresholds, and the error rate with unlimited time.

Plausibility reference: the spine MRI quartet study, as quoted in the project
brief (8 experts, 50 quartets: the real image found in 29.0 % against 25 %
chance, Fleiss' kappa 0.061), is the kind of result the forced-choice
functions produce; these figures are not test data.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import chisquare, t as t_dist, wilcoxon

from analysis.agreement import cohen_kappa, fleiss_kappa
from analysis.proportions import _by_list, binomial_interval, class_rates, holm, proportion_table
from analysis.roc import delong
from analysis.sdt import dprime_mafc
from analysis.tidy import AnalysisInputError


def _groups(df: pd.DataFrame, by: list[str]):
    if by:
        yield from df.groupby(by, observed=True, sort=True)
    else:
        yield (), df


def _key_dict(by: list[str], key) -> dict:
    key = key if isinstance(key, tuple) else (key,)
    return dict(zip(by, key))


# --------------------------------------------------------------------------- forced choice


def choice_table(df: pd.DataFrame, *, by: Sequence[str] | str = ("resolution",),
                 method: str = "wilson", alpha: float = 0.05) -> pd.DataFrame:
    """Forced-choice accuracy against chance ``1/alternatives``, with d'.

    Columns as `proportions.proportion_table` plus ``alternatives`` and
    ``d_prime`` (m-alternative forced choice, `analysis.sdt.dprime_mafc`;
    with all or no answers correct the proportion is taken as
    ``(k + 0.5) / (n + 1)`` so that d' stays finite).

    Reference: Green & Swets (1966), Signal Detection Theory and
    Psychophysics; Hacker & Ratcliff (1979), Percept Psychophys 26:168.
    """
    table = proportion_table(df, by=by, method=method, alpha=alpha, chance=None)
    table.insert(len(_by_list(by)), "alternatives", np.round(1.0 / table["chance"]).astype(int))
    d_prime = []
    for k, n, m in zip(table["correct"], table["n"], table["alternatives"]):
        pc = (k + 0.5) / (n + 1) if k in (0, n) else k / n  # keep d' finite at 0 or n correct
        try:
            d_prime.append(float(dprime_mafc(pc, int(m))))
        except (ValueError, ZeroDivisionError):
            d_prime.append(np.nan)
    table["d_prime"] = d_prime
    return table


def position_bias(df: pd.DataFrame, *, by: Sequence[str] | str = ("resolution",)) -> pd.DataFrame:
    """Chi-square goodness-of-fit test of the chosen positions against uniform.

    A reader without position preference picks each of the ``m`` screen
    positions equally often.  Positions are counted from the smallest position
    seen in the table (0 or 1).  Columns ``by..., n, alternatives, counts,
    chi2, dof, p_value, p_value_holm``.

    Reference: Pearson (1900); scipy.stats.chisquare.
    """
    by = _by_list(by)
    data = df[df["chosen_position"].notna() & df["alternatives"].notna()]
    if len(data) == 0:
        raise AnalysisInputError("no chosen positions recorded: position bias needs column 'chosen_position'.")
    base = int(data["chosen_position"].min())
    rows = []
    for key, part in _groups(data, by):
        m = int(part["alternatives"].max())
        counts = np.bincount(part["chosen_position"].astype(int) - base, minlength=m)[:m]
        statistic, p_value = chisquare(counts)
        rows.append({**_key_dict(by, key), "n": int(counts.sum()), "alternatives": m,
                     "counts": counts.tolist(), "chi2": float(statistic), "dof": m - 1,
                     "p_value": float(p_value)})
    table = pd.DataFrame(rows)
    table["p_value_holm"] = holm(table["p_value"])
    return table


def choice_agreement(df: pd.DataFrame, *, by: Sequence[str] | str = ("resolution",)) -> pd.DataFrame:
    """Fleiss' kappa across readers on whether each odd image was found.

    Items are the forced-choice cases, raters the readers, categories
    "found" / "missed" (``correct``).  Columns ``by..., n_cases, n_readers,
    kappa, se, z, p_value``.

    Reference: Fleiss (1971), Psychol Bull 76:378 (via `analysis.agreement`).
    """
    by = _by_list(by)
    rows = []
    for key, part in _groups(df[df["correct"].notna()], by):
        ratings = pd.DataFrame({"reader": part["reader"].astype(str).to_numpy(),
                                "case": part["case"].astype(str).to_numpy(),
                                "answer": np.where(part["correct"] == 1, "found", "missed")})
        result = fleiss_kappa(ratings, rater="reader", item="case", category="answer")
        rows.append({**_key_dict(by, key), "n_cases": ratings["case"].nunique(),
                     "n_readers": ratings["reader"].nunique(),
                     **{name: result.get(name, np.nan) for name in ("kappa", "se", "z", "p_value")}})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- rating


def _rated(df: pd.DataFrame) -> pd.DataFrame:
    data = df[df["rating"].notna()]
    if len(data) == 0:
        raise AnalysisInputError("no ratings recorded: the rating design needs column 'rating'.")
    return data


def rating_summary(df: pd.DataFrame, *, by: Sequence[str] | str = ("resolution",)) -> pd.DataFrame:
    """Mean, SD and median realism rating per class (``truth``) and group."""
    keys = _by_list(by) + ["truth"]
    grouped = _rated(df).groupby(keys, observed=True, sort=True)["rating"]
    return grouped.agg(n="size", mean="mean", sd="std", median="median").reset_index()


def rating_distribution(df: pd.DataFrame, *, by: Sequence[str] | str = ("resolution",)) -> pd.DataFrame:
    """How often each rating was given, per class and group: ``by..., truth, rating, n, share``."""
    keys = _by_list(by) + ["truth"]
    counts = _rated(df).groupby(keys + ["rating"], observed=True, sort=True).size().rename("n").reset_index()
    counts["share"] = counts["n"] / counts.groupby(keys, observed=True)["n"].transform("sum")
    return counts


def rating_test(df: pd.DataFrame, *, by: Sequence[str] | str = ("resolution",)) -> pd.DataFrame:
    """Do readers rate real images as more realistic than synthetic ones?

    Per group, each reader's mean rating of real and of synthetic images;
    a two-sided Wilcoxon signed-rank test across readers of the paired means
    (scipy ``wilcoxon``), Holm-adjusted across groups.  Columns ``by...,
    n_readers, mean_real, mean_synthetic, mean_difference, statistic, p_value,
    p_value_holm``; NaN where fewer than two readers rated both classes.

    Reference: Wilcoxon (1945), Biometrics Bull 1:80; Holm (1979).
    """
    by = _by_list(by)
    rows = []
    for key, part in _groups(_rated(df), by):
        means = part.groupby(["reader", "truth"], observed=True)["rating"].mean().unstack("truth")
        means = means.reindex(columns=["real", "synthetic"]).dropna()
        difference = means["real"] - means["synthetic"]
        statistic = p_value = np.nan
        if len(means) >= 2 and (difference != 0).any():
            result = wilcoxon(means["real"], means["synthetic"])
            statistic, p_value = float(result.statistic), float(result.pvalue)
        rows.append({**_key_dict(by, key), "n_readers": len(means),
                     "mean_real": float(means["real"].mean()) if len(means) else np.nan,
                     "mean_synthetic": float(means["synthetic"].mean()) if len(means) else np.nan,
                     "mean_difference": float(difference.mean()) if len(means) else np.nan,
                     "statistic": statistic, "p_value": p_value})
    table = pd.DataFrame(rows)
    table["p_value_holm"] = holm(table["p_value"])
    return table


def rating_auc(df: pd.DataFrame, *, by: Sequence[str] | str = ("resolution",),
               alpha: float = 0.05) -> pd.DataFrame:
    """ROC AUC of the realism rating as a real-vs-synthetic score, DeLong interval.

    AUC = probability that a real image gets a higher rating than a synthetic
    one (ties half); 0.5 means the ratings do not separate the classes.  All
    readers' ratings are pooled and treated as independent (use the MRMC
    analysis for reader-random inference).  Columns ``by..., n_real,
    n_synthetic, auc, se, ci_low, ci_high``.

    Reference: DeLong, DeLong & Clarke-Pearson (1988), Biometrics 44:837.
    """
    by = _by_list(by)
    rows = []
    for key, part in _groups(_rated(df), by):
        truth = (part["truth"] == "real").to_numpy()
        row = {**_key_dict(by, key), "n_real": int(truth.sum()), "n_synthetic": int((~truth).sum()),
               "auc": np.nan, "se": np.nan, "ci_low": np.nan, "ci_high": np.nan}
        if truth.any() and not truth.all():
            result = delong(truth.astype(int), part["rating"].to_numpy(float), alpha=alpha)
            row.update({name: float(result[name]) for name in ("auc", "se", "ci_low", "ci_high")})
        rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- repeat trials


def repeat_agreement(df: pd.DataFrame, *, by: Sequence[str] | str = (), alpha: float = 0.05) -> pd.DataFrame:
    """Intra-reader consistency: the answer to a repeat trial vs the first (main) answer.

    Pairs every answered ``repeat`` trial with the same reader's answered
    ``main`` trial of the same case, then gives the share of identical answers
    and Cohen's kappa over all pairs (`analysis.agreement.cohen_kappa`).
    Columns ``by..., n_pairs, n_readers, agreement, kappa, se, ci_low, ci_high``.

    Reference: Cohen (1960), Educ Psychol Meas 20:37.
    """
    by = _by_list(by)
    answered = df[df["answer"] != "empty"]
    keys = ["reader", "case"]
    first = answered[answered["trial_kind"] == "main"].drop_duplicates(keys)
    again = answered[answered["trial_kind"] == "repeat"]
    pairs = again[keys + by + ["answer"]].astype({"reader": str, "case": str}).merge(
        first[keys + ["answer"]].astype({"reader": str, "case": str}), on=keys, suffixes=("_repeat", "_first"))
    if len(pairs) == 0:
        raise AnalysisInputError("no answered repeat trials with a matching main trial of the same reader and case.")
    rows = []
    for key, part in _groups(pairs, by):
        a = part["answer_first"].astype(str).to_numpy()
        b = part["answer_repeat"].astype(str).to_numpy()
        row = {**_key_dict(by, key), "n_pairs": len(part), "n_readers": part["reader"].nunique(),
               "agreement": float(np.mean(a == b)), "kappa": np.nan, "se": np.nan,
               "ci_low": np.nan, "ci_high": np.nan}
        if len(set(a) | set(b)) > 1 and len(part) >= 2:
            result = cohen_kappa(a, b, alpha=alpha)
            row.update({name: result[name] for name in ("kappa", "se", "ci_low", "ci_high")})
        rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- timed exposure (HYPE)


def staircase_next(exposure_ms: float, history: Sequence[bool], *, lo: float = 100, hi: float = 1000,
                   up: float = 10, down: float = 30, run: int = 3) -> float:
    """The exposure for the next trial of a HYPE-time staircase.

    ``history`` holds the correctness of the trials so far, latest last, and
    ``exposure_ms`` the exposure of the latest trial.  After an error the
    exposure rises by ``up`` ms; after ``run`` correct answers in a row it falls
    by ``down`` ms (and the count starts again); otherwise it stays.  The result
    is clamped to ``[lo, hi]``.  Pure: the web app calls it per trial.

    Reference: Zhou, Gordon, Krishna, Narcomey, Fei-Fei & Bernstein (2019),
    HYPE: A Benchmark for Human eYe Perceptual Evaluation of Generative Models,
    NeurIPS (the 3-down/1-up staircase of Levitt 1971, JASA 49:467).

    Example
    -------
    >>> staircase_next(500, [True, True, True])
    470
    >>> staircase_next(500, [True, False])
    510
    """
    if not lo <= hi:
        raise AnalysisInputError(f"staircase bounds must satisfy lo <= hi, got lo={lo}, hi={hi}.")
    if run < 1 or up < 0 or down < 0:
        raise AnalysisInputError("staircase steps must be non-negative and the run length at least 1.")
    streak = 0
    step = 0
    for correct in history:
        if correct:
            streak += 1
            step = -down if streak == run else 0
            streak = 0 if streak == run else streak
        else:
            streak = 0
            step = up
    return min(max(exposure_ms + step, lo), hi)


def reader_thresholds(df: pd.DataFrame, *, by: Sequence[str] | str = ("resolution",)) -> pd.DataFrame:
    """Each reader's HYPE-time threshold per block: the modal exposure shown.

    A block is one reader within one group (by default one resolution).
    Trials whose display missed the requested exposure (``exposure_ok`` False)
    are left out.  Ties between modes go to the shortest exposure.
    Columns ``reader, by..., n_trials, threshold_ms``.
    """
    keys = ["reader"] + _by_list(by)
    timed = df[df["exposure_ms"].notna()]
    data = timed[timed["exposure_ok"].astype(object) != False]  # noqa: E712
    if len(data) == 0:
        raise AnalysisInputError(
            f"no usable timed-exposure trials: {len(timed)} trial(s) have an exposure_ms, and "
            f"{len(timed) - len(data)} of them missed the requested exposure (exposure_ok false).")
    counts = data.groupby(keys + ["exposure_ms"], observed=True).size().rename("n").reset_index()
    counts = counts.sort_values(keys + ["n", "exposure_ms"], ascending=[True] * len(keys) + [False, True])
    modes = counts.drop_duplicates(keys)[keys + ["exposure_ms"]].rename(columns={"exposure_ms": "threshold_ms"})
    sizes = data.groupby(keys, observed=True).size().rename("n_trials").reset_index()
    return sizes.merge(modes, on=keys)


def hype_time(df: pd.DataFrame, *, by: Sequence[str] | str = ("resolution",), alpha: float = 0.05) -> pd.DataFrame:
    """HYPE-time: mean reader threshold with a t interval.

    Columns ``by..., n_readers, threshold_ms, sd, ci_low, ci_high`` (interval
    NaN with a single reader).  Reference: Zhou et al. (2019), HYPE, NeurIPS.
    """
    by = _by_list(by)
    thresholds = reader_thresholds(df, by=by)
    rows = []
    for key, part in _groups(thresholds, by):
        values = part["threshold_ms"].to_numpy(float)
        n = len(values)
        mean = float(values.mean())
        sd = float(values.std(ddof=1)) if n > 1 else np.nan
        half = t_dist.ppf(1 - alpha / 2, n - 1) * sd / np.sqrt(n) if n > 1 else np.nan
        rows.append({**_key_dict(by, key), "n_readers": n, "threshold_ms": mean, "sd": sd,
                     "ci_low": mean - half, "ci_high": mean + half})
    return pd.DataFrame(rows)


def hype_infinity(df: pd.DataFrame, *, by: Sequence[str] | str = ("resolution",),
                  method: str = "wilson", alpha: float = 0.05) -> pd.DataFrame:
    """HYPE-infinity: the error rate over real and synthetic images together.

    With unlimited viewing time, the share of answered single-image trials
    judged wrongly (50 % = indistinguishable), with its interval, and the
    per-class error rates: ``real_error_rate`` (real called synthetic) and
    ``fake_error_rate`` (synthetic called real).  Columns ``by..., n,
    hype_infinity, ci_low, ci_high, real_error_rate, fake_error_rate``.

    Reference: Zhou et al. (2019), HYPE, NeurIPS, §3.2.
    """
    by = _by_list(by)
    data = df[(df["answer"] != "empty") & df["correct"].notna()]
    if len(data) == 0:
        raise AnalysisInputError("no answered real/synthetic trials for HYPE-infinity.")
    errors = proportion_table(data, by=by, method=method, alpha=alpha)
    table = errors[by + ["n"]].copy()
    table["hype_infinity"] = 1.0 - errors["accuracy"]
    low, high = binomial_interval((errors["n"] - errors["correct"]).to_numpy(), errors["n"].to_numpy(),
                                  method=method, alpha=alpha)
    table["ci_low"], table["ci_high"] = low, high
    rates = class_rates(data, by=by, method=method, alpha=alpha)
    table["real_error_rate"] = rates["real_error_rate"].to_numpy()
    table["fake_error_rate"] = rates["synthetic_error_rate"].to_numpy()
    return table


# --------------------------------------------------------------------------- constant stimuli


def _psychometric(x: np.ndarray, threshold: float, slope: float, floor: float) -> np.ndarray:
    """Accuracy against log2 exposure: from `floor` (chance) to 1, halfway at `threshold`."""
    return floor + (1 - floor) / (1 + np.exp(-slope * (x - threshold)))


def _fit_threshold(levels: np.ndarray, accuracy: np.ndarray, floor: float) -> tuple[float, float]:
    from scipy.optimize import curve_fit

    x = np.log2(levels)
    guess = (float(np.median(x)), 1.0)
    (threshold, slope), _ = curve_fit(lambda x, t, s: _psychometric(x, t, s, floor), x, accuracy, p0=guess,
                                      bounds=([x.min() - 4, 0.01], [x.max() + 4, 20.0]), maxfev=4000)
    return float(threshold), float(slope)


def exposure_curve(df: pd.DataFrame, *, by: Sequence[str] | str = ("resolution",), n_boot: int = 200,
                   seed: int = 0, alpha: float = 0.05) -> pd.DataFrame:
    """Method of constant stimuli: accuracy at each exposure and the exposure at which readers reach
    halfway between chance and perfect (75% for real/synthetic), from a fitted psychometric curve.

    Accuracy per exposure is the mean of the readers' own accuracies (trials whose display missed the
    requested exposure left out); the logistic curve in log2(exposure) is fitted to those means, and the
    threshold's interval comes from resampling readers (`n_boot` draws). Columns ``by..., exposure_ms,
    n_readers, n, accuracy, fitted, threshold_ms, ci_low, ci_high`` (the threshold repeated on each row
    of its group). Reference: the method of constant stimuli (Fechner 1860; Gescheider 1997, ch. 3), with
    HYPE-style reporting of the exposure needed (Zhou et al. 2019).
    """
    by = _by_list(by)
    timed = df[df["exposure_ms"].notna() & df["correct"].notna()]
    data = timed[timed["exposure_ok"].astype(object) != False]  # noqa: E712
    if data["exposure_ms"].nunique() < 2:
        raise AnalysisInputError("a psychometric curve needs answers at two or more exposures.")
    rng = np.random.default_rng(seed)
    rows = []
    for key, part in _groups(data, by):
        floor = 1.0 / float(part["alternatives"].iloc[0]) if part["design"].iloc[0] == "choice" else 0.5
        per_reader = part.groupby(["reader", "exposure_ms"], observed=True)["correct"].mean().unstack()
        levels = per_reader.columns.to_numpy(float)
        means = per_reader.mean(axis=0).to_numpy(float)
        try:
            threshold, slope = _fit_threshold(levels, means, floor)
        except (RuntimeError, ValueError):
            threshold, slope = np.nan, np.nan
        draws = []
        matrix = per_reader.to_numpy(float)
        for _ in range(n_boot if np.isfinite(threshold) and len(per_reader) > 1 else 0):
            pick = matrix[rng.integers(0, len(matrix), len(matrix))]
            with np.errstate(invalid="ignore"):
                boot = np.nanmean(pick, axis=0)
            if np.isnan(boot).any():
                continue
            try:
                draws.append(_fit_threshold(levels, boot, floor)[0])
            except (RuntimeError, ValueError):
                continue
        low, high = (np.quantile(draws, [alpha / 2, 1 - alpha / 2]) if len(draws) >= 20 else (np.nan, np.nan))
        counts = part.groupby("exposure_ms", observed=True).agg(n=("correct", "size"),
                                                                n_readers=("reader", "nunique"))
        for level, mean in zip(levels, means):
            fitted = float(_psychometric(np.log2(level), threshold, slope, floor)) if np.isfinite(threshold) else np.nan
            rows.append({**_key_dict(by, key), "exposure_ms": level, "n_readers": int(counts.loc[level, "n_readers"]),
                         "n": int(counts.loc[level, "n"]), "accuracy": float(mean), "fitted": fitted,
                         "threshold_ms": float(2**threshold) if np.isfinite(threshold) else np.nan,
                         "ci_low": float(2**low) if np.isfinite(low) else np.nan,
                         "ci_high": float(2**high) if np.isfinite(high) else np.nan})
    return pd.DataFrame(rows)

"""Accuracy as a binomial proportion: intervals, exact tests against chance, Holm.

All functions take the validated tidy responses table (see `analysis.tidy`) and
count every row they are given: pass `tidy.main_trials(df)` to leave out
practice, catch and repeat trials.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import binom, binomtest
from statsmodels.stats.proportion import proportion_confint

from analysis.tidy import AnalysisInputError

METHODS = {"wilson": "wilson", "clopper-pearson": "beta"}


def binomial_interval(k, n, *, method: str = "wilson", alpha: float = 0.05):
    """Two-sided ``1 - alpha`` confidence interval for ``k`` successes out of ``n``.

    ``method='wilson'`` is the score interval without continuity correction
    (Wilson 1927, JASA 22:209); ``'clopper-pearson'`` the exact interval
    (Clopper & Pearson 1934, Biometrika 26:404).  Both through statsmodels
    ``proportion_confint``.  Works on scalars and arrays; ``n == 0`` gives NaN.

    Example
    -------
    >>> [round(x, 4) for x in binomial_interval(18, 20)]
    [0.699, 0.9721]
    """
    if method not in METHODS:
        raise AnalysisInputError(f"unknown interval method {method!r}; use one of {', '.join(METHODS)}.")
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    safe_n = np.where(n > 0, n, 1.0)
    low, high = proportion_confint(np.minimum(k, safe_n), safe_n, alpha=alpha, method=METHODS[method])
    low = np.where(n > 0, np.clip(low, 0.0, 1.0), np.nan)
    high = np.where(n > 0, np.clip(high, 0.0, 1.0), np.nan)
    if low.ndim == 0:
        return float(low), float(high)
    return low, high


def binomial_p_value(k: int, n: int, chance: float) -> float:
    """Exact two-sided binomial test of ``k/n`` against ``chance`` (scipy ``binomtest``).

    Two-sided as R ``binom.test``: the probabilities of all outcomes no more
    likely than the observed one are summed.  NaN when ``n == 0``.
    """
    if n <= 0 or not 0.0 < chance < 1.0:
        return float("nan")
    return float(binomtest(int(k), int(n), chance).pvalue)


def binomial_p_values(k, n, chance) -> np.ndarray:
    """`binomial_p_value` for arrays; vectorised where ``chance == 0.5``.

    At ``chance = 0.5`` the binomial distribution is symmetric, so the two-sided
    p-value is exactly ``min(1, 2 * P(X <= min(k, n - k)))``; other chances go
    through ``binomtest`` row by row.
    """
    k, n, chance = np.broadcast_arrays(np.asarray(k, float), np.asarray(n, float), np.asarray(chance, float))
    shape = k.shape
    k, n, chance = k.ravel(), n.ravel(), chance.ravel()
    out = np.full(k.shape, np.nan)
    half = (chance == 0.5) & (n > 0)
    tail = np.minimum(k[half], n[half] - k[half])
    out[half] = np.minimum(1.0, 2.0 * binom.cdf(tail, n[half], 0.5))
    for i in np.flatnonzero(~half):
        out[i] = binomial_p_value(k[i], n[i], chance[i])
    return out.reshape(shape)


def holm(p_values) -> np.ndarray:
    """Holm (1979) step-down adjusted p-values; NaN entries are kept out and stay NaN.

    The ``i``-th smallest of ``m`` p-values becomes ``max_{j <= i} min(1, (m - j + 1) p_(j))``:
    the same numbers as statsmodels ``multipletests(method='holm')`` and R
    ``p.adjust(method='holm')``, without statsmodels' per-call garbage collection
    (which costs ~50 ms per table).

    Reference: Holm (1979), A simple sequentially rejective multiple test
    procedure, Scand J Stat 6:65-70.
    """
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    finite = np.flatnonzero(~np.isnan(p))
    if finite.size:
        order = finite[np.argsort(p[finite], kind="stable")]
        m = order.size
        stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
        out[order] = np.minimum(stepped, 1.0)
    return out


def _by_list(by) -> list[str]:
    if by is None:
        return []
    if isinstance(by, str):
        return [by]
    return list(by)


def proportion_table(
    df: pd.DataFrame,
    *,
    by: Sequence[str] | str | None = ("resolution",),
    method: str = "wilson",
    alpha: float = 0.05,
    chance: float | None = 0.5,
) -> pd.DataFrame:
    """Accuracy per group with an interval and an exact test against chance.

    Parameters
    ----------
    df : DataFrame
        Validated responses; rows with ``correct`` missing (unanswered rating
        trials) are left out.
    by : column name(s)
        Grouping; ``()`` or None gives one pooled row.
    method : {'wilson', 'clopper-pearson'}
    alpha : float
        1 - confidence level.
    chance : float or None
        Accuracy under guessing.  None takes ``1 / alternatives`` per group
        (forced choice among several images).

    Returns
    -------
    DataFrame
        Columns ``by..., n, correct, accuracy, ci_low, ci_high, chance, p_value,
        p_value_holm`` (Holm across the rows of the table).

    References
    ----------
    Wilson (1927); Clopper & Pearson (1934); Holm (1979), Scand J Stat 6:65.

    Example
    -------
    >>> proportion_table(df, by=("resolution",))  # doctest: +SKIP
    """
    by = _by_list(by)
    missing = [c for c in by if c not in df.columns]
    if missing:
        raise AnalysisInputError(f"cannot group by {missing}: no such column in the responses table.")
    data = df[df["correct"].notna()]
    if by:
        grouped = data.groupby(by, observed=True, sort=True)
        table = grouped["correct"].agg(n="size", correct="sum").reset_index()
        if chance is None:
            table["chance"] = 1.0 / grouped["alternatives"].mean().to_numpy()
    else:
        table = pd.DataFrame({"n": [len(data)], "correct": [data["correct"].sum()]})
        if chance is None:
            table["chance"] = 1.0 / data["alternatives"].mean() if len(data) else np.nan
    if chance is not None:
        if not 0.0 < chance < 1.0:
            raise AnalysisInputError(f"chance accuracy must lie strictly between 0 and 1, got {chance}.")
        table["chance"] = float(chance)
    table["n"] = table["n"].astype(np.int64)
    table["correct"] = table["correct"].astype(np.int64)
    table["accuracy"] = np.where(table["n"] > 0, table["correct"] / table["n"].clip(lower=1), np.nan)
    table["ci_low"], table["ci_high"] = binomial_interval(
        table["correct"].to_numpy(), table["n"].to_numpy(), method=method, alpha=alpha)
    table["p_value"] = binomial_p_values(table["correct"], table["n"], table["chance"])
    table["p_value_holm"] = holm(table["p_value"].to_numpy())
    return table[by + ["n", "correct", "accuracy", "ci_low", "ci_high", "chance", "p_value", "p_value_holm"]]


def _rate(k: np.ndarray, n: np.ndarray, method: str, alpha: float):
    rate = np.where(n > 0, k / np.maximum(n, 1), np.nan)
    low, high = binomial_interval(k, n, method=method, alpha=alpha)
    return rate, np.atleast_1d(low), np.atleast_1d(high)


def class_rates(
    df: pd.DataFrame,
    *,
    by: Sequence[str] | str | None = ("resolution",),
    method: str = "wilson",
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Per-class rates of the single-image real/synthetic answer.

    Synthetic is the signal: ``sensitivity`` = synthetic images called
    synthetic, ``specificity`` = real images called real,
    ``real_error_rate`` = real called synthetic (1 - specificity),
    ``synthetic_error_rate`` = synthetic called real (1 - sensitivity; the
    "fool rate" of HYPE).  Only answered rows count (``answer != 'empty'``).
    Each rate has a ``*_ci_low`` / ``*_ci_high`` interval (`binomial_interval`).

    Returns
    -------
    DataFrame
        ``by..., n_real, n_synthetic, sensitivity, ..., synthetic_error_rate_ci_high``.

    Reference
    ---------
    Macmillan & Creelman (2005), Detection Theory: A User's Guide, ch. 1;
    Zhou et al. (2019), HYPE, NeurIPS (error rates per class).
    """
    by = _by_list(by)
    data = df[df["answer"] != "empty"]
    said_synthetic = (data["answer"] == "synthetic").astype(np.int64)
    frame = pd.DataFrame({
        "real": (data["truth"] == "real").to_numpy().astype(np.int64),
        "synthetic": (data["truth"] == "synthetic").to_numpy().astype(np.int64),
    }, index=data.index)
    frame["tp"] = frame["synthetic"] * said_synthetic
    frame["fp"] = frame["real"] * said_synthetic
    if by:
        for column in by:
            frame[column] = data[column]
        sums = frame.groupby(by, observed=True, sort=True)[["real", "synthetic", "tp", "fp"]].sum().reset_index()
    else:
        sums = frame[["real", "synthetic", "tp", "fp"]].sum().to_frame().T.reset_index(drop=True)
    n_real = sums["real"].to_numpy()
    n_syn = sums["synthetic"].to_numpy()
    tp = sums["tp"].to_numpy()
    fp = sums["fp"].to_numpy()
    table = sums[by].copy() if by else pd.DataFrame(index=sums.index)
    table["n_real"] = n_real
    table["n_synthetic"] = n_syn
    for name, k, n in (("sensitivity", tp, n_syn), ("specificity", n_real - fp, n_real),
                       ("real_error_rate", fp, n_real), ("synthetic_error_rate", n_syn - tp, n_syn)):
        rate, low, high = _rate(k, n, method, alpha)
        table[name] = rate
        table[f"{name}_ci_low"] = low
        table[f"{name}_ci_high"] = high
    return table.reset_index(drop=True)


def fool_rates(df: pd.DataFrame) -> pd.DataFrame:
    """How often each synthetic image was called real, most convincing first.

    Columns ``case, resolution, n, called_real, fool_rate`` over answered
    single-image rows; ties keep the case order.
    """
    data = df[(df["truth"] == "synthetic") & (df["answer"] != "empty")]
    called_real = (data["answer"] == "real").astype(np.int64)
    table = (called_real.groupby([data["case"], data["resolution"]], observed=True)
             .agg(n="size", called_real="sum").reset_index())
    table["fool_rate"] = table["called_real"] / table["n"]
    return table.sort_values(["fool_rate", "n"], ascending=[False, False], kind="stable").reset_index(drop=True)

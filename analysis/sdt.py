"""Signal detection theory: d' and criterion c for yes/no tasks, d' for m-alternative forced choice.

In a Mirage "single" design the reader sees one image and answers real or
synthetic. Taking "synthetic" as the signal, a hit is a synthetic image called
synthetic and a false alarm a real image called synthetic. Then

    d' = z(H) - z(F),    c = -(z(H) + z(F)) / 2,

with z the standard normal quantile (Macmillan & Creelman 2005, ch. 1-2).
d' = 0 means the reader cannot tell the classes apart; c > 0 means a bias
towards answering "real".

References
----------
Macmillan NA, Creelman CD (2005). Detection Theory: A User's Guide, 2nd ed. Erlbaum.

Hautus MJ (1995). Corrections for extreme proportions and their biasing effects on
estimated values of d'. Behav Res Methods Instrum Comput 27:46-51.

Macmillan NA, Kaplan HL (1985). Detection theory analysis of group data: estimating
sensitivity from average hit and false-alarm rates. Psychol Bull 98:185-199.

Green DM, Swets JA (1966). Signal Detection Theory and Psychophysics. Wiley.

Hacker MJ, Ratcliff R (1979). A revised table of d' for M-alternative forced choice.
Percept Psychophys 26:168-170.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import integrate, optimize, special, stats

CORRECTIONS = ("loglinear", "1/2N")
INCOMPLETE = ("raise", "nan")
OUTPUT_COLUMNS = [
    "n_signal", "n_noise", "hits", "false_alarms", "hit_rate", "fa_rate", "d_prime", "criterion",
]


def rates_to_dprime(hit_rate, fa_rate):
    """d' and criterion c from a hit rate and a false-alarm rate.

    Parameters
    ----------
    hit_rate, fa_rate : float or array
        Proportions strictly between 0 and 1 (correct rates of 0 or 1 first, see
        :func:`dprime_table`).

    Returns
    -------
    (d, c) : floats or arrays
        ``d = z(H) - z(F)`` and ``c = -(z(H) + z(F)) / 2``. The likelihood-ratio
        bias is ``beta = exp(d * c)``.

    References
    ----------
    Macmillan & Creelman (2005), eqs. 1.5 and 2.1.

    Example
    -------
    >>> d, c = rates_to_dprime(0.7, 0.1)
    >>> round(d, 3), round(c, 3)
    (1.806, 0.379)
    """
    hits = np.asarray(hit_rate, dtype=float)
    fas = np.asarray(fa_rate, dtype=float)
    for name, rate in (("hit_rate", hits), ("fa_rate", fas)):
        if not np.all((rate > 0) & (rate < 1)):
            raise ValueError(
                f"{name} must be strictly between 0 and 1 (got {rate.tolist()}); correct rates "
                "of 0 or 1 first, e.g. with dprime_table(..., correction='loglinear')."
            )
    z_hit, z_fa = stats.norm.ppf(hits), stats.norm.ppf(fas)
    d, c = z_hit - z_fa, -(z_hit + z_fa) / 2
    if d.ndim == 0:
        return float(d), float(c)
    return d, c


def _corrected_rates(successes, trials, correction: str):
    """Rates with the chosen correction for proportions of 0 and 1.

    "loglinear" (Hautus 1995): (k + 0.5) / (n + 1) for every cell, extreme or not.
    "1/2N" (Macmillan & Kaplan 1985): k / n, except 0 -> 1 / (2n) and 1 -> 1 - 1 / (2n).
    """
    successes = np.asarray(successes, dtype=float)
    trials = np.asarray(trials, dtype=float)
    if correction == "loglinear":
        return (successes + 0.5) / (trials + 1)
    rates = successes / trials
    rates = np.where(successes == 0, 1 / (2 * trials), rates)
    return np.where(successes == trials, 1 - 1 / (2 * trials), rates)


def dprime_table(
    df: pd.DataFrame, *, by=None, signal: str = "synthetic", correction: str = "loglinear",
    incomplete: str = "raise",
) -> pd.DataFrame:
    """Hits, false alarms, d' and criterion c per group of a yes/no (single image) study.

    Parameters
    ----------
    df : DataFrame
        Responses with columns ``truth`` and ``answer`` (each "real" or
        "synthetic"), plus the ``by`` columns. Rows with any other answer (such as
        "empty") are rejected: filter them out first.
    by : str or list of str, optional
        Grouping columns, e.g. ``["reader"]`` or ``["reader", "resolution"]``.
        None pools all rows.
    signal : str
        The class treated as the signal (default "synthetic": a hit is a synthetic
        image called synthetic). The other truth value is the noise.
    correction : {"loglinear", "1/2N"}
        How rates are kept away from 0 and 1, where z is infinite.
        "loglinear" (Hautus 1995, default): add 0.5 to the counts and 1 to the number
        of trials of every group; slightly biases d' towards 0 but is never infinite.
        "1/2N" (Macmillan & Kaplan 1985): leave rates alone, except that a rate of 0
        becomes 1/(2N) and a rate of 1 becomes 1 - 1/(2N), N the number of trials.
    incomplete : {"raise", "nan"}
        What to do with a group that lacks trials of one class. "raise" (default)
        refuses the table; "nan" keeps the group as a row whose rate of the missing
        class, ``d_prime`` and ``criterion`` are NaN (d' needs both classes), so one
        incomplete group does not lose the others.

    Returns
    -------
    DataFrame with the ``by`` columns and ``n_signal, n_noise, hits, false_alarms,
    hit_rate, fa_rate`` (corrected), ``d_prime, criterion``.

    References
    ----------
    Macmillan & Creelman (2005); Hautus (1995); Macmillan & Kaplan (1985).

    Example
    -------
    >>> responses = pd.DataFrame({
    ...     "truth": ["synthetic"] * 4 + ["real"] * 4,
    ...     "answer": ["synthetic", "synthetic", "synthetic", "real",
    ...                "real", "real", "real", "synthetic"]})
    >>> table = dprime_table(responses)
    >>> table[["hits", "false_alarms"]].iloc[0].tolist()
    [3, 1]
    >>> table[["hit_rate", "fa_rate"]].iloc[0].tolist()
    [0.7, 0.3]
    >>> round(float(table["d_prime"].iloc[0]), 4)
    1.0488
    """
    if correction not in CORRECTIONS:
        raise ValueError(f"correction must be one of {CORRECTIONS}; got {correction!r}.")
    if incomplete not in INCOMPLETE:
        raise ValueError(f"incomplete must be one of {INCOMPLETE}; got {incomplete!r}.")
    groups = [] if by is None else ([by] if isinstance(by, str) else list(by))
    missing = [c for c in ["truth", "answer", *groups] if c not in df.columns]
    if missing:
        raise ValueError(f"the responses table lacks column(s) {missing}.")
    if df.empty:
        raise ValueError("the responses table is empty; there is nothing to analyse.")
    labels = set(df["truth"].unique())
    if signal not in labels or len(labels) != 2:
        raise ValueError(
            f"truth must hold exactly two classes, one of them the signal {signal!r}; "
            f"found {sorted(map(str, labels))}."
        )
    (noise,) = labels - {signal}
    odd = ~df["answer"].isin(labels)
    if odd.any():
        found = sorted(map(str, df.loc[odd, "answer"].unique()))[:5]
        raise ValueError(
            f"{int(odd.sum())} answer(s) are neither {signal!r} nor {noise!r} (found {found}); "
            "filter those rows out (e.g. empty answers) before computing d'."
        )
    is_signal = df["truth"] == signal
    said_signal = df["answer"] == signal
    counts = pd.DataFrame(
        {
            "n_signal": is_signal.astype(int),
            "n_noise": (~is_signal).astype(int),
            "hits": (is_signal & said_signal).astype(int),
            "false_alarms": (~is_signal & said_signal).astype(int),
        }
    )
    if groups:
        counts = pd.concat([df[groups], counts], axis=1)
        grouped = counts.groupby(groups, sort=True, dropna=False, observed=True)
        counts = grouped.sum().reset_index()
    else:
        counts = counts.sum().to_frame().T
    if incomplete == "raise":
        for column, name in (("n_signal", signal), ("n_noise", noise)):
            empty = counts[counts[column] == 0]
            if len(empty):
                where = empty[groups].iloc[0].to_dict() if groups else "all rows"
                raise ValueError(
                    f"{len(empty)} group(s) have no {name!r} images (e.g. {where}); d' needs both "
                    "classes in every group: check the grouping, drop those groups or pass "
                    "incomplete='nan'."
                )
    has_signal = counts["n_signal"].to_numpy() > 0
    has_noise = counts["n_noise"].to_numpy() > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        hit_rate = _corrected_rates(counts["hits"], counts["n_signal"], correction)
        fa_rate = _corrected_rates(counts["false_alarms"], counts["n_noise"], correction)
    counts["hit_rate"] = np.where(has_signal, hit_rate, np.nan)
    counts["fa_rate"] = np.where(has_noise, fa_rate, np.nan)
    complete = has_signal & has_noise
    d = np.full(len(counts), np.nan)
    c = np.full(len(counts), np.nan)
    if complete.any():
        d_ok, c_ok = rates_to_dprime(counts["hit_rate"].to_numpy()[complete],
                                     counts["fa_rate"].to_numpy()[complete])
        d[complete], c[complete] = d_ok, c_ok
    counts["d_prime"] = d
    counts["criterion"] = c
    return counts[[*groups, *OUTPUT_COLUMNS]]


def proportion_correct_mafc(d_prime: float, m: int) -> float:
    """Proportion correct of an unbiased observer in m-alternative forced choice.

    PC = integral of phi(x - d') Phi(x)^(m-1) dx (Green & Swets 1966; Hacker &
    Ratcliff 1979): the signal alternative must exceed all m - 1 noise ones.

    Example
    -------
    >>> round(proportion_correct_mafc(0.0, 4), 6)
    0.25
    """
    _check_alternatives(m)
    root_two_pi = math.sqrt(2 * math.pi)

    def integrand(x: float) -> float:
        return math.exp(-0.5 * (x - d_prime) ** 2) / root_two_pi * special.ndtr(x) ** (m - 1)

    # phi(x - d') < 1e-30 beyond 12 SDs, so the finite range loses nothing.
    value, _ = integrate.quad(integrand, d_prime - 12, d_prime + 12, epsabs=1e-13, epsrel=1e-11,
                              limit=200)
    return float(value)


def dprime_mafc(pc: float, m: int) -> float:
    """d' from the proportion correct in m-alternative forced choice (unbiased observer).

    Parameters
    ----------
    pc : float
        Proportion correct, strictly between 0 and 1 (pc = 1/m gives d' = 0).
    m : int
        Number of alternatives (>= 2). For m = 2, d' = sqrt(2) z(pc) exactly; for
        m > 2 the relation of :func:`proportion_correct_mafc` is solved with brentq.

    Returns
    -------
    float
        d'; values beyond +-10 are refused (pc too close to 0 or 1): correct pc
        first, e.g. pc = (k + 0.5) / (n + 1).

    References
    ----------
    Green & Swets (1966); Hacker & Ratcliff (1979); Macmillan & Creelman (2005), ch. 7.

    Example
    -------
    >>> round(dprime_mafc(0.76, 2), 4)
    0.9989
    >>> round(dprime_mafc(0.8, 4), 4)
    1.8932
    """
    _check_alternatives(m)
    if not 0 < pc < 1:
        raise ValueError(
            f"pc must be strictly between 0 and 1; got {pc}. Correct a proportion of 0 or 1 first, "
            "e.g. (k + 0.5) / (n + 1)."
        )
    if m == 2:
        return float(math.sqrt(2) * stats.norm.ppf(pc))
    low, high = -10.0, 10.0
    f_low = proportion_correct_mafc(low, m) - pc
    f_high = proportion_correct_mafc(high, m) - pc
    if f_low > 0 or f_high < 0:
        raise ValueError(
            f"pc = {pc} with m = {m} implies |d'| > 10; correct the proportion away from 0 and 1."
        )
    return float(optimize.brentq(lambda d: proportion_correct_mafc(d, m) - pc, low, high,
                                 xtol=1e-12))


def _check_alternatives(m) -> None:
    if isinstance(m, bool) or not isinstance(m, (int, np.integer)) or m < 2:
        raise ValueError(f"m, the number of alternatives, must be an integer >= 2; got {m!r}.")

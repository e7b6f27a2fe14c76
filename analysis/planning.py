"""Planning a study: how many readers and trials to show accuracy above chance.

The test is the one-sample comparison of a proportion with chance, powered on
Cohen's arcsine effect size ``h = 2 asin(sqrt(p1)) - 2 asin(sqrt(p0))``
(statsmodels ``proportion_effectsize`` and ``NormalIndPower`` with
``ratio=0``, i.e. one sample).  Answers from one reader are correlated; with
``m`` trials per reader and intraclass correlation ``icc`` the variance is
inflated by the design effect ``1 + (m - 1) icc`` (Kish 1965), so the number of
responses is the independent sample size times the design effect.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_effectsize

from analysis.tidy import AnalysisInputError


def _check(p1: float, chance: float, power: float | None, alpha: float, icc: float) -> None:
    if not 0 < chance < 1 or not 0 < p1 < 1:
        raise AnalysisInputError(f"accuracies must lie strictly between 0 and 1 (got p1={p1}, chance={chance}).")
    if p1 == chance:
        raise AnalysisInputError("the expected accuracy equals chance: no sample size can detect a difference.")
    if power is not None and not 0 < power < 1:
        raise AnalysisInputError(f"power must lie strictly between 0 and 1, got {power}.")
    if not 0 < alpha < 1:
        raise AnalysisInputError(f"alpha must lie strictly between 0 and 1, got {alpha}.")
    if not 0 <= icc < 1:
        raise AnalysisInputError(f"the intraclass correlation must lie in [0, 1), got {icc}.")


def independent_n(p1: float, *, chance: float = 0.5, power: float = 0.8, alpha: float = 0.05,
                  alternative: str = "two-sided") -> float:
    """Independent responses needed to detect accuracy ``p1`` against ``chance``.

    Reference: Cohen (1988), Statistical Power Analysis for the Behavioral
    Sciences, 2nd ed., ch. 6 (h = 0.2, alpha 0.05 two-sided, power 0.8: n = 196).

    Example
    -------
    >>> round(independent_n(0.6, chance=0.5), 1)
    193.6
    """
    _check(p1, chance, power, alpha, 0.0)
    effect = abs(proportion_effectsize(p1, chance))
    return float(NormalIndPower().solve_power(effect_size=effect, alpha=alpha, power=power, ratio=0,
                                              alternative="two-sided" if alternative == "two-sided" else "larger"))


def achieved_power(readers: int, trials_per_reader: int, p1: float, *, chance: float = 0.5,
                   alpha: float = 0.05, icc: float = 0.05) -> float:
    """Power of a study with ``readers`` x ``trials_per_reader`` responses (two-sided)."""
    _check(p1, chance, None, alpha, icc)
    effective = readers * trials_per_reader / (1 + (trials_per_reader - 1) * icc)
    effect = abs(proportion_effectsize(p1, chance))
    return float(NormalIndPower().power(effect_size=effect, nobs1=effective, alpha=alpha, ratio=0))


def design_table(p1: float, *, chance: float = 0.5, power: float = 0.8, alpha: float = 0.05,
                 icc: float = 0.05, trials_per_reader: Sequence[int] = (25, 50, 100, 200, 400)) -> pd.DataFrame:
    """Readers needed for each number of trials per reader.

    Parameters
    ----------
    p1 : float
        Expected accuracy of the readers.
    chance : float
        Accuracy by guessing (0.5 real/synthetic; 1/m for m-alternative choice).
    power, alpha : float
        Target power and two-sided significance level.
    icc : float
        Intraclass correlation of correctness within a reader (reader
        variability); 0 treats all responses as independent.
    trials_per_reader : sequence of int

    Returns
    -------
    DataFrame
        ``trials_per_reader, design_effect, responses, readers, total_responses,
        achieved_power``: ``readers`` is rounded up, so ``achieved_power`` (of
        that whole number of readers) is at least ``power``.  With a large
        ``icc`` more trials per reader help little: the reader count is
        bounded below by about ``n_independent * icc``.

    Reference: Kish (1965), Survey Sampling (design effect); Cohen (1988).

    Example
    -------
    >>> design_table(0.6, icc=0.0, trials_per_reader=[50])["readers"].tolist()
    [4]
    """
    n = independent_n(p1, chance=chance, power=power, alpha=alpha)
    _check(p1, chance, power, alpha, icc)
    rows = []
    for m in trials_per_reader:
        if int(m) < 1:
            raise AnalysisInputError(f"trials per reader must be at least 1, got {m}.")
        effect = 1 + (int(m) - 1) * icc
        responses = n * effect
        readers = max(2, math.ceil(responses / int(m) - 1e-9))
        rows.append({"trials_per_reader": int(m), "design_effect": effect, "responses": float(responses),
                     "readers": readers, "total_responses": readers * int(m),
                     "achieved_power": achieved_power(readers, int(m), p1, chance=chance, alpha=alpha, icc=icc)})
    table = pd.DataFrame(rows)
    table.attrs.update({"p1": p1, "chance": chance, "power": power, "alpha": alpha, "icc": icc,
                        "independent_n": n})
    return table


"""Small statistics the quality report needs: intervals, effect sizes, DeLong's AUC.

`generation` never imports `analysis` (docs/architecture.md), so the DeLong AUC here is a
short copy of the same method (Sun & Xu's midrank algorithm), kept to what the report uses.

References
----------
DeLong ER, DeLong DM, Clarke-Pearson DL (1988). Comparing the areas under two or more
correlated receiver operating characteristic curves. Biometrics 44:837-845.
Sun X, Xu W (2014). Fast implementation of DeLong's algorithm. IEEE Signal Processing
Letters 21:1389-1393.
Wilson EB (1927). Probable inference, the law of succession, and statistical inference.
JASA 22:209-212.
Hedges LV, Olkin I (1985). Statistical Methods for Meta-Analysis (the standard error of d).
"""

from __future__ import annotations

import numpy as np
from scipy import stats

Z95 = float(stats.norm.ppf(0.975))


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion; (nan, nan) when n is 0."""
    if n == 0:
        return float("nan"), float("nan")
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def percentile_interval(values, level: float = 0.95) -> tuple[float, float]:
    """The central `level` interval of bootstrap replicates (NaN replicates ignored)."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return float("nan"), float("nan")
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def cohens_d(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Standardised mean difference (b - a) / pooled SD per column, and its standard error.

    Columns where both groups are constant get d = 0. The standard error is the large-sample
    one, sqrt((n1 + n2) / (n1 n2) + d^2 / (2 (n1 + n2))) (Hedges & Olkin 1985).
    """
    n1, n2 = a.shape[0], b.shape[0]
    pooled = np.sqrt(((n1 - 1) * a.var(axis=0, ddof=1) + (n2 - 1) * b.var(axis=0, ddof=1)) / (n1 + n2 - 2))
    diff = b.mean(axis=0) - a.mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        d = np.where(pooled > 0, diff / pooled, 0.0)
    se = np.sqrt((n1 + n2) / (n1 * n2) + d**2 / (2 * (n1 + n2)))
    return d, se


def _placements(signal: np.ndarray, noise: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    n1, n0 = signal.shape[-1], noise.shape[-1]
    pooled = stats.rankdata(np.concatenate([signal, noise], axis=-1), axis=-1)
    v10 = (pooled[..., :n1] - stats.rankdata(signal, axis=-1)) / n0
    v01 = 1.0 - (pooled[..., n1:] - stats.rankdata(noise, axis=-1)) / n1
    return v10, v01


def _delong(truth, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    truth = np.asarray(truth, dtype=bool)
    if truth.all() or not truth.any() or truth.sum() < 2 or (~truth).sum() < 2:
        raise ValueError(
            f"an AUC with DeLong's interval needs at least 2 cases of each class; got "
            f"{int(truth.sum())} positive and {int((~truth).sum())} negative"
        )
    v10, v01 = _placements(scores[:, truth], scores[:, ~truth])
    cov = np.atleast_2d(np.cov(v10)) / v10.shape[1] + np.atleast_2d(np.cov(v01)) / v01.shape[1]
    return v10.mean(axis=1), cov


def delong_auc(truth, score) -> dict:
    """Empirical AUC (higher score = positive) with DeLong's SE and 95% Wald interval in [0, 1].

    >>> r = delong_auc([0, 0, 0, 1, 1, 1], [1, 2, 4, 3, 5, 6])
    >>> round(r["auc"], 4), round(r["se"], 4)
    (0.8889, 0.1571)
    """
    aucs, cov = _delong(truth, np.asarray(score, dtype=float)[np.newaxis, :])
    auc, se = float(aucs[0]), float(np.sqrt(max(cov[0, 0], 0.0)))
    return {"auc": auc, "se": se, "ci_low": max(0.0, auc - Z95 * se), "ci_high": min(1.0, auc + Z95 * se)}


def delong_paired(truth, score_a, score_b) -> dict:
    """DeLong test of AUC(a) - AUC(b) on the same cases: difference, 95% interval, two-sided p.

    >>> r = delong_paired([0, 0, 0, 1, 1, 1], [1, 2, 4, 3, 5, 6], [1, 2, 3, 4, 5, 6])
    >>> round(r["difference"], 4), round(r["p_value"], 4)
    (-0.1111, 0.4795)
    """
    aucs, cov = _delong(truth, np.vstack([np.asarray(score_a, float), np.asarray(score_b, float)]))
    diff = float(aucs[0] - aucs[1])
    se = float(np.sqrt(max(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1], 0.0)))
    p = float(2 * stats.norm.sf(abs(diff) / se)) if se > 0 else (1.0 if diff == 0 else 0.0)
    return {"auc_a": float(aucs[0]), "auc_b": float(aucs[1]), "difference": diff, "se": se,
            "ci_low": diff - Z95 * se, "ci_high": diff + Z95 * se, "p_value": p}

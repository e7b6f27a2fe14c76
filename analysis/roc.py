"""Empirical ROC curves, the trapezoidal AUC and DeLong's variance for it.

The AUC here is the empirical (trapezoidal) area, which equals the Mann-Whitney
statistic: the probability that a signal case scores higher than a noise case,
counting ties as one half. Higher scores are taken to mean "signal" (no
automatic choice of direction, unlike pROC's ``direction = "auto"``).

The DeLong variance is computed with the fast midrank algorithm of Sun & Xu
(2014): the structural components ("placement values") of each case come from
three rankings instead of an n1 x n0 comparison matrix.

References
----------
DeLong ER, DeLong DM, Clarke-Pearson DL (1988). Comparing the areas under two
or more correlated receiver operating characteristic curves: a nonparametric
approach. Biometrics 44:837-845.

Sun X, Xu W (2014). Fast implementation of DeLong's algorithm for comparing the
areas under correlated receiver operating characteristic curves. IEEE Signal
Processing Letters 21:1389-1393.

Robin X et al. (2011). pROC: an open-source package for R and S+ to analyze and
compare ROC curves. BMC Bioinformatics 12:77.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats


def _truth_array(truth) -> np.ndarray:
    """Return ``truth`` as a boolean array (True = signal), or say what is wrong."""
    values = np.asarray(truth)
    if values.ndim != 1 or values.size == 0:
        raise ValueError("truth must be a non-empty one-dimensional array of 0/1 labels.")
    if values.dtype == bool:
        values = values.astype(int)  # booleans are 0/1 labels: the one-class check below applies
    if not np.isin(values, [0, 1]).all():
        bad = sorted({str(v) for v in values[~np.isin(values, [0, 1])]})[:5]
        raise ValueError(f"truth must hold only 0 (noise) and 1 (signal); found {bad}.")
    labels = values.astype(bool)
    if labels.all() or not labels.any():
        raise ValueError(
            "truth holds only one class; an ROC curve needs both signal (1) and noise (0) cases."
        )
    return labels


def _score_array(score, n: int, name: str = "score") -> np.ndarray:
    values = np.asarray(score, dtype=float)
    if values.shape != (n,):
        raise ValueError(f"{name} has shape {values.shape}; expected ({n},), one score per case.")
    if not np.isfinite(values).all():
        raise ValueError(f"{name} contains NaN or infinite values; drop or fix those cases first.")
    return values


def placement_values(signal_scores: np.ndarray, noise_scores: np.ndarray):
    """Structural components of the empirical AUC (DeLong's V10 and V01).

    Works on the last axis, so stacks of readers/modalities are handled at once.

    Parameters
    ----------
    signal_scores : array (..., n1)
        Scores of the signal (diseased) cases.
    noise_scores : array (..., n0)
        Scores of the noise (non-diseased) cases.

    Returns
    -------
    v10 : array (..., n1)
        For each signal case, the fraction of noise cases it out-scores (ties 1/2).
    v01 : array (..., n0)
        For each noise case, the fraction of signal cases that out-score it.
        ``v10.mean(-1) == v01.mean(-1) ==`` the empirical AUC.

    References
    ----------
    Sun & Xu (2014), section III: midranks of the pooled and the per-class samples.
    """
    n1 = signal_scores.shape[-1]
    n0 = noise_scores.shape[-1]
    pooled = stats.rankdata(np.concatenate([signal_scores, noise_scores], axis=-1), axis=-1)
    within_signal = stats.rankdata(signal_scores, axis=-1)
    within_noise = stats.rankdata(noise_scores, axis=-1)
    v10 = (pooled[..., :n1] - within_signal) / n0
    v01 = 1.0 - (pooled[..., n1:] - within_noise) / n1
    return v10, v01


def roc_curve(truth, score) -> pd.DataFrame:
    """Empirical ROC curve: one point per distinct score used as a threshold.

    A case is called "signal" when its score is >= the threshold. The first row
    (threshold = +inf) is the point (0, 0); the last is (1, 1).

    Parameters
    ----------
    truth : array of 0/1 or bool
        1 (True) for signal cases, 0 for noise cases.
    score : array of float
        Rating or score; higher means "more likely signal".

    Returns
    -------
    DataFrame with columns ``threshold, fpr, tpr``, thresholds decreasing.

    Example
    -------
    >>> roc_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
       threshold  fpr  tpr
    0        inf  0.0  0.0
    1       0.80  0.0  0.5
    2       0.40  0.5  0.5
    3       0.35  0.5  1.0
    4       0.10  1.0  1.0
    """
    labels = _truth_array(truth)
    values = _score_array(score, labels.size)
    thresholds = np.unique(values)[::-1]
    signal = np.sort(values[labels])
    noise = np.sort(values[~labels])
    tpr = (signal.size - np.searchsorted(signal, thresholds, side="left")) / signal.size
    fpr = (noise.size - np.searchsorted(noise, thresholds, side="left")) / noise.size
    return pd.DataFrame(
        {
            "threshold": np.concatenate([[np.inf], thresholds]),
            "fpr": np.concatenate([[0.0], fpr]),
            "tpr": np.concatenate([[0.0], tpr]),
        }
    )


def auc(truth, score) -> float:
    """Empirical (trapezoidal) area under the ROC curve, equal to Mann-Whitney U / (n1 n0).

    Example
    -------
    >>> auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
    """
    labels = _truth_array(truth)
    values = _score_array(score, labels.size)
    v10, _ = placement_values(values[labels], values[~labels])
    return float(v10.mean())


def _delong_components(labels: np.ndarray, scores: np.ndarray):
    """AUCs (k,) and DeLong covariance matrix (k, k) of k score rows on the same cases."""
    v10, v01 = placement_values(scores[:, labels], scores[:, ~labels])
    n1, n0 = v10.shape[1], v01.shape[1]
    if n1 < 2 or n0 < 2:
        raise ValueError(
            f"DeLong's variance needs at least 2 signal and 2 noise cases; got {n1} and {n0}."
        )
    s10 = np.atleast_2d(np.cov(v10))
    s01 = np.atleast_2d(np.cov(v01))
    return v10.mean(axis=1), s10 / n1 + s01 / n0


def delong(truth, score, *, alpha: float = 0.05) -> dict:
    """AUC with DeLong's standard error and a normal (Wald) confidence interval.

    Parameters
    ----------
    truth : array of 0/1 or bool
        1 for signal cases, 0 for noise cases (at least 2 of each).
    score : array of float
        Higher means "more likely signal".
    alpha : float
        1 - confidence level.

    Returns
    -------
    dict with ``auc, se, ci_low, ci_high``. The interval is auc -/+ z(1-alpha/2) * se,
    clipped to [0, 1] as pROC's ``ci.auc(method = "delong")`` does.

    References
    ----------
    DeLong et al. (1988); Sun & Xu (2014); pROC ``ci.auc`` (Robin et al. 2011).

    Example
    -------
    >>> res = delong([0, 0, 0, 1, 1, 1], [1, 2, 4, 3, 5, 6])
    >>> round(res["auc"], 4), round(res["se"], 4)
    (0.8889, 0.1571)
    """
    _check_alpha(alpha)
    labels = _truth_array(truth)
    values = _score_array(score, labels.size)
    aucs, cov = _delong_components(labels, values[np.newaxis, :])
    se = float(np.sqrt(cov[0, 0]))
    z = stats.norm.ppf(1 - alpha / 2)
    estimate = float(aucs[0])
    return {
        "auc": estimate,
        "se": se,
        "ci_low": float(max(0.0, estimate - z * se)),
        "ci_high": float(min(1.0, estimate + z * se)),
    }


def delong_paired(truth, score_a, score_b, *, alpha: float = 0.05) -> dict:
    """DeLong test of the difference between two correlated AUCs (same cases).

    Parameters
    ----------
    truth : array of 0/1 or bool
        1 for signal cases, 0 for noise cases.
    score_a, score_b : arrays of float
        Two scores of the same cases (two readers, two modalities, two markers).
    alpha : float
        1 - confidence level of the interval of the difference.

    Returns
    -------
    dict with ``auc_a, auc_b, difference`` (a - b), ``se, z, p_value`` (two-sided)
    and ``ci_low, ci_high`` of the difference (not clipped).

    References
    ----------
    DeLong et al. (1988), eq. for the contrast L = (1, -1); pROC ``roc.test(method = "delong")``.

    Example
    -------
    >>> res = delong_paired([0, 0, 0, 1, 1, 1], [1, 2, 4, 3, 5, 6], [1, 2, 3, 4, 5, 6])
    >>> round(res["difference"], 4), round(res["p_value"], 4)
    (-0.1111, 0.4795)
    """
    _check_alpha(alpha)
    labels = _truth_array(truth)
    first = _score_array(score_a, labels.size, "score_a")
    second = _score_array(score_b, labels.size, "score_b")
    aucs, cov = _delong_components(labels, np.vstack([first, second]))
    difference = float(aucs[0] - aucs[1])
    variance = cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]
    se = float(np.sqrt(max(variance, 0.0)))
    if se == 0.0:
        raise ValueError(
            "the two scores give a difference with zero DeLong variance (identical rankings?); "
            "there is nothing to test."
        )
    z = float(difference / se)
    q = stats.norm.ppf(1 - alpha / 2)
    return {
        "auc_a": float(aucs[0]),
        "auc_b": float(aucs[1]),
        "difference": difference,
        "se": se,
        "z": z,
        "p_value": float(2 * stats.norm.sf(abs(z))),
        "ci_low": float(difference - q * se),
        "ci_high": float(difference + q * se),
    }


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1 (e.g. 0.05); got {alpha}.")

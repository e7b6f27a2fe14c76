"""Accuracy models that respect readers and images as sources of variation.

* `mixed_logistic`: logistic regression of correctness on resolution with
  crossed random intercepts for reader and image (variational Bayes).
* `gee_logistic` / `gee_accuracy`: marginal logistic model, exchangeable
  working correlation within reader, robust (sandwich) errors; a cross-check.
* `bootstrap_accuracy`: two-way (reader and image) bootstrap percentile
  intervals, vectorised over aggregated counts.
* `trend_test`: Cochran-Armitage test over ordered resolutions and the
  logistic slope on log2(resolution).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import statsmodels.api as sm
import statsmodels.formula.api as smf
from scipy import sparse
from scipy.special import expit
from scipy.stats import norm
from scipy.stats import t as student_t
from statsmodels.genmod.bayes_mixed_glm import BinomialBayesMixedGLM

from analysis.tidy import AnalysisInputError


def _scored(df: pd.DataFrame) -> pd.DataFrame:
    data = df[df["correct"].notna()]
    if len(data) == 0:
        raise AnalysisInputError("no scored responses (column 'correct') to model.")
    return data


def _resolution_design(data: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    levels, codes = np.unique(data["resolution"].to_numpy(), return_inverse=True)
    exog = np.zeros((len(data), len(levels)))
    exog[np.arange(len(data)), codes] = 1.0
    return levels, exog


def _accuracy_rows(levels, estimate, se, alpha: float, method: str) -> pd.DataFrame:
    z = norm.ppf(1 - alpha / 2)
    estimate = np.asarray(estimate, float)
    se = np.asarray(se, float)
    return pd.DataFrame({
        "resolution": levels, "logit": estimate, "se": se, "accuracy": expit(estimate),
        "ci_low": expit(estimate - z * se), "ci_high": expit(estimate + z * se), "method": method,
    })


def mixed_logistic(df: pd.DataFrame, *, alpha: float = 0.05) -> pd.DataFrame:
    """Per-resolution accuracy from a crossed random-effects logistic model.

    Model: ``logit P(correct) = beta[resolution] + u[reader] + v[image]`` with
    ``u ~ N(0, s_r^2)``, ``v ~ N(0, s_i^2)``, fitted by mean-field variational
    Bayes (statsmodels ``BinomialBayesMixedGLM.fit_vb``).  ``accuracy`` is the
    conditional accuracy of a typical reader on a typical image
    (``expit(beta)``); intervals are ``expit(mean +- z * posterior sd)``.
    Mean-field VB ignores the posterior correlation between fixed and random
    effects, so these intervals are too narrow: use the model for its
    variance components and point estimates, and `bootstrap_accuracy` or
    `gee_accuracy` for intervals.  Fitting time grows quickly with the number
    of responses (seconds at 10^4, minutes at 10^5).

    Returns
    -------
    DataFrame
        ``resolution, logit, se, accuracy, ci_low, ci_high, method, reader_sd, image_sd``.

    References
    ----------
    Breslow & Clayton (1993), JASA 88:9 (GLMM); Blei, Kucukelbir & McAuliffe
    (2017), JASA 112:859 (variational inference); statsmodels
    ``BinomialBayesMixedGLM`` documentation.
    """
    data = _scored(df)
    levels, exog = _resolution_design(data)
    readers = pd.factorize(data["reader"])[0]
    cases = pd.factorize(data["case"])[0]
    n = len(data)
    rows = np.arange(n)
    exog_vc = sparse.hstack([
        sparse.csr_matrix((np.ones(n), (rows, readers))),
        sparse.csr_matrix((np.ones(n), (rows, cases))),
    ]).tocsr()
    ident = np.r_[np.zeros(readers.max() + 1, int), np.ones(cases.max() + 1, int)]
    model = BinomialBayesMixedGLM(data["correct"].to_numpy(float), exog, exog_vc, ident,
                                  vcp_p=1.0, fe_p=2.0)
    fit = model.fit_vb(fit_method="L-BFGS-B")
    table = _accuracy_rows(levels, fit.fe_mean, fit.fe_sd, alpha, "mixed logistic (variational Bayes)")
    table["reader_sd"] = float(np.exp(fit.vcp_mean[0]))
    table["image_sd"] = float(np.exp(fit.vcp_mean[1]))
    return table


def gee_logistic(data: pd.DataFrame, formula: str, groups: str, *,
                 cov_struct: str = "exchangeable", alpha: float = 0.05) -> pd.DataFrame:
    """Logistic GEE (Liang & Zeger 1986, Biometrika 73:13) with robust errors.

    Parameters
    ----------
    data : DataFrame
    formula : str
        Patsy formula, e.g. ``"y ~ x1 + x2"``.
    groups : str
        Cluster column.
    cov_struct : {'exchangeable', 'independence'}

    Returns
    -------
    DataFrame
        ``term, coef, se, z, p_value, ci_low, ci_high`` (robust sandwich SE).
    """
    structures = {"exchangeable": sm.cov_struct.Exchangeable, "independence": sm.cov_struct.Independence}
    if cov_struct not in structures:
        raise AnalysisInputError(f"unknown working correlation {cov_struct!r}; use {' or '.join(structures)}.")
    fit = smf.gee(formula, groups=groups, data=data, family=sm.families.Binomial(),
                  cov_struct=structures[cov_struct]()).fit()
    ci = fit.conf_int(alpha=alpha)
    return pd.DataFrame({
        "term": fit.params.index, "coef": fit.params.to_numpy(), "se": fit.bse.to_numpy(),
        "z": fit.tvalues.to_numpy(), "p_value": fit.pvalues.to_numpy(),
        "ci_low": ci.iloc[:, 0].to_numpy(), "ci_high": ci.iloc[:, 1].to_numpy(),
    })


def gee_accuracy(df: pd.DataFrame, *, groups: str = "reader", alpha: float = 0.05) -> pd.DataFrame:
    """Per-resolution marginal accuracy from a logistic GEE clustered by reader.

    One intercept per resolution, exchangeable working correlation within each
    reader, sandwich errors (Liang & Zeger 1986).  Columns as `mixed_logistic`
    without the variance components; ``accuracy`` is population-averaged.
    Clustering is by reader only, so image-to-image variation is not in the
    interval: when images differ in difficulty the two-way
    `bootstrap_accuracy` interval is the wider, more honest one.
    """
    data = _scored(df)
    if data[groups].nunique() < 2:
        raise AnalysisInputError(f"a GEE clustered by {groups} needs at least two of them; "
                                 f"found {data[groups].nunique()}.")
    levels, exog = _resolution_design(data)
    model = sm.GEE(data["correct"].to_numpy(float), exog, groups=pd.factorize(data[groups])[0],
                   family=sm.families.Binomial(), cov_struct=sm.cov_struct.Exchangeable())
    fit = model.fit()
    return _accuracy_rows(levels, fit.params, fit.bse, alpha, f"GEE logistic, exchangeable within {groups}")


DENSE_ABOVE = 0.25  # reader x image tables fuller than this are multiplied as dense arrays (BLAS)


def _weighted_sums(matrix, case_weights: np.ndarray) -> np.ndarray:
    """``matrix @ case_weights.T``: (readers x cases) counts times (draws x cases) weights."""
    return np.asarray(matrix @ case_weights.T)


def bootstrap_accuracy(df: pd.DataFrame, *, by: str = "resolution", n_boot: int = 2000, seed: int = 0,
                       alpha: float = 0.05, chunk_elements: int = 20_000_000) -> pd.DataFrame:
    """Two-way bootstrap percentile intervals for accuracy per group.

    Each draw resamples readers with replacement (the same reader weights for
    every group, so groups stay paired) and, within each group, images with
    replacement.  With reader weights ``w_r`` and image weights ``v_c`` (counts
    from multinomial draws) the draw's accuracy is
    ``sum w_r v_c k_rc / sum w_r v_c n_rc`` over the reader x image table of
    correct counts ``k`` and trials ``n``, so the cost grows with readers x
    images x draws, not with responses.

    Returns
    -------
    DataFrame
        ``by, accuracy, boot_se, ci_low, ci_high, n_boot``.

    References
    ----------
    Efron & Tibshirani (1993), An Introduction to the Bootstrap, ch. 13
    (percentile interval); Davison & Hinkley (1997), Bootstrap Methods, §3.8
    (multi-stage resampling); Owen (2007), Ann Appl Stat 1:1 (pigeonhole
    bootstrap for crossed random effects).
    """
    if n_boot < 1:
        raise AnalysisInputError(f"n_boot must be at least 1, got {n_boot}.")
    data = _scored(df)
    rng = np.random.default_rng(seed)
    reader_codes, readers = pd.factorize(data["reader"])
    n_readers = len(readers)
    reader_weights = rng.multinomial(n_readers, np.full(n_readers, 1.0 / n_readers), size=n_boot).T
    cells = pd.DataFrame({"g": data[by].to_numpy(), "r": reader_codes, "c": data["case"].to_numpy(),
                          "k": data["correct"].to_numpy(float)})
    cells = cells.groupby(["g", "r", "c"], observed=True, sort=True)["k"].agg(["sum", "size"]).reset_index()
    rows = []
    for group, part in cells.groupby("g", sort=True):
        case_codes, cases = pd.factorize(part["c"])
        n_cases = len(cases)
        shape = (n_readers, n_cases)
        k = sparse.csr_matrix((part["sum"].to_numpy(float), (part["r"].to_numpy(), case_codes)), shape=shape)
        n = sparse.csr_matrix((part["size"].to_numpy(float), (part["r"].to_numpy(), case_codes)), shape=shape)
        if k.nnz > DENSE_ABOVE * n_readers * n_cases:
            k, n = k.toarray(), n.toarray()
        step = max(1, chunk_elements // max(n_cases, n_readers))
        draws = []
        for start in range(0, n_boot, step):
            size = min(step, n_boot - start)
            case_weights = rng.multinomial(n_cases, np.full(n_cases, 1.0 / n_cases), size=size).astype(float)
            w = reader_weights[:, start:start + size]
            num = (_weighted_sums(k, case_weights) * w).sum(axis=0)
            den = (_weighted_sums(n, case_weights) * w).sum(axis=0)
            with np.errstate(invalid="ignore", divide="ignore"):
                draws.append(num / den)
        draws = np.concatenate(draws)
        total = part["size"].sum()
        low, high = np.nanpercentile(draws, [100 * alpha / 2, 100 * (1 - alpha / 2)])
        rows.append({by: group, "accuracy": part["sum"].sum() / total, "boot_se": float(np.nanstd(draws, ddof=1))
                     if n_boot > 1 else np.nan, "ci_low": low, "ci_high": high, "n_boot": n_boot})
    return pd.DataFrame(rows)


def cochran_armitage(successes, totals, scores) -> dict:
    """Cochran-Armitage test for a linear trend in proportions.

    ``z = sum x_i (k_i - n_i p) / sqrt(p (1 - p) [sum n_i x_i^2 - (sum n_i x_i)^2 / N])``,
    two-sided normal p-value.  ``z^2 = N / (N - 1) * M^2`` with the
    linear-by-linear association statistic ``M^2`` (Agresti 2013, Categorical
    Data Analysis, 3rd ed., §3.4.6 and §5.3.5).

    References
    ----------
    Cochran (1954), Biometrics 10:417; Armitage (1955), Biometrics 11:375.
    """
    k = np.asarray(successes, float)
    n = np.asarray(totals, float)
    x = np.asarray(scores, float)
    big_n = n.sum()
    p = k.sum() / big_n
    statistic = np.sum(x * (k - n * p))
    variance = p * (1 - p) * (np.sum(n * x ** 2) - np.sum(n * x) ** 2 / big_n)
    if not variance > 0:
        return {"z": np.nan, "p_value": np.nan}
    z = statistic / np.sqrt(variance)
    return {"z": float(z), "p_value": float(2 * norm.sf(abs(z)))}


def trend_test(df: pd.DataFrame, *, alpha: float = 0.05) -> pd.DataFrame:
    """Does accuracy rise with resolution?

    Two rows: the Cochran-Armitage trend test with scores ``log2(resolution)``,
    and the slope of a logistic regression of correctness on
    ``log2(resolution)`` (odds ratio per doubling) with reader-clustered
    robust errors (fitted on reader x resolution counts; model-based errors
    when there is a single reader).

    Returns
    -------
    DataFrame
        ``test, estimate, se, statistic, p_value, ci_low, ci_high``; the
        Cochran-Armitage row has no estimate.
    """
    data = _scored(df)
    counts = (data.groupby(["reader", "resolution"], observed=True)["correct"]
              .agg(["sum", "size"]).reset_index())
    levels = counts.groupby("resolution")[["sum", "size"]].sum()
    if len(levels) < 2:
        raise AnalysisInputError("a trend over resolution needs responses at two or more resolutions.")
    armitage = cochran_armitage(levels["sum"], levels["size"], np.log2(levels.index.to_numpy(float)))
    endog = np.column_stack([counts["sum"], counts["size"] - counts["sum"]])
    exog = sm.add_constant(np.log2(counts["resolution"].to_numpy(float)))
    groups = pd.factorize(counts["reader"])[0]
    model = sm.GLM(endog, exog, family=sm.families.Binomial())
    naive = model.fit()
    slope, se, df_t = float(naive.params[1]), float(naive.bse[1]), np.inf
    if groups.max() >= 1:
        # Reader-clustered errors, but never below the model-based ones, and judged on t(G - 1): with few
        # readers the sandwich estimator alone is far too optimistic (Cameron & Miller 2015, J Hum Resour).
        clustered = model.fit(cov_type="cluster", cov_kwds={"groups": groups})
        se = max(se, float(clustered.bse[1]))
        df_t = float(groups.max())  # G - 1
    statistic = slope / se if se > 0 else np.nan
    p_value = float(2 * student_t.sf(abs(statistic), df_t)) if se > 0 else np.nan
    z = student_t.ppf(1 - alpha / 2, df_t)
    return pd.DataFrame([
        {"test": "cochran-armitage (scores log2 resolution)", "estimate": np.nan, "se": np.nan,
         "statistic": armitage["z"], "p_value": armitage["p_value"], "ci_low": np.nan, "ci_high": np.nan},
        {"test": "logistic slope per doubling of resolution", "estimate": slope, "se": se,
         "statistic": statistic, "p_value": p_value,
         "ci_low": slope - z * se, "ci_high": slope + z * se},
    ])

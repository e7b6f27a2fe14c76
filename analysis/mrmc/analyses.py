"""The OR analysis: RRRC, FRRC and RRFC tests, modality differences and intervals."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from analysis.mrmc.covariance import _anova, _components, _fom_and_contributions
from analysis.mrmc.inputs import COVARIANCES, FOMS, _score_cube
from analysis.mrmc.result import ROW_COLUMNS, ORAnalysis, ORResult


def or_analysis(
    df: pd.DataFrame, *, fom: str = "auc", cov: str = "jackknife", alpha: float = 0.05
) -> ORResult:
    """Obuchowski-Rockette MRMC analysis with Hillis degrees of freedom.

    Parameters
    ----------
    df : DataFrame
        One row per reader x case x modality with columns ``reader, case, modality,
        truth`` (0/1, 1 = signal, e.g. "synthetic") and ``score`` (a rating, higher
        = more likely signal; for ``fom="pc"`` the binary answer 0/1). Every reader
        must score every case in every modality.
    fom : {"auc", "pc"}
        Empirical (trapezoidal) AUC, or percent correct (score == truth).
    cov : {"jackknife", "delong"}
        Covariance estimator: jackknife over cases (OR-DBM MRMC, RJafroc, MRMCaov
        default) or DeLong's (AUC only; MRMCaov ``cov = DeLong``).
    alpha : float
        1 - confidence level of all intervals.

    Returns
    -------
    ORResult
        Reader x modality FOMs, modality means, ANOVA of the FOMs, OR variance
        components (``var_r, var_tr, cov1, cov2, cov3, var_error`` and correlations),
        and the RRRC (also as ``f, ndf, ddf, p_value, differences, single``), FRRC
        and RRFC analyses. Differences are "first - second" in the modality order
        (sorted labels). With one modality only the single-modality intervals are
        given. Intervals are not clipped to [0, 1] (as in the Iowa printout).

    References
    ----------
    Obuchowski & Rockette (1995); Hillis et al. (2005); Hillis (2007); OR-DBM MRMC 2.51.

    Example
    -------
    >>> scores = {("A", "r1"): [1, 2, 3, 2, 4, 5], ("A", "r2"): [2, 1, 3, 4, 3, 5],
    ...           ("A", "r3"): [1, 3, 2, 3, 5, 4], ("B", "r1"): [1, 1, 2, 4, 5, 5],
    ...           ("B", "r2"): [1, 2, 1, 3, 5, 4], ("B", "r3"): [2, 1, 1, 5, 4, 5]}
    >>> df = pd.DataFrame([{"modality": m, "reader": r, "case": c, "truth": int(c >= 3), "score": s}
    ...                    for (m, r), row in scores.items() for c, s in enumerate(row)])
    >>> res = or_analysis(df)
    >>> res.modality_means["fom"].round(4).tolist()
    [0.9074, 1.0]
    >>> round(res.f, 3), res.ndf, round(res.ddf, 2), round(res.p_value, 4)
    (2.174, 1, 16.53, 0.1592)
    >>> print(format_table(res))  # doctest: +SKIP
    """
    if fom not in FOMS:
        raise ValueError(f"fom must be one of {sorted(FOMS)}; got {fom!r}.")
    if cov not in COVARIANCES:
        raise ValueError(f"cov must be one of {sorted(COVARIANCES)}; got {cov!r}.")
    if cov == "delong" and fom != "auc":
        raise ValueError("cov='delong' is defined for fom='auc' only; use cov='jackknife'.")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1 (e.g. 0.05); got {alpha}.")
    scores, truth, modalities, readers = _score_cube(df, fom)
    theta, z = _fom_and_contributions(scores, truth, fom, cov)
    n_mod, n_read = theta.shape

    ms = _anova(theta)
    comp = _components(z, ms)
    foms = pd.DataFrame(
        [(r, m, theta[t, i]) for t, m in enumerate(modalities) for i, r in enumerate(readers)],
        columns=["reader", "modality", "fom"],
    )
    means = pd.DataFrame({"modality": modalities, "fom": theta.mean(axis=1)})
    anova = pd.DataFrame(
        {
            "source": ["T", "R", "T*R"],
            "ss": [ms["ss_t"], ms["ss_r"], ms["ss_tr"]],
            "df": [n_mod - 1, n_read - 1, (n_mod - 1) * (n_read - 1)],
            "ms": [ms["ms_t"], ms["ms_r"], ms["ms_tr"]],
        }
    )
    modality_variances = pd.DataFrame(
        {
            "modality": modalities,
            "df": n_read - 1,
            "ms_r": ms["ms_r_t"],
            "var_error": comp["var_error_t"],
            "cov2": comp["cov2_t"],
        }
    )
    reader_variances = pd.DataFrame(
        {"reader": readers, "var_error": comp["var_error_r"], "cov1": comp["cov1_r"]}
    )
    public = {k: comp[k] for k in ("var_r", "var_tr", "cov1", "cov2", "cov3", "var_error")}
    public.update({k: comp[k] for k in ("corr1", "corr2", "corr3")})
    return ORResult(
        fom=fom,
        cov=cov,
        alpha=alpha,
        modalities=modalities,
        readers=readers,
        n_signal=int(truth.sum()),
        n_noise=int((~truth).sum()),
        foms=foms,
        modality_means=means,
        anova=anova,
        modality_variances=modality_variances,
        components=public,
        rrrc=_rrrc(theta, ms, comp, modalities, alpha),
        frrc=_frrc(theta, ms, comp, modalities, alpha),
        rrfc=_rrfc(theta, ms, modalities, alpha),
        reader_variances=reader_variances,
        reader_differences=_reader_differences(theta, comp, modalities, readers, alpha),
    )


def _interval_row(estimate: float, se: float, df: float | None, alpha: float) -> dict:
    """Estimate, SE, t (df given) or z (df None) test of 0, and CI; no test when se is 0."""
    dist = stats.norm if df is None or math.isinf(df) else stats.t(df)
    q = float(dist.ppf(1 - alpha / 2))
    statistic = float(estimate / se) if se > 0 else None
    p_value = float(2 * dist.sf(abs(statistic))) if statistic is not None else None
    return {
        "estimate": float(estimate),
        "se": float(se),
        "df": None if df is None else float(df),
        "statistic": statistic,
        "p_value": p_value,
        "ci_low": float(estimate - q * se),
        "ci_high": float(estimate + q * se),
    }


def _difference_table(theta, modalities, se: float, df, alpha) -> pd.DataFrame:
    means = theta.mean(axis=1)
    rows = []
    for i in range(len(modalities)):
        for j in range(i + 1, len(modalities)):
            row = _interval_row(means[i] - means[j], se, df, alpha)
            rows.append({"comparison": f"{modalities[i]} - {modalities[j]}", **row})
    return pd.DataFrame(rows, columns=["comparison", *ROW_COLUMNS])


def _single_table(theta, modalities, ses, dfs, alpha) -> pd.DataFrame:
    """Single-modality FOMs with intervals (no test: H0 "FOM = 0" would be meaningless)."""
    means = theta.mean(axis=1)
    rows = [
        {"modality": m, **_interval_row(means[t], ses[t], dfs[t], alpha)}
        for t, m in enumerate(modalities)
    ]
    columns = [c for c in ROW_COLUMNS if c not in ("statistic", "p_value")]
    return pd.DataFrame(rows, columns=["modality", *columns])


def _satterthwaite(total: float, ms: float, df: float) -> float:
    """df of ``total`` when its only random part is ``ms`` with ``df`` (Hillis 2007)."""
    return math.inf if ms == 0 else total**2 / (ms**2 / df)


def _rrrc(theta, ms, comp, modalities, alpha) -> ORAnalysis:
    n_mod, n_read = theta.shape
    single_totals = ms["ms_r_t"] + n_read * np.maximum(comp["cov2_t"], 0)
    single = _single_table(
        theta,
        modalities,
        np.sqrt(single_totals / n_read),
        [_satterthwaite(v, m, n_read - 1) for v, m in zip(single_totals, ms["ms_r_t"])],
        alpha,
    )
    if n_mod == 1:
        return _no_test("RRRC", "F", single, "one modality: single-modality intervals only")
    df_tr = (n_mod - 1) * (n_read - 1)
    error = ms["ms_tr"] + n_read * max(comp["cov2"] - comp["cov3"], 0)
    ddf = _satterthwaite(error, ms["ms_tr"], df_tr)
    differences = _difference_table(theta, modalities, math.sqrt(2 * error / n_read), ddf, alpha)
    return _f_test("RRRC", ms["ms_t"], error, n_mod - 1, ddf, differences, single)


def _frrc(theta, ms, comp, modalities, alpha) -> ORAnalysis:
    n_mod, n_read = theta.shape
    ses = np.sqrt((comp["var_error_t"] + (n_read - 1) * np.maximum(comp["cov2_t"], 0)) / n_read)
    single = _single_table(theta, modalities, ses, [None] * n_mod, alpha)
    if n_mod == 1:
        return _no_test("FRRC", "X2", single, "one modality: single-modality intervals only")
    error = comp["var_error"] - comp["cov1"] + (n_read - 1) * max(comp["cov2"] - comp["cov3"], 0)
    differences = _difference_table(
        theta, modalities, math.sqrt(max(2 * error / n_read, 0)), None, alpha
    )
    if error <= 0:
        return ORAnalysis("FRRC", "X2", None, n_mod - 1, None, None, error, differences, single,
                          "error term <= 0: the chi-square test is undefined")
    x2 = (n_mod - 1) * ms["ms_t"] / error
    p = float(stats.chi2.sf(x2, n_mod - 1))
    return ORAnalysis("FRRC", "X2", float(x2), n_mod - 1, None, p, float(error), differences, single)


def _rrfc(theta, ms, modalities, alpha) -> ORAnalysis:
    n_mod, n_read = theta.shape
    single = _single_table(
        theta, modalities, np.sqrt(ms["ms_r_t"] / n_read), [n_read - 1] * n_mod, alpha
    )
    if n_mod == 1:
        return _no_test("RRFC", "F", single, "one modality: single-modality intervals only")
    df_tr = (n_mod - 1) * (n_read - 1)
    se = math.sqrt(2 * ms["ms_tr"] / n_read)
    differences = _difference_table(theta, modalities, se, df_tr, alpha)
    return _f_test("RRFC", ms["ms_t"], ms["ms_tr"], n_mod - 1, df_tr, differences, single)


def _f_test(name, ms_t, error, ndf, ddf, differences, single) -> ORAnalysis:
    if error <= 0:
        return ORAnalysis(name, "F", None, ndf, float(ddf), None, float(error), differences,
                          single, "error term is 0 (e.g. every reader has the same FOM in "
                          "every modality), so the F test is undefined")
    f = ms_t / error
    p = stats.chi2.sf(f * ndf, ndf) if math.isinf(ddf) else stats.f.sf(f, ndf, ddf)
    return ORAnalysis(name, "F", float(f), ndf, float(ddf), float(p), float(error), differences,
                      single)


def _no_test(name, statistic_name, single, note) -> ORAnalysis:
    empty = pd.DataFrame(columns=["comparison", *ROW_COLUMNS])
    return ORAnalysis(name, statistic_name, None, None, None, None, None, empty, single, note)


def _reader_differences(theta, comp, modalities, readers, alpha) -> pd.DataFrame:
    """FRRC per-reader modality differences: SE = sqrt(var_a + var_b - 2 cov_ab) of that reader."""
    rows = []
    var = np.einsum("ttr->tr", comp["cov1_pairs"])
    for r, reader in enumerate(readers):
        for i in range(len(modalities)):
            for j in range(i + 1, len(modalities)):
                variance = var[i, r] + var[j, r] - 2 * comp["cov1_pairs"][i, j, r]
                se = math.sqrt(max(variance, 0))
                row = _interval_row(theta[i, r] - theta[j, r], se, None, alpha)
                comparison = f"{modalities[i]} - {modalities[j]}"
                rows.append({"reader": reader, "comparison": comparison, **row})
    return pd.DataFrame(rows, columns=["reader", "comparison", *ROW_COLUMNS])

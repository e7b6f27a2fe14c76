"""Multi-reader multi-case (MRMC) analysis: Obuchowski-Rockette with Hillis degrees of freedom.

Every reader reads every case in every modality (a fully crossed design). The
figure of merit (FOM) of each reader x modality is the empirical AUC (default)
or the percent correct of binary answers. The error covariances of the FOMs
(Var(Error), Cov1: same reader / other modality, Cov2: other reader / same
modality, Cov3: other reader and modality) are estimated by the jackknife over
cases (as OR-DBM MRMC) or, for the AUC, by DeLong's method. Three analyses are
reported, as in the OR-DBM MRMC 2.51 printout (University of Iowa):

1. RRRC, random readers and random cases, Hillis (2007) denominator df;
2. FRRC, fixed readers and random cases (chi-square / z);
3. RRFC, random readers and fixed cases (conventional modality x reader ANOVA).

The jackknife is vectorised: leaving out a signal case i changes the AUC to
(n1 AUC - V10_i) / (n1 - 1), and a noise case j to (n0 AUC - V01_j) / (n0 - 1),
with V10, V01 the placement values of all readers and modalities at once, so
1,000 readers x 1,000 cases take seconds.

References
----------
Obuchowski NA, Rockette HE (1995). Hypothesis testing of diagnostic accuracy for
multiple readers and multiple tests: an ANOVA approach with dependent
observations. Commun Stat Simul Comput 24:285-308.

Hillis SL, Obuchowski NA, Schartz KM, Berbaum KS (2005). A comparison of the
Dorfman-Berbaum-Metz and Obuchowski-Rockette methods for receiver operating
characteristic (ROC) data. Stat Med 24:1579-1607.

Hillis SL (2007). A comparison of denominator degrees of freedom methods for
multiple observer ROC analysis. Stat Med 26:596-619.

Schartz KM, Hillis SL, Pesce LL, Berbaum KS. OR-DBM MRMC 2.51 (University of Iowa).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from analysis.roc import placement_values

REQUIRED_COLUMNS = ("reader", "case", "modality", "truth", "score")
FOMS = {"auc": "empirical AUC", "pc": "percent correct"}
COVARIANCES = {"jackknife": "jackknife", "delong": "DeLong"}


@dataclass
class ORAnalysis:
    """One of the three OR analyses (RRRC, FRRC or RRFC).

    ``statistic`` is F (RRRC, RRFC) or X2 (FRRC); ``ddf`` is None for the chi-square
    test. Test fields are None when there is no test (a single modality) or it is
    undefined (zero error term, explained in ``note``).
    """

    name: str
    statistic_name: str
    statistic: float | None
    ndf: int | None
    ddf: float | None
    p_value: float | None
    error_term: float | None
    differences: pd.DataFrame
    single: pd.DataFrame
    note: str = ""


@dataclass
class ORResult:
    """Result of :func:`or_analysis`.

    Attributes
    ----------
    foms : DataFrame ``reader, modality, fom`` (one row per reader x modality).
    modality_means : DataFrame ``modality, fom`` (reader-averaged FOM).
    anova : DataFrame ``source`` (T, R, T*R), ``ss, df, ms`` of the modality x reader ANOVA.
    modality_variances : DataFrame ``modality, df, ms_r, var_error, cov2``: the
        per-modality reader mean square and error (co)variances behind the single-modality CIs.
    components : dict ``var_r, var_tr, cov1, cov2, cov3, var_error, corr1, corr2, corr3``
        (None where undefined: with one modality only ``cov2`` and ``var_error`` exist).
    rrrc, frrc, rrfc : ORAnalysis; the RRRC test is also ``f, ndf, ddf, p_value``, and its
        tables ``differences`` and ``single``.
    reader_variances : DataFrame ``reader, var_error, cov1`` (FRRC per-reader estimates).
    reader_differences : DataFrame: FRRC modality differences within each reader.
    """

    fom: str
    cov: str
    alpha: float
    modalities: list
    readers: list
    n_signal: int
    n_noise: int
    foms: pd.DataFrame
    modality_means: pd.DataFrame
    anova: pd.DataFrame
    modality_variances: pd.DataFrame
    components: dict
    rrrc: ORAnalysis
    frrc: ORAnalysis
    rrfc: ORAnalysis
    reader_variances: pd.DataFrame
    reader_differences: pd.DataFrame = field(repr=False)

    @property
    def f(self):
        return self.rrrc.statistic

    @property
    def ndf(self):
        return self.rrrc.ndf

    @property
    def ddf(self):
        return self.rrrc.ddf

    @property
    def p_value(self):
        return self.rrrc.p_value

    @property
    def differences(self) -> pd.DataFrame:
        return self.rrrc.differences

    @property
    def single(self) -> pd.DataFrame:
        return self.rrrc.single

    def to_frame(self) -> pd.DataFrame:
        """All estimates of the three analyses as one long table (one row per estimate)."""
        records = [
            {"analysis": analysis.name, "kind": kind, **row}
            for analysis in (self.rrrc, self.frrc, self.rrfc)
            for kind, table in (("difference", analysis.differences), ("single", analysis.single))
            for row in table.to_dict("records")
        ]
        columns = ["analysis", "kind", "comparison", "modality", *ROW_COLUMNS]
        return pd.DataFrame(records, columns=columns)

    def to_dict(self) -> dict:
        """JSON-serialisable dict: NaN becomes None and an infinite df the string "inf"."""
        return _jsonable(
            {
                "fom": self.fom,
                "cov": self.cov,
                "alpha": self.alpha,
                "modalities": self.modalities,
                "readers": self.readers,
                "n_readers": len(self.readers),
                "n_cases": self.n_signal + self.n_noise,
                "n_signal": self.n_signal,
                "n_noise": self.n_noise,
                "foms": self.foms,
                "modality_means": self.modality_means,
                "anova": self.anova,
                "modality_variances": self.modality_variances,
                "components": self.components,
                "analyses": {a.name: vars(a) for a in (self.rrrc, self.frrc, self.rrfc)},
                "reader_variances": self.reader_variances,
                "reader_differences": self.reader_differences,
            }
        )


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


# --------------------------------------------------------------------------- input


def _sorted_labels(values: pd.Series) -> list:
    unique = list(pd.unique(values))
    try:
        return sorted(unique)
    except TypeError:
        return unique


def _score_cube(df: pd.DataFrame, fom: str):
    """Validate the long table and return scores (T, R, K), truth (K,), labels."""
    if not isinstance(df, pd.DataFrame):
        raise ValueError("or_analysis needs a pandas DataFrame (one row per reader x case x modality).")
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(
            f"the table lacks column(s) {missing}; or_analysis needs {list(REQUIRED_COLUMNS)}."
        )
    if df.empty:
        raise ValueError("the table is empty; there is nothing to analyse.")
    for column in REQUIRED_COLUMNS:
        if df[column].isna().any():
            raise ValueError(
                f"column {column!r} has {int(df[column].isna().sum())} missing value(s); "
                "drop or fill those rows first."
            )
    truth_values = df["truth"].astype(object)
    if not truth_values.isin([0, 1, True, False]).all():
        bad = sorted({str(v) for v in truth_values[~truth_values.isin([0, 1])]})[:5]
        raise ValueError(f"truth must be 0 (noise) or 1 (signal); found {bad}.")
    duplicated = df.duplicated(["reader", "case", "modality"])
    if duplicated.any():
        first = df.loc[duplicated, ["reader", "case", "modality"]].iloc[0].tolist()
        raise ValueError(
            f"{int(duplicated.sum())} duplicate reader x case x modality row(s), e.g. {first}; "
            "keep one score per reader, case and modality (e.g. drop repeat trials)."
        )
    per_case = df.groupby("case")["truth"].nunique()
    if (per_case > 1).any():
        bad = per_case[per_case > 1].index.tolist()[:5]
        raise ValueError(f"case(s) {bad} have both truth 0 and 1 in different rows; fix the truth.")

    modalities = _sorted_labels(df["modality"])
    readers = _sorted_labels(df["reader"])
    cases = _sorted_labels(df["case"])
    if len(readers) < 2:
        raise ValueError(
            f"or_analysis needs at least 2 readers; got 1 ({readers[0]!r}). "
            "For one reader compare modalities with analysis.roc.delong_paired."
        )
    expected = len(modalities) * len(readers) * len(cases)
    if len(df) != expected:
        full = pd.MultiIndex.from_product([readers, cases, modalities])
        have = pd.MultiIndex.from_frame(df[["reader", "case", "modality"]])
        absent = full.difference(have)
        raise ValueError(
            f"the design is not fully crossed: {len(absent)} reader x case x modality "
            f"score(s) are missing, e.g. {list(absent[:3])}. Every reader must score every "
            "case in every modality; drop incomplete readers or cases first."
        )
    t_idx = pd.Index(modalities).get_indexer(df["modality"])
    r_idx = pd.Index(readers).get_indexer(df["reader"])
    c_idx = pd.Index(cases).get_indexer(df["case"])
    scores = np.empty((len(modalities), len(readers), len(cases)))
    numeric = pd.to_numeric(df["score"], errors="coerce")
    if numeric.isna().any() or not np.isfinite(numeric.to_numpy(float)).all():
        bad = df.loc[numeric.isna() | ~np.isfinite(numeric.fillna(0)), "score"].iloc[0]
        raise ValueError(f"score must be a finite number in every row; found {bad!r}.")
    scores[t_idx, r_idx, c_idx] = numeric.to_numpy(float)
    truth = np.zeros(len(cases), dtype=bool)
    truth[c_idx] = df["truth"].to_numpy().astype(int) == 1
    n1, n0 = int(truth.sum()), int((~truth).sum())
    if n1 < 2 or n0 < 2:
        raise ValueError(
            f"the jackknife needs at least 2 signal and 2 noise cases; got {n1} signal and {n0} noise."
        )
    if fom == "pc" and not np.isin(scores, [0, 1]).all():
        raise ValueError("fom='pc' needs binary scores (0 = noise answer, 1 = signal answer).")
    return scores, truth, modalities, readers


# --------------------------------------------------------------------------- FOM and covariances


def _fom_and_contributions(scores: np.ndarray, truth: np.ndarray, fom: str, cov: str):
    """FOMs (T, R) and per-case contributions z (T, R, K'): cov(a, b) = z_a . z_b."""
    n_cases = truth.size
    if fom == "pc":
        correct = (scores == truth.astype(float)).astype(float)
        theta = correct.mean(axis=-1)
        leave_one_out = (n_cases * theta[..., None] - correct) / (n_cases - 1)
    else:
        v10, v01 = placement_values(scores[..., truth], scores[..., ~truth])
        n1, n0 = v10.shape[-1], v01.shape[-1]
        theta = v10.mean(axis=-1)
        if cov == "delong":
            z = np.concatenate(
                [
                    (v10 - theta[..., None]) / math.sqrt(n1 * (n1 - 1)),
                    (v01 - theta[..., None]) / math.sqrt(n0 * (n0 - 1)),
                ],
                axis=-1,
            )
            return theta, z
        leave_one_out = np.concatenate(
            [
                (n1 * theta[..., None] - v10) / (n1 - 1),
                (n0 * theta[..., None] - v01) / (n0 - 1),
            ],
            axis=-1,
        )
    centred = leave_one_out - leave_one_out.mean(axis=-1, keepdims=True)
    return theta, centred * math.sqrt((n_cases - 1) / n_cases)


def _anova(theta: np.ndarray) -> dict:
    n_mod, n_read = theta.shape
    grand = theta.mean()
    mod_means = theta.mean(axis=1)
    reader_means = theta.mean(axis=0)
    ss_t = n_read * ((mod_means - grand) ** 2).sum()
    ss_r = n_mod * ((reader_means - grand) ** 2).sum()
    resid = theta - mod_means[:, None] - reader_means[None, :] + grand
    ss_tr = (resid**2).sum()
    df_tr = (n_mod - 1) * (n_read - 1)
    return {
        "ss_t": ss_t,
        "ss_r": ss_r,
        "ss_tr": ss_tr,
        "ms_t": ss_t / (n_mod - 1) if n_mod > 1 else None,
        "ms_r": ss_r / (n_read - 1),
        "ms_tr": ss_tr / df_tr if df_tr else None,
        "ms_r_t": ((theta - mod_means[:, None]) ** 2).sum(axis=1) / (n_read - 1),
    }


def _components(z: np.ndarray, ms: dict) -> dict:
    """OR error covariances averaged as in Hillis et al. (2005), and the variance components."""
    n_mod, n_read, _ = z.shape
    var = np.einsum("trk,trk->tr", z, z)
    same_reader = np.einsum("trk,srk->tsr", z, z)  # cov(t r, s r)
    totals = z.sum(axis=1)
    all_pairs = totals @ totals.T  # sum over r, r' of cov(t r, s r')
    pairs = n_read * (n_read - 1)
    cov2_t = (np.diag(all_pairs) - var.sum(axis=1)) / pairs
    out = {
        "var_error": float(var.mean()),
        "var_error_t": var.mean(axis=1),
        "var_error_r": var.mean(axis=0),
        "cov2_t": cov2_t,
        "cov2": float(cov2_t.mean()),
        "cov1": None,
        "cov3": None,
        "cov1_pairs": same_reader,
        "cov1_r": np.full(n_read, None, dtype=object),
        "var_r": None,
        "var_tr": None,
    }
    if n_mod > 1:
        off = ~np.eye(n_mod, dtype=bool)
        cov3_pairs = (all_pairs - same_reader.sum(axis=2)) / pairs
        out["cov1"] = float(same_reader[off].mean())
        out["cov1_r"] = same_reader[off].mean(axis=0)
        out["cov3"] = float(cov3_pairs[off].mean())
        c1, c2, c3, ve = out["cov1"], out["cov2"], out["cov3"], out["var_error"]
        out["var_tr"] = float(ms["ms_tr"] - ve + c1 + c2 - c3)
        out["var_r"] = float(
            ms["ms_r"] - out["var_tr"] - ve - (n_mod - 1) * c1 + c2 + (n_mod - 1) * c3
        ) / n_mod
    for k in (1, 2, 3):
        value = out[f"cov{k}"]
        out[f"corr{k}"] = None if value is None or out["var_error"] == 0 else value / out["var_error"]
    return out


# --------------------------------------------------------------------------- the three analyses

ROW_COLUMNS = ["estimate", "se", "df", "statistic", "p_value", "ci_low", "ci_high"]


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


# --------------------------------------------------------------------------- output


def _jsonable(value):
    if isinstance(value, pd.DataFrame):
        return _jsonable(value.to_dict(orient="records"))
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    return value


def _fmt(value, digits: int = 8) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float) and math.isinf(value):
        return "inf"
    return f"{value:.{digits}f}"


def _format_rows(table: pd.DataFrame, label: str) -> list[str]:
    lines = [f"  {label:<14}{'estimate':>12}{'StdErr':>12}{'df':>9}{'stat':>8}{'p':>8}   95% CI"]
    for row in table.to_dict("records"):
        df = "-" if row["df"] is None or pd.isna(row["df"]) else _fmt(row["df"], 2)
        lines.append(
            f"  {str(row[label]):<14}{_fmt(row['estimate']):>12}{_fmt(row['se']):>12}{df:>9}"
            f"{_fmt(row.get('statistic'), 2):>8}{_fmt(row.get('p_value'), 4):>8}"
            f"   ({_fmt(row['ci_low'])}, {_fmt(row['ci_high'])})"
        )
    return lines


def format_table(result: ORResult) -> str:
    """Plain-text report of an :class:`ORResult`, laid out like the OR-DBM MRMC printout."""
    n_cases = result.n_signal + result.n_noise
    lines = [
        f"Obuchowski-Rockette MRMC analysis: FOM {FOMS[result.fom]}, "
        f"{COVARIANCES[result.cov]} covariances",
        f"{len(result.modalities)} modalities, {len(result.readers)} readers, {n_cases} cases "
        f"({result.n_noise} noise, {result.n_signal} signal)",
        "",
        "Reader x modality FOM",
        result.foms.pivot(index="reader", columns="modality", values="fom")
        .to_string(float_format=lambda v: f"{v:.8f}"),
        "",
        "Modality means",
        *(f"  {m:<12} {_fmt(v)}" for m, v in zip(result.modality_means["modality"],
                                                 result.modality_means["fom"])),
        "",
        "OR variance components",
        *(f"  {name:<12} {_fmt(result.components[key])}" for name, key in
          [("Var(R)", "var_r"), ("Var(T*R)", "var_tr"), ("Cov1", "cov1"), ("Cov2", "cov2"),
           ("Cov3", "cov3"), ("Var(Error)", "var_error")]),
    ]
    titles = {
        "RRRC": "Random readers, random cases (Hillis ddf)",
        "FRRC": "Fixed readers, random cases",
        "RRFC": "Random readers, fixed cases",
    }
    level = round(100 * (1 - result.alpha))
    for analysis in (result.rrrc, result.frrc, result.rrfc):
        lines += ["", f"{analysis.name}: {titles[analysis.name]}"]
        if analysis.statistic is not None:
            dfs = f"{analysis.ndf}" if analysis.ddf is None else f"{analysis.ndf}, {analysis.ddf:.2f}"
            lines.append(
                f"  {analysis.statistic_name}({dfs}) = {analysis.statistic:.4f}, "
                f"p = {analysis.p_value:.4f}, error term {_fmt(analysis.error_term)}"
            )
        if analysis.note:
            lines.append(f"  note: {analysis.note}")
        if len(analysis.differences):
            lines += [f"  Differences ({level}% CI)", *_format_rows(analysis.differences, "comparison")]
        lines += [f"  Single modality ({level}% CI)", *_format_rows(analysis.single, "modality")]
    return "\n".join(lines) + "\n"

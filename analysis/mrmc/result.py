"""Results of the OR analysis: ORAnalysis (one of RRRC, FRRC, RRFC) and ORResult."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

ROW_COLUMNS = ["estimate", "se", "df", "statistic", "p_value", "ci_low", "ci_high"]


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

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

from analysis.mrmc.analyses import or_analysis
from analysis.mrmc.formatting import format_table
from analysis.mrmc.inputs import COVARIANCES, FOMS, REQUIRED_COLUMNS
from analysis.mrmc.result import ROW_COLUMNS, ORAnalysis, ORResult

__all__ = [
    "COVARIANCES",
    "FOMS",
    "REQUIRED_COLUMNS",
    "ROW_COLUMNS",
    "ORAnalysis",
    "ORResult",
    "format_table",
    "mrmc_by_modality",
    "or_analysis",
]


def mrmc_by_modality(df, *, alpha: float = 0.05):
    """Reader-averaged AUC per resolution by OR (jackknife, Hillis df), for resolutions read fully crossed.

    `df` is the tidy table of single-image or rating answers; a resolution whose readers did not all
    read the same images gets a row without figures (the headline's U-statistic covers every design).
    """
    import numpy as np
    import pandas as pd

    from analysis.export import mrmc_scores

    scores = mrmc_scores(df)
    rows = []
    for modality, part in scores.groupby("modality", sort=True, observed=True):
        row = {"resolution": modality, "n_readers": part["reader"].nunique(), "n_cases": part["case"].nunique()}
        try:
            result = or_analysis(part, fom="auc", alpha=alpha)
            single = result.single.iloc[0]
            row.update(auc=single["estimate"], se=single["se"], df=single["df"], ci_low=single["ci_low"],
                       ci_high=single["ci_high"])
        except ValueError:
            row.update(auc=np.nan, se=np.nan, df=np.nan, ci_low=np.nan, ci_high=np.nan)
        rows.append(row)
    return pd.DataFrame(rows, columns=["resolution", "n_readers", "n_cases", "auc", "se", "df", "ci_low", "ci_high"])

"""Agreement between readers: Fleiss' kappa (many readers) and Cohen's kappa (two readers).

The estimates come from statsmodels (``statsmodels.stats.inter_rater``); this
module turns the tidy responses table into the tables statsmodels expects and
adds the standard errors and tests.

References
----------
Fleiss JL (1971). Measuring nominal scale agreement among many raters. Psychol Bull
76:378-382.

Fleiss JL, Nee JCM, Landis JR (1979). Large sample variance of kappa in the case of
different sets of raters. Psychol Bull 86:974-977.

Cohen J (1960). A coefficient of agreement for nominal scales. Educ Psychol Meas
20:37-46.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats import inter_rater


def fleiss_kappa_from_counts(counts) -> dict:
    """Fleiss' kappa, its standard error under H0 (no agreement beyond chance), z and p.

    Parameters
    ----------
    counts : array (n_items, n_categories)
        How many raters put each item in each category; every row must have the same sum.

    Returns
    -------
    dict with ``kappa, se, z, p_value`` (two-sided), ``n_items, n_raters``.

    References
    ----------
    Fleiss (1971); SE under H0 from Fleiss, Nee & Landis (1979), as in R irr::kappam.fleiss.

    Example
    -------
    >>> res = fleiss_kappa_from_counts([[3, 0], [0, 3], [2, 1], [3, 0]])
    >>> round(res["kappa"], 4)
    0.625
    """
    table = np.asarray(counts, dtype=float)
    if table.ndim != 2 or table.shape[0] < 2:
        raise ValueError("Fleiss' kappa needs a 2-D table of counts with at least 2 items.")
    per_item = table.sum(axis=1)
    if not np.allclose(per_item, per_item[0]) or per_item[0] < 2:
        raise ValueError(
            "every item must have the same number (>= 2) of ratings; "
            f"found {sorted(set(per_item.astype(int).tolist()))[:5]}."
        )
    n_items, n_raters = table.shape[0], int(per_item[0])
    p = table.sum(axis=0) / table.sum()
    pq = p * (1 - p)
    if pq.sum() == 0:
        raise ValueError(
            "all ratings fall in one category, so chance agreement is perfect and kappa is undefined."
        )
    kappa = float(inter_rater.fleiss_kappa(table, method="fleiss"))
    variance = (
        2 / (pq.sum() ** 2 * n_items * n_raters * (n_raters - 1))
        * (pq.sum() ** 2 - (pq * (1 - 2 * p)).sum())
    )
    se = float(np.sqrt(variance))
    z = kappa / se
    return {
        "kappa": kappa,
        "se": se,
        "z": float(z),
        "p_value": float(2 * stats.norm.sf(abs(z))),
        "n_items": n_items,
        "n_raters": n_raters,
    }


def fleiss_kappa(
    df: pd.DataFrame, *, rater: str = "reader", item: str = "case", category: str = "answer"
) -> dict:
    """Fleiss' kappa of the readers' answers, from the tidy responses table.

    Fleiss' kappa needs the same number of ratings per item: items rated by fewer
    readers than the most-rated items are dropped and counted in ``n_items_dropped``.

    Parameters
    ----------
    df : DataFrame
        One row per rating, with the ``rater``, ``item`` and ``category`` columns.
        Each rater may rate an item once (drop repeat trials first).
    rater, item, category : str
        Column names (defaults fit the tidy responses table).

    Returns
    -------
    dict with ``kappa, se`` (under H0), ``z, p_value`` (two-sided), ``n_items``
    (used), ``n_raters`` (ratings per item) and ``n_items_dropped``.

    References
    ----------
    Fleiss (1971); Fleiss, Nee & Landis (1979); statsmodels ``aggregate_raters`` and
    ``fleiss_kappa``.

    Example
    -------
    >>> ratings = pd.DataFrame({
    ...     "reader": ["a", "b", "c"] * 4,
    ...     "case": [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4],
    ...     "answer": ["real"] * 3 + ["synthetic"] * 3 + ["real", "real", "synthetic"]
    ...               + ["real"] * 3})
    >>> round(fleiss_kappa(ratings)["kappa"], 4)
    0.625
    """
    missing = [c for c in (rater, item, category) if c not in df.columns]
    if missing:
        raise ValueError(f"the responses table lacks column(s) {missing}.")
    data = df[[rater, item, category]]
    if data.empty:
        raise ValueError("the responses table is empty; there is nothing to analyse.")
    if data.isna().any().any():
        raise ValueError(
            f"{int(data.isna().any(axis=1).sum())} row(s) have a missing {rater}, {item} or "
            f"{category}; drop them first."
        )
    duplicated = data.duplicated([rater, item])
    if duplicated.any():
        example = data.loc[duplicated, [rater, item]].iloc[0].tolist()
        raise ValueError(
            f"{int(duplicated.sum())} repeated rating(s) of the same {item} by the same {rater} "
            f"(e.g. {example}); keep one rating each (e.g. drop repeat trials)."
        )
    if data[rater].nunique() < 2:
        raise ValueError(f"agreement needs at least 2 readers; found {data[rater].nunique()}.")
    wide = data.pivot(index=item, columns=rater, values=category)
    ratings_per_item = wide.notna().sum(axis=1)
    complete = ratings_per_item == ratings_per_item.max()
    wide = wide[complete]
    categories = pd.Index(sorted(pd.unique(data[category]), key=str))
    codes = np.vstack([categories.get_indexer(row.dropna()) for _, row in wide.iterrows()])
    counts, _ = inter_rater.aggregate_raters(codes, n_cat=len(categories))
    result = fleiss_kappa_from_counts(counts)
    result["n_items_dropped"] = int((~complete).sum())
    return result


def cohen_kappa(a, b, *, alpha: float = 0.05) -> dict:
    """Cohen's (unweighted) kappa of two readers who rated the same items.

    Parameters
    ----------
    a, b : array-like
        The two readers' categories, item by item (same length).
    alpha : float
        1 - confidence level.

    Returns
    -------
    dict with ``kappa``, its asymptotic standard error ``se`` and Wald interval
    ``ci_low, ci_high``, and the test of kappa = 0 (``z``, two-sided ``p_value``,
    using the SE under H0), as SAS PROC FREQ prints them.

    References
    ----------
    Cohen (1960); Fleiss, Cohen & Everitt (1969) for the SEs; statsmodels ``cohens_kappa``.

    Example
    -------
    >>> res = cohen_kappa(["r", "r", "s", "s", "r"], ["r", "s", "s", "s", "r"])
    >>> round(res["kappa"], 4)
    0.6154
    """
    first = pd.Series(np.asarray(a, dtype=object))
    second = pd.Series(np.asarray(b, dtype=object))
    if first.size != second.size or first.size < 2:
        raise ValueError(
            f"a and b must rate the same items (at least 2); got {first.size} and {second.size} ratings."
        )
    if first.isna().any() or second.isna().any():
        raise ValueError("a or b contains missing ratings; drop those items from both first.")
    categories = pd.Index(sorted(pd.unique(pd.concat([first, second])), key=str))
    if len(categories) < 2:
        raise ValueError("all ratings fall in one category, so kappa is undefined.")
    table = pd.crosstab(
        pd.Categorical(first, categories=categories), pd.Categorical(second, categories=categories),
        dropna=False,
    ).to_numpy()
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be between 0 and 1 (e.g. 0.05); got {alpha}.")
    res = inter_rater.cohens_kappa(table)
    half_width = stats.norm.ppf(1 - alpha / 2) * res.std_kappa
    return {
        "kappa": float(res.kappa),
        "se": float(res.std_kappa),
        "ci_low": float(res.kappa - half_width),
        "ci_high": float(res.kappa + half_width),
        "z": float(res.z_value),
        "p_value": float(res.pvalue_two_sided),
    }


KAPPA_COLUMNS = ["kappa", "se", "z", "p_value", "n_items", "n_raters", "n_items_dropped"]


def kappa_by(df: pd.DataFrame, *, by: str = "resolution", with_test: bool = False) -> pd.DataFrame:
    """Fleiss' kappa of the readers' answers per group (e.g. resolution), one row per group.

    With ``with_test=False`` the z statistic and p-value are left out: a test of "no agreement beyond
    chance" rejects whenever readers share image effects, skill or not, so it is no test of skill.
    A group that cannot be analysed (fewer than 2 readers, one category only) has empty figures.
    """
    rows = []
    for value, part in df.groupby(by, sort=True, observed=True):
        try:
            result = fleiss_kappa(part[["reader", "case", "answer"]].astype(str))
        except ValueError:
            result = {}
        rows.append({by: value, **{name: result.get(name, np.nan) for name in KAPPA_COLUMNS}})
    table = pd.DataFrame(rows, columns=[by, *KAPPA_COLUMNS])
    counts = ["n_items", "n_raters", "n_items_dropped"]
    table[counts] = table[counts].astype("Int64")
    return table if with_test else table.drop(columns=["z", "p_value"])

"""MRMC input checks: the long reader x case x modality table becomes a score cube."""

from __future__ import annotations

import numpy as np
import pandas as pd

REQUIRED_COLUMNS = ("reader", "case", "modality", "truth", "score")
FOMS = {"auc": "empirical AUC", "pc": "percent correct"}
COVARIANCES = {"jackknife": "jackknife", "delong": "DeLong"}


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

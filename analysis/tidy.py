"""The tidy responses table: one row per response (see docs/architecture.md).

`validate` is the single gate every analysis function relies on: it checks the
columns and values, fills the optional columns, and derives `correct` for the
single-image design when it is missing.  `read_responses` reads a csv or
parquet file and validates it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

COLUMNS = (
    "study", "reader", "trial", "case", "source", "label", "truth", "answer", "confidence", "resolution",
    "trial_kind", "response_ms", "design", "alternatives", "chosen_position", "correct",
    "rating", "exposure_ms", "exposure_ok", "exposure_mode",
)
REQUIRED = ("reader", "case", "truth", "resolution")
TRUTHS = ("real", "synthetic")
ANSWERS = ("real", "synthetic", "empty")
TRIAL_KINDS = ("main", "practice", "catch", "repeat")
DESIGNS = ("single", "choice", "rating")
NUMERIC = ("confidence", "response_ms", "alternatives", "chosen_position", "rating", "exposure_ms")


class AnalysisInputError(ValueError):
    """The responses table (or a command-line argument) cannot be analysed as given."""


def _check_values(df: pd.DataFrame, column: str, allowed: tuple[str, ...]) -> None:
    bad = sorted(set(df[column].unique()) - set(allowed), key=str)
    if bad:
        shown = ", ".join(repr(b) for b in bad[:5])
        raise AnalysisInputError(
            f"column {column!r} has values {shown}; allowed values are {', '.join(allowed)}. "
            f"Fix the responses table and run again."
        )


def _as_label(series: pd.Series, default: str) -> pd.Categorical:
    """Lower-cased string labels as a categorical; missing values become `default`.

    Works on the distinct values only, so it stays fast on 10^6 rows.
    """
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    names = [str(u).strip().lower() for u in uniques]
    names = [default if n in ("", "nan", "none") else n for n in names] + [default]
    name_codes, categories = pd.factorize(np.asarray(names, dtype=object))
    used = np.unique(codes)
    keep = np.unique(name_codes[used])
    remap = np.full(len(categories), -1)
    remap[keep] = np.arange(len(keep))
    return pd.Categorical.from_codes(remap[name_codes[codes]], categories[keep])


def _as_ids(series: pd.Series) -> pd.Categorical:
    """Reader or case ids as a categorical of strings (fast on 10^6 rows)."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    names = pd.Index([str(u) for u in uniques])
    if names.is_unique:
        return pd.Categorical.from_codes(codes, names)
    return pd.Categorical(series.astype(str))


def _as_number(df: pd.DataFrame, column: str) -> pd.Series:
    raw = df[column]
    if pd.api.types.is_numeric_dtype(raw) and not isinstance(raw.dtype, pd.CategoricalDtype):
        return raw.astype(float)
    values = pd.to_numeric(raw, errors="coerce")
    suspect = np.flatnonzero(values.isna().to_numpy() & raw.notna().to_numpy())
    if suspect.size:
        text = raw.iloc[suspect].astype(str).str.strip().to_numpy()
        bad = suspect[text != ""]
        if bad.size:
            raise AnalysisInputError(
                f"column {column!r} must be numeric; found {raw.iloc[bad[0]]!r} in row {int(bad[0])}."
            )
    return values.astype(float)


def validate(df: pd.DataFrame) -> pd.DataFrame:
    """Check and normalise a tidy responses table.

    Parameters
    ----------
    df : DataFrame
        One row per response with at least the columns ``reader, case, truth,
        resolution`` and either ``answer`` or ``correct`` (not needed when every
        row is of the rating design and has a ``rating``).

    Returns
    -------
    DataFrame
        A new table with every column of `COLUMNS` (optional ones filled:
        ``design='single'``, ``trial_kind='main'``, ``answer='empty'``, numbers as
        float with NaN when absent, ``alternatives=2`` for the single design),
        ``correct`` as 0/1 floats (NaN only for rating trials without an answer) and
        labels as categoricals.  For the single design ``correct`` is derived as
        ``answer == truth`` when missing; an empty answer counts as wrong.

    Raises
    ------
    AnalysisInputError
        For an empty table, a missing column, a value outside its vocabulary or a
        forced-choice row without ``alternatives`` (a whole number >= 2).

    Example
    -------
    >>> validate(pd.DataFrame({"reader": ["a"], "case": ["c1"], "truth": ["real"],
    ...                        "answer": ["real"], "resolution": [64]}))["correct"].tolist()
    [1.0]
    """
    if not isinstance(df, pd.DataFrame):
        raise AnalysisInputError(f"expected a pandas DataFrame of responses, got {type(df).__name__}.")
    if len(df) == 0:
        raise AnalysisInputError("the responses table is empty: there is nothing to analyse yet.")
    missing = [c for c in REQUIRED if c not in df.columns]
    rating_only = "rating" in df.columns and "design" in df.columns and set(df["design"]) == {"rating"}
    if "answer" not in df.columns and "correct" not in df.columns and not rating_only:
        missing.append("answer (or correct)")
    if missing:
        raise AnalysisInputError(
            f"the responses table lacks column(s) {', '.join(missing)}; "
            f"it has {', '.join(map(str, df.columns))}. See 'The tidy responses table' in docs/architecture.md."
        )
    out = pd.DataFrame(index=pd.RangeIndex(len(df)))
    for column in ("reader", "case"):
        if df[column].isna().any():
            raise AnalysisInputError(f"column {column!r} has empty values; every response needs a {column}.")
        out[column] = _as_ids(df[column])
    # The source image a case was rendered from (one source at several resolutions is one case for the
    # headline's variance); without the column every case is its own source.
    if "source" in df.columns:
        source = df["source"].reset_index(drop=True)
        source = source.where(source.notna() & (source.astype(str).str.strip() != ""), df["case"].reset_index(drop=True))
        out["source"] = _as_ids(source)
    else:
        out["source"] = out["case"]
    out["label"] = (df["label"].fillna("").astype(str).to_numpy() if "label" in df.columns else "")
    for column, default, allowed in (("study", "study", None), ("truth", "", TRUTHS), ("answer", "empty", ANSWERS),
                                     ("trial_kind", "main", TRIAL_KINDS), ("design", "single", DESIGNS)):
        out[column] = _as_label(df[column], default) if column in df else pd.Categorical([default] * len(df))
        if allowed:
            _check_values(out, column, allowed)

    resolution = _as_number(df.reset_index(drop=True), "resolution")
    if resolution.isna().any() or (resolution <= 0).any():
        raise AnalysisInputError("column 'resolution' must be a positive number (pixels) in every row.")
    out["resolution"] = resolution.to_numpy()
    if (out["resolution"] == np.round(out["resolution"])).all():
        out["resolution"] = out["resolution"].astype(np.int64)
    source = df.reset_index(drop=True)
    for column in NUMERIC:
        out[column] = _as_number(source, column).to_numpy() if column in source else np.nan
    if "trial" in source:
        out["trial"] = _as_number(source, "trial").to_numpy()
    else:
        out["trial"] = out.groupby("reader", sort=False, observed=True).cumcount().to_numpy() + 1.0
    single = (out["design"] == "single").to_numpy()
    out.loc[single & out["alternatives"].isna().to_numpy(), "alternatives"] = 2.0
    _check_alternatives(out)
    _derive_correct(out, source, single)
    # How exposures were chosen: none, fixed, constant (a few levels in random order) or staircase.
    out["exposure_mode"] = (source["exposure_mode"].fillna("").astype(str).str.strip().str.lower().to_numpy()
                            if "exposure_mode" in source else "")
    if "exposure_ok" in source:
        codes, uniques = pd.factorize(source["exposure_ok"], use_na_sentinel=True)
        truthy = [str(u).strip().lower() in ("1", "1.0", "true", "yes") for u in uniques]
        out["exposure_ok"] = np.asarray(truthy + [None], dtype=object)[codes]
    else:
        out["exposure_ok"] = None
    return out[list(COLUMNS)]


def _check_alternatives(out: pd.DataFrame) -> None:
    """Forced-choice rows need the number of images shown: a whole number >= 2 (chance is 1/m)."""
    choice = (out["design"] == "choice").to_numpy()
    m = out["alternatives"].to_numpy(float)[choice]
    bad = np.isnan(m) | (m < 2) | (m != np.round(m))
    if bad.any():
        row = int(np.flatnonzero(choice)[np.flatnonzero(bad)[0]])
        value = "missing" if np.isnan(m[bad][0]) else repr(float(m[bad][0]))
        raise AnalysisInputError(
            f"{int(bad.sum())} forced-choice row(s) (design 'choice') lack a valid 'alternatives' "
            f"(row {row}: {value}); it must be the number of images shown, a whole number >= 2, "
            "because chance accuracy is 1/alternatives. Export it with the responses."
        )


def _derive_correct(out: pd.DataFrame, source: pd.DataFrame, single: np.ndarray) -> None:
    answered = (out["answer"] != "empty").to_numpy()
    same = np.asarray(out["answer"], dtype=object) == np.asarray(out["truth"], dtype=object)
    from_answer = np.where(answered | single, same, np.nan)
    if "correct" in source:
        given = _as_number(source, "correct").to_numpy()
        if not np.isin(given[~np.isnan(given)], (0.0, 1.0)).all():
            raise AnalysisInputError("column 'correct' must hold 0 or 1 (or be empty).")
        correct = np.where(np.isnan(given), from_answer, given)
    else:
        correct = from_answer
    choice = (out["design"] == "choice").to_numpy()
    if np.isnan(correct[choice]).any():
        raise AnalysisInputError(
            "forced-choice rows need 'correct' (whether the reader picked the odd image); "
            "the web app computes it on the server: export it with the responses."
        )
    out["correct"] = correct.astype(float)


def main_trials(df: pd.DataFrame) -> pd.DataFrame:
    """Only the rows that count towards accuracy: ``trial_kind == 'main'``.

    Practice, catch and repeat trials are for training, attention checks and
    intra-reader consistency; they never enter the main accuracy.
    """
    return df[df["trial_kind"] == "main"]


def read_responses(path: str | Path) -> pd.DataFrame:
    """Read a responses table from ``.csv`` or ``.parquet`` and `validate` it."""
    path = Path(path)
    if not path.is_file():
        raise AnalysisInputError(f"responses file {str(path)!r} does not exist.")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            raw = pd.read_csv(path, low_memory=False)
        elif suffix in (".parquet", ".pq"):
            raw = pd.read_parquet(path)
        else:
            raise AnalysisInputError(f"{str(path)!r}: use a .csv or .parquet responses file.")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as error:
        raise AnalysisInputError(f"cannot read {str(path)!r}: {error}") from error
    except AnalysisInputError:
        raise
    except Exception as error:  # pyarrow raises its own error types for damaged files
        raise AnalysisInputError(f"cannot read {str(path)!r}: {error}") from error
    return validate(raw)

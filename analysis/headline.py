"""The headline: can readers tell synthetic from real at each resolution, with readers and images random?

One row per design, resolution and measure (see "The headline" in docs/architecture.md):

- single image: percent correct (balanced accuracy when a reader's classes are unbalanced) against
  1/2, and the AUC of the confidence-signed answer where confidence was asked;
- forced choice among m images: percent correct against 1/m;
- realism rating: the AUC of the rating (real rated above synthetic) against 1/2, and the follow-up
  "real or synthetic?" answers as balanced accuracy where they were asked.

Every figure is a reader-averaged U-statistic whose variance treats readers and images as random
(`analysis.ustat`: unbiased for crossed, split-plot and random-subset schedules alike), tested
against chance with Hillis degrees of freedom; p-values are Holm-adjusted over the resolutions of
one design and measure. The trend over resolution is the least-squares slope of the figure per
doubling of resolution, a contrast of the same U-statistics, so it too treats readers and images as
random. Images are identified by their source (``source`` column, else ``case``), so one source shown
at two resolutions is one case.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from analysis.proportions import holm
from analysis.ustat import ustat_mrmc

HEADLINE_COLUMNS = ["design", "resolution", "measure", "estimate", "chance", "ci_low", "ci_high", "p_value",
                    "p_value_holm", "n_readers", "n_cases", "method"]
TREND_COLUMNS = ["design", "measure", "slope_per_doubling", "se", "df", "ci_low", "ci_high", "p_value",
                 "n_readers", "resolutions", "method"]
METHOD = "U-statistic MRMC variance (readers and images random), Hillis df"


def schedule_kind(case_sets: list[bytes]) -> str:
    """How the readers' image sets relate at one resolution: crossed, split-plot, nested or partly shared.

    `case_sets` holds one id per reader of the images that reader read (`UStatMRMC.case_sets`).
    """
    distinct = set(case_sets)
    if len(distinct) == 1:
        return "fully crossed"
    arrays = [np.frombuffer(ids, dtype=np.int64) for ids in distinct]
    if sum(a.size for a in arrays) == np.unique(np.concatenate(arrays)).size:
        return "split-plot" if len(distinct) < len(case_sets) else "cases nested in readers"
    return "partially crossed"


def _case_ids(data: pd.DataFrame) -> pd.Series:
    if "source" in data.columns:
        source = data["source"].astype(object)
        usable = source.notna() & (source.astype(str).str.len() > 0)
        return pd.Series(np.where(usable, source.astype(str), data["case"].astype(str)), index=data.index)
    return data["case"].astype(str)


def _measures(part: pd.DataFrame, design: str):
    """(measure name, kernel, chance, long table for ustat_mrmc) for one design's main trials."""
    base = pd.DataFrame({"reader": part["reader"].astype(str), "case": part["_case"],
                         "modality": part["resolution"]})
    if design == "single":
        truth = (part["truth"] == "synthetic").astype(int)
        # Percent correct when each reader saw the classes equally often (then it equals balanced accuracy);
        # a reader with one class only at a resolution has no figure there and does not count.
        n_synthetic = truth.groupby([part["reader"], part["resolution"]], observed=True).agg(["sum", "size"])
        both = n_synthetic[(n_synthetic["sum"] > 0) & (n_synthetic["sum"] < n_synthetic["size"])]
        balanced = bool((both["sum"] * 2 == both["size"]).all())
        name = "percent correct" if balanced else "balanced accuracy"
        yield name, "balanced", 0.5, base.assign(truth=truth, correct=part["correct"].to_numpy(float))
        answered = part["answer"] != "empty"
        if answered.any() and part.loc[answered, "confidence"].notna().all():
            # Every "synthetic" answer above every "real" one, ordered by confidence within each (as
            # analysis.export.mrmc_scores): works on 1-5 and 0-100 scales alike.
            confidence = part["confidence"].to_numpy(float)
            top = np.nanmax(confidence[answered.to_numpy()])
            score = np.where(part["answer"] == "synthetic", top + 1 + confidence, top - confidence)
            yield ("AUC (answer signed by confidence)", "auc", 0.5,
                   base.assign(truth=truth, score=score)[answered.to_numpy()])
    elif design == "choice":
        for m, group in part.groupby("alternatives", observed=True):
            rows = base.loc[group.index]
            name = "percent correct" if part["alternatives"].nunique() == 1 else f"percent correct ({int(m)} images)"
            yield name, "pc", 1.0 / float(m), rows.assign(truth=0, correct=group["correct"].to_numpy(float))
    elif design == "rating":
        rated = part["rating"].notna().to_numpy()
        if rated.any():
            yield ("AUC (realism rating)", "auc", 0.5,
                   base.assign(truth=(part["truth"] == "real").astype(int), score=part["rating"].to_numpy(float))[rated])
        answered = (part["answer"] != "empty").to_numpy()
        if answered.any():
            truth = (part["truth"] == "synthetic").astype(int)
            correct = (part["answer"].astype(str) == part["truth"].astype(str)).astype(float)
            yield ("follow-up 'real or synthetic?' (balanced accuracy)", "balanced", 0.5,
                   base.assign(truth=truth, correct=correct)[answered])


READER_COLUMNS = ["design", "measure", "reader", "resolution", "estimate", "n"]


def headline(main: pd.DataFrame, *, alpha: float = 0.05, notes: list[str] | None = None,
             readers: list | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The headline rows and the trend over resolution, from validated main-trial rows.

    Returns two DataFrames with `HEADLINE_COLUMNS` and `TREND_COLUMNS`. Sentences explaining a
    missing figure are appended to `notes`; each reader's own figures (`READER_COLUMNS`) are appended
    to `readers` when a list is given.
    """
    notes = notes if notes is not None else []
    data = main.assign(_case=_case_ids(main))
    rows, trends = [], []
    present = set(data["design"].astype(str).unique())
    for design in [d for d in ("single", "choice", "rating") if d in present]:
        part = data[data["design"] == design]
        for measure, kernel, chance, table in _measures(part, design):
            try:
                result = ustat_mrmc(table, kernel=kernel)
            except ValueError as error:
                notes.append(f"The {design}-design {measure} could not be computed: {error}")
                continue
            for res in sorted(set(table["modality"]) - set(result.modalities)):
                notes.append(f"The {design}-design {measure} at {res} px is not given: no reader saw images of "
                             "both classes there." if kernel != "pc" else
                             f"The {design}-design {measure} at {res} px is not given.")
            if readers is not None:
                readers.extend({"design": design, "measure": measure, "reader": row.reader,
                                "resolution": row.modality, "estimate": row.fom, "n": row.n_cases}
                               for row in result.reader_foms.itertuples())
            kinds = {res: schedule_kind([ids for (_, m), ids in result.case_sets.items() if m == i])
                     for i, res in enumerate(result.modalities)}
            block = []
            for m, res in enumerate(result.modalities):
                weights = np.eye(len(result.modalities))[m]
                figure = result.contrast(weights, alpha=alpha, null=chance)
                n_readers = int(result.n_readers[m])
                if figure["se"] is None:
                    notes.append(f"The {design}-design {measure} at {res} px has no interval: it needs answers "
                                 f"from two or more readers with images of both classes (it has {n_readers}).")
                block.append({
                    "design": design, "resolution": res, "measure": measure, "estimate": figure["estimate"],
                    "chance": chance, "ci_low": figure["ci_low"], "ci_high": figure["ci_high"],
                    "p_value": figure["p_value"], "n_readers": n_readers, "n_cases": int(result.n_cases[m]),
                    "method": f"{METHOD}; {kinds[res]}",
                })
            p = [row["p_value"] for row in block]
            known = [i for i, value in enumerate(p) if value is not None]
            adjusted = holm(np.array([p[i] for i in known])) if known else []
            for i, row in enumerate(block):
                row["p_value_holm"] = float(adjusted[known.index(i)]) if i in known else None
            rows.extend(block)
            if len(result.modalities) >= 2:
                trends.append(_trend(result, design, measure, alpha))
    return (pd.DataFrame(rows, columns=HEADLINE_COLUMNS), pd.DataFrame(trends, columns=TREND_COLUMNS))


def _trend(result, design: str, measure: str, alpha: float) -> dict:
    x = np.log2(np.asarray(result.modalities, dtype=float))
    centred = x - x.mean()
    weights = centred / (centred**2).sum()
    figure = result.contrast(weights, alpha=alpha, null=0.0)
    complete = int((~np.isnan(result.reader_matrix).any(axis=1)).sum())
    return {"design": design, "measure": measure, "slope_per_doubling": figure["estimate"], "se": figure["se"],
            "df": figure["df"] if figure["df"] is None or math.isfinite(figure["df"]) else None,
            "ci_low": figure["ci_low"], "ci_high": figure["ci_high"], "p_value": figure["p_value"],
            "n_readers": complete, "resolutions": ", ".join(str(r) for r in result.modalities),
            "method": f"least-squares slope over log2(resolution); {METHOD}"}

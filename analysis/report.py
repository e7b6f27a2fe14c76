"""The study report: every figure of the analysis as one JSON-safe dict, plus HTML.

`build_report` is what the web app calls with the tidy responses table;
`write_report` writes ``report.json``, a self-contained ``report.html`` (plots
embedded as base64 PNG, plain CSS, readable offline; rendered by
`analysis.report_html.render_html`) and the PNG plots.

JSON safety: no NaN or infinity anywhere.  A figure that cannot be computed is
``None``, and ``report["notes"]`` carries a footnote saying which figure is
missing and why; a whole section that cannot be computed is ``None`` with a
note as well.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import norm

from analysis import designs, models, plots, proportions
from analysis.agreement import fleiss_kappa
from analysis.exclusions import Rule, apply_exclusions
from analysis.export import mrmc_scores
from analysis.mrmc import or_analysis
from analysis.report_html import render_html
from analysis.roc import delong, roc_curve
from analysis.sdt import dprime_table
from analysis.tidy import AnalysisInputError, main_trials, validate

FORMAT = "mirage-report/1"
MIXED_MODEL_MAX_ROWS = 20_000  # variational fit time grows fast: ~5 s at 20k rows, ~3 min at 180k

REASONS = {
    "p_value": "no responses in that group, or chance is undefined",
    "d_prime": "d' is not defined for that proportion correct",
    "hit_rate": "no trials of that class",
    "fa_rate": "no trials of that class",
    "sd": "a standard deviation needs two or more values",
    "ci_low": "an interval needs two or more independent values (readers or cases)",
    "ci_high": "an interval needs two or more independent values (readers or cases)",
    "statistic": "the test needs two or more readers with both classes and some non-zero differences",
    "auc": "both classes are needed for an AUC",
    "kappa": "kappa is undefined when every answer falls in one category",
    "se": "not estimable from these data",
    "boot_se": "a bootstrap SE needs two or more draws",
    "correct": "the rating design has no right or wrong answer; its 'accuracy' is the rating AUC",
}


# --------------------------------------------------------------------------- JSON safety


def json_safe(value):
    """A JSON-safe copy: NaN/inf -> None, numpy scalars -> Python, tuples -> lists."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [json_safe(v) for v in value]
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, (np.bool_,)):
        return bool(value)
    if value is None or isinstance(value, (str, int, bool)):
        return value
    if value is pd.NA or value is pd.NaT:
        return None
    return str(value)


def _records(table: pd.DataFrame, section: str, notes: list[str]) -> list[dict]:
    """Rows of `table` as JSON-safe dicts, with a footnote for every column that has missing values."""
    rows = [json_safe(row) for row in table.to_dict(orient="records")]
    for column in table.columns:
        missing = sum(1 for row in rows if row.get(column) is None)
        if missing:
            reason = REASONS.get(column, "not estimable from these data")
            notes.append(f"{section}: '{column}' is missing in {missing} of {len(rows)} row(s): {reason}.")
    return rows


class _Sections:
    """Runs report sections; a section that fails becomes None plus a footnote."""

    def __init__(self, notes: list[str]):
        self.notes = notes

    def _call(self, section: str, function, args, kwargs):
        """Run one section; numerical warnings (convergence, division by zero) become footnotes."""
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                return function(*args, **kwargs)
            except Exception as error:  # one failed figure must not lose the whole report
                self.notes.append(f"{section}: not computed ({type(error).__name__}: {error}).")
                return None
            finally:
                self._warnings(section, caught)

    def _warnings(self, section: str, caught) -> None:
        seen = set()
        for item in caught:
            if issubclass(item.category, (DeprecationWarning, PendingDeprecationWarning, FutureWarning)):
                warnings.warn_explicit(item.message, item.category, item.filename, item.lineno)
                continue
            text = f"{section}: warning ({item.category.__name__}): {' '.join(str(item.message).split())}"
            if text not in seen:
                seen.add(text)
                self.notes.append(text)

    def table(self, section: str, function, *args, **kwargs):
        result = self._call(section, function, args, kwargs)
        return None if result is None else _records(result, section, self.notes)

    def value(self, section: str, function, *args, **kwargs):
        result = self._call(section, function, args, kwargs)
        if result is None:
            return None
        result = json_safe(result)
        counts: dict[str, int] = {}
        for path in _missing_paths(result, ""):
            counts[path] = counts.get(path, 0) + 1
        for path, count in counts.items():
            reason = REASONS.get(path.rsplit(".", 1)[-1].rstrip("[]"), "not estimable from these data")
            self.notes.append(f"{section}: '{path}' is missing ({count}x): {reason}.")
        return result


def _missing_paths(value, path: str):
    """Paths of the None leaves in a nested dict/list (list positions written as [])."""
    if value is None:
        yield path or "value"
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _missing_paths(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for item in value:
            yield from _missing_paths(item, f"{path}[]")


# --------------------------------------------------------------------------- per design


def _signed_confidence(data: pd.DataFrame) -> pd.Series:
    """Score for "synthetic": +confidence when answered synthetic, -confidence when real."""
    sign = np.where(data["answer"] == "synthetic", 1.0, -1.0)
    return pd.Series(sign * data["confidence"].to_numpy(float), index=data.index)


def _per_group(data: pd.DataFrame, key: str, compute, *, figures, section: str, notes: list[str],
               label: str = "resolution") -> pd.DataFrame:
    """One row per value of `key`: ``compute(part)``'s dict of figures, computed group by group.

    A group whose input cannot be analysed (``ValueError``, e.g. one class only or a
    single reader) becomes a row with NaN in every column of `figures` (None in the
    report) and a footnote naming the group and the reason; the other groups are kept.
    """
    rows = []
    for value, part in data.groupby(key, sort=True, observed=True):
        try:
            rows.append({label: value, **compute(part)})
        except ValueError as error:
            notes.append(f"{section}: {label} {value} not computed ({' '.join(str(error).split())}).")
            rows.append({label: value, **{name: np.nan for name in figures}})
    return pd.DataFrame(rows, columns=[label, *figures])


def _roc_single(data: pd.DataFrame, *, notes: list[str], section: str = "single.roc") -> pd.DataFrame:
    def compute(part):
        result = delong((part["truth"] == "synthetic").to_numpy().astype(int), _signed_confidence(part))
        return {"n": len(part), **result}

    table = _per_group(data, "resolution", compute, figures=["n", "auc", "se", "ci_low", "ci_high"],
                       section=section, notes=notes)
    table["n"] = data.groupby("resolution", sort=True, observed=True).size().to_numpy()
    return table


def _mrmc_by_resolution(data: pd.DataFrame, *, notes: list[str], section: str = "single.mrmc") -> pd.DataFrame:
    """Reader-averaged AUC per resolution with the OR/Hillis random-reader interval."""
    def compute(part):
        result = or_analysis(part, fom="auc")
        single = result.single.iloc[0]
        return {"n_readers": len(result.readers), "n_cases": result.n_signal + result.n_noise,
                "auc": single["estimate"], "se": single["se"], "df": single["df"],
                "ci_low": single["ci_low"], "ci_high": single["ci_high"]}

    scores = mrmc_scores(data)
    table = _per_group(scores, "modality", compute,
                       figures=["n_readers", "n_cases", "auc", "se", "df", "ci_low", "ci_high"],
                       section=section, notes=notes)
    grouped = scores.groupby("modality", sort=True, observed=True)
    table["n_readers"] = grouped["reader"].nunique().to_numpy()
    table["n_cases"] = grouped["case"].nunique().to_numpy()
    return table


KAPPA_FIGURES = ["kappa", "se", "z", "p_value", "n_items", "n_raters", "n_items_dropped"]


def _kappa_by_resolution(data: pd.DataFrame, *, notes: list[str],
                         section: str = "single.fleiss_kappa") -> pd.DataFrame:
    table = _per_group(data, "resolution",
                       lambda part: fleiss_kappa(part[["reader", "case", "answer"]].astype(str)),
                       figures=KAPPA_FIGURES, section=section, notes=notes)
    counts = ["n_items", "n_raters", "n_items_dropped"]
    table[counts] = table[counts].astype("Int64")  # counts stay integers next to a row without figures
    return table


def _dprime(data: pd.DataFrame, *, by: str, notes: list[str], where: str) -> pd.DataFrame:
    """`dprime_table` per group; a group without both classes is a row without d' plus a footnote."""
    table = dprime_table(data, by=[by], incomplete="nan")
    for value, n_signal, n_noise in zip(table[by], table["n_signal"], table["n_noise"]):
        lacking = [name for count, name in ((n_signal, "synthetic"), (n_noise, "real")) if count == 0]
        if lacking:
            notes.append(f"{where}: {by} {value} not computed (no {' or '.join(map(repr, lacking))} "
                         "images; d' needs both classes).")
    return table


def _rating_rows(data: pd.DataFrame) -> pd.DataFrame:
    """By-resolution rows for the rating design: the rating AUC as a 2AFC proportion correct."""
    table = designs.rating_auc(data)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (table["auc"] - 0.5) / table["se"]
    return pd.DataFrame({
        "resolution": table["resolution"], "measure": "rating AUC (real rated above synthetic)",
        "n": table["n_real"] + table["n_synthetic"], "correct": np.nan, "accuracy": table["auc"],
        "chance": 0.5, "ci_low": table["ci_low"], "ci_high": table["ci_high"],
        "p_value": 2 * norm.sf(np.abs(z)), "p_value_holm": proportions.holm(2 * norm.sf(np.abs(z))),
    })


def _single_design(data, run: _Sections, *, n_boot, seed, interim, alpha) -> dict:
    out = {
        "by_resolution": run.table("single.by_resolution", proportions.proportion_table, data, alpha=alpha),
        "pooled": run.table("single.pooled", proportions.proportion_table, data, by=(), alpha=alpha),
        "per_reader": run.table("single.per_reader", proportions.proportion_table, data, by="reader", alpha=alpha),
        "per_reader_resolution": run.table("single.per_reader_resolution", proportions.proportion_table,
                                           data, by=("reader", "resolution"), alpha=alpha),
        "class_rates": run.table("single.class_rates", proportions.class_rates, data, alpha=alpha),
        "class_rates_pooled": run.table("single.class_rates_pooled", proportions.class_rates, data, by=(),
                                        alpha=alpha),
        "fool_rates": run.table("single.fool_rates", proportions.fool_rates, data),
    }
    answered = data[data["answer"] != "empty"]
    out["d_prime"] = run.table("single.d_prime", _dprime, answered, by="resolution", notes=run.notes,
                               where="single.d_prime")
    out["d_prime_per_reader"] = run.table("single.d_prime_per_reader", _dprime, answered, by="reader",
                                          notes=run.notes, where="single.d_prime_per_reader")
    out["fleiss_kappa"] = run.table("single.fleiss_kappa", _kappa_by_resolution, answered, notes=run.notes)
    out["hype_infinity"] = run.table("single.hype_infinity", designs.hype_infinity, data, alpha=alpha)
    if data["exposure_ms"].notna().any():
        out["hype_time"] = run.table("single.hype_time", designs.hype_time, data, alpha=alpha)
    if answered["confidence"].notna().all() and len(answered):
        out["roc"] = run.table("single.roc", _roc_single, answered, notes=run.notes)
        run.notes.append("single.roc pools all readers' answers (score: +confidence for 'synthetic', -confidence "
                         "for 'real') and treats them as independent; single.mrmc gives the reader-random "
                         "(Obuchowski-Rockette, Hillis df) interval of the reader-averaged AUC.")
        out["mrmc"] = run.table("single.mrmc", _mrmc_by_resolution, answered, notes=run.notes)
    else:
        run.notes.append("single: no ROC/AUC or MRMC: confidence was not recorded for every answer.")
    out.update(_models(data, run, "single", n_boot=n_boot, seed=seed, interim=interim, alpha=alpha))
    return out


def _choice_design(data, run: _Sections, *, n_boot, seed, interim, alpha) -> dict:
    out = {
        "by_resolution": run.table("choice.by_resolution", designs.choice_table, data, alpha=alpha),
        "pooled": run.table("choice.pooled", designs.choice_table, data, by=(), alpha=alpha),
        "per_reader": run.table("choice.per_reader", proportions.proportion_table, data, by="reader",
                                chance=None, alpha=alpha),
        "position_bias": run.table("choice.position_bias", designs.position_bias, data),
        "fleiss_kappa": run.table("choice.fleiss_kappa", designs.choice_agreement, data),
    }
    out.update(_models(data, run, "choice", n_boot=n_boot, seed=seed, interim=interim, alpha=alpha))
    return out


def _rating_design(data, run: _Sections, *, alpha, **_) -> dict:
    return {
        "by_resolution": run.table("rating.by_resolution", _rating_rows, data),
        "summary": run.table("rating.summary", designs.rating_summary, data),
        "per_reader": run.table("rating.per_reader", designs.rating_summary, data, by="reader"),
        "distribution": run.table("rating.distribution", designs.rating_distribution, data),
        "wilcoxon": run.table("rating.wilcoxon", designs.rating_test, data),
        "auc": run.table("rating.auc", designs.rating_auc, data, alpha=alpha),
    }


def _models(data, run: _Sections, design: str, *, n_boot, seed, interim, alpha) -> dict:
    out = {"bootstrap": run.table(f"{design}.bootstrap", models.bootstrap_accuracy, data,
                                  n_boot=n_boot, seed=seed, alpha=alpha)}
    if data["resolution"].nunique() >= 2:
        out["trend"] = run.value(f"{design}.trend", _trend, data, alpha=alpha)
    else:
        run.notes.append(f"{design}.trend: no trend over resolution: all responses are at one resolution.")
    if interim:
        return out
    if len(data) <= MIXED_MODEL_MAX_ROWS:
        out["mixed_model"] = run.table(f"{design}.mixed_model", models.mixed_logistic, data, alpha=alpha)
        run.notes.append(f"{design}.mixed_model: mean-field variational Bayes understates the posterior SD "
                         "of the fixed effects; read its intervals as lower bounds and use the bootstrap or "
                         "GEE intervals for inference.")
    else:
        run.notes.append(f"{design}.mixed_model: skipped for {len(data):,} responses (limit "
                         f"{MIXED_MODEL_MAX_ROWS:,}); see the GEE and the two-way bootstrap instead.")
    out["gee"] = run.table(f"{design}.gee", models.gee_accuracy, data, alpha=alpha)
    return out


def _trend(data: pd.DataFrame, *, alpha: float) -> dict:
    table = models.trend_test(data, alpha=alpha)
    armitage, slope = table.iloc[0], table.iloc[1]
    return {
        "cochran_armitage": {"scores": "log2(resolution)", "z": armitage["statistic"],
                             "p_value": armitage["p_value"]},
        "logistic_slope": {"per": "doubling of resolution", "estimate": slope["estimate"], "se": slope["se"],
                           "z": slope["statistic"], "p_value": slope["p_value"], "ci_low": slope["ci_low"],
                           "ci_high": slope["ci_high"], "odds_ratio": float(np.exp(slope["estimate"]))},
    }


DESIGN_SECTIONS = {"single": _single_design, "choice": _choice_design, "rating": _rating_design}


def build_report(df: pd.DataFrame, *, exclusions=(), n_boot: int = 2000, seed: int = 0,
                 interim: bool = False, alpha: float = 0.05) -> dict:
    """All figures of a study as a JSON-safe dict.

    Parameters
    ----------
    df : DataFrame
        The tidy responses table (validated here).
    exclusions : iterable of str
        Named reader exclusion rules (`analysis.exclusions`), e.g. ``["failed_catch:0.8"]``.
    n_boot, seed : int
        Two-way bootstrap draws and random seed.
    interim : bool
        A look while the study runs: skips the slow models and says so.
    alpha : float
        1 - confidence level of every interval.

    Returns
    -------
    dict
        ``format, interim, meta, exclusions, by_resolution`` (single design),
        ``designs`` (``{design: {"by_resolution": [...], ...}}`` for every design
        present) and ``notes`` (footnotes for every missing figure).
    """
    exclusions = [exclusions] if isinstance(exclusions, (str, Rule)) else list(exclusions)
    data = validate(df)
    notes: list[str] = []
    run = _Sections(notes)
    kept, excluded = apply_exclusions(data, exclusions)
    main = main_trials(kept)
    if len(main) == 0:
        raise AnalysisInputError("no main trials left to analyse (after exclusions, practice and catch "
                                 "trials are not counted).")
    report = {
        "format": FORMAT,
        "interim": bool(interim),
        "meta": {
            "n_responses": len(data), "n_main_responses": len(main), "n_readers": main["reader"].nunique(),
            "n_cases": main["case"].nunique(), "resolutions": sorted(main["resolution"].unique().tolist()),
            "designs": sorted(main["design"].unique().astype(str).tolist()),
            "trial_kinds": {str(k): int(v) for k, v in kept["trial_kind"].value_counts().items() if v},
            "n_boot": n_boot, "seed": seed, "alpha": alpha,
        },
        "exclusions": {"rules": [str(rule) for rule in exclusions],
                       "excluded": _records(excluded, "exclusions", notes)},
        "designs": {},
    }
    if interim:
        notes.append("Interim report: the study is still running; figures will change, and p-values are "
                     "not adjusted for repeated looks. Mixed model and GEE are skipped.")
    for design in report["meta"]["designs"]:
        part = main[main["design"] == design]
        report["designs"][design] = DESIGN_SECTIONS[design](part, run, n_boot=n_boot, seed=seed,
                                                           interim=interim, alpha=alpha)
    repeats = kept[(kept["trial_kind"] == "repeat") & (kept["design"] == "single")]
    if len(repeats):
        report["designs"].setdefault("single", {})["repeat_agreement"] = run.table(
            "single.repeat_agreement", designs.repeat_agreement,
            kept[kept["design"] == "single"], alpha=alpha)
    report["by_resolution"] = report["designs"].get("single", {}).get("by_resolution") or []
    if "single" not in report["designs"]:
        notes.append("by_resolution is empty: no single-image trials (see designs).")
    report["notes"] = notes
    return json_safe(report)


# --------------------------------------------------------------------------- plots


def report_plots(report: dict, df: pd.DataFrame | None = None) -> dict[str, bytes]:
    """PNG plots for a report: accuracy by resolution, per reader, ROC curves."""
    out = {}
    series = {(f"{name} (AUC)" if name == "rating" else name): part["by_resolution"]
              for name, part in report["designs"].items() if part.get("by_resolution")}
    if series:
        out["accuracy_by_resolution.png"] = plots.accuracy_plot(series)
    for name, part in report["designs"].items():
        if part.get("per_reader") and "accuracy" in part["per_reader"][0]:
            out[f"per_reader_{name}.png"] = plots.reader_plot(part["per_reader"], title=f"Accuracy per reader ({name})")
    if df is not None:
        curves = _roc_curves(main_trials(validate(df)))
        if curves:
            out["roc.png"] = plots.roc_plot(curves)
    return out


def _roc_curves(main: pd.DataFrame) -> dict:
    curves = {}
    single = main[(main["design"] == "single") & (main["answer"] != "empty")]
    if len(single) and single["confidence"].notna().all():
        for resolution, part in single.groupby("resolution", sort=True):
            if part["truth"].nunique() == 2:
                curve = roc_curve((part["truth"] == "synthetic").to_numpy().astype(int), _signed_confidence(part))
                curves[f"single {resolution} px"] = curve
    rated = main[(main["design"] == "rating") & main["rating"].notna()]
    for resolution, part in rated.groupby("resolution", sort=True):
        if part["truth"].nunique() == 2:
            curves[f"rating {resolution} px"] = roc_curve((part["truth"] == "real").to_numpy().astype(int),
                                                          part["rating"].to_numpy(float))
    return curves


def write_report(report: dict, df: pd.DataFrame | None, out_dir: str | Path) -> dict[str, Path]:
    """Write ``report.json``, ``report.html`` and the PNG plots into `out_dir`; returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pngs = report_plots(report, df)
    paths = {"report.json": out / "report.json", "report.html": out / "report.html"}
    paths["report.json"].write_text(json.dumps(report, indent=1, allow_nan=False))
    paths["report.html"].write_text(render_html(report, pngs), encoding="utf-8")
    for name, png in pngs.items():
        paths[name] = out / name
        paths[name].write_bytes(png)
    return paths

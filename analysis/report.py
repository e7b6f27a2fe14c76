"""The study report: every figure of the analysis as one JSON-safe dict, plus HTML.

`build_report` is what the web app calls with the tidy responses table;
`write_report` writes ``report.json``, a self-contained ``report.html`` (plots
embedded as base64 PNG, plain CSS, readable offline; rendered by
`analysis.report_html.render_html`) and the PNG plots.

The report leads with ``headline`` (`analysis.headline`): per design, resolution and
measure, a figure whose interval and p-value treat readers and images as random.
Everything else is a declared list of `Section`s, each a table from its own module
with a title and what it describes; the runner computes the sections that apply to
each design, and a section that cannot be computed becomes None with a note.

JSON safety: no NaN or infinity anywhere. A figure that cannot be computed is
``None``, and ``report["notes"]`` carries a sentence saying which figure is missing
and why.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import designs, models, plots, proportions
from analysis.agreement import kappa_by
from analysis.exclusions import Rule, apply_exclusions
from analysis.headline import headline
from analysis.mrmc import mrmc_by_modality
from analysis.report_html import render_html
from analysis.roc import roc_curve
from analysis.sdt import dprime_table
from analysis.tidy import AnalysisInputError, main_trials, validate

FORMAT = "mirage-report/2"

LABELS = {
    "p_value": "the p-value", "d_prime": "d'", "hit_rate": "the hit rate", "fa_rate": "the false-alarm rate",
    "sd": "the standard deviation", "ci_low": "the interval", "ci_high": "the interval",
    "statistic": "the test statistic", "auc": "the AUC", "kappa": "kappa", "se": "the standard error",
    "boot_se": "the bootstrap standard error", "estimate": "the estimate", "df": "the degrees of freedom",
    "accuracy": "the accuracy", "p_value_holm": "the Holm-adjusted p-value",
}
REASONS = {
    "d_prime": "d' is not defined when a hit or false-alarm rate is 0 or 1 without a correction",
    "hit_rate": "there were no synthetic images in that group",
    "fa_rate": "there were no real images in that group",
    "sd": "a standard deviation needs two or more values",
    "ci_low": "an interval needs two or more readers with images of both classes",
    "ci_high": "an interval needs two or more readers with images of both classes",
    "p_value": "a test needs two or more readers with images of both classes",
    "p_value_holm": "a test needs two or more readers with images of both classes",
    "auc": "an AUC needs images of both classes",
    "kappa": "kappa is undefined when every answer falls in one category",
    "boot_se": "a bootstrap standard error needs two or more draws",
}

METHOD_NOTES = [
    "The headline treats readers and images as random: each figure is the mean of the readers' own figures, "
    "its variance is the U-statistic MRMC estimate (Gallas 2006, as in iMRMC), unbiased for crossed, split-plot "
    "and random-subset schedules, and its test against chance uses Hillis degrees of freedom. P-values are "
    "Holm-adjusted over the resolutions of one design and measure.",
    "Tables marked 'per reading' treat every answer as independent; they describe the answers and are not "
    "tests: readers who see the same images agree without any skill, which made their binomial tests reject "
    "in 22% of simulated studies at chance.",
    "GEE clustered by reader, the mixed logistic model, the pooled DeLong and Wilcoxon tests and the "
    "Cochran-Armitage trend test are no longer reported: each ignores that readers share images, and they "
    "gave 23-41% false positives in simulated studies at chance. The headline and its trend row replace them.",
    "Fleiss' kappa is given without a p-value: shared image effects make readers agree with no skill at all, "
    "so a test against zero agreement says nothing about whether readers can tell the classes apart.",
]


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


def _records(table: pd.DataFrame, title: str, notes: list[str]) -> list[dict]:
    """Rows of `table` as JSON-safe dicts, with a sentence for every figure that is missing somewhere."""
    rows = [json_safe(row) for row in table.to_dict(orient="records")]
    said = set()
    for column in table.columns:
        missing = sum(1 for row in rows if row.get(column) is None)
        label = LABELS.get(column)
        if not missing or label is None or label in said:
            continue
        said.add(label)
        where = "every row" if missing == len(rows) else f"{missing} of {len(rows)} rows"
        reason = REASONS.get(column, "it cannot be estimated from these answers")
        notes.append(f"{title}: {label} is missing in {where}, because {reason}.")
    return rows


@dataclass(frozen=True)
class Section:
    """One table of the report: where it goes, what it says, and the function that computes it."""

    key: str
    title: str
    designs: tuple[str, ...]
    compute: Callable[..., pd.DataFrame | None]
    applies: Callable[[pd.DataFrame], str | None] = lambda data: None  # a reason to skip, or None
    full_only: bool = False  # skipped in an interim look
    describes: str = ""


class _Context:
    def __init__(self, *, alpha, n_boot, seed, notes):
        self.alpha, self.n_boot, self.seed, self.notes = alpha, n_boot, seed, notes

    def run(self, section: Section, data: pd.DataFrame, design: str):
        """One section: a failure or a numerical warning becomes a sentence in the notes."""
        title = f"{section.title} ({DESIGN_NAMES[design]})"
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                table = section.compute(data, self)
            except (ValueError, ZeroDivisionError, np.linalg.LinAlgError) as error:
                self.notes.append(f"{title} could not be computed: {' '.join(str(error).split())}")
                return None
            finally:
                self._warnings(title, caught)
        return None if table is None else _records(table, title, self.notes)

    def _warnings(self, title: str, caught) -> None:
        seen = set()
        for item in caught:
            if issubclass(item.category, (DeprecationWarning, PendingDeprecationWarning, FutureWarning)):
                warnings.warn_explicit(item.message, item.category, item.filename, item.lineno)
                continue
            text = f"{title}: the computation warned that {' '.join(str(item.message).split())}"
            if text not in seen:
                seen.add(text)
                self.notes.append(text)


DESIGN_NAMES = {"single": "single image", "choice": "forced choice", "rating": "realism rating"}
PER_READING = ["p_value", "p_value_holm"]


def _per_reading(table: pd.DataFrame) -> pd.DataFrame:
    """A descriptive per-reading table: no test (readings of shared images are not independent)."""
    return table.drop(columns=[c for c in PER_READING if c in table.columns])


def _answered(data: pd.DataFrame) -> pd.DataFrame:
    return data[data["answer"] != "empty"]


def _needs_confidence(data: pd.DataFrame) -> str | None:
    answered = _answered(data)
    if len(answered) and answered["confidence"].notna().all():
        return None
    return "confidence was not asked for every answer"


def _exposure_kind(data: pd.DataFrame) -> str:
    """'constant' (every reader saw the same few levels), 'staircase' (exposures that differ by reader), 'fixed'
    (one exposure) or 'none'."""
    timed = data[data["exposure_ms"].notna()]
    if timed.empty:
        return "none"
    stated = set(timed["exposure_mode"].astype(str)) - {""}
    if len(stated) == 1:
        return stated.pop()
    if timed["exposure_ms"].nunique() == 1:
        return "fixed"
    levels = timed.groupby("reader", observed=True)["exposure_ms"].agg(lambda e: frozenset(e.unique()))
    if levels.nunique() == 1 and 2 <= len(levels.iloc[0]) <= 8:
        return "constant"
    return "staircase"


def _needs_staircase(data: pd.DataFrame) -> str | None:
    return None if _exposure_kind(data) == "staircase" else "no adaptive staircase"


def _needs_exposure_levels(data: pd.DataFrame) -> str | None:
    return None if _exposure_kind(data) == "constant" else "not a few fixed exposure levels"


def _fooling(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["called_real"] > 0].head(50).reset_index(drop=True)


def _kappa(data, ctx):
    return kappa_by(_answered(data), by="resolution", with_test=False)


def _choice_kappa(data, ctx):
    return designs.choice_agreement(data).drop(columns=["z", "p_value"], errors="ignore")


def _mrmc(data, ctx):
    return mrmc_by_modality(_answered(data), alpha=ctx.alpha)


SECTIONS: list[Section] = [
    Section("by_resolution", "Accuracy per resolution, per reading", ("single",),
            lambda d, c: _per_reading(proportions.proportion_table(d, alpha=c.alpha)),
            describes="Answers pooled over readers; the interval assumes independent readings."),
    Section("pooled", "Accuracy over all resolutions, per reading", ("single",),
            lambda d, c: _per_reading(proportions.proportion_table(d, by=(), alpha=c.alpha))),
    Section("per_reader", "Accuracy per reader", ("single",),
            lambda d, c: _per_reading(proportions.proportion_table(d, by="reader", alpha=c.alpha))),
    Section("per_reader_resolution", "Accuracy per reader and resolution", ("single",),
            lambda d, c: _per_reading(proportions.proportion_table(d, by=("reader", "resolution"), alpha=c.alpha))),
    Section("class_rates", "Accuracy on real and on synthetic images, per reading", ("single",),
            lambda d, c: proportions.class_rates(d, alpha=c.alpha)),
    Section("class_rates_pooled", "Accuracy on real and on synthetic images, all resolutions", ("single",),
            lambda d, c: proportions.class_rates(d, by=(), alpha=c.alpha)),
    Section("fool_rates", "Most convincing synthetic images", ("single",),
            lambda d, c: _fooling(proportions.fool_rates(d)),
            describes="Synthetic images called real by at least one reader, most often first."),
    Section("d_prime", "Sensitivity d' and criterion per resolution", ("single",),
            lambda d, c: dprime_table(_answered(d), by=["resolution"], incomplete="nan")),
    Section("d_prime_per_reader", "Sensitivity d' and criterion per reader", ("single",),
            lambda d, c: dprime_table(_answered(d), by=["reader"], incomplete="nan")),
    Section("fleiss_kappa", "Agreement between readers (Fleiss' kappa)", ("single",), _kappa),
    Section("hype_infinity", "HYPE-infinity (share of answers fooled)", ("single",),
            lambda d, c: designs.hype_infinity(d, alpha=c.alpha)),
    Section("hype_time", "HYPE-time: exposure reached by each reader's staircase", ("single",),
            lambda d, c: designs.hype_time(d, alpha=c.alpha), applies=_needs_staircase),
    Section("exposure_curve", "Accuracy against exposure time (method of constant stimuli)", ("single", "choice"),
            lambda d, c: designs.exposure_curve(d, n_boot=min(c.n_boot, 200), seed=c.seed, alpha=c.alpha),
            applies=_needs_exposure_levels,
            describes="Readers' mean accuracy at each exposure and the exposure at which they reach halfway "
                      "between chance and perfect, with an interval from resampling readers."),
    Section("mrmc", "Reader-averaged AUC by Obuchowski-Rockette (jackknife), fully crossed resolutions",
            ("single",), _mrmc, applies=_needs_confidence),
    Section("by_resolution", "Accuracy per resolution, per reading", ("choice",),
            lambda d, c: _per_reading(designs.choice_table(d, alpha=c.alpha))),
    Section("pooled", "Accuracy over all resolutions, per reading", ("choice",),
            lambda d, c: _per_reading(designs.choice_table(d, by=(), alpha=c.alpha))),
    Section("per_reader", "Accuracy per reader", ("choice",),
            lambda d, c: _per_reading(proportions.proportion_table(d, by="reader", chance=None, alpha=c.alpha))),
    Section("position_bias", "Choices by position on screen", ("choice",), lambda d, c: designs.position_bias(d)),
    Section("fleiss_kappa", "Agreement between readers on finding the odd image (Fleiss' kappa)", ("choice",),
            _choice_kappa),
    Section("summary", "Realism ratings per resolution", ("rating",), lambda d, c: designs.rating_summary(d)),
    Section("per_reader", "Realism ratings per reader", ("rating",),
            lambda d, c: designs.rating_summary(d, by="reader")),
    Section("distribution", "Distribution of realism ratings", ("rating",),
            lambda d, c: designs.rating_distribution(d)),
    Section("by_resolution", "Rating AUC per resolution, per reading", ("rating",),
            lambda d, c: designs.rating_auc(d, alpha=c.alpha)[["resolution", "n_real", "n_synthetic", "auc"]]),
    Section("bootstrap", "Accuracy with readers and images resampled (two-way bootstrap)", ("single", "choice"),
            lambda d, c: models.bootstrap_accuracy(d, n_boot=c.n_boot, seed=c.seed, alpha=c.alpha),
            describes="A robustness check of the headline interval; conservative, and without a p-value."),
]


# --------------------------------------------------------------------------- the runner


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
        A look while the study runs: said in the notes (p-values are not adjusted for looks).
    alpha : float
        1 - confidence level of every interval.

    Returns
    -------
    dict
        ``format, interim, meta, exclusions, headline`` (rows of `analysis.headline.HEADLINE_COLUMNS`),
        ``headline_trend``, ``designs`` (``{design: {section key: rows}}`` for every design present),
        ``sections`` (each section's title and description), ``by_resolution`` (the single design's
        per-reading table) and ``notes`` (sentences: methods, and every missing figure with its reason).
    """
    exclusions = [exclusions] if isinstance(exclusions, (str, Rule)) else list(exclusions)
    data = validate(df)
    notes: list[str] = list(METHOD_NOTES)
    ctx = _Context(alpha=alpha, n_boot=n_boot, seed=seed, notes=notes)
    kept, excluded = apply_exclusions(data, exclusions)
    main = main_trials(kept)
    if len(main) == 0:
        raise AnalysisInputError("no main trials left to analyse (after exclusions, practice and catch "
                                 "trials are not counted).")
    present = sorted(main["design"].unique().astype(str).tolist())
    report = {
        "format": FORMAT,
        "interim": bool(interim),
        "meta": {
            "n_responses": len(data), "n_main_responses": len(main), "n_readers": main["reader"].nunique(),
            "n_cases": main["case"].nunique(), "resolutions": sorted(main["resolution"].unique().tolist()),
            "designs": present,
            "trial_kinds": {str(k): int(v) for k, v in kept["trial_kind"].value_counts().items() if v},
            "n_boot": n_boot, "seed": seed, "alpha": alpha,
        },
        "exclusions": {"rules": [str(rule) for rule in exclusions],
                       "excluded": _records(excluded, "Excluded readers", notes)},
    }
    if interim:
        notes.append("This is an interim report: the study is still running, the figures will change, and the "
                     "p-values are not adjusted for repeated looks.")
    per_reader: list[dict] = []
    rows, trend = headline(main, alpha=alpha, notes=notes, readers=per_reader)
    report["headline"] = _records(rows, "Headline", notes)
    report["headline_trend"] = _records(trend, "Trend over resolution", notes)
    report["headline_per_reader"] = [json_safe(row) for row in per_reader]
    report["designs"] = {}
    report["sections"] = {}
    for design in present:
        part = main[main["design"] == design]
        out = report["designs"][design] = {}
        for section in SECTIONS:
            if design not in section.designs or (interim and section.full_only):
                continue
            reason = section.applies(part)
            if reason:
                continue
            out[section.key] = ctx.run(section, part, design)
            report["sections"].setdefault(design, {})[section.key] = {"title": section.title,
                                                                        "describes": section.describes}
    repeats = kept[(kept["trial_kind"] == "repeat") & (kept["design"] == "single")]
    if len(repeats):
        section = Section("repeat_agreement", "Agreement of readers with themselves on repeated images",
                          ("single",), lambda d, c: designs.repeat_agreement(d, alpha=c.alpha))
        report["designs"].setdefault("single", {})["repeat_agreement"] = ctx.run(
            section, kept[kept["design"] == "single"], "single")
        report["sections"].setdefault("single", {})["repeat_agreement"] = {"title": section.title,
                                                                           "describes": ""}
    report["by_resolution"] = report["designs"].get("single", {}).get("by_resolution") or []
    report["notes"] = notes
    return json_safe(report)


# --------------------------------------------------------------------------- plots


def headline_series(report: dict) -> dict[str, list[dict]]:
    """The headline as plot series: one line per design and measure over resolution."""
    series: dict[str, list[dict]] = {}
    for row in report.get("headline") or []:
        name = f"{DESIGN_NAMES.get(row['design'], row['design'])}: {row['measure']}"
        series.setdefault(name, []).append({"resolution": row["resolution"], "accuracy": row["estimate"],
                                            "ci_low": row["ci_low"], "ci_high": row["ci_high"],
                                            "chance": row["chance"]})
    return series


def report_plots(report: dict, df: pd.DataFrame | None = None) -> dict[str, bytes]:
    """PNG plots: the headline figure by resolution with its intervals, per reader, ROC curves."""
    out = {}
    series = headline_series(report)
    if series:
        out["accuracy_by_resolution.png"] = plots.accuracy_plot(series, title="Headline by resolution")
    for name, part in report["designs"].items():
        if part.get("per_reader") and "accuracy" in part["per_reader"][0]:
            out[f"per_reader_{name}.png"] = plots.reader_plot(part["per_reader"],
                                                              title=f"Accuracy per reader ({DESIGN_NAMES[name]})")
    if df is not None:
        curves = _roc_curves(main_trials(validate(df)), report.get("headline") or [])
        if curves:
            out["roc.png"] = plots.roc_plot(curves)
    return out


def _roc_curves(main: pd.DataFrame, rows: list[dict]) -> dict:
    """Pooled ROC curves per resolution, labelled with the headline (reader-averaged) AUC."""
    auc = {(row["design"], row["resolution"]): row["estimate"] for row in rows if row["measure"].startswith("AUC")}
    curves = {}
    single = main[(main["design"] == "single") & (main["answer"] != "empty")]
    if len(single) and single["confidence"].notna().all():
        sign = np.where(single["answer"] == "synthetic", 1.0, -1.0)
        single = single.assign(_score=sign * single["confidence"].to_numpy(float))
        for resolution, part in single.groupby("resolution", sort=True):
            if part["truth"].nunique() == 2:
                label = f"single {resolution} px" + _auc_label(auc.get(("single", resolution)))
                curves[label] = roc_curve((part["truth"] == "synthetic").to_numpy().astype(int), part["_score"])
    rated = main[(main["design"] == "rating") & main["rating"].notna()]
    for resolution, part in rated.groupby("resolution", sort=True):
        if part["truth"].nunique() == 2:
            label = f"rating {resolution} px" + _auc_label(auc.get(("rating", resolution)))
            curves[label] = roc_curve((part["truth"] == "real").to_numpy().astype(int), part["rating"].to_numpy(float))
    return curves


def _auc_label(value) -> str:
    return "" if value is None else f" (AUC {value:.2f})"


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

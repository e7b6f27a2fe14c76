"""Glue between the study's responses and `analysis`: the web page, the API and the downloads share it."""
from __future__ import annotations

import hashlib
import json
from typing import Any

from django.core.cache import cache
from django.db.models import Count, Max

from .export import responses_frame
from .models import Response, Study, StudyStatus

EXCLUSION_CHOICES = [
    ("coordinator", "Readers excluded by the coordinator"),
    ("failed_practice", "Readers below the practice pass mark (analysis rule failed_practice)"),
]
WEB_BOOTSTRAP_DRAWS = 1000


def reader_names(study: Study) -> dict[str, str]:
    """Reader code (as in exports and reports) -> the name coordinators gave the reader."""
    return {reader.code: reader.name for reader in study.readers.only("ordinal", "name")}


def study_frame(study: Study, exclusions=()):
    df = responses_frame(study)
    if "coordinator" in exclusions and not df.empty:
        excluded = {reader.code for reader in study.readers.filter(excluded=True).only("ordinal")}
        df = df[~df["reader"].isin(excluded)]
    return df


def study_report(study: Study, *, exclusions=(), df=None) -> dict[str, Any]:
    """The analysis report, recomputed only when answers, exclusions or the study's state change.

    The results page polls while a study runs; between two answers the cached report is served.
    """
    stamp = Response.objects.filter(trial__reader__study=study).aggregate(n=Count("id"), last=Max("received_at"))
    excluded = list(study.readers.filter(excluded=True).values_list("pk", flat=True))
    key = "mirage-report:" + hashlib.sha256(json.dumps(
        [study.pk, study.status, sorted(exclusions), excluded, stamp["n"], str(stamp["last"])]).encode()).hexdigest()
    report = cache.get(key)
    if report is None:
        report = _build(study, exclusions, study_frame(study, exclusions) if df is None else df)
        cache.set(key, report, timeout=3600)
    return report


def _build(study: Study, exclusions, df) -> dict[str, Any]:
    from analysis.report import build_report
    from analysis.tidy import AnalysisInputError

    rules = [rule for rule in exclusions if rule != "coordinator"]
    interim = study.status != StudyStatus.CLOSED
    if df.empty:
        return {"empty": True, "interim": interim, "notes": ["No answers yet."]}
    try:
        return build_report(df, exclusions=rules, n_boot=WEB_BOOTSTRAP_DRAWS, seed=study.seed % (2**32),
                            interim=interim)
    except AnalysisInputError as exc:
        return {"empty": True, "interim": interim, "notes": [str(exc)]}


def study_report_html(study: Study, *, exclusions=()) -> str:
    from analysis.report import render_html, report_plots

    df = study_frame(study, exclusions)  # read once: the report and its plots share it
    report = study_report(study, exclusions=exclusions, df=df)
    title = f"{study.name}: reader study report"
    if report.get("empty"):
        return render_html(report, {}, title=title)
    return render_html(report, report_plots(report, df), title=title)


def study_imrmc(study: Study) -> str:
    from analysis.export import to_imrmc

    return to_imrmc(responses_frame(study))


def accuracy_plot_base64(report: dict[str, Any]) -> str | None:
    """The headline against resolution with its intervals and the chance line, for embedding in the page."""
    import base64

    from analysis.plots import accuracy_plot
    from analysis.report import headline_series

    series = headline_series(report)
    return base64.b64encode(accuracy_plot(series, title="Headline by resolution")).decode() if series else None


DESIGN_NAMES = {"single": "Single image: real or synthetic?", "choice": "Forced choice", "rating": "Realism rating"}


def _verdict(row: dict[str, Any]) -> str:
    if row.get("p_value_holm") is None:
        return "no test: too few readers"
    if row["p_value_holm"] < 0.05:
        return "better than chance" if row["estimate"] > row["chance"] else "worse than chance"
    return "not shown to differ from chance"


def headline_groups(study: Study, report: dict[str, Any]) -> list[dict[str, Any]]:
    """The headline per design and measure: rows with a plain verdict, the method, and the readers' own figures."""
    names = reader_names(study)
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for row in report.get("headline") or []:
        key = (row["design"], row["measure"])
        group = groups.setdefault(key, {"design": DESIGN_NAMES.get(row["design"], row["design"]),
                                        "measure": row["measure"], "rows": [], "methods": set(), "readers": {}})
        group["rows"].append({**row, "verdict": _verdict(row)})
        group["methods"].add(row["method"])
    for row in report.get("headline_per_reader") or []:
        group = groups.get((row["design"], row["measure"]))
        if group is not None:
            name = names.get(str(row["reader"]), str(row["reader"]))
            group["readers"].setdefault((str(row["reader"]), name), {})[row["resolution"]] = row["estimate"]
    out = []
    for group in groups.values():
        resolutions = [row["resolution"] for row in group["rows"]]
        readers = [{"code": code, "name": name, "values": [values.get(res) for res in resolutions]}
                   for (code, name), values in sorted(group["readers"].items())]
        out.append({**group, "methods": "; ".join(sorted(group["methods"])), "resolutions": resolutions,
                    "readers": readers})
    return out


def results_sections(study: Study, report: dict[str, Any]) -> list[dict[str, Any]]:
    """Per design: the descriptive tables the results page shows below the headline."""
    sections = []
    for design, part in (report.get("designs") or {}).items():
        sections.append({
            "design": DESIGN_NAMES.get(design, design),
            "class_rates": (part.get("class_rates_pooled") or [None])[0],
            "d_prime": part.get("d_prime") or [], "bootstrap": part.get("bootstrap") or [],
            "fool_rates": (part.get("fool_rates") or [])[:10], "fleiss_kappa": part.get("fleiss_kappa") or [],
            "exposure_curve": part.get("exposure_curve") or [],
        })
    return sections

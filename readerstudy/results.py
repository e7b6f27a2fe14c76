"""Glue between the study's responses and `analysis`: the web page, the API and the downloads share it."""
from __future__ import annotations

from typing import Any

from .export import responses_frame
from .models import Study, StudyStatus

EXCLUSION_CHOICES = [
    ("coordinator", "Readers excluded by the coordinator"),
    ("failed_practice", "Readers below the practice pass mark (analysis rule failed_practice)"),
]
WEB_BOOTSTRAP_DRAWS = 1000


def study_frame(study: Study, exclusions=()):
    df = responses_frame(study)
    if "coordinator" in exclusions and not df.empty:
        excluded = set(study.readers.filter(excluded=True).values_list("pk", flat=True))
        df = df[~df["reader"].isin(excluded)]
    return df


def study_report(study: Study, *, exclusions=()) -> dict[str, Any]:
    from analysis.report import build_report
    from analysis.tidy import AnalysisInputError

    df = study_frame(study, exclusions)
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
    from analysis.plots import report_plots
    from analysis.report import render_html

    report = study_report(study, exclusions=exclusions)
    if report.get("empty"):
        return render_html(report, {})
    return render_html(report, report_plots(report, study_frame(study, exclusions)))


def study_imrmc(study: Study) -> str:
    from analysis.export import to_imrmc

    return to_imrmc(responses_frame(study))

"""Analyst pages: live results with intervals and tests, and every download (CSV streams)."""
from __future__ import annotations

import json

from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_safe

from ..export import csv_lines, data_dictionary_csv
from ..models import Study, StudyStatus
from ..results import (EXCLUSION_CHOICES, accuracy_plot_base64, headline_groups, results_sections, study_imrmc,
                       study_report, study_report_html)
from ..roles import analyst_required


def _exclusions(request) -> list[str]:
    return [rule for rule in request.GET.getlist("exclude") if rule in dict(EXCLUSION_CHOICES)]


@analyst_required
@require_safe
def studies(request):
    return render(request, "analyst/studies.html", {"studies": Study.objects.select_related("pool")})


@analyst_required
@require_safe
def results(request, pk: int):
    study = get_object_or_404(Study, pk=pk)
    exclusions = _exclusions(request)
    report = study_report(study, exclusions=exclusions)
    template = "analyst/_results.html" if request.htmx else "analyst/results.html"
    return render(request, template, {
        "study": study, "report": report, "exclusions": exclusions, "exclusion_choices": EXCLUSION_CHOICES,
        "interim": study.status != StudyStatus.CLOSED, "query": request.GET.urlencode(),
        "headline": headline_groups(study, report), "sections": results_sections(study, report),
        "plot": accuracy_plot_base64(report),
    })


@analyst_required
@require_safe
def responses_csv(request, pk: int):
    study = get_object_or_404(Study, pk=pk)
    response = StreamingHttpResponse(csv_lines(study), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="mirage-study-{study.pk}-responses.csv"'
    return response


@analyst_required
@require_safe
def data_dictionary(request):
    """What each column of the responses export means (column, description), to keep beside the data."""
    response = HttpResponse(data_dictionary_csv(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="mirage-responses-data-dictionary.csv"'
    return response


@analyst_required
@require_safe
def report_json(request, pk: int):
    study = get_object_or_404(Study, pk=pk)
    report = study_report(study, exclusions=_exclusions(request))
    response = HttpResponse(json.dumps(report, indent=2), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="mirage-study-{study.pk}-report.json"'
    return response


@analyst_required
@require_safe
def report_html(request, pk: int):
    """The full report as a page of its own: it opens in the browser, and "Save as" keeps its name."""
    study = get_object_or_404(Study, pk=pk)
    exclusions = _exclusions(request)
    report = study_report(study, exclusions=exclusions)
    if report.get("empty"):
        response = render(request, "analyst/report_empty.html", {"study": study, "report": report})
    else:
        response = HttpResponse(study_report_html(study, exclusions=exclusions),
                                content_type="text/html; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="mirage-study-{study.pk}-report.html"'
    return response


@analyst_required
@require_safe
def imrmc(request, pk: int):
    from analysis.tidy import AnalysisInputError

    study = get_object_or_404(Study, pk=pk)
    try:
        text = study_imrmc(study)
    except AnalysisInputError as exc:
        return HttpResponse(f"No iMRMC file for this study: {exc}", content_type="text/plain; charset=utf-8",
                            status=400)
    response = HttpResponse(text, content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="mirage-study-{study.pk}.imrmc"'
    return response

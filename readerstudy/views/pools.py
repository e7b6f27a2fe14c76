"""Coordinator pages for pools: counts per resolution and class, sample images, the audit, the quality report."""
from __future__ import annotations

import itertools

from django.contrib import messages
from django.db.models import Count
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_POST, require_safe
from django_htmx.http import HttpResponseClientRefresh

from ..models import Pool, PoolImage, QualityRun, QualityStatus
from ..quality import (REPORT_FILES, QualityReportError, current_run, latest_report, quality_table, report_file,
                       start_quality_report)
from ..roles import coordinator_required

# The stored quality.html in the page's frame: no scripts, no requests, no same-origin rights; only its own
# inline style and the figures embedded in it as data URLs. Framed by this site only.
REPORT_CSP = "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'self'"


@coordinator_required
@require_safe
def pool_detail(request, pk: int):
    pool = get_object_or_404(Pool, pk=pk)
    counts = (pool.images.values("resolution", "image_class", "role").annotate(n=Count("id"))
              .order_by("resolution", "image_class"))
    table: dict[int, dict[str, int]] = {}
    for row in counts:
        column = "catch" if row["role"] == "catch" else row["image_class"]
        table.setdefault(row["resolution"], {})[column] = row["n"]
    largest = max(table) if table else None
    samples = []
    if largest:  # both classes side by side (ordered by class, the first 24 were all real)
        by_class = [list(pool.images.filter(resolution=largest, image_class=c, role="main").order_by("uid")[:12])
                    for c in ("real", "synthetic")]
        samples = [image for pair in itertools.zip_longest(*by_class) for image in pair if image is not None]
    run, report = current_run(pool), latest_report(pool)
    return render(request, "coordinator/pool_detail.html", {
        "pool": pool, "table": sorted(table.items()), "samples": samples, "settings": readable_settings(pool.settings),
        "run": run, "report": report, "quality": quality_table(pool, report) if report else [],
    })


def readable_settings(values: dict) -> list[tuple[str, str]]:
    """The pool's build settings as (name, value) pairs for a definition list."""
    def text(value) -> str:
        if isinstance(value, bool):
            return "yes" if value else "no"
        if value is None or value == "":
            return "—"
        if isinstance(value, (list, tuple)):
            return ", ".join(text(item) for item in value) or "—"
        if isinstance(value, dict):
            return "; ".join(f"{key}: {text(item)}" for key, item in value.items()) or "—"
        return str(value)

    return [(str(key).replace("_", " ").capitalize(), text(value)) for key, value in (values or {}).items()]


@coordinator_required
@require_POST
def pool_quality_start(request, pk: int):
    pool = get_object_or_404(Pool, pk=pk)
    try:
        run, started = start_quality_report(pool, user=request.user)
    except QualityReportError as exc:
        messages.error(request, f"The quality report was not started: {exc}")
        return redirect("pool-detail", pk=pool.pk)
    if started:
        messages.success(request, "Quality report queued: this page shows its progress and the report when it is "
                                  "done.")
    else:
        messages.info(request, f"A quality report of this pool is already {run.get_status_display().lower()}: "
                               "no second one was started.")
    return redirect("pool-detail", pk=pool.pk)


@coordinator_required
@require_safe
def pool_quality_progress(request, pk: int):
    """The progress box, polled by htmx while a run is queued or running; then the whole page reloads."""
    pool = get_object_or_404(Pool, pk=pk)
    run = current_run(pool)
    if not request.htmx:
        return redirect("pool-detail", pk=pool.pk)
    if run is None or not run.active:
        return HttpResponseClientRefresh()
    return render(request, "coordinator/_quality_progress.html", {"pool": pool, "run": run})


@coordinator_required
@require_safe
@xframe_options_sameorigin
def pool_quality_file(request, pk: int, run_pk: int, name: str):
    """A finished report's file: quality.html for the page's sandboxed frame, the others as downloads."""
    run = get_object_or_404(QualityRun, pk=run_pk, pool_id=pk, status=QualityStatus.DONE)
    response = quality_file_response(run, name)
    if response is None:
        raise Http404("This report has no such file.")
    return response


def quality_file_response(run: QualityRun, name: str) -> HttpResponse | None:
    """A finished run's stored file as the page and the API serve it (None where it has none of that name):
    quality.html sandboxed (REPORT_CSP), whether framed or opened on its own; the others as downloads."""
    data = report_file(run, name) if name in REPORT_FILES else None
    if data is None:
        return None
    response = HttpResponse(data, content_type=REPORT_FILES[name])
    response["Cache-Control"] = "private, max-age=3600"  # a run's files never change
    if name == "quality.html":
        response["Content-Security-Policy"] = REPORT_CSP
    else:
        response["Content-Disposition"] = f'attachment; filename="mirage-pool-{run.pool_id}-quality-{run.pk}-{name}"'
    return response


@coordinator_required
@require_safe
def pool_image(request, pk: int, uid: str):
    image = get_object_or_404(PoolImage.objects.select_related("pool"), pool_id=pk, uid=uid)
    return HttpResponse(image.path.read_bytes(), content_type="image/png")

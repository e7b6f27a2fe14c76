"""Coordinator pages: pools, study design, invitations and live progress (htmx fragments)."""
from __future__ import annotations

import math
from datetime import datetime

from django.contrib import messages
from django.core import signing
from django.db.models import Count, Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from ..forms import InviteForm, PowerForm, StudyForm
from ..markdown import render_markdown
from ..models import Pool, Reader, Study, TrialKind
from ..roles import coordinator_required
from ..scheduling import ScheduleError
from ..services import (ActionRefused, DesignFrozen, change_status, copy_study, exclude_reader, invite_reader,
                        remind_reader, revoke_reader, save_design)


@coordinator_required
@require_safe
def dashboard(request):
    studies = Study.objects.select_related("pool").annotate(
        n_readers=Count("readers", distinct=True),
        n_finished=Count("readers", filter=Q(readers__finished_at__isnull=False), distinct=True))
    pools = Pool.objects.annotate(n_images=Count("images"))
    return render(request, "coordinator/dashboard.html", {"studies": studies, "pools": pools})


@coordinator_required
@require_http_methods(["GET", "POST"])
def study_edit(request, pk: int | None = None):
    study = get_object_or_404(Study, pk=pk) if pk else None
    if study is not None and study.is_frozen:
        messages.error(request, "This study has answers, so its design is frozen. Copy it to make a changed study.")
        return redirect("study-detail", pk=study.pk)
    form = StudyForm(request.POST or None, instance=study)
    if request.method == "POST" and form.is_valid():
        study = form.save(commit=False)
        if study.created_by_id is None:
            study.created_by = request.user
        try:
            save_design(study)
        except DesignFrozen as exc:
            messages.error(request, str(exc))
            return redirect("study-detail", pk=study.pk)
        except ScheduleError as exc:
            form.add_error(None, f"The invited readers' schedules cannot be rebuilt: {exc}")
            return render(request, "coordinator/study_form.html", {"form": form, "study": study}, status=400)
        messages.success(request, f"Study “{study.name}” saved.")
        return redirect("study-detail", pk=study.pk)
    return render(request, "coordinator/study_form.html", {"form": form, "study": study},
                  status=400 if request.method == "POST" else 200)


@coordinator_required
@require_POST
def study_copy(request, pk: int):
    copy = copy_study(get_object_or_404(Study, pk=pk), request.user)
    messages.success(request, "Study copied. Its design can be changed until its first answer.")
    return redirect("study-edit", pk=copy.pk)


@coordinator_required
@require_POST
def study_status(request, pk: int, action: str):
    study = get_object_or_404(Study, pk=pk)
    try:
        change_status(study, action)
    except ActionRefused as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Study is now {study.get_status_display().lower()}.")
    return redirect("study-detail", pk=pk)


def _reader_rows(study: Study):
    return study.readers.select_related("user").annotate(
        total=Count("trials", filter=~Q(trials__kind=TrialKind.PRACTICE)),
        done=Count("trials", filter=~Q(trials__kind=TrialKind.PRACTICE) & Q(trials__response__isnull=False)),
    ).order_by("created_at", "pk")


@coordinator_required
@require_safe
def study_detail(request, pk: int):
    study = get_object_or_404(Study.objects.select_related("pool"), pk=pk)
    config = [(study._meta.get_field(f).verbose_name, _display(study, f)) for f in study.design_fields_that_apply()]
    return render(request, "coordinator/study_detail.html", {
        "study": study, "config": config, "readers": _reader_rows(study), "invite_form": InviteForm(),
        "invite_stamp": _invite_stamp(study), "layout_warnings": study.layout_warnings(),
    })


def _display(study: Study, field: str):
    if field in ("instructions", "consent"):
        return render_markdown(getattr(study, field)) if getattr(study, field) else "—"
    value = getattr(study, field)
    getter = getattr(study, f"get_{field}_display", None)
    if getter is not None:
        return getter()
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if value is None or value == "":
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return value


@coordinator_required
@require_safe
def study_progress(request, pk: int):
    """The readers table, polled by htmx every few seconds on the study page."""
    study = get_object_or_404(Study, pk=pk)
    return render(request, "coordinator/_readers.html", {"study": study, "readers": _reader_rows(study)})


def _form_errors(form) -> str:
    """A form's errors in one line, each after the label of its field."""
    return "; ".join(" ".join(errors) if name not in form.fields else f"{form[name].label}: {' '.join(errors)}"
                     for name, errors in form.errors.items())


INVITE_STAMP_SALT = "mirage.coordinator.invite-form"


def _invite_stamp(study: Study) -> str:
    """A signed mark of when this invitation form was shown: a second submission of it is told apart."""
    return signing.dumps({"study": study.pk, "at": timezone.now().isoformat()}, salt=INVITE_STAMP_SALT)


def _form_shown_at(request, study: Study) -> datetime | None:
    try:
        stamp = signing.loads(request.POST.get("form_stamp", ""), salt=INVITE_STAMP_SALT)
    except signing.BadSignature:
        return None  # a script or an old page: nothing to compare with
    if not isinstance(stamp, dict) or stamp.get("study") != study.pk:
        return None
    return datetime.fromisoformat(stamp["at"])


@coordinator_required
@require_POST
def reader_invite(request, pk: int):
    """Invite a reader; the same form sent twice (a double click) invites them once."""
    study = get_object_or_404(Study, pk=pk)
    form = InviteForm(request.POST)
    if not form.is_valid():
        return _readers_response(request, study, error=_form_errors(form))
    try:
        reader, _ = invite_reader(study, form.cleaned_data["name"], form.cleaned_data["email"],
                                  user=form.cleaned_data["username"], shown_at=_form_shown_at(request, study),
                                  link_for=lambda r: request.build_absolute_uri(reverse("reader-start", args=[r.token])))
    except ActionRefused as exc:
        return _readers_response(request, study, error=str(exc))
    sent = " and their invitation e-mailed" if reader.email or (reader.user and reader.user.email) else ""
    return _readers_response(request, study, notice=f"{reader.name} invited{sent}: their personal link is in the "
                                                    "table.", new_form=True)


@coordinator_required
@require_POST
def reader_action(request, pk: int, reader_pk: int, action: str):
    reader = get_object_or_404(Reader.objects.select_related("study", "user"), pk=reader_pk, study_id=pk)
    study = reader.study
    try:
        if action == "revoke":
            revoke_reader(reader)
            return _readers_response(request, study, notice=f"{reader.name}’s link was withdrawn.")
        if action == "exclude":
            reader = exclude_reader(reader, request.POST.get("reason", ""))
            return _readers_response(request, study, notice=f"{reader.name} is excluded ({reader.exclusion_reason}).")
        if action == "remind":
            email = remind_reader(reader, request.build_absolute_uri(reverse("reader-start", args=[reader.token])))
            return _readers_response(request, study, notice=f"Reminder sent to {reader.name} ({email}).")
    except ActionRefused as exc:
        return _readers_response(request, study, error=str(exc))
    return HttpResponse(f"Unknown action {action!r}.", status=400)


def _readers_response(request, study: Study, *, error: str | None = None, notice: str | None = None,
                      new_form: bool = False):
    """After a reader action: with htmx the readers table and the notice above it; else the study page.

    With htmx the outcome is said in the notice line only (not stored as a message too, which would come
    back on the next page); the polled table itself carries no notice, so a refresh never wipes one.
    """
    if not request.htmx:
        if error:
            messages.error(request, error)
        if notice:
            messages.success(request, notice)
        return redirect("study-detail", pk=study.pk)
    context = {"study": study, "readers": _reader_rows(study), "error": error, "notice": notice}
    if new_form:  # a fresh, empty form with a new stamp: the next invitation is a new one
        context.update(invite_form=InviteForm(), invite_stamp=_invite_stamp(study))
    return render(request, "coordinator/_readers_changed.html", context)


@coordinator_required
@require_safe
def study_power(request, pk: int):
    """Power of this design at one resolution for an expected accuracy (htmx fragment on the study page)."""
    from analysis.tidy import AnalysisInputError

    from ..results import study_power as study_power_plan

    study = get_object_or_404(Study, pk=pk)
    form = PowerForm(request.GET or None, initial={"readers": max(study.readers.count(), 8)})
    context = {"study": study, "form": form}
    if study.design == "rating":
        context["error"] = "A realism rating has no chance level; plan its sample size on the rating comparison."
        return render(request, "coordinator/_power.html", context)
    if not form.is_valid():
        return render(request, "coordinator/_power.html", context)
    try:
        planned = study_power_plan(study, accuracy=form.cleaned_data["accuracy"], readers=form.cleaned_data["readers"])
    except AnalysisInputError as exc:
        context["error"] = str(exc)
        return render(request, "coordinator/_power.html", context)
    if math.isnan(planned["power"]["power"]):
        context["error"] = ("The planner could not compute the power of this design for that accuracy; "
                            "try an accuracy closer to chance.")
        return render(request, "coordinator/_power.html", context)
    context.update(planned)
    return render(request, "coordinator/_power.html", context)

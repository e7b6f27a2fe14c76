"""Coordinator pages: pools, study design, invitations and live progress (htmx fragments)."""
from __future__ import annotations

from django.contrib import messages
from django.core.mail import send_mail
from django.db.models import Count, Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from ..forms import InviteForm, PowerForm, StudyForm
from ..models import Pool, PoolImage, Reader, Study, StudyStatus, TrialKind
from ..roles import coordinator_required
from ..scheduling import ScheduleError
from ..services import DesignFrozen, copy_study, create_reader, save_design

TRANSITIONS = {
    "open": ({StudyStatus.DRAFT, StudyStatus.PAUSED}, StudyStatus.OPEN),
    "pause": ({StudyStatus.OPEN}, StudyStatus.PAUSED),
    "close": ({StudyStatus.OPEN, StudyStatus.PAUSED, StudyStatus.DRAFT}, StudyStatus.CLOSED),
}


@coordinator_required
def dashboard(request):
    studies = Study.objects.select_related("pool").annotate(
        n_readers=Count("readers", distinct=True),
        n_finished=Count("readers", filter=Q(readers__finished_at__isnull=False), distinct=True))
    pools = Pool.objects.annotate(n_images=Count("images"))
    return render(request, "coordinator/dashboard.html", {"studies": studies, "pools": pools})


@coordinator_required
def pool_detail(request, pk: int):
    pool = get_object_or_404(Pool, pk=pk)
    counts = (pool.images.values("resolution", "image_class", "role").annotate(n=Count("id"))
              .order_by("resolution", "image_class"))
    table: dict[int, dict[str, int]] = {}
    for row in counts:
        column = "catch" if row["role"] == "catch" else row["image_class"]
        table.setdefault(row["resolution"], {})[column] = row["n"]
    largest = max(table) if table else None
    samples = pool.images.filter(resolution=largest).order_by("image_class", "uid")[:24] if largest else []
    return render(request, "coordinator/pool_detail.html", {"pool": pool, "table": sorted(table.items()),
                                                            "samples": samples})


@coordinator_required
def pool_image(request, pk: int, uid: str):
    image = get_object_or_404(PoolImage.objects.select_related("pool"), pool_id=pk, uid=uid)
    return HttpResponse(image.path.read_bytes(), content_type="image/png")


@coordinator_required
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
    allowed, target = TRANSITIONS.get(action, (set(), None))
    if target is None or study.status not in allowed:
        messages.error(request, f"A {study.get_status_display().lower()} study cannot be asked to {action}.")
    else:
        Study.objects.filter(pk=pk).update(status=target)
        messages.success(request, f"Study is now {target.label.lower()}.")
    return redirect("study-detail", pk=pk)


def _reader_rows(study: Study):
    return study.readers.select_related("user").annotate(
        total=Count("trials", filter=~Q(trials__kind=TrialKind.PRACTICE)),
        done=Count("trials", filter=~Q(trials__kind=TrialKind.PRACTICE) & Q(trials__response__isnull=False)),
    ).order_by("created_at", "pk")


@coordinator_required
def study_detail(request, pk: int):
    study = get_object_or_404(Study.objects.select_related("pool"), pk=pk)
    config = [(study._meta.get_field(f).verbose_name, _display(study, f)) for f in Study.DESIGN_FIELDS]
    return render(request, "coordinator/study_detail.html", {
        "study": study, "config": config, "readers": _reader_rows(study), "invite_form": InviteForm(),
        "layout_warnings": study.layout_warnings(),
    })


def _display(study: Study, field: str):
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
def study_progress(request, pk: int):
    """The readers table, polled by htmx every few seconds on the study page."""
    study = get_object_or_404(Study, pk=pk)
    return render(request, "coordinator/_readers.html", {"study": study, "readers": _reader_rows(study)})


@coordinator_required
@require_POST
def reader_invite(request, pk: int):
    study = get_object_or_404(Study, pk=pk)
    form = InviteForm(request.POST)
    error = None
    if study.status == StudyStatus.CLOSED:
        error = "This study is closed; no new readers can join."
    elif form.is_valid():
        try:
            create_reader(study, form.cleaned_data["name"], form.cleaned_data["email"],
                          user=form.cleaned_data["username"])
        except ScheduleError as exc:
            error = str(exc)
    else:
        error = "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items())
    if error:
        messages.error(request, error)
    if request.htmx:
        return render(request, "coordinator/_readers.html", {"study": study, "readers": _reader_rows(study),
                                                             "error": error})
    return redirect("study-detail", pk=pk)


@coordinator_required
@require_POST
def reader_action(request, pk: int, reader_pk: int, action: str):
    reader = get_object_or_404(Reader, pk=reader_pk, study_id=pk)
    now = timezone.now()
    if action == "revoke":
        Reader.objects.filter(pk=reader.pk, revoked_at__isnull=True).update(revoked_at=now)
    elif action == "exclude":
        reason = request.POST.get("reason", "").strip()[:300] or "excluded by the coordinator"
        Reader.objects.filter(pk=reader.pk).update(excluded=True, exclusion_reason=reason)
    elif action == "remind":
        link = request.build_absolute_uri(reverse("reader-start", args=[reader.token]))
        email = reader.email or (reader.user.email if reader.user else "")
        state = ("'s link was withdrawn" if reader.revoked_at else " is excluded" if reader.excluded
                 else " has finished" if reader.finished_at else "")
        if not state and reader.study.status != StudyStatus.OPEN:
            state = f": the study is {reader.study.get_status_display().lower()}, so the link would not let them read"
        if state:
            messages.error(request, f"{reader.name}{state}: no reminder was sent.")
            return _readers_response(request, reader.study)
        if not email:
            messages.error(request, f"{reader.name} has no e-mail address, so no reminder was sent: "
                                    f"send them their link by hand: {link}")
            return _readers_response(request, reader.study)
        try:
            send_mail(f"Reminder: {reader.study.name}", f"Please continue the reading study here: {link}",
                      None, [email], fail_silently=False)
        except OSError as exc:
            messages.error(request, f"The reminder to {email} could not be sent ({exc}); "
                                    f"send them their link by hand: {link}")
            return _readers_response(request, reader.study)
        Reader.objects.filter(pk=reader.pk).update(reminded_at=now)
    else:
        return HttpResponse(f"Unknown action {action!r}.", status=400)
    return _readers_response(request, reader.study)


def _readers_response(request, study: Study):
    if request.htmx:
        error = "; ".join(str(m) for m in messages.get_messages(request) if m.level_tag == "error") or None
        return render(request, "coordinator/_readers.html", {"study": study, "readers": _reader_rows(study),
                                                             "error": error})
    return redirect("study-detail", pk=study.pk)


@coordinator_required
def study_power(request, pk: int):
    """Power of this design per resolution for an expected accuracy (htmx fragment on the study page)."""
    from analysis.planning import achieved_power, design_table
    from analysis.tidy import AnalysisInputError

    study = get_object_or_404(Study, pk=pk)
    form = PowerForm(request.GET or None, initial={"readers": max(study.readers.count(), 8)})
    context = {"study": study, "form": form}
    if study.design == "rating":
        context["error"] = "A realism rating has no chance level; plan its sample size on the rating comparison."
    elif form.is_valid():
        chance = 1 / study.alternatives if study.design == "choice" else 0.5
        p1, readers, icc = (form.cleaned_data[k] for k in ("accuracy", "readers", "icc"))
        try:
            context["power"] = achieved_power(readers, study.trials_per_resolution, p1, chance=chance, icc=icc)
            table = design_table(p1, chance=chance, icc=icc, trials_per_reader=(study.trials_per_resolution,))
            context["needed"] = table.to_dict("records")[0]
        except AnalysisInputError as exc:
            context["error"] = str(exc)
        context["chance"] = chance
    return render(request, "coordinator/_power.html", context)

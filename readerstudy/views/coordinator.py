"""Coordinator pages: pools, study design, invitations and live progress (htmx fragments)."""
from __future__ import annotations

from urllib.parse import unquote
from datetime import datetime

from django.contrib import messages
from django.core import signing
from django.db.models import Count, Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from django import forms

from ..export import spreadsheet_safe
from ..forms import InviteForm, PowerForm, StudyForm
from ..invitations import MAX_READERS, ReaderListError, invite_readers, parse_reader_list, read_reader_file
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
        "bulk_form": BulkInviteForm(), "invite_stamp": _invite_stamp(study), "layout_warnings": study.layout_warnings() + study.practice_warnings(),
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


class BulkInviteForm(forms.Form):
    MAX_FILE_BYTES = 256 * 1024

    readers = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 5, "placeholder": "Ada Lovelace, ada@example.org\nR017"}),
        label="Readers, one per line",
        help_text="Name or code, then optionally an e-mail address and a Mirage account, separated by commas or "
                  "tabs (a pasted spreadsheet works). Readers with an e-mail address are sent their link.")
    file = forms.FileField(required=False, label="or a CSV file",
                           help_text="Columns name, email, account (a header line names them).")

    def clean(self):
        cleaned = super().clean()
        upload = cleaned.get("file")
        text = cleaned.get("readers", "")
        if upload is not None:
            if upload.size > self.MAX_FILE_BYTES:
                raise forms.ValidationError(f"The file is larger than {self.MAX_FILE_BYTES // 1024} KB; a list of "
                                            f"{MAX_READERS} readers fits in far less.")
            if text.strip():
                raise forms.ValidationError("Paste a list or choose a file, not both.")
        try:
            if upload is not None:
                text = read_reader_file(upload.read())
            cleaned["rows"] = parse_reader_list(text)
        except ReaderListError as exc:
            raise forms.ValidationError("Nobody was invited: " + "; ".join(exc.problems) + ".") from None
        return cleaned


@coordinator_required
@require_POST
def reader_invite_bulk(request, pk: int):
    """Invite a pasted list or a CSV of readers: all of them or, when anything is wrong, nobody."""
    study = get_object_or_404(Study, pk=pk)
    form = BulkInviteForm(request.POST, request.FILES)
    if not form.is_valid():
        return _readers_response(request, study, error=_form_errors(form))
    try:
        readers, failed = invite_readers(
            study, form.cleaned_data["rows"], shown_at=_form_shown_at(request, study),
            link_for=lambda r: request.build_absolute_uri(reverse("reader-start", args=[r.token])))
    except ActionRefused as exc:
        return _readers_response(request, study, error=str(exc))
    if not readers:
        return _readers_response(request, study, notice="These readers were invited already (the list was sent "
                                                        "twice); nobody new was invited.", new_form=True)
    mailed = sum(1 for r in readers if r.email or (r.user and r.user.email)) - len(failed)
    notice = f"{len(readers)} reader{'s' if len(readers) != 1 else ''} invited"
    notice += f", {mailed} invitation e-mail{'s' if mailed != 1 else ''} sent." if mailed else "."
    return _readers_response(request, study, notice=notice, error=" ".join(failed) or None, new_form=True)


@coordinator_required
@require_safe
def reader_links_csv(request, pk: int):
    """Every reader's personal link as CSV, for a mail merge; links are credentials, so nothing caches it."""
    import csv

    study = get_object_or_404(Study, pk=pk)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="study-{study.pk}-reader-links.csv"'
    response["Cache-Control"] = "no-store"
    writer = csv.writer(response)
    writer.writerow(["name", "email", "account", "link", "state"])
    for r in _reader_rows(study):
        state = ("link revoked" if r.revoked_at else "excluded" if r.excluded else "finished" if r.finished_at
                 else "reading" if r.started_at else "invited")
        writer.writerow([spreadsheet_safe(value) for value in (r.name, r.email, r.user.get_username() if r.user else "")]
                        + [request.build_absolute_uri(reverse("reader-start", args=[r.token])), state])
    return response


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
            reason = request.POST.get("reason") or _prompt_answer(request)
            reader = exclude_reader(reader, reason)
            return _readers_response(request, study, notice=f"{reader.name} is excluded ({reader.exclusion_reason}).")
        if action == "remind":
            email = remind_reader(reader, request.build_absolute_uri(reverse("reader-start", args=[reader.token])))
            return _readers_response(request, study, notice=f"Reminder sent to {reader.name} ({email}).")
    except ActionRefused as exc:
        return _readers_response(request, study, error=str(exc))
    return HttpResponse(f"Unknown action {action!r}.", status=400)


def _prompt_answer(request) -> str:
    """What the person typed into an hx-prompt; htmx URI-encodes it (and says so) when a header cannot carry it."""
    answer = request.headers.get("HX-Prompt", "")
    return unquote(answer) if request.headers.get("HX-Prompt-URI-AutoEncoded") == "true" else answer


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
        context.update(invite_form=InviteForm(), bulk_form=BulkInviteForm(), invite_stamp=_invite_stamp(study))
    return render(request, "coordinator/_readers_changed.html", context)


@coordinator_required
@require_safe
def study_power(request, pk: int):
    """Power of this design at one resolution for an expected accuracy (htmx fragment on the study page)."""
    from ..results import power_panel

    study = get_object_or_404(Study, pk=pk)
    form = PowerForm(request.GET or None, initial={"readers": max(study.readers.count(), 8)})
    context = {"study": study, "form": form}
    values = form.cleaned_data if form.is_valid() else {}
    context.update(power_panel(study, accuracy=values.get("accuracy"), readers=values.get("readers")))
    return render(request, "coordinator/_power.html", context)

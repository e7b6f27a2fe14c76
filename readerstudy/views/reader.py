"""Reader pages: invitation (instructions, consent, questionnaire), the reading screen, the done page."""
from __future__ import annotations

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_safe

from ..forms import QuestionnaireForm
from ..markdown import render_markdown
from ..models import Design, Reader, ReadingSession
from ..readerstate import briefing, display_settings, reader_state
from ..services import (ReadingError, check_invitation, practice_gate, reader_for_token, reader_score,
                        start_reading)


def reader_page(view):
    """Never kept by the browser: Back or a reopened tab asks the server again for the current trial.

    A stored copy of the reading page holds the trial it was first sent with; shown again after that trial
    was answered, its answer would be refused as already given.
    """
    @wraps(view)
    @never_cache
    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        response["Pragma"] = "no-cache"  # for HTTP/1.0 caches in between
        return response
    return wrapped


def _error_page(request, token: str, exc: ReadingError):
    if exc.status == 401:  # an invitation made to an account: log in first
        from django.contrib.auth.views import redirect_to_login

        return redirect_to_login(request.get_full_path())
    failed = _failed_practice(request, token)
    if failed is not None:
        return render(request, "reader/practice_failed.html", failed, status=exc.status)
    return render(request, "reader/error.html", {"message": exc.message}, status=exc.status)


def _failed_practice(request, token: str) -> dict | None:
    """What the page about a missed practice pass mark shows, when that is why this reader cannot go on."""
    reader = Reader.objects.select_related("study").filter(token=token).first()
    if reader is None or not reader.excluded:
        return None
    try:  # the invitation's other doors still apply: its account, and a withdrawn link
        check_invitation(reader.user_id, reader.revoked_at is not None, False, request.user,
                         account_bound=reader.account_bound)
    except ReadingError:
        return None
    gate = practice_gate(reader)
    if gate is None or gate["passed"]:
        return None
    study = reader.study
    return {"study": study, "pass_mark_percent": round(study.practice_pass_mark * 100),
            "per_class": study.design != Design.CHOICE,
            "rates": [(cls, round(rate * 100)) for cls, rate in sorted(gate["rates"].items())]}


@reader_page
@login_required
def my_studies(request):
    """Invitations made to the logged-in account."""
    readers = (Reader.objects.filter(user=request.user, revoked_at__isnull=True).select_related("study")
               .order_by("-created_at"))
    return render(request, "reader/my_studies.html", {"readers": readers})


@reader_page
@require_http_methods(["GET", "POST"])
def start(request, token: str):
    try:
        reader = reader_for_token(token, request.user)
    except ReadingError as exc:
        return _error_page(request, token, exc)
    study = reader.study
    if reader.started_at is not None:
        return redirect("reader-read", token=token)
    form = QuestionnaireForm(request.POST or None, consent_required=bool(study.consent.strip()))
    if request.method == "POST" and form.is_valid():
        start_reading(reader, {k: form.cleaned_data[k] for k in ("role", "years_experience", "subspecialty")},
                      consented=bool(form.cleaned_data.get("consent")))
        return redirect("reader-read", token=token)
    return render(request, "reader/start.html", {
        "reader": reader, "study": study, "form": form,
        "instructions": render_markdown(study.instructions), "consent": render_markdown(study.consent),
        "briefing": briefing(reader),
        "ratio": f"{round((1 - study.synthetic_fraction) * 100)}% real, {round(study.synthetic_fraction * 100)}% synthetic",
    }, status=400 if request.method == "POST" else 200)


@reader_page
@require_safe
def read(request, token: str):
    try:
        reader = reader_for_token(token, request.user)
    except ReadingError as exc:
        return _error_page(request, token, exc)
    if reader.started_at is None:
        return redirect("reader-start", token=token)
    ReadingSession.objects.create(reader=reader, user_agent=request.headers.get("User-Agent", "")[:400])
    state = reader_state(reader)
    if state["finished"]:
        return redirect("reader-done", token=token)
    return render(request, "reader/read.html", {
        "reader": reader, "study": reader.study, "state": state, "display": display_settings(reader),
    })


@reader_page
@require_safe
def done(request, token: str):
    try:
        reader = reader_for_token(token, request.user)
    except ReadingError as exc:
        return _error_page(request, token, exc)
    state = reader_state(reader)
    if not state["finished"]:
        return redirect("reader-read", token=token)
    score = reader_score(reader) if reader.study.show_score else None
    return render(request, "reader/done.html", {"reader": reader, "study": reader.study, "score": score})

"""Service functions: the only place where views and the API change reading data.

Views stay thin: they parse a request, call one function here, and render what it returns.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from .models import Design, ImageClass, PoolImage, Reader, Response, Study, StudyStatus, Trial, TrialImage, TrialKind
from .models.study import ExposureMode
from . import sql
from .scheduling import SCHEDULE_VERSION, ImageRef, ScheduleError, ScheduleSpec, schedule_trials


class ReadingError(Exception):
    """A request a reader's page cannot honour; `status` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status


# ----------------------------------------------------------------------------- schedules

def schedule_spec(study: Study) -> ScheduleSpec:
    return ScheduleSpec(
        design=study.design, resolutions=tuple(study.resolutions),
        trials_per_resolution=study.trials_per_resolution, synthetic_fraction=study.synthetic_fraction,
        alternatives=study.alternatives, odd_class=study.odd_class,
        allow_source_repeat=study.allow_source_repeat, order=study.order,
        practice_trials=study.practice_trials, repeat_trials=study.repeat_trials,
        catch_trials=study.catch_trials, case_set=study.case_set,
        exposure_levels=tuple(study.exposure_levels_ms) if study.exposure_mode == ExposureMode.CONSTANT else (),
    )


def pool_refs(study: Study) -> list[ImageRef]:
    rows = PoolImage.objects.filter(pool=study.pool_id, resolution__in=study.resolutions).values_list(
        "id", "source_id", "image_class", "resolution", "label", "role")
    return [ImageRef(*row) for row in rows]


@transaction.atomic
def create_reader(study: Study, name: str, email: str = "", user=None) -> Reader:
    """Invite a reader: store their own seed and their whole schedule. Other readers are untouched.

    The reader's ordinal (how many readers the study had before) places them in a shared case set's
    reader groups; it is counted under the study lock, so two invitations never get the same one.
    """
    study = Study.objects.select_for_update().get(pk=study.pk)  # the design cannot change meanwhile
    reader = Reader.objects.create(study=study, name=name, email=email, user=user, account_bound=user is not None,
                                   ordinal=Reader.objects.filter(study=study).count(),
                                   schedule_version=SCHEDULE_VERSION)
    _store_schedule(reader, study)
    return reader


def _store_schedule(reader: Reader, study: Study) -> None:
    """Plan and store the reader's trials with the current scheduler, and record its version with them.

    A rebuild (`save_design`, before anyone has answered) may replace a schedule an earlier version made:
    the reader then holds the new version's schedule, and their `schedule_version` says so.
    """
    planned = schedule_trials(pool_refs(study), schedule_spec(study), reader.seed, study_seed=study.seed,
                              reader_index=reader.ordinal, version=SCHEDULE_VERSION)
    if reader.schedule_version != SCHEDULE_VERSION:
        Reader.objects.filter(pk=reader.pk).update(schedule_version=SCHEDULE_VERSION)
        reader.schedule_version = SCHEDULE_VERSION
    exposures = _planned_exposures(planned, study)
    trials = Trial.objects.bulk_create([
        Trial(reader=reader, index=i, kind=p.kind, block=p.block, resolution=p.resolution,
              odd_position=p.odd_position, exposure_ms=exposure_ms)
        for i, (p, exposure_ms) in enumerate(zip(planned, exposures))
    ])
    if any(p.repeat_of is not None for p in planned):
        for trial, p in zip(trials, planned):
            if p.repeat_of is not None:
                trial.repeat_of = trials[p.repeat_of]
        Trial.objects.bulk_update([t for t, p in zip(trials, planned) if p.repeat_of is not None], ["repeat_of"])
    TrialImage.objects.bulk_create([
        TrialImage(trial=trial, position=pos, image_id=image_id)
        for trial, p in zip(trials, planned) for pos, image_id in enumerate(p.image_ids)
    ])


def _planned_exposures(planned: list, study: Study) -> list[int | None]:
    """Each trial's exposure, where it is known before the trial is shown (a staircase decides it when served).

    Practice is timed like the main trials, so the first brief image a reader meets is not one that counts:
    a fixed exposure is the same for every trial; under constant stimuli the practice trials go through the
    study's levels from the longest down, and round again, so a reader starts where seeing is easiest and,
    given as many practice trials as levels, meets every level once before the main trials. The level
    follows the trial's place among the practice trials alone, and the schedule puts the practice trials in
    random order, so it tells nothing about the class. A staircase (kept for studies that already use it)
    leaves practice untimed: its first exposure is only its starting point.
    """
    mode = study.exposure_mode
    longest_first = sorted(study.exposure_levels_ms or [], reverse=True)
    exposures: list[int | None] = []
    practice_seen = 0
    for p in planned:
        if mode == ExposureMode.FIXED:
            exposures.append(study.exposure_ms)
        elif mode == ExposureMode.CONSTANT and p.kind == TrialKind.PRACTICE:
            exposures.append(longest_first[practice_seen % len(longest_first)])
            practice_seen += 1
        elif mode == ExposureMode.CONSTANT:
            exposures.append(p.exposure_ms)
        else:
            exposures.append(None)
    return exposures


class DesignFrozen(Exception):
    """The study has answers: its design can no longer change (a changed study is a copy)."""


def save_design(study: Study) -> Study:
    """Save a study whose design fields were edited in memory; rebuild invited readers' schedules.

    Until the first answer, design may change: every invited reader keeps their stored seed and gets the
    schedule the new design gives. Locks are taken readers first, then the study (the order
    `submit_response` uses), and the freeze is checked under the lock, so an answer and an edit never
    interleave.
    """
    if study.pk is None:
        study.save()
        return study
    with transaction.atomic():
        readers = _lock_readers(study)
        # .get(), not .filter(frozen...).exists(): a lock is taken only on rows a query returns.
        if Study.objects.select_for_update().get(pk=study.pk).frozen_at is not None:
            raise DesignFrozen("This study has answers, so its design is frozen. Copy it to make a changed study.")
        # A reader invited between the first lock and the study's (create_reader waits for the study lock,
        # so no one can be invited from here on) is locked now, without waiting: waiting could deadlock with
        # that reader's first answer, which takes the reader's lock and then the study's.
        try:
            late = list(Reader.objects.select_for_update(nowait=True).filter(study=study)
                        .exclude(pk__in=[r.pk for r in readers]).order_by("pk"))
        except DatabaseError:
            raise DesignFrozen("A reader has just started answering, so the design is being frozen. "
                               "Reload the study; copy it to make a changed study.") from None
        readers += late
        study.save()
        if readers:
            Trial.objects.filter(reader__in=readers).delete()
            for reader in readers:
                _store_schedule(reader, study)
    return study


def _lock_readers(study: Study) -> list[Reader]:
    return list(Reader.objects.select_for_update().filter(study=study).order_by("pk"))


def copy_study(study: Study, user) -> Study:
    """A draft copy with a fresh seed: how a frozen design is changed."""
    copy = Study.objects.get(pk=study.pk)
    copy.pk = None
    copy.name = f"{study.name} (copy)"
    copy.status = StudyStatus.DRAFT
    copy.frozen_at = None
    copy.seed = Study._meta.get_field("seed").get_default()
    copy.created_by = user
    copy.save()
    return copy


# ----------------------------------------------------------------------------- reading state

def reader_for_token(token: str, user=None) -> Reader:
    """The reader an invitation token belongs to. An invitation made for an account also needs that login."""
    reader = sql.reader_with_study(token)
    if reader is None:
        raise ReadingError("This invitation link is not valid. Check the link you were sent.", 404)
    check_invitation(reader.user_id, reader.revoked_at is not None, reader.excluded, user,
                     account_bound=reader.account_bound)
    return reader


def check_invitation(user_id: int | None, revoked: bool, excluded: bool, user=None, *,
                     account_bound: bool = False) -> None:
    """Raise the ReadingError that keeps this invitation's holder out, if any (the fields are the Reader's).

    An invitation made for an account whose account has since been deleted (its user is then empty) is
    refused like one opened with the wrong account: it must never turn into a link anyone can use.
    """
    if account_bound and user_id is None:
        raise ReadingError("This invitation was for an account that no longer exists; ask the coordinator for "
                           "a new link.", 403)
    if user_id is not None and (user is None or user.pk != user_id):
        anonymous = user is None or not user.is_authenticated
        raise ReadingError("This invitation belongs to a Mirage account: log in with that account first.",
                           401 if anonymous else 403)
    if revoked:
        raise ReadingError("This invitation link has been withdrawn by the study coordinator.", 410)
    if excluded:
        raise ReadingError("Your participation in this study has ended. Thank you for your time.", 403)


def check_reading_allowed(study_status: str, started: bool) -> None:
    """Raise the ReadingError that stops trials being answered or shown: a study not open, or a reader who
    has not yet answered the questionnaire (and consent)."""
    if study_status != StudyStatus.OPEN:
        raise ReadingError("The study is not open for reading right now. Your answers so far are saved.", 409)
    if not started:
        raise ReadingError("Open your invitation link first: the instructions, consent and questions come "
                           "before the first trial.", 409)


def trial_image_path(token: str, image_token: str, user=None) -> Path:
    """The file of one image of one of this invitation's trials (one statement, no model instances)."""
    found = sql.image_file(token, image_token)
    if found is None:
        raise ReadingError("No such image for this invitation.", 404)
    check_invitation(found.user_id, found.revoked, found.excluded, user, account_bound=found.account_bound)
    check_reading_allowed(found.study_status, found.started)
    return Path(found.directory) / found.file


def start_reading(reader: Reader, questionnaire: dict[str, Any], consented: bool) -> None:
    """Record the reader's answers to the questionnaire (and consent) once; the first trial comes after."""
    if reader.study.consent.strip() and not consented:
        raise ReadingError("Please accept the consent text to take part.")
    now = timezone.now()
    Reader.objects.filter(pk=reader.pk, started_at__isnull=True).update(
        questionnaire=questionnaire, consented_at=now if consented else None, started_at=now)
    reader.refresh_from_db(fields=["questionnaire", "consented_at", "started_at"])


def progress(reader: Reader) -> dict[str, int]:
    """Main (non-practice) and practice trials of a reader, all and answered."""
    return sql.trial_counts(reader.pk)


def pending_trials(reader: Reader, limit: int = 2) -> list[sql.PendingTrial]:
    """The first unanswered trials in order, with their images: the current one and the next (to preload)."""
    return sql.pending_trials(reader.pk, limit)


def practice_gate(reader: Reader) -> dict[str, Any] | None:
    """After the last practice trial: per-class accuracy against the pass mark, or None if no gate applies.

    The pass mark asks whether the reader understood the task, so only the practice answers that can show
    it count: those whose image was shown as planned (`exposure_ok` not False: a dropped frame is not the
    reader's error) and, under constant stimuli, those at the longest exposure (the shorter levels are
    meant to be hard, down to chance); untimed practice counts whole. A class with no answer that counts
    is not judged, and a reader with none at all passes: nothing shows they misunderstood the task.
    `counted` is how many answers the rates rest on.
    """
    study = reader.study
    if study.practice_trials == 0 or study.practice_pass_mark <= 0:
        return None
    rows = (Response.objects.filter(trial__reader=reader, trial__kind=TrialKind.PRACTICE)
            .exclude(exposure_ok=False).select_related("trial"))
    longest = max(study.exposure_levels_ms or [0]) if study.exposure_mode == ExposureMode.CONSTANT else None
    by_class: dict[str, list[bool]] = {}
    for response in rows:
        if longest is not None and response.trial.exposure_ms not in (None, longest):
            continue
        by_class.setdefault(response.trial.truth, []).append(bool(response.correct))
    rates = {cls: sum(v) / len(v) for cls, v in by_class.items() if v}
    return {"rates": rates, "passed": all(r >= study.practice_pass_mark for r in rates.values()),
            "counted": sum(len(v) for v in by_class.values())}


def trial_payload(pending: sql.PendingTrial, reader: Reader, url_for_image, *, current: bool) -> dict[str, Any]:
    """What the reader's page receives for one trial: opaque tokens only, never class or source.

    A staircase exposure depends on every earlier answer, so it is decided only when the trial becomes the
    current one; the page waits for that before showing a staircase trial.
    """
    trial, study = pending.trial, reader.study
    return {
        "token": trial.token,
        # Catch and repeated trials look like any other to the reader: a "catch" label would give the class away.
        # The images' classes stay here: the page gets positions and opaque URLs only.
        "kind": "practice" if trial.kind == TrialKind.PRACTICE else "main",
        "images": [{"position": image.position, "url": url_for_image(image.token)} for image in pending.images],
        "exposure_ms": (exposure_for(trial, reader) if current or study.exposure_mode != ExposureMode.STAIRCASE
                        else None),
    }


def exposure_for(trial: Trial, reader: Reader) -> int | None:
    """The exposure the page shows this trial for (None: untimed, the image stays until the answer).

    A practice trial keeps the exposure planned with its schedule (`_planned_exposures`), so a reader
    invited while practice was untimed goes on as they were briefed.
    """
    study = reader.study
    if study.exposure_mode == ExposureMode.NONE:
        return None
    if trial.kind == TrialKind.PRACTICE:
        return trial.exposure_ms
    if study.exposure_mode == ExposureMode.FIXED:
        return study.exposure_ms
    if study.exposure_mode == ExposureMode.CONSTANT or trial.exposure_ms is not None:
        return trial.exposure_ms  # constant stimuli: stored with the schedule
    return staircase_exposure(reader, study)


def staircase_exposure(reader: Reader, study: Study) -> int:
    """HYPE-time staircase: start at the study's exposure, +10 ms after an error, -30 ms after 3 correct."""
    from analysis.designs import staircase_next

    history = list(
        Response.objects.filter(trial__reader=reader, trial__kind=TrialKind.MAIN, trial__exposure_ms__isnull=False)
        .order_by("trial__index").values_list("trial__exposure_ms", "correct"))
    if not history:
        return study.exposure_ms
    last_exposure = history[-1][0]
    return int(staircase_next(last_exposure, [bool(c) for _, c in history]))


def mark_served(trial: Trial, exposure_ms: int | None) -> None:
    """Record the server's first-served time (and a staircase exposure) once; later serves change nothing."""
    if trial.first_served_at is not None:
        return
    exposure_ms = exposure_ms if trial.exposure_ms is None else None
    served = sql.mark_served(trial.pk, exposure_ms)
    if served is not None:
        trial.first_served_at = served
        if exposure_ms is not None:
            trial.exposure_ms = exposure_ms


# ----------------------------------------------------------------------------- answers

@dataclass
class Submission:
    trial_token: str
    answer: str = ""
    chosen_position: int | None = None
    rating: int | None = None
    confidence: int | None = None
    reason: str = ""
    timed_out: bool = False
    client_key: str = ""
    client_response_ms: float | None = None
    client_exposure_ms: float | None = None
    requested_exposure_ms: float | None = None
    displayed_width: float | None = None
    displayed_height: float | None = None
    device_pixel_ratio: float | None = None


def _validate(sub: Submission, trial: Trial, n_images: int, study: Study) -> None:
    if sub.reason and not study.ask_reason:
        raise ReadingError("This study does not ask for a reason; send the answer without one.")
    if sub.timed_out:
        if not study.time_limit_ms or trial.kind == TrialKind.PRACTICE:
            raise ReadingError("This trial has no time limit, so it cannot time out; give an answer.")
        sub.answer, sub.chosen_position, sub.rating, sub.confidence, sub.reason = "", None, None, None, ""
        return
    _refuse_unasked(sub, trial, study)
    if study.design == Design.SINGLE and sub.answer not in ImageClass.values:
        raise ReadingError("Answer 'real' or 'synthetic'.")
    if study.design == Design.CHOICE:
        n = n_images
        if sub.chosen_position is None or not 0 <= sub.chosen_position < n:
            raise ReadingError(f"Choose one of the {n} images (position 0 to {n - 1}).")
    if study.design == Design.RATING:
        k = len(study.rating_labels)
        if sub.rating is None or not 1 <= sub.rating <= k:
            raise ReadingError(f"Give a rating from 1 to {k}.")
        if study.rating_ask_class and sub.answer not in ImageClass.values:
            raise ReadingError("After the rating, answer 'real' or 'synthetic'.")
    if study.confidence_scale != "off" and trial.kind != TrialKind.PRACTICE:
        top, bottom = (5, 1) if study.confidence_scale == "5" else (100, 0)
        if sub.confidence is None or not bottom <= sub.confidence <= top:
            raise ReadingError(f"Give your confidence from {bottom} to {top}.")
    for name in ("client_response_ms", "client_exposure_ms", "displayed_width", "displayed_height",
                 "device_pixel_ratio"):
        value = getattr(sub, name)
        if value is not None and (not math.isfinite(value) or value < 0 or value > 1e9):
            raise ReadingError(f"{name} must be a non-negative number.")
    if len(sub.reason) > 2000:
        raise ReadingError("The reason is limited to 2,000 characters.")


def _refuse_unasked(sub: Submission, trial: Trial, study: Study) -> None:
    """An answer carries only what this design asks for: anything else would be stored and analysed."""
    asks_class = study.design == Design.SINGLE or (study.design == Design.RATING and study.rating_ask_class)
    asks_confidence = study.confidence_scale != "off" and trial.kind != TrialKind.PRACTICE
    unasked = [name for name, sent, asked in (
        ("answer", sub.answer != "", asks_class),
        ("chosen_position", sub.chosen_position is not None, study.design == Design.CHOICE),
        ("rating", sub.rating is not None, study.design == Design.RATING),
        ("confidence", sub.confidence is not None, asks_confidence),
    ) if sent and not asked]
    if unasked:
        raise ReadingError(f"This trial does not ask for {' or '.join(unasked)}; send only what it asks for.")


def _correct(sub: Submission, trial: Trial, truth: str, study: Study) -> bool | None:
    if sub.timed_out:
        return False
    if study.design == Design.SINGLE:
        return sub.answer == truth
    if study.design == Design.CHOICE:
        return sub.chosen_position == trial.odd_position
    if study.rating_ask_class:
        return sub.answer == truth
    if trial.kind == TrialKind.CATCH:
        # An obviously synthetic image rated in the lower half of the realism scale passes the check.
        return sub.rating <= len(study.rating_labels) // 2
    return None


def submit_response(reader: Reader, sub: Submission) -> tuple[Response, bool]:
    """Store a reader's answer exactly once. Returns (response, created).

    A retry of an answered trial (refresh, double click, lost acknowledgement) returns the stored answer
    unchanged. An answer to any trial other than the reader's first unanswered one is refused, so no trial
    is ever skipped.

    The common case (the answer to the current trial) is one transaction of four statements: on
    PostgreSQL the row lock, then the current trial with its images, the insert, and the reader's
    "last seen" (and "finished", when no trial follows) update.
    """
    study = reader.study
    check_reading_allowed(study.status, reader.started_at is not None)
    try:
        with transaction.atomic():
            # One reader's submissions are serialised, so "first unanswered" cannot change between the check
            # and the insert: by this row lock on PostgreSQL, by BEGIN IMMEDIATE (one writer at a time) on
            # SQLite. The one-to-one key stays the last line of defence.
            if connection.features.has_select_for_update:
                Reader.objects.select_for_update().filter(pk=reader.pk).values_list("pk", flat=True).first()
            current = next(iter(sql.pending_trials(reader.pk, 1)), None)
            if current is None or current.trial.token != sub.trial_token:
                return _answered_before(reader, sub), False
            trial = current.trial
            _validate(sub, trial, len(current.images), study)
            exposure_ok = None
            if trial.exposure_ms is not None:
                # Shown as asked: the page used the stored exposure, and kept the image up for it within a
                # frame's worth of slack (~17 ms at 60 Hz). Anything else is marked, never silently counted.
                exposure_ok = (sub.client_exposure_ms is not None
                               and sub.requested_exposure_ms in (None, trial.exposure_ms)
                               and abs(sub.client_exposure_ms - trial.exposure_ms) <= 20.0)
            fields = {k: v for k, v in vars(sub).items() if k not in ("trial_token", "requested_exposure_ms")}
            response = Response.objects.create(
                trial=trial, correct=_correct(sub, trial, current.truth, study), exposure_ok=exposure_ok,
                served_at=trial.first_served_at, **fields)
            if study.frozen_at is None:
                study.freeze()  # in the same transaction: an acknowledged answer always freezes the design
            sql.touch_reader(reader.pk, trial.index)
            if trial.kind == TrialKind.PRACTICE:
                # In the same transaction too: the last practice answer and the gate's verdict are stored
                # together, so no crash or retry between them lets a failed reader on to the main trials.
                _apply_practice_gate(reader, study)
    except IntegrityError:
        return Response.objects.get(trial__token=sub.trial_token, trial__reader=reader), False
    return response, True


def _answered_before(reader: Reader, sub: Submission) -> Response:
    """The stored answer to a trial that is not the current one (a retry); else why it cannot be answered."""
    trial = reader.trials.filter(token=sub.trial_token).select_related("response").first()
    if trial is None:
        raise ReadingError("This trial does not belong to your invitation.", 404)
    existing = getattr(trial, "response", None)
    if existing is None:
        raise ReadingError("Please answer the trials in order; reload the page to continue.", 409)
    return existing


def _apply_practice_gate(reader: Reader, study: Study) -> None:
    """After the last practice answer: a reader below the pass mark is excluded before the main trials."""
    if reader.trials.filter(kind=TrialKind.PRACTICE, response__isnull=True).exists():
        return
    gate = practice_gate(reader)
    if gate is not None and not gate["passed"]:
        rates = ", ".join(f"{cls} {rate:.0%}" for cls, rate in sorted(gate["rates"].items()))
        Reader.objects.filter(pk=reader.pk).update(
            excluded=True,
            exclusion_reason=f"failed practice: {rates} below the pass mark {study.practice_pass_mark:.0%}")


def reader_score(reader: Reader) -> dict[str, Any]:
    rows = Response.objects.filter(trial__reader=reader, trial__kind=TrialKind.MAIN, correct__isnull=False)
    n = rows.count()
    correct = rows.filter(correct=True).count()
    return {"n": n, "correct": correct, "accuracy": correct / n if n else None}


# ----------------------------------------------------------------------------- coordinator actions
#
# Every coordinator action is one function here; the pages (views/coordinator.py) and the API
# (api/views.py) are thin adapters that turn an ActionRefused into a message or an HTTP status.


class ActionRefused(Exception):
    """A coordinator action that cannot be done as asked; the message says why (shown as it is)."""

    def __init__(self, message: str, status: int = 409):
        super().__init__(message)
        self.status = status


STATUS_TRANSITIONS = {
    "open": ({StudyStatus.DRAFT, StudyStatus.PAUSED}, StudyStatus.OPEN),
    "pause": ({StudyStatus.OPEN}, StudyStatus.PAUSED),
    "close": ({StudyStatus.OPEN, StudyStatus.PAUSED, StudyStatus.DRAFT}, StudyStatus.CLOSED),
}


def change_status(study: Study, action: str) -> Study:
    """Open, pause or close a study; the change is made only from a status that allows it (race-free)."""
    allowed, target = STATUS_TRANSITIONS.get(action, (set(), None))
    if target is None:
        raise ActionRefused(f"Unknown action {action!r}: use open, pause or close.", 400)
    changed = Study.objects.filter(pk=study.pk, status__in=allowed).update(status=target)
    study.refresh_from_db(fields=["status"])
    if not changed:
        raise ActionRefused(f"A {study.get_status_display().lower()} study cannot be asked to {action}.")
    return study


def invite_reader(study: Study, name: str, email: str = "", user=None, *, link_for=None,
                  shown_at=None) -> tuple[Reader, bool]:
    """Invite a reader; returns (reader, created).

    A form submitted twice (a double click: the same name, e-mail and account since `shown_at`, the time the
    form was shown) gives the reader the first submission made. Names are unique in a study (case and spaces
    ignored), so a coordinator never confuses two readers. With an e-mail address the invitation is sent
    (Django's e-mail backend: the console by default, SMTP by setting); `link_for(reader)` gives its link.
    """
    name = " ".join(name.split())
    if not name:
        raise ActionRefused("Give the reader a name (shown to coordinators only).", 400)
    with transaction.atomic():
        # The study row is locked first, so two submissions of one form are checked one after the other.
        locked = Study.objects.select_for_update().get(pk=study.pk)
        if locked.status == StudyStatus.CLOSED:
            raise ActionRefused("This study is closed; no new readers can join.")
        again = sent_again(locked, shown_at, name, email, user)
        if again is not None:
            return again, False
        if any(same_name(other, name) for other in locked.readers.values_list("name", flat=True)):
            raise ActionRefused(f"A reader called {name!r} is already invited to this study; give each reader "
                                "a name of their own.", 400)
        try:
            reader = create_reader(locked, name, email, user=user)
        except ScheduleError as exc:
            raise ActionRefused(str(exc), 400) from None
    address = reader.email or (reader.user.email if reader.user else "")
    if address and link_for is not None:
        send_invitation(locked, reader, address, link_for(reader))
    return reader, True


def same_name(a: str, b: str) -> bool:
    """Reader names are unique in a study with case and spaces ignored: "Dr.  Gray" is "dr. gray"."""
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def sent_again(study: Study, shown_at, name: str, email: str, user) -> Reader | None:
    """The reader an invitation form shown at `shown_at` already made with these values (a double click)."""
    if shown_at is None:
        return None
    return study.readers.filter(created_at__gte=shown_at, name=name, email=email, user=user).first()


def _one_line(text: str) -> str:
    """Text for an e-mail header: a study name with a line break would make the mail refuse to send."""
    return " ".join(text.split())


def send_invitation(study: Study, reader: Reader, address: str, link: str) -> None:
    from django.core.mail import send_mail

    account = (f"\nThe link opens after you log in to Mirage as {reader.user.get_username()}.\n"
               if reader.user_id else "")
    body = (f"Dear {reader.name},\n\nYou are invited to the reader study \"{study.name}\". Your personal link:\n\n"
            f"{link}\n{account}\nThe link is yours alone: please do not forward it. You can pause and continue "
            "on any device.\n")
    try:
        send_mail(f"Invitation: {_one_line(study.name)}", body, None, [address], fail_silently=False)
    except OSError as exc:  # the reader exists; the coordinator is told to send the link by hand
        raise ActionRefused(f"{reader.name} is invited, but the e-mail to {address} could not be sent ({exc}); "
                            f"send them their link by hand: {link}", 502) from None


def revoke_reader(reader: Reader) -> Reader:
    """Withdraw the invitation link (idempotent: the first withdrawal time is kept)."""
    Reader.objects.filter(pk=reader.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    reader.refresh_from_db()
    return reader


def exclude_reader(reader: Reader, reason: str = "") -> Reader:
    """Exclude a reader from the study and its analysis (their answers are kept, marked excluded)."""
    reason = " ".join(reason.split())[:300] or "excluded by the coordinator"
    Reader.objects.filter(pk=reader.pk).update(excluded=True, exclusion_reason=reason)
    reader.refresh_from_db()
    return reader


def remind_reader(reader: Reader, link: str) -> str:
    """E-mail a reader who can still read their link again; returns the address it went to."""
    from django.core.mail import send_mail

    study = reader.study
    email = reader.email or (reader.user.email if reader.user else "")
    state = ("’s link was withdrawn" if reader.revoked_at else " is excluded" if reader.excluded
             else " has finished" if reader.finished_at else "")
    if not state and study.status != StudyStatus.OPEN:
        state = f": the study is {study.get_status_display().lower()}, so the link would not let them read"
    if state:
        raise ActionRefused(f"{reader.name}{state}: no reminder was sent.")
    if not email:
        raise ActionRefused(f"{reader.name} has no e-mail address, so no reminder was sent: send them their link "
                            f"by hand: {link}", 400)
    try:
        send_mail(f"Reminder: {_one_line(study.name)}", f"Dear {reader.name},\n\nPlease continue the reading study "
                  f"\"{study.name}\" here: {link}\n", None, [email], fail_silently=False)
    except OSError as exc:
        raise ActionRefused(f"The reminder to {email} could not be sent ({exc}); send them their link by hand: "
                            f"{link}", 502) from None
    Reader.objects.filter(pk=reader.pk).update(reminded_at=timezone.now())
    return email

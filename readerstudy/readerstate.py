"""The reading screen's state: one function used by the page and the JSON API alike."""
from __future__ import annotations

from typing import Any

from django.urls import reverse

from .models import Design, Reader, Response, Study, StudyStatus, TrialKind
from .models.study import ExposureMode
from .services import exposure_for, mark_served, pending_trials, progress, reader_score, trial_payload

# A timed image comes after a countdown (3, 2, 1, each this long) and is replaced by a noise mask held this
# long. The page runs them; the invitation page describes them: both read these numbers.
COUNTDOWN_FROM = 3
COUNTDOWN_STEP_MS = 400
MASK_MS = 500


def trial_rules(reader: Reader) -> dict[str, dict[str, Any]]:
    """What each kind of trial asks and allows, as the server checks it when the answer arrives.

    The page follows these and never works them out itself: practice has no time limit and asks no
    confidence; practice feedback is the server's verdict; a staircase exposure is decided only when its
    trial becomes the current one, so the page shows such a trial only once the server has sent it so.
    """
    study = reader.study
    decided_when_current = study.exposure_mode == ExposureMode.STAIRCASE
    return {
        "practice": {"time_limit_ms": None, "asks_confidence": False, "feedback": study.practice_feedback,
                     "exposure_set_when_current": decided_when_current},
        "main": {"time_limit_ms": study.time_limit_ms, "asks_confidence": study.confidence_scale != "off",
                 "feedback": False, "exposure_set_when_current": decided_when_current},
    }


def display_settings(reader: Reader) -> dict[str, Any]:
    study = reader.study
    return {
        "design": study.design,
        "alternatives": study.alternatives,
        "odd_class": study.odd_class,
        "display_size": study.display_size,
        "upscale": study.upscale,
        "blank_ms": study.blank_ms,
        "confidence_scale": study.confidence_scale,
        "ask_reason": study.ask_reason,
        "rating_labels": study.rating_labels,
        "rating_ask_class": study.rating_ask_class,
        "min_view_ms": study.min_view_ms,
        "countdown_from": COUNTDOWN_FROM,
        "countdown_step_ms": COUNTDOWN_STEP_MS,
        "mask_ms": MASK_MS,
        "rules": trial_rules(reader),
    }


def briefing(reader: Reader) -> dict[str, Any]:
    """What the invitation page tells a reader about timing and the practice pass mark, before practice."""
    study = reader.study
    first_practice = reader.trials.filter(kind=TrialKind.PRACTICE).order_by("index").first()
    gate = study.practice_trials > 0 and study.practice_pass_mark > 0
    return {
        "exposure_mode": study.exposure_mode,
        "timed": study.exposure_mode != ExposureMode.NONE,
        "exposure_ms": study.exposure_ms,
        "exposure_levels_ms": sorted(study.exposure_levels_ms),
        "practice_timed": first_practice is not None and exposure_for(first_practice, reader) is not None,
        "countdown": ", ".join(str(n) for n in range(COUNTDOWN_FROM, 0, -1)),
        "countdown_s": _seconds(COUNTDOWN_FROM * COUNTDOWN_STEP_MS),
        "mask_s": _seconds(MASK_MS),
        "time_limit_s": _seconds(study.time_limit_ms) if study.time_limit_ms else None,
        "min_view_s": _seconds(study.min_view_ms) if study.min_view_ms else None,
        "practice_trials": study.practice_trials,
        "pass_mark_percent": round(study.practice_pass_mark * 100) if gate else None,
        "pass_mark_per_class": study.design != Design.CHOICE,
    }


def _seconds(ms: int) -> str:
    return f"{ms / 1000:g}"


def practice_feedback(response: Response, study: Study) -> dict[str, Any] | None:
    """The server's verdict on a stored practice answer, when the study gives feedback; None otherwise.

    In a forced choice it names the odd image's position too: the answer is stored by then, and only the
    acknowledgement of a practice answer carries it, never a main trial's, nor the state.
    """
    trial = response.trial
    if trial.kind != TrialKind.PRACTICE or not study.practice_feedback or response.correct is None:
        return None
    feedback: dict[str, Any] = {"correct": response.correct}
    if trial.odd_position is not None:
        feedback["odd_position"] = trial.odd_position
    return feedback


def reader_state(reader: Reader) -> dict[str, Any]:
    """Progress plus the current and the next trial (the page preloads the next one's images).

    Trials are served (and their server-side clock started) only while the study is open and after the
    reader's questionnaire: a paused study or an unstarted reader gets progress and no trials.
    """
    study = reader.study

    def url_for_image(token: str) -> str:
        return reverse("api-reader-image", args=[reader.token, token])

    counts = progress(reader)
    finished = counts["done"] == counts["total"] and counts["practice_done"] == counts["practice_total"]
    reading = study.status == StudyStatus.OPEN and reader.started_at is not None and not finished
    trials = pending_trials(reader, limit=2) if reading else []
    payloads = [trial_payload(t, reader, url_for_image, current=(i == 0)) for i, t in enumerate(trials)]
    if trials:
        mark_served(trials[0].trial, payloads[0]["exposure_ms"])
    state: dict[str, Any] = {
        "progress": counts,
        "status": study.status,
        "open": study.status == StudyStatus.OPEN,
        "started": reader.started_at is not None,
        "trials": payloads,
        "finished": finished,
        "done_url": reverse("reader-done", args=[reader.token]),
        "responses_url": reverse("api-reader-responses", args=[reader.token]),
        "state_url": reverse("api-reader-state", args=[reader.token]),
    }
    if finished and study.show_score:
        state["score"] = reader_score(reader)
    return state

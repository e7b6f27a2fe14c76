"""The practice pass mark counts the answers that show whether a reader understood the task.

Those are the practice answers whose image was shown as planned and, with several exposures (constant
stimuli), those at the longest one: the shorter levels are meant to be hard, down to chance, and a dropped
frame is the screen's fault, not the reader's. A reader with no answer that counts goes on.
"""
from __future__ import annotations

import pytest

from readerstudy.models import Trial
from readerstudy.services import Submission, create_reader, practice_gate, submit_response

from .helpers import invite

pytestmark = pytest.mark.django_db


def answer_practice(reader, right, shown_ok=lambda trial: True) -> None:
    """Answer every practice trial in order: right or wrong as `right(trial)` says, shown as planned or not."""
    for trial in reader.trials.filter(kind="practice").order_by("index"):
        truth = trial.truth
        answer = truth if right(trial) else ("real" if truth == "synthetic" else "synthetic")
        shown = None
        if trial.exposure_ms is not None:
            shown = float(trial.exposure_ms if shown_ok(trial) else trial.exposure_ms + 50)
        submit_response(reader, Submission(trial.token, answer=answer, client_exposure_ms=shown,
                                           requested_exposure_ms=trial.exposure_ms))
    reader.refresh_from_db()


def constant_study(make_study, **overrides):
    fields = dict(exposure_mode="constant", exposure_levels_ms=[50, 100, 400], practice_trials=6,
                  practice_pass_mark=1.0, trials_per_resolution=2)
    return make_study(**{**fields, **overrides})


def test_under_constant_stimuli_only_the_longest_exposure_counts(make_study):
    reader = invite(constant_study(make_study))
    answer_practice(reader, right=lambda trial: trial.exposure_ms == 400)
    gate = practice_gate(reader)
    assert gate["passed"] and gate["counted"] == 2
    assert not reader.excluded, "misses at 50 and 100 ms are no sign of misunderstanding the task"


def test_under_constant_stimuli_a_miss_at_the_longest_exposure_still_fails(make_study):
    reader = invite(constant_study(make_study))
    answer_practice(reader, right=lambda trial: trial.exposure_ms != 400)
    assert not practice_gate(reader)["passed"]
    assert reader.excluded and reader.exclusion_reason.startswith("failed practice")


def test_a_practice_image_not_shown_as_planned_does_not_count(make_study):
    study = make_study(exposure_mode="fixed", exposure_ms=300, practice_trials=4, practice_pass_mark=1.0,
                       trials_per_resolution=2)
    reader = invite(study)
    first = reader.trials.filter(kind="practice").order_by("index").first()
    # The first image was shown 50 ms too long (a dropped frame) and missed; the others were right.
    answer_practice(reader, right=lambda trial: trial != first, shown_ok=lambda trial: trial != first)
    assert first.response.exposure_ok is False
    assert practice_gate(reader)["counted"] == 3
    assert not reader.excluded


def test_a_miss_shown_as_planned_counts(make_study):
    study = make_study(exposure_mode="fixed", exposure_ms=300, practice_trials=4, practice_pass_mark=1.0,
                       trials_per_resolution=2)
    reader = invite(study)
    first = reader.trials.filter(kind="practice").order_by("index").first()
    answer_practice(reader, right=lambda trial: trial != first)
    assert reader.excluded


def test_a_reader_with_no_practice_answer_that_counts_goes_on(make_study):
    reader = invite(constant_study(make_study))
    answer_practice(reader, right=lambda trial: False, shown_ok=lambda trial: False)
    gate = practice_gate(reader)
    assert gate == {"rates": {}, "passed": True, "counted": 0}
    assert not reader.excluded


def test_untimed_practice_counts_every_answer(make_study):
    reader = invite(make_study(practice_trials=4, practice_pass_mark=0.5, trials_per_resolution=2))
    answer_practice(reader, right=lambda trial: False)
    assert practice_gate(reader)["counted"] == 4
    assert reader.excluded


def test_the_start_page_says_which_practice_answers_count(client, make_study):
    reader = create_reader(constant_study(make_study), "Dr. Levels")
    page = client.get(f"/r/{reader.token}/").content.decode()
    assert ("Only the practice trials shown for the longest duration, 400 ms, count towards this, and only if "
            "your screen showed them for the full time.") in page
    fixed = create_reader(make_study(exposure_mode="fixed", exposure_ms=300, practice_trials=2,
                                     practice_pass_mark=0.5, trials_per_resolution=2), "Dr. Fixed")
    page = client.get(f"/r/{fixed.token}/").content.decode()
    assert "A practice trial your screen could not show for the full time does not count towards this." in page
    untimed = create_reader(make_study(practice_trials=2, practice_pass_mark=0.5, trials_per_resolution=2), "Dr. U")
    page = client.get(f"/r/{untimed.token}/").content.decode()
    assert "need at least 50%" in page and "count towards this" not in page


def test_no_pass_mark_no_gate(make_study):
    reader = invite(make_study(practice_trials=2, trials_per_resolution=2))
    assert practice_gate(reader) is None
    assert Trial.objects.filter(reader=reader, kind="practice").count() == 2

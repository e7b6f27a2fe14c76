"""The hot path's hand-written statements give exactly what the ORM gives, on SQLite and on PostgreSQL."""
from __future__ import annotations

import datetime

import pytest
from django.db.models import Count, Q
from django.utils import timezone

from readerstudy import sql
from readerstudy.models import Reader, Response, Trial, TrialKind
from readerstudy.services import Submission, create_reader, submit_response

from .helpers import invite

pytestmark = pytest.mark.django_db


def field_values(instance) -> dict:
    return {f.attname: getattr(instance, f.attname) for f in type(instance)._meta.concrete_fields}


def test_reader_with_study_equals_the_orm_field_by_field(make_study, alice):
    study = make_study(rating_labels=["a", "b", "c", "d"], resolutions=[64, 32], confidence_scale="100",
                       time_limit_ms=4000, instructions="**Read** carefully", show_score=True)
    reader = invite(study, "Ann", email="ann@example.org", user=alice)
    Reader.objects.filter(pk=reader.pk).update(questionnaire={"role": "resident", "years": 3, "nested": [1, None]},
                                               excluded=True, revoked_at=timezone.now())
    expected = Reader.objects.select_related("study").get(pk=reader.pk)

    loaded = sql.reader_with_study(reader.token)

    assert field_values(loaded) == field_values(expected)
    assert field_values(loaded.study) == field_values(expected.study)
    assert loaded.study.resolutions == [64, 32] and loaded.questionnaire["nested"] == [1, None]
    assert loaded.excluded is True and timezone.is_aware(loaded.revoked_at) and timezone.is_aware(loaded.created_at)
    assert loaded._state.adding is False and loaded.study_id == study.pk
    assert sql.reader_with_study("no-such-token") is None


def test_pending_trials_are_the_first_unanswered_in_order_with_their_images(make_study):
    study = make_study(design="choice", alternatives=3, practice_trials=2)
    reader = invite(study)
    first = sql.pending_trials(reader.pk, 2)
    orm = list(Trial.objects.filter(reader=reader, response__isnull=True).order_by("index")
               .prefetch_related("images__image")[:2])
    assert [p.trial.pk for p in first] == [t.pk for t in orm]
    for pending, trial in zip(first, orm):
        assert field_values(pending.trial) == field_values(trial)
        images = sorted(trial.images.all(), key=lambda ti: ti.position)
        assert [(i.position, i.token, i.image_class) for i in pending.images] == [
            (ti.position, ti.token, ti.image.image_class) for ti in images]
        assert pending.truth == trial.truth

    submit_response(reader, Submission(trial_token=first[0].trial.token, chosen_position=0))
    after = sql.pending_trials(reader.pk, 2)
    assert after[0].trial.pk == first[1].trial.pk and after[1].trial.index == first[1].trial.index + 1
    assert sql.pending_trials(create_reader(study, "Other").pk, 5)[0].trial.index == 0


def test_trial_counts_match_an_orm_aggregate(make_study):
    study = make_study(practice_trials=2, repeat_trials=1)
    reader = invite(study)
    for pending in sql.pending_trials(reader.pk, 3):
        submit_response(reader, Submission(trial_token=pending.trial.token, answer="real"))
    expected = reader.trials.aggregate(
        total=Count("id", filter=~Q(kind=TrialKind.PRACTICE)),
        done=Count("id", filter=~Q(kind=TrialKind.PRACTICE) & Q(response__isnull=False)),
        practice_total=Count("id", filter=Q(kind=TrialKind.PRACTICE)),
        practice_done=Count("id", filter=Q(kind=TrialKind.PRACTICE) & Q(response__isnull=False)))
    assert sql.trial_counts(reader.pk) == expected == {"total": 13, "done": 1, "practice_total": 2,
                                                       "practice_done": 2}
    assert sql.trial_counts(10**9) == {"total": 0, "done": 0, "practice_total": 0, "practice_done": 0}


def test_mark_served_sets_an_aware_time_once_that_the_orm_reads_back(study):
    reader = invite(study)
    trial = sql.pending_trials(reader.pk, 1)[0].trial
    before = timezone.now()
    served = sql.mark_served(trial.pk, 350)
    stored = Trial.objects.get(pk=trial.pk)
    assert stored.first_served_at == served and before <= served <= timezone.now()
    assert stored.exposure_ms == 350
    assert sql.mark_served(trial.pk, 999) is None  # a second serve changes nothing
    again = Trial.objects.get(pk=trial.pk)
    assert (again.first_served_at, again.exposure_ms) == (served, 350)


def test_an_answer_records_the_served_time_the_orm_stored(study):
    reader = invite(study)
    pending = sql.pending_trials(reader.pk, 1)[0]
    sql.mark_served(pending.trial.pk, None)
    response, created = submit_response(reader, Submission(trial_token=pending.trial.token, answer="real"))
    stored = Response.objects.get(pk=response.pk)
    assert created and stored.served_at == Trial.objects.get(pk=pending.trial.pk).first_served_at
    assert isinstance(stored.server_response_ms, float) and stored.server_response_ms >= 0
    assert stored.served_at.tzinfo is not None and stored.served_at.utcoffset() == datetime.timedelta(0)


def test_image_file_only_for_the_invitation_that_owns_the_trial(study):
    reader, other = invite(study, "A"), invite(study, "B")
    image = sql.pending_trials(reader.pk, 1)[0].images[0]
    found = sql.image_file(reader.token, image.token)
    assert found == (study.pool.directory, found.file, None, False, False, True, "open", False)
    assert found.file.endswith(".png")
    assert sql.image_file(other.token, image.token) is None
    Reader.objects.filter(pk=reader.pk).update(revoked_at=timezone.now(), excluded=True, started_at=None)
    type(study).objects.filter(pk=study.pk).update(status="paused")
    found = sql.image_file(reader.token, image.token)
    assert (found.revoked, found.excluded, found.started, found.study_status) == (True, True, False, "paused")


def test_touch_reader_marks_finished_only_after_the_last_trial(study):
    reader = invite(study)
    last = reader.trials.order_by("index").last().index
    sql.touch_reader(reader.pk, last - 1)
    seen = Reader.objects.get(pk=reader.pk)
    assert timezone.is_aware(seen.last_seen_at) and seen.finished_at is None
    sql.touch_reader(reader.pk, last)
    done = Reader.objects.get(pk=reader.pk)
    assert done.finished_at is not None and done.finished_at >= seen.last_seen_at
    sql.touch_reader(reader.pk, last)  # a later touch keeps the first finishing time
    assert Reader.objects.get(pk=reader.pk).finished_at == done.finished_at

"""The reader's API: answers stored exactly once, in order, blinded, and bad input changes nothing."""
from __future__ import annotations

import json

import pytest

from readerstudy.models import Response, StudyStatus, Trial

from .helpers import invite


pytestmark = pytest.mark.django_db


def state(client, reader):
    response = client.get(f"/api/reader/{reader.token}/")
    assert response.status_code == 200, response.content
    return response.json()


def answer_for(trial: Trial, correct: bool = True) -> str:
    truth = trial.truth
    return truth if correct else ("real" if truth == "synthetic" else "synthetic")


def post(client, reader, **payload):
    return client.post(f"/api/reader/{reader.token}/responses/", data=json.dumps(payload),
                       content_type="application/json")


def test_a_reader_answers_every_trial_and_each_answer_is_stored_once(client, study):
    reader = invite(study, "Dr. Reader")
    total = reader.trials.count()
    for _ in range(total):
        current = state(client, reader)["trials"][0]
        trial = Trial.objects.get(token=current["token"])
        response = post(client, reader, trial=current["token"], answer=answer_for(trial), client_response_ms=812.5)
        assert response.status_code == 201
    final = state(client, reader)
    assert final["finished"] and final["progress"]["done"] == total
    assert Response.objects.filter(trial__reader=reader).count() == total
    assert all(r.correct for r in Response.objects.filter(trial__reader=reader))
    reader.refresh_from_db()
    assert reader.finished_at is not None


def test_a_repeated_submission_returns_the_stored_answer_and_creates_nothing(client, study):
    reader = invite(study, "R")
    token = state(client, reader)["trials"][0]["token"]
    first = post(client, reader, trial=token, answer="real")
    again = post(client, reader, trial=token, answer="synthetic")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["created"] is False
    stored = Response.objects.get(trial__token=token)
    assert stored.answer == "real" and Response.objects.count() == 1


def test_answering_a_later_trial_first_is_refused_so_no_trial_is_skipped(client, study):
    reader = invite(study, "R")
    later = state(client, reader)["trials"][1]["token"]
    response = post(client, reader, trial=later, answer="real")
    assert response.status_code == 409 and "in order" in response.json()["detail"]
    assert Response.objects.count() == 0


@pytest.mark.parametrize("payload, message", [
    ({"answer": "maybe"}, "answer"),
    ({"answer": ""}, "real' or 'synthetic"),
    ({"answer": "real", "client_response_ms": -5}, "client_response_ms"),
    ({"answer": "real", "confidence": "high"}, "confidence"),
])
def test_a_malformed_answer_gets_a_clear_message_and_changes_nothing(client, study, payload, message):
    reader = invite(study, "R")
    token = state(client, reader)["trials"][0]["token"]
    response = post(client, reader, trial=token, **payload)
    assert response.status_code == 400 and message in response.json()["detail"]
    assert Response.objects.count() == 0
    study.refresh_from_db()
    assert study.frozen_at is None


def test_confidence_is_required_and_range_checked_when_the_study_asks_for_it(client, make_study):
    study = make_study(confidence_scale="5")
    reader = invite(study, "R")
    token = state(client, reader)["trials"][0]["token"]
    assert post(client, reader, trial=token, answer="real").status_code == 400
    assert post(client, reader, trial=token, answer="real", confidence=6).status_code == 400
    assert post(client, reader, trial=token, answer="real", confidence=4).status_code == 201
    assert Response.objects.get().confidence == 4


def test_a_trial_of_another_reader_is_not_found(client, study):
    alice_reader, bob_reader = invite(study, "A"), invite(study, "B")
    token = state(client, bob_reader)["trials"][0]["token"]
    assert post(client, alice_reader, trial=token, answer="real").status_code == 404


def test_revoked_links_unknown_links_and_paused_studies_are_refused(client, study):
    reader = invite(study, "R")
    assert client.get("/api/reader/not-a-token/").status_code == 404
    image_url = state(client, reader)["trials"][1]["images"][0]["url"]
    study.status = StudyStatus.PAUSED
    study.save()
    paused = state(client, reader)
    assert paused["trials"] == [] and paused["open"] is False and paused["finished"] is False
    token = reader.trials.order_by("index").first().token
    assert post(client, reader, trial=token, answer="real").status_code == 409
    assert client.get(image_url).status_code == 409  # no images while paused
    assert reader.trials.get(index=1).first_served_at is None  # the next trial's clock has not started
    reader.revoked_at = reader.created_at
    reader.save()
    assert client.get(f"/api/reader/{reader.token}/").status_code == 410
    assert Response.objects.count() == 0


def test_the_first_answer_freezes_the_design(client, study):
    reader = invite(study, "R")
    token = state(client, reader)["trials"][0]["token"]
    post(client, reader, trial=token, answer="real")
    study.refresh_from_db()
    assert study.frozen_at is not None


def test_nothing_the_reader_receives_reveals_class_source_or_pool_ids(client, study):
    reader = invite(study, "R")
    body = client.get(f"/api/reader/{reader.token}/").content.decode()
    page = client.get(f"/r/{reader.token}/read/", follow=True).content.decode()
    secrets = set()
    for trial in reader.trials.prefetch_related("images__image"):
        for ti in trial.images.all():
            secrets |= {ti.image.uid, ti.image.source_id, ti.image.source, ti.image.sha256, ti.image.file}
    assert '"real"' not in body and '"synthetic"' not in body
    for text in (body, page):
        for secret in secrets:
            assert secret not in text
    payload = json.loads(body)
    for trial in payload["trials"]:
        assert set(trial) == {"token", "kind", "images", "exposure_ms"}
        for image in trial["images"]:
            assert set(image) == {"position", "url"}


def test_images_are_served_only_to_the_reader_who_owns_the_trial_with_identical_headers(client, study):
    owner, other = invite(study, "Owner"), invite(study, "Other")
    urls = [img["url"] for t in state(client, owner)["trials"] for img in t["images"]]
    responses = [client.get(url) for url in urls]
    assert all(r.status_code == 200 and r["Content-Type"] == "image/png" for r in responses)
    header_sets = {tuple(sorted((k, v) for k, v in r.headers.items() if k != "Content-Length")) for r in responses}
    assert len(header_sets) == 1
    stolen = urls[0].replace(owner.token, other.token)
    assert client.get(stolen).status_code == 404


def test_adding_a_reader_leaves_existing_schedules_untouched(study):
    first = invite(study, "First")
    before = list(first.trials.values_list("index", "resolution", "images__image_id"))
    invite(study, "Second")
    invite(study, "Third")
    assert list(first.trials.values_list("index", "resolution", "images__image_id")) == before


def test_practice_trials_give_feedback_and_a_failed_pass_mark_ends_participation(client, make_study):
    study = make_study(practice_trials=2, practice_pass_mark=1.0)
    reader = invite(study, "R")
    for _ in range(2):
        current = state(client, reader)["trials"][0]
        assert current["kind"] == "practice"
        trial = Trial.objects.get(token=current["token"])
        body = post(client, reader, trial=current["token"], answer=answer_for(trial, correct=False)).json()
        assert body["feedback"] == {"correct": False}
    assert body["state"]["excluded"] is True
    reader.refresh_from_db()
    assert reader.excluded and reader.exclusion_reason.startswith("failed practice")
    assert client.get(f"/api/reader/{reader.token}/").status_code == 403


def test_the_practice_verdict_is_stored_with_the_last_practice_answer_or_not_at_all(client, make_study, monkeypatch):
    # A crash between the last practice answer and the gate must not let a failed reader through: the
    # answer and the verdict commit together, so the retry stores both.
    import readerstudy.services as services

    reader = invite(make_study(practice_trials=2, practice_pass_mark=1.0), "R")
    first = state(client, reader)["trials"][0]
    post(client, reader, trial=first["token"], answer=answer_for(Trial.objects.get(token=first["token"]), False))
    last = state(client, reader)["trials"][0]
    wrong = answer_for(Trial.objects.get(token=last["token"]), correct=False)
    real_gate = services.practice_gate

    def crash(reader):
        raise RuntimeError("worker died")

    monkeypatch.setattr(services, "practice_gate", crash)
    with pytest.raises(RuntimeError):
        post(client, reader, trial=last["token"], answer=wrong)
    assert not Response.objects.filter(trial__token=last["token"]).exists()
    monkeypatch.setattr(services, "practice_gate", real_gate)
    retry = post(client, reader, trial=last["token"], answer=wrong)
    assert retry.status_code == 201 and retry.json()["state"]["excluded"] is True
    reader.refresh_from_db()
    assert reader.excluded and not Response.objects.filter(trial__reader=reader, trial__kind="main").exists()


def test_forced_choice_practice_feedback_names_the_odd_position_once_the_answer_is_stored(client, make_study):
    study = make_study(design="choice", alternatives=3, practice_trials=2, trials_per_resolution=3, resolutions=[64])
    reader = invite(study, "R")
    for correct in (False, True):
        current = state(client, reader)["trials"][0]
        assert current["kind"] == "practice" and "odd_position" not in str(current), "nothing before the answer"
        trial = Trial.objects.get(token=current["token"])
        chosen = trial.odd_position if correct else (trial.odd_position + 1) % 3
        body = post(client, reader, trial=trial.token, chosen_position=chosen, client_key="k").json()
        assert body["feedback"] == {"correct": correct, "odd_position": trial.odd_position}
        assert "odd_position" not in str(body["state"]), "the state after it never names it"
        retry = post(client, reader, trial=trial.token, chosen_position=chosen, client_key="k").json()
        assert retry["created"] is False and retry["feedback"] == body["feedback"], "a lost acknowledgement"
    while (trials := state(client, reader)["trials"]):
        trial = Trial.objects.get(token=trials[0]["token"])
        assert trial.kind != "practice"
        body = post(client, reader, trial=trial.token, chosen_position=(trial.odd_position + 1) % 3).json()
        assert "feedback" not in body and "odd_position" not in str(body), "a main trial's answer never names it"
    assert Response.objects.filter(trial__reader=reader, trial__kind="main").count() == 3


def test_practice_without_feedback_never_names_the_odd_position(client, make_study):
    study = make_study(design="choice", alternatives=2, practice_trials=2, practice_feedback=False,
                       trials_per_resolution=1, resolutions=[64])
    reader = invite(study, "R")
    trial = Trial.objects.get(token=state(client, reader)["trials"][0]["token"])
    body = post(client, reader, trial=trial.token, chosen_position=trial.odd_position).json()
    assert body["created"] is True and "feedback" not in body and "odd_position" not in str(body)


def test_single_image_practice_feedback_is_the_verdict_alone(client, make_study):
    reader = invite(make_study(practice_trials=2), "R")
    trial = Trial.objects.get(token=state(client, reader)["trials"][0]["token"])
    assert post(client, reader, trial=trial.token, answer=answer_for(trial)).json()["feedback"] == {"correct": True}


@pytest.mark.parametrize("design, extra, field", [
    ({}, {"confidence": 3}, "confidence"),
    ({}, {"rating": 2}, "rating"),
    ({}, {"chosen_position": 1}, "chosen_position"),
    ({}, {"reason": "looked odd"}, "reason"),
    ({"design": "choice", "alternatives": 2}, {"answer": "real"}, "answer"),
    ({"design": "rating"}, {"answer": "real"}, "answer"),
    ({"practice_trials": 2, "confidence_scale": "5"}, {"confidence": 4}, "confidence"),
])
def test_an_answer_with_fields_the_design_does_not_ask_for_is_refused(client, make_study, design, extra, field):
    reader = invite(make_study(**design), "R")
    current = state(client, reader)["trials"][0]
    trial = Trial.objects.get(token=current["token"])
    answer = {"single": {"answer": trial.truth}, "choice": {"chosen_position": trial.odd_position},
              "rating": {"rating": 2}}[design.get("design", "single")]
    refused = post(client, reader, trial=current["token"], **{**answer, **extra})
    assert refused.status_code == 400 and field in refused.json()["detail"], refused.content
    assert not Response.objects.exists()
    assert post(client, reader, trial=current["token"], **answer).status_code == 201


def test_forced_choice_correctness_is_computed_on_the_server(client, make_study):
    study = make_study(design="choice", alternatives=3, trials_per_resolution=3, resolutions=[64])
    reader = invite(study, "R")
    current = state(client, reader)["trials"][0]
    assert len(current["images"]) == 3
    trial = Trial.objects.get(token=current["token"])
    post(client, reader, trial=current["token"], chosen_position=trial.odd_position)
    assert Response.objects.get().correct is True
    bad = post(client, reader, trial=state(client, reader)["trials"][0]["token"], chosen_position=3)
    assert bad.status_code == 400 and "position 0 to 2" in bad.json()["detail"]


def test_ratings_are_stored_without_correctness(client, make_study):
    study = make_study(design="rating", rating_labels=["1", "2", "3", "4", "5"])
    reader = invite(study, "R")
    token = state(client, reader)["trials"][0]["token"]
    assert post(client, reader, trial=token, rating=6).status_code == 400
    assert post(client, reader, trial=token, rating=4).status_code == 201
    stored = Response.objects.get()
    assert stored.rating == 4 and stored.correct is None


def test_a_timed_trial_records_the_requested_and_the_measured_exposure(client, make_study):
    study = make_study(exposure_mode="fixed", exposure_ms=500)
    reader = invite(study, "R")
    current = state(client, reader)["trials"][0]
    assert current["exposure_ms"] == 500
    post(client, reader, trial=current["token"], answer="real", client_exposure_ms=517.0)
    nxt = state(client, reader)["trials"][0]
    post(client, reader, trial=nxt["token"], answer="real", client_exposure_ms=350.0)
    first, second = Response.objects.order_by("trial__index")
    assert (first.exposure_ok, second.exposure_ok) == (True, False)
    assert first.trial.exposure_ms == 500


def test_a_staircase_decides_each_exposure_after_the_previous_answer(client, make_study):
    # HYPE-time (Zhou et al. 2019): +10 ms after an error, -30 ms after three correct in a row.
    study = make_study(exposure_mode="staircase", exposure_ms=500)
    reader = invite(study, "R")
    shown = []
    pattern = [False, False, True, True, True, True]
    for correct in pattern:
        current = state(client, reader)
        assert len(current["trials"]) == 2 and current["trials"][1]["exposure_ms"] is None
        trial = Trial.objects.get(token=current["trials"][0]["token"])
        shown.append(current["trials"][0]["exposure_ms"])
        post(client, reader, trial=trial.token, answer=answer_for(trial, correct), client_exposure_ms=shown[-1])
    assert shown == [500, 510, 520, 520, 520, 490]
    stored = list(Trial.objects.filter(reader=reader, response__isnull=False).order_by("index")
                  .values_list("exposure_ms", flat=True))
    assert stored == shown
    assert all(Response.objects.filter(trial__reader=reader).values_list("exposure_ok", flat=True))


def test_a_page_that_showed_a_different_exposure_than_stored_is_marked(client, make_study):
    study = make_study(exposure_mode="fixed", exposure_ms=500)
    reader = invite(study, "R")
    token = state(client, reader)["trials"][0]["token"]
    post(client, reader, trial=token, answer="real", client_exposure_ms=505.0, requested_exposure_ms=400)
    assert Response.objects.get().exposure_ok is False


def test_catch_trials_show_catch_images_and_are_scored_but_kept_apart(client, make_study):
    study = make_study(catch_trials=3)
    reader = invite(study, "R")
    kinds = list(reader.trials.order_by("index").values_list("kind", flat=True))
    assert kinds.count("catch") == 3 and kinds[0] != "catch"
    for trial in reader.trials.order_by("index"):
        roles = {ti.image.role for ti in trial.images.all()}
        assert roles == ({"catch"} if trial.kind == "catch" else {"main"})
        current = state(client, reader)["trials"][0]
        assert current["token"] == trial.token and current["kind"] == "main"  # never "catch": blinding
        post(client, reader, trial=trial.token, answer="synthetic")
    catch = Response.objects.filter(trial__kind="catch")
    assert catch.count() == 3 and all(r.correct for r in catch)
    assert state(client, reader)["progress"]["total"] == 12 + 3


def test_a_rating_study_can_ask_the_class_afterwards_and_scores_that_answer(client, make_study):
    study = make_study(design="rating", rating_ask_class=True)
    reader = invite(study, "R")
    token = state(client, reader)["trials"][0]["token"]
    missing = post(client, reader, trial=token, rating=3)
    assert missing.status_code == 400 and "real' or 'synthetic" in missing.json()["detail"]
    trial = Trial.objects.get(token=token)
    assert post(client, reader, trial=token, rating=3, answer=answer_for(trial, correct=False)).status_code == 201
    stored = Response.objects.get()
    assert stored.rating == 3 and stored.correct is False


def test_a_repeated_answer_says_whether_it_was_this_pages_own_earlier_try(client, study):
    reader = invite(study, "R")
    token = state(client, reader)["trials"][0]["token"]
    first = post(client, reader, trial=token, answer="real", client_key="tab-a-1")
    assert first.status_code == 201 and "same_client" not in first.json()
    retry = post(client, reader, trial=token, answer="real", client_key="tab-a-1")
    other_tab = post(client, reader, trial=token, answer="synthetic", client_key="tab-b-1")
    assert (retry.status_code, retry.json()["same_client"]) == (200, True)
    assert (other_tab.status_code, other_tab.json()["same_client"]) == (200, False)
    assert Response.objects.get().answer == "real"

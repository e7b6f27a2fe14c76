"""Integrity rules from the review: the design, the answers and the records cannot be changed behind the
readers' backs, and malformed requests are refused with a clear message."""
from __future__ import annotations

import json

import pytest

from readerstudy.models import Response, Study, Trial
from readerstudy.services import create_reader

from .helpers import invite

pytestmark = pytest.mark.django_db


def answer_first(client, reader):
    token = client.get(f"/api/reader/{reader.token}/").json()["trials"][0]["token"]
    return client.post(f"/api/reader/{reader.token}/responses/", json.dumps({"trial": token, "answer": "real"}),
                       content_type="application/json")


def test_editing_a_design_before_any_answer_rebuilds_invited_readers_schedules(client, alice, study):
    reader = create_reader(study, "Early")
    seed = reader.seed
    client.force_login(alice)
    response = client.patch(f"/api/studies/{study.pk}/", {"design": "choice", "alternatives": 3, "resolutions": [64]},
                            content_type="application/json")
    assert response.status_code == 200, response.content
    reader.refresh_from_db()
    trials = list(reader.trials.prefetch_related("images"))
    assert reader.seed == seed and len(trials) == 4
    assert all(t.resolution == 64 and t.images.count() == 3 and t.odd_position is not None for t in trials)


@pytest.mark.parametrize("change", [{"pool": None}, {"resolutions": [32]}, {"design": "rating"}])
def test_after_the_first_answer_no_design_field_can_change_through_the_api(client, alice, study, pool, change):
    reader = invite(study)
    assert answer_first(client, reader).status_code == 201
    if "pool" in change:
        change = {"pool": pool.pk, "resolutions": [32, 64]}
    client.force_login(alice)
    response = client.patch(f"/api/studies/{study.pk}/", change, content_type="application/json")
    assert response.status_code == 400 and "frozen" in response.content.decode()
    fresh = Study.objects.get(pk=study.pk)
    assert fresh.resolutions == [32, 64, 96] and fresh.design == "single"


def test_a_study_with_readers_cannot_be_deleted_through_the_api(client, alice, study):
    create_reader(study, "R")
    client.force_login(alice)
    assert client.delete(f"/api/studies/{study.pk}/").status_code == 400
    assert Study.objects.filter(pk=study.pk).exists()


def test_the_admin_shows_answers_and_trials_but_never_changes_or_deletes_them(client, study, django_user_model):
    reader = invite(study)
    answer_first(client, reader)
    admin = django_user_model.objects.create_superuser("root", "root@example.org", "root-pass-123")
    client.force_login(admin)
    response = Response.objects.get()
    trial = Trial.objects.filter(reader=reader).first()
    assert client.post(f"/admin/readerstudy/response/{response.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.post(f"/admin/readerstudy/study/{study.pk}/delete/", {"post": "yes"}).status_code == 403
    assert client.post(f"/admin/readerstudy/trial/{trial.pk}/change/", {"odd_position": 1}).status_code == 403
    assert Response.objects.count() == 1 and Study.objects.filter(pk=study.pk).exists()
    assert client.get(f"/admin/readerstudy/response/{response.pk}/change/").status_code == 200  # view only


def test_a_timeout_is_refused_where_the_study_has_no_time_limit(client, study):
    reader = invite(study)
    token = client.get(f"/api/reader/{reader.token}/").json()["trials"][0]["token"]
    response = client.post(f"/api/reader/{reader.token}/responses/",
                           json.dumps({"trial": token, "answer": "real", "timed_out": True}),
                           content_type="application/json")
    assert response.status_code == 400 and "no time limit" in response.json()["detail"]
    assert not Response.objects.exists()


def test_a_timeout_stores_no_answer_where_the_study_has_a_time_limit(client, make_study):
    reader = invite(make_study(time_limit_ms=5000))
    token = client.get(f"/api/reader/{reader.token}/").json()["trials"][0]["token"]
    client.post(f"/api/reader/{reader.token}/responses/",
                json.dumps({"trial": token, "answer": "real", "timed_out": True}), content_type="application/json")
    stored = Response.objects.get()
    assert stored.timed_out and stored.answer == "" and stored.correct is False


def test_answers_before_the_questionnaire_and_consent_are_refused(client, make_study):
    reader = create_reader(make_study(consent="I agree to take part."), "Skipper")
    before = client.get(f"/api/reader/{reader.token}/").json()
    assert before["trials"] == [] and before["started"] is False and before["finished"] is False
    first = reader.trials.order_by("index").first()
    forged = client.post(f"/api/reader/{reader.token}/responses/",
                         json.dumps({"trial": first.token, "answer": "real"}), content_type="application/json")
    assert forged.status_code == 409
    image = client.get(f"/api/reader/{reader.token}/images/{first.images.first().token}/")
    assert image.status_code == 409 and "invitation link first" in image.json()["detail"]
    assert Trial.objects.get(pk=first.pk).first_served_at is None  # nothing served, no clock started
    refused = client.post(f"/api/reader/{reader.token}/start/",
                          json.dumps({"role": "radiologist", "years_experience": 3}), content_type="application/json")
    assert refused.status_code == 400 and "consent" in refused.json()["detail"]
    started = client.post(f"/api/reader/{reader.token}/start/",
                          json.dumps({"role": "radiologist", "years_experience": 3, "consent": True}),
                          content_type="application/json")
    assert started.status_code == 200 and started.json()["trials"]
    assert answer_first(client, reader).status_code == 201


@pytest.mark.parametrize("payload, message", [
    ({"resolutions": [32, 32]}, "each resolution once"),
    ({"resolutions": [32], "rating_labels": "abcd", "design": "rating"}, "list of labels"),
    ({"resolutions": [32], "design": "rating", "practice_trials": 2, "practice_pass_mark": 0.8},
     "no right answer"),
])
def test_an_impossible_design_is_refused_by_the_api(client, alice, pool, payload, message):
    client.force_login(alice)
    response = client.post("/api/studies/", {"name": "S", "pool": pool.pk, **payload}, content_type="application/json")
    assert response.status_code == 400 and message in response.content.decode()
    assert not Study.objects.exists()


@pytest.mark.parametrize("url", ["/api/readers/?study=abc", "/api/readers/?study=%C2%B2", "/api/trials/?reader=1x",
                                 "/api/responses/?study=-1"])
def test_a_non_numeric_filter_is_a_clear_400(client, alice, url):
    client.force_login(alice)
    response = client.get(url)
    assert response.status_code == 400 and "numeric id" in response.content.decode()


def test_an_unknown_exclusion_rule_is_a_clear_400(client, alice, study):
    client.force_login(alice)
    response = client.get(f"/api/studies/{study.pk}/report/?exclude=bogus")
    assert response.status_code == 400 and "bogus" in response.json()["detail"]


def test_an_excluded_token_reader_is_told_so_and_not_sent_to_a_login_page(client, study):
    reader = invite(study)
    reader.excluded = True
    reader.save()
    response = client.get(f"/r/{reader.token}/")
    assert response.status_code == 403 and "participation" in response.content.decode()


def test_the_readers_list_costs_a_fixed_number_of_queries(client, alice, study, django_assert_max_num_queries):
    for i in range(6):
        create_reader(study, f"R{i}")
    client.force_login(alice)
    with django_assert_max_num_queries(8):
        readers = client.get(f"/api/readers/?study={study.pk}").json()["results"]
    assert len(readers) == 6 and all(r["progress"]["total"] == 12 for r in readers)


@pytest.mark.parametrize("url", ["/api/reader/abc%00/", "/r/abc%00/read/", "/r/abc%00/", "/api/reader/abc%00/start/",
                                 "/api/reader/abc/images/x%00y/", "/api/reader/a%20b/", "/r/" + "a" * 65 + "/"])
def test_a_malformed_token_in_a_url_is_a_404_on_every_database(client, url):
    assert client.get(url).status_code == 404


def test_a_malformed_pool_image_id_is_a_404(client, alice, pool):
    client.force_login(alice)
    assert client.get(f"/coordinator/pools/{pool.pk}/images/ab%00cd.png").status_code == 404


@pytest.mark.parametrize("body, status", [([1, 2], 400), ({"reason": "x" * 301}, 400), ("not json", 400),
                                          ({"reason": "  no eye contact with the screen "}, 200), ({}, 200)])
def test_excluding_a_reader_through_the_api_checks_its_body(client, alice, study, body, status):
    reader = invite(study)
    client.force_login(alice)
    data = body if isinstance(body, str) else json.dumps(body)
    response = client.post(f"/api/readers/{reader.pk}/exclude/", data, content_type="application/json")
    assert response.status_code == status, response.content
    reader.refresh_from_db()
    assert reader.excluded is (status == 200)
    if status == 200:
        assert reader.exclusion_reason == (body.get("reason", "").strip() or "excluded by the coordinator")


def test_a_reader_invited_while_a_design_is_saved_gets_the_new_design(study, monkeypatch):
    # The reader list is read before the study lock; one invited in between must be rebuilt too.
    import readerstudy.services as services

    invited_meanwhile = create_reader(study, "Meanwhile")
    monkeypatch.setattr(services, "_lock_readers", lambda study: [])
    study.design, study.alternatives, study.resolutions = "choice", 3, [64]
    services.save_design(study)
    trials = list(invited_meanwhile.trials.prefetch_related("images"))
    assert trials and all(t.resolution == 64 and len(t.images.all()) == 3 for t in trials)

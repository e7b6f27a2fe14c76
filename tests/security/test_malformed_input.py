"""Inputs that once gave a 500 (a RecursionError, an integer the database cannot hold, a statement too
large for SQLite, a NUL that PostgreSQL cannot store) are a clear 4xx that changes nothing."""
from __future__ import annotations

import json

import pytest
from django.core.management import call_command
from rest_framework.authtoken.models import Token

from readerstudy.models import Reader, Response, Study, Trial, TrialImage

from ..readerstudy.helpers import invite

pytestmark = pytest.mark.django_db

NESTED = "[" * 1000 + "]" * 1000  # 2 KB


def snapshot() -> tuple:
    return (list(Study.objects.order_by("pk").values()), list(Reader.objects.order_by("pk").values()),
            Response.objects.count(), Token.objects.count())


@pytest.fixture
def endpoints(client, alice, study):
    """(method, url) of every endpoint that reads a JSON body, as alice (a coordinator) would call it."""
    reader = invite(study)
    other = Reader.objects.create(study=study, name="Not started")
    client.force_login(alice)
    return [
        ("post", "/api/token/"),
        ("post", "/api/studies/"),
        ("patch", f"/api/studies/{study.pk}/"),
        ("put", f"/api/studies/{study.pk}/"),
        ("post", "/api/readers/"),
        ("post", f"/api/readers/{reader.pk}/exclude/"),
        ("post", f"/api/reader/{other.token}/start/"),
        ("post", f"/api/reader/{reader.token}/responses/"),
    ]


def send(client, method: str, url: str, body: str, content_type: str = "application/json"):
    return getattr(client, method)(url, body, content_type=content_type)


def test_json_nested_a_thousand_deep_is_a_400_on_every_json_endpoint(client, endpoints):
    before = snapshot()
    for method, url in endpoints:
        response = send(client, method, url, NESTED)
        assert response.status_code == 400, (url, response.status_code)
        assert "nested" in response.json()["detail"], url
    assert snapshot() == before


def test_json_nested_past_the_bound_inside_a_field_is_a_400(client, endpoints, study):
    deep = json.dumps({"name": "S", "rating_labels": json.loads("[" * 40 + "]" * 40)})
    response = client.patch(f"/api/studies/{study.pk}/", deep, content_type="application/json")
    assert response.status_code == 400 and "rating_labels" in response.json()["detail"]
    shallow = json.dumps({"rating_labels": ["very fake", "fake", "real", "very real"]})
    assert client.patch(f"/api/studies/{study.pk}/", shallow, content_type="application/json").status_code == 200


@pytest.mark.parametrize("body, field", [
    ({"rating_labels": ["fake", "rather fake\u0000", "rather real", "real"]}, "rating_labels[1]"),
    ({"name": "Study\u0000"}, "name"),
    ({"instructions": "Look\u0000 closely"}, "instructions"),
    ({"resolutions": [32], "x\u0000": 1}, "key"),
])
def test_a_nul_character_in_any_string_of_a_json_body_is_a_400_that_names_the_field(client, alice, study, body,
                                                                                     field):
    client.force_login(alice)
    before = snapshot()
    response = client.patch(f"/api/studies/{study.pk}/", json.dumps(body), content_type="application/json")
    assert response.status_code == 400 and field in response.json()["detail"]
    assert "NUL" in response.json()["detail"]
    assert snapshot() == before


def test_a_nul_character_is_refused_on_the_reader_endpoints_and_the_token_endpoint(client, study, alice):
    reader = invite(study)
    fresh = Reader.objects.create(study=study, name="Fresh")
    trial = reader.trials.order_by("index").first()
    before = snapshot()
    for url, body in [
        (f"/api/reader/{fresh.token}/start/", {"role": "radiologist", "years_experience": 3, "subspecialty": "a\0"}),
        (f"/api/reader/{reader.token}/responses/", {"trial": trial.token, "answer": "real", "client_key": "k\0"}),
        ("/api/token/", {"username": "alice\0", "password": "alice-pass-123"}),
    ]:
        response = client.post(url, json.dumps(body), content_type="application/json")
        assert response.status_code == 400 and "NUL" in response.json()["detail"], url
    assert snapshot() == before


def test_a_nul_character_in_a_form_body_or_in_json_text_inside_a_form_is_a_400(client, alice, study):
    client.force_login(alice)
    before = snapshot()
    form = "application/x-www-form-urlencoded"
    response = client.patch(f"/api/studies/{study.pk}/", "name=S%00", content_type=form)
    assert response.status_code == 400 and "name" in response.json()["detail"]
    labels = json.dumps(["a\u0000", "b", "c", "d"])  # the escape, not the character, is in the form
    response = client.patch(f"/api/studies/{study.pk}/", f"rating_labels={labels}", content_type=form)
    assert response.status_code == 400 and "rating_labels[0]" in response.json()["rating_labels"][0]
    response = client.patch(f"/api/studies/{study.pk}/", f"rating_labels={NESTED}", content_type=form)
    assert response.status_code == 400 and "nested" in response.json()["rating_labels"][0]
    response = client.post("/api/token/", {"username": "alice\0", "password": "alice-pass-123"})  # multipart
    assert response.status_code == 400 and "NUL" in response.json()["detail"]
    assert snapshot() == before


@pytest.mark.parametrize("list_url", ["/api/trials/", "/api/responses/", "/api/readers/", "/api/studies/",
                                      "/api/pools/"])
def test_a_limit_past_any_integer_the_database_holds_is_capped(client, alice, study, list_url):
    invite(study)
    client.force_login(alice)
    response = client.get(f"{list_url}?limit=9223372036854775808")
    assert response.status_code == 200, response.content
    assert len(response.json()["results"]) <= 500
    response = client.get(f"{list_url}?limit=20&offset=9223372036854775808")
    assert response.status_code == 200 and response.json()["results"] == []
    response = client.get(f"{list_url}?limit=1&offset=" + "9" * 5000)
    assert response.status_code == 200 and response.json()["results"] == []


@pytest.mark.parametrize("query", ["limit=abc", "limit=0", "limit=-5", "limit=1.5", "offset=x", "offset=-1",
                                   "limit=%C2%B2"])
def test_a_limit_or_offset_that_is_not_a_whole_number_in_range_is_a_400(client, alice, query):
    client.force_login(alice)
    response = client.get(f"/api/studies/?{query}")
    name = query.split("=")[0]
    assert response.status_code == 400 and response.json()[name].startswith(f"{name} must be")


def test_a_page_of_trials_is_at_most_500_even_when_more_are_asked_for(client, alice, study):
    reader = invite(study)
    images = list(study.pool.images.filter(resolution=32)[:4])
    start = reader.trials.count()
    trials = Trial.objects.bulk_create(Trial(reader=reader, index=start + i, resolution=32, odd_position=0)
                                       for i in range(1500))
    TrialImage.objects.bulk_create(TrialImage(trial=trial, position=p, image=image)
                                   for trial in trials for p, image in enumerate(images))
    client.force_login(alice)
    response = client.get("/api/trials/?limit=1500")
    assert response.status_code == 200, response.content
    page = response.json()
    assert len(page["results"]) == 500 and page["count"] == Trial.objects.count()
    assert "limit=500" in page["next"] and "offset=500" in page["next"]
    last = client.get(f"/api/trials/?limit=1500&offset={page['count'] - 10}").json()
    assert len(last["results"]) == 10 and all(len(trial["images"]) == 4 for trial in last["results"])


@pytest.mark.parametrize("url", ["/api/readers/?study=99999999999999999999", "/api/trials/?reader=9223372036854775808",
                                 "/api/responses/?study=" + "9" * 5000], ids=["20 digits", "2**63", "5000 digits"])
def test_an_id_filter_past_the_databases_integer_range_is_a_400(client, alice, study, url):
    client.force_login(alice)
    response = client.get(url)
    assert response.status_code == 400 and "numeric id" in response.content.decode()


def test_the_largest_id_the_database_holds_is_a_valid_filter_that_finds_nothing(client, alice, study):
    invite(study)
    client.force_login(alice)
    response = client.get("/api/readers/?study=9223372036854775807")
    assert response.status_code == 200 and response.json()["results"] == []


@pytest.mark.parametrize("path", ["studies", "readers", "trials", "responses", "pools"])
def test_a_detail_id_past_the_databases_integer_range_is_a_404(client, alice, study, path):
    client.force_login(alice)
    assert client.get(f"/api/{path}/99999999999999999999/").status_code == 404

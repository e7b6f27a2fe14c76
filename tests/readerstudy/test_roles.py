"""Every page and API endpoint for every role: alice coordinates, bob analyses, charlie has no role."""
from __future__ import annotations

import pytest

from readerstudy.services import create_reader

from .helpers import invite

pytestmark = pytest.mark.django_db

COORDINATOR_PAGES = ["/coordinator/", "/coordinator/studies/new/", "/coordinator/studies/{study}/",
                     "/coordinator/studies/{study}/readers/", "/coordinator/pools/{pool}/"]
ANALYST_PAGES = ["/results/", "/results/{study}/", "/results/{study}/responses.csv", "/results/{study}/report.json"]
API_READ = ["/api/pools/", "/api/studies/", "/api/studies/{study}/", "/api/readers/?study={study}"]
API_ANALYST = ["/api/trials/", "/api/responses/", "/api/studies/{study}/report/"]


def urls(templates, study):
    return [t.format(study=study.pk, pool=study.pool_id) for t in templates]


@pytest.mark.parametrize("who, expected", [("alice", 200), ("bob", 403), ("charlie", 403), (None, 302)])
def test_coordinator_pages_are_for_coordinators_only(client, study, alice, bob, charlie, who, expected):
    if who:
        client.force_login({"alice": alice, "bob": bob, "charlie": charlie}[who])
    for url in urls(COORDINATOR_PAGES, study):
        assert client.get(url).status_code == expected, url


@pytest.mark.parametrize("who, expected", [("alice", 200), ("bob", 200), ("charlie", 403), (None, 302)])
def test_results_and_exports_are_for_analysts_and_coordinators(client, study, alice, bob, charlie, who, expected):
    if who:
        client.force_login({"alice": alice, "bob": bob, "charlie": charlie}[who])
    for url in urls(ANALYST_PAGES, study):
        assert client.get(url).status_code == expected, url


@pytest.mark.parametrize("who, read, write", [("alice", 200, 201), ("bob", 200, 403), ("charlie", 403, 403),
                                               (None, 401, 401)])
def test_the_api_lets_analysts_read_and_only_coordinators_write(client, study, alice, bob, charlie, who, read, write):
    user = {"alice": alice, "bob": bob, "charlie": charlie}.get(who)
    if user:
        client.force_login(user)
    for url in urls(API_READ + API_ANALYST, study):
        expected = read if url in urls(API_READ, study) or who != "alice" else 200
        assert client.get(url).status_code == expected, url
    created = client.post("/api/readers/", {"study": study.pk, "name": "New reader"}, content_type="application/json")
    assert created.status_code == write
    if write == 201:
        assert created.json()["invitation_url"].startswith("http://testserver/r/")


def test_analysts_get_no_invitation_links(client, study, bob):
    create_reader(study, "R")
    client.force_login(bob)
    readers = client.get(f"/api/readers/?study={study.pk}").json()["results"]
    assert readers and all(r["invitation_url"] is None for r in readers)


def test_scripts_authenticate_with_a_token(client, study, bob):
    response = client.post("/api/token/", {"username": "bob", "password": "bob-pass-123"})
    token = response.json()["token"]
    assert client.get("/api/studies/", HTTP_AUTHORIZATION=f"Token {token}").status_code == 200
    assert client.get("/api/studies/", HTTP_AUTHORIZATION="Token wrong").status_code == 401


def test_the_openapi_schema_is_served_and_covers_the_reader_endpoints(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "/api/reader/{token}/responses/" in paths and "/api/studies/{id}/report/" in paths


def test_a_forged_post_without_csrf_token_is_refused(study, alice):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    response = client.post(f"/coordinator/studies/{study.pk}/status/close/")
    assert response.status_code == 403
    study.refresh_from_db()
    assert study.status == "open"


def test_reader_pages_are_never_kept_by_the_browser(client, study, charlie):
    """Back must bring a reader to the server's current trial, never a stored copy of an answered one."""
    fresh = create_reader(study, "New")
    reading = invite(study, "Reading")
    account = invite(study, "Account", user=charlie)
    client.force_login(charlie)
    pages = [f"/r/{fresh.token}/", f"/r/{reading.token}/read/", f"/r/{reading.token}/", f"/r/{reading.token}/done/",
             f"/r/{account.token}/read/", "/reading/", "/r/unknown-token/"]
    for url in pages:
        response = client.get(url)
        assert {"no-store", "no-cache", "must-revalidate", "private"} <= set(
            response["Cache-Control"].replace(" ", "").split(",")), url
        assert response["Pragma"] == "no-cache", url


def test_the_api_docs_page_is_served_from_the_package_without_a_cdn(client, alice):
    client.force_login(alice)
    page = client.get("/api/docs/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "swagger-ui" in html and "/static/drf_spectacular_sidecar/" in html
    assert "cdn" not in html.lower() and "https://" not in html.split("<body")[0]
    assert 'href="/api/docs/"' in client.get("/coordinator/").content.decode()

"""Every link and form on the coordinator's and the analyst's pages leads to a page of theirs.

A crawl from the dashboard, as alice (coordinator) and as bob (analyst): every href, hx-get and form action
is followed (GET for links; each kind of coordinator form is submitted once), redirects hop by hop. None may
lead into the API (the browsable API is for scripts) or fail with a server error or a broken link.
"""
from __future__ import annotations

import re
from collections import deque
from html.parser import HTMLParser
from urllib.parse import urlencode, urljoin, urlsplit

import pytest
from django.test import Client
from django.urls import get_resolver

from readerstudy.models import Trial
from readerstudy.services import Submission, submit_response

from .helpers import invite

pytestmark = pytest.mark.django_db

URL_ATTRIBUTES = ("href", "src", "action", "hx-get", "hx-post")
NOT_CRAWLED = ("/static/", "/admin/", "/accounts/logout/")


class PageLinks(HTMLParser):
    """The URLs a page points to, and its forms with the values a person would send unchanged."""

    def __init__(self):
        super().__init__()
        self.urls: list[tuple[str, str]] = []  # (attribute, url)
        self.forms: list[dict] = []
        self._form: dict | None = None
        self._textarea: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in URL_ATTRIBUTES:
            if attrs.get(name):
                self.urls.append((name, attrs[name]))
        if tag == "form":
            self._form = {"method": (attrs.get("method") or "get").lower(), "action": attrs.get("action"),
                          "fields": {}, "required": []}
            self.forms.append(self._form)
        if self._form is None:
            return
        name = attrs.get("name")
        if tag == "input" and name:
            if attrs.get("type") in ("checkbox", "radio") and "checked" not in attrs:
                return
            self._form["fields"][name] = attrs.get("value", "")
        elif tag == "textarea" and name:
            self._textarea = name
            self._form["fields"][name] = ""
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select:
            if self._select not in self._form["fields"] or "selected" in attrs:
                self._form["fields"][self._select] = attrs.get("value", "")

    def handle_data(self, data):
        if self._form is not None and self._textarea:
            self._form["fields"][self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None


def kind_of(path: str) -> str:
    """One name for all forms that do the same thing to different objects: /studies/7/status/open/ -> N."""
    return re.sub(r"/\d+/", "/N/", path)


class Crawl:
    def __init__(self, client: Client, post_forms: bool):
        self.client = client
        self.post_forms = post_forms
        self.problems: list[str] = []
        self.seen: set[str] = set()
        self.posted: set[str] = set()
        self.queue: deque[tuple[str, str]] = deque()

    def check_target(self, url: str, source: str) -> bool:
        path = urlsplit(url).path
        if path == "/api/docs/":  # the API's documentation page is meant for people
            return False
        if path.startswith("/api/"):
            self.problems.append(f"{source} leads into the API: {url}")
            return False
        return True

    def fetch(self, method: str, url: str, source: str, data=None):
        """Request url and follow its redirects hop by hop; the last response, or None."""
        for _ in range(10):
            if not self.check_target(url, source):
                return None
            try:
                response = self.client.post(url, data or {}) if method == "post" else self.client.get(url)
            except Exception as exc:  # a server error: say where it was met
                self.problems.append(f"{method.upper()} {url} (from {source}) raised {exc!r}")
                return None
            if response.status_code >= 500 or response.status_code == 404:
                self.problems.append(f"{method.upper()} {url} (from {source}) answered {response.status_code}")
                return None
            if response.status_code in (301, 302, 303, 307, 308):
                source, url = f"the redirect from {url}", urljoin(url, response["Location"])
                method, data = "get", None
                continue
            return url, response
        self.problems.append(f"{url} (from {source}) redirects in a loop")
        return None

    def visit(self, url: str, source: str):
        if url in self.seen:
            return
        self.seen.add(url)
        result = self.fetch("get", url, source)
        if result is not None:
            self.read(*result)

    def read(self, url: str, response):
        if "text/html" not in response.get("Content-Type", "") or getattr(response, "streaming", False):
            return
        if response.get("Content-Disposition", "").startswith("attachment"):
            return
        parser = PageLinks()
        parser.feed(response.content.decode())
        for attribute, link in parser.urls:
            target = urljoin(url, link)
            if link.startswith(("data:", "mailto:", "#")) or urlsplit(target).netloc not in ("", "testserver"):
                continue
            source = f"{attribute} on {url}"
            if not self.check_target(target, source):
                continue
            if attribute in ("href", "hx-get") and not urlsplit(target).path.startswith(NOT_CRAWLED):
                self.queue.append((target, source))
        for form in parser.forms:
            self.submit(url, form)

    def submit(self, page_url: str, form: dict):
        target = urljoin(page_url, form["action"] or page_url)
        path = urlsplit(target).path
        if path.startswith(NOT_CRAWLED):
            return
        fields = {name: value or ("Crawler reader" if name == "name" else value)
                  for name, value in form["fields"].items()}
        if form["method"] == "get":
            query = urlencode({k: v for k, v in fields.items() if k != "csrfmiddlewaretoken"})
            self.queue.append((f"{target.split('?')[0]}?{query}", f"the form on {page_url}"))
            return
        if not self.post_forms or kind_of(path) in self.posted:
            return
        self.posted.add(kind_of(path))
        result = self.fetch("post", target, f"the form on {page_url}", fields)
        if result is not None:
            self.read(*result)

    def run(self, start: str):
        self.queue.append((start, "the start"))
        while self.queue:
            self.visit(*self.queue.popleft())
        return self


@pytest.fixture
def studies(make_study):
    """A draft study, an open single-image study with answers, a forced-choice one and a closed one."""
    make_study(name="Draft study", status="draft")
    answered = make_study(name="Answered study", confidence_scale="5", practice_trials=2)
    for name in ("Ann", "Ben"):
        reader = invite(answered, name, email=f"{name.lower()}@example.org")
        for trial in Trial.objects.filter(reader=reader).order_by("index")[:8]:
            confidence = None if trial.kind == "practice" else 3
            submit_response(reader, Submission(trial_token=trial.token, answer="real", confidence=confidence))
    invite(answered, "Cem")
    choice = make_study(name="Choice study", design="choice", alternatives=3, resolutions=[64, 96],
                        trials_per_resolution=3)
    reader = invite(choice, "Dee")
    for trial in Trial.objects.filter(reader=reader).order_by("index"):
        submit_response(reader, Submission(trial_token=trial.token, chosen_position=0))
    make_study(name="Closed study", status="closed")


def test_no_page_is_named_like_an_api_route():
    """Outside the api namespace, only the reader API (api-...) and the schema live under /api/."""
    resolver = get_resolver()
    under_api = []
    for pattern in resolver.url_patterns:
        if hasattr(pattern, "url_patterns"):
            continue  # an include: the API's own routes are in the "api" namespace
        if str(pattern.pattern).startswith("api/"):
            under_api.append(pattern.name)
    assert under_api and all(name.startswith("api-") or name == "schema" for name in under_api), under_api
    api_include = next(p for p in resolver.url_patterns if str(p.pattern) == "api/" and hasattr(p, "url_patterns"))
    assert api_include.namespace == "api"


def test_page_names_give_pages_and_api_names_give_the_api(client, alice):
    from django.urls import reverse

    assert reverse("study-detail", args=[1]) == "/coordinator/studies/1/"
    assert reverse("pool-detail", args=[1]) == "/coordinator/pools/1/"
    assert reverse("study-copy", args=[1]) == "/coordinator/studies/1/copy/"
    assert reverse("api:study-detail", args=[1]) == "/api/studies/1/"
    assert reverse("api:token") == "/api/token/"
    client.force_login(alice)
    root = client.get("/api/", HTTP_ACCEPT="application/json").json()  # the API's own index still links its routes
    assert root["studies"] == "http://testserver/api/studies/" and root["pools"] == "http://testserver/api/pools/"


def test_every_coordinator_link_and_form_stays_on_coordinator_and_analyst_pages(client, alice, studies):
    client.force_login(alice)
    crawl = Crawl(client, post_forms=True).run("/")
    assert not crawl.problems, "\n".join(crawl.problems)
    visited = {kind_of(urlsplit(url).path) for url in crawl.seen}
    # The crawl really walked the coordinator's pages and sent their forms.
    assert {"/coordinator/", "/coordinator/studies/N/", "/coordinator/pools/N/", "/coordinator/studies/new/",
            "/coordinator/studies/N/edit/", "/results/N/", "/results/N/report.html"} <= visited, sorted(visited)
    assert {"/coordinator/studies/N/copy/", "/coordinator/studies/N/status/open/",
            "/coordinator/studies/N/status/pause/", "/coordinator/studies/N/status/close/",
            "/coordinator/studies/N/readers/invite/", "/coordinator/studies/N/readers/N/revoke/",
            "/coordinator/studies/N/readers/N/exclude/", "/coordinator/studies/N/readers/N/remind/",
            "/coordinator/studies/N/edit/"} <= crawl.posted, sorted(crawl.posted)


def test_every_analyst_link_stays_on_analyst_pages(client, bob, studies):
    client.force_login(bob)
    crawl = Crawl(client, post_forms=False).run("/")
    assert not crawl.problems, "\n".join(crawl.problems)
    visited = {kind_of(urlsplit(url).path) for url in crawl.seen}
    assert {"/results/", "/results/N/", "/results/N/responses.csv", "/results/N/report.json",
            "/results/N/report.html", "/results/N/study.imrmc"} <= visited, sorted(visited)
    assert not any(path.startswith("/coordinator/") for path in visited)

"""In a real browser, no request from a reading page carries the page's path (its invitation token) in a
Referer, and the site's forms (questionnaire, login) still pass Django's CSRF origin check."""
from __future__ import annotations

import re

import pytest

from readerstudy.models import Response
from readerstudy.services import create_reader

from ..browser.conftest import browser, page  # noqa: F401  (Playwright fixtures, Debian's Chromium)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_no_request_from_a_reading_session_sends_the_token_in_a_referer(page, live_server, study):  # noqa: F811
    reader = create_reader(study, "Dr. Referer")
    referers = []
    page.on("request", lambda request: referers.append(request.headers.get("referer")))
    page.goto(f"{live_server.url}/r/{reader.token}/")
    page.select_option("#id_role", "radiologist")
    page.fill("#id_years_experience", "5")
    page.click("text=Start reading")
    page.wait_for_url(re.compile(r"/read/$"))  # the questionnaire's POST passed the CSRF check
    page.wait_for_function("() => document.querySelector('#images img')"
                           " && !document.querySelector('#controls button').disabled")
    page.keyboard.press("r")
    for _ in range(200):  # the answer goes out after the next image is shown
        if Response.objects.filter(trial__reader=reader).exists():
            break
        page.wait_for_timeout(50)
    assert Response.objects.filter(trial__reader=reader).exists()
    sent = [r for r in referers if r]
    assert sent and all(r == f"{live_server.url}/" for r in sent), sent
    assert not any(reader.token in r for r in sent)


def test_the_login_form_is_accepted_by_the_browser(page, live_server, alice):  # noqa: F811
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "alice-pass-123")
    page.click("button[type=submit], input[type=submit]")
    page.wait_for_load_state()
    assert "/accounts/login/" not in page.url

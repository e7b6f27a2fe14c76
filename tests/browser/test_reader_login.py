"""A reader invited on their Mirage account signs in on a page meant for readers, not for coordinators."""
from __future__ import annotations

import re

import pytest

from readerstudy.services import create_reader

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_account_invited_reader_is_asked_to_sign_in_to_read(page, live_server, make_study, charlie):
    study = make_study(trials_per_resolution=2, resolutions=[64])
    reader = create_reader(study, "Dr. Account", user=charlie)
    page.goto(f"{live_server.url}/r/{reader.token}/")
    page.wait_for_url(re.compile(r"/accounts/login/\?next="))
    assert page.locator("h1").inner_text() == "Sign in to read"
    assert page.title().startswith("Sign in to read")
    text = page.locator("main").inner_text()
    assert "oordinator" not in text and "analyst" not in text
    assert "invitation was made to your Mirage account" in text
    page.fill("#id_username", "charlie")
    page.fill("#id_password", "charlie-pass-123")
    page.click("button:has-text('Sign in')")
    page.wait_for_url(re.compile(rf"/r/{reader.token}/$"))
    assert page.locator("text=Start reading").is_visible()


def test_the_reading_list_asks_a_reader_to_sign_in_to_read(page, live_server):
    page.goto(f"{live_server.url}/reading/")
    assert page.locator("h1").inner_text() == "Sign in to read"


def test_the_plain_login_page_is_for_coordinators_and_analysts(page, live_server):
    page.goto(f"{live_server.url}/accounts/login/")
    assert page.locator("h1").inner_text() == "Log in"
    assert "Coordinators and analysts log in here" in page.locator("main").inner_text()
    page.goto(f"{live_server.url}/accounts/login/?next=/coordinator/")
    assert page.locator("h1").inner_text() == "Log in"

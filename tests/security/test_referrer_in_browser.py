"""In a real browser, no request from a reading page carries the page's path (its invitation token) in a
Referer, and the site's forms (questionnaire, login) still pass Django's CSRF origin check.

Chromium is driven from a child process: the browser tests' own Playwright session may already be running
in this one, and two cannot share a process."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time

import pytest

from readerstudy.models import Response
from readerstudy.services import create_reader

from ..browser.conftest import CHROMIUM_FLAGS, chromium_path

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DRIVER = textwrap.dedent("""
    import json, re, sys
    from playwright.sync_api import sync_playwright

    chromium, flags, start_url, login_url = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3], sys.argv[4]
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=flags, headless=True)
        page = browser.new_page()
        referers = []
        page.on("request", lambda request: referers.append(request.headers.get("referer")))
        page.goto(start_url)
        page.select_option("#id_role", "radiologist")
        page.fill("#id_years_experience", "5")
        page.click("text=Start reading")
        page.wait_for_url(re.compile(r"/read/$"), timeout=20000)
        page.wait_for_function("() => document.querySelector('#images img')"
                               " && !document.querySelector('#controls button').disabled", timeout=20000)
        page.keyboard.press("r")
        page.wait_for_timeout(1500)  # the answer goes out after the next image is shown
        reading_url = page.url
        page.goto(login_url)
        page.fill("#id_username", "alice")
        page.fill("#id_password", "alice-pass-123")
        page.click("form button")
        page.wait_for_load_state()
        print(json.dumps({"reading_url": reading_url, "after_login": page.url, "referers": referers}))
        browser.close()
""")


def drive(live_server, reader) -> dict:
    chromium = chromium_path()
    if chromium is None:
        if os.environ.get("CI") == "true":
            pytest.fail("Chromium is required under CI=true (apt-get install chromium).")
        pytest.skip("NOTICE: no Chromium on this machine; browser tests skipped (apt-get install chromium).")
    result = subprocess.run(
        [sys.executable, "-c", DRIVER, chromium, json.dumps(CHROMIUM_FLAGS), f"{live_server.url}/r/{reader.token}/",
         f"{live_server.url}/accounts/login/"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_a_reading_session_sends_no_path_in_a_referer_and_its_forms_pass_csrf(live_server, study, alice):
    reader = create_reader(study, "Dr. Referer")
    seen = drive(live_server, reader)
    assert seen["reading_url"].endswith(f"/r/{reader.token}/read/")  # the questionnaire's POST was accepted
    assert "/accounts/login/" not in seen["after_login"]  # and so was the login form's
    deadline = time.monotonic() + 10
    while not Response.objects.filter(trial__reader=reader).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert Response.objects.filter(trial__reader=reader).exists()
    sent = [referer for referer in seen["referers"] if referer]
    assert sent and set(sent) == {f"{live_server.url}/"}, sent

"""Back and Forward on the reader's pages: the browser asks the server again, never shows a stored trial."""
from __future__ import annotations

import re

import pytest

from readerstudy.models import Response
from readerstudy.services import create_reader

from .pages import fill_questionnaire, wait_for_trial, wait_until_saved

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_back_after_answering_shows_the_current_trial_not_the_answered_one(page, live_server, make_study):
    study = make_study(practice_trials=2, trials_per_resolution=2, resolutions=[64])
    reader = create_reader(study, "Dr. Back")
    page.goto(f"{live_server.url}/r/{reader.token}/")
    fill_questionnaire(page)
    answered = wait_for_trial(page)
    assert page.locator("#phase").inner_text() == "Practice"
    assert page.locator("#progress-text").inner_text() == "1 of 2"
    page.keyboard.press("r")
    page.wait_for_function("() => /correct/i.test(document.getElementById('feedback').textContent)")
    wait_until_saved(page)
    wait_for_trial(page, answered)
    page.goto(f"{live_server.url}/accounts/login/")  # somewhere else, then Back to the reading screen
    page.go_back()
    page.wait_for_url(re.compile(r"/read/$"))
    now = wait_for_trial(page)
    assert now != answered, "the answered trial came back"
    assert page.locator("#progress-text").inner_text() == "2 of 2"
    page.keyboard.press("s")
    page.wait_for_function("() => /correct/i.test(document.getElementById('feedback').textContent)")
    wait_until_saved(page)
    assert Response.objects.filter(trial__reader=reader).count() == 2

"""A reader in a real browser: keyboard answers, practice, confidence, pause and resume, blinding."""
from __future__ import annotations

import re

import pytest

from readerstudy.models import Response
from readerstudy.services import create_reader

from .reader_helpers import current_trial, start, stored_answers, wait_for_new_image

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_reader_answers_every_trial_by_keyboard_and_each_answer_is_stored_once(page, live_server, study):
    reader = create_reader(study, "Dr. Keys")
    start(page, live_server, reader)
    total = reader.trials.count()
    previous = None
    for n in range(total):
        wait_for_new_image(page, previous)
        assert page.locator("#progress-text").inner_text() == f"Trial {n + 1} of {total}"
        previous = page.locator("#images img").first.get_attribute("src")
        trial = current_trial(page)
        page.keyboard.press("r" if n % 2 else "s")
    page.wait_for_url(re.compile(r"/done/$"))
    assert "All your answers" in page.content()
    responses = Response.objects.filter(trial__reader=reader)
    assert responses.count() == total
    assert sorted(responses.values_list("trial__index", flat=True)) == list(range(total))
    for response in responses.select_related("trial"):
        assert response.answer == ("real" if response.trial.index % 2 else "synthetic")
        assert response.client_response_ms is not None and response.client_response_ms >= 0
        assert response.displayed_width == study.display_size and response.device_pixel_ratio == 1
    assert trial.reader_id == reader.pk


def test_practice_confidence_pause_and_resume_in_a_new_browser(browser, live_server, make_study):
    study = make_study(practice_trials=2, confidence_scale="5", trials_per_resolution=2, consent="I agree.")
    reader = create_reader(study, "Dr. Pause")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    start(page, live_server, reader, consent=True)
    previous = None
    for _ in range(2):  # practice: feedback, no confidence
        wait_for_new_image(page, previous)
        assert page.locator("#phase").inner_text() == "Practice"
        previous = page.locator("#images img").first.get_attribute("src")
        page.keyboard.press("r")
        page.wait_for_function("() => /correct/i.test(document.getElementById('feedback').textContent)")
    for _ in range(3):  # main trials with confidence: R/S, then 1-5, then Enter
        wait_for_new_image(page, previous)
        previous = page.locator("#images img").first.get_attribute("src")
        page.keyboard.press("s")
        assert page.locator("#confidence").is_visible()
        page.keyboard.press("4")
        page.keyboard.press("Enter")
    page.wait_for_function("() => document.getElementById('progress-text').textContent.startsWith('Trial 4')")
    page.keyboard.press("p")
    assert page.locator("#paused").is_visible()
    context.close()
    answered = Response.objects.filter(trial__reader=reader).count()
    assert answered == 5

    context = browser.new_context(viewport={"width": 1000, "height": 800})  # another device, same link
    page = context.new_page()
    page.goto(f"{live_server.url}/r/{reader.token}/")
    page.wait_for_url(re.compile(r"/read/$"))
    previous = None
    remaining = reader.trials.count() - answered
    for _ in range(remaining):
        wait_for_new_image(page, previous)
        previous = page.locator("#images img").first.get_attribute("src")
        page.keyboard.press("r")
        page.keyboard.press("2")
        page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/done/$"))
    context.close()
    responses = Response.objects.filter(trial__reader=reader)
    assert responses.count() == reader.trials.count()
    assert set(responses.filter(trial__kind="main").values_list("confidence", flat=True)) == {4, 2}
    assert responses.filter(trial__kind="practice", confidence__isnull=True).count() == 2
    reader.refresh_from_db()
    assert reader.questionnaire == {"role": "radiologist", "years_experience": 12, "subspecialty": "thoracic"}
    assert reader.consented_at is not None and reader.sessions.count() == 2


def test_a_double_key_press_never_creates_a_second_answer_or_skips_a_trial(page, live_server, study):
    reader = create_reader(study, "Dr. Double")
    start(page, live_server, reader)
    wait_for_new_image(page, None)
    first = current_trial(page)
    page.keyboard.press("r")
    page.keyboard.press("r")
    page.wait_for_function("() => document.getElementById('progress-text').textContent.startsWith('Trial 2')")
    stored_answers(reader, 1)
    page.reload()
    wait_for_new_image(page, None)
    assert current_trial(page).index == first.index + 1
    assert Response.objects.filter(trial__reader=reader).count() == 1


def test_a_0_to_100_confidence_is_asked_and_confirmed_not_filled_in(page, live_server, make_study):
    study = make_study(confidence_scale="100", trials_per_resolution=2, resolutions=[64])
    reader = create_reader(study, "Dr. Slider")
    start(page, live_server, reader)
    wait_for_new_image(page, None)
    page.keyboard.press("r")
    assert page.locator("#confidence").is_visible()
    page.wait_for_timeout(300)
    assert Response.objects.filter(trial__reader=reader).count() == 0, "nothing is sent before confirmation"
    page.locator("#confidence-range").fill("80")
    page.keyboard.press("Enter")
    assert [r.confidence for r in stored_answers(reader, 1)] == [80]


def test_key_zero_and_out_of_range_keys_never_stop_the_reading(page, live_server, make_study):
    study = make_study(design="choice", alternatives=2, trials_per_resolution=2, resolutions=[64])
    reader = create_reader(study, "Dr. Zero")
    start(page, live_server, reader)
    page.wait_for_function("() => { const b = document.querySelector('#images button.choice'); return b && !b.disabled; }")
    page.keyboard.press("0")
    page.keyboard.press("9")
    page.wait_for_timeout(300)
    assert page.locator("#halted").is_hidden()
    page.keyboard.press("1")
    assert [r.chosen_position for r in stored_answers(reader, 1)] == [0]


def test_pausing_after_a_timed_exposure_never_shows_the_image_again(page, live_server, make_study):
    study = make_study(exposure_mode="fixed", exposure_ms=200, trials_per_resolution=2, resolutions=[64])
    reader = create_reader(study, "Dr. Paused")
    start(page, live_server, reader)
    page.wait_for_function("() => !document.getElementById('mask').hidden")
    page.keyboard.press("p")
    page.wait_for_timeout(200)
    page.keyboard.press("p")
    page.wait_for_timeout(300)
    assert page.locator("#images img").count() == 0, "the exposed image stays hidden after resuming"
    page.wait_for_function("() => !document.querySelector('#controls button').disabled")
    page.keyboard.press("s")
    assert [r.answer for r in stored_answers(reader, 1)] == ["synthetic"]


def test_a_lost_connection_is_retried_until_the_answer_is_stored_once(page, live_server, study):
    reader = create_reader(study, "Dr. Offline")
    start(page, live_server, reader)
    failures = {"left": 2}

    def flaky(route):
        if failures["left"] > 0:
            failures["left"] -= 1
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/responses/", flaky)
    wait_for_new_image(page, None)
    first = current_trial(page)
    page.keyboard.press("r")
    page.wait_for_function("() => /Connection lost/.test(document.getElementById('feedback').textContent)")
    answers = stored_answers(reader, 1, timeout=15, page=page)
    assert [(a.trial_id, a.answer) for a in answers] == [(first.pk, "real")]
    assert failures["left"] == 0
    page.wait_for_function("() => !/Connection lost/.test(document.getElementById('feedback').textContent)")

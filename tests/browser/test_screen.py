"""The reading screen's own rules: a pause never buys viewing time, honest progress, the set image size or a
notice, Enter on a focused button, and a trial answered in another tab."""
from __future__ import annotations

import re
import time

import pytest

from readerstudy.models import Response, Trial
from readerstudy.services import create_reader

from .reader_helpers import ANSWERABLE, IMAGE_UP, current_trial, src, start, stored_answers, wait_for_new_image

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# ---------------------------------------------------------------- pause and the viewing clock


def test_time_viewed_before_a_pause_counts_and_a_pause_never_renews_the_time_limit(page, live_server, make_study):
    study = make_study(time_limit_ms=1500, trials_per_resolution=2, resolutions=[64])
    reader = create_reader(study, "Dr. Limit")
    start(page, live_server, reader)

    # Trial 1: at least 600 ms viewed, a 1 s pause, an answer as soon as the image is back.
    wait_for_new_image(page, None)
    first = src(page)
    page.wait_for_timeout(450)  # + the 150 ms guard already waited
    page.keyboard.press("p")
    assert page.locator("#paused").is_visible()
    page.wait_for_timeout(1000)
    page.keyboard.press("p")
    page.wait_for_function(ANSWERABLE)
    assert src(page) == first
    page.keyboard.press("r")
    [answer] = stored_answers(reader, 1)
    assert answer.timed_out is False and answer.answer == "real"
    # Before the pause (>= 600) plus after it (>= the 150 ms guard); the paused second is not counted.
    assert 750 <= answer.client_response_ms < 1400, answer.client_response_ms

    # Trial 2: at least 1 s viewed, then a pause: after it only what is left of the 1.5 s limit remains.
    wait_for_new_image(page, first)
    page.wait_for_timeout(850)
    page.keyboard.press("p")
    assert page.locator("#images img").count() == 0, "nothing to study behind the pause screen"
    page.wait_for_timeout(500)
    page.keyboard.press("p")
    resumed = time.monotonic()
    answers = stored_answers(reader, 2)
    waited = time.monotonic() - resumed
    assert len(answers) == 2 and answers[1].timed_out is True
    assert 1490 <= answers[1].client_response_ms < 1800, answers[1].client_response_ms  # timer granularity
    assert waited < 1.2, f"timed out {waited:.2f} s after the pause, with at most 0.5 s of the limit left"
    page.wait_for_url(re.compile(r"/done/$"))


def test_a_pause_keeps_what_was_viewed_towards_the_minimum_viewing_time(page, live_server, make_study):
    study = make_study(min_view_ms=1200, trials_per_resolution=2, resolutions=[64])
    reader = create_reader(study, "Dr. Minimum")
    start(page, live_server, reader)
    page.wait_for_function(IMAGE_UP)
    page.wait_for_timeout(900)
    assert page.locator("#controls button").first.is_disabled()
    page.keyboard.press("p")
    page.wait_for_timeout(300)
    page.keyboard.press("p")
    resumed = time.monotonic()
    page.wait_for_function(ANSWERABLE)
    waited = time.monotonic() - resumed
    assert waited < 0.9, f"answerable {waited:.2f} s after the pause, with at most 0.3 s of the minimum left"
    page.keyboard.press("s")
    [answer] = stored_answers(reader, 1)
    assert answer.answer == "synthetic" and answer.client_response_ms >= 1200


def test_a_pause_in_the_countdown_or_the_exposure_never_shows_a_timed_image_twice(page, live_server, make_study):
    study = make_study(exposure_mode="fixed", exposure_ms=500, trials_per_resolution=2, resolutions=[64])
    reader = create_reader(study, "Dr. Exposed")
    start(page, live_server, reader)
    page.evaluate("""() => {
        window.__shown = 0;  // how many times an image went up
        new MutationObserver((records) => records.forEach((r) => r.addedNodes.forEach((n) => {
          if (n.tagName === 'IMG' || (n.querySelector && n.querySelector('img'))) window.__shown += 1;
        }))).observe(document.getElementById('images'), {childList: true});
    }""")
    # In the countdown: the image has not been up, so the countdown starts again after the pause.
    page.wait_for_function("() => !document.getElementById('countdown').hidden")
    page.keyboard.press("p")
    assert page.locator("#paused").is_visible()
    assert page.locator("#countdown").is_hidden()
    page.keyboard.press("p")
    # While the image is up: it stays up for its exposure, the mask comes, then the pause.
    page.wait_for_function(IMAGE_UP)
    page.keyboard.press("p")
    page.wait_for_function("() => !document.getElementById('paused').hidden", timeout=3000)
    assert page.locator("#images img").count() == 0
    assert page.locator("#mask").is_visible()
    page.wait_for_timeout(200)
    page.keyboard.press("p")
    page.wait_for_function("() => !document.querySelector('#controls button').disabled")
    assert page.locator("#images img").count() == 0, "the exposed image stays hidden after resuming"
    assert page.evaluate("window.__shown") == 1
    page.keyboard.press("s")
    [answer] = stored_answers(reader, 1)
    assert answer.answer == "synthetic" and 450 <= answer.client_exposure_ms <= 600, answer.client_exposure_ms
    assert answer.client_response_ms >= 500


def test_with_a_timed_exposure_the_time_limit_counts_from_the_mask(page, live_server, make_study):
    # 500 ms exposure, 1,000 ms to answer: an answer 700 ms after the mask is in time (1,200 ms after onset).
    study = make_study(exposure_mode="fixed", exposure_ms=500, time_limit_ms=1000, trials_per_resolution=2,
                       resolutions=[64])
    reader = create_reader(study, "Dr. Masked")
    start(page, live_server, reader)
    page.wait_for_function("() => !document.getElementById('mask').hidden", timeout=5000)
    masked = time.monotonic()
    page.wait_for_timeout(700)
    page.keyboard.press("r")
    [answer] = stored_answers(reader, 1)
    assert time.monotonic() - masked < 1.0
    assert not answer.timed_out and answer.answer == "real"
    assert answer.client_response_ms >= 1100  # still measured from the image's onset
    # Left alone, the next trial times out 1,000 ms after its mask.
    page.wait_for_function("() => !document.getElementById('mask').hidden && document.querySelector('#controls button')"
                           " && !document.querySelector('#controls button').disabled", timeout=5000)
    second = stored_answers(reader, 2)[1]
    assert second.timed_out and 1400 <= second.client_response_ms <= 1800, second.client_response_ms


# ---------------------------------------------------------------- progress


def test_progress_counts_practice_answers_in_flight_as_practice_not_as_main_trials(page, live_server, make_study):
    study = make_study(practice_trials=3, practice_feedback=False, trials_per_resolution=2, resolutions=[64])
    reader = create_reader(study, "Dr. Progress")
    total = reader.trials.filter(kind="main").count()
    held = []  # answers held on their way to the server, so each is still in flight when the next trial shows
    page.route("**/responses/", lambda route: held.append(route))

    def release():
        while not held:
            page.wait_for_timeout(20)
        held.pop().continue_()
        page.wait_for_function("() => document.getElementById('reader-app').dataset.pending === '0'")

    start(page, live_server, reader)
    previous = None
    expected = [("Practice", "1 of 3"), ("Practice", "2 of 3"), ("Practice", "3 of 3"), ("", f"Trial 1 of {total}")]
    for n, shown in enumerate(expected):  # each trial after the first shows with the answer before in flight
        wait_for_new_image(page, previous)
        previous = src(page)
        assert (page.locator("#phase").inner_text(), page.locator("#progress-text").inner_text()) == shown
        if n:
            release()
        if n < 3:
            page.keyboard.press("r")
    page.unroute("**/responses/")
    assert Response.objects.filter(trial__reader=reader).count() == 3


# ---------------------------------------------------------------- keys


def test_enter_on_the_focused_pause_button_pauses_and_answers_by_keyboard_still_work(page, live_server, make_study):
    study = make_study(confidence_scale="5", trials_per_resolution=2, resolutions=[64])
    reader = create_reader(study, "Dr. Enter")
    start(page, live_server, reader)
    wait_for_new_image(page, None)
    first = src(page)
    page.focus("#pause")
    page.keyboard.press("Enter")
    assert page.locator("#paused").is_visible()
    page.keyboard.press("Enter")  # on the focused Continue button
    assert page.locator("#paused").is_hidden()
    page.wait_for_function(ANSWERABLE)
    page.keyboard.press("s")
    page.keyboard.press("3")
    page.keyboard.press("Enter")
    [answer] = stored_answers(reader, 1)
    assert (answer.answer, answer.confidence) == ("synthetic", 3)
    wait_for_new_image(page, first)
    page.locator("#controls button[data-answer=real]").click()  # by mouse: focus stays on the answer
    page.keyboard.press("5")
    page.keyboard.press("Enter")  # confirms, on a focused answer button too
    answers = stored_answers(reader, 2)
    assert [(a.answer, a.confidence) for a in answers] == [("synthetic", 3), ("real", 5)]
    page.wait_for_url(re.compile(r"/done/$"))


# ---------------------------------------------------------------- image size


def fits_in_window(page) -> bool:
    return page.evaluate("""() => {
        const inside = (el) => { const r = el.getBoundingClientRect();
          return r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight && r.right <= innerWidth; };
        const main = document.querySelector('main');
        const shown = [...document.querySelectorAll('#images img, #images button.choice, #controls, #class-after,'
                                                    + ' #confidence, #reason-box, #confirm-hint, #pause, #size-notice')]
          .filter((el) => el.offsetParent !== null);
        return shown.every(inside) && main.scrollHeight <= main.clientHeight
          && document.scrollingElement.scrollHeight <= innerHeight
          && document.scrollingElement.scrollWidth <= innerWidth;
    }""")


def test_images_too_large_for_the_window_are_shown_smaller_with_a_notice_that_goes_once_they_fit(
        page, live_server, make_study):
    study = make_study(design="choice", alternatives=4, display_size=512, confidence_scale="5", ask_reason=True,
                       trials_per_resolution=2, resolutions=[64])
    reader = create_reader(study, "Dr. Small")
    start(page, live_server, reader)  # 1280 x 900: four 512 px images do not fit side by side
    page.wait_for_function(ANSWERABLE)
    first = src(page)
    notice = page.locator("#size-notice")
    assert notice.is_visible()
    assert "512 px" in notice.inner_text() and "Ctrl+0" in notice.inner_text() and "Cmd+0" in notice.inner_text()
    assert notice.get_attribute("aria-live") == "polite"
    width = page.evaluate("document.querySelector('#images img').getBoundingClientRect().width")
    assert 64 <= width < 512
    assert fits_in_window(page)
    page.keyboard.press("2")  # the confidence, reason and confirm controls appear: still no scrolling
    assert page.locator("#confidence").is_visible() and page.locator("#reason-box").is_visible()
    assert fits_in_window(page)
    page.keyboard.press("4")
    page.keyboard.press("Enter")
    [answer] = stored_answers(reader, 1)
    assert answer.displayed_width == width and answer.device_pixel_ratio == 1

    page.wait_for_function("prev => { const i = document.querySelector('#images img');"
                           " return i && i.getAttribute('src') !== prev; }", arg=first)
    page.set_viewport_size({"width": 2400, "height": 1000})
    page.wait_for_function("() => document.getElementById('size-notice').textContent === ''")
    assert notice.is_hidden()
    page.wait_for_function(ANSWERABLE)
    assert page.evaluate("document.querySelector('#images img').getBoundingClientRect().width") == 512
    assert fits_in_window(page)
    page.keyboard.press("1")
    page.keyboard.press("3")
    page.keyboard.press("Enter")
    answers = stored_answers(reader, 2)
    assert answers[1].displayed_width == 512


def test_images_that_fit_are_shown_at_their_set_size_without_a_notice(browser, live_server, make_study):
    study = make_study(design="rating", rating_ask_class=True, confidence_scale="5", ask_reason=True,
                       display_size=512, trials_per_resolution=1, resolutions=[64])
    reader = create_reader(study, "Dr. Large")
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    page = context.new_page()
    start(page, live_server, reader)
    page.wait_for_function(ANSWERABLE)
    assert page.locator("#size-notice").is_hidden()
    assert page.evaluate("document.querySelector('#images img').getBoundingClientRect().width") == 512
    page.keyboard.press("3")
    page.keyboard.press("r")
    page.keyboard.press("5")
    assert fits_in_window(page)
    page.set_viewport_size({"width": 900, "height": 600})  # shrunk mid-trial: smaller at once, and said so
    page.wait_for_function("() => document.getElementById('size-notice').textContent !== ''")
    assert page.evaluate("document.querySelector('#images img').getBoundingClientRect().width") < 512
    assert fits_in_window(page)
    context.close()


# ---------------------------------------------------------------- two tabs


def test_a_trial_answered_in_another_tab_is_said_and_reading_continues_from_the_servers_state(
        browser, live_server, make_study):
    study = make_study(trials_per_resolution=3, resolutions=[64, 96])
    reader = create_reader(study, "Dr. Tabs")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    tab_a = context.new_page()
    start(tab_a, live_server, reader)
    wait_for_new_image(tab_a, None)
    assert current_trial(tab_a).index == 0

    tab_b = context.new_page()  # the same link in a second tab: it answers the first two trials
    tab_b.goto(f"{live_server.url}/r/{reader.token}/")
    tab_b.wait_for_url(re.compile(r"/read/$"))
    previous = None
    for _ in range(2):
        wait_for_new_image(tab_b, previous)
        previous = src(tab_b)
        tab_b.keyboard.press("s")
    assert [a.answer for a in stored_answers(reader, 2)] == ["synthetic", "synthetic"]

    tab_a.bring_to_front()
    tab_a.keyboard.press("r")  # too late: trial 0 has an answer already
    third = Trial.objects.get(reader=reader, index=2)
    token = third.images.get().token
    tab_a.wait_for_function("t => { const i = document.querySelector('#images img');"
                            " return i && i.getAttribute('src').includes(t); }", arg=token, timeout=5000)
    assert "already been answered in another tab" in tab_a.locator("#feedback").inner_text()
    assert tab_a.locator("#halted").is_hidden()
    tab_a.wait_for_function(ANSWERABLE)
    tab_a.keyboard.press("r")
    answers = stored_answers(reader, 3)
    assert [a.answer for a in answers] == ["synthetic", "synthetic", "real"]
    assert answers[2].trial_id == third.pk
    context.close()


def test_a_study_paused_while_reading_stops_the_page_and_refuses_the_answer(page, live_server, make_study):
    from readerstudy.models import Study, StudyStatus

    study = make_study(trials_per_resolution=3, resolutions=[64])
    reader = create_reader(study, "Dr. Paused")
    start(page, live_server, reader)
    wait_for_new_image(page, None)
    Study.objects.filter(pk=study.pk).update(status=StudyStatus.PAUSED)
    page.keyboard.press("r")  # answered after the pause: refused, and the page says why
    page.wait_for_function("() => !document.getElementById('halted').hidden", timeout=5000)
    assert "not open for reading right now" in page.locator("#halted-message").inner_text()
    assert "another tab" not in page.locator("#feedback").inner_text()
    assert not Response.objects.filter(trial__reader=reader).exists()
    assert Trial.objects.get(reader=reader, index=1).first_served_at is None  # its clock has not started
    Study.objects.filter(pk=study.pk).update(status=StudyStatus.OPEN)
    page.reload()  # reopened: the same trial is still the one to answer
    wait_for_new_image(page, None)
    assert current_trial(page).index == 0

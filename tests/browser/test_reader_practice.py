"""Practice in a real browser: the pass mark's verdict on its own page, timed practice, forced-choice feedback."""
from __future__ import annotations

import re

import pytest

from readerstudy.models import Reader, TrialKind
from readerstudy.services import create_reader

from .reader_helpers import current_trial, start, stored_answers, wait_for_new_image, wait_for_phase, wait_ready

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Every text the message line under the images shows, kept in sessionStorage (it survives leaving the page).
RECORD_MESSAGES = """
addEventListener('DOMContentLoaded', () => {
  const line = document.getElementById('feedback');
  if (!line) return;
  new MutationObserver(() => {
    const said = JSON.parse(sessionStorage.getItem('mirage-said') || '[]');
    said.push(line.textContent);
    sessionStorage.setItem('mirage-said', JSON.stringify(said));
  }).observe(line, {childList: true, characterData: true, subtree: true});
});
"""


def said(page) -> list[str]:
    return [text for text in page.evaluate("JSON.parse(sessionStorage.getItem('mirage-said') || '[]')") if text]


def test_missing_the_practice_pass_mark_ends_on_a_page_that_says_so(page, live_server, make_study):
    study = make_study(practice_trials=2, practice_pass_mark=1.0, trials_per_resolution=2, resolutions=[64])
    reader = create_reader(study, "Dr. Unlucky")
    page.context.add_init_script(RECORD_MESSAGES)
    start(page, live_server, reader)
    previous = None
    for _ in range(2):  # both practice answers wrong
        wait_for_new_image(page, previous)
        previous = page.locator("#images img").first.get_attribute("src")
        page.keyboard.press("s" if current_trial(page).truth == "real" else "r")
    page.wait_for_url(re.compile(r"/done/$"))
    assert page.locator("h1").inner_text() == "Practice pass mark not reached"
    text = " ".join(page.locator("main").inner_text().split())
    assert "at least 100% correct on the real images and on the synthetic images" in text
    assert "the study ends here for you" in text
    assert "Reading stopped" not in page.content()
    assert said(page).count("Not correct.") == 2, "the last verdict was shown before the page moved on"
    assert len(stored_answers(reader, 2)) == 2
    reader.refresh_from_db()
    assert reader.excluded and reader.exclusion_reason.startswith("failed practice")

    page.goto(f"{live_server.url}/r/{reader.token}/read/")  # the link again: the same page, not an error
    assert page.locator("h1").inner_text() == "Practice pass mark not reached"


def test_a_reader_ended_by_the_coordinator_is_not_told_about_a_pass_mark(page, live_server, make_study):
    study = make_study(practice_trials=2, practice_pass_mark=0.5, trials_per_resolution=2, resolutions=[64])
    reader = create_reader(study, "Dr. Ended")
    Reader.objects.filter(pk=reader.pk).update(excluded=True)
    page.goto(f"{live_server.url}/r/{reader.token}/")
    assert page.locator("h1").inner_text() == "Cannot continue"
    assert "Your participation in this study has ended." in page.locator("main").inner_text()


def state_from_api(page) -> dict:
    return page.evaluate("""async () => {
        const url = JSON.parse(document.getElementById('reader-state').textContent).state_url;
        return (await fetch(url, {headers: {Accept: 'application/json'}})).json();
    }""")


def test_forced_choice_practice_feedback_outlines_the_odd_image_once_answered(page, live_server, make_study):
    study = make_study(design="choice", alternatives=3, practice_trials=2, display_size=256,
                       trials_per_resolution=1, resolutions=[64])
    reader = create_reader(study, "Dr. Odd")
    start(page, live_server, reader)
    initial = page.evaluate("JSON.parse(document.getElementById('reader-state').textContent)")
    assert "odd_position" not in str(initial), "nothing before an answer"

    previous = wait_ready(page, None)
    trial = current_trial(page)
    page.keyboard.press(str((trial.odd_position + 1) % 3 + 1))  # a wrong image
    page.wait_for_function("() => /Not correct/.test(document.getElementById('feedback').textContent)")
    outlined = page.locator("#images button.choice.odd")
    assert outlined.count() == 1 and outlined.get_attribute("data-position") == str(trial.odd_position)
    assert outlined.evaluate("el => getComputedStyle(el).boxShadow") != "none"
    assert page.locator("#feedback").inner_text() == (
        f"Not correct: image {trial.odd_position + 1} (outlined) is the {study.odd_class} one.")
    state = state_from_api(page)
    assert "odd_position" not in str(state), "only the answer's acknowledgement names the odd image"
    assert all(t["token"] != trial.token for t in state["trials"])

    wait_ready(page, previous)
    second = current_trial(page)
    assert page.locator("#images button.choice.odd").count() == 0, "the next trial starts without an outline"
    page.keyboard.press(str(second.odd_position + 1))  # right
    page.wait_for_function("() => /^Correct/.test(document.getElementById('feedback').textContent)")
    assert page.locator("#feedback").inner_text() == (
        f"Correct: image {second.odd_position + 1} (outlined) is the {study.odd_class} one.")
    assert [a.correct for a in stored_answers(reader, 2)] == [False, True]


def test_a_timed_practice_trial_is_counted_down_exposed_masked_and_never_times_out(page, live_server, make_study):
    study = make_study(design="choice", alternatives=2, exposure_mode="fixed", exposure_ms=300, time_limit_ms=1000,
                       practice_trials=1, display_size=256, trials_per_resolution=1, resolutions=[64])
    reader = create_reader(study, "Dr. Quick Practice")
    page.goto(f"{live_server.url}/r/{reader.token}/")
    assert "The practice trials are timed the same way." in page.locator(".reading-intro").inner_text()
    start(page, live_server, reader)
    wait_for_phase(page, "countdown")
    assert page.locator("#phase").inner_text() == "Practice"
    page.wait_for_function("() => !document.getElementById('mask').hidden")
    assert page.locator("#images img").count() == 0, "a timed image is never shown again"
    wait_for_phase(page, "answering")
    page.wait_for_timeout(1500)  # longer than the main trials' time limit: practice has none
    assert not stored_answers(reader, 1, timeout=0), "a practice trial never times out"
    practice = reader.trials.get(kind=TrialKind.PRACTICE)
    page.keyboard.press(str((practice.odd_position + 1) % 2 + 1))  # the wrong image
    page.wait_for_function("() => /Not correct/.test(document.getElementById('feedback').textContent)")
    # The images are gone behind the mask: the verdict names the odd image instead of outlining it.
    assert page.locator("#feedback").inner_text() == (
        f"Not correct: image {practice.odd_position + 1} is the {study.odd_class} one.")
    [answer] = stored_answers(reader, 1)
    assert answer.timed_out is False and answer.trial.exposure_ms == 300
    assert 280 <= answer.client_exposure_ms <= 400 and answer.exposure_ok
    wait_for_phase(page, "countdown")  # then the main trial, timed as before
    assert page.locator("#phase").inner_text() == ""

"""The reading screen holds still: the image never moves when the controls after the first choice appear,
and an image of a forced choice is never dimmed while it cannot yet be chosen."""
from __future__ import annotations

import pytest

from readerstudy.services import create_reader

from .reader_helpers import ANSWERABLE, IMAGE_UP, start, stored_answers

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BOX = """() => { const r = document.querySelector('#images img').getBoundingClientRect();
  return [r.x, r.y, r.width, r.height]; }"""

# How strongly the first image is painted: its opacity times that of everything around it.
STRENGTH = """() => { let o = 1;
  for (let el = document.querySelector('#images img'); el; el = el.parentElement) o *= Number(getComputedStyle(el).opacity);
  return o; }"""


def test_the_image_stays_put_when_confidence_reason_and_confirm_appear(page, live_server, make_study):
    study = make_study(confidence_scale="5", ask_reason=True, display_size=256, trials_per_resolution=2,
                       resolutions=[64])
    reader = create_reader(study, "Dr. Still")
    start(page, live_server, reader)
    page.wait_for_function(ANSWERABLE)
    before = page.evaluate(BOX)
    page.keyboard.press("r")
    assert page.locator("#confidence").is_visible() and page.locator("#reason-box").is_visible()
    assert page.locator("#confirm-hint").is_visible()
    assert page.evaluate(BOX) == before, "the image moved when the confidence controls appeared"
    page.keyboard.press("4")
    assert page.evaluate(BOX) == before
    page.keyboard.press("Enter")
    assert [(a.answer, a.confidence) for a in stored_answers(reader, 1)] == [("real", 4)]


def test_the_image_stays_put_through_a_rating_its_class_question_and_a_slider(page, live_server, make_study):
    study = make_study(design="rating", rating_ask_class=True, confidence_scale="100", display_size=256,
                       trials_per_resolution=1, resolutions=[64])
    reader = create_reader(study, "Dr. Steady")
    start(page, live_server, reader)
    page.wait_for_function(ANSWERABLE)
    before = page.evaluate(BOX)
    page.keyboard.press("3")
    assert page.locator("#class-after").is_visible()
    assert page.evaluate(BOX) == before, "the image moved when 'real or synthetic?' appeared"
    page.keyboard.press("s")
    assert page.locator("#confidence").is_visible() and page.locator("#confirm-hint").is_visible()
    assert page.evaluate(BOX) == before, "the image moved when the slider appeared"


def test_a_timed_forced_choice_is_shown_at_full_strength_while_it_cannot_be_chosen(page, live_server, make_study):
    study = make_study(design="choice", alternatives=2, exposure_mode="fixed", exposure_ms=400, display_size=256,
                       trials_per_resolution=1, resolutions=[64])
    reader = create_reader(study, "Dr. Bright")
    start(page, live_server, reader)
    page.wait_for_function(IMAGE_UP)  # the exposure: the images are up, their buttons not yet enabled
    assert page.locator("#images button.choice").first.is_disabled()
    assert page.evaluate(STRENGTH) == 1, "the exposed images are dimmed"
    page.wait_for_function("() => !document.getElementById('mask').hidden")
    page.wait_for_timeout(300)  # the double-press guard after the mask
    page.keyboard.press("2")
    [answer] = stored_answers(reader, 1)
    assert answer.chosen_position == 1 and answer.exposure_ok


def test_a_forced_choice_is_shown_at_full_strength_during_the_minimum_viewing_time(page, live_server, make_study):
    study = make_study(design="choice", alternatives=3, min_view_ms=1500, display_size=256, trials_per_resolution=1,
                       resolutions=[64])
    reader = create_reader(study, "Dr. Patient")
    start(page, live_server, reader)
    page.wait_for_function(IMAGE_UP)
    assert page.locator("#images button.choice").first.is_disabled()
    assert page.evaluate(STRENGTH) == 1, "the images are dimmed until they can be chosen"
    page.wait_for_function(ANSWERABLE)
    assert page.evaluate(STRENGTH) == 1

"""A coordinator designs a study in Chromium: the form shows what applies, the preview and the power follow.

Checked on a 1366 x 768 laptop screen: nothing may need sideways scrolling.
"""
from __future__ import annotations

import re

import pytest

from readerstudy.models import Study

from .pages import SMALL_SCREEN, check_fits, log_in, messages

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def laptop_page(browser):
    context = browser.new_context(viewport=SMALL_SCREEN)
    yield context.new_page()
    context.close()


def shown(page, name: str) -> bool:
    return page.locator(f"#id_{name}").is_visible()


def test_a_coordinator_designs_a_study_with_the_form_following_the_design(laptop_page, live_server, alice, pool):
    page = laptop_page
    log_in(page, live_server.url, "alice", "alice-pass-123")
    page.click("text=New study")
    page.wait_for_url(f"{live_server.url}/coordinator/studies/new/")

    # A single-image design to begin with: its own fields, none of the others'.
    assert shown(page, "confidence_scale") and shown(page, "synthetic_fraction")
    for name in ("alternatives", "odd_class", "rating_labels", "exposure_ms", "exposure_levels_ms",
                 "practice_feedback"):
        assert not shown(page, name), name
    page.wait_for_selector("#design-preview .error")  # no pool chosen yet: the form's own words
    assert "Pool: This field is required." in page.inner_text("#design-preview")

    page.fill("#id_name", "Chest phantoms, forced choice")
    page.select_option("#id_pool", label="Test pool")
    page.fill("#id_resolutions", "32,64")
    page.wait_for_function("() => document.querySelectorAll('#design-preview img.stimulus').length === 1")
    assert "Is this image real or synthetic?" in page.inner_text("#design-preview")

    # Forced choice: the rating and confidence fields go, the number of images and the odd class come.
    page.select_option("#id_design", "choice")
    assert not shown(page, "confidence_scale") and not shown(page, "rating_labels")
    assert not shown(page, "synthetic_fraction") and shown(page, "alternatives") and shown(page, "odd_class")
    page.fill("#id_alternatives", "3")
    page.wait_for_function("() => document.querySelectorAll('#design-preview img.stimulus').length === 3")
    assert "Which image is real?" in page.inner_text("#design-preview")

    # Several fixed exposures: their levels come; practice brings its feedback and pass mark.
    page.select_option("#id_exposure_mode", "constant")
    assert shown(page, "exposure_levels_ms") and not shown(page, "exposure_ms")
    page.fill("#id_practice_trials", "2")
    assert shown(page, "practice_feedback") and shown(page, "practice_pass_mark")
    page.wait_for_function(
        "() => document.querySelector('#preview-timing')?.textContent.includes('Practice is timed too')")
    assert "one of 4 durations" in page.inner_text("#preview-timing")
    page.select_option("#preview-resolution", "64")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#design-preview img.stimulus')].length === 3"
        " && document.querySelector('#preview-resolution').value === '64'"
        " && document.querySelector('.preview-note').textContent.includes('at 64 px')")

    # The power panel plans the design as it stands, and drops its answer when an input is wrong.
    page.wait_for_function("() => document.querySelector('#design-power-result')?.textContent.includes('% power')")
    page.fill("#id_accuracy", "1.5")
    page.wait_for_function("() => document.querySelector('#design-power-result .error')")
    assert "% power" not in page.inner_text("#design-power-result")
    page.fill("#id_accuracy", "0.7")
    page.wait_for_function("() => document.querySelector('#design-power-result')?.textContent.includes('% power')")
    check_fits(page, "design form, forced choice")

    # A design the pool cannot supply is refused when saved, saying how many more images it needs.
    page.fill("#id_trials_per_resolution", "40")
    page.click("button:has-text('Save study')")
    page.wait_for_selector("#study-form > .error")
    refusal = page.inner_text("#study-form > .error")
    assert "The pool cannot supply this design." in refusal and "more real" in refusal
    assert not Study.objects.exists()
    assert not shown(page, "confidence_scale") and shown(page, "alternatives")  # the page came back as it was

    page.fill("#id_trials_per_resolution", "4")
    page.click("button:has-text('Save study')")
    study = Study.objects.get()
    page.wait_for_url(re.compile(re.escape(f"{live_server.url}/coordinator/studies/{study.pk}/") + "$"))
    assert messages(page) == ["Study “Chest phantoms, forced choice” saved."]
    assert (study.design, study.alternatives, study.exposure_mode, study.practice_trials) == \
        ("choice", 3, "constant", 2)
    assert study.confidence_scale == "off" and study.exposure_levels_ms == [100, 200, 400, 800]
    check_fits(page, "study page after the design form")

"""Before practice, the invitation page says how a timed study runs and what the practice pass mark asks."""
from __future__ import annotations

import pytest

from readerstudy.services import create_reader

from .reader_helpers import start

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def intro(page, live_server, reader) -> str:
    page.goto(f"{live_server.url}/r/{reader.token}/")
    return " ".join(page.locator(".reading-intro").inner_text().split())


def test_a_fixed_exposure_its_countdown_mask_time_limit_and_pass_mark_are_explained(page, live_server, make_study):
    study = make_study(exposure_mode="fixed", exposure_ms=300, time_limit_ms=4000, practice_trials=2,
                       practice_pass_mark=0.8, trials_per_resolution=2, resolutions=[64])
    reader = create_reader(study, "Dr. Briefed")
    text = intro(page, live_server, reader)
    assert "Timing" in text
    assert "Each image is shown only briefly: for 300 ms." in text
    assert "A countdown (3, 2, 1, 1.2 s in all) comes before each image" in text
    assert "a pattern of noise (a mask) replaces it for 0.5 s" in text
    assert "You have 4 s to answer each trial, counted from the mask (the practice trials have no time limit)" in text
    assert ("To continue to the main trials you need at least 80% correct on the real images and on the "
            "synthetic images; otherwise the study ends for you after the practice.") in text
    start(page, live_server, reader)  # the briefing comes before the questionnaire's button, which still works


def test_several_exposures_are_said_to_come_in_random_order(page, live_server, make_study):
    study = make_study(exposure_mode="constant", exposure_levels_ms=[400, 100, 200], trials_per_resolution=6,
                       resolutions=[64])
    reader = create_reader(study, "Dr. Levels")
    text = intro(page, live_server, reader)
    assert "Each image is shown only briefly: for one of 3 durations, 100, 200, 400 ms, in random order." in text
    assert "time limit" not in text and "pass mark" not in text


def test_a_forced_choice_pass_mark_counts_the_practice_trials(page, live_server, make_study):
    study = make_study(design="choice", alternatives=2, practice_trials=4, practice_pass_mark=0.75,
                       trials_per_resolution=2, resolutions=[64])
    reader = create_reader(study, "Dr. Pairs")
    text = intro(page, live_server, reader)
    assert "you need at least 75% of the practice trials correct; otherwise the study ends for you" in text
    assert "Timing" not in text, "an untimed study has no timing to explain"


def test_an_untimed_study_without_a_pass_mark_says_neither(page, live_server, make_study):
    study = make_study(practice_trials=2, trials_per_resolution=2, resolutions=[64])
    reader = create_reader(study, "Dr. Plain")
    text = intro(page, live_server, reader)
    assert "You start with 2 practice trials with feedback; they do not count." in text
    assert "Timing" not in text and "countdown" not in text and "need at least" not in text

"""Forced choice, realism rating and timed exposure in a real browser: keyboard only, every answer once."""
from __future__ import annotations

import re

import pytest

from readerstudy.models import Response, Trial
from readerstudy.services import create_reader

from .reader_helpers import start, wait_ready

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_forced_choice_by_number_keys_and_arrows(page, live_server, make_study):
    study = make_study(design="choice", alternatives=3, resolutions=[64, 96], trials_per_resolution=3)
    reader = create_reader(study, "Dr. Choice")
    start(page, live_server, reader)
    previous = None
    total = reader.trials.count()
    for n in range(total):
        previous = wait_ready(page, previous)
        images = page.locator("#images img")
        assert images.count() == 3
        sizes = {(images.nth(i).get_attribute("width"), images.nth(i).get_attribute("height")) for i in range(3)}
        assert len(sizes) == 1, "all images of a trial are shown at one size"
        if n % 2:
            page.keyboard.press("2")
        else:
            page.keyboard.press("ArrowRight")
            page.keyboard.press("ArrowRight")
            page.keyboard.press("ArrowRight")
            page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/done/$"))
    responses = Response.objects.filter(trial__reader=reader).select_related("trial")
    assert responses.count() == total
    for r in responses:
        assert r.chosen_position == (1 if r.trial.index % 2 else 2)
        assert r.correct == (r.chosen_position == r.trial.odd_position)


def test_realism_rating_by_keys_confirmed_with_enter(page, live_server, make_study):
    labels = ["Clearly synthetic", "Probably synthetic", "Probably real", "Clearly real"]
    study = make_study(design="rating", rating_labels=labels, trials_per_resolution=2)
    reader = create_reader(study, "Dr. Rating")
    start(page, live_server, reader)
    assert page.locator("#controls button").all_inner_texts()[0].startswith("Clearly synthetic")
    previous = None
    for n in range(reader.trials.count()):
        previous = wait_ready(page, previous)
        page.keyboard.press(str(1 + n % 4))
        assert page.locator("#confirm-hint").is_visible()
        page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/done/$"))
    ratings = list(Response.objects.filter(trial__reader=reader).order_by("trial__index").values_list("rating", flat=True))
    assert ratings == [1 + n % 4 for n in range(len(ratings))]


def test_timed_exposure_shows_the_image_for_the_requested_time_then_a_mask(page, live_server, make_study):
    study = make_study(exposure_mode="fixed", exposure_ms=300, trials_per_resolution=2, resolutions=[64])
    reader = create_reader(study, "Dr. Quick")
    start(page, live_server, reader)
    for _ in range(reader.trials.count()):
        page.wait_for_function("() => !document.getElementById('mask').hidden")
        assert page.locator("#images img").count() == 0, "the image cannot be brought back"
        page.wait_for_function("() => !document.querySelector('#controls button').disabled")
        page.keyboard.press("s")
    page.wait_for_url(re.compile(r"/done/$"))
    responses = Response.objects.filter(trial__reader=reader)
    assert responses.count() == 2
    for r in responses.select_related("trial"):
        assert r.trial.exposure_ms == 300
        assert 280 <= r.client_exposure_ms <= 400
        assert r.exposure_ok is (abs(r.client_exposure_ms - 300) <= 20)


def test_the_reading_page_and_its_api_hold_no_class_information(page, live_server, study):
    reader = create_reader(study, "Dr. Audit")
    seen: list[str] = []
    page.on("response", lambda response: seen.append(response.url))
    bodies: list[str] = []
    page.on("response", lambda response: bodies.append(response.text()) if "json" in (response.headers.get("content-type") or "") else None)
    start(page, live_server, reader)
    page.wait_for_selector("#images img")
    html = page.content()
    secrets = set()
    for trial in Trial.objects.filter(reader=reader).prefetch_related("images__image"):
        for ti in trial.images.all():
            secrets |= {ti.image.uid, ti.image.source_id, ti.image.sha256, ti.image.file}
    for text in [html, *seen, *bodies]:
        assert not any(secret in text for secret in secrets)
    assert all("/images/" not in url or re.search(r"/images/[A-Za-z0-9_-]{20,}/$", url) for url in seen)


def test_a_staircase_trial_is_shown_for_the_exposure_the_server_stored(page, live_server, make_study):
    study = make_study(exposure_mode="staircase", exposure_ms=200, trials_per_resolution=1)
    reader = create_reader(study, "Dr. Staircase")
    requested = {}
    page.on("request", lambda r: requested.update({r.post_data_json["trial"]: r.post_data_json})
            if r.method == "POST" and "/responses/" in r.url else None)
    start(page, live_server, reader)
    for _ in range(reader.trials.count()):
        page.wait_for_function("() => !document.getElementById('mask').hidden")
        page.wait_for_function("() => !document.querySelector('#controls button').disabled")
        page.keyboard.press("s")  # about half wrong: the staircase moves
    page.wait_for_url(re.compile(r"/done/$"))
    responses = list(Response.objects.filter(trial__reader=reader).select_related("trial").order_by("trial__index"))
    assert len(responses) == 3
    for r in responses:
        # The page showed exactly the exposure the server stored (the staircase is decided server-side).
        assert requested[r.trial.token]["requested_exposure_ms"] == r.trial.exposure_ms
        assert abs(r.client_exposure_ms - r.trial.exposure_ms) <= 50


def test_a_rating_followed_by_the_class_question_by_keyboard(page, live_server, make_study):
    study = make_study(design="rating", rating_ask_class=True, trials_per_resolution=1)
    reader = create_reader(study, "Dr. Both")
    start(page, live_server, reader)
    previous = None
    for _ in range(reader.trials.count()):
        previous = wait_ready(page, previous)
        page.keyboard.press("3")
        assert page.locator("#class-after").is_visible()
        page.keyboard.press("r")
    page.wait_for_url(re.compile(r"/done/$"))
    responses = Response.objects.filter(trial__reader=reader)
    assert responses.count() == 3
    assert set(responses.values_list("rating", "answer")) == {(3, "real")}

"""What the reading-screen browser tests share: starting a reading, waiting for a trial, what was stored.

The reading tests import these from here, never from one another.
"""
from __future__ import annotations

import time

from readerstudy.models import Response, Trial

from .pages import fill_questionnaire

# A trial's image is on screen / it can be answered.
IMAGE_UP = "() => !!document.querySelector('#images img')"
ANSWERABLE = ("() => !!document.querySelector('#images img')"
              " && !document.querySelector('#images button.choice, #controls button').disabled")


def start(page, live_server, reader, consent: bool = False) -> None:
    """Open the invitation, answer the questionnaire (and consent), arrive at the reading screen."""
    page.goto(f"{live_server.url}/r/{reader.token}/")
    fill_questionnaire(page, consent)


def src(page) -> str:
    """The address of the first image on screen."""
    return page.locator("#images img").first.get_attribute("src")


def current_trial(page) -> Trial:
    """The trial on screen, known to the test through the database (the page never says)."""
    image_token = src(page).rstrip("/").split("/")[-1]
    return Trial.objects.get(images__token=image_token)


def stored_answers(reader, n: int, timeout: float = 10.0, page=None) -> list[Response]:
    """The reader's responses once n are in the database (the page shows the next trial before the ack).

    Pass the page when it has route handlers: they run only while Playwright has control."""
    deadline = time.monotonic() + timeout
    while Response.objects.filter(trial__reader=reader).count() < n and time.monotonic() < deadline:
        if page is not None:
            page.wait_for_timeout(50)
        else:
            time.sleep(0.05)
    return list(Response.objects.filter(trial__reader=reader).order_by("trial__index"))


def wait_for_new_image(page, previous_src: str | None) -> None:
    """A trial other than previous_src is on screen and its answer buttons are enabled."""
    page.wait_for_function(
        "prev => { const i = document.querySelector('#images img'); return i && i.getAttribute('src') !== prev"
        " && !document.querySelector('#controls button').disabled; }",
        arg=previous_src)


def wait_ready(page, previous: str | None) -> str:
    """As wait_for_new_image, for any design (an image of a forced choice is its own button); its address."""
    page.wait_for_function(
        "prev => { const i = document.querySelector('#images img'); if (!i || i.getAttribute('src') === prev)"
        " return false; const b = document.querySelector('#images button.choice, #controls button');"
        " return b && !b.disabled; }", arg=previous)
    return src(page)


def wait_for_phase(page, phase: str, timeout: float = 5000) -> None:
    """The reading screen has arrived in a phase (loading, countdown, exposing, answering, feedback...)."""
    page.wait_for_function("p => document.getElementById('reader-app').dataset.phase === p", arg=phase,
                           timeout=timeout)

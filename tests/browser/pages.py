"""What the browser tests do as a person would: log in, fill the invitation page, wait for a trial, measure.

Shared by the browser test files (none imports another test file).
"""
from __future__ import annotations

import re

SMALL_SCREEN = {"width": 1366, "height": 768}

# The next trial is on screen and can be answered: a new image and an enabled answer control.
ANSWERABLE = """prev => {
  const img = document.querySelector('#images img');
  if (!img || img.getAttribute('src') === prev) return false;
  const control = document.querySelector('#images button.choice, #controls button');
  return control && !control.disabled;
}"""


def log_in(page, base_url: str, username: str, password: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button:has-text('Log in')")
    page.wait_for_load_state()


def fill_questionnaire(page, consent: bool = False) -> None:
    """The invitation page: about you (and consent), then to the reading screen."""
    page.select_option("#id_role", "radiologist")
    page.fill("#id_years_experience", "12")
    page.fill("#id_subspecialty", "thoracic")
    if consent:
        page.check("#id_consent")
    page.click("text=Start reading")
    page.wait_for_url(re.compile(r"/read/$"))


def wait_for_trial(page, previous_src: str | None = None) -> str:
    """Wait until a trial other than previous_src can be answered; its first image's address."""
    page.wait_for_function(ANSWERABLE, arg=previous_src)
    return page.locator("#images img").first.get_attribute("src")


def wait_until_saved(page) -> None:
    """Every answer the page sent has been acknowledged by the server."""
    page.wait_for_function("() => document.getElementById('reader-app').dataset.pending === '0'")


def horizontal_overflow(page) -> int:
    """How many CSS px the page is wider than the window (0 when nothing needs sideways scrolling)."""
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


def messages(page) -> list[str]:
    """The messages shown at the top of a page (saved, opened, invited...)."""
    return page.locator("ul.messages li").all_inner_texts()


def check_fits(page, screen: str) -> None:
    """The page needs no sideways scrolling; with MIRAGE_SCREENSHOTS=DIR set, a screenshot is kept there."""
    import os
    from pathlib import Path

    page.wait_for_load_state()
    folder = os.environ.get("MIRAGE_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{re.sub(r'[^a-z0-9]+', '-', screen.lower())}.png"), full_page=True)
    wider = horizontal_overflow(page)
    assert wider <= 0, f"{screen}: {wider} px wider than a {page.viewport_size['width']} px window"

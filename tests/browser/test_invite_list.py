"""A coordinator invites a whole list of readers, copies a link and downloads them all, in Chromium."""
from __future__ import annotations

import csv
import io
import re

import pytest

from readerstudy.models import Reader

from .pages import SMALL_SCREEN, check_fits, log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_pasted_list_is_invited_whole_after_its_mistake_is_fixed(browser, live_server, alice, make_study, mailoutbox):
    study = make_study(name="Phantom study", status="draft", resolutions=[64], trials_per_resolution=4)
    context = browser.new_context(viewport=SMALL_SCREEN, accept_downloads=True)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page = context.new_page()
    try:
        log_in(page, live_server.url, "alice", "alice-pass-123")
        page.click("text=Phantom study")
        page.wait_for_url(re.compile(rf"/coordinator/studies/{study.pk}/$"))
        page.click("summary:has-text('Invite several readers')")
        check_fits(page, "study page, invite several readers")

        page.fill("#bulk-invite textarea", "Dr. Gray, gray@example.org\nR002\nDr. Wu, wu@example")
        page.dblclick("button:has-text('Invite these readers')")
        page.wait_for_selector("#reader-notices .error")
        assert page.locator("#reader-notices").inner_text() == (
            "Nobody was invited: line 3: 'wu@example' is not an e-mail address.")
        assert not Reader.objects.exists()

        page.fill("#bulk-invite textarea", "Dr. Gray, gray@example.org\nR002\nDr. Wu, wu@example.org")
        page.dblclick("button:has-text('Invite these readers')")
        page.wait_for_function("() => document.querySelectorAll('#readers tbody tr').length === 3")
        page.wait_for_timeout(500)  # a second list, were one sent by the double click, would be in by now
        assert page.locator("#reader-notices").inner_text() == "3 readers invited, 2 invitation e-mails sent."
        assert list(Reader.objects.order_by("ordinal").values_list("name", flat=True)) == ["Dr. Gray", "R002",
                                                                                            "Dr. Wu"]
        assert sorted(m.to[0] for m in mailoutbox) == ["gray@example.org", "wu@example.org"]
        page.click("summary:has-text('Invite several readers')")
        assert page.locator("#bulk-invite textarea").input_value() == "", "the list is cleared for the next one"
        check_fits(page, "study page with three readers")

        row = page.locator("#readers tbody tr", has_text="R002")
        row.locator("button.copy").click()
        page.wait_for_function("() => [...document.querySelectorAll('button.copy')].some(b => b.textContent === 'Copied')")
        r002 = Reader.objects.get(name="R002")
        assert page.evaluate("navigator.clipboard.readText()") == f"{live_server.url}/r/{r002.token}/"

        with page.expect_download() as download:
            page.click("text=Download all links (CSV)")
        rows = list(csv.DictReader(io.StringIO(open(download.value.path(), encoding="utf-8").read())))
        assert [(r["name"], r["email"], r["state"]) for r in rows] == [
            ("Dr. Gray", "gray@example.org", "invited"), ("R002", "", "invited"), ("Dr. Wu", "wu@example.org", "invited")]
        assert rows[1]["link"] == f"{live_server.url}/r/{r002.token}/"
    finally:
        context.close()

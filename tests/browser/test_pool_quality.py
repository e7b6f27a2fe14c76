"""A coordinator runs a pool's quality report from its page in Chromium, watches it run, then reads it.

The task worker runs in the test's own process (django-tasks-db's `db_worker --batch`), while the page
polls the live server; it is held at one step until the page shows that step, so the test sees the
progress the coordinator sees.
"""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from readerstudy.models import QualityRun, QualityStatus
from readerstudy.pools import import_pool
from tests.readerstudy.helpers import labelled_phantom_pool, run_queued_tasks

from .pages import SMALL_SCREEN, check_fits, log_in, messages

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def phantom_pool(tmp_path, media_root, settings):
    settings.QUALITY_FEATURES, settings.QUALITY_BOOTSTRAP, settings.QUALITY_CNN_STEPS = "original", 10, 5
    folder = labelled_phantom_pool(tmp_path / "pool")
    return import_pool(folder, "Phantom chest pool", copy=False)[0]


def test_a_coordinator_runs_the_quality_report_and_reads_it_beside_the_pool(browser, live_server, alice,
                                                                             phantom_pool, monkeypatch):
    context = browser.new_context(viewport=SMALL_SCREEN)
    page = context.new_page()
    log_in(page, live_server.url, "alice", "alice-pass-123")
    page.wait_for_url(f"{live_server.url}/coordinator/")
    page.click("text=Phantom chest pool")
    page.wait_for_url(f"{live_server.url}/coordinator/pools/{phantom_pool.pk}/")
    expect(page.locator("dl.pool-settings")).to_contain_text("Resolutions32, 48")
    expect(page.locator("#quality")).to_contain_text("No quality report yet.")

    page.click("button:has-text('Run quality report')")
    page.wait_for_url(f"{live_server.url}/coordinator/pools/{phantom_pool.pk}/")
    assert messages(page) == ["Quality report queued: this page shows its progress and the report when it is done."]
    expect(page.locator("#quality-progress")).to_contain_text("Queued")
    expect(page.locator("button:has-text('Run quality report')")).to_be_disabled()
    check_fits(page, "pool page, quality report queued")

    from generation.quality import memorisation

    original, shown = memorisation.memorisation, []

    def held_until_the_page_shows_it(*args, **kwargs):
        if not shown:  # the first resolution's step: the page polls the live server meanwhile
            expect(page.locator("#quality-progress")).to_contain_text("Running: 32 px memorisation", timeout=15_000)
            shown.append(page.locator("#quality-progress progress").get_attribute("value"))
        return original(*args, **kwargs)

    monkeypatch.setattr(memorisation, "memorisation", held_until_the_page_shows_it)
    run_queued_tasks()
    run = QualityRun.objects.get()
    assert run.status == QualityStatus.DONE, run.error
    assert shown and 0 < int(shown[0]) < 50

    table = page.locator(".quality-table table")  # the page reloads itself once the run is done
    expect(table).to_be_visible(timeout=15_000)
    rows = table.locator("tbody tr")
    expect(rows).to_have_count(2)
    first = rows.nth(0)
    expect(first.locator("th")).to_have_text("32 px")
    expect(first).to_contain_text("no reader study yet")
    expect(first).to_contain_text("flagged")
    expect(first.locator("td").nth(1)).to_contain_text("AUC")
    expect(page.locator("#quality-progress")).to_have_count(0)
    expect(page.locator("button:has-text('Run quality report')")).to_be_enabled()

    frame = page.frame_locator("iframe.quality-report")
    expect(frame.locator("h1")).to_have_text("Quality of the synthetic images")
    expect(frame.locator("img").first).to_have_js_property("complete", True)
    assert frame.locator("img").first.evaluate("img => img.naturalWidth") > 0  # embedded figures, no requests
    assert page.locator("iframe.quality-report").get_attribute("sandbox") == ""
    expect(page.locator("a:has-text('quality.json')")).to_be_visible()
    expect(page.locator("a:has-text('flagged.json')")).to_be_visible()
    check_fits(page, "pool page, quality report")
    context.close()

"""A coordinator, a reader and an analyst in Chromium, clicking through Mirage as people do.

Every screen is also checked on a 1366 x 768 laptop screen: nothing may need sideways scrolling.
"""
from __future__ import annotations

import csv
import io
import json
import re

import pytest

from readerstudy.models import Reader, Response, Study, Trial
from readerstudy.services import Submission, submit_response

from tests.readerstudy.helpers import invite

from .pages import SMALL_SCREEN, check_fits, fill_questionnaire, log_in, messages, wait_for_trial, wait_until_saved

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DESIGNS = {
    "single": {"#id_design": "single", "#id_confidence_scale": "off"},
    "single with confidence": {"#id_design": "single", "#id_confidence_scale": "5"},
    "forced choice": {"#id_design": "choice", "#id_alternatives": "3"},
    "rating": {"#id_design": "rating"},
}
CSV_HEADER = ["study", "reader", "trial", "case", "truth", "answer", "confidence", "resolution", "trial_kind",
              "response_ms", "design", "correct"]


@pytest.fixture
def new_page(browser):
    """A page in a browser of its own (cookies apart) on a 1366 x 768 screen."""
    contexts = []

    def open_page():
        context = browser.new_context(viewport=SMALL_SCREEN, accept_downloads=True)
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


def study_page_url(live_server, study) -> re.Pattern:
    return re.compile(re.escape(f"{live_server.url}/coordinator/studies/{study.pk}/") + "$")


@pytest.mark.parametrize("design", DESIGNS)
def test_a_coordinator_designs_a_study_of_each_kind_from_the_dashboard(new_page, live_server, alice, pool, design):
    page = new_page()
    log_in(page, live_server.url, "alice", "alice-pass-123")
    page.wait_for_url(f"{live_server.url}/coordinator/")
    check_fits(page, "dashboard, no studies")
    page.click("text=New study")
    page.wait_for_url(f"{live_server.url}/coordinator/studies/new/")
    check_fits(page, "new study form")
    page.fill("#id_name", f"Chest phantoms, {design}")
    page.select_option("#id_pool", label="Test pool")
    for field, value in DESIGNS[design].items():
        if field == "#id_alternatives":
            page.fill(field, value)
        else:
            page.select_option(field, value)
    page.fill("#id_resolutions", "32,64")
    page.fill("#id_trials_per_resolution", "4")
    page.click("button:has-text('Save study')")
    study = Study.objects.get()
    page.wait_for_url(study_page_url(live_server, study))
    assert messages(page) == [f"Study “Chest phantoms, {design}” saved."]
    check_fits(page, f"study page, {design}")
    expected = {field.removeprefix("#id_"): value for field, value in DESIGNS[design].items()}
    assert {name: str(getattr(study, name)) for name in expected} == expected
    assert study.resolutions == [32, 64] and study.status == "draft"

    page.click("text=Edit design")  # the study page's own links and forms stay on coordinator pages
    page.wait_for_url(f"{live_server.url}/coordinator/studies/{study.pk}/edit/")
    page.fill("#id_trials_per_resolution", "3")
    page.click("button:has-text('Save study')")
    page.wait_for_url(study_page_url(live_server, study))
    assert len(messages(page)) == 1
    page.click(f"a:has-text('{pool.name}')")
    page.wait_for_url(f"{live_server.url}/coordinator/pools/{pool.pk}/")
    assert page.locator("h1").inner_text() == f"Pool: {pool.name}"
    check_fits(page, "pool page")
    page.click("text=Studies & pools")
    page.wait_for_url(f"{live_server.url}/coordinator/")
    check_fits(page, "dashboard")
    page.click(f"text=Chest phantoms, {design}")
    page.wait_for_url(study_page_url(live_server, study))
    page.click("button:has-text('Copy')")
    page.wait_for_url(re.compile(r"/coordinator/studies/\d+/edit/$"))
    assert messages(page) == ["Study copied. Its design can be changed until its first answer."]
    assert Study.objects.count() == 2


def test_a_study_from_its_first_invitation_to_its_close(new_page, live_server, alice, make_study, mailoutbox):
    study = make_study(name="Phantom study", status="draft", resolutions=[64], trials_per_resolution=4,
                       practice_trials=2)
    page = new_page()
    log_in(page, live_server.url, "alice", "alice-pass-123")
    page.click("text=Phantom study")
    page.wait_for_url(study_page_url(live_server, study))

    page.fill("#id_name", "Dr. Gray")
    page.fill("#id_email", "gray@example.org")
    page.dblclick("button:has-text('Invite reader')")
    page.wait_for_selector("#reader-notices .notice")
    page.wait_for_timeout(500)  # a second invitation, were one sent, would be in by now
    assert list(Reader.objects.values_list("name", flat=True)) == ["Dr. Gray"]
    assert page.locator("#reader-notices").inner_text() == ("Dr. Gray invited and their invitation e-mailed: their "
                                                             "personal link is in the table.")
    assert page.locator("#id_name").input_value() == "", "the form is ready for the next reader"
    page.fill("#id_name", "Dr. Hale")
    page.click("button:has-text('Invite reader')")
    page.wait_for_function("() => document.querySelectorAll('#readers tbody tr').length === 2")
    check_fits(page, "study page with readers")

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#readers tbody tr", has_text="Dr. Hale").locator("button:has-text('Revoke link')").click()
    page.wait_for_function("() => /Dr. Hale’s link was withdrawn/.test(document.getElementById('reader-notices').textContent)")
    assert Reader.objects.get(name="Dr. Hale").revoked_at is not None

    page.click("button:has-text('Open for reading')")
    page.wait_for_url(study_page_url(live_server, study))
    assert messages(page) == ["Study is now open."]
    page.locator("#readers tbody tr", has_text="Dr. Gray").locator("button:has-text('Remind')").click()
    page.wait_for_function("() => /Reminder sent to Dr. Gray/.test(document.getElementById('reader-notices').textContent)")
    # the invitation went out when Dr. Gray was invited, the reminder now
    assert [(m.subject.split(":")[0], m.to) for m in mailoutbox] == [("Invitation", ["gray@example.org"]),
                                                                     ("Reminder", ["gray@example.org"])]
    link = page.locator("#readers tbody tr", has_text="Dr. Gray").locator(".link-cell code").inner_text()
    assert link in mailoutbox[0].body and link in mailoutbox[1].body

    reader_page = new_page()  # the reader, in a browser of their own, through the invitation link
    reader_page.goto(link)
    check_fits(reader_page, "invitation page")
    fill_questionnaire(reader_page)
    previous = None
    for _ in range(3):
        previous = wait_for_trial(reader_page, previous)
        check_fits(reader_page, "reading screen")
        reader_page.keyboard.press("r")
    wait_until_saved(reader_page)
    gray = Reader.objects.get(name="Dr. Gray")
    assert Response.objects.filter(trial__reader=gray).count() == 3

    page.reload()
    row = page.locator("#readers tbody tr", has_text="Dr. Gray")
    assert row.locator("td.num").inner_text() == "1 / 4" and "reading" in row.inner_text()
    assert "Edit design" not in page.locator("main").inner_text(), "the design is frozen by the first answer"
    page.click("button:has-text('Pause')")
    page.wait_for_url(study_page_url(live_server, study))
    assert messages(page) == ["Study is now paused."]
    questions = []

    def answer(dialog, accept):
        questions.append(dialog.message)
        dialog.accept(dialog.default_value or "") if accept else dialog.dismiss()

    page.once("dialog", lambda dialog: answer(dialog, accept=False))  # second thoughts: nothing changes
    page.click("button:has-text('Close')")
    page.wait_for_timeout(300)
    assert questions and "cannot be opened again" in questions[0]
    study.refresh_from_db()
    assert study.status == "paused" and messages(page) == ["Study is now paused."]
    page.once("dialog", lambda dialog: dialog.accept("duplicate account of Dr. Gray"))
    page.locator("#readers tbody tr", has_text="Dr. Hale").locator("button:has-text('Exclude')").click()
    page.wait_for_function("() => /Dr. Hale is excluded/.test(document.getElementById('reader-notices').textContent)")
    assert Reader.objects.get(name="Dr. Hale").exclusion_reason == "duplicate account of Dr. Gray"
    page.once("dialog", lambda dialog: answer(dialog, accept=True))
    page.click("button:has-text('Close')")
    page.wait_for_url(study_page_url(live_server, study))
    assert messages(page) == ["Study is now closed."]
    check_fits(page, "closed study page")
    study.refresh_from_db()
    assert study.status == "closed"
    reader_page.reload()
    assert "closed" in reader_page.locator("main").inner_text()


@pytest.fixture
def answered_study(make_study):
    study = make_study(name="Answered study", confidence_scale="5", resolutions=[32, 64, 96], trials_per_resolution=4)
    for name, every in (("Ann", 1), ("Ben", 2), ("Cem", 3)):
        reader = invite(study, name)
        for i, trial in enumerate(Trial.objects.filter(reader=reader).order_by("index")):
            wrong = {"real": "synthetic", "synthetic": "real"}[trial.truth]
            submit_response(reader, Submission(trial_token=trial.token, confidence=3,
                                               answer=wrong if i % every == 1 else trial.truth))
    Study.objects.filter(pk=study.pk).update(status="closed")
    return study


def download(page, link_text: str) -> str:
    with page.expect_download() as event:
        page.click(f"a:has-text('{link_text}')")
    path = event.value.path()
    with open(path, encoding="utf-8") as file:
        return file.read()


def test_an_analyst_reads_the_results_opens_the_report_and_downloads_each_export(new_page, live_server, bob,
                                                                               answered_study):
    page = new_page()
    log_in(page, live_server.url, "bob", "bob-pass-123")
    page.wait_for_url(f"{live_server.url}/results/")
    check_fits(page, "results list")
    page.click("text=Answered study")
    page.wait_for_url(f"{live_server.url}/results/{answered_study.pk}/")
    assert "Can readers tell synthetic from real?" in page.locator("main").inner_text()
    check_fits(page, "results page")

    responses = download(page, "Responses (CSV)")
    rows = list(csv.reader(io.StringIO(responses)))
    assert set(CSV_HEADER) <= set(rows[0]) and len(rows) == 1 + 3 * 12
    dictionary = dict(list(csv.reader(io.StringIO(download(page, "Data dictionary (CSV)"))))[1:])
    assert set(rows[0]) == set(dictionary), "every exported column is explained, and nothing else"
    assert "R001" in dictionary["reader"]
    report = json.loads(download(page, "Report (JSON)"))
    assert {row["resolution"] for row in report["by_resolution"]} == {32, 64, 96}
    imrmc = download(page, "iMRMC input")
    assert "BEGIN DATA:" in imrmc

    page.click("a:has-text('Report (HTML)')")  # opens in the browser, not as a download
    page.wait_for_url(re.compile(re.escape(f"{live_server.url}/results/{answered_study.pk}/report.html") + r"\??$"))
    assert "report" in page.locator("h1").inner_text().lower()
    assert "resolution" in page.locator("body").inner_text().lower()


def test_the_html_report_fits_a_laptop_screen(new_page, live_server, bob, answered_study):
    page = new_page()
    log_in(page, live_server.url, "bob", "bob-pass-123")
    page.goto(f"{live_server.url}/results/{answered_study.pk}/report.html")
    check_fits(page, "HTML report")


def test_the_report_of_a_study_without_answers_says_so_in_the_browser(new_page, live_server, bob, study):
    page = new_page()
    log_in(page, live_server.url, "bob", "bob-pass-123")
    page.goto(f"{live_server.url}/results/{study.pk}/")
    check_fits(page, "results page, no answers")
    page.click("a:has-text('Report (HTML)')")
    page.wait_for_url(re.compile(re.escape(f"{live_server.url}/results/{study.pk}/report.html") + r"\??$"))
    assert "No answers yet" in page.locator("main").inner_text()
    check_fits(page, "report page, no answers")

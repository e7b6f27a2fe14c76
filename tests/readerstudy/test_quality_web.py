"""The pool page's quality report: the button, the progress box, the one-minute table and the report's frame.

Finished runs are made as the task makes them: `generation.quality.run_report` writes the report, then
`readerstudy.quality.store_report` stores it under the run (the worker itself is tested in test_quality_task).
"""
from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token

from generation.quality.inputs import load_inputs
from generation.quality.report import run_report
from readerstudy import quality
from readerstudy.models import QualityRun, QualityStatus, Study, StudyStatus, Trial
from readerstudy.pools import import_pool
from readerstudy.results import study_report
from readerstudy.services import Submission, submit_response
from readerstudy.templatetags.mirage import pct
from readerstudy.quality import REPORT_FILES
from readerstudy.views.pools import REPORT_CSP

from .helpers import invite, labelled_phantom_pool

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture(scope="module")
def phantom_report(tmp_path_factory):
    """A labelled phantom pool (12 + 12 patients, 32 and 48 px) and its whole quality report, made once."""
    folder = tmp_path_factory.mktemp("phantom-quality")
    pool_dir = labelled_phantom_pool(folder / "pool")
    report = run_report(load_inputs(pool_dir, pool_dir), folder / "report", workers=1, feature_set="original",
                        bootstrap=10, steps=5)
    return pool_dir, folder / "report", report


@pytest.fixture
def phantom_pool(phantom_report, media_root):
    return import_pool(phantom_report[0], "Phantoms", copy=False)[0]


def finish(pool, folder, report) -> QualityRun:
    run = QualityRun.objects.create(pool=pool, status=QualityStatus.RUNNING, options={"stages": ["all"]})
    quality.store_report(run, folder, report)
    run.refresh_from_db()
    return run


@pytest.fixture
def finished_run(phantom_pool, phantom_report):
    return finish(phantom_pool, phantom_report[1], phantom_report[2])


@pytest.fixture
def coordinator(client, alice):
    client.force_login(alice)
    return client


def page_url(pool) -> str:
    return reverse("pool-detail", args=[pool.pk])


def file_url(run, name: str, pool_pk: int | None = None) -> str:
    return reverse("pool-quality-file", args=[pool_pk or run.pool_id, run.pk, name])


def test_the_pool_page_lists_the_build_settings_and_offers_the_report(coordinator, phantom_pool):
    html = coordinator.get(page_url(phantom_pool)).content.decode()
    assert "<dt>Resolutions</dt><dd>32, 48</dd>" in html and "<dt>Crop</dt><dd>center</dd>" in html
    assert "{&#x27;" not in html and "{'" not in html  # no Python dict on the page
    form = r'<form method="post" action="[^"]+/quality/"[^>]*>\s*<input type="hidden" name="csrfmiddlewaretoken"'
    assert re.search(form, html)
    assert "Run quality report</button>" in html and "No quality report yet." in html


def test_run_quality_report_queues_one_run_and_a_second_click_says_so(coordinator, phantom_pool, alice):
    start = reverse("pool-quality-start", args=[phantom_pool.pk])
    first = coordinator.post(start, follow=True)
    assert first.redirect_chain == [(page_url(phantom_pool), 302)]
    assert "Quality report queued" in first.content.decode()
    run = QualityRun.objects.get()
    assert run.status == QualityStatus.QUEUED and run.requested_by == alice and run.task_id
    html = coordinator.post(start, follow=True).content.decode()
    assert "already queued: no second one was started" in html
    assert QualityRun.objects.count() == 1
    assert 'id="quality-progress"' in html and "every 2s" in html and "Queued" in html
    assert re.search(r'<button class="primary" disabled>Run quality report', html)


def test_starting_needs_a_post_from_a_coordinator(client, phantom_pool, alice, bob):
    start = reverse("pool-quality-start", args=[phantom_pool.pk])
    assert client.post(start)["Location"].startswith("/accounts/login/")
    client.force_login(bob)
    assert client.post(start).status_code == 403
    client.force_login(alice)
    assert client.get(start).status_code == 405
    assert client.post(reverse("pool-quality-start", args=[phantom_pool.pk + 1000])).status_code == 404
    assert not QualityRun.objects.exists()


def test_starting_needs_the_csrf_token(phantom_pool, alice):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    assert browser.post(reverse("pool-quality-start", args=[phantom_pool.pk])).status_code == 403
    assert not QualityRun.objects.exists()


def test_a_bad_setting_is_a_message_and_starts_nothing(coordinator, phantom_pool, settings):
    settings.QUALITY_STAGES = ["fidelity", "sharpness"]
    html = coordinator.post(reverse("pool-quality-start", args=[phantom_pool.pk]), follow=True).content.decode()
    assert "The quality report was not started: MIRAGE_QUALITY_STAGES names unknown stage(s) sharpness" in html
    assert not QualityRun.objects.exists()


def test_the_progress_box_polls_while_the_run_works_then_reloads_the_page(coordinator, phantom_pool):
    progress = reverse("pool-quality-progress", args=[phantom_pool.pk])
    run, _ = quality.start_quality_report(phantom_pool)
    queued = coordinator.get(progress, **HTMX).content.decode()
    assert "Queued" in queued and 'hx-trigger="every 2s"' in queued and 'value="0"' in queued
    QualityRun.objects.filter(pk=run.pk).update(status=QualityStatus.RUNNING, stage="48 px features", fraction=0.5)
    running = coordinator.get(progress, **HTMX).content.decode()
    assert "Running" in running and "48 px features" in running and 'value="50"' in running
    assert coordinator.get(progress)["Location"] == page_url(phantom_pool)  # not htmx: the page itself
    QualityRun.objects.filter(pk=run.pk).update(status=QualityStatus.DONE, fraction=1.0)
    done = coordinator.get(progress, **HTMX)
    assert done.status_code == 200 and done["HX-Refresh"] == "true"


def test_a_run_queued_for_minutes_asks_whether_the_worker_runs_and_polls_slower(coordinator, phantom_pool):
    progress = reverse("pool-quality-progress", args=[phantom_pool.pk])
    run, _ = quality.start_quality_report(phantom_pool)
    QualityRun.objects.filter(pk=run.pk).update(created_at=timezone.now() - timedelta(minutes=7, seconds=5))
    for html in (coordinator.get(progress, **HTMX).content.decode(),
                 coordinator.get(page_url(phantom_pool)).content.decode()):
        assert "<strong>Queued for 7 min</strong>: is the task worker (<code>manage.py db_worker</code>) running?" in html
        assert 'hx-trigger="every 30s"' in html and "every 2s" not in html
    QualityRun.objects.filter(pk=run.pk).update(status=QualityStatus.RUNNING, heartbeat_at=timezone.now())
    running = coordinator.get(progress, **HTMX).content.decode()
    assert 'hx-trigger="every 2s"' in running and "Queued for" not in running


def test_a_finished_report_shows_its_table_warnings_frame_and_downloads(coordinator, finished_run):
    html = coordinator.get(page_url(finished_run.pool)).content.decode()
    rows = {row["resolution"]: row for row in finished_run.summary["resolutions"]}
    body = re.search(r'<div class="quality-table">.*?<tbody>(.*?)</tbody>', html, re.S).group(1)
    cells = re.findall(r'<th scope="row">(\d+) px</th>(.*?)</tr>', body, re.S)
    assert [int(resolution) for resolution, _ in cells] == [32, 48]
    for resolution, cell in cells:
        row = rows[int(resolution)]
        assert "no reader study yet" in cell
        machine = row["machine"]
        low, high = pct(machine["accuracy_ci_low"]), pct(machine["accuracy_ci_high"])
        assert f"{pct(machine['accuracy'])} ({low}–{high})" in cell
        assert f"AUC {machine['auc']:.2f} ({machine['auc_ci_low']:.2f}–{machine['auc_ci_high']:.2f})" in cell
        frd = row["frd"]
        assert f"{frd['synthetic']['median']:.2f} (" in cell and f"<br>{frd['real']['median']:.2f} (" in cell
        assert f"spot: {row['msssim'][1]['synthetic']:.3f} · {row['msssim'][1]['real']:.3f}" in cell
        memo = row["memorisation"]
        assert f"{memo['flagged']}/12 flagged ({pct(memo['rate'])})" in cell
        assert f"{row['usefulness']['gap']:.3f}<br>" in cell
    for warning in finished_run.summary["warnings"]:
        assert f'<li class="warning">{warning}</li>' in html.replace("&#x27;", "'")
    assert f'<iframe class="quality-report" sandbox src="{file_url(finished_run, "quality.html")}"' in html
    for name in ("quality.json", "flagged.json", "machine_reader.csv"):
        assert f'href="{file_url(finished_run, name)}"' in html


def test_a_pool_without_labels_says_usefulness_needs_them(coordinator, pool, tmp_path):
    report = run_report(load_inputs(pool.path, pool.path), tmp_path, workers=1, stages=("memorisation", "usefulness"))
    run = finish(pool, tmp_path, report)
    html = coordinator.get(page_url(pool)).content.decode()
    assert html.count("needs labels") == 3 and html.count('<span class="muted">not run</span>') == 3 * 3
    assert [row["usefulness_state"] for row in run.summary["resolutions"]] == ["needs labels"] * 3


def read_everything(reader, pattern):
    for n, trial in enumerate(Trial.objects.filter(reader=reader).order_by("index")):
        wrong = "real" if trial.truth == "synthetic" else "synthetic"
        submit_response(reader, Submission(trial_token=trial.token, answer=trial.truth if pattern[n % len(pattern)]
                                           else wrong, confidence=3, client_response_ms=900.0))


def test_the_readers_headline_of_each_answered_study_stands_beside_the_machine(coordinator, pool, make_study,
                                                                               tmp_path):
    answered = make_study(name="Answered study", confidence_scale="5")
    for name, pattern in (("Ann", [True]), ("Ben", [True, False]), ("Cem", [True, True, False])):
        read_everything(invite(answered, name), pattern)
    make_study(name="Unread study")  # no answers: not in the table
    report = run_report(load_inputs(pool.path, pool.path), tmp_path, workers=1, stages=("memorisation",))
    finish(pool, tmp_path, report)
    html = coordinator.get(page_url(pool)).content.decode()
    assert "Unread study" not in html and "no reader study yet" not in html
    headline = {row["resolution"]: row for row in study_report(answered)["headline"] if "AUC" not in row["measure"]}
    cells = dict(re.findall(r'<th scope="row">(\d+) px</th>\s*<td>(.*?)</td>', html, re.S))
    assert sorted(map(int, cells)) == sorted(headline) == [32, 64, 96]
    for resolution, row in headline.items():
        cell = cells[str(resolution)]
        assert f"Answered study: {pct(row['estimate'])} ({pct(row['ci_low'])}–{pct(row['ci_high'])})" in cell
        assert f"{row['measure']}, 3 readers" in cell


def test_a_failed_run_shows_why_above_the_last_finished_report(coordinator, finished_run):
    QualityRun.objects.create(pool=finished_run.pool, status=QualityStatus.FAILED, error="The pool's folder is gone.")
    html = coordinator.get(page_url(finished_run.pool)).content.decode()
    alert = re.search(r'<div class="error" role="alert">(.*?)</div>', html, re.S).group(1)
    assert "The last quality report failed" in alert and "The pool&#x27;s folder is gone." in alert
    assert "The report below is the last one that finished." in alert
    assert f'src="{file_url(finished_run, "quality.html")}"' in html


def test_the_report_frame_is_sandboxed_and_needs_nothing_from_outside(coordinator, finished_run):
    response = coordinator.get(file_url(finished_run, "quality.html"))
    assert response.status_code == 200 and response["Content-Type"] == "text/html; charset=utf-8"
    assert response["Content-Security-Policy"] == REPORT_CSP and REPORT_CSP.startswith("sandbox;")
    assert "default-src 'none'" in REPORT_CSP and response["X-Frame-Options"] == "SAMEORIGIN"
    assert "Content-Disposition" not in response
    html = response.content.decode()
    assert html.startswith("<!doctype html>") and "<script" not in html.lower() and "<link" not in html.lower()
    addresses = re.findall(r'(?:src|href)="([^"]*)"', html)
    assert addresses and all(address.startswith("data:image/png;base64,") for address in addresses)


def test_the_downloads_are_the_stored_files(coordinator, finished_run, phantom_report):
    response = coordinator.get(file_url(finished_run, "quality.json"))
    assert response["Content-Disposition"] == (f'attachment; filename="mirage-pool-{finished_run.pool_id}-quality-'
                                               f'{finished_run.pk}-quality.json"')
    assert json.loads(response.content) == json.loads((phantom_report[1] / "quality.json").read_text())
    flagged = json.loads(coordinator.get(file_url(finished_run, "flagged.json")).content)
    assert flagged["format"] == "mirage-quality-flagged/1"


def test_report_files_are_for_coordinators_of_that_pool_only(client, bob, alice, finished_run, pool):
    url = file_url(finished_run, "quality.html")
    assert client.get(url)["Location"].startswith("/accounts/login/")
    client.force_login(bob)
    assert client.get(url).status_code == 403
    client.force_login(alice)
    assert client.get(file_url(finished_run, "quality.html", pool_pk=pool.pk)).status_code == 404  # another pool
    assert client.get(file_url(finished_run, "manifest.json")).status_code == 404
    assert client.post(url).status_code == 405
    failed = QualityRun.objects.create(pool=finished_run.pool, status=QualityStatus.FAILED, files=["quality.html"],
                                       output=finished_run.output)
    assert client.get(file_url(failed, "quality.html")).status_code == 404


def test_the_api_starts_a_report_once_and_reads_it_back(client, alice, bob, phantom_pool, phantom_report):
    url = f"/api/pools/{phantom_pool.pk}/quality/"
    client.force_login(alice)
    assert client.get(url).status_code == 404
    first = client.post(url)
    assert first.status_code == 201 and first.json()["status"] == "queued"
    again = client.post(url)
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    assert QualityRun.objects.filter(pool=phantom_pool).count() == 1
    QualityRun.objects.filter(pk=first.json()["id"]).update(status=QualityStatus.FAILED)
    done = finish(phantom_pool, *phantom_report[1:])
    body = client.get(url).json()
    assert body["id"] == done.pk and body["status"] == "done" and body["summary"] == done.summary
    assert body["files"]["quality.html"] == f"http://testserver/api/pools/{phantom_pool.pk}/quality/{done.pk}/quality.html"
    client.force_login(bob)  # an analyst reads, never starts
    assert client.get(url).status_code == 200 and client.post(url).status_code == 403


def api_file(run, name: str) -> str:
    return f"/api/pools/{run.pool_id}/quality/{run.pk}/{name}"


def test_a_script_with_a_token_downloads_the_report_s_files(client, alice, finished_run, phantom_report):
    token = {"HTTP_AUTHORIZATION": f"Token {Token.objects.create(user=alice).key}"}
    body = client.get(f"/api/pools/{finished_run.pool_id}/quality/", **token).json()
    assert list(body["files"]) == finished_run.files
    for name, url in body["files"].items():
        response = client.get(url, **token)
        assert response.status_code == 200 and response["Content-Type"] == REPORT_FILES[name]
        assert response.content == (phantom_report[1] / name).read_bytes()
        if name == "quality.html":  # sandboxed as in the page's frame
            assert response["Content-Security-Policy"] == REPORT_CSP and "Content-Disposition" not in response
        else:
            assert response["Content-Disposition"] == (f'attachment; filename="mirage-pool-{finished_run.pool_id}-'
                                                       f'quality-{finished_run.pk}-{name}"')
    page = client.get(file_url(finished_run, "quality.html"), **token)  # the page's route wants a login
    assert page.status_code == 302 and page["Location"].startswith("/accounts/login/")


def test_report_files_through_the_api_are_for_coordinators_and_analysts(client, bob, charlie, finished_run, pool):
    url = api_file(finished_run, "quality.json")
    assert client.get(url).status_code == 401
    client.force_login(charlie)
    assert client.get(url).status_code == 403
    token = {"HTTP_AUTHORIZATION": f"Token {Token.objects.create(user=bob).key}"}  # an analyst reads them
    assert client.get(url, **token).status_code == 200
    assert client.post(url, **token).status_code == 403
    assert client.get(api_file(finished_run, "manifest.json"), **token).status_code == 404
    assert client.get(url.replace(f"/pools/{finished_run.pool_id}/", f"/pools/{pool.pk}/"), **token).status_code == 404
    failed = QualityRun.objects.create(pool=finished_run.pool, status=QualityStatus.FAILED, files=["quality.json"],
                                       output=finished_run.output)
    missing = client.get(api_file(failed, "quality.json"), HTTP_ACCEPT="text/html", **token)
    assert missing.status_code == 404 and missing["Content-Type"] == "application/json"

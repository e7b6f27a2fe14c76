"""Analysts: live results, exclusions, and downloads that `python -m analysis` reads back."""
from __future__ import annotations

import csv
import io
import json

import pytest

from analysis.cli import main as analysis_main
from readerstudy.models import Trial
from readerstudy.scheduling import SCHEDULE_VERSION
from readerstudy.services import Submission, submit_response

from .helpers import invite

pytestmark = pytest.mark.django_db


def read_everything(reader, accuracy_pattern):
    for i, trial in enumerate(Trial.objects.filter(reader=reader).order_by("index")):
        truth = trial.truth
        correct = accuracy_pattern[i % len(accuracy_pattern)]
        answer = truth if correct else ("real" if truth == "synthetic" else "synthetic")
        submit_response(reader, Submission(trial_token=trial.token, answer=answer, confidence=3,
                                           client_response_ms=900.0))


@pytest.fixture
def answered_study(make_study):
    study = make_study(confidence_scale="5")
    for name, pattern in (("Ann", [True]), ("Ben", [True, False]), ("Cem", [True, True, False])):
        read_everything(invite(study, name), pattern)
    return study


def test_the_results_page_shows_interim_accuracy_per_resolution_with_names(client, bob, answered_study):
    client.force_login(bob)
    page = client.get(f"/results/{answered_study.pk}/").content.decode()
    assert "interim" in page and "Can readers tell synthetic from real?" in page
    assert "readers and images as random" in page and "Readers are" in page
    assert "Ann" in page and "Cem" in page
    assert "32 px" in page and "96 px" in page
    assert "data:image/png;base64," in page


def test_the_csv_streams_one_row_per_answer_and_analysis_reads_it_back(client, bob, answered_study, tmp_path):
    client.force_login(bob)
    response = client.get(f"/results/{answered_study.pk}/responses.csv")
    assert response.streaming
    body = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    assert len(rows) == 36 and {r["truth"] for r in rows} == {"real", "synthetic"}
    assert all(r["schedule_seed"] and r["schedule_version"] == SCHEDULE_VERSION for r in rows)
    path = tmp_path / "responses.csv"
    path.write_text(body)
    assert analysis_main(["report", "--responses", str(path), "--out", str(tmp_path / "out"), "--n-boot", "200"]) == 0
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    by_resolution = {row["resolution"]: row for row in report["by_resolution"]}
    assert set(by_resolution) == {32, 64, 96}
    assert sum(row["n"] for row in by_resolution.values()) == 36
    for row in by_resolution.values():
        assert {"n", "correct", "accuracy", "ci_low", "ci_high"} <= set(row)


def test_the_json_report_matches_the_page_and_the_api(client, bob, answered_study):
    client.force_login(bob)
    downloaded = json.loads(client.get(f"/results/{answered_study.pk}/report.json").content)
    api = client.get(f"/api/studies/{answered_study.pk}/report/").json()
    assert downloaded["by_resolution"] == api["by_resolution"]
    correct = sum(row["correct"] for row in api["by_resolution"])
    assert correct == 12 + 6 + 8


def test_coordinator_exclusions_are_applied_only_when_chosen(client, alice, answered_study):
    ann = answered_study.readers.get(name="Ann")
    ann.excluded = True
    ann.exclusion_reason = "did not read the instructions"
    ann.save()
    client.force_login(alice)
    everyone = client.get(f"/api/studies/{answered_study.pk}/report/").json()
    without = client.get(f"/api/studies/{answered_study.pk}/report/?exclude=coordinator").json()
    assert sum(r["n"] for r in everyone["by_resolution"]) == 36
    assert sum(r["n"] for r in without["by_resolution"]) == 24


def test_the_imrmc_file_has_truth_rows_then_reader_rows(client, bob, answered_study):
    client.force_login(bob)
    text = client.get(f"/results/{answered_study.pk}/study.imrmc").content.decode()
    assert "BEGIN DATA:" in text
    data = text.split("BEGIN DATA:")[1].strip().splitlines()
    assert data[0].startswith("-1,")


def test_an_empty_study_says_so(client, bob, study):
    client.force_login(bob)
    assert "No answers yet." in client.get(f"/results/{study.pk}/").content.decode()


@pytest.mark.parametrize("design, extra", [("choice", {"alternatives": 3}), ("rating", {})])
def test_the_results_page_reports_forced_choice_and_rating_studies(client, bob, make_study, design, extra):
    study = make_study(design=design, trials_per_resolution=3, resolutions=[64, 96], **extra)
    for name in ("Ann", "Ben"):
        reader = invite(study, name)
        for trial in Trial.objects.filter(reader=reader).order_by("index"):
            if design == "choice":
                sub = Submission(trial_token=trial.token, chosen_position=trial.odd_position)
            else:
                sub = Submission(trial_token=trial.token, rating=4 if trial.truth == "real" else 2)
            submit_response(reader, sub)
    client.force_login(bob)
    page = client.get(f"/results/{study.pk}/")
    assert page.status_code == 200
    for download in ("responses.csv", "report.json", "report.html"):
        assert client.get(f"/results/{study.pk}/{download}").status_code == 200, download
    imrmc = client.get(f"/results/{study.pk}/study.imrmc")
    if design == "choice":  # no per-image score to export: explained, not a server error
        assert imrmc.status_code == 400 and "No iMRMC file" in imrmc.content.decode()
    else:
        assert imrmc.status_code == 200 and "BEGIN DATA:" in imrmc.content.decode()
    report = client.get(f"/api/studies/{study.pk}/report/").json()
    rows = report["designs"][design]["by_resolution"]
    assert {row["resolution"] for row in rows} == {64, 96}
    if design == "choice":
        assert all(row["accuracy"] == 1.0 and abs(row["chance"] - 1 / 3) < 1e-9 for row in rows)
        assert "33.3%" in page.content.decode()
    else:  # every real image rated above every synthetic one: AUC 1
        assert all(row["n_real"] + row["n_synthetic"] == 6 and row["auc"] == 1.0 for row in rows)
        assert "AUC (realism rating)" in page.content.decode()
    headline = [row for row in report["headline"] if row["design"] == design]
    assert sorted(row["resolution"] for row in headline if "follow-up" not in row["measure"]) == [64, 96]
    assert all(row["n_readers"] == 2 and "U-statistic" in row["method"] for row in headline)


def test_a_timed_staircase_study_reports_hype_figures(client, bob, make_study):
    study = make_study(exposure_mode="staircase", exposure_ms=500, trials_per_resolution=4, resolutions=[64, 96])
    for name in ("Ann", "Ben"):
        reader = invite(study, name)
        for i, trial in enumerate(Trial.objects.filter(reader=reader).order_by("index")):
            state = client.get(f"/api/reader/{reader.token}/").json()["trials"][0]
            assert state["token"] == trial.token
            truth = trial.truth
            answer = truth if i % 3 else ("real" if truth == "synthetic" else "synthetic")
            submit_response(reader, Submission(trial_token=trial.token, answer=answer,
                                               client_exposure_ms=float(state["exposure_ms"])))
    client.force_login(bob)
    assert client.get(f"/results/{study.pk}/").status_code == 200
    report = client.get(f"/api/studies/{study.pk}/report/").json()
    single = report["designs"]["single"]
    assert single["hype_infinity"] and {"real_error_rate", "fake_error_rate"} <= set(single["hype_infinity"][0])
    assert any(key.startswith("hype_time") or key == "thresholds" for key in single), sorted(single)


def test_polling_the_results_page_recomputes_the_report_only_when_answers_change(client, bob, study, monkeypatch):
    from readerstudy import results

    builds = []
    real_build = results._build
    monkeypatch.setattr(results, "_build", lambda *a: builds.append(1) or real_build(*a))
    reader = invite(study, "Ann")
    trials = list(Trial.objects.filter(reader=reader).order_by("index"))
    submit_response(reader, Submission(trial_token=trials[0].token, answer="real"))
    client.force_login(bob)
    for _ in range(3):
        assert client.get(f"/results/{study.pk}/").status_code == 200
    assert len(builds) == 1
    submit_response(reader, Submission(trial_token=trials[1].token, answer="real"))
    client.get(f"/results/{study.pk}/")
    assert len(builds) == 2


def test_the_html_report_opens_in_the_browser_and_the_downloads_are_saved(client, bob, answered_study):
    client.force_login(bob)
    html = client.get(f"/results/{answered_study.pk}/report.html")
    assert html["Content-Type"].startswith("text/html")
    assert html["Content-Disposition"].startswith("inline;")
    for download in ("responses.csv", "report.json", "study.imrmc"):
        response = client.get(f"/results/{answered_study.pk}/{download}")
        assert response["Content-Disposition"].startswith("attachment;"), download


def test_the_html_report_of_a_study_without_answers_says_there_are_none_yet(client, bob, study):
    client.force_login(bob)
    response = client.get(f"/results/{study.pk}/report.html")
    assert response.status_code == 200 and response["Content-Disposition"].startswith("inline;")
    page = response.content.decode()
    assert "No answers yet" in page and f'href="/results/{study.pk}/"' in page


def test_the_power_card_plans_from_the_study_s_own_answers_once_three_readers_answered(client, alice, answered_study,
                                                                                      make_study):
    client.force_login(alice)
    page = client.get(f"/coordinator/studies/{answered_study.pk}/power/?accuracy=0.6&readers=8").content.decode()
    assert "estimated from this study's answers" in page and "3 readers" in page
    fresh = make_study()
    page = client.get(f"/coordinator/studies/{fresh.pk}/power/?accuracy=0.6&readers=8").content.decode()
    assert "Mirage's reader and image model" in page and "Once three readers have answered" in page

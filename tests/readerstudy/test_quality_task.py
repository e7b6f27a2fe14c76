"""A pool's quality report as a background task: queued once, run by the task worker, stored, never lost.

The tasks are queued with the database backend (as in production) and run by django-tasks-db's own
worker, `manage.py db_worker --batch`, in the test's process: so these tests use real transactions.
"""
from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from django_tasks import TaskResultStatus, default_task_backend
from django_tasks_db.models import DBTaskResult

from generation.quality.inputs import load_inputs
from generation.quality.report import run_report
from readerstudy import quality, storage
from readerstudy.models import QualityRun, QualityStatus
from readerstudy.pools import import_pool
from tests.generation.test_quality_support import phantom_set, write_pool

from .helpers import labelled_phantom_pool, run_queued_tasks

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def phantom_pool_dir(tmp_path_factory):
    """12 real and 12 synthetic labelled phantom patients at 32 and 48 px: the smallest pool the report takes."""
    return labelled_phantom_pool(tmp_path_factory.mktemp("quality") / "pool")


@pytest.fixture
def phantom_pool(phantom_pool_dir, media_root):
    return import_pool(phantom_pool_dir, "Phantoms", copy=False)[0]


@pytest.fixture(autouse=True)
def quick_report(settings):
    settings.QUALITY_FEATURES, settings.QUALITY_BOOTSTRAP, settings.QUALITY_CNN_STEPS = "original", 10, 5


def test_the_worker_runs_the_report_and_the_run_keeps_its_figures_and_files(phantom_pool, alice, monkeypatch):
    from generation.quality import memorisation

    seen = []  # what the pool page would read while the report runs
    original = memorisation.memorisation

    def watched(*args, **kwargs):
        seen.append(QualityRun.objects.values_list("status", "stage", "fraction").get())
        return original(*args, **kwargs)

    monkeypatch.setattr(memorisation, "memorisation", watched)
    run, started = quality.start_quality_report(phantom_pool, user=alice)
    assert started and run.status == QualityStatus.QUEUED and run.requested_by == alice
    assert default_task_backend.get_result(run.task_id).status == TaskResultStatus.READY

    run_queued_tasks()

    run.refresh_from_db()
    assert run.status == QualityStatus.DONE, run.error
    assert (run.fraction, run.stage, run.error) == (1.0, "done", "")
    assert run.started_at <= run.finished_at
    assert default_task_backend.get_result(run.task_id).status == TaskResultStatus.SUCCESSFUL
    assert seen[0][:2] == ("running", "32 px memorisation") and 0 < seen[0][2] < seen[1][2] < 1
    assert seen[1][1] == "48 px memorisation"

    assert run.files == ["quality.html", "quality.json", "flagged.json", "machine_reader.csv"]
    assert run.output == f"quality/pool-{phantom_pool.pk}/run-{run.pk}/"
    assert (storage.local_path(run.output) / "quality.html").is_file()
    stored = json.loads(quality.report_file(run, "quality.json"))
    assert stored["inputs"]["real"] == phantom_pool.directory == stored["inputs"]["synthetic"]
    assert json.loads(json.dumps(quality.summarise(stored))) == run.summary

    rows = {row["resolution"]: row for row in run.summary["resolutions"]}
    assert sorted(rows) == [32, 48]
    for row in rows.values():
        assert (row["n_real"], row["n_synthetic"]) == (12, 12)
        machine = row["machine"]
        assert machine["accuracy_ci_low"] <= machine["accuracy"] <= machine["accuracy_ci_high"]
        assert machine["auc_ci_low"] <= machine["auc"] <= machine["auc_ci_high"]
        assert row["frd"]["real"]["ci_low"] <= row["frd"]["real"]["median"] <= row["frd"]["real"]["ci_high"]
        assert [m["label"] for m in row["msssim"]] == ["none", "spot"]
        assert row["memorisation"]["total"] == 12 and row["memorisation"]["rate"] == row["memorisation"]["flagged"] / 12
        assert row["usefulness_state"] == "done"
        assert row["usefulness"]["gap"] == pytest.approx(row["usefulness"]["synthetic"] - row["usefulness"]["real"])
    assert run.summary["warnings"] == stored["warnings"]


def test_the_report_tells_its_progress_as_each_step_starts(phantom_pool_dir, tmp_path):
    calls = []
    run_report(load_inputs(phantom_pool_dir, phantom_pool_dir), tmp_path, workers=1, bootstrap=10,
               stages=("diversity", "memorisation"), on_progress=lambda step, fraction: calls.append((step, fraction)))
    assert calls == [("32 px diversity", 0.0), ("32 px memorisation", 0.2), ("48 px diversity", 0.4),
                     ("48 px memorisation", 0.6), ("writing the report", 0.8), ("done", 1.0)]


def test_a_second_start_while_one_is_queued_or_running_finds_that_run(phantom_pool):
    first, started = quality.start_quality_report(phantom_pool)
    again, started_again = quality.start_quality_report(phantom_pool)
    assert started and not started_again and again.pk == first.pk
    QualityRun.objects.filter(pk=first.pk).update(status=QualityStatus.RUNNING, worker=quality.this_worker(),
                                                  heartbeat_at=timezone.now())
    running, started_again = quality.start_quality_report(phantom_pool)
    assert not started_again and running.pk == first.pk and running.status == QualityStatus.RUNNING
    assert QualityRun.objects.count() == 1
    assert DBTaskResult.objects.count() == 1


def test_the_database_refuses_a_second_active_run_of_one_pool(phantom_pool):
    from django.db import IntegrityError, transaction

    QualityRun.objects.create(pool=phantom_pool)
    with pytest.raises(IntegrityError), transaction.atomic():
        QualityRun.objects.create(pool=phantom_pool, status=QualityStatus.RUNNING)
    QualityRun.objects.create(pool=phantom_pool, status=QualityStatus.FAILED)  # finished runs may pile up


def test_a_failed_run_says_why_and_leaves_the_last_report_in_place(phantom_pool, settings):
    settings.QUALITY_STAGES = ["diversity"]
    done, _ = quality.start_quality_report(phantom_pool)
    run_queued_tasks()
    done.refresh_from_db()
    assert done.status == QualityStatus.DONE
    html = quality.report_file(done, "quality.html")

    phantom_pool.manifest_sha256 = "0" * 64  # the manifest on disk is no longer the one registered
    phantom_pool.save()
    failed, started = quality.start_quality_report(phantom_pool)
    assert started
    run_queued_tasks()
    failed.refresh_from_db()
    assert failed.status == QualityStatus.FAILED and failed.finished_at is not None
    assert "changed after the pool was registered" in failed.error
    assert default_task_backend.get_result(failed.task_id).status == TaskResultStatus.FAILED
    assert quality.current_run(phantom_pool) == failed
    assert quality.latest_report(phantom_pool) == done
    assert quality.report_file(done, "quality.html") == html and quality.report_file(failed, "quality.html") is None


def test_too_few_images_fail_with_the_report_s_own_message(tmp_path, media_root):
    small = import_pool(write_pool(tmp_path / "small", phantom_set(0, 4, 32), phantom_set(500, 4, 32)), "Small",
                        copy=False)[0]
    run, _ = quality.start_quality_report(small)
    run_queued_tasks()
    run.refresh_from_db()
    assert run.status == QualityStatus.FAILED
    assert run.error.startswith("The pool's images cannot be used for a quality report: only 4 real image(s) at 32 px")
    assert run.files == [] and run.summary is None


def test_a_value_error_inside_the_measures_is_an_unexpected_error_not_the_pool_s_fault(phantom_pool, monkeypatch,
                                                                                       caplog):
    import generation.quality.report

    def broken(*args, **kwargs):
        raise ValueError("operands could not be broadcast together")

    monkeypatch.setattr(generation.quality.report, "run_report", broken)
    run, _ = quality.start_quality_report(phantom_pool)
    with caplog.at_level(logging.ERROR, logger="readerstudy.quality"):
        run_queued_tasks()
    run.refresh_from_db()
    assert run.status == QualityStatus.FAILED
    assert "unexpected error (ValueError: operands could not be broadcast together)" in run.error
    assert "cannot be used" not in run.error
    logged = [record for record in caplog.records if record.name == "readerstudy.quality"]
    assert logged and logged[0].exc_info and logged[0].exc_info[0] is ValueError  # with its traceback


def test_an_unexpected_error_is_recorded_with_its_type(phantom_pool, monkeypatch):
    import generation.quality.report

    def broken(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(generation.quality.report, "run_report", broken)
    run, _ = quality.start_quality_report(phantom_pool)
    run_queued_tasks()
    run.refresh_from_db()
    assert run.status == QualityStatus.FAILED
    assert "unexpected error (RuntimeError: disk on fire)" in run.error


def test_an_unknown_stage_in_the_settings_queues_nothing(phantom_pool, settings):
    settings.QUALITY_STAGES = ["fidelity", "sharpness"]
    with pytest.raises(quality.QualityReportError, match="unknown stage\\(s\\) sharpness"):
        quality.start_quality_report(phantom_pool)
    assert not QualityRun.objects.exists()


def running(pool, **fields) -> QualityRun:
    return QualityRun.objects.create(pool=pool, **{"status": QualityStatus.RUNNING, "stage": "48 px features",
                                                   "started_at": timezone.now(), **fields})


def test_a_run_whose_worker_died_is_marked_failed_and_a_new_one_can_start(phantom_pool):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    started = quality._process_start(gone.pid)  # still there until waited for
    gone.wait()
    stuck = running(phantom_pool, worker=f"{socket.gethostname()}:{gone.pid}:{started}", heartbeat_at=timezone.now())
    assert quality.current_run(phantom_pool).status == QualityStatus.FAILED
    stuck.refresh_from_db()
    assert "stopped before it finished" in stuck.error
    fresh, started = quality.start_quality_report(phantom_pool)
    assert started and fresh.pk != stuck.pk


def test_a_queued_run_whose_task_left_the_queue_is_marked_failed(phantom_pool):
    run, _ = quality.start_quality_report(phantom_pool)
    DBTaskResult.objects.all().delete()  # pruned, or the database restored without it
    assert quality.current_run(phantom_pool).status == QualityStatus.FAILED
    run.refresh_from_db()
    assert "no longer in the queue" in run.error


def test_a_process_that_got_the_dead_worker_s_pid_is_not_taken_for_it(phantom_pool):
    me = quality.this_worker()
    host, pid, started = me.split(":")
    assert host == socket.gethostname() and started  # Linux: /proc says when a process started
    run = running(phantom_pool, worker=me, heartbeat_at=timezone.now())
    assert quality.current_run(phantom_pool).status == QualityStatus.RUNNING
    # A restarted container's new worker process is given the dead worker's pid; it started at another time.
    QualityRun.objects.filter(pk=run.pk).update(worker=f"{host}:{pid}:{int(started) + 1}")
    settled = quality.current_run(phantom_pool)
    assert settled.status == QualityStatus.FAILED and "stopped before it finished" in settled.error


def test_a_run_not_heard_from_for_longer_than_the_setting_is_marked_failed(phantom_pool, settings):
    settings.QUALITY_STALE_MINUTES = 30
    now = timezone.now()
    # On another host: its process cannot be looked at from here, only its heartbeat tells.
    quiet = running(phantom_pool, worker="worker-2:4242:123456", started_at=now - timedelta(hours=3),
                    heartbeat_at=now - timedelta(minutes=29))
    assert quality.current_run(phantom_pool).status == QualityStatus.RUNNING
    QualityRun.objects.filter(pk=quiet.pk).update(heartbeat_at=now - timedelta(minutes=31))
    settled = quality.current_run(phantom_pool)
    assert settled.pk == quiet.pk and settled.status == QualityStatus.FAILED and settled.finished_at is not None
    assert "has not been heard from for 31 minutes" in settled.error
    fresh, started = quality.start_quality_report(phantom_pool)
    assert started and fresh.pk != quiet.pk


def test_a_run_recorded_without_a_heartbeat_is_judged_by_its_start(phantom_pool, settings):
    settings.QUALITY_STALE_MINUTES = 5
    running(phantom_pool, worker="worker-2:4242", started_at=timezone.now() - timedelta(minutes=6))
    assert "not been heard from for 6 minutes" in quality.current_run(phantom_pool).error


def test_a_queued_run_whose_task_a_worker_took_then_dropped_is_marked_failed(phantom_pool, settings):
    settings.QUALITY_STALE_MINUTES = 30
    run, _ = quality.start_quality_report(phantom_pool)
    DBTaskResult.objects.update(status=TaskResultStatus.RUNNING, started_at=timezone.now() - timedelta(minutes=10))
    assert quality.current_run(phantom_pool).status == QualityStatus.QUEUED
    DBTaskResult.objects.update(started_at=timezone.now() - timedelta(minutes=31))
    assert "stopped before it began" in quality.current_run(phantom_pool).error


def test_the_worker_beats_while_a_long_stage_reports_no_progress(phantom_pool, monkeypatch, settings):
    from generation.quality import memorisation

    settings.QUALITY_STAGES = ["memorisation"]
    monkeypatch.setattr(quality, "HEARTBEAT_SECONDS", 0.05)
    seen = []
    original = memorisation.memorisation

    def slow(*args, **kwargs):  # a stage that reports nothing for a while, as the radiomic features do
        seen.append(QualityRun.objects.values_list("stage", "heartbeat_at").get())
        time.sleep(0.5)
        seen.append(QualityRun.objects.values_list("stage", "heartbeat_at").get())
        return original(*args, **kwargs)

    monkeypatch.setattr(memorisation, "memorisation", slow)
    run, _ = quality.start_quality_report(phantom_pool)
    run_queued_tasks()
    run.refresh_from_db()
    assert run.status == QualityStatus.DONE, run.error
    (stage_before, beat_before), (stage_after, beat_after) = seen[:2]
    assert stage_before == stage_after == "32 px memorisation"  # no progress reported meanwhile
    assert beat_before is not None and beat_after - beat_before >= timedelta(seconds=0.3)
    assert run.worker == quality.this_worker()


def test_a_run_marked_failed_while_it_works_stops_and_keeps_no_files(phantom_pool, monkeypatch, settings):
    from generation.quality import memorisation

    settings.QUALITY_STAGES = ["memorisation"]
    original = memorisation.memorisation

    def given_up(*args, **kwargs):  # meanwhile a page found the run silent for too long
        QualityRun.objects.update(status=QualityStatus.FAILED, error="not heard from")
        return original(*args, **kwargs)

    monkeypatch.setattr(memorisation, "memorisation", given_up)
    run, _ = quality.start_quality_report(phantom_pool)
    run_queued_tasks()
    run.refresh_from_db()
    assert (run.status, run.error, run.files) == (QualityStatus.FAILED, "not heard from", [])
    assert not storage.local_path(run.storage_prefix).exists()
    assert default_task_backend.get_result(run.task_id).status == TaskResultStatus.FAILED

"""A pool's quality report in the web app: start it, run it (in the task worker), read it back.

The pool page and any other entry point (an API action, a management command) use these functions:

- `start_quality_report(pool, user)`: queue a run, or find the one already queued or running;
- `run_quality_report(run_id)`: what the background task does (`readerstudy/tasks.py`): `generation.quality`
  on the pool's own folder, both classes, every resolution, the pool's labels where it has them;
- `current_run(pool)`, `latest_report(pool)`, `quality_table(pool, run)`, `report_file(run, name)`: what a
  page shows.

A run's files are stored (`readerstudy/storage.py`: MEDIA_ROOT or the bucket) under a key of their own,
quality/pool-<pool>/run-<run>/, and the run is marked done only once all of them are stored: a later
run never overwrites an earlier one, and a failed run leaves the last finished report in place. Deleting
a run (or its pool) deletes its files.

While a run works, its worker writes a heartbeat to the run's row (at each step, and about once a minute
from a thread of its own). A run whose worker is gone is marked failed when a page next looks at it: at
once where the worker ran on this host and its process no longer exists, else once it has not been heard
from for MIRAGE_QUALITY_STALE_MINUTES. So a lost worker never blocks the pool's next report for good.
"""
from __future__ import annotations

import hashlib
import logging
import os
import socket
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connections, transaction
from django.db.models import Q
from django.utils import timezone

from . import storage
from .models import Pool, QualityRun, QualityStatus, Response, Study
from .models.quality import ACTIVE

logger = logging.getLogger(__name__)

# The files a run stores, and how they are served: quality.html in the page's frame, the rest as downloads.
REPORT_FILES = {
    "quality.html": "text/html; charset=utf-8",
    "quality.json": "application/json",
    "flagged.json": "application/json",
    "machine_reader.csv": "text/csv; charset=utf-8",
}


# How often a running report's worker writes its heartbeat (more often where the stale limit is short).
HEARTBEAT_SECONDS = 60.0


class QualityReportError(Exception):
    """A quality report cannot be started or run; the message says why and what to do."""


def report_options() -> dict[str, Any]:
    """`run_report`'s options for a run started from the web, from settings (MIRAGE_QUALITY_*), checked."""
    from generation.quality.features import FEATURE_SETS
    from generation.quality.report import STAGES

    stages = list(settings.QUALITY_STAGES) or list(STAGES)
    unknown = [stage for stage in stages if stage not in STAGES]
    if unknown:
        raise QualityReportError(f"MIRAGE_QUALITY_STAGES names unknown stage(s) {', '.join(unknown)}: choose from "
                                 f"{','.join(STAGES)}, or leave it unset for all of them.")
    if settings.QUALITY_FEATURES not in FEATURE_SETS:
        raise QualityReportError(f"MIRAGE_QUALITY_FEATURES={settings.QUALITY_FEATURES!r}: use "
                                 f"{' or '.join(FEATURE_SETS)}.")
    return {"stages": stages, "feature_set": settings.QUALITY_FEATURES, "steps": settings.QUALITY_CNN_STEPS,
            "bootstrap": settings.QUALITY_BOOTSTRAP, "workers": settings.QUALITY_WORKERS}


def start_quality_report(pool: Pool, user=None) -> tuple[QualityRun, bool]:
    """Queue a quality report of `pool`; (the run, True), or (the run already queued or running, False).

    The run and its task are written in one transaction, so the worker never sees one without the other.
    Raises QualityReportError (and queues nothing) when the settings ask for an unknown stage.
    """
    from .tasks import quality_report

    options = report_options()
    active = current_run(pool)
    if active is not None and active.active:
        return active, False
    try:
        with transaction.atomic():
            run = QualityRun.objects.create(pool=pool, options=options, requested_by=user)
            result = quality_report.enqueue(run.pk)
            QualityRun.objects.filter(pk=run.pk).update(task_id=str(result.id))
    except IntegrityError:  # another request queued one between our read and our insert
        return QualityRun.objects.get(pool=pool, status__in=ACTIVE), False
    run.refresh_from_db()
    return run, True


def current_run(pool: Pool) -> QualityRun | None:
    """The pool's newest run, whatever its state; a run whose worker is gone is marked failed first."""
    run = pool.quality_runs.first()
    if run is not None and run.active:
        _settle(run)
    return run


def latest_report(pool: Pool) -> QualityRun | None:
    """The pool's newest finished report, shown while a newer run is queued, running or has failed."""
    return pool.quality_runs.filter(status=QualityStatus.DONE).first()


def report_file(run: QualityRun, name: str) -> bytes | None:
    """One of a finished run's stored files, or None where it has none of that name."""
    if run.status != QualityStatus.DONE or name not in run.files:
        return None
    return storage.read(run.output + name)


def run_quality_report(run_id: int) -> str:
    """Run the report of one queued run and store it; what the background task calls. Returns the status.

    Every failure is written to the run as a message for the coordinator, then raised again, so the
    task's own result and the worker's log show it too.
    """
    from generation.quality.inputs import QualityInputError

    now = timezone.now()
    claimed = QualityRun.objects.filter(pk=run_id, status=QualityStatus.QUEUED).update(
        status=QualityStatus.RUNNING, started_at=now, heartbeat_at=now, stage="reading the pool's images",
        fraction=0.0, worker=this_worker())
    if not claimed:
        return "skipped: not queued"
    run = QualityRun.objects.select_related("pool").get(pk=run_id)
    try:
        with heartbeat(run.pk):
            _run(run)
    except QualityInputError as exc:  # the report's own message: what is missing, what to do
        _fail(run, f"The pool's images cannot be used for a quality report: {exc}")
        raise
    except QualityReportError as exc:
        _fail(run, str(exc))
        raise
    except OSError as exc:
        _fail(run, f"The report could not read the pool or store its files ({exc}). Check that the pool's folder "
                   f"{run.pool.directory} and {storage.where()} can be read and written by the worker.")
        raise
    except Exception as exc:
        logger.exception("quality report %s of pool %s failed", run.pk, run.pool_id)
        _fail(run, f"The report stopped with an unexpected error ({type(exc).__name__}: {exc}); the worker's log "
                   "has the details.")
        raise
    except BaseException:  # the worker was stopped (a second Ctrl-C) in the middle of the report
        _fail(run, "The task worker was stopped before the report finished: run the report again.")
        raise
    return QualityStatus.DONE


def _run(run: QualityRun) -> None:
    from generation.quality.inputs import load_inputs
    from generation.quality.report import run_report

    pool, options = run.pool, run.options
    manifest = pool.path / "manifest.json"
    if not manifest.is_file():
        raise QualityReportError(f"The pool's folder {pool.directory} has no manifest.json any more: restore the "
                                 "pool's files there (or register the pool again) and run the report again.")
    if hashlib.sha256(manifest.read_bytes()).hexdigest() != pool.manifest_sha256:
        raise QualityReportError(f"The pool's manifest in {pool.directory} changed after the pool was registered: "
                                 "the report would describe other images than the studies use. Register the "
                                 "changed pool under a new name, or restore its manifest.")

    def progress(step: str, fraction: float) -> None:
        still_running = QualityRun.objects.filter(pk=run.pk, status=QualityStatus.RUNNING).update(
            stage=step[:200], fraction=min(max(fraction, 0.0), 1.0), heartbeat_at=timezone.now())
        if not still_running:
            raise QualityReportError(GIVEN_UP)

    inputs = load_inputs(pool.path, pool.path)
    with tempfile.TemporaryDirectory(prefix="mirage-quality-") as folder:
        report = run_report(inputs, folder, workers=options["workers"], feature_set=options["feature_set"],
                            bootstrap=options["bootstrap"], stages=tuple(options["stages"]), steps=options["steps"],
                            seed=0, on_progress=progress,
                            created_by=f"Mirage pool page: quality report {run.pk} of pool {pool.name!r}")
        store_report(run, Path(folder), report)


def store_report(run: QualityRun, folder: Path, report: dict) -> None:
    """Store the report `run_report` wrote in `folder` under the run's own key, then mark the run done."""
    output = run.storage_prefix
    stored = []
    for name in REPORT_FILES:
        path = folder / name
        if path.is_file():
            storage.write(output + name, path.read_bytes())
            stored.append(name)
    done = QualityRun.objects.filter(pk=run.pk, status=QualityStatus.RUNNING).update(
        status=QualityStatus.DONE, finished_at=timezone.now(), stage="done", fraction=1.0, output=output,
        files=stored, summary=summarise(report), error="")
    if not done:  # marked failed (not heard from for too long) while it worked: its files would be nobody's
        storage.delete_folder(output)
        raise QualityReportError(GIVEN_UP)


GIVEN_UP = ("This report was marked failed while it still ran (its worker was not heard from for longer than "
            "MIRAGE_QUALITY_STALE_MINUTES): run the report again.")


def this_worker() -> str:
    """host:pid:start of this process, as a run records the worker running it."""
    return f"{socket.gethostname()}:{os.getpid()}:{_process_start(os.getpid())}"


@contextmanager
def heartbeat(run_id: int) -> Iterator[None]:
    """Write the running run's heartbeat from a thread of its own while the block works, so that a stage
    that reports no progress for many minutes (the radiomic features of a large pool) is not taken for a
    lost worker. The thread stops with the block, or once the run is no longer running."""
    stop = threading.Event()
    seconds = min(HEARTBEAT_SECONDS, settings.QUALITY_STALE_MINUTES * 60 / 4)

    def beat() -> None:
        try:
            while not stop.wait(seconds):
                try:
                    if not QualityRun.objects.filter(pk=run_id, status=QualityStatus.RUNNING).update(
                            heartbeat_at=timezone.now()):
                        return
                except DatabaseError:  # the database away for a moment: the next beat tries again
                    logger.warning("quality report %s: its heartbeat could not be written", run_id, exc_info=True)
        finally:
            connections.close_all()  # this thread's own connections

    thread = threading.Thread(target=beat, name=f"quality-report-{run_id}-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=30)


def _fail(run: QualityRun, message: str, only_if: Q | None = None) -> None:
    """Mark the run failed with `message`, if it is still queued or running (and `only_if` holds)."""
    runs = QualityRun.objects.filter(pk=run.pk, status__in=ACTIVE)
    if only_if is not None:
        runs = runs.filter(only_if)
    runs.update(status=QualityStatus.FAILED, finished_at=timezone.now(), error=message)


def _settle(run: QualityRun) -> None:
    """Mark an active run failed when nothing will ever finish it: its worker process is gone (killed, out
    of memory; looked at where it ran on this host), its worker has not been heard from for
    MIRAGE_QUALITY_STALE_MINUTES (any host), or its task is no longer queued."""
    message, only_if = None, None
    stale = timedelta(minutes=settings.QUALITY_STALE_MINUTES)
    if run.status == QualityStatus.RUNNING:
        last_heard = run.heartbeat_at or run.started_at or run.created_at
        silent = timezone.now() - last_heard
        if _worker_gone(run.worker):
            message = ("The task worker running this report stopped before it finished (killed, or out of "
                       "memory?): run the report again.")
        elif silent >= stale:
            message = (f"The task worker running this report has not been heard from for "
                       f"{int(silent / timedelta(minutes=1))} minutes (stopped with its host or container?): run "
                       "the report again.")
            # Only if it has not beaten meanwhile.
            only_if = Q(heartbeat_at__isnull=True) | Q(heartbeat_at__lte=last_heard)
    elif run.status == QualityStatus.QUEUED and run.task_id:
        from django_tasks import TaskResultStatus, default_task_backend
        from django_tasks.exceptions import TaskResultDoesNotExist

        try:
            task = default_task_backend.get_result(run.task_id)
        except TaskResultDoesNotExist:
            task = None
        if task is None or task.status not in (TaskResultStatus.READY, TaskResultStatus.RUNNING):
            message = "This report's task is no longer in the queue: run the report again."
        elif task.status == TaskResultStatus.RUNNING and timezone.now() - (task.started_at or run.created_at) >= stale:
            # A worker took the task, then stopped before it could start the report.
            message = "The task worker that took this report stopped before it began: run the report again."
    if message is not None:
        _fail(run, message, only_if)
        run.refresh_from_db()


def _worker_gone(worker: str) -> bool:
    """Whether the worker process `worker` (host:pid:start) ran on this host and no longer exists: no process
    has its pid, or the one that has it started at another time (a restarted container reuses pids)."""
    host, pid, started = (worker.split(":") + ["", "", ""])[:3]
    if host != socket.gethostname() or not pid.isdigit() or not started:
        return False  # another host's, or recorded where there is no /proc: only its heartbeat tells
    return _process_start(int(pid)) != started


def _process_start(pid: int) -> str:
    """When process `pid` started, in clock ticks after boot (/proc/<pid>/stat); "" where no such process
    exists, or where there is no /proc to ask."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rpartition(")")[2].split()[19]  # after "pid (name)": state is field 3, starttime field 22


# What the pool page shows: one row per resolution.

def summarise(report: dict) -> dict:
    """The figures of `quality.json` that the pool page's table shows, per resolution, and the warnings."""
    stages = report["settings"]["stages"]
    rows = []
    for entry in report["resolutions"]:
        fidelity, memo = entry.get("fidelity"), entry.get("memorisation")
        machine = (entry.get("machine_reader") or {}).get("machine-cnn")
        useful = entry.get("usefulness")
        rows.append({
            "resolution": entry["resolution"], "n_real": entry["n_real"], "n_synthetic": entry["n_synthetic"],
            "machine": None if machine is None else {key: machine[key] for key in (
                "accuracy", "accuracy_ci_low", "accuracy_ci_high", "auc", "auc_ci_low", "auc_ci_high", "n")},
            "frd": None if fidelity is None else {"synthetic": fidelity["real_vs_synthetic"],
                                                  "real": fidelity["real_vs_real"],
                                                  "within_real_range": fidelity["within_real_range"]},
            "msssim": None if entry.get("diversity") is None else [
                {"label": row["label"], "synthetic": row["synthetic"]["mean"], "real": row["real"]["mean"],
                 "mode_collapse": row["mode_collapse"]} for row in entry["diversity"]["rows"]],
            "memorisation": None if memo is None else {
                "flagged": memo["n_flagged"], "total": memo["n_synthetic"],
                "rate": memo["n_flagged"] / memo["n_synthetic"] if memo["n_synthetic"] else None},
            "usefulness": None if not useful else {"gap": useful["gap"], "synthetic": useful["mean_auc"]["synthetic"],
                                                   "real": useful["mean_auc"]["real"]},
            "usefulness_state": ("not run" if "usefulness" not in stages else
                                 "needs labels" if entry.get("usefulness") is None else "done"),
        })
    return {"resolutions": rows, "warnings": report["warnings"], "notes": report["notes"], "stages": stages,
            "n_flagged_sources": len(report["flagged"]), "feature_set": report["settings"]["feature_set"]}


def reader_headlines(pool: Pool) -> dict[int, list[dict]]:
    """Per resolution, each study on this pool that has answers: its headline accuracy with its interval,
    from the same analysis the results page shows (`readerstudy.results.study_report`)."""
    from .results import study_report

    by_resolution: dict[int, list[dict]] = {}
    answered = Response.objects.filter(trial__reader__study__pool=pool).values("trial__reader__study").distinct()
    for study in Study.objects.filter(pk__in=answered).order_by("created_at", "pk"):
        report = study_report(study)
        chosen: dict[int, dict] = {}
        for row in report.get("headline") or []:
            # An accuracy where the design has one (comparable with the machine reader's), else its AUC.
            if row["resolution"] not in chosen or ("AUC" in chosen[row["resolution"]]["measure"]
                                                   and "AUC" not in row["measure"]):
                chosen[row["resolution"]] = row
        for resolution, row in chosen.items():
            by_resolution.setdefault(int(resolution), []).append({
                "study": study, "measure": row["measure"], "estimate": row["estimate"], "ci_low": row["ci_low"],
                "ci_high": row["ci_high"], "chance": row["chance"], "n_readers": row["n_readers"],
                "is_auc": "AUC" in row["measure"]})
    return by_resolution


def quality_table(pool: Pool, run: QualityRun) -> list[dict]:
    """The pool page's one-minute table: the report's figures beside the readers' headline, per resolution."""
    readers = reader_headlines(pool)
    rows = (run.summary or {}).get("resolutions", [])
    return [{**row, "readers": readers.get(row["resolution"], [])} for row in rows]

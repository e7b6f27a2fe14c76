"""A quality report's stored files go with their run: deleting a run, or its pool, deletes them, on the
filesystem and on an S3 bucket; a deletion that is rolled back keeps them."""
from __future__ import annotations

import pytest
from django.db import transaction

from readerstudy import storage
from readerstudy.models import QualityRun, QualityStatus

from .test_storage_s3 import bucket, objects, s3_endpoint  # noqa: F401  (the bucket fixtures)

pytestmark = pytest.mark.django_db

NAMES = ["quality.html", "quality.json"]


def stored_run(pool) -> QualityRun:
    run = QualityRun.objects.create(pool=pool, status=QualityStatus.DONE)
    for name in NAMES:
        storage.write(run.storage_prefix + name, f"{name} of run {run.pk}".encode())
    QualityRun.objects.filter(pk=run.pk).update(output=run.storage_prefix, files=NAMES)
    run.refresh_from_db()
    return run


def stored(run) -> list[bool]:
    return [storage.exists(run.output + name) for name in NAMES]


def test_deleting_a_run_deletes_its_files_and_no_other_run_s(pool, django_capture_on_commit_callbacks):
    kept, deleted = stored_run(pool), stored_run(pool)
    with django_capture_on_commit_callbacks(execute=True):
        deleted.delete()
    assert stored(deleted) == [False, False] and not storage.local_path(deleted.output).exists()
    assert stored(kept) == [True, True]


def test_deleting_a_pool_deletes_every_run_s_files(pool, django_capture_on_commit_callbacks):
    runs = [stored_run(pool), stored_run(pool)]
    folder = storage.local_path(runs[0].output).parent
    assert folder.name == f"pool-{pool.pk}"
    with django_capture_on_commit_callbacks(execute=True):
        pool.delete()
    assert not QualityRun.objects.exists()
    assert all(stored(run) == [False, False] for run in runs) and not folder.exists()


def test_a_deletion_rolled_back_keeps_the_files(pool, django_capture_on_commit_callbacks):
    run = stored_run(pool)
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        run.delete()
        transaction.set_rollback(True)
    assert callbacks == [] and stored(run) == [True, True]


def test_deleting_a_pool_deletes_its_reports_on_the_bucket(bucket, pool, django_capture_on_commit_callbacks):  # noqa: F811
    runs = [stored_run(pool), stored_run(pool)]
    other = {key for key in objects(bucket) if not key.startswith("quality/")}
    assert {key for key in objects(bucket) if key.startswith("quality/")} == {
        run.output + name for run in runs for name in NAMES}
    with django_capture_on_commit_callbacks(execute=True):
        pool.delete()
    assert set(objects(bucket)) == other  # the reports' keys gone, nothing else touched

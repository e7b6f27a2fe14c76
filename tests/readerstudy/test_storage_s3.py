"""Canonical copies on an S3 bucket (MIRAGE_STORAGE=s3): import_pool puts them there under opaque keys, and
the image endpoint streams them by token with the same bytes and headers as the filesystem storage.

The bucket is moto's S3 API server, run in this process on a free port of 127.0.0.1.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import boto3
import pytest
from django.core.management import call_command
from moto.server import ThreadedMotoServer

from readerstudy.models import Pool, Study, StudyStatus, TrialImage
from readerstudy.pools import PoolImportError, canonical_key, import_pool

from .helpers import invite

pytestmark = pytest.mark.django_db
REPO = Path(__file__).resolve().parents[2]
KEY = re.compile(r"canonical/[0-9a-f]{2}/[0-9a-f]{64}\.png")


@pytest.fixture(scope="module")
def s3_endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def bucket(s3_endpoint, settings, media_root, monkeypatch):
    """A new, empty bucket, and the settings MIRAGE_STORAGE=s3 gives for it."""
    for name, value in {"AWS_ACCESS_KEY_ID": "test-key", "AWS_SECRET_ACCESS_KEY": "test-secret",
                        "AWS_SESSION_TOKEN": "", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    name = f"mirage-{uuid.uuid4().hex[:12]}"
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1")
    client.create_bucket(Bucket=name)
    settings.MEDIA_STORAGE = "s3"
    settings.STORAGES = {**settings.STORAGES, "default": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {
        "bucket_name": name, "endpoint_url": s3_endpoint, "region_name": "us-east-1", "default_acl": None,
        "file_overwrite": True}}}
    return client, name


def objects(bucket) -> dict[str, dict]:
    client, name = bucket
    found = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=name):
        for entry in page.get("Contents", []):
            found[entry["Key"]] = entry
    return found


def open_study(pool) -> Study:
    return Study.objects.create(name="On a bucket", pool=pool, status=StudyStatus.OPEN, resolutions=[32, 64, 96],
                                trials_per_resolution=4, blank_ms=0)


def serve_all(client, reader) -> dict[str, tuple[int, dict, bytes]]:
    served = {}
    for token in TrialImage.objects.filter(trial__reader=reader).values_list("token", flat=True):
        response = client.get(f"/api/reader/{reader.token}/images/{token}/")
        served[token] = (response.status_code, dict(response.headers), response.content)
    return served


def test_import_puts_every_canonical_copy_on_the_bucket_under_an_opaque_key(bucket, small_pool_dir, media_root,
                                                                            capsys):
    call_command("import_pool", str(small_pool_dir), "--name", "Chest", "--no-copy")
    assert f"the copies readers receive are in s3://{bucket[1]} at http://127.0.0.1:" in capsys.readouterr().out
    pool = Pool.objects.get()
    stored = objects(bucket)
    assert set(stored) == {canonical_key(image.path) for image in pool.images.select_related("pool")}
    assert len(stored) == 195 and all(KEY.fullmatch(key) for key in stored)
    uids = set(pool.images.values_list("uid", flat=True))
    assert not any(uid in key for key in stored for uid in uids)  # nothing of the pool's names
    client, name = bucket
    head = client.head_object(Bucket=name, Key=next(iter(stored)))
    assert head["ContentType"] == "image/png"
    assert not (media_root / "canonical").exists()  # nothing written on this host


def test_an_image_from_the_bucket_is_served_with_the_bytes_and_headers_of_the_filesystem(
        client, bucket, small_pool_dir, media_root, settings):
    pool, _ = import_pool(small_pool_dir, "Chest", copy=False)
    reader = invite(open_study(pool))
    from_bucket = serve_all(client, reader)
    assert len(from_bucket) == 12
    for status, headers, data in from_bucket.values():
        assert status == 200 and "Location" not in headers and data.startswith(b"\x89PNG")
        assert headers["Content-Type"] == "image/png" and headers["Content-Length"] == str(len(data))
    # The same trials with the filesystem storage: its copies are made on first serve, then read back.
    settings.MEDIA_STORAGE = "filesystem"
    first_from_disk = serve_all(client, reader)
    from_disk = serve_all(client, reader)
    assert (media_root / "canonical").is_dir()
    assert from_bucket == first_from_disk == from_disk


def test_a_copy_missing_from_the_bucket_is_made_again_on_first_serve(client, bucket, small_pool_dir, media_root):
    pool, _ = import_pool(small_pool_dir, "Chest", copy=False)
    reader = invite(open_study(pool))
    trial_image = TrialImage.objects.filter(trial__reader=reader).select_related("image__pool").first()
    key = canonical_key(trial_image.image.path)
    s3, name = bucket
    original = s3.get_object(Bucket=name, Key=key)["Body"].read()
    s3.delete_object(Bucket=name, Key=key)
    url = f"/api/reader/{reader.token}/images/{trial_image.token}/"
    assert client.get(url).content == original
    assert s3.get_object(Bucket=name, Key=key)["Body"].read() == original
    s3.put_object(Bucket=name, Key=key, Body=b"")  # as an interrupted writer could leave it
    assert client.get(url).content == original
    assert s3.get_object(Bucket=name, Key=key)["Body"].read() == original


def test_importing_again_puts_back_the_copies_the_bucket_lacks(bucket, small_pool_dir, media_root):
    call_command("import_pool", str(small_pool_dir), "--name", "Chest")
    s3, name = bucket
    removed = sorted(objects(bucket))[:5]
    for key in removed:
        s3.delete_object(Bucket=name, Key=key)
    call_command("import_pool", str(small_pool_dir), "--name", "Chest")
    assert set(removed) <= set(objects(bucket)) and len(objects(bucket)) == 195


def test_a_copy_neither_on_the_bucket_nor_makeable_on_this_host_says_what_to_do(
        client, bucket, small_pool_dir, media_root, tmp_path):
    elsewhere = tmp_path / "pool-on-another-host"
    shutil.copytree(small_pool_dir, elsewhere)
    pool, _ = import_pool(elsewhere, "Chest", copy=False)
    reader = invite(open_study(pool))
    trial_image = TrialImage.objects.filter(trial__reader=reader).select_related("image__pool").first()
    s3, name = bucket
    s3.delete_object(Bucket=name, Key=canonical_key(trial_image.image.path))
    shutil.rmtree(elsewhere)
    with pytest.raises(PoolImportError, match="run `manage.py import_pool` again on the host that holds the pool"):
        client.get(f"/api/reader/{reader.token}/images/{trial_image.token}/")


def settings_in_a_new_process(**environment) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIRAGE_")}
    env.update(environment, DJANGO_SETTINGS_MODULE="readerstudy.settings")
    code = ("from django.conf import settings; print(settings.MEDIA_STORAGE); "
            "print(settings.STORAGES['default']['BACKEND']); print(settings.STORAGES['default'].get('OPTIONS'))")
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True)


def test_the_filesystem_is_the_default_and_s3_needs_a_bucket(tmp_path):
    default = settings_in_a_new_process(MIRAGE_VAR_DIR=str(tmp_path))
    assert default.stdout.split("\n")[:2] == ["filesystem", "django.core.files.storage.FileSystemStorage"]
    s3 = settings_in_a_new_process(MIRAGE_VAR_DIR=str(tmp_path), MIRAGE_STORAGE="s3", MIRAGE_S3_BUCKET="images",
                                   MIRAGE_S3_ENDPOINT_URL="http://127.0.0.1:9000")
    assert s3.returncode == 0, s3.stderr
    assert s3.stdout.split("\n")[:2] == ["s3", "storages.backends.s3.S3Storage"]
    assert "'bucket_name': 'images'" in s3.stdout and "'endpoint_url': 'http://127.0.0.1:9000'" in s3.stdout
    no_bucket = settings_in_a_new_process(MIRAGE_VAR_DIR=str(tmp_path), MIRAGE_STORAGE="s3")
    assert no_bucket.returncode != 0 and "MIRAGE_STORAGE=s3 needs MIRAGE_S3_BUCKET" in no_bucket.stderr
    unknown = settings_in_a_new_process(MIRAGE_VAR_DIR=str(tmp_path), MIRAGE_STORAGE="ftp")
    assert unknown.returncode != 0 and "use filesystem (the default) or s3" in unknown.stderr

"""Where the canonical copies that readers receive are kept, each under an opaque key.

Two places, chosen by MIRAGE_STORAGE (settings.MEDIA_STORAGE):

- "filesystem" (the zero-setup default): MEDIA_ROOT/<key> on this host. Several app hosts share that
  folder (NFS or the like).
- "s3": a bucket of an S3-compatible service that every app host reaches: Django's STORAGES["default"],
  django-storages' S3 backend over boto3.

Either way the app reads a copy back as bytes and streams it to the reader itself: no reader is ever sent
a storage URL (direct or signed), so what a browser receives, bytes and headers, is the same with both.
A copy is stored whole or not at all: renamed into place on the filesystem, one PUT on S3.
"""
from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import storages


def uses_bucket() -> bool:
    return settings.MEDIA_STORAGE == "s3"


def where() -> str:
    """Where copies go, for people: a folder or a bucket."""
    if uses_bucket():
        bucket = storages["default"]
        return f"s3://{bucket.bucket_name}" + (f" at {bucket.endpoint_url}" if bucket.endpoint_url else "")
    return str(Path(settings.MEDIA_ROOT))


def local_path(key: str) -> Path:
    """The file that holds `key` with the filesystem storage."""
    return Path(settings.MEDIA_ROOT) / key


def read(key: str) -> bytes | None:
    """The bytes stored under `key`, or None where nothing is."""
    if uses_bucket():
        return _read_from_bucket(key)
    try:
        return local_path(key).read_bytes()
    except FileNotFoundError:
        return None


def write(key: str, data: bytes) -> None:
    """Store `data` under `key`, replacing what was there; a reader never sees half of it."""
    if uses_bucket():
        storages["default"].save(key, ContentFile(data))
        return
    target = local_path(key)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Written under a name of its own, then renamed: a reader never gets a half-written file, and two
    # workers making the same copy at once both leave a whole one.
    temporary = target.with_name(f".{target.stem}.{secrets.token_hex(8)}.tmp")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)


def exists(key: str) -> bool:
    if uses_bucket():
        return storages["default"].exists(key)
    return local_path(key).is_file()


def delete_folder(prefix: str) -> None:
    """Delete everything stored under `prefix` ("quality/pool-3/run-7/"); nothing there is no error. On the
    filesystem the folder above goes too once it is empty."""
    if not prefix.endswith("/") or prefix.strip("/") == "" or ".." in prefix.split("/"):
        raise ValueError(f"Not a folder under the storage: {prefix!r}")
    if uses_bucket():
        bucket = storages["default"]
        client = bucket.connection.meta.client
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket.bucket_name, Prefix=prefix):
            keys = [{"Key": entry["Key"]} for entry in page.get("Contents", [])]
            if keys:
                client.delete_objects(Bucket=bucket.bucket_name, Delete={"Objects": keys, "Quiet": True})
        return
    folder = local_path(prefix)
    shutil.rmtree(folder, ignore_errors=True)
    try:
        folder.parent.rmdir()
    except OSError:  # other files still there, or gone already
        pass


def _read_from_bucket(key: str) -> bytes | None:
    # One GET through the storage's own boto3 client (Storage.open would first send a HEAD as well).
    bucket = storages["default"]
    client = bucket.connection.meta.client
    try:
        return client.get_object(Bucket=bucket.bucket_name, Key=key)["Body"].read()
    except client.exceptions.NoSuchKey:
        return None

"""Registering a `generation` pool in the web app (used by `manage.py import_pool` and the demo), and the
canonical copies of its images that readers receive.

A pool's own PNGs stay exactly as built (their hashes are in the manifest), but their compressed size and
encoder decisions differ with content, and so between the classes. A reader is sent only a canonical
re-encoding of the same pixels (`generation.render.canonical_png`), whose size depends on the resolution
alone. Each is made when its pool is imported, or on first serve for a pool imported before, and kept
under an opaque key (readerstudy/storage.py): in MEDIA_ROOT/canonical/, or in an S3 bucket shared by
every app host. The pool's own files stay where `import_pool` put them, on the host that imported it.
"""
from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import transaction
from PIL import Image

from generation.check import PROPERTIES, check_pool
from generation.manifest import ManifestError, load_manifest
from generation.render import PNG_SIGNATURE, canonical_png

from . import storage
from .models import Pool, PoolImage


class PoolImportError(ValueError):
    pass


def import_pool(directory: Path, name: str, *, copy: bool = True) -> tuple[Pool, bool]:
    """Register the pool at `directory` under `name`. Idempotent: the same manifest returns the same pool.

    The pool's files are verified against the manifest's hashes first; a pool that does not match is refused
    and nothing is written. With `copy` the files are copied under POOL_ROOT so the server owns its stimuli.
    Each image's canonical copy (what readers receive) is made from the files the pool is served from; a pool
    registered before canonical copies existed gets its missing ones when it is imported again.
    """
    directory = Path(directory)
    try:
        manifest = load_manifest(directory)
    except ManifestError as exc:
        raise PoolImportError(str(exc)) from None
    sha = hashlib.sha256((directory / "manifest.json").read_bytes()).hexdigest()
    existing = Pool.objects.filter(manifest_sha256=sha).first()
    if existing is not None:
        if existing.audited_properties != audited_properties():
            _reaudit(existing)
        for file in existing.images.values_list("file", flat=True):  # registered before canonical copies
            if not storage.exists(canonical_key(existing.path / file)):
                write_canonical_copy(existing.path / file)
        return existing, False
    if Pool.objects.filter(name=name).exists():
        raise PoolImportError(f"A different pool is already called {name!r}; choose another --name.")
    # One pass over the files: hashes, sizes and completeness (errors), and the class audit (warnings).
    audit = check_pool(directory)
    if audit.errors:
        problems = audit.errors
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise PoolImportError(f"The pool's files do not match its manifest: {shown}")
    target = directory.resolve()
    if copy:
        target = Path(settings.POOL_ROOT) / sha[:16]
        if not target.exists():
            staging = target.with_name(target.name + ".partial")
            shutil.rmtree(staging, ignore_errors=True)
            staging.mkdir(parents=True)
            shutil.copy2(directory / "manifest.json", staging / "manifest.json")
            for entry in manifest["images"]:
                dest = staging / entry["file"]
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(directory / entry["file"], dest)
            staging.rename(target)
    for entry in manifest["images"]:
        write_canonical_copy(Path(target) / entry["file"])
    with transaction.atomic():
        pool = Pool.objects.create(
            name=name, directory=str(target), manifest_sha256=sha, audit_warnings=list(audit.warnings),
            audited_properties=audited_properties(),
            code_version=str(manifest.get("code_version", "")), settings=manifest.get("settings", {}))
        PoolImage.objects.bulk_create([
            PoolImage(pool=pool, uid=e["id"], source_id=e["source_id"], image_class=e["class"],
                      resolution=int(e["resolution"]), file=e["file"], sha256=e["sha256"],
                      source=e.get("source") or "", generator=e.get("generator"), label=e.get("label") or "",
                      role=e.get("role") or "main")
            for e in manifest["images"]
        ], batch_size=1000)
    return pool, True


def audited_properties() -> list[str]:
    """What `generation pool check` compares between the classes, as its labels."""
    return list(PROPERTIES.values())


def _reaudit(pool: Pool) -> None:
    """A pool registered before the audit compared what it compares now is audited again, from its files."""
    audit = check_pool(pool.path)
    if audit.errors:  # the files changed under the server: keep the record, say nothing new
        return
    Pool.objects.filter(pk=pool.pk).update(audit_warnings=list(audit.warnings),
                                           audited_properties=audited_properties())
    pool.refresh_from_db(fields=["audit_warnings", "audited_properties"])


# ----------------------------------------------------------------------------- what readers receive

def canonical_key(source: Path) -> str:
    """The opaque key of the canonical copy of the pool file at `source` (a PoolImage's path).

    Made from the path the database records, so every app host finds the same copy."""
    digest = hashlib.sha256(os.fsencode(source)).hexdigest()
    return f"canonical/{digest[:2]}/{digest}.png"


def canonical_path(source: Path) -> Path:
    """Where the filesystem storage keeps the canonical copy of the pool file at `source`."""
    return storage.local_path(canonical_key(source))


def write_canonical_copy(source: Path) -> bytes:
    """Re-encode the pool file at `source` canonically, store it (whole or not at all) and return its bytes."""
    try:
        image = Image.open(source)
    except FileNotFoundError:
        raise PoolImportError(
            f"The canonical copy of {source} is missing from {storage.where()} and the pool file is not on "
            "this host: run `manage.py import_pool` again on the host that holds the pool.") from None
    with image:
        if image.mode != "L":
            raise PoolImportError(f"{source} is not an 8-bit grayscale PNG (Pillow mode {image.mode}); "
                                  "build the pool with `python -m generation pool build`.")
        data = canonical_png(np.asarray(image))
    storage.write(canonical_key(source), data)
    return data


def canonical_bytes(source: Path) -> bytes:
    """What a reader receives for the pool file at `source`: its canonical copy, made now if missing."""
    data = storage.read(canonical_key(source))
    # Not a PNG: e.g. left empty by a crash before the data reached the disk.
    if data is None or not data.startswith(PNG_SIGNATURE):
        return write_canonical_copy(source)
    return data

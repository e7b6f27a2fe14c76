"""Registering a `generation` pool in the web app (used by `manage.py import_pool` and the demo), and the
canonical copies of its images that readers receive.

A pool's own PNGs stay exactly as built (their hashes are in the manifest), but their compressed size and
encoder decisions differ with content, and so between the classes. A reader is sent only a canonical
re-encoding of the same pixels (`generation.render.canonical_png`), whose size depends on the resolution
alone. Each is made when its pool is imported, or on first serve for a pool imported before, and kept
under MEDIA_ROOT/canonical/.
"""
from __future__ import annotations

import hashlib
import os
import secrets
import shutil
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import transaction
from PIL import Image

from generation.check import PROPERTIES, check_pool
from generation.manifest import ManifestError, load_manifest
from generation.render import PNG_SIGNATURE, canonical_png

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
            if not canonical_path(existing.path / file).is_file():
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

def canonical_path(source: Path) -> Path:
    """Where the canonical copy of the pool file at `source` (a PoolImage's path) is kept."""
    digest = hashlib.sha256(os.fsencode(source)).hexdigest()
    return Path(settings.MEDIA_ROOT) / "canonical" / digest[:2] / f"{digest}.png"


def write_canonical_copy(source: Path) -> bytes:
    """Re-encode the pool file at `source` canonically, store it (atomically) and return its bytes."""
    with Image.open(source) as image:
        if image.mode != "L":
            raise PoolImportError(f"{source} is not an 8-bit grayscale PNG (Pillow mode {image.mode}); "
                                  "build the pool with `python -m generation pool build`.")
        data = canonical_png(np.asarray(image))
    target = canonical_path(source)
    target.parent.mkdir(parents=True, exist_ok=True)
    # Written under a name of its own, then renamed: a reader never gets a half-written file, and two
    # workers making the same copy at once both leave a whole one.
    temporary = target.with_name(f".{target.stem}.{secrets.token_hex(8)}.tmp")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    return data


def canonical_bytes(source: Path) -> bytes:
    """What a reader receives for the pool file at `source`: its canonical copy, made now if missing."""
    try:
        data = canonical_path(source).read_bytes()
    except FileNotFoundError:
        return write_canonical_copy(source)
    if not data.startswith(PNG_SIGNATURE):  # e.g. left empty by a crash before the data reached the disk
        return write_canonical_copy(source)
    return data

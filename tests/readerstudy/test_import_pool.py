"""manage.py import_pool: idempotent, verifies hashes, copies the files, and explains refusals."""
from __future__ import annotations

import json
import shutil

import pytest
from django.core.management import CommandError, call_command

from readerstudy.models import Pool, PoolImage

pytestmark = pytest.mark.django_db


def test_import_registers_every_image_and_copies_the_files(small_pool_dir, media_root, capsys):
    call_command("import_pool", str(small_pool_dir), "--name", "Chest")
    pool = Pool.objects.get()
    manifest = json.loads((small_pool_dir / "manifest.json").read_text())
    assert pool.images.count() == len(manifest["images"]) == 195
    assert pool.images.filter(role="catch", image_class="synthetic").count() == 15
    assert str(pool.directory).startswith(str(media_root))
    image = pool.images.first()
    assert image.path.read_bytes() == (small_pool_dir / image.file).read_bytes()
    assert PoolImage.objects.filter(image_class="synthetic", generator__isnull=False).exists()
    assert "Imported pool 'Chest'" in capsys.readouterr().out


def test_importing_the_same_pool_twice_changes_nothing(small_pool_dir, media_root, capsys):
    call_command("import_pool", str(small_pool_dir), "--name", "Chest")
    call_command("import_pool", str(small_pool_dir), "--name", "Chest again")
    assert Pool.objects.count() == 1 and PoolImage.objects.count() == 195
    assert "Already imported" in capsys.readouterr().out


def test_a_pool_whose_files_do_not_match_their_hashes_is_refused(small_pool_dir, media_root, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(small_pool_dir, broken)
    manifest = json.loads((broken / "manifest.json").read_text())
    victim = broken / manifest["images"][0]["file"]
    victim.write_bytes(victim.read_bytes()[:-10] + b"0123456789")
    with pytest.raises(CommandError, match="do not match"):
        call_command("import_pool", str(broken), "--name", "Broken")
    assert not Pool.objects.exists()


def test_a_directory_without_a_manifest_is_refused_with_a_clear_message(tmp_path, media_root):
    with pytest.raises(CommandError, match="has no manifest.json"):
        call_command("import_pool", str(tmp_path), "--name", "Nothing")

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


def test_a_pool_whose_classes_differ_in_brightness_is_flagged_for_coordinators(tmp_path, media_root, client, alice,
                                                                                capsys):
    import numpy as np
    from PIL import Image

    from generation.pool import build_pool

    rng = np.random.default_rng(1)
    for cls, level in (("real", 200), ("synthetic", 60)):
        (tmp_path / cls).mkdir()
        for i in range(20):
            pixels = np.clip(rng.normal(level, 20, (64, 64)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(tmp_path / cls / f"{i}.png")
    build_pool(tmp_path / "real", tmp_path / "synthetic", tmp_path / "pool", resolutions=(32,), workers=1)
    call_command("import_pool", str(tmp_path / "pool"), "--name", "Biased")
    pool = Pool.objects.get()
    assert pool.audit_warnings and any("mean intensity" in w for w in pool.audit_warnings)
    assert "WARNING:" in capsys.readouterr().out
    client.force_login(alice)
    assert "Check before you use this pool" in client.get(f"/coordinator/pools/{pool.pk}/").content.decode()


def test_a_balanced_pool_passes_the_audit(small_pool_dir, media_root):
    call_command("import_pool", str(small_pool_dir), "--name", "Fair")
    assert Pool.objects.get().audit_warnings == []


def test_a_pool_audited_before_an_audit_property_existed_is_audited_again_on_import(
        small_pool_dir, media_root, client, alice):
    from generation.check import PROPERTIES

    call_command("import_pool", str(small_pool_dir), "--name", "Old")
    pool = Pool.objects.get()
    assert pool.audited_properties == list(PROPERTIES.values())
    client.force_login(alice)
    page = client.get(f"/coordinator/pools/{pool.pk}/").content.decode()
    assert "share of spectral power above half the Nyquist frequency" in page
    # As registered before this session: warnings stored, but no record of what was compared.
    Pool.objects.filter(pk=pool.pk).update(audited_properties=None, audit_warnings=["stale warning"])
    page = client.get(f"/coordinator/pools/{pool.pk}/").content.decode()
    assert "stale warning" in page
    Pool.objects.filter(pk=pool.pk).update(audit_warnings=[])
    page = " ".join(client.get(f"/coordinator/pools/{pool.pk}/").content.decode().split())
    assert "compared when it was registered" in page and "Nyquist" not in page
    call_command("import_pool", str(small_pool_dir), "--name", "Old")
    pool.refresh_from_db()
    assert pool.audited_properties == list(PROPERTIES.values()) and pool.audit_warnings == []
    assert Pool.objects.count() == 1


def test_import_makes_the_canonical_copy_readers_receive_of_every_image(small_pool_dir, media_root):
    from generation.render import canonical_png_size
    from readerstudy.pools import canonical_path

    call_command("import_pool", str(small_pool_dir), "--name", "Chest")
    pool = Pool.objects.get()
    sizes = {}
    for image in pool.images.all():
        copy = canonical_path(pool.path / image.file)
        assert str(copy).startswith(str(media_root / "canonical"))
        sizes.setdefault(image.resolution, set()).add(copy.stat().st_size)
    assert sizes == {size: {canonical_png_size(size, size)} for size in (32, 64, 96)}
    assert sorted(p.name for p in pool.path.iterdir()) == ["images", "manifest.json"]  # the pool copy is as built


def test_importing_again_makes_the_canonical_copies_a_pool_registered_without_them_lacks(small_pool_dir, media_root):
    from readerstudy.pools import canonical_path

    call_command("import_pool", str(small_pool_dir), "--name", "Chest")
    shutil.rmtree(media_root / "canonical")  # as registered before canonical copies existed
    call_command("import_pool", str(small_pool_dir), "--name", "Chest")
    pool = Pool.objects.get()
    assert all(canonical_path(pool.path / image.file).is_file() for image in pool.images.all())


def test_a_pool_with_an_image_that_is_not_8_bit_grayscale_is_refused(small_pool_dir, media_root, tmp_path):
    import hashlib

    from PIL import Image

    odd = tmp_path / "odd"
    shutil.copytree(small_pool_dir, odd)
    manifest = json.loads((odd / "manifest.json").read_text())
    entry = manifest["images"][0]
    with Image.open(odd / entry["file"]) as image:
        image.convert("RGB").save(odd / entry["file"])
    entry["sha256"] = hashlib.sha256((odd / entry["file"]).read_bytes()).hexdigest()
    (odd / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(CommandError, match="not an 8-bit grayscale PNG"):
        call_command("import_pool", str(odd), "--name", "Odd")
    assert not Pool.objects.exists()

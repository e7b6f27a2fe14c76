"""A sample set's samples.json carries each image's generator and seed into the pool's manifest."""

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from generation import PoolError, build_pool, load_manifest
from generation.cli import main
from generation.phantoms import draw_phantom, write_phantoms

pytestmark = pytest.mark.usefixtures("torch_one_thread")

TINY = dict(image_size=16, latent_dim=16, base_channels=4, max_channels=16, batch_size=8, log_every=10,
            fade_images=8, stable_images=8)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """A tiny trained generator (a few steps: the images need not be good)."""
    from generation.gan.config import GanConfig
    from generation.gan.train import train

    images = np.stack([draw_phantom(i, 16) for i in range(8)])
    return train(images, GanConfig(**TINY, max_steps=6), tmp_path_factory.mktemp("gan"), log=lambda line: None)


@pytest.fixture(scope="module")
def drawn(checkpoint, tmp_path_factory) -> Path:
    """`python -m generation sample` output: OUT/images/sample_000k.png and OUT/samples.json."""
    out = tmp_path_factory.mktemp("drawn") / "gan"
    assert main(["sample", "--checkpoint", str(checkpoint), "--count", "4", "--seed", "5", "--out", str(out),
                 "--device", "cpu"]) == 0
    return out


@pytest.fixture
def sampled(drawn, tmp_path) -> Path:
    """A copy of the drawn set this test may change."""
    import shutil

    return Path(shutil.copytree(drawn, tmp_path / "gan"))


@pytest.fixture
def real(tmp_path) -> Path:
    write_phantoms(tmp_path / "real", 3, size=16)
    return tmp_path / "real"


def build(real: Path, synthetic: Path, out: Path, *extra: str) -> int:
    return main(["pool", "build", "--real", str(real), "--synthetic", str(synthetic), "--out", str(out),
                 "--resolutions", "8,16", "--workers", "1", *extra])


def nothing_written(out: Path) -> bool:
    return not out.exists() and not list(out.parent.glob(f".{out.name}.partial-*"))


def test_the_manifest_carries_each_images_generator_and_seed(sampled, real, checkpoint, tmp_path, capsys):
    samples = json.loads((sampled / "samples.json").read_text())
    assert build(real, sampled / "images", tmp_path / "pool") == 0
    assert "generator and seed recorded for 4 of 4 synthetic source(s)" in capsys.readouterr().out
    manifest = load_manifest(tmp_path / "pool")
    seeds = {entry["file"]: entry["seed"] for entry in samples["images"]}
    synthetic = [image for image in manifest["images"] if image["class"] == "synthetic"]
    assert len(synthetic) == 8  # 4 images at 2 resolutions
    checkpoint_sha256 = hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    for image in synthetic:
        assert image["generator"] == {"name": samples["checkpoint"], "checkpoint": samples["checkpoint"],
                                      "checkpoint_sha256": checkpoint_sha256, "seed": seeds[image["source"]],
                                      "label": None}
    assert all(image["generator"] is None for image in manifest["images"] if image["class"] == "real")
    assert manifest["samples"] == {
        "format": "mirage-samples/1", "sha256": hashlib.sha256((sampled / "samples.json").read_bytes()).hexdigest(),
        "checkpoint": samples["checkpoint"],
        "generator": {"kind": "checkpoint", "name": samples["checkpoint"], "sha256": checkpoint_sha256},
        "seed": 5, "images": 4}
    assert str(tmp_path) not in (tmp_path / "pool" / "manifest.json").read_text()


def test_a_recorded_seed_draws_the_pooled_image_again(sampled, real, tmp_path):
    from generation.gan.sample import regenerate

    assert build(real, sampled / "images", tmp_path / "pool") == 0
    image = next(i for i in load_manifest(tmp_path / "pool")["images"] if i["class"] == "synthetic")
    entry = {"file": image["source"], "seed": image["generator"]["seed"], "label": image["generator"]["label"]}
    with Image.open(sampled / "images" / image["source"]) as written:
        assert np.array_equal(regenerate(sampled / "samples.json", entry), np.asarray(written))


def test_the_sample_folder_itself_may_be_given_and_samples_json_is_no_image(sampled, real, tmp_path):
    assert build(real, sampled, tmp_path / "pool") == 0
    manifest = load_manifest(tmp_path / "pool")
    sources = {image["source"]: image["generator"]["seed"] for image in manifest["images"]
               if image["class"] == "synthetic"}
    samples = json.loads((sampled / "samples.json").read_text())
    assert sources == {f"images/{entry['file']}": entry["seed"] for entry in samples["images"]}
    assert json.loads((tmp_path / "pool" / "rejected.json").read_text()) == []


def test_the_generator_name_given_on_the_command_line_wins(sampled, real, tmp_path):
    assert build(real, sampled / "images", tmp_path / "pool", "--generator-name", "cxr-pgan-v3") == 0
    names = {image["generator"]["name"] for image in load_manifest(tmp_path / "pool")["images"]
             if image["class"] == "synthetic"}
    assert names == {"cxr-pgan-v3"}


def test_a_changed_image_is_refused_and_nothing_is_written(sampled, real, tmp_path, capsys):
    Image.fromarray(np.full((16, 16), 7, dtype=np.uint8)).save(sampled / "images" / "sample_0002.png")
    assert build(real, sampled / "images", tmp_path / "pool") == 1
    error = capsys.readouterr().err
    assert "1 image(s) in" in error and "differ from their sha256 in" in error and "sample_0002.png" in error
    assert nothing_written(tmp_path / "pool")


def test_a_samples_json_whose_hash_was_edited_is_refused(sampled, real, tmp_path, capsys):
    path = sampled / "samples.json"
    samples = json.loads(path.read_text())
    samples["images"][0]["sha256"] = "0" * 64
    path.write_text(json.dumps(samples))
    assert build(real, sampled / "images", tmp_path / "pool") == 1
    assert "sample_0000.png" in capsys.readouterr().err
    assert nothing_written(tmp_path / "pool")


def test_a_samples_json_naming_a_missing_image_is_refused(sampled, real, tmp_path):
    (sampled / "images" / "sample_0001.png").unlink()
    with pytest.raises(PoolError, match="records 1 image.*not in the synthetic folder.*sample_0001.png"):
        build_pool(real, sampled / "images", tmp_path / "pool", resolutions=(8, 16), workers=1)
    assert nothing_written(tmp_path / "pool")


@pytest.mark.parametrize("content, message", [
    ("{not json", "is not JSON"),
    (json.dumps({"format": "mirage-samples/0", "images": []}), "its format is 'mirage-samples/0'"),
])
def test_a_samples_json_that_is_not_a_sample_record_is_refused(sampled, real, tmp_path, content, message):
    (sampled / "samples.json").write_text(content)
    with pytest.raises(PoolError, match=message):
        build_pool(real, sampled / "images", tmp_path / "pool", resolutions=(8, 16), workers=1)
    assert nothing_written(tmp_path / "pool")


def test_the_samples_json_of_another_folder_beside_it_is_not_used(sampled, real, tmp_path):
    other = sampled / "curated"
    other.mkdir()
    for name in ("sample_0000.png", "sample_0003.png"):
        (other / name).write_bytes((sampled / "images" / name).read_bytes())
    summary = build_pool(real, other, tmp_path / "pool", resolutions=(8, 16), workers=1)
    assert summary.notes == []
    manifest = load_manifest(tmp_path / "pool")
    assert manifest["samples"] is None
    assert all(image["generator"] is None for image in manifest["images"])


@pytest.mark.django_db
def test_the_web_app_imports_the_seeds_and_the_flagged_record(sampled, real, tmp_path, media_root):
    from django.core.management import call_command

    from readerstudy.models import PoolImage

    (sampled / "flagged.json").write_text(json.dumps({
        "format": "mirage-quality-flagged/1", "rule": "a rule",
        "synthetic": [{"source": "images/sample_0001.png", "resolutions": [16]}]}))
    assert build(real, sampled, tmp_path / "pool") == 0
    call_command("import_pool", str(tmp_path / "pool"), "--name", "Sampled")
    seeds = {entry["file"]: entry["seed"] for entry in json.loads((sampled / "samples.json").read_text())["images"]}
    imported = PoolImage.objects.filter(image_class="synthetic")
    assert imported.count() == 6  # 3 images at 2 resolutions: sample_0001 was flagged
    assert {image.source: image.generator["seed"] for image in imported} == {
        f"images/{name}": seed for name, seed in seeds.items() if name != "sample_0001.png"}

import argparse
import json

import numpy as np
import pytest
from PIL import Image

from generation import demo
from generation.gan.sample import checkpoint_label, generate, load_generator
from generation.phantoms import draw_phantom, phantom_seed


pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    pool = demo.build_demo(out, count=8, seed=3, log=lambda _: None)
    return out, pool


def test_the_checkpoint_ships():
    assert demo.SHIPPED_CHECKPOINT.is_file()
    assert demo.SHIPPED_CHECKPOINT.stat().st_size < 20 * 2**20


def test_it_writes_both_classes_of_sources(built):
    out, _ = built
    real = sorted(p.name for p in (out / "sources" / "real").iterdir())
    synthetic = sorted(p.name for p in (out / "sources" / "synthetic").iterdir())
    assert real == [f"phantom_{i:04d}.png" for i in range(8)]
    assert synthetic == [f"sample_{i:04d}.png" for i in range(8)]
    size = load_generator(demo.SHIPPED_CHECKPOINT).config.image_size
    for path in (out / "sources" / "real" / real[0], out / "sources" / "synthetic" / synthetic[0]):
        with Image.open(path) as image:
            assert image.mode == "L" and image.size == (size, size)


def test_the_real_sources_are_the_seeded_phantoms(built):
    out, _ = built
    labels = json.loads((out / "sources" / "real_labels.json").read_text())
    assert labels["phantom_0005.png"]["seed"] == phantom_seed(3, 5)
    with Image.open(out / "sources" / "real" / "phantom_0005.png") as image:
        pixels = np.asarray(image)
    expected = np.rint(draw_phantom(phantom_seed(3, 5), pixels.shape[0]) * 255)
    assert np.array_equal(pixels, expected.astype(np.uint8))


def test_the_pool_records_the_generator_and_each_images_seed(built):
    out, pool = built
    assert pool == out / "pool"
    manifest = json.loads((pool / "manifest.json").read_text())
    images = manifest["images"]
    assert {(i["class"], i["resolution"]) for i in images} == {
        (c, r) for c in ("real", "synthetic") for r in (32, 64, 128, 256)
    }
    assert len(images) == 2 * 8 * 4
    samples = json.loads((out / "sources" / "samples.json").read_text())
    seeds = {e["seed"] for e in samples["images"]}
    label = checkpoint_label(demo.SHIPPED_CHECKPOINT)
    for image in images:
        if image["class"] == "synthetic":
            assert image["generator"]["name"] == "mirage-demo-dcgan"
            assert image["generator"]["checkpoint"] == label
            assert image["generator"]["seed"] in seeds
        else:
            assert image["generator"] is None


def test_a_synthetic_source_regenerates_from_its_recorded_seed(built):
    out, _ = built
    entry = json.loads((out / "sources" / "samples.json").read_text())["images"][2]
    with Image.open(out / "sources" / "synthetic" / entry["file"]) as image:
        pixels = np.asarray(image, dtype=np.float32)
    again = generate(load_generator(demo.SHIPPED_CHECKPOINT), [entry["seed"]])[0]
    assert np.abs(pixels - again * 255).max() <= 0.51


def test_a_second_run_returns_the_built_pool_at_once(built):
    out, pool = built
    before = (pool / "manifest.json").stat().st_mtime_ns
    lines = []
    assert demo.build_demo(out, count=8, seed=3, log=lines.append) == pool
    assert lines == [f"{pool} is already built"]
    assert (pool / "manifest.json").stat().st_mtime_ns == before


def test_without_a_shipped_checkpoint_it_trains_one(tmp_path, monkeypatch):
    monkeypatch.setattr(demo, "SHIPPED_CHECKPOINT", tmp_path / "absent.pt")
    monkeypatch.setattr(demo, "MAX_TRAIN_SECONDS", 0.5)
    meta = demo.write_sources(tmp_path / "out", count=2, seed=0, log=lambda _: None)
    trained = tmp_path / "out" / "generator" / "dcgan.pt"
    assert trained.is_file()
    assert sorted(meta) == ["sample_0000.png", "sample_0001.png"]
    assert meta["sample_0000.png"]["generator"]["checkpoint"] == checkpoint_label(trained)


def test_a_rerun_with_fewer_images_leaves_no_stale_sources(tmp_path):
    demo.write_sources(tmp_path, count=3, seed=0, log=lambda _: None)
    demo.write_sources(tmp_path, count=2, seed=0, log=lambda _: None)
    assert len(list((tmp_path / "sources" / "synthetic").iterdir())) == 2
    assert len(list((tmp_path / "sources" / "real").iterdir())) == 2


def parse(*argv):
    parser = argparse.ArgumentParser()
    demo.register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--count", "0"], "--count must be at least 1"),
        (["--train-seconds", "500"], "--train-seconds must be in (0, 180]"),
        (["--checkpoint", "missing.pt"], "missing.pt does not exist"),
    ],
)
def test_the_demo_command_explains_bad_arguments(tmp_path, capsys, argv, message):
    args = parse("demo", "--out", str(tmp_path / "out"), *argv)
    assert args.func(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
    assert not (tmp_path / "out" / "sources").exists()

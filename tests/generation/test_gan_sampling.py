"""Sampling: seeded and exact, recorded in samples.json, the same for generators brought from elsewhere."""

import argparse
import json
import sys
import textwrap

import numpy as np
import pytest
import torch
from PIL import Image

from generation.gan import cli
from generation.gan.config import GanConfig
from generation.gan.data import TrainingSet
from generation.gan.sample import (
    checkpoint_label,
    generate,
    image_seed,
    load_generator,
    pool_meta,
    regenerate,
    sample,
    verify_samples,
    write_samples,
)
from generation.gan.train import train
from generation.phantoms import draw_phantom, write_phantoms

pytestmark = pytest.mark.usefixtures("torch_one_thread")

TINY = dict(image_size=16, latent_dim=16, base_channels=4, max_channels=16, batch_size=8, log_every=10,
            fade_images=8, stable_images=8)  # 16 px after 24 images
LABELS = ["absent", "present"]


def quiet(_line):
    pass


@pytest.fixture(scope="module")
def conditional(tmp_path_factory):
    """A checkpoint of a tiny labelled progressive run (a few steps: the images need not be good)."""
    images = np.stack([draw_phantom(i, 16) for i in range(8)])
    data = TrainingSet.from_floats(images, labels=np.arange(8) % 2, label_names=LABELS)
    config = GanConfig(**TINY, conditioning="projection", labels=LABELS, max_steps=6)
    return train(data, config, tmp_path_factory.mktemp("conditional"), log=quiet)


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    images = np.stack([draw_phantom(i, 16) for i in range(8)])
    return train(images, GanConfig(**TINY, max_steps=6), tmp_path_factory.mktemp("plain"), log=quiet)


def parse(*argv):
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def run(*argv) -> int:
    args = parse("sample", *argv)
    return args.func(args)


def pixels(path):
    with Image.open(path) as image:
        return np.asarray(image)


def test_the_same_seed_writes_the_same_bytes(plain, tmp_path):
    for name in ("a", "b"):
        assert run("--checkpoint", str(plain), "--count", "5", "--seed", "3", "--out", str(tmp_path / name)) == 0
    a, b = (sorted((tmp_path / n / "images").iterdir()) for n in ("a", "b"))
    assert [p.name for p in a] == [f"sample_{i:04d}.png" for i in range(5)]
    assert all(x.read_bytes() == y.read_bytes() for x, y in zip(a, b, strict=True))
    assert run("--checkpoint", str(plain), "--count", "1", "--seed", "4", "--out", str(tmp_path / "c")) == 0
    assert (tmp_path / "c" / "images" / "sample_0000.png").read_bytes() != a[0].read_bytes()


def test_the_manifest_regenerates_every_image_exactly(plain, tmp_path):
    assert run("--checkpoint", str(plain), "--count", "20", "--seed", "7", "--out", str(tmp_path)) == 0
    manifest = json.loads((tmp_path / "samples.json").read_text())
    assert manifest["checkpoint"] == checkpoint_label(plain)
    assert manifest["generator"]["kind"] == "checkpoint" and manifest["generator"]["arch"] == "progressive"
    assert [e["seed"] for e in manifest["images"]] == [image_seed(7, i) for i in range(20)]
    entry = manifest["images"][17]  # in the second batch of 16
    assert np.array_equal(regenerate(tmp_path / "samples.json", entry), pixels(tmp_path / "images" / entry["file"]))
    # from the checkpoint and the seed alone, in a batch of one
    alone = generate(load_generator(plain), [entry["seed"]])
    assert np.array_equal(np.rint(alone[0] * 255).astype(np.uint8), pixels(tmp_path / "images" / entry["file"]))
    assert verify_samples(tmp_path / "samples.json") == []
    assert run("--verify", str(tmp_path / "samples.json")) == 0


def test_verify_finds_an_image_that_was_changed(plain, tmp_path, capsys):
    assert run("--checkpoint", str(plain), "--count", "3", "--out", str(tmp_path)) == 0
    path = tmp_path / "images" / "sample_0001.png"
    changed = pixels(path).copy()
    changed[0, 0] ^= 1
    Image.fromarray(changed).save(path)
    assert verify_samples(tmp_path / "samples.json") == ["sample_0001.png"]
    assert run("--verify", str(tmp_path / "samples.json")) == 1
    assert "sample_0001.png" in capsys.readouterr().err


def test_sixteen_bit_samples_are_recorded_and_regenerated(plain, tmp_path):
    assert run("--checkpoint", str(plain), "--count", "2", "--bits", "16", "--out", str(tmp_path)) == 0
    with Image.open(tmp_path / "images" / "sample_0000.png") as image:
        assert image.mode == "I;16" and image.size == (16, 16)
    assert verify_samples(tmp_path / "samples.json") == []


def test_a_conditional_generator_records_each_images_label(conditional, tmp_path):
    index = write_samples(conditional, 4, seed=0, out_dir=tmp_path / "images")
    assert [e["label"] for e in index["images"]] == ["absent", "present", "absent", "present"]
    assert json.loads((tmp_path / "samples.json").read_text()) == index
    one = write_samples(conditional, 3, seed=0, out_dir=tmp_path / "fx", index_path=tmp_path / "fx.json",
                        label="present")
    assert {e["label"] for e in one["images"]} == {"present"}
    assert verify_samples(tmp_path / "fx.json") == []
    # The same seed under the other label is another image.
    same_seed = generate(load_generator(conditional), [image_seed(0, 0)] * 2, ["absent", "present"])
    assert not np.array_equal(same_seed[0], same_seed[1])
    assert [s for _, s in sample(conditional, 2, seed=0)] == [image_seed(0, i) for i in range(2)]


def test_sampling_refuses_an_unknown_label_and_a_small_generator(conditional, tmp_path, capsys):
    assert run("--checkpoint", str(conditional), "--count", "2", "--label", "fracture", "--out",
               str(tmp_path / "a")) == 2
    assert "unknown labels ['fracture']: this generator knows absent, present" in capsys.readouterr().err
    assert run("--checkpoint", str(conditional), "--count", "2", "--min-resolution", "256", "--out",
               str(tmp_path / "b")) == 2
    assert "draws 16x16 px images, below the study's largest resolution 256 px" in capsys.readouterr().err
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_the_sample_command_explains_bad_arguments(plain, tmp_path, capsys):
    assert run("--checkpoint", str(tmp_path / "missing.pt"), "--count", "2", "--out", str(tmp_path / "s")) == 2
    assert "missing.pt does not exist" in capsys.readouterr().err
    assert run("--checkpoint", str(plain), "--count", "0", "--out", str(tmp_path / "s")) == 2
    assert "--count must be at least 1" in capsys.readouterr().err
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "old.png").write_bytes(b"")
    assert run("--checkpoint", str(plain), "--count", "2", "--out", str(tmp_path / "full")) == 2
    assert "is not empty" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


def test_a_recorded_sample_set_goes_into_a_pool_with_its_seeds(plain, tmp_path):
    from generation.pool import build_pool

    write_phantoms(tmp_path / "real", 3, size=16)
    index = write_samples(plain, 3, seed=2, out_dir=tmp_path / "gan" / "images")
    build_pool(tmp_path / "real", tmp_path / "gan" / "images", tmp_path / "pool", resolutions=(16,), workers=1,
               synthetic_meta=pool_meta(index))
    images = json.loads((tmp_path / "pool" / "manifest.json").read_text())["images"]
    generators = [i["generator"] for i in images if i["class"] == "synthetic"]
    assert sorted(g["seed"] for g in generators) == sorted(image_seed(2, i) for i in range(3))
    assert {g["checkpoint"] for g in generators} == {checkpoint_label(plain)}


# --- bring your own generator ------------------------------------------------------------------


def test_a_folder_of_images_is_copied_and_recorded_with_hashes(tmp_path):
    import hashlib

    write_phantoms(tmp_path / "elsewhere" / "batch1", 2, size=24)
    assert run("--folder", str(tmp_path / "elsewhere"), "--name", "diffusion-v2", "--out", str(tmp_path / "s")) == 0
    index = json.loads((tmp_path / "s" / "samples.json").read_text())
    assert index["generator"]["kind"] == "folder" and index["checkpoint"] == "diffusion-v2"
    files = ["batch1/phantom_0000.png", "batch1/phantom_0001.png"]
    assert [e["file"] for e in index["images"]] == files
    for entry in index["images"]:
        data = (tmp_path / "elsewhere" / entry["file"]).read_bytes()
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
        assert (tmp_path / "s" / "images" / entry["file"]).read_bytes() == data
    assert verify_samples(tmp_path / "s" / "samples.json") == []
    assert sorted(pool_meta(index)) == files


class NoiseToImage(torch.nn.Module):
    """Any generator at all: here a fixed random projection of z to a 24 px image."""

    latent_dim: int

    def __init__(self):
        super().__init__()
        self.latent_dim = 12
        self.project = torch.nn.Linear(12, 24 * 24)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.project(z)).view(-1, 1, 24, 24)


@pytest.mark.filterwarnings("ignore:`torch.jit.script` is deprecated:DeprecationWarning")
def test_a_torchscript_module_is_sampled_and_recorded(tmp_path):
    torch.manual_seed(0)
    scripted = torch.jit.script(NoiseToImage())
    scripted.save(str(tmp_path / "other.pt"))
    assert run("--torchscript", str(tmp_path / "other.pt"), "--count", "18", "--seed", "1", "--out",
               str(tmp_path / "s")) == 0
    index = json.loads((tmp_path / "s" / "samples.json").read_text())
    assert index["checkpoint"] == checkpoint_label(tmp_path / "other.pt")
    assert index["generator"]["kind"] == "torchscript" and index["generator"]["latent_dim"] == 12
    assert (index["width"], index["height"]) == (24, 24)
    # The module sees the same noise Mirage's own generators get from each seed.
    from generation.gan.sources import latent

    seed = index["images"][5]["seed"]
    expected = scripted(latent(seed, 12)[None]).add(1).div(2).mul(255).round().clamp(0, 255).byte()[0, 0].numpy()
    assert np.array_equal(pixels(tmp_path / "s" / "images" / "sample_0005.png"), expected)
    assert verify_samples(tmp_path / "s" / "samples.json") == []


ENTRY_POINT = '''
import numpy as np


def generate(n, seeds, labels):
    """A generator from another code base: one image per seed, brighter for the label 'bright'."""
    images = []
    for seed, label in zip(seeds, labels or [None] * n):
        rng = np.random.default_rng(seed)
        level = 200 if label == "bright" else 60
        images.append(np.clip(rng.normal(level, 20, (20, 20)), 0, 255).astype(np.uint8))
    return np.stack(images)


_shared = np.random.default_rng(0)


def batch_dependent(n, seeds, labels):
    return _shared.integers(0, 255, (n, 20, 20), dtype=np.uint8)
'''


@pytest.fixture
def entry_module(tmp_path, monkeypatch):
    (tmp_path / "othergan.py").write_text(textwrap.dedent(ENTRY_POINT))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "othergan"
    sys.modules.pop("othergan", None)


def test_a_python_entry_point_is_sampled_and_recorded(entry_module, tmp_path):
    assert run("--entry-point", f"{entry_module}:generate", "--labels", "dim,bright", "--count", "4", "--seed", "5",
               "--out", str(tmp_path / "s")) == 0
    index = json.loads((tmp_path / "s" / "samples.json").read_text())
    assert index["checkpoint"] == "othergan:generate" and index["generator"]["kind"] == "entry-point"
    assert index["generator"]["module_sha256"]
    assert [e["label"] for e in index["images"]] == ["dim", "bright", "dim", "bright"]
    bright = pixels(tmp_path / "s" / "images" / "sample_0001.png")
    dim = pixels(tmp_path / "s" / "images" / "sample_0000.png")
    assert bright.mean() > dim.mean() + 100
    assert verify_samples(tmp_path / "s" / "samples.json") == []


def test_an_entry_point_whose_images_depend_on_the_batch_is_refused(entry_module, tmp_path, capsys):
    assert run("--entry-point", f"{entry_module}:batch_dependent", "--count", "3", "--out", str(tmp_path / "s")) == 2
    assert "different image for seed" in capsys.readouterr().err
    assert run("--entry-point", f"{entry_module}:missing", "--count", "3", "--out", str(tmp_path / "t")) == 2
    assert "has no function 'missing'" in capsys.readouterr().err
    assert run("--entry-point", "no_such_module_here:generate", "--count", "3", "--out", str(tmp_path / "u")) == 2
    assert "cannot import 'no_such_module_here'" in capsys.readouterr().err

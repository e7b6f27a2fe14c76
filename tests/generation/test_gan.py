import argparse
import json
import math

import numpy as np
import pytest
import torch
from PIL import Image

from generation.gan import cli
from generation.gan.config import GanConfig
from generation.gan.networks import Discriminator, Generator, minibatch_stddev
from generation.gan.sample import checkpoint_label, exact_cudnn, generate, image_seed, load_generator, sample
from generation.gan.train import r1_penalty, train
from generation.phantoms import draw_phantom, write_phantoms

TINY = dict(image_size=32, latent_dim=16, base_channels=4, max_channels=32, batch_size=8, log_every=1)


pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def phantoms():
    return np.stack([draw_phantom(i, 32) for i in range(16)])


@pytest.fixture(scope="module")
def trained(phantoms, tmp_path_factory):
    out = tmp_path_factory.mktemp("gan")
    lines = []
    path = train(phantoms, GanConfig(**TINY, max_steps=3, seconds=60), out, log=lines.append)
    return path, lines


def test_training_stops_at_max_steps_with_finite_losses(trained):
    path, lines = trained
    progress = torch.load(path, weights_only=True)["progress"]
    assert progress["steps"] == 3
    assert math.isfinite(progress["loss_d"]) and math.isfinite(progress["loss_g"])
    assert sum(line.startswith("step ") for line in lines) == 3


def test_training_reports_every_step_to_on_step(phantoms, tmp_path):
    done = []
    config = GanConfig(**TINY, max_steps=5, seconds=60)
    path = train(phantoms, config, tmp_path, log=lambda _: None, on_step=done.append)
    assert done == [1, 2, 3, 4, 5]
    assert torch.load(path, weights_only=True)["progress"]["steps"] == 5


def test_exact_cudnn_restores_the_global_settings():
    cudnn = torch.backends.cudnn
    before = cudnn.deterministic, cudnn.allow_tf32
    with exact_cudnn():
        assert (cudnn.deterministic, cudnn.allow_tf32) == (True, False)
    assert (cudnn.deterministic, cudnn.allow_tf32) == before
    with pytest.raises(KeyError), exact_cudnn():
        raise KeyError("restored on errors too")
    assert (cudnn.deterministic, cudnn.allow_tf32) == before


def test_training_stops_at_the_time_budget(phantoms, tmp_path):
    config = GanConfig(**TINY, max_steps=10**6, seconds=0.5)
    path = train(phantoms, config, tmp_path, log=lambda _: None)
    steps = torch.load(path, weights_only=True)["progress"]["steps"]
    assert 1 <= steps < 10**6


def test_it_writes_the_config_next_to_the_checkpoint(trained):
    path, _ = trained
    written = json.loads((path.parent / "config.json").read_text())
    assert GanConfig.from_dict(written) == GanConfig(**TINY, max_steps=3, seconds=60)


def test_the_checkpoint_rebuilds_the_generator(trained):
    path, _ = trained
    generator = load_generator(path)
    assert generator.config.image_size == 32
    assert not generator.training
    saved = torch.load(path, weights_only=True)["generator"]
    assert all(v.dtype == torch.float16 for v in saved.values() if v.is_floating_point())


def test_samples_have_the_right_size_and_range(trained):
    path, _ = trained
    images = sample(path, 3, seed=0)
    assert len(images) == 3
    for image, own_seed in images:
        assert image.shape == (32, 32) and image.dtype == np.float32
        assert image.min() >= 0 and image.max() <= 1
        assert isinstance(own_seed, int)


def test_same_seed_gives_identical_samples_after_reloading(trained):
    path, _ = trained
    first = sample(path, 4, seed=9)
    again = sample(load_generator(path), 4, seed=9)
    assert [s for _, s in first] == [s for _, s in again]
    assert all(np.array_equal(a, b) for (a, _), (b, _) in zip(first, again))
    other = sample(path, 4, seed=10)
    assert not np.array_equal(first[0][0], other[0][0])


def test_a_single_image_regenerates_from_its_recorded_seed(trained):
    path, _ = trained
    images = sample(path, 5, seed=7)
    image, own_seed = images[3]
    assert own_seed == image_seed(7, 3)
    alone = generate(load_generator(path), [own_seed])[0]
    np.testing.assert_allclose(alone, image, atol=1e-5)
    assert len({s for _, s in images}) == 5


def test_networks_map_between_noise_images_and_logits():
    config = GanConfig(**TINY)
    images = Generator(config)(torch.randn(2, config.latent_dim))
    assert images.shape == (2, 1, 32, 32)
    assert Discriminator(config)(images).shape == (2,)


def test_minibatch_stddev_appends_the_spread_of_each_group():
    x = torch.randn(8, 3, 4, 4)
    out = minibatch_stddev(x, 4)
    assert out.shape == (8, 4, 4, 4)
    assert torch.equal(out[:, :3], x)
    groups = x.view(4, 2, 3, 4, 4)  # image i is in group i % 2
    expected = groups.std(dim=0, unbiased=False).mean(dim=(1, 2, 3))
    torch.testing.assert_close(out[:, 3, 0, 0], expected.repeat(4), atol=1e-4, rtol=1e-4)
    identical = minibatch_stddev(x[:1].repeat(4, 1, 1, 1), 4)
    assert identical[:, 3].max() < 1e-3  # no spread at all
    assert minibatch_stddev(x[:6], 4).shape == (6, 4, 4, 4)  # 6 images: groups of 2
    assert minibatch_stddev(x[:1], 4).shape == (1, 4, 4, 4)


def test_the_discriminator_sees_whether_a_batch_is_varied():
    # Without the minibatch-stddev layer each logit would depend on its own image only.
    torch.manual_seed(0)
    config = GanConfig(**TINY)
    discriminator = Discriminator(config).eval()  # eval: spectral norm does not update between calls
    with torch.no_grad():
        # Large weights, so the stddev channel (after the DCGAN init's tiny ones) clearly matters.
        discriminator.final.parametrizations.weight.original.normal_(0, 1.0)
        images = torch.rand(4, 1, 32, 32) * 2 - 1
        same = discriminator(images[:1].repeat(4, 1, 1, 1))
        varied = discriminator(images)
        alone = discriminator(images[:1])
    assert torch.allclose(same, same[0].expand(4))
    assert abs(same[0] - varied[0]) > 1e-4  # the same image, judged differently in another batch
    assert torch.allclose(alone, same[:1], atol=1e-6)  # a batch of one has no spread either


def test_r1_penalty_is_finite_and_reaches_the_discriminator():
    torch.manual_seed(0)
    config = GanConfig(**TINY)
    discriminator = Discriminator(config)
    penalty = r1_penalty(discriminator, torch.rand(4, 1, 32, 32) * 2 - 1)
    assert penalty.ndim == 0 and torch.isfinite(penalty) and penalty > 0
    penalty.backward()
    # Every weight shapes the gradient on the input (the biases of the last layer do not).
    grads = [p.grad for name, p in discriminator.named_parameters() if "weight" in name]
    assert len(grads) == 3 + len(discriminator.blocks)  # from_image, blocks, final, head
    assert all(g is not None and torch.isfinite(g).all() and g.abs().sum() > 0 for g in grads)


def test_training_without_r1_runs(phantoms, tmp_path):
    config = GanConfig(**TINY, max_steps=2, seconds=60, r1_gamma=0.0)
    progress = torch.load(train(phantoms, config, tmp_path, log=lambda _: None), weights_only=True)["progress"]
    assert progress["steps"] == 2 and math.isfinite(progress["loss_d"])


def test_config_refuses_bad_r1_and_minibatch_values():
    with pytest.raises(ValueError, match="r1_gamma"):
        GanConfig(r1_gamma=-1)
    with pytest.raises(ValueError, match="r1_every"):
        GanConfig(r1_every=0)
    with pytest.raises(ValueError, match="mbstd_group"):
        GanConfig(mbstd_group=0)


def test_the_shipped_config_matches_the_shipped_checkpoint():
    from generation.demo import SHIPPED_CHECKPOINT

    shipped = GanConfig.from_dict(json.loads((SHIPPED_CHECKPOINT.parent / "config.json").read_text()))
    assert GanConfig.from_dict(torch.load(SHIPPED_CHECKPOINT, weights_only=True)["config"]) == shipped


def test_config_refuses_a_size_that_is_not_a_power_of_two():
    with pytest.raises(ValueError, match="power of two"):
        GanConfig(image_size=100)


def test_training_refuses_images_of_another_size(tmp_path):
    images = np.zeros((4, 64, 64), dtype=np.float32)
    with pytest.raises(ValueError, match="64x64 px but the config asks for 32 px"):
        train(images, GanConfig(**TINY, max_steps=1), tmp_path)


def test_load_generator_refuses_a_file_that_is_not_a_checkpoint(tmp_path):
    bogus = tmp_path / "bogus.pt"
    bogus.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable torch checkpoint"):
        load_generator(bogus)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_generator(tmp_path / "missing.pt")


def parse(*argv):
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def test_train_command_trains_from_a_folder(tmp_path, capsys):
    write_phantoms(tmp_path / "images", 6, size=48)
    args = parse("train", "--images", str(tmp_path / "images"), "--out", str(tmp_path / "run"),
                 "--seconds", "30", "--steps", "2", "--seed", "1", "--size", "32", "--batch-size", "4")
    assert args.func(args) == 0
    assert (tmp_path / "run" / "dcgan.pt").is_file()
    assert json.loads((tmp_path / "run" / "config.json").read_text())["image_size"] == 32


def test_train_command_explains_a_missing_folder(tmp_path, capsys):
    args = parse("train", "--images", str(tmp_path / "nowhere"), "--out", str(tmp_path / "run"), "--steps", "1")
    assert args.func(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nowhere does not exist" in err


def test_train_command_explains_a_bad_size(tmp_path, capsys):
    write_phantoms(tmp_path / "images", 1, size=32)
    args = parse("train", "--images", str(tmp_path / "images"), "--out", str(tmp_path / "run"), "--size", "100")
    assert args.func(args) == 2
    assert "power of two" in capsys.readouterr().err


def test_train_command_explains_an_empty_folder(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    args = parse("train", "--images", str(tmp_path / "empty"), "--out", str(tmp_path / "run"))
    assert args.func(args) == 2
    assert "no images" in capsys.readouterr().err


def test_sample_command_writes_pngs_and_their_seeds(trained, tmp_path):
    path, _ = trained
    args = parse("sample", "--checkpoint", str(path), "--count", "3", "--seed", "4", "--out", str(tmp_path))
    assert args.func(args) == 0
    index = json.loads((tmp_path / "samples.json").read_text())
    assert index["checkpoint"] == checkpoint_label(path)
    assert [e["seed"] for e in index["images"]] == [image_seed(4, i) for i in range(3)]
    with Image.open(tmp_path / index["images"][1]["file"]) as image:
        assert image.mode == "L" and image.size == (32, 32)
        pixels = np.asarray(image)
    again = generate(load_generator(path), [index["images"][1]["seed"]])[0]
    assert np.abs(pixels.astype(float) - again * 255).max() <= 0.51


def test_sample_command_explains_a_missing_checkpoint(tmp_path, capsys):
    args = parse("sample", "--checkpoint", str(tmp_path / "missing.pt"), "--count", "2", "--out", str(tmp_path))
    assert args.func(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "missing.pt does not exist" in err


def test_sample_command_refuses_a_count_below_one(trained, tmp_path, capsys):
    args = parse("sample", "--checkpoint", str(trained[0]), "--count", "0", "--out", str(tmp_path / "s"))
    assert args.func(args) == 2
    assert "--count must be at least 1" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()

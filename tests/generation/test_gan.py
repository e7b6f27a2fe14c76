"""Mirage's GANs: the networks, the growth schedule, one training step, budgets, run files, the train command."""

import argparse
import csv
import json
import math

import numpy as np
import pytest
import torch

from generation.gan import checkpoint, cli
from generation.gan.config import GanConfig
from generation.gan.data import TrainingDataError, TrainingSet
from generation.gan.layers import EqualConv2d, minibatch_stddev
from generation.gan.networks import build_discriminator, build_generator
from generation.gan.sample import generate, image_seed, load_generator
from generation.gan.schedule import stage_at
from generation.gan.train import train
from generation.gan.trainer import Trainer, r1_penalty
from generation.phantoms import draw_phantom, write_phantoms

TINY = dict(image_size=32, latent_dim=16, base_channels=4, max_channels=32, batch_size=8, log_every=1)
GROWING = dict(TINY, image_size=16, fade_images=32, stable_images=32, checkpoint_every=1000)

pytestmark = pytest.mark.usefixtures("torch_one_thread")


@pytest.fixture(scope="module")
def phantoms():
    return np.stack([draw_phantom(i, 32) for i in range(16)])


def quiet(_line):
    pass


# --- networks ----------------------------------------------------------------------------------


@pytest.mark.parametrize("arch", ["progressive", "dcgan"])
def test_networks_map_between_noise_images_and_logits(arch):
    config = GanConfig(arch=arch, **TINY)
    images = build_generator(config)(torch.randn(2, config.latent_dim))
    assert images.shape == (2, 1, 32, 32)
    logits, classes = build_discriminator(config)(images)
    assert logits.shape == (2,) and classes is None


def test_the_progressive_generator_doubles_its_output_at_each_stage():
    config = GanConfig(**TINY)
    generator, discriminator = build_generator(config), build_discriminator(config)
    z = torch.randn(3, config.latent_dim)
    for stage, size in enumerate([4, 8, 16, 32]):
        images = generator(z, stage=stage, alpha=0.5 if stage else 1.0)
        assert images.shape == (3, 1, size, size)
        assert discriminator(images, stage=stage, alpha=0.5)[0].shape == (3,)


def test_a_fade_in_blends_the_upsampled_old_output_into_the_new_one():
    torch.manual_seed(0)
    config = GanConfig(**TINY)
    generator = build_generator(config)
    z = torch.randn(2, config.latent_dim)
    with torch.no_grad():
        old = torch.nn.functional.interpolate(generator(z, stage=1), scale_factor=2, mode="nearest")
        new = generator(z, stage=2, alpha=1.0)
        assert torch.allclose(generator(z, stage=2, alpha=0.0), old, atol=1e-6)
        assert torch.allclose(generator(z, stage=2, alpha=0.25), 0.75 * old + 0.25 * new, atol=1e-5)
        assert not torch.allclose(old, new)


def test_conditional_networks_take_labels():
    for conditioning in ("projection", "acgan"):
        config = GanConfig(**TINY, conditioning=conditioning, labels=["a", "b", "c"])
        generator, discriminator = build_generator(config), build_discriminator(config)
        labels = torch.tensor([0, 2])
        z = torch.randn(1, config.latent_dim).repeat(2, 1)
        images = generator(z, labels)
        assert not torch.allclose(images[0], images[1])  # the same noise, another label: another image
        logits, classes = discriminator(images, labels)
        assert logits.shape == (2,)
        assert (classes.shape == (2, 3)) if conditioning == "acgan" else classes is None


def test_equalised_layers_scale_unit_weights_by_he_constant():
    conv = EqualConv2d(8, 4, 3)
    assert conv.weight.std().item() == pytest.approx(1.0, abs=0.15)
    assert conv.scale == pytest.approx(math.sqrt(2) / math.sqrt(8 * 9))


def test_minibatch_stddev_appends_the_spread_of_each_group():
    x = torch.randn(8, 3, 4, 4)
    out = minibatch_stddev(x, 4)
    assert out.shape == (8, 4, 4, 4)
    assert torch.equal(out[:, :3], x)
    groups = x.view(2, 4, 3, 4, 4)  # consecutive images: 0-3 and 4-7
    expected = groups.std(dim=1, unbiased=False).mean(dim=(1, 2, 3))
    torch.testing.assert_close(out[:, 3, 0, 0], expected.repeat_interleave(4), atol=1e-4, rtol=1e-4)
    assert minibatch_stddev(x[:1].repeat(4, 1, 1, 1), 4)[:, 3].max() < 1e-3  # no spread at all
    assert minibatch_stddev(x[:6], 4).shape == (6, 4, 4, 4)  # 6 images: groups of 2
    assert minibatch_stddev(x[:1], 4).shape == (1, 4, 4, 4)


def test_the_discriminator_sees_whether_a_batch_is_varied():
    # Without the minibatch-stddev layer each logit would depend on its own image only.
    torch.manual_seed(0)
    discriminator = build_discriminator(GanConfig(**TINY)).eval()
    with torch.no_grad():
        images = torch.rand(4, 1, 32, 32) * 2 - 1
        same = discriminator(images[:1].repeat(4, 1, 1, 1))[0]
        varied = discriminator(images)[0]
        alone = discriminator(images[:1])[0]
    assert torch.allclose(same, same[0].expand(4))
    assert abs(same[0] - varied[0]) > 1e-4  # the same image, judged differently in another batch
    assert torch.allclose(alone, same[:1], atol=1e-5)  # a batch of one has no spread either


def test_r1_penalty_is_finite_and_reaches_the_discriminator():
    torch.manual_seed(0)
    discriminator = build_discriminator(GanConfig(**TINY))
    penalty = r1_penalty(discriminator, torch.rand(4, 1, 32, 32) * 2 - 1)
    assert penalty.ndim == 0 and torch.isfinite(penalty) and penalty > 0
    penalty.backward()
    convs = [p.grad for name, p in discriminator.named_parameters() if name.endswith("conv1.weight")]
    assert len(convs) == 3 and all(g is not None and g.abs().sum() > 0 for g in convs)


# --- the growth schedule -----------------------------------------------------------------------


def test_alpha_rises_from_0_to_1_across_a_fade_in_and_the_resolution_doubles_at_a_stage_change():
    config = GanConfig(**GROWING)  # 4 px for 32 images, then per stage: 32 fading in, 32 stable
    positions = [stage_at(images, config) for images in range(0, 200, 8)]
    assert positions[:4] == [(0, 1.0)] * 4
    assert positions[4:8] == [(1, 0.0), (1, 0.25), (1, 0.5), (1, 0.75)]
    assert positions[8:12] == [(1, 1.0)] * 4
    assert positions[12:16] == [(2, 0.0), (2, 0.25), (2, 0.5), (2, 0.75)]
    assert set(positions[16:]) == {(2, 1.0)}  # the last stage goes on
    assert config.growth_images() == 32 + 2 * 64


def test_a_growing_run_logs_rising_alpha_and_doubling_resolution(tmp_path):
    data = TrainingSet.from_floats(np.stack([draw_phantom(i, 16) for i in range(8)]))
    path = train(data, GanConfig(**GROWING, augment="off"), tmp_path, log=quiet)
    with open(tmp_path / "losses.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 160 // 8  # a progressive run with no budget ends with its growth schedule
    seen = [(int(r["resolution"]), float(r["alpha"])) for r in rows]
    assert [s for s, _ in seen] == [4] * 4 + [8] * 8 + [16] * 8
    assert [a for _, a in seen[4:8]] == [0.0, 0.25, 0.5, 0.75]
    assert sorted(p.name for p in (tmp_path / "grids").iterdir()) == ["stage0-4px.png", "stage1-8px.png",
                                                                       "stage2-16px.png"]
    assert load_generator(path).resolution == 16


# --- one step, budgets, run files --------------------------------------------------------------


@pytest.mark.parametrize("arch", ["progressive", "dcgan"])
def test_one_training_step_changes_every_network_and_gives_finite_losses(arch, phantoms, tmp_path):
    trainer = Trainer(TrainingSet.from_floats(phantoms), GanConfig(arch=arch, **TINY, stable_images=0,
                                                                   fade_images=0), tmp_path, log=quiet)
    before = {name: {k: v.clone() for k, v in net.state_dict().items()}
              for name, net in (("G", trainer.G), ("D", trainer.D), ("G_ema", trainer.G_ema))}
    losses = trainer.train_step()
    assert trainer.step == 1 and trainer.images_seen == 8
    assert all(math.isfinite(float(losses[k])) for k in ("loss_d", "loss_g", "r1"))
    for name, net in (("G", trainer.G), ("D", trainer.D), ("G_ema", trainer.G_ema)):
        after = net.state_dict()
        assert any(not torch.equal(before[name][k], after[k]) for k in after), f"{name} did not change"
        assert all(torch.isfinite(v).all() for v in after.values() if v.is_floating_point())


def test_training_stops_at_max_steps_and_writes_the_run_files(phantoms, tmp_path):
    lines = []
    path = train(phantoms, GanConfig(**TINY, max_steps=3), tmp_path, log=lines.append)
    saved = torch.load(path, weights_only=True)
    assert path.name == "progressive.pt" and saved["format"] == checkpoint.FORMAT
    assert saved["state"]["step"] == 3 and saved["state"]["images_seen"] == 24
    assert sum(line.startswith("step ") for line in lines) == 3
    assert GanConfig.from_dict(json.loads((tmp_path / "config.json").read_text())) == GanConfig(**TINY, max_steps=3)
    assert GanConfig.from_dict(saved["config"]) == GanConfig(**TINY, max_steps=3)
    with open(tmp_path / "losses.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["step"]) for r in rows] == [1, 2, 3]
    assert all(math.isfinite(float(r["loss_d"])) and float(r["images_per_s"]) > 0 for r in rows)
    assert (tmp_path / "grids" / "stage0-4px.png").is_file()  # 3 steps of 8 images: still at 4 px
    assert not list(tmp_path.glob("*.tmp"))


def test_training_reports_every_step_to_on_step(phantoms, tmp_path):
    done = []
    train(phantoms, GanConfig(arch="dcgan", **TINY, max_steps=5), tmp_path, log=quiet, on_step=done.append)
    assert done == [1, 2, 3, 4, 5]


def test_training_stops_at_the_time_budget(phantoms, tmp_path):
    path = train(phantoms, GanConfig(arch="dcgan", **TINY, seconds=0.5), tmp_path, log=quiet)
    assert 1 <= torch.load(path, weights_only=True)["state"]["step"] < 10**6


def test_a_dcgan_run_needs_a_budget(phantoms, tmp_path):
    with pytest.raises(ValueError, match="needs a budget"):
        train(phantoms, GanConfig(arch="dcgan", **TINY), tmp_path, log=quiet)


def test_training_refuses_images_of_another_size(tmp_path):
    with pytest.raises(TrainingDataError, match="64x64 px but the config asks for 32 px"):
        train(np.zeros((4, 64, 64), dtype=np.float32), GanConfig(**TINY, max_steps=1), tmp_path, log=quiet)


def test_a_new_run_refuses_a_folder_that_holds_one(phantoms, tmp_path):
    train(phantoms, GanConfig(**TINY, max_steps=1), tmp_path, log=quiet)
    with pytest.raises(ValueError, match="already holds a run"):
        train(phantoms, GanConfig(**TINY, max_steps=2), tmp_path, log=quiet)


def test_resuming_refuses_another_configuration_or_other_images(phantoms, tmp_path):
    train(phantoms, GanConfig(**TINY, max_steps=1), tmp_path, log=quiet)
    with pytest.raises(ValueError, match=r"lr 0.001 -> 0.002"):
        train(phantoms, GanConfig(**{**TINY, "lr": 2e-3}, max_steps=2), tmp_path, resume=True, log=quiet)
    with pytest.raises(TrainingDataError, match="not the ones the run"):
        train(phantoms[::-1].copy(), GanConfig(**TINY, max_steps=2), tmp_path, resume=True, log=quiet)
    assert torch.load(tmp_path / "progressive.pt", weights_only=True)["state"]["step"] == 1


# --- configuration and the shipped checkpoint --------------------------------------------------


def test_config_refuses_bad_values():
    for values, message in [(dict(image_size=100), "power of two"), (dict(r1_gamma=-1), "r1_gamma"),
                            (dict(r1_every=0), "r1_every"), (dict(mbstd_group=0), "mbstd_group"),
                            (dict(arch="stylegan"), "arch must be one of"),
                            (dict(conditioning="projection"), "needs at least two labels"),
                            (dict(labels=["a", "b"]), "conditioning is 'none'"),
                            (dict(augment_p=1.5), "augment_p"), (dict(max_steps=0), "budget")]:
        with pytest.raises(ValueError, match=message):
            GanConfig(**values)


def test_the_paper_config_has_the_papers_widths():
    config = GanConfig.paper(256)
    assert config.latent_dim == 512
    assert [config.channels(r) for r in config.resolutions()] == [512, 512, 512, 512, 256, 128, 64]
    assert (config.lr, config.beta1, config.beta2) == (1e-3, 0.0, 0.99)
    assert (GanConfig(arch="dcgan").lr, GanConfig(arch="dcgan").beta1) == (2e-4, 0.5)


def test_the_shipped_checkpoint_still_loads_as_the_dcgan_it_is():
    from generation.demo import SHIPPED_CHECKPOINT

    saved = checkpoint.load(SHIPPED_CHECKPOINT)
    assert saved["format"] == checkpoint.LEGACY_FORMAT
    shipped = json.loads((SHIPPED_CHECKPOINT.parent / "config.json").read_text())
    config = checkpoint.config_of(saved)
    assert config == checkpoint.config_of({"format": checkpoint.LEGACY_FORMAT, "config": shipped})
    assert (config.arch, config.augment, config.image_size) == ("dcgan", "off", 128)


def test_the_shipped_checkpoint_draws_the_images_it_drew_before():
    from generation.demo import SHIPPED_CHECKPOINT

    # Values drawn by the first sampling code (batches of any size) for seed 0, images 0-2.
    expected = [[0.062609, 0.745232, 0.860932, 0.659757, 0.179897, 0.770855],
                [0.053268, 0.702465, 0.743338, 0.572009, 0.180522, 0.683707],
                [0.063407, 0.716401, 0.771165, 0.585387, 0.179476, 0.658051]]
    points = [(5, 7), (40, 60), (64, 64), (100, 20), (127, 127), (90, 33)]
    images = generate(load_generator(SHIPPED_CHECKPOINT), [image_seed(0, i) for i in range(3)])
    drawn = [[float(image[a, b]) for a, b in points] for image in images]
    np.testing.assert_allclose(drawn, expected, atol=1e-5)


def test_a_legacy_checkpoint_cannot_be_resumed(phantoms, tmp_path):
    from generation.demo import SHIPPED_CHECKPOINT

    run = tmp_path / "run"
    run.mkdir()
    (run / "dcgan.pt").write_bytes(SHIPPED_CHECKPOINT.read_bytes())
    config = checkpoint.config_of(checkpoint.load(SHIPPED_CHECKPOINT))
    images = np.stack([draw_phantom(i, 128) for i in range(2)])
    with pytest.raises(checkpoint.CheckpointError, match="sampled but not resumed"):
        train(images, config, run, resume=True, log=quiet)


def test_load_generator_refuses_a_file_that_is_not_a_checkpoint(tmp_path):
    bogus = tmp_path / "bogus.pt"
    bogus.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable torch checkpoint"):
        load_generator(bogus)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_generator(tmp_path / "missing.pt")
    torch.save({"format": "something else"}, bogus)
    with pytest.raises(ValueError, match="not a Mirage GAN checkpoint"):
        load_generator(bogus)


# --- the train command -------------------------------------------------------------------------


def parse(*argv):
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def test_train_command_trains_from_a_folder_and_resumes(tmp_path, capsys):
    write_phantoms(tmp_path / "images", 6, size=48)
    common = ("train", "--images", str(tmp_path / "images"), "--out", str(tmp_path / "run"), "--resolution", "16",
              "--batch-size", "4", "--seed", "1", "--fade-kimg", "0.008", "--stable-kimg", "0.008")
    args = parse(*common, "--steps", "2")
    assert args.func(args) == 0
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert (saved["image_size"], saved["arch"], saved["max_steps"]) == (16, "progressive", 2)
    again = parse(*common, "--steps", "3")
    assert again.func(again) == 2
    assert "already holds a run: add --resume" in capsys.readouterr().err
    resumed = parse(*common, "--steps", "4", "--resume")
    assert resumed.func(resumed) == 0
    assert torch.load(tmp_path / "run" / "progressive.pt", weights_only=True)["state"]["step"] == 4


def test_train_command_trains_a_dcgan_with_the_old_options(tmp_path):
    write_phantoms(tmp_path / "images", 6, size=32)
    args = parse("train", "--images", str(tmp_path / "images"), "--out", str(tmp_path / "run"), "--arch", "dcgan",
                 "--seconds", "30", "--steps", "2", "--size", "16", "--batch-size", "4")
    assert args.func(args) == 0
    assert (tmp_path / "run" / "dcgan.pt").is_file()


@pytest.mark.parametrize("argv, message", [
    (["--resolution", "100"], "power of two"),
    (["--resolution", "64"], "are 32 px but the training resolution is 64 px"),
    (["--conditioning", "acgan"], "needs labels"),
    (["--arch", "dcgan"], "needs a budget"),
])
def test_train_command_explains_bad_arguments(tmp_path, capsys, argv, message):
    write_phantoms(tmp_path / "images", 2, size=32)
    args = parse("train", "--images", str(tmp_path / "images"), "--out", str(tmp_path / "run"), *argv)
    assert args.func(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_train_command_explains_a_missing_or_empty_folder(tmp_path, capsys):
    args = parse("train", "--images", str(tmp_path / "nowhere"), "--out", str(tmp_path / "run"), "--steps", "1")
    assert args.func(args) == 2
    assert "nowhere does not exist" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    args = parse("train", "--images", str(tmp_path / "empty"), "--out", str(tmp_path / "run"))
    assert args.func(args) == 2
    assert "no images (PNG, JPEG, TIFF or DICOM)" in capsys.readouterr().err


def test_the_help_of_both_commands_says_what_goes_in_and_out(capsys):
    from generation.cli import main

    for command in ("train", "sample"):
        assert main([command, "--help"]) == 0
        text = capsys.readouterr().out
        assert "What goes in" in text and "What comes out" in text and "examples:" in text

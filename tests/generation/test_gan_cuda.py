"""The GANs on CUDA: bf16-autocast training with R1 in float32, channels-last networks, checkpoints
that load anywhere, sampling that matches the CPU's, and exact resume with `deterministic`.

Skipped wherever torch sees no GPU. Needs torch, numpy and Pillow only (plus pydicom, which
`generation.decode` imports), so on a GPU machine without Django it runs with the shared
conftests left out:

    python3 -m pytest -p no:django -p no:cacheprovider --noconftest tests/generation/test_gan_cuda.py
"""

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from generation.gan.config import GanConfig
from generation.gan.data import TrainingSet
from generation.gan.dcgan import DcganDiscriminator, DcganGenerator
from generation.gan.progressive import ProgressiveDiscriminator, ProgressiveGenerator
from generation.gan.sample import generate, image_seed, load_generator, sample
from generation.gan.train import train
from generation.gan.trainer import Trainer

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA GPU (torch.cuda.is_available() is False)"
)

# A progressive GAN at its last stage (no growth), so every step has the same shapes.
TINY = dict(image_size=32, latent_dim=16, base_channels=4, max_channels=32, batch_size=8, log_every=1,
            fade_images=0, stable_images=0, checkpoint_every=1000)
STEPS, R1_EVERY = 4, 2  # R1 at steps 0 and 2

# CUDA against the CPU, same checkpoint, same seeds, both in float32 (images in [0, 1]). cuDNN may
# sum in another order than the CPU, but never in TF32 while sampling: float32 rounding alone
# stays near 1e-6 (3e-6 seen on an H100), so 1e-4 is a wide margin that TF32 convolutions
# (2e-3 to 7e-3 seen) still break.
CPU_MATCH_ATOL = 1e-4
GENERATORS = (ProgressiveGenerator, DcganGenerator)
DISCRIMINATORS = (ProgressiveDiscriminator, DcganDiscriminator)


def blobs(count: int = 16, size: int = 32) -> np.ndarray:
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:size, 0:size] / size
    out = np.empty((count, size, size), dtype=np.float32)
    for i in range(count):
        cx, cy, r = rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7), rng.uniform(0.1, 0.3)
        out[i] = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * r**2))
    return out


@pytest.fixture(scope="module")
def cuda_run(tmp_path_factory):
    """A few CUDA training steps, with every forward pass of either network recorded."""
    calls = []

    def record(module, inputs, output):
        if isinstance(module, GENERATORS + DISCRIMINATORS):
            out = output[0] if isinstance(output, tuple) else output
            kind = "G" if isinstance(module, GENERATORS) else "D"
            calls.append((kind, out.dtype, out.device.type, torch.is_autocast_enabled("cuda"),
                          inputs[0].dtype if kind == "D" else None))

    config = GanConfig(**TINY, max_steps=STEPS, r1_every=R1_EVERY, augment="fixed", augment_p=0.5)
    handle = torch.nn.modules.module.register_module_forward_hook(record)
    try:
        path = train(blobs(), config, tmp_path_factory.mktemp("gan-cuda"), device="cuda", log=lambda _: None)
    finally:
        handle.remove()
    return path, config, calls


@pytest.fixture(scope="module")
def shipped():
    """The shipped demo checkpoint: trained weights, so images have real contrast to compare."""
    path = Path(__file__).resolve().parents[2] / "generation" / "checkpoints" / "dcgan.pt"
    if not path.is_file():
        pytest.skip(f"no shipped checkpoint at {path}")
    return path


def test_training_on_cuda_runs_in_bf16_autocast_with_the_r1_step_in_float32(cuda_run):
    path, _, calls = cuda_run
    state = torch.load(path, map_location="cpu", weights_only=True)["state"]
    assert state["step"] == STEPS and state["device"] == "cuda"
    assert all(math.isfinite(state["losses"][k]) for k in ("loss_d", "loss_g"))
    assert all(device == "cuda" for _, _, device, _, _ in calls)
    training = [(dtype, autocast) for kind, dtype, _, autocast, _ in calls if kind == "G" and autocast]
    assert training == [(torch.bfloat16, True)] * STEPS  # one generator forward per step, in autocast
    discriminator = [(dtype, autocast, given) for kind, dtype, _, autocast, given in calls if kind == "D"]
    # Per step: real, fake (D loss) and fake again (G loss) in bf16 autocast ...
    assert sum(1 for d, a, _ in discriminator if (d, a) == (torch.bfloat16, True)) == 3 * STEPS
    # ... and the lazy R1 pass, outside autocast, on float32 images, every r1_every steps.
    r1 = [(d, a, g) for d, a, g in discriminator if not a]
    assert r1 == [(torch.float32, False, torch.float32)] * len(range(0, STEPS, R1_EVERY))


def test_the_networks_train_in_channels_last_layout(tmp_path):
    trainer = Trainer(TrainingSet.from_floats(blobs()), GanConfig(**TINY), tmp_path, device="cuda",
                      log=lambda _: None)
    convs = [p for net in (trainer.G, trainer.D) for p in net.parameters() if p.ndim == 4 and p.shape[-1] > 1]
    assert convs and all(p.is_contiguous(memory_format=torch.channels_last) for p in convs)
    real = trainer.real_batch(torch.arange(4, device="cuda"), trainer.stage, 1.0)
    assert real.is_contiguous(memory_format=torch.channels_last) and real.dtype == torch.float32


def test_the_moving_average_generator_was_trained_on_cuda(cuda_run):
    path, config, _ = cuda_run
    torch.manual_seed(config.seed)
    initial = ProgressiveGenerator(config).state_dict()  # what the run starts from
    saved = torch.load(path, map_location="cpu", weights_only=True)["generator_ema"]
    assert saved.keys() == initial.keys()
    moved = max((saved[k].float() - initial[k]).abs().max().item() for k in saved)
    assert moved > 1e-4


def test_a_checkpoint_written_on_cuda_holds_cpu_tensors_only(cuda_run):
    # Loading without map_location must work on a machine with no GPU, so nothing may be stored
    # on a CUDA device: the file's bytes (and so its sha256 label in pools) do not depend on it.
    path, _, _ = cuda_run
    saved = torch.load(path, weights_only=True)  # no map_location

    def tensors(value):
        if isinstance(value, torch.Tensor):
            yield value
        elif isinstance(value, dict):
            for v in value.values():
                yield from tensors(v)
        elif isinstance(value, (list, tuple)):
            for v in value:
                yield from tensors(v)

    found = list(tensors(saved))
    assert found and all(t.device.type == "cpu" for t in found)


def test_a_checkpoint_written_on_cuda_samples_on_the_cpu_and_on_cuda_alike(cuda_run):
    path, _, _ = cuda_run
    on_cpu = load_generator(path, device="cpu")
    on_cuda = load_generator(path)  # the default device is CUDA when present
    assert all(p.device.type == "cuda" and p.dtype == torch.float32 for p in on_cuda.parameters())
    seeds = [image_seed(0, i) for i in range(20)]
    difference = np.abs(generate(on_cpu, seeds) - generate(on_cuda, seeds)).max()
    assert difference <= CPU_MATCH_ATOL, f"CUDA and CPU samples differ by up to {difference:.2e}"


def test_cuda_samples_of_the_shipped_checkpoint_match_the_cpus(shipped):
    seeds = [image_seed(3, i) for i in range(24)]
    on_cpu = generate(load_generator(shipped, device="cpu"), seeds)
    on_cuda = generate(load_generator(shipped, device="cuda"), seeds)
    assert on_cpu.std() > 0.05  # real contrast, not a flat grey image
    difference = np.abs(on_cuda - on_cpu).max()
    assert difference <= CPU_MATCH_ATOL, f"CUDA and CPU samples differ by up to {difference:.2e}"
    as_png = [np.rint(images * 255).astype(np.uint8) for images in (on_cpu, on_cuda)]
    assert np.abs(as_png[0].astype(int) - as_png[1]).max() <= 1
    assert (as_png[0] != as_png[1]).mean() < 1e-4


def test_cuda_sampling_is_exact_per_seed(shipped):
    generator = load_generator(shipped, device="cuda")
    first = sample(generator, 40, seed=5)  # batches of 16: 16, 16, then 8 padded
    again = sample(generator, 40, seed=5)
    assert all(np.array_equal(a, b) for (a, _), (b, _) in zip(first, again, strict=True))
    for index in (3, 37):  # drawn again from its recorded seed alone: the very same bits
        image, own_seed = first[index]
        assert np.array_equal(generate(generator, [own_seed])[0], image)


def test_a_deterministic_run_resumes_bit_identical_on_cuda(tmp_path):
    config = dict(TINY, deterministic=True, augment="off", r1_every=2)
    data = TrainingSet.from_floats(blobs())
    whole = train(data, GanConfig(**config, max_steps=6), tmp_path / "whole", device="cuda", log=lambda _: None)
    train(data, GanConfig(**config, max_steps=3), tmp_path / "split", device="cuda", log=lambda _: None)
    split = train(data, GanConfig(**config, max_steps=6), tmp_path / "split", device="cuda", resume=True,
                  log=lambda _: None)
    a, b = (torch.load(p, weights_only=True) for p in (whole, split))
    for part in ("generator", "discriminator", "generator_ema"):
        assert all(torch.equal(a[part][k], b[part][k]) for k in a[part]), f"{part} differs"

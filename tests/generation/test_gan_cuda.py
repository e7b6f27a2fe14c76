"""The demo GAN on CUDA: bf16-autocast training with the R1 step, checkpoints that load anywhere,
and sampling that matches the CPU's.

Skipped wherever torch sees no GPU. Needs torch, numpy and Pillow only, so on a GPU machine
without Django or pydicom it runs with the shared conftests left out:

    python3 -m pytest -p no:django -p no:cacheprovider --noconftest tests/generation/test_gan_cuda.py
"""

import math

import numpy as np
import pytest
import torch

from generation.gan.config import GanConfig
from generation.gan.networks import Discriminator, Generator
from generation.gan.sample import generate, image_seed, load_generator, sample
from generation.gan.train import train

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a CUDA GPU (torch.cuda.is_available() is False)"
)

TINY = dict(image_size=32, latent_dim=16, base_channels=4, max_channels=32, batch_size=8, log_every=1)
STEPS, R1_EVERY = 4, 2  # R1 at steps 0 and 2

# CUDA against the CPU, same checkpoint, same seeds, both in float32 (images in [0, 1]). cuDNN may
# sum in another order than the CPU, but never in TF32 while sampling: float32 rounding alone
# stays near 1e-6 (3e-6 seen on an H100), so 1e-4 is a wide margin that TF32 convolutions
# (2e-3 to 7e-3 seen) still break.
CPU_MATCH_ATOL = 1e-4
# The same image drawn alone or inside a full batch, on CUDA: another batch size may pick another
# cuDNN algorithm, so the sums can differ in their last bits, never more (8e-7 seen on an H100).
BATCH_MATCH_ATOL = 1e-5


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
        if isinstance(module, (Generator, Discriminator)):
            calls.append((type(module).__name__, output.dtype, output.device.type,
                          torch.is_autocast_enabled("cuda")))

    config = GanConfig(**TINY, max_steps=STEPS, seconds=120, r1_every=R1_EVERY)
    handle = torch.nn.modules.module.register_module_forward_hook(record)
    try:
        path = train(blobs(), config, tmp_path_factory.mktemp("gan-cuda"), device="cuda", log=lambda _: None)
    finally:
        handle.remove()
    return path, config, calls


@pytest.fixture(scope="module")
def shipped():
    """The shipped demo checkpoint: trained weights, so images have real contrast to compare."""
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "generation" / "checkpoints" / "dcgan.pt"
    if not path.is_file():
        pytest.skip(f"no shipped checkpoint at {path}")
    return path


def test_training_on_cuda_runs_in_bf16_autocast_with_the_r1_step_in_float32(cuda_run):
    path, _, calls = cuda_run
    progress = torch.load(path, map_location="cpu", weights_only=True)["progress"]
    assert progress["steps"] == STEPS and progress["device"].startswith("cuda")
    assert math.isfinite(progress["loss_d"]) and math.isfinite(progress["loss_g"])

    assert all(device == "cuda" for _, _, device, _ in calls)
    generator = [(dtype, autocast) for name, dtype, _, autocast in calls if name == "Generator"]
    assert generator == [(torch.bfloat16, True)] * STEPS  # one forward per step, in autocast
    discriminator = [(dtype, autocast) for name, dtype, _, autocast in calls if name == "Discriminator"]
    # Per step: real, fake (D loss) and fake again (G loss) in bf16 autocast ...
    assert discriminator.count((torch.bfloat16, True)) == 3 * STEPS
    # ... and the lazy R1 pass, outside autocast, in float32, every r1_every steps.
    assert discriminator.count((torch.float32, False)) == len(range(0, STEPS, R1_EVERY))
    assert len(discriminator) == 3 * STEPS + len(range(0, STEPS, R1_EVERY))


def test_the_moving_average_generator_was_trained_on_cuda(cuda_run):
    path, config, _ = cuda_run
    torch.manual_seed(config.seed)
    initial = Generator(config).state_dict()  # what train() starts from
    saved = torch.load(path, map_location="cpu", weights_only=True)["generator"]
    assert saved.keys() == initial.keys()
    assert all(torch.isfinite(v.float()).all() for v in saved.values())
    moved = max((saved[k].float() - initial[k]).abs().max().item() for k in saved)
    assert moved > 1e-4  # the average followed the trained generator away from its start


def test_a_checkpoint_written_on_cuda_holds_cpu_tensors_only(cuda_run):
    # Loading without map_location must work on a machine with no GPU, so nothing may be stored
    # on a CUDA device: the file's bytes (and so its sha256 label in pools) do not depend on it.
    path, _, _ = cuda_run
    checkpoint = torch.load(path, weights_only=True)  # no map_location
    tensors = [v for part in ("generator", "discriminator") for v in checkpoint[part].values()]
    assert tensors and all(v.device.type == "cpu" for v in tensors)
    assert all(v.dtype == torch.float16 for v in tensors if v.is_floating_point())


def test_a_checkpoint_written_on_cuda_samples_on_the_cpu_and_on_cuda(cuda_run):
    path, _, _ = cuda_run
    on_cpu = load_generator(path, device="cpu")
    assert all(p.device.type == "cpu" and p.dtype == torch.float32 for p in on_cpu.parameters())
    on_cuda = load_generator(path)  # the default device is CUDA when present
    assert all(p.device.type == "cuda" and p.dtype == torch.float32 for p in on_cuda.parameters())
    for generator in (on_cpu, on_cuda):
        images = sample(generator, 3, seed=0)
        assert [s for _, s in images] == [image_seed(0, i) for i in range(3)]
        assert all(i.shape == (32, 32) and i.dtype == np.float32 and 0 <= i.min() and i.max() <= 1
                   for i, _ in images)


def test_cuda_samples_match_cpu_samples_of_the_same_checkpoint(shipped):
    seeds = [image_seed(3, i) for i in range(24)]
    on_cpu = generate(load_generator(shipped, device="cpu"), seeds)
    on_cuda = generate(load_generator(shipped, device="cuda"), seeds)
    assert on_cpu.std() > 0.05  # real contrast, not a flat grey image
    difference = np.abs(on_cuda - on_cpu).max()
    assert difference <= CPU_MATCH_ATOL, f"CUDA and CPU samples differ by up to {difference:.2e}"
    # So the 8-bit PNGs a pool gets are the same but for pixels right on a rounding boundary.
    as_png = [np.rint(images * 255).astype(np.uint8) for images in (on_cpu, on_cuda)]
    assert np.abs(as_png[0].astype(int) - as_png[1]).max() <= 1
    assert (as_png[0] != as_png[1]).mean() < 1e-4


def test_cuda_sampling_is_reproducible_per_seed(shipped):
    generator = load_generator(shipped, device="cuda")
    first = sample(generator, 70, seed=5)  # 70: a full batch of 64, then 6
    again = sample(generator, 70, seed=5)
    assert [s for _, s in first] == [s for _, s in again]
    assert all(np.array_equal(a, b) for (a, _), (b, _) in zip(first, again))
    for index in (3, 66):  # one from each batch, drawn again from its recorded seed alone
        image, own_seed = first[index]
        alone = generate(generator, [own_seed])[0]
        difference = np.abs(alone - image).max()
        assert difference <= BATCH_MATCH_ATOL, f"image {index} alone differs by up to {difference:.2e}"
    assert not np.array_equal(first[0][0], sample(generator, 1, seed=6)[0][0])

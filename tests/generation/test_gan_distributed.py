"""Training on two processes (gloo, on the CPU) computes what one process computes on the whole batch.

Two processes are spawned with torch.multiprocessing; each builds the same Trainer, takes its half
of every batch and lets DistributedDataParallel (and, for R1, `distributed.average_gradients`)
average the gradients. One step in, the gradients of both networks must equal those of a single
process that trains on the concatenated batch.
"""

import socket

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from generation.gan.config import GanConfig
from generation.gan.data import TrainingSet
from generation.gan.train import train
from generation.gan.trainer import Trainer

pytestmark = pytest.mark.usefixtures("torch_one_thread")

# A conditional progressive run, 8 px, mid-fade (both output layers in use), R1 in its first step,
# augmentation on (its random numbers are drawn for the whole batch and sliced per process).
CONFIG = dict(image_size=8, latent_dim=8, base_channels=4, max_channels=8, batch_size=8, mbstd_group=4,
              conditioning="projection", labels=["absent", "present"], fade_images=64, stable_images=0,
              r1_every=2, augment="fixed", augment_p=0.5, log_every=1, checkpoint_every=100)
STEPS = 3
TOLERANCE = 1e-6


def labelled_images() -> TrainingSet:
    rng = np.random.default_rng(0)
    images = rng.random((16, 8, 8)).astype(np.float32)
    return TrainingSet.from_floats(images, labels=np.arange(16) % 2, label_names=CONFIG["labels"])


def step_mid_fade(trainer: Trainer) -> None:
    trainer.images_seen = 24  # alpha 0.375: both output layers and both input layers in use
    trainer.train_step()


def gradients(trainer: Trainer) -> dict[str, torch.Tensor]:
    grads = {}
    for name, net in (("G", trainer.G), ("D", trainer.D)):
        for key, p in net.named_parameters():
            if p.grad is not None:
                grads[f"{name}.{key}"] = p.grad.detach().clone()
    return grads


def worker(rank: int, port: int, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    try:
        trainer = Trainer(labelled_images(), GanConfig(**CONFIG), f"{out}/step", device="cpu", log=lambda _: None)
        step_mid_fade(trainer)
        torch.save(gradients(trainer), f"{out}/grads{rank}.pt")
        train(labelled_images(), GanConfig(**CONFIG, max_steps=STEPS), f"{out}/run", device="cpu",
              log=lambda _: None)
    finally:
        dist.destroy_process_group()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    out = tmp_path_factory.mktemp("gloo")
    mp.start_processes(worker, args=(free_port(), str(out)), nprocs=2, start_method="spawn", join=True)
    return out


def test_two_processes_average_to_the_gradients_of_the_whole_batch(two_processes, tmp_path):
    single = Trainer(labelled_images(), GanConfig(**CONFIG), tmp_path, device="cpu", log=lambda _: None)
    step_mid_fade(single)
    expected = gradients(single)
    for rank in (0, 1):
        averaged = torch.load(two_processes / f"grads{rank}.pt", weights_only=True)
        assert averaged.keys() == expected.keys()
        # Both output layers of the fade-in, the projection embedding and R1's layers all took part.
        assert {"G.to_gray.0.weight", "G.to_gray.1.weight", "D.from_gray.0.weight"} <= expected.keys()
        assert "D.project.weight" in expected
        worst = max((averaged[k] - expected[k]).abs().max().item() for k in expected)
        assert worst <= TOLERANCE, f"rank {rank}: gradients differ by up to {worst:.2e}"
        assert max(g.abs().max().item() for g in expected.values()) > 1e-3  # not all zero


def test_a_two_process_run_trains_what_one_process_trains(two_processes, tmp_path):
    alone = train(labelled_images(), GanConfig(**CONFIG, max_steps=STEPS), tmp_path, device="cpu",
                  log=lambda _: None)
    one = torch.load(alone, weights_only=True)
    two = torch.load(two_processes / "run" / alone.name, weights_only=True)
    assert two["state"]["world_size"] == 2 and two["state"]["step"] == STEPS
    assert len(two["rng"]) == 2  # every process's random states
    for part in ("generator", "discriminator", "generator_ema"):
        worst = max((one[part][k] - two[part][k]).abs().max().item() for k in one[part])
        assert worst < 1e-4, f"{part} differs by up to {worst:.2e}"

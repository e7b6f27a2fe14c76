"""Exact resume: a run killed with SIGKILL and resumed ends bit for bit where a run that never stopped ends.

A subprocess trains a small conditional progressive GAN (growing from 4 to 16 px, with R1, ADA
and the moving average) for STEPS steps, checkpointing every EVERY steps; the test kills it with
SIGKILL once it has written a few checkpoints, resumes the run here, and compares the final
checkpoint with one of an uninterrupted run: every tensor (weights, moving average, both
optimisers, batch order, random states) with torch.equal.
"""

import csv
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from generation.gan.config import GanConfig
from generation.gan.data import TrainingSet
from generation.gan.train import train

pytestmark = pytest.mark.usefixtures("torch_one_thread")

ROOT = Path(__file__).resolve().parents[2]
STEPS, EVERY, KILL_AFTER = 40, 4, 12
CONFIG = dict(image_size=16, latent_dim=16, base_channels=4, max_channels=16, batch_size=8, conditioning="projection",
              labels=["absent", "present"], fade_images=48, stable_images=48, r1_every=3, augment_p=0.2,
              ada_target=0.0, ada_interval=2, ada_images=2000, log_every=2, checkpoint_every=EVERY,
              max_steps=STEPS, seed=5)

CHILD = """
import sys
import torch
torch.set_num_threads(1)
sys.path.insert(0, {root!r})
from tests.generation.test_gan_resume import CONFIG, training_set
from generation.gan.config import GanConfig
from generation.gan.train import train

def checkpointed(step):
    print(f"checkpoint {{step}}", flush=True)

train(training_set(), GanConfig(**CONFIG), {out!r}, log=lambda _: None, on_checkpoint=checkpointed)
print("finished", flush=True)
"""


def training_set() -> TrainingSet:
    """Discs present or absent on noise, 16 px."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:16, 0:16]
    images, labels = [], []
    for i in range(24):
        image = rng.uniform(0.0, 0.3, (16, 16))
        if i % 2:
            cx, cy = rng.uniform(5, 11, 2)
            image[(x - cx) ** 2 + (y - cy) ** 2 < 9] = 0.9
        images.append(image)
        labels.append(i % 2)
    return TrainingSet.from_floats(np.array(images, dtype=np.float32), np.array(labels), ["absent", "present"])


def assert_identical(a, b, where="checkpoint"):
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape, where
        assert torch.equal(a, b), f"{where} differs"
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            if where.endswith("state") and key == "seconds":
                continue  # wall-clock time, the one thing allowed to differ
            assert_identical(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_identical(x, y, f"{where}[{i}]")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


def loss_rows(path: Path) -> list[dict]:
    with open(path) as handle:
        return [{k: v for k, v in row.items() if k not in ("seconds", "images_per_s")} for row in csv.DictReader(handle)]


def test_a_run_killed_and_resumed_ends_bit_identical_to_one_never_stopped(tmp_path):
    killed = tmp_path / "killed"
    script = CHILD.format(root=str(ROOT), out=str(killed))
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True, cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        for line in child.stdout:
            if line.startswith("checkpoint ") and int(line.split()[1]) >= KILL_AFTER:
                child.send_signal(signal.SIGKILL)
                break
            assert line.strip() != "finished", "the run ended before it could be killed"
        child.wait(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == -signal.SIGKILL, child.stderr.read()
    stopped_at = torch.load(killed / "progressive.pt", weights_only=True)["state"]["step"]
    assert KILL_AFTER <= stopped_at < STEPS

    resumed = train(training_set(), GanConfig(**CONFIG), killed, resume=True, log=lambda _: None)
    never_stopped = train(training_set(), GanConfig(**CONFIG), tmp_path / "whole", log=lambda _: None)

    a = torch.load(resumed, weights_only=True)
    b = torch.load(never_stopped, weights_only=True)
    assert a["state"]["step"] == STEPS and a["state"]["stage"] == 2  # it grew to 16 px on the way
    assert a["state"]["augment"]["p"] != CONFIG["augment_p"]  # ADA moved p
    assert_identical(a, b)
    assert loss_rows(killed / "losses.csv") == loss_rows(tmp_path / "whole" / "losses.csv")
    assert sorted(p.name for p in (killed / "grids").iterdir()) == sorted(
        p.name for p in (tmp_path / "whole" / "grids").iterdir())

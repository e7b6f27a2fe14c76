"""A conditional GAN draws the label it is asked for.

Real images: 16 px noise, with a bright disc (label "present") or without ("absent"). A small
classifier (logistic regression on the pixels) is trained on real images only; a short
conditional run (projection discriminator, and auxiliary classifier) must then draw samples whose
asked-for label that classifier recognises far above chance. Fixed seeds; ~10 s per design on one
CPU thread.
"""

import numpy as np
import pytest
import torch

from generation.gan.config import GanConfig
from generation.gan.data import TrainingSet
from generation.gan.sample import generate, image_seed, load_generator
from generation.gan.train import train

pytestmark = pytest.mark.usefixtures("torch_one_thread")

SIZE, LABELS = 16, ["absent", "present"]


def discs(count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:SIZE, 0:SIZE]
    images, labels = [], []
    for i in range(count):
        image = rng.uniform(0.05, 0.3, (SIZE, SIZE))
        if i % 2:
            cx, cy = rng.uniform(5, 11, 2)
            radius = rng.uniform(2.5, 4)
            image[(x - cx) ** 2 + (y - cy) ** 2 < radius**2] = rng.uniform(0.8, 1.0)
        images.append(image)
        labels.append(i % 2)
    return np.array(images, dtype=np.float32), np.array(labels)


@pytest.fixture(scope="module")
def classifier():
    """Logistic regression on real images: P(disc present | pixels)."""
    images, labels = discs(256, seed=0)
    x, y = torch.from_numpy(images.reshape(len(images), -1)), torch.from_numpy(labels).float()
    weights = torch.zeros(SIZE * SIZE, requires_grad=True)
    bias = torch.zeros(1, requires_grad=True)
    optimiser = torch.optim.Adam([weights, bias], lr=0.05)
    for _ in range(300):
        optimiser.zero_grad()
        torch.nn.functional.binary_cross_entropy_with_logits(x @ weights + bias, y).backward()
        optimiser.step()

    def present(batch: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return ((torch.from_numpy(batch.reshape(len(batch), -1)) @ weights + bias) > 0).numpy()

    held_out, truth = discs(200, seed=1)
    assert (present(held_out) == truth.astype(bool)).mean() > 0.95  # it does recognise the discs
    return present


@pytest.mark.parametrize("conditioning", ["projection", "acgan"])
def test_samples_show_the_label_they_were_drawn_with(conditioning, classifier, tmp_path):
    images, labels = discs(256, seed=0)
    config = GanConfig(image_size=SIZE, latent_dim=32, base_channels=16, max_channels=32, batch_size=16,
                       conditioning=conditioning, labels=LABELS, fade_images=400, stable_images=400,
                       augment="off", max_steps=220, log_every=50, checkpoint_every=10**6, seed=0)
    path = train(TrainingSet.from_floats(images, labels, LABELS), config, tmp_path, log=lambda _: None)

    generator = load_generator(path)
    assert generator.resolution == SIZE
    asked = LABELS * 32
    samples = generate(generator, [image_seed(3, i) for i in range(64)], asked)
    recognised = classifier(samples) == np.array([label == "present" for label in asked])
    assert recognised.mean() >= 0.8, f"{conditioning}: only {recognised.mean():.2f} recognised (chance 0.5)"

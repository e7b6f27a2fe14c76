"""The small convolutional network the report trains: for usefulness (labels) and as the machine reader
(real or synthetic).

Four 3x3 convolutions (three with stride 2), global average pooling and one linear layer; a few
thousand weights, trained for a fixed number of steps with Adam on class-balanced batches, so a
run costs the same whatever the set sizes and is reproducible from its seed. The device is chosen
once: CUDA when present, else the CPU.

`crop`: train on random crops of that size and score an image by the mean logit over a grid of
crops covering it (the machine reader above 64 px looks at patches, where a generator's fine-scale
artefacts are).
"""

from __future__ import annotations

import numpy as np

STEPS = 300
BATCH = 32
LEARNING_RATE = 2e-3
WIDTH = 16


def device():
    import torch

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def make_network(outputs: int, width: int = WIDTH):
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(1, width, 3, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(width, 2 * width, 3, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(2 * width, 4 * width, 3, stride=2, padding=1), nn.ReLU(),
        nn.Conv2d(4 * width, 4 * width, 3, padding=1), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4 * width, outputs),
    )


def train(images: np.ndarray, targets: np.ndarray, *, outputs: int, seed: int = 0, steps: int = STEPS,
          crop: int | None = None):
    """Train a network on 8-bit images (n, s, s) with integer class targets; return it."""
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    run_on = device()
    network = make_network(outputs).to(run_on)
    optimiser = torch.optim.Adam(network.parameters(), lr=LEARNING_RATE)
    classes = [np.flatnonzero(targets == c) for c in range(outputs)]
    classes = [members for members in classes if members.size]
    per_class = max(1, BATCH // len(classes))
    data = torch.from_numpy(images).to(run_on)
    labels = torch.from_numpy(targets.astype(np.int64)).to(run_on)
    network.train()
    for _ in range(steps):
        index = np.concatenate([rng.choice(members, per_class) for members in classes])
        batch = _prepare(data[torch.from_numpy(index).to(run_on)])
        if crop is not None and crop < batch.shape[-1]:
            y, x = rng.integers(0, batch.shape[-1] - crop + 1, 2)
            batch = batch[..., y:y + crop, x:x + crop]
        loss = torch.nn.functional.cross_entropy(network(batch), labels[torch.from_numpy(index).to(run_on)])
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    network.eval()
    return network


def predict(network, images: np.ndarray, *, crop: int | None = None) -> np.ndarray:
    """Class probabilities (n, outputs); with `crop`, from the mean logit over a grid of crops."""
    import torch

    run_on = next(network.parameters()).device
    outputs = []
    with torch.no_grad():
        for start in range(0, len(images), 256):
            batch = _prepare(torch.from_numpy(images[start:start + 256]).to(run_on))
            size = batch.shape[-1]
            if crop is None or crop >= size:
                logits = network(batch)
            else:
                corners = sorted(set(list(range(0, size - crop + 1, crop)) + [size - crop]))
                logits = torch.stack([network(batch[..., y:y + crop, x:x + crop])
                                      for y in corners for x in corners]).mean(dim=0)
            outputs.append(torch.softmax(logits, dim=1).cpu().numpy())
    return np.concatenate(outputs)


def _prepare(batch):
    return (batch.float() / 255.0 - 0.5)[:, None]

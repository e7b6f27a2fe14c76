"""Mirage's own GANs: train them on real images, draw recorded synthetic images from them (or from a
generator made elsewhere).

- `config.py`: `GanConfig`, every value of a run (a dataclass, written as config.json).
- `layers.py`, `progressive.py`, `dcgan.py`, `networks.py`: the networks. A progressive-growing
  GAN (Karras et al. 2018) and a DCGAN, both optionally conditioned on a label (projection
  discriminator or auxiliary classifier).
- `schedule.py`: the growth schedule (stage and fade-in alpha after a number of images).
- `augment.py`: adaptive discriminator augmentation (Karras et al. 2020).
- `data.py`: training images from a folder (via `generation.decode`), labels, the batch order.
- `train.py`: `Trainer` (one step) and `train(...)` (the run, with exact resume); `checkpoint.py`
  the one checkpoint file; `distributed.py` training under torchrun; `device.py` the device.
- `sample.py`, `sources.py`: seeded, exactly repeatable sampling and its manifest; generators
  brought from elsewhere (TorchScript, a Python entry point, a folder of images).
- `cli.py`: the `train` and `sample` commands.

Nothing here is imported by `generation` itself, so torch loads only when a GAN command runs.
"""

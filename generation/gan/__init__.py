"""Mirage's own small GAN, used to make the demo's synthetic images.

- `config.py`: `GanConfig`, the few values a run needs.
- `networks.py`: `Generator` and `Discriminator` (DCGAN-style, with a minibatch-stddev layer).
- `train.py`: `train(images, config, out_dir)` (with a lazy R1 penalty) writes `dcgan.pt` + `config.json`.
- `sample.py`: `load_generator(path)`, `sample(checkpoint, n, seed=...)` with a seed per image.
- `cli.py`: the `train` and `sample` commands.

Nothing here is imported by `generation` itself, so torch loads only when a GAN command runs.
"""

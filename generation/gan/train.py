"""Train a GAN until its budget ends, writing the run's files; or resume a run where it stopped.

    train(data, config, out_dir)               a new run in out_dir
    train(data, config, out_dir, resume=True)  the same run, continued (with a larger budget)

The steps themselves are `trainer.Trainer`'s. Each run writes into its folder:

    <arch>.pt          the checkpoint (`checkpoint.py`): every `checkpoint_every` steps, at every
                       stage change and at the end
    config.json        the full configuration
    losses.csv         one row every `log_every` steps (losses, R1, alpha, ADA's p, images/s)
    grids/stage<k>-<r>px.png   samples of G_ema when stage k ends (and at the end of the run)

and shows a progress bar (images/s) when asked. A run killed at any moment keeps its last
checkpoint; resuming from it repeats the steps after it exactly (rows of losses.csv written after
that checkpoint are replaced).
"""

from __future__ import annotations

import contextlib
import csv
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from generation.gan import distributed
from generation.gan.config import GanConfig
from generation.gan.data import TrainingSet
from generation.gan.device import cuda_settings
from generation.gan.sample import generate
from generation.gan.schedule import resolution_of, stage_at
from generation.gan.trainer import Trainer

CSV_COLUMNS = ("step", "images", "stage", "resolution", "alpha", "loss_d", "loss_g", "r1", "augment_p",
               "real_sign", "seconds", "images_per_s")


def write_grid(trainer: Trainer, stage: int, alpha: float) -> Path | None:
    """A sheet of G_ema's samples at (stage, alpha), the same seeds every time: grids/stage<k>-<r>px.png."""
    if trainer.rank != 0:
        return None
    config = trainer.config
    labels = [config.labels[i % len(config.labels)] for i in range(config.grid_images)] if config.labels else None
    trainer.G_ema.stage, trainer.G_ema.alpha = stage, alpha
    tiles = generate(trainer.G_ema, list(range(config.grid_images)), labels)
    path = trainer.out_dir / "grids" / f"stage{stage}-{resolution_of(stage)}px.png"
    path.parent.mkdir(exist_ok=True)
    grid_image(tiles).save(path)
    return path


def grid_image(tiles: np.ndarray, min_tile: int = 64) -> Image.Image:
    """Tiles (n, r, r) in [0, 1] side by side in rows, each enlarged (nearest) to at least min_tile px."""
    n, r, _ = tiles.shape
    columns = int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / columns))
    zoom = max(1, -(-min_tile // r))
    canvas = np.zeros((rows * r * zoom, columns * r * zoom), dtype=np.uint8)
    for i, tile in enumerate(tiles):
        big = np.kron(np.rint(tile * 255).astype(np.uint8), np.ones((zoom, zoom), dtype=np.uint8))
        top, left = (i // columns) * r * zoom, (i % columns) * r * zoom
        canvas[top : top + r * zoom, left : left + r * zoom] = big
    return Image.fromarray(canvas)


class LossLog:
    """losses.csv: one row every log_every steps; a resumed run first drops rows after its checkpoint."""

    def __init__(self, path: Path, resumed_step: int | None):
        self.path = path
        rows = []
        if resumed_step is not None and path.exists():
            with open(path, newline="") as handle:
                rows = [row for row in csv.DictReader(handle) if int(row["step"]) <= resumed_step]
        with open(path, "w", newline="") as handle:
            writer = csv.DictWriter(handle, CSV_COLUMNS)
            writer.writeheader()
            writer.writerows(rows)

    def write(self, row: dict) -> None:
        with open(self.path, "a", newline="") as handle:
            csv.DictWriter(handle, CSV_COLUMNS).writerow(row)


def _budget_images(config: GanConfig) -> int | None:
    if config.max_images is not None:
        return config.max_images
    if config.max_steps is None and config.seconds is None:
        if config.arch != "progressive":
            raise ValueError("a DCGAN run needs a budget: give max_steps, max_images or seconds "
                             "(--steps, --kimg or --seconds)")
        return config.growth_images()  # a progressive run stops at the end of its growth
    return None


def train(
    data: TrainingSet | np.ndarray,
    config: GanConfig,
    out_dir: Path | str,
    *,
    device: str | torch.device | None = None,
    resume: bool = False,
    log: Callable[[str], None] = print,
    on_step: Callable[[int], None] | None = None,
    on_checkpoint: Callable[[int], None] | None = None,
    progress: bool = False,
) -> Path:
    """Train (or resume, `resume=True`) the run in `out_dir` until its budget ends; return its checkpoint.

    `data` is a TrainingSet or floats in [0, 1] (N, size, size). Budgets: `config.max_steps`,
    `max_images`, `seconds` (training time over all resumptions), whichever comes first; with none,
    a progressive run ends with its growth schedule. `on_step(step)` is called after every step,
    `on_checkpoint(step)` after every checkpoint; `progress` shows a progress bar (images/s).
    """
    if isinstance(data, np.ndarray):
        data = TrainingSet.from_floats(data)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    budget_images = _budget_images(config)
    trainer = Trainer(data, config, out_dir, device=device, resume=resume, log=log)
    with _cuda_mode(trainer):
        return _run(trainer, config, budget_images, resume=resume, log=log, on_step=on_step,
                    on_checkpoint=on_checkpoint, progress=progress)


@contextlib.contextmanager
def _cuda_mode(trainer: Trainer):
    """On CUDA: cuDNN's fastest algorithms, or deterministic ones (and no TF32) when the config asks."""
    if trainer.device.type != "cuda":
        yield
        return
    exact = trainer.config.deterministic
    if exact:  # cuBLAS repeats its sums only with a fixed workspace (read when it first starts)
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    before = torch.are_deterministic_algorithms_enabled()
    with cuda_settings(deterministic=exact, benchmark=not exact, tf32=False if exact else None):
        torch.use_deterministic_algorithms(exact or before, warn_only=True)
        try:
            yield
        finally:
            torch.use_deterministic_algorithms(before)


def _run(trainer: Trainer, config: GanConfig, budget_images: int | None, *, resume, log, on_step, on_checkpoint,
         progress) -> Path:
    data, out_dir = trainer.data, trainer.out_dir
    rank0 = trainer.rank == 0
    if rank0:
        config.save(out_dir / "config.json")
    losses = LossLog(out_dir / "losses.csv", trainer.step if resume else None) if rank0 else None
    total = budget_images or (config.max_steps * config.batch_size if config.max_steps else None)
    bar = tqdm(total=total, initial=trainer.images_seen, unit="img", unit_scale=True, file=sys.stderr,
               disable=not (progress and rank0), dynamic_ncols=True, smoothing=0.1)

    def say(line: str) -> None:
        if rank0:
            with tqdm.external_write_mode(file=sys.stderr) if not bar.disable else contextlib.nullcontext():
                log(line)

    def saved() -> None:
        trainer.save()
        if on_checkpoint is not None:
            on_checkpoint(trainer.step)

    say(f"{'resuming' if resume else 'training'} {config.arch} on {len(data.images)} images of "
        f"{config.image_size} px, device {trainer.device}"
        f"{f' x {trainer.world} processes' if trainer.world > 1 else ''}, from step {trainer.step}")
    started, seconds_before = time.monotonic(), trainer.seconds
    mark_time, mark_images = started, trainer.images_seen
    while True:
        trainer.seconds = seconds_before + time.monotonic() - started
        if ((config.max_steps is not None and trainer.step >= config.max_steps)
                or (budget_images is not None and trainer.images_seen >= budget_images)
                or (config.seconds is not None and trainer.step > 0
                    and distributed.any_process(trainer.seconds >= config.seconds))):
            break
        stage, _ = stage_at(trainer.images_seen, config)
        if trainer.step > 0 and stage != trainer.stage:  # the last step ended a stage
            write_grid(trainer, trainer.stage, trainer.alpha)
            saved()
            say(f"stage {trainer.stage} ({resolution_of(trainer.stage)} px) done at step {trainer.step}; "
                f"growing to {resolution_of(stage)} px")
        last = trainer.train_step()
        bar.update(config.batch_size)
        if on_step is not None:
            on_step(trainer.step)
        if trainer.step % config.log_every == 0:
            now = time.monotonic()
            row = _loss_row(trainer, last, (trainer.images_seen - mark_images) / max(now - mark_time, 1e-9))
            mark_time, mark_images = now, trainer.images_seen
            if not (np.isfinite(row["loss_d"]) and np.isfinite(row["loss_g"])):
                raise RuntimeError(f"training diverged at step {trainer.step} (loss D {row['loss_d']}, loss G "
                                   f"{row['loss_g']}): lower the learning rate (--lr) and start again")
            if losses is not None:
                losses.write(row)
            bar.set_postfix_str(f"{row['resolution']} px, alpha {row['alpha']:.2f}, p {row['augment_p']:.2f}, "
                                f"D {row['loss_d']:.3f}, G {row['loss_g']:.3f}", refresh=False)
            say(f"step {trainer.step}: {row['resolution']} px (alpha {row['alpha']:.2f}), loss D {row['loss_d']:.3f}, "
                f"loss G {row['loss_g']:.3f}, p {row['augment_p']:.2f}, {row['images_per_s']:.0f} images/s")
        if trainer.step % config.checkpoint_every == 0:
            saved()
    bar.close()
    last = {k: float(v) for k, v in trainer.last.items()}
    if last and not (np.isfinite(last["loss_d"]) and np.isfinite(last["loss_g"])):
        raise RuntimeError(f"training diverged (loss D {last['loss_d']}, loss G {last['loss_g']}): "
                           "lower the learning rate (--lr) and start again")
    write_grid(trainer, trainer.stage, trainer.alpha)
    saved()
    say(f"saved {trainer.path} after {trainer.step} steps ({trainer.images_seen} images, "
        f"{trainer.seconds:.0f} s), at {resolution_of(trainer.stage)} px")
    return trainer.path


def _loss_row(trainer: Trainer, last: dict, rate: float) -> dict:
    return {"step": trainer.step, "images": trainer.images_seen, "stage": trainer.stage,
            "resolution": resolution_of(trainer.stage), "alpha": round(trainer.alpha, 6),
            "loss_d": float(last["loss_d"]), "loss_g": float(last["loss_g"]), "r1": float(last["r1"]),
            "augment_p": round(trainer.ada.p, 6), "real_sign": float(last["real_sign"]),
            "seconds": round(trainer.seconds, 3), "images_per_s": round(rate, 2)}

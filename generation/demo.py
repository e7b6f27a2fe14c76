"""`python -m generation demo`: a complete demo pool from nothing but Mirage's own code.

Steps: draw phantom chest radiographs (the real class), get the demo GAN (the shipped
checkpoint, or one trained on the phantoms for a few minutes), sample as many synthetic images,
and build a pool from both folders. No patient data is involved anywhere.

OUT/
  sources/real/phantom_0000.png ...       the real class
  sources/real_labels.json                 seed and lesion of each phantom
  sources/synthetic/sample_0000.png ...   the synthetic class
  sources/samples.json                     checkpoint and seed of each sample
  generator/dcgan.pt                       only when a generator was trained here
  pool/manifest.json, pool/images/...      the pool
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path

GENERATOR_NAME = "mirage-demo-dcgan"
SHIPPED_CHECKPOINT = Path(__file__).resolve().parent / "checkpoints" / "dcgan.pt"
RESOLUTIONS = (32, 64, 128, 256)
MAX_TRAIN_SECONDS = 180.0


def register(subparsers: argparse._SubParsersAction) -> None:
    demo = subparsers.add_parser("demo", help="build a demo pool from phantoms and the demo GAN")
    demo.add_argument("--out", type=Path, required=True, help="folder for the sources and the pool")
    demo.add_argument("--count", type=int, default=200, help="images per class (default %(default)s)")
    demo.add_argument("--seed", type=int, default=0)
    source = demo.add_mutually_exclusive_group()
    source.add_argument("--checkpoint", type=Path, help="generator checkpoint (default: the shipped one)")
    source.add_argument("--train-seconds", type=float,
                        help=f"train a generator on the phantoms for this long (at most {MAX_TRAIN_SECONDS:g} s)")
    demo.set_defaults(func=demo_command)


def demo_command(args: argparse.Namespace) -> int:
    try:
        pool = build_demo(args.out, count=args.count, seed=args.seed, checkpoint=args.checkpoint,
                          train_seconds=args.train_seconds)
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(pool)
    return 0


def build_demo(
    out: Path | str,
    *,
    count: int = 200,
    seed: int = 0,
    checkpoint: Path | str | None = None,
    train_seconds: float | None = None,
    log: Callable[[str], None] = print,
) -> Path:
    """Build the demo pool in `out`/pool and return its path (at once if it is already built)."""
    out = Path(out)
    pool_dir = out / "pool"
    if (pool_dir / "manifest.json").exists():
        log(f"{pool_dir} is already built")
        return pool_dir
    synthetic_meta = write_sources(out, count=count, seed=seed, checkpoint=checkpoint,
                                   train_seconds=train_seconds, log=log)
    from generation.pool import build_pool

    summary = build_pool(out / "sources" / "real", out / "sources" / "synthetic", pool_dir,
                         resolutions=RESOLUTIONS, seed=seed, generator_name=GENERATOR_NAME,
                         synthetic_meta=synthetic_meta)
    counts = ", ".join(f"{n} {image_class}" for image_class, n in summary.sources.items())
    log(f"built the pool {pool_dir} from {counts} images in {summary.seconds:.1f} s "
        f"({len(summary.rejections)} rejected)")
    return pool_dir


def write_sources(
    out: Path,
    *,
    count: int,
    seed: int,
    checkpoint: Path | str | None = None,
    train_seconds: float | None = None,
    log: Callable[[str], None] = print,
) -> dict[str, dict]:
    """Write both classes' source images under `out`/sources; return the pool's synthetic_meta."""
    from generation.gan.config import GanConfig
    from generation.gan.sample import load_generator, write_samples
    from generation.phantoms import write_phantoms

    if count < 1:
        raise ValueError(f"--count must be at least 1, got {count}")
    if checkpoint is not None and train_seconds is not None:
        raise ValueError("give either a checkpoint or a training time, not both")
    if train_seconds is not None and not 0 < train_seconds <= MAX_TRAIN_SECONDS:
        raise ValueError(f"--train-seconds must be in (0, {MAX_TRAIN_SECONDS:g}], got {train_seconds:g}")
    if checkpoint is not None and not Path(checkpoint).is_file():
        raise FileNotFoundError(f"checkpoint {checkpoint} does not exist")
    if checkpoint is None and train_seconds is None:
        if SHIPPED_CHECKPOINT.is_file():
            checkpoint = SHIPPED_CHECKPOINT
        else:
            log(f"no shipped checkpoint at {SHIPPED_CHECKPOINT}: training one for {MAX_TRAIN_SECONDS:g} s")
            train_seconds = MAX_TRAIN_SECONDS

    # Real phantoms at the generator's own size, so both classes reach the pool equally sharp.
    size = load_generator(checkpoint).resolution if checkpoint is not None else GanConfig.image_size
    sources = out / "sources"
    for folder in (sources / "real", sources / "synthetic"):
        if folder.is_dir():  # left by an interrupted run, perhaps with another count: start afresh
            shutil.rmtree(folder)
    start = time.monotonic()
    write_phantoms(sources / "real", count, seed=seed, size=size, labels_path=sources / "real_labels.json")
    log(f"drew {count} phantoms of {size} px in {time.monotonic() - start:.1f} s")

    if checkpoint is None:
        checkpoint = _train_on_phantoms(sources / "real", out / "generator", size, train_seconds, seed, log)

    start = time.monotonic()
    index = write_samples(checkpoint, count, seed=seed, out_dir=sources / "synthetic",
                          index_path=sources / "samples.json")
    log(f"sampled {count} images from {index['checkpoint']} in {time.monotonic() - start:.1f} s")
    return {
        entry["file"]: {"generator": {"name": GENERATOR_NAME, "checkpoint": index["checkpoint"], "seed": entry["seed"]}}
        for entry in index["images"]
    }


def _train_on_phantoms(real_dir: Path, out_dir: Path, size: int, seconds: float, seed: int, log) -> Path:
    from generation.gan.cli import load_image_folder
    from generation.gan.config import GanConfig
    from generation.gan.train import train

    # The shipped checkpoint's recipe (generation/checkpoints/README.md): a DCGAN, no augmentation.
    config = GanConfig(arch="dcgan", augment="off", image_size=size, seconds=seconds, seed=seed)
    return train(load_image_folder(real_dir, size), config, out_dir, log=log)

"""`python -m generation train` and `python -m generation sample`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from generation.gan.config import GanConfig

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")


def register(subparsers: argparse._SubParsersAction) -> None:
    train = subparsers.add_parser("train", help="train the demo GAN on a folder of grey images")
    train.add_argument("--images", type=Path, required=True, help="folder of PNG/JPEG/TIFF training images")
    train.add_argument("--out", type=Path, required=True, help="folder for dcgan.pt and config.json")
    train.add_argument("--seconds", type=float, default=GanConfig.seconds, help="time budget (default %(default)s)")
    train.add_argument("--steps", type=int, default=GanConfig.max_steps, help="step budget (default %(default)s)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--size", type=int, default=GanConfig.image_size, help="image side in px (default %(default)s)")
    train.add_argument("--batch-size", type=int, default=GanConfig.batch_size)
    train.set_defaults(func=train_command)

    sample = subparsers.add_parser("sample", help="draw images from a trained demo GAN")
    sample.add_argument("--checkpoint", type=Path, required=True, help="the .pt file written by train")
    sample.add_argument("--count", type=int, required=True)
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--out", type=Path, required=True, help="folder for the PNGs and samples.json")
    sample.set_defaults(func=sample_command)


def load_image_folder(folder: Path, size: int) -> np.ndarray:
    """All images in `folder` (sorted by name) as grey (N, size, size) floats in [0, 1].

    Each image is cut to its centred square and resized with Lanczos.
    """
    if not folder.is_dir():
        raise ValueError(f"image folder {folder} does not exist")
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not paths:
        raise ValueError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {folder}")
    images = np.empty((len(paths), size, size), dtype=np.float32)
    for i, path in enumerate(paths):
        try:
            with Image.open(path) as image:
                gray = image.convert("L")
        except (OSError, UnidentifiedImageError) as error:
            raise ValueError(f"cannot read training image {path}: {error}") from error
        side = min(gray.size)
        left, top = (gray.width - side) // 2, (gray.height - side) // 2
        square = gray.crop((left, top, left + side, top + side))
        images[i] = np.asarray(square.resize((size, size), Image.Resampling.LANCZOS), dtype=np.float32) / 255.0
    return images


def train_command(args: argparse.Namespace) -> int:
    from generation.gan.train import train  # torch loads only when a GAN command runs

    try:
        config = GanConfig(image_size=args.size, seconds=args.seconds, max_steps=args.steps,
                           seed=args.seed, batch_size=args.batch_size)
        images = load_image_folder(args.images, config.image_size)
        path = train(images, config, args.out, log=lambda line: print(line, flush=True))
    except (ValueError, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(path)
    return 0


def sample_command(args: argparse.Namespace) -> int:
    from generation.gan.sample import write_samples

    if args.count < 1:
        print(f"error: --count must be at least 1, got {args.count}", file=sys.stderr)
        return 2
    try:
        write_samples(args.checkpoint, args.count, seed=args.seed, out_dir=args.out,
                      index_path=args.out / "samples.json")
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {args.count} images and samples.json to {args.out}")
    return 0

"""Command line: `python -m generation pool build|check`, plus the demo and GAN
commands that generation.demo and generation.gan.cli register themselves."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

from generation.decode import COLOR_CHOICES, FRAME_CHOICES
from generation.pool import CREATED_BY, PoolError, build_pool
from generation.render import CROP_CHOICES

PLUGIN_MODULES = ("generation.demo", "generation.gan.cli", "generation.quality.cli")


def main(argv: list[str] | None = None) -> int:
    parser = make_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse has printed its message (or --help)
        return int(exc.code or 0)
    if not hasattr(args, "func"):
        parser.print_help(sys.stderr)
        return 2
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m generation", description=__doc__)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    pool = commands.add_parser("pool", help="build or check a blinded image pool")
    pool_commands = pool.add_subparsers(title="pool commands", metavar="POOL_COMMAND")
    _add_build(pool_commands)
    _add_check(pool_commands)
    pool.set_defaults(func=lambda args: _usage(pool))
    for name in PLUGIN_MODULES:
        module = _optional_module(name)
        if module is not None:
            module.register(commands)
    return parser


def _optional_module(name: str):
    """Import a colleague's command module, or None while it does not exist yet."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and (name == exc.name or name.startswith(exc.name + ".")):
            return None
        raise


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _add_build(commands) -> None:
    build = commands.add_parser(
        "build", help="decode real and synthetic images and write the pool",
        description="Render every image the same way at each resolution and write POOL/manifest.json.",
    )
    build.add_argument("--real", type=Path, required=True, help="folder of real images (searched recursively)")
    build.add_argument("--synthetic", type=Path, required=True, help="folder of synthetic images")
    build.add_argument("--catch", type=Path, default=None, metavar="DIR",
                       help="folder of catch-trial images (obviously fake attention checks, searched "
                            "recursively); recorded as synthetic with role catch")
    build.add_argument("--out", type=Path, required=True, help="pool folder to create (must not exist)")
    build.add_argument("--resolutions", type=_resolutions, default=(32, 64, 128, 256),
                       help="comma-separated sizes in px (default 32,64,128,256)")
    build.add_argument("--seed", type=int, default=0, help="seed for the shuffle and ids (default 0)")
    build.add_argument("--workers", type=_positive, default=None,
                       help=f"worker processes (default: all {os.cpu_count()} cores)")
    build.add_argument("--crop", choices=CROP_CHOICES, default="center", help="make images square (default center)")
    build.add_argument("--window", default="auto",
                       help="DICOM window: auto (from the file), lung, bone, brain, soft, or WIDTH,LEVEL")
    build.add_argument("--frames", choices=FRAME_CHOICES, default="first", help="multi-frame DICOM (default first)")
    build.add_argument("--color", choices=COLOR_CHOICES, default="refuse",
                       help="colour images: refuse them or convert to grey (default refuse)")
    build.add_argument("--generator-name", default=None, help="generator name recorded for the synthetic images")
    build.add_argument("--slices", default="middle", metavar="RULE",
                       help="which slices of volumes (NIfTI files, DICOM series folders) become images: middle "
                            "(default), every:K, list:3,7,12, or mask:SUFFIX / mask:FOLDER (slices where the "
                            "volume's mask, such as ct_seg.nii.gz next to ct.nii.gz for mask:_seg, is non-zero)")
    labels = build.add_mutually_exclusive_group()
    labels.add_argument("--labels", type=Path, default=None, metavar="FILE",
                        help="CSV of labels: a label column and a file column (paths below --real/--synthetic, "
                             "such as real/case1.dcm) or a source_id column")
    labels.add_argument("--labels-from-folders", action="store_true",
                        help="label each image by the first folder below --real or --synthetic that holds it")
    flagged = build.add_mutually_exclusive_group()
    flagged.add_argument("--exclude-flagged", type=Path, default=None, metavar="FILE",
                         help="leave out the synthetic images that a quality report (`python -m generation "
                              "quality`) flagged as possible copies of training images: give its flagged.json. "
                              "Without this option, a flagged.json in the --synthetic folder or in the folder "
                              "that holds it is applied, and the build says so")
    flagged.add_argument("--keep-flagged", action="store_true",
                         help="keep the flagged images in the pool (the manifest still lists them as flagged)")
    build.set_defaults(func=build_command)


def _add_check(commands) -> None:
    check = commands.add_parser("check", help="verify a pool's files and compare the classes")
    check.add_argument("pool", type=Path, help="pool folder")
    check.set_defaults(func=check_command)


def _resolutions(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of sizes such as 32,64,128")
    if any(size < 1 for size in sizes):
        raise argparse.ArgumentTypeError(f"sizes must be positive, got {text!r}")
    return sizes


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return value


def build_command(args: argparse.Namespace) -> int:
    try:
        summary = build_pool(
            args.real, args.synthetic, args.out,
            resolutions=args.resolutions, seed=args.seed, workers=args.workers,
            crop=args.crop, window=args.window, frames=args.frames, color=args.color,
            generator_name=args.generator_name, progress=sys.stderr.isatty(), created_by=CREATED_BY,
            catch_dir=args.catch, slices=args.slices, labels=args.labels,
            labels_from_folders=args.labels_from_folders, exclude_flagged=args.exclude_flagged,
            keep_flagged=args.keep_flagged,
        )
    except PoolError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"interrupted; nothing was written to {args.out}", file=sys.stderr)
        return 130
    except OSError as exc:  # e.g. disk full or no permission to write next to --out
        print(f"error: could not write the pool ({exc}); nothing was written to {args.out}", file=sys.stderr)
        return 1
    print(summary.format())
    return 0


def check_command(args: argparse.Namespace) -> int:
    from generation.check import check_pool, format_result  # scipy/pandas only when needed

    if not args.pool.is_dir():
        print(f"error: {args.pool} is not a folder", file=sys.stderr)
        return 1
    result = check_pool(args.pool)
    print(format_result(result))
    return 1 if result.errors else 0

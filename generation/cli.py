"""Command line: `python -m generation pool build|check`, plus the demo, GAN and quality
commands that generation.demo, generation.gan.cli and generation.quality.cli register themselves."""

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

DESCRIPTION = """\
Prepare the images of a visual Turing test: train a generator and draw synthetic images, measure
them against the real ones, and build a pool in which real and synthetic images are rendered the
same way at every resolution, under opaque names, for the web app (`manage.py import_pool`)."""

BUILD_DESCRIPTION = """\
Decode every real and synthetic image (DICOM, NIfTI, PNG, JPEG, TIFF), render both classes the
same way at each resolution and write a new pool folder:
  OUT/manifest.json   every image: class, resolution, source, generator and seed, label
  OUT/rejected.json   every file left out, with the reason (unreadable, duplicate, flagged ...)
  OUT/images/         the PNGs, under random names that reveal nothing
The same inputs and --seed give the same pool, byte for byte. Nothing is written unless the whole
pool is: a refused input or an interruption leaves no partial folder.

Read from the --synthetic folder, or from the folder that holds it:
  samples.json   written by `python -m generation sample`: each image's generator, checkpoint
                 hash and seed go into the manifest. A record whose files have changed is refused.
  flagged.json   written by `python -m generation quality`: the images it flags as possible copies
                 of training images are left out of the pool (and listed in rejected.json and the
                 manifest); the build says so. --keep-flagged keeps them; --exclude-flagged FILE
                 names a flagged.json kept elsewhere."""

BUILD_EPILOG = """\
examples:
  python -m generation pool build --real /data/cxr/real --synthetic /data/cxr-gan/images \\
      --resolutions 64,128,256 --out /data/pools/cxr-v1
  python -m generation pool build --real /data/ct --synthetic /data/ct-gan/images --slices every:5 \\
      --labels-from-folders --exclude-flagged /data/ct-gan-quality/flagged.json --out /data/pools/ct-v1"""

CHECK_DESCRIPTION = """\
Check a pool before a study: every file is present, whole and the size the manifest says; every
source has an image at every resolution; the classes are balanced; and real and synthetic files do
not differ in what a reader could use instead of the image content (file size, mean grey, dynamic
range, saturation, fine detail). Exit status 1 when the manifest is unreadable, a file is missing
or damaged, or a source lacks a resolution; imbalance and differences between the classes are
warnings."""


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
    parser = argparse.ArgumentParser(prog="python -m generation", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    pool = commands.add_parser("pool", help="build or check a blinded image pool",
                               description="Build a blinded image pool from real and synthetic images, or check "
                                           "one. See `pool build --help` and `pool check --help`.")
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
        "build", help="render real and synthetic images alike and write a new pool",
        description=BUILD_DESCRIPTION, epilog=BUILD_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    build.add_argument("--real", type=Path, required=True, metavar="DIR",
                       help="folder of real images (searched through sub-folders)")
    build.add_argument("--synthetic", type=Path, required=True, metavar="DIR",
                       help="folder of synthetic images (searched through sub-folders), such as the images/ "
                            "folder that `sample` wrote")
    build.add_argument("--catch", type=Path, default=None, metavar="DIR",
                       help="folder of catch-trial images (obviously fake attention checks, searched "
                            "through sub-folders); they count as synthetic and serve only as attention checks")
    build.add_argument("--out", type=Path, required=True, metavar="DIR",
                       help="pool folder to create (must not exist yet)")
    build.add_argument("--resolutions", type=_resolutions, default=(32, 64, 128, 256), metavar="LIST",
                       help="comma-separated sizes in px at which every image is shown (default 32,64,128,256)")
    build.add_argument("--seed", type=int, default=0, metavar="N",
                       help="seed of the image order and the random file names (default 0)")
    build.add_argument("--workers", type=positive_int, default=None, metavar="N",
                       help=f"images decoded at once (default: one per core, {os.cpu_count()} here)")
    build.add_argument("--crop", choices=CROP_CHOICES, default="center",
                       help="how a non-square image is made square: center crops it, pad adds black borders "
                            "(default center)")
    build.add_argument("--window", default="auto",
                       help="grey-level window for CT and other DICOM: auto (the file's own), lung, bone, "
                            "brain, soft, or WIDTH,LEVEL (default auto)")
    build.add_argument("--frames", choices=FRAME_CHOICES, default="first",
                       help="which frames of a multi-frame DICOM file become images (default first)")
    build.add_argument("--color", choices=COLOR_CHOICES, default="refuse",
                       help="colour images: refuse them or convert them to grey (default refuse)")
    build.add_argument("--generator-name", default=None, metavar="NAME",
                       help="name of the generator recorded for the synthetic images (default: the one in "
                            "samples.json, if any)")
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
                         help="leave out the synthetic images that this flagged.json (REPORT/flagged.json from "
                              "`python -m generation quality --out REPORT`; the REPORT folder will do) flags as "
                              "possible copies of training images. Without it, "
                              "a flagged.json in the --synthetic folder or in the folder that holds it is applied")
    flagged.add_argument("--keep-flagged", action="store_true",
                         help="keep the flagged images in the pool (the manifest still lists them as flagged)")
    build.set_defaults(func=build_command)


def _add_check(commands) -> None:
    check = commands.add_parser("check", help="verify a pool's files and compare the classes",
                                description=CHECK_DESCRIPTION)
    check.add_argument("pool", type=Path, metavar="POOL", help="the pool folder (with manifest.json)")
    check.set_defaults(func=check_command)


def _resolutions(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of sizes such as 32,64,128")
    if any(size < 1 for size in sizes):
        raise argparse.ArgumentTypeError(f"sizes must be positive, got {text!r}")
    return sizes


def positive_int(text: str) -> int:
    """argparse type: a whole number of at least 1."""
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

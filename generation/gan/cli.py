"""`python -m generation train` and `python -m generation sample`: the commands a coordinator runs."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from generation.gan.config import ARCHS, GanConfig

TRAIN_DESCRIPTION = """\
Train a generator on a folder of real images, so that its samples can be shown to readers
beside the real ones.

What goes in: a folder of grey images (PNG, JPEG, TIFF or DICOM, searched through sub-folders),
all of one size; optionally one label per image (a CSV file with the columns file,label, or
one sub-folder per label), for a generator that draws a chosen label.

What comes out, in the --out folder:
  progressive.pt (or dcgan.pt)  the checkpoint: give it to `sample`; --resume continues from it
  config.json                   every setting of the run
  losses.csv                    the losses, augmentation strength and speed, every few steps
  grids/                        a sheet of samples at the end of each resolution stage

The default design is a progressive GAN (Karras et al. 2018) that learns 4 px images first and
doubles the resolution stage by stage up to the images' own size (or --resolution), with adaptive
augmentation against over-fitting on small data sets. A GPU is used when present. Training can be
stopped at any time (Ctrl-C, or killed): the last checkpoint is complete, and --resume continues
exactly where it was written."""

TRAIN_EPILOG = """\
examples:
  # chest X-rays at 256 px, the paper's network size, on the GPU
  python -m generation train --images /data/cxr-256 --out /runs/cxr-pgan --network paper
  # labelled spine MRI (one sub-folder per label), with an auxiliary classifier
  python -m generation train --images /data/spine --labels-from-folders --conditioning acgan --out /runs/spine
  # continue a stopped run, with a larger budget
  python -m generation train --images /data/cxr-256 --out /runs/cxr-pgan --resume --kimg 12000
  # 8 GPUs on one machine
  torchrun --nproc-per-node 8 -m generation train --images /data/cxr-256 --out /runs/cxr-pgan --network paper"""

SAMPLE_DESCRIPTION = """\
Draw synthetic images for a pool, and record how each one was made, so that any image can be
drawn again exactly (--verify does it for all of them).

What goes in, one of:
  --checkpoint FILE       a checkpoint written by `train`
  --torchscript FILE      a TorchScript module from any code base (called with noise z; see below)
  --entry-point MOD:FUNC  a Python function generate(n, seeds, labels) -> uint8 array (n, H, W)
  --folder DIR            images some other model already drew (copied and recorded with hashes)

What comes out, in the --out folder: images/sample_0000.png, ... (8- or 16-bit grey) and
samples.json, which names the generator (file name and hash) and gives every image's seed and
label. Give OUT/images to `pool build --synthetic`: it reads OUT/samples.json, records each image's
generator and seed in the pool, and refuses images changed since they were drawn.
Draw at or above the study's largest resolution
(--min-resolution refuses a generator that draws smaller images), so that real and synthetic
images go through the same resampling.

A TorchScript module is called as module(z) (or module(z, labels) when it has a `labels`
attribute listing label names) with z of shape (n, latent_dim), and returns (n, 1, H, W) or
(n, H, W) values in [-1, 1]; latent_dim is its `latent_dim` attribute or --latent-dim. An entry
point's image i must depend on seeds[i] and labels[i] only."""

SAMPLE_EPILOG = """\
examples:
  python -m generation sample --checkpoint /runs/cxr-pgan/progressive.pt --count 500 --out /data/cxr-gan
  python -m generation sample --checkpoint /runs/spine/progressive.pt --count 200 --label fracture --out /data/spine-fx
  python -m generation sample --entry-point mygan.export:generate --count 500 --out /data/other-gan
  python -m generation sample --folder /exports/diffusion-cxr --out /data/diffusion-cxr
  python -m generation sample --verify /data/cxr-gan/samples.json"""


def register(subparsers: argparse._SubParsersAction) -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    train = subparsers.add_parser("train", help="train a GAN on a folder of real images",
                                  description=TRAIN_DESCRIPTION, epilog=TRAIN_EPILOG, formatter_class=formatter)
    inputs = train.add_argument_group("input and output")
    inputs.add_argument("--images", type=Path, required=True, metavar="DIR", help="folder of training images")
    inputs.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for the run (created)")
    inputs.add_argument("--resume", action="store_true", help="continue the run already in --out")
    inputs.add_argument("--labels-csv", type=Path, metavar="CSV", help="labels: a CSV file with columns file,label")
    inputs.add_argument("--labels-from-folders", action="store_true", help="labels: each image's sub-folder name")
    inputs.add_argument("--window", default="auto", help="DICOM window: auto, lung, bone, brain, soft or W,L")
    model = train.add_argument_group("model")
    model.add_argument("--arch", choices=ARCHS, default="progressive", help="design (default %(default)s)")
    model.add_argument("--resolution", "--size", type=int, dest="resolution", metavar="PX",
                       help="training resolution, a power of two (default: the images' own size)")
    model.add_argument("--network", choices=("small", "paper"), default="small",
                       help="small: runs on a laptop CPU; paper: the paper's widths (latent 512, up to 512 "
                            "channels), for a GPU (default %(default)s)")
    model.add_argument("--conditioning", choices=("projection", "acgan"),
                       help="how labels steer the generator (default with labels: projection)")
    budget = train.add_argument_group("budget (training stops at the first one reached)")
    budget.add_argument("--kimg", type=float, help="thousands of training images to show "
                                                   "(default, progressive: the end of the growth schedule)")
    budget.add_argument("--steps", type=int, help="training steps")
    budget.add_argument("--seconds", type=float, help="training time in seconds")
    tuning = train.add_argument_group("tuning")
    tuning.add_argument("--batch-size", type=int, default=GanConfig.batch_size,
                        help="images per training step (default %(default)s)")
    tuning.add_argument("--fade-kimg", type=float, default=GanConfig.fade_images / 1000,
                        help="thousands of images per fade-in (default %(default)g)")
    tuning.add_argument("--stable-kimg", type=float, default=GanConfig.stable_images / 1000,
                        help="thousands of images per resolution after its fade-in (default %(default)g)")
    tuning.add_argument("--augment", choices=("ada", "fixed", "off"), default="ada",
                        help="adaptive augmentation (default), a fixed probability (--augment-p) or none")
    tuning.add_argument("--augment-p", type=float, default=0.0,
                        help="probability of augmenting an image: where adaptive augmentation starts, or the fixed "
                             "value (default 0)")
    tuning.add_argument("--r1-gamma", type=float, default=GanConfig.r1_gamma,
                        help="strength of the R1 penalty on the discriminator (default %(default)s)")
    tuning.add_argument("--lr", type=float, help="learning rate (default: the design's)")
    tuning.add_argument("--checkpoint-every", type=int, default=GanConfig.checkpoint_every, metavar="STEPS",
                        help="write a checkpoint every STEPS steps (default %(default)s)")
    tuning.add_argument("--seed", type=int, default=0, help="seed of the run (default 0)")
    tuning.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda or cuda:N")
    train.set_defaults(func=train_command)

    sample = subparsers.add_parser("sample", help="draw synthetic images and record how each was made",
                                   description=SAMPLE_DESCRIPTION, epilog=SAMPLE_EPILOG, formatter_class=formatter)
    source = sample.add_mutually_exclusive_group(required=True)
    source.add_argument("--checkpoint", type=Path, metavar="FILE", help="checkpoint written by train")
    source.add_argument("--torchscript", type=Path, metavar="FILE", help="TorchScript generator (torch.jit.save)")
    source.add_argument("--entry-point", metavar="MODULE:FUNCTION",
                        help="a Python function generate(n, seeds, labels) returning images")
    source.add_argument("--folder", type=Path, metavar="DIR", help="folder of images drawn elsewhere")
    source.add_argument("--verify", type=Path, metavar="SAMPLES_JSON", help="draw every recorded image again and "
                                                                            "compare")
    sample.add_argument("--out", type=Path, metavar="DIR", help="new (or empty) folder for images/ and samples.json")
    sample.add_argument("--count", type=int, metavar="N", help="number of images (not with --folder)")
    sample.add_argument("--seed", type=int, default=0, help="seed of the whole set (default 0)")
    sample.add_argument("--label", help="draw every image with this label (default: the labels in turn)")
    sample.add_argument("--labels", help="comma-separated label names an entry point knows")
    sample.add_argument("--bits", type=int, choices=(8, 16), default=8, help="PNG bit depth (default 8)")
    sample.add_argument("--min-resolution", type=int, metavar="PX",
                        help="refuse a generator that draws images smaller than PX (the study's largest resolution)")
    sample.add_argument("--latent-dim", type=int,
                        help="noise length for a TorchScript module without a latent_dim attribute")
    sample.add_argument("--name", help="generator name to record for --folder (default: folder:<its name>)")
    sample.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    sample.set_defaults(func=sample_command)


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _created_by() -> str:
    return "python -m generation " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def load_image_folder(folder: Path, size: int):
    """All images below `folder` as (N, size, size) floats in [0, 1] (the demo trains on these)."""
    from generation.gan.data import load_training_set

    return load_training_set(folder, size).images.astype("float32") / 255.0


def build_config(args: argparse.Namespace, data) -> GanConfig:
    labels = list(data.label_names)
    values = dict(arch=args.arch, image_size=data.size, batch_size=args.batch_size, seed=args.seed,
                  fade_images=round(args.fade_kimg * 1000), stable_images=round(args.stable_kimg * 1000),
                  augment=args.augment, augment_p=args.augment_p, r1_gamma=args.r1_gamma, lr=args.lr,
                  checkpoint_every=args.checkpoint_every, labels=labels,
                  conditioning=(args.conditioning or "projection") if labels else "none",
                  max_images=round(args.kimg * 1000) if args.kimg else None, max_steps=args.steps,
                  seconds=args.seconds)
    if args.conditioning and not labels:
        raise ValueError(f"--conditioning {args.conditioning} needs labels: give --labels-csv or --labels-from-folders")
    if args.network == "paper":
        return GanConfig.paper(**values)
    return GanConfig(**values)


def train_command(args: argparse.Namespace) -> int:
    from generation.gan import checkpoint, distributed
    from generation.gan.data import load_training_set
    from generation.gan.train import train

    started, rank = False, 0
    try:
        started = distributed.start_from_environment(args.device)
        rank = distributed.rank_and_world()[0]
        data = load_training_set(args.images, args.resolution, labels_csv=args.labels_csv,
                                 labels_from_folders=args.labels_from_folders, window=args.window)
        config = build_config(args, data)
        if args.resume:
            config = _resumed_config(args, config)
        elif (args.out / checkpoint.checkpoint_name(config)).exists():
            return _fail(f"{args.out} already holds a run: add --resume to continue it, or choose a new --out")
        path = train(data, config, args.out, device=args.device, resume=args.resume,
                     log=lambda line: print(line, flush=True), progress=sys.stderr.isatty())
    except (ValueError, RuntimeError, FileNotFoundError) as error:
        return _fail(str(error))
    finally:
        if started:
            distributed.stop()
    if rank == 0:
        print(path)
    return 0


def _resumed_config(args: argparse.Namespace, asked: GanConfig) -> GanConfig:
    """The saved run's configuration with the budgets of this command (the rest must not change)."""
    import json

    saved_path = args.out / "config.json"
    if not saved_path.is_file():
        raise ValueError(f"--resume: {args.out} holds no run (no config.json); leave --resume out to start one")
    saved = GanConfig.from_dict(json.loads(saved_path.read_text()))
    budgets = {name: getattr(asked, name) for name in ("seconds", "max_steps", "max_images")
               if getattr(asked, name) is not None}
    return GanConfig.from_dict({**saved.to_dict(), **budgets, "checkpoint_every": asked.checkpoint_every})


def sample_command(args: argparse.Namespace) -> int:
    from generation.gan import sample

    try:
        if args.verify is not None:
            return _verify(args.verify)
        if args.out is None:
            return _fail("give --out, a new or empty folder for the images")
        if args.out.exists() and any(args.out.iterdir()):
            return _fail(f"{args.out} is not empty: give a new or empty folder, so no older image is mixed in")
        if args.folder is not None:
            if args.count is not None:
                return _fail("--count does not apply to --folder: every image in the folder is recorded")
            index = sample.copy_folder(args.folder, args.out / "images", index_path=args.out / "samples.json",
                                       name=args.name, created_by=_created_by())
        else:
            if args.count is None or args.count < 1:
                return _fail(f"--count must be at least 1, got {args.count}")
            kind, spec = next((k, v) for k, v in (("checkpoint", args.checkpoint), ("torchscript", args.torchscript),
                                                  ("entry-point", args.entry_point)) if v is not None)
            if kind == "entry-point" and os.getcwd() not in sys.path:
                sys.path.insert(0, os.getcwd())
            labels = [name.strip() for name in args.labels.split(",")] if args.labels else None
            source = sample.open_source(kind, str(spec), device=args.device, latent_dim=args.latent_dim,
                                        label_names=labels)
            index = sample.write_samples(source, args.count, seed=args.seed, out_dir=args.out / "images",
                                         index_path=args.out / "samples.json", bits=args.bits,
                                         label=args.label, min_resolution=args.min_resolution,
                                         created_by=_created_by())
    except (FileNotFoundError, ValueError, RuntimeError) as error:
        return _fail(str(error))
    print(f"wrote {len(index['images'])} images to {args.out / 'images'} and their records to "
          f"{args.out / 'samples.json'} (generator {index['checkpoint']})")
    return 0


def _verify(manifest: Path) -> int:
    from generation.gan.sample import verify_samples

    if not manifest.is_file():
        return _fail(f"{manifest} does not exist: give the samples.json that `sample` wrote")
    different = verify_samples(manifest)
    if different:
        print(f"{len(different)} images differ from what their records draw: {', '.join(different[:5])}",
              file=sys.stderr)
        return 1
    print(f"every image recorded in {manifest} is drawn again exactly from its record")
    return 0

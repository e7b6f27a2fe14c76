"""Benchmark the demo GAN: training steps per second and sampling images per second, on the CPU
(always: the baseline, measured in the same run) and on CUDA when torch sees a GPU.

    .venv/bin/python bench/gan_train.py [--configs demo,large] [--cpu-steps 16] [--cuda-steps 160]

Configs: `demo` is the shipped checkpoint's (128 px, batch 16, `generation/checkpoints/README.md`),
`large` is 256 px, batch 64. Training goes through `generation.gan.train.train` itself (bf16
autocast on CUDA, lazy R1, EMA): the clock starts after the warm-up steps and stops after the timed
ones, CUDA synchronised at both ends, so set-up and the checkpoint write are left out. Any run of
16 consecutive steps holds exactly one R1 step (r1_every = 16), so timing a multiple of 16 steps
weighs R1 as training does. Sampling goes through `generation.gan.sample.sample` (noise drawn per
seed on the CPU, images back as numpy), after one warm-up call. Needs torch, numpy and Pillow only.
Prints markdown tables and a machine line; asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from generation.gan.config import GanConfig  # noqa: E402
from generation.gan.sample import load_generator, sample  # noqa: E402
from generation.gan.train import train  # noqa: E402

CONFIGS = {
    "demo": dict(image_size=128, batch_size=16),  # generation/checkpoints/config.json
    "large": dict(image_size=256, batch_size=64),
}
TRAINING_IMAGES = 256


def training_images(size: int, count: int = TRAINING_IMAGES, seed: int = 0) -> np.ndarray:
    """Smooth random grey images in [0, 1] (content does not change the speed; no scipy needed)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    images = np.empty((count, size, size), dtype=np.float32)
    for i in range(count):
        cx, cy, r = rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7), rng.uniform(0.1, 0.35)
        blob = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * r**2))
        images[i] = 0.7 * blob + 0.3 * rng.random((size, size))
    return images / images.max()


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_training(config: GanConfig, images: np.ndarray, device: torch.device, warmup: int, steps: int,
                  out_dir: Path) -> tuple[float, Path]:
    """Seconds for `steps` training steps after `warmup` ones, and the checkpoint the run wrote."""
    marks: dict[int, float] = {}

    def on_step(done: int) -> None:
        if done in (warmup, warmup + steps):
            synchronize(device)
            marks[done] = time.perf_counter()

    started = time.perf_counter()
    path = train(images, config, out_dir, device=device, log=lambda _: None, on_step=on_step)
    if warmup == 0:
        marks[0] = started
    if len(marks) != 2:
        raise RuntimeError(f"training stopped early on {device} (steps marked: {sorted(marks)})")
    return marks[warmup + steps] - marks[warmup], path


def time_sampling(checkpoint: Path, device: torch.device, count: int) -> float:
    """Seconds for `sample(generator, count)` on `device`, after one warm-up call."""
    generator = load_generator(checkpoint, device=device)
    sample(generator, min(count, 64), seed=1)
    synchronize(device)
    started = time.perf_counter()
    sample(generator, count, seed=0)  # numpy out: the work is finished when it returns
    return time.perf_counter() - started


def machine_line(devices: list[torch.device]) -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:
            cpu = next(line.split(":", 1)[1].strip() for line in info if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    parts = [f"torch {torch.__version__}", f"python {platform.python_version()}",
             f"CPU {cpu}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads"]
    if any(d.type == "cuda" for d in devices):
        props = torch.cuda.get_device_properties(0)
        parts.append(f"GPU {props.name} ({props.total_memory / 2**30:.0f} GiB, CUDA {torch.version.cuda}, "
                     f"cuDNN {torch.backends.cudnn.version()})")
    else:
        parts.append("no GPU")
    return "machine: " + "; ".join(parts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default="demo,large", help=f"comma-separated, of {', '.join(CONFIGS)}")
    parser.add_argument("--devices", default="auto", help="comma-separated (cpu, cuda); auto: cpu, and cuda if present")
    parser.add_argument("--cpu-warmup", type=int, default=1)
    parser.add_argument("--cpu-steps", type=int, default=16, help="timed steps on the CPU, per config")
    parser.add_argument("--cpu-large-steps", type=int, default=4,
                        help="timed steps on the CPU for the large config (slow there; fewer than 16 skews R1)")
    parser.add_argument("--cuda-warmup", type=int, default=20)
    parser.add_argument("--cuda-steps", type=int, default=160, help="timed steps on CUDA, per config")
    parser.add_argument("--cpu-samples", type=int, default=256, help="images sampled on the CPU, per config")
    parser.add_argument("--cuda-samples", type=int, default=4096, help="images sampled on CUDA, per config")
    args = parser.parse_args()

    names = [n.strip() for n in args.configs.split(",") if n.strip()]
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        parser.error(f"unknown configs {unknown}; known: {', '.join(CONFIGS)}")
    if args.devices == "auto":
        devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    else:
        devices = [torch.device(d.strip()) for d in args.devices.split(",")]

    train_rows, sample_rows = [], []
    with tempfile.TemporaryDirectory() as folder:
        for name in names:
            config_values = CONFIGS[name]
            images = training_images(config_values["image_size"])
            for device in devices:
                cuda = device.type == "cuda"
                warmup = args.cuda_warmup if cuda else args.cpu_warmup
                steps = args.cuda_steps if cuda else (args.cpu_large_steps if name == "large" else args.cpu_steps)
                config = GanConfig(**config_values, max_steps=warmup + steps, seconds=1e9)
                r1_steps = sum(1 for s in range(warmup, warmup + steps) if s % config.r1_every == 0)
                seconds, checkpoint = time_training(config, images, device, warmup, steps,
                                                    Path(folder) / f"{name}-{device.type}")
                train_rows.append((name, config, device, steps, r1_steps, seconds))
                count = args.cuda_samples if cuda else args.cpu_samples
                sample_rows.append((name, config, device, count, time_sampling(checkpoint, device, count)))
                print(f"  done: {name} on {device} ({seconds:.2f} s for {steps} steps)", file=sys.stderr, flush=True)

    print("### Training (generation.gan.train.train)\n")
    print("| config | device | image px | batch | timed steps (R1) | seconds | steps/s | images/s | vs CPU |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for name, config, device, steps, r1_steps, seconds in train_rows:
        rate = steps / seconds
        base = next((s / t for n, _, d, s, _, t in train_rows if n == name and d.type == "cpu"), None)
        versus = f"{rate / base:.1f}x" if base else "-"
        print(f"| {name} | {device.type} | {config.image_size} | {config.batch_size} | {steps} ({r1_steps}) | "
              f"{seconds:.2f} | {rate:.2f} | {rate * config.batch_size:.0f} | {versus} |")
    print("\n### Sampling (generation.gan.sample.sample, fp32)\n")
    print("| config | device | image px | images | seconds | images/s | vs CPU |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name, config, device, count, seconds in sample_rows:
        base = next((c / t for n, _, d, c, t in sample_rows if n == name and d.type == "cpu"), None)
        versus = f"{count / seconds / base:.1f}x" if base else "-"
        print(f"| {name} | {device.type} | {config.image_size} | {count} | {seconds:.2f} | "
              f"{count / seconds:.0f} | {versus} |")
    print()
    print(machine_line(devices))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

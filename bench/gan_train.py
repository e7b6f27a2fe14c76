"""Benchmark Mirage's GANs: training and sampling images/s, FLOPs per image and FLOP utilisation,
on the CPU (always) and on CUDA when torch sees a GPU.

    .venv/bin/python bench/gan_train.py [--configs demo,small-64,small-256,paper-64,paper-256]

Configs (each progressive one at its final stage, no growth, so every step has the final shapes):
  demo       the shipped demo DCGAN (128 px, generation/checkpoints/config.json)
  small-R    the progressive GAN of `train --network small` (latent 128, up to 128 channels) at R px
  paper-R    the progressive GAN at the paper's size (`--network paper`: latent 512, up to 512
             channels, Karras et al. 2018) at R px
Batch sizes are stated in the table: on CUDA 32 (64 px) and 16 (256 px) for the paper networks
(the paper: 16 up to 128 px, 14 at 256 px) and 64 for the small ones; on the CPU smaller ones, so
that the whole CPU run takes a few minutes on an idle 2-core machine.

Training goes through `generation.gan.trainer.Trainer.train_step` itself (bf16 autocast on CUDA,
R1 in float32, EMA, augmentation at a fixed p = 0.3, as ADA reaches on small data sets). Plain
steps and R1 steps (one in every r1_every = 16) are timed apart and weighed as training weighs
them: images/s = batch / (t_plain + (t_r1 - t_plain) / 16). Sampling goes through
`generation.gan.sample.generate` (full batches of 16, float32, deterministic cuDNN, numpy out).
FLOPs per image are counted with torch.utils.flop_counter.FlopCounterMode (matmuls and
convolutions, forward and backward, R1's double backward included, weighed like the time) by
running the same Trainer on the meta device, where tensors have shapes but no data.

FLOP utilisation is the counted FLOPs per image times images/s over the device's peak: for the
CPU, the float32 matmul rate measured in this run (torch.mm, all threads); for CUDA, the GPU's
dense bf16 peak from the table below (training runs in bf16; sampling runs in float32, so its
figure against the bf16 peak is a floor). Needs torch, numpy and Pillow only. Asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from generation.gan.config import GanConfig  # noqa: E402
from generation.gan.data import TrainingSet  # noqa: E402
from generation.gan.device import cuda_settings  # noqa: E402
from generation.gan.networks import build_generator  # noqa: E402
from generation.gan.sample import SAMPLE_BATCH, generate, image_seed  # noqa: E402
from generation.gan.trainer import Trainer  # noqa: E402

ANCHOR = ("NVIDIA's published stylegan2-ada figure at 256 px on one V100 is about 43 images/s "
          "(a different model)")
FINAL_STAGE = dict(fade_images=0, stable_images=0, augment="fixed", augment_p=0.3)
CONFIGS = {
    "demo": lambda: GanConfig(arch="dcgan", augment="off", image_size=128),
    "small-64": lambda: GanConfig(image_size=64, **FINAL_STAGE),
    "small-256": lambda: GanConfig(image_size=256, **FINAL_STAGE),
    "paper-64": lambda: GanConfig.paper(64, **FINAL_STAGE),
    "paper-256": lambda: GanConfig.paper(256, **FINAL_STAGE),
}
# Images per step: (CPU, CUDA). The paper used 16 up to 128 px (then fewer); the CPU gets small
# batches of the paper networks, which take seconds per step there.
BATCHES = {"demo": (16, 16), "small-64": (16, 64), "small-256": (8, 64), "paper-64": (4, 32), "paper-256": (2, 16)}

# Dense bf16 tensor-core peaks in FLOP/s, from the vendors' data sheets (V100, T4: fp16, no bf16).
GPU_PEAKS = [("H200", 989e12), ("H100 PCIe", 756e12), ("H100", 989e12), ("A100", 312e12), ("L40S", 362e12),
             ("L4", 121e12), ("V100", 125e12), ("T4", 65e12)]


def training_set(size: int, count: int = 64, seed: int = 0) -> TrainingSet:
    """Smooth random grey images (content does not change the speed)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    images = np.empty((count, size, size), dtype=np.float32)
    for i in range(count):
        cx, cy, r = rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.7), rng.uniform(0.1, 0.35)
        images[i] = 0.7 * np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * r**2)) + 0.3 * rng.random((size, size))
    return TrainingSet.from_floats(images / images.max())


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed_step(trainer: Trainer, r1: bool) -> float:
    """Seconds for one training step, with or without the R1 penalty."""
    every = trainer.config.r1_every
    trainer.step = (trainer.step // every + 1) * every if r1 else trainer.step + (trainer.step % every == 0)
    synchronize(trainer.device)
    started = time.perf_counter()
    trainer.train_step()
    synchronize(trainer.device)
    return time.perf_counter() - started


class _NoModuleTracking:
    parents = {"Global"}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def counted_flops(function) -> int:
    """FLOPs of the matmuls and convolutions `function` runs, forward and backward.

    FlopCounterMode's per-module tracking hooks into autograd in a way torch.autograd.grad (R1's
    double backward) refuses, so the counter runs with a tracker that puts everything under
    "Global": the total is the same.
    """
    counter = FlopCounterMode(display=False)
    counter.mod_tracker = _NoModuleTracking()
    with counter:
        function()
    return counter.get_total_flops()


def flops_per_image(config: GanConfig) -> tuple[float, float]:
    """FLOPs per image of a training step (R1 weighed in as training weighs it) and of sampling.

    Counted on the meta device: the very code runs on tensors that have shapes and no data, so
    nothing is computed and the count costs nothing.
    """
    with tempfile.TemporaryDirectory() as folder:
        trainer = Trainer(training_set(config.image_size, count=config.batch_size), config, folder,
                          device="meta", log=lambda _: None)
        with_r1 = counted_flops(trainer.train_step)  # step 0 applies R1
        plain = counted_flops(trainer.train_step)
    training = (plain + (with_r1 - plain) / config.r1_every) / config.batch_size
    z = torch.zeros(SAMPLE_BATCH, config.latent_dim, device="meta")
    with torch.no_grad():
        sampling = counted_flops(lambda: trainer.G_ema(z)) / SAMPLE_BATCH
    return training, sampling


def bench_training(config: GanConfig, device: torch.device, warmup: int, plain: int, with_r1: int) -> dict:
    data = training_set(config.image_size)
    with tempfile.TemporaryDirectory() as folder:  # the trainer writes nothing unless told to save
        trainer = Trainer(data, config, folder, device=device, log=lambda _: None)
        for _ in range(warmup):
            timed_step(trainer, r1=False)
        t_plain = min(timed_step(trainer, r1=False) for _ in range(plain))
        t_r1 = min(timed_step(trainer, r1=True) for _ in range(with_r1))
    step = t_plain + (t_r1 - t_plain) / config.r1_every
    return {"images_per_s": config.batch_size / step, "t_plain": t_plain, "t_r1": t_r1}


def bench_sampling(config: GanConfig, device: torch.device, batches: int, warmup: bool) -> dict:
    torch.manual_seed(0)
    generator = build_generator(config).to(device).eval()
    seeds = [image_seed(0, i) for i in range(SAMPLE_BATCH * batches)]
    if warmup:
        generate(generator, seeds[:SAMPLE_BATCH])
    synchronize(device)
    started = time.perf_counter()
    generate(generator, seeds)  # numpy out: the work is finished when it returns
    return {"images_per_s": len(seeds) / (time.perf_counter() - started)}


def cpu_matmul_peak(size: int = 2048, repeats: int = 10) -> float:
    """The best float32 torch.mm rate of this CPU, all torch threads (FLOP/s)."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    best = min(_seconds(lambda: torch.mm(a, b)) for _ in range(repeats))
    return 2 * size**3 / best


def _seconds(function) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started


def gpu_peak(device: torch.device) -> tuple[float | None, str]:
    name = torch.cuda.get_device_name(device)
    for key, peak in GPU_PEAKS:
        if key in name:
            return peak, f"{name}: {peak / 1e12:.0f} TFLOP/s dense bf16 (data sheet)"
    return None, f"{name}: peak unknown (add it to GPU_PEAKS)"


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
    parser.add_argument("--configs", default=",".join(CONFIGS), help=f"comma-separated, of {', '.join(CONFIGS)}")
    parser.add_argument("--devices", default="auto", help="comma-separated (cpu, cuda); auto: cpu, and cuda if present")
    parser.add_argument("--cpu-steps", type=int, default=3, help="timed plain steps on the CPU (small configs)")
    parser.add_argument("--cuda-warmup", type=int, default=10)
    parser.add_argument("--cuda-steps", type=int, default=30, help="timed plain steps on CUDA (and a third as many R1)")
    parser.add_argument("--cuda-sample-batches", type=int, default=32, help="batches of 16 sampled on CUDA")
    args = parser.parse_args()

    names = [n.strip() for n in args.configs.split(",") if n.strip()]
    unknown = [n for n in names if n not in CONFIGS]
    if unknown:
        parser.error(f"unknown configs {unknown}; known: {', '.join(CONFIGS)}")
    if args.devices == "auto":
        devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    else:
        devices = [torch.device(d.strip()) for d in args.devices.split(",")]

    peaks, peak_lines = {}, {}
    for device in devices:
        if device.type == "cpu":
            peaks["cpu"] = cpu_matmul_peak()
            peak_lines["cpu"] = f"CPU: {peaks['cpu'] / 1e9:.0f} GFLOP/s float32 torch.mm 2048^3, measured in this run"
        else:
            peaks["cuda"], line = gpu_peak(device)
            peak_lines["cuda"] = f"GPU {line}"

    rows = []
    for name in names:
        for device in devices:
            cuda = device.type == "cuda"
            config = dataclasses.replace(CONFIGS[name](), batch_size=BATCHES[name][1 if cuda else 0])
            if cuda:
                warmup, plain, with_r1 = args.cuda_warmup, args.cuda_steps, max(1, args.cuda_steps // 3)
                sample_batches, sample_warmup = args.cuda_sample_batches, True
            elif name.startswith("paper"):  # seconds per step: no warm-up, one step of each kind
                warmup, plain, with_r1, sample_batches, sample_warmup = 0, 1, 1, 1, False
            else:
                warmup, plain, with_r1, sample_batches, sample_warmup = 1, args.cpu_steps, 1, 4, True
            started = time.perf_counter()
            with cuda_settings(benchmark=True) if cuda else contextlib.nullcontext():
                trained = bench_training(config, device, warmup, plain, with_r1)
            sampled = bench_sampling(config, device, sample_batches, sample_warmup)
            trained["flops_per_image"], sampled["flops_per_image"] = flops_per_image(config)
            rows.append((name, config, device, trained, sampled))
            print(f"  done: {name} on {device.type} in {time.perf_counter() - started:.0f} s", file=sys.stderr,
                  flush=True)

    if "cpu" in peaks:  # the machine may be shared: measure again, keep the better of the two
        peaks["cpu"] = max(peaks["cpu"], cpu_matmul_peak())
        peak_lines["cpu"] = (f"CPU: {peaks['cpu'] / 1e9:.0f} GFLOP/s float32 torch.mm 2048^3, the better of two "
                         "measurements in this run (before and after)")

    print("### GAN training and sampling (generation.gan.trainer.Trainer, generation.gan.sample.generate)\n")
    print("| config | device | px | batch | train images/s | train GFLOP/image | train FLOP util. "
          "| sample images/s | sample GFLOP/image | sample FLOP util. | train vs CPU |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, config, device, trained, sampled in rows:
        peak = peaks.get(device.type)
        base = next((t["images_per_s"] for n, _, d, t, _ in rows if n == name and d.type == "cpu"), None)
        versus = f"{trained['images_per_s'] / base:.1f}x" if base else "-"
        print(f"| {name} | {device.type} | {config.image_size} | {config.batch_size} | "
              f"{_figure(trained['images_per_s'])} | {_figure(trained['flops_per_image'] / 1e9)} | "
              f"{_share(trained, peak)} | {_figure(sampled['images_per_s'])} | "
              f"{_figure(sampled['flops_per_image'] / 1e9)} | "
              f"{_share(sampled, peak)} | {versus} |")
    print()
    print("Peaks: " + "; ".join(peak_lines.values()))
    print(f"Anchor: {ANCHOR}.")
    print(machine_line(devices))
    return 0


def _figure(value: float) -> str:
    """Three significant digits, never in exponent form."""
    return f"{value:.3g}" if value < 1000 else f"{value:,.0f}"


def _share(result: dict, peak: float | None) -> str:
    if not peak:
        return "-"
    return f"{result['images_per_s'] * result['flops_per_image'] / peak:.1%}"


if __name__ == "__main__":
    raise SystemExit(main())

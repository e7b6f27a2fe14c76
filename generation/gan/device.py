"""The device, chosen once per run: CUDA when present, else the CPU; and exact cuDNN for sampling."""

from __future__ import annotations

import contextlib

import torch


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """The given device; "auto" or None: CUDA when torch sees a GPU, else the CPU."""
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for but torch sees no GPU here: use --device auto or cpu")
    return device


@contextlib.contextmanager
def exact_cudnn():
    """cuDNN in plain float32 (no TF32) with deterministic algorithms; the settings are restored after.

    By default cuDNN convolves float32 in TF32 (10-bit mantissa) and may pick algorithms whose sums
    vary from run to run: on an H100 the same seeds then gave images up to 7e-3 from the CPU's
    (8-bit pixels off by up to 2) and not bit-identical from one draw to the next.
    """
    with cuda_settings(deterministic=True, benchmark=False, tf32=False):
        yield


@contextlib.contextmanager
def cuda_settings(*, deterministic: bool | None = None, benchmark: bool | None = None, tf32: bool | None = None):
    """Set cuDNN's deterministic and benchmark modes and TF32 (None: leave as is); restore them after.

    benchmark lets cuDNN time its algorithms per shape and keep the fastest, which may differ
    from one process to the next: it is off wherever results must repeat bit for bit.
    """
    cudnn, matmul = torch.backends.cudnn, torch.backends.cuda.matmul
    before = cudnn.deterministic, cudnn.benchmark, cudnn.allow_tf32, matmul.allow_tf32
    if deterministic is not None:
        cudnn.deterministic = deterministic
    if benchmark is not None:
        cudnn.benchmark = benchmark
    if tf32 is not None:
        cudnn.allow_tf32 = matmul.allow_tf32 = tf32
    try:
        yield
    finally:
        cudnn.deterministic, cudnn.benchmark, cudnn.allow_tf32, matmul.allow_tf32 = before

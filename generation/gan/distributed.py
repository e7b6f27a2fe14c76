"""Training on several processes (one per GPU, or gloo on the CPU), started by torchrun.

    torchrun --nproc-per-node 8 -m generation train --images DIR --out RUN ...

torchrun sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and MASTER_PORT; `start_from_environment`
joins the process group (NCCL when CUDA is present, gloo otherwise). Each process trains on its
own slice of every batch (`config.batch_size` is the batch of all processes together) and
DistributedDataParallel averages the gradients, so a step on P processes computes what one
process computes on the whole batch. One gradient is averaged by hand (`average_gradients`): the
R1 penalty's, since DDP's gradient hooks do not follow the double backward through
`torch.autograd.grad`.
"""

from __future__ import annotations

import datetime
import os

import torch
import torch.distributed as dist


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def rank_and_world() -> tuple[int, int]:
    if is_distributed():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def start_from_environment(device: str | None = None) -> bool:
    """Join the process group torchrun describes in the environment; False when not under torchrun."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or is_distributed():
        return False
    use_cuda = torch.cuda.is_available() and (device in (None, "auto") or str(device).startswith("cuda"))
    if use_cuda:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group("nccl" if use_cuda else "gloo", timeout=datetime.timedelta(minutes=30))
    return True


def stop() -> None:
    if is_distributed():
        dist.destroy_process_group()


def local_device(device: torch.device) -> torch.device:
    """On CUDA under torchrun, each process takes the GPU of its LOCAL_RANK."""
    if device.type == "cuda" and device.index is None and is_distributed():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return device


def wrap(module: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """The module under DistributedDataParallel when training on several processes, else itself.

    find_unused_parameters: a progressive network uses only the layers of its current stage.
    """
    if not is_distributed():
        return module
    ids = [device.index] if device.type == "cuda" else None
    return torch.nn.parallel.DistributedDataParallel(module, device_ids=ids, find_unused_parameters=True)


def average_gradients(module: torch.nn.Module) -> None:
    """Replace every gradient by its mean over the processes (one flat all-reduce)."""
    if not is_distributed():
        return
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= dist.get_world_size()
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()


def all_reduce_sum(values: torch.Tensor) -> torch.Tensor:
    """The sum over processes of a small CPU tensor (returned as a CPU tensor)."""
    if not is_distributed():
        return values
    on = torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")
    summed = values.to(on)
    dist.all_reduce(summed)
    return summed.cpu()


def gather(obj):
    """Every process's `obj`, in rank order (a list of one when not distributed)."""
    if not is_distributed():
        return [obj]
    gathered = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, obj)
    return gathered


def any_process(flag: bool) -> bool:
    """True on every process when `flag` is true on any (to stop all of them at once)."""
    if not is_distributed():
        return flag
    return bool(all_reduce_sum(torch.tensor([1.0 if flag else 0.0])).item() > 0)


def barrier() -> None:
    if is_distributed():
        dist.barrier()

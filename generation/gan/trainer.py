"""One training step of a GAN (progressive or DCGAN), and everything a run needs to continue exactly.

One step, for a batch of real images x with labels c and noise z (`Trainer.train_step`):

1. Discriminator: D(aug(x)) up, D(aug(G(z, c))) down, by the non-saturating logistic loss
   softplus(-D(real)) + softplus(D(fake)) (Goodfellow et al. 2014); with an auxiliary classifier,
   plus the cross-entropy of its label guesses on both. Every `r1_every` steps, the R1 penalty
   gamma/2 * |grad_x D(aug(x))|^2 (Mescheder et al. 2018), scaled by r1_every ("lazy", Karras et
   al. 2020), always in float32.
2. Generator: D(aug(G(z, c))) up, by softplus(-D(fake)) (plus the classifier's cross-entropy).
3. The moving average G_ema follows G; every `ada_interval` steps ADA tunes its probability p.

A progressive run shows each stage's images at the stage's resolution (average-pooled from the
training size), and during a fade-in blends the real images with their half-resolution version by
the same alpha as the networks (Karras et al. 2018, appendix A.1).

The device is chosen once. On CUDA the forward passes run in bf16 autocast (R1 excepted) and the
networks in channels-last layout. Under torchrun every process draws the random numbers of the
whole batch and trains on its own rows (`distributed.py`). `save()` writes the checkpoint
(`checkpoint.py`); a Trainer made with `resume=True` continues from it bit for bit as if it had
never stopped, on the CPU, or on CUDA with `deterministic` set, on as many processes.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from generation.gan import checkpoint, distributed
from generation.gan.augment import AdaptiveAugment, augment
from generation.gan.config import RESUMABLE_CHANGES, GanConfig
from generation.gan.data import BatchOrder, TrainingDataError, TrainingSet
from generation.gan.device import cuda_settings, pick_device
from generation.gan.networks import build_discriminator, build_generator
from generation.gan.schedule import resolution_of, stage_at


def r1_penalty(discriminator, real: torch.Tensor, labels=None, stage=None, alpha: float = 1.0) -> torch.Tensor:
    """Mean squared norm of the discriminator's gradient on real images (R1), in float32."""
    real = real.detach().float().requires_grad_(True)
    logits, _ = discriminator(real, labels, stage, alpha)
    (grad,) = torch.autograd.grad(logits.sum(), real, create_graph=True)
    return grad.square().sum(dim=(1, 2, 3)).mean()


def _stream(seed: int, purpose: int) -> torch.Generator:
    """An independent CPU generator per purpose, from the run's seed.

    Every process draws the random numbers of the whole batch and keeps its own rows, so a step
    on P processes sees the very batch (images, noise, augmentations) one process would.
    """
    return torch.Generator().manual_seed(int(np.random.SeedSequence([seed, purpose]).generate_state(1)[0]))


class Trainer:
    """The networks, optimisers and every piece of state one run needs; `train_step` makes one step."""

    def __init__(self, data: TrainingSet, config: GanConfig, out_dir: Path | str, *,
                 device: str | torch.device | None = None, resume: bool = False,
                 log: Callable[[str], None] = print):
        self.config, self.data, self.log = config, data, log
        self.out_dir = Path(out_dir)
        self.path = self.out_dir / checkpoint.checkpoint_name(config)
        self.rank, self.world = distributed.rank_and_world()
        self.device = distributed.local_device(pick_device(device))
        self._check_data()
        if config.batch_size % self.world:
            raise ValueError(f"batch size {config.batch_size} does not split over {self.world} processes: "
                             f"use a multiple of {self.world}")
        self.local_batch = config.batch_size // self.world
        cuda = self.device.type == "cuda"
        self.autocast = torch.autocast("cuda" if cuda else "cpu", dtype=torch.bfloat16,
                                       enabled=cuda and config.mixed_precision)
        self.memory_format = torch.channels_last if cuda and config.channels_last else torch.contiguous_format
        self.float32 = (lambda: cuda_settings(tf32=False)) if cuda else contextlib.nullcontext  # for R1

        # Every global generator starts from the seed (the run draws from its own streams only, but
        # code it calls may not), and a checkpoint saves and restores them all.
        random.seed(config.seed)
        np.random.seed(config.seed)
        torch.manual_seed(config.seed)
        self.G = build_generator(config).to(self.device)
        self.D = build_discriminator(config).to(self.device)
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        betas = (config.beta1, config.beta2)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=config.lr, betas=betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=config.lr, betas=betas)
        self.order = BatchOrder(len(data.images), config.seed)
        self.noise = _stream(config.seed, 1)  # z for every step
        self.augment_rng = _stream(config.seed, 2)
        self.ada = AdaptiveAugment(config)
        self.step, self.images_seen, self.seconds = 0, 0, 0.0
        self.stage, self.alpha = stage_at(0, config)  # of the last step taken (the first one's, before any)
        self.last: dict[str, torch.Tensor | float] = {}

        if resume:
            self._resume()
        elif self.path.exists():
            raise ValueError(f"{self.out_dir} already holds a run ({self.path.name}): resume it (--resume) or "
                             "choose a new --out folder")
        for net in (self.G, self.D, self.G_ema):
            net.to(memory_format=self.memory_format)
        self.images = torch.from_numpy(data.images).unsqueeze(1).to(self.device)  # uint8, the full size
        self.labels = torch.from_numpy(data.labels).to(self.device) if data.labels is not None else None
        self.G_train = distributed.wrap(self.G, self.device)
        self.D_train = distributed.wrap(self.D, self.device)

    def _check_data(self) -> None:
        config, data = self.config, self.data
        if data.size != config.image_size:
            raise TrainingDataError(f"training images are {data.size}x{data.size} px but the config asks for "
                                    f"{config.image_size} px: resize them or change the resolution")
        if list(data.label_names) != list(config.labels):
            raise TrainingDataError(f"the images' labels {data.label_names} are not the config's labels "
                                    f"{config.labels} (conditioning {config.conditioning!r})")

    # --- one step ------------------------------------------------------------------------------

    def real_batch(self, index: torch.Tensor, stage: int, alpha: float) -> torch.Tensor:
        """Real images in [-1, 1] at the stage's resolution, faded like the networks."""
        x = self.images[index].float().div(127.5).sub(1)
        scale = self.config.image_size // resolution_of(stage)
        if scale > 1:
            x = F.avg_pool2d(x, scale)
        if alpha < 1 and stage > 0:
            x = torch.lerp(F.interpolate(F.avg_pool2d(x, 2), scale_factor=2, mode="nearest"), x, alpha)
        return x.contiguous(memory_format=self.memory_format)

    def train_step(self) -> dict[str, torch.Tensor | float]:
        config = self.config
        stage, alpha = stage_at(self.images_seen, config)
        batch, rows = config.batch_size, slice(self.rank * self.local_batch, (self.rank + 1) * self.local_batch)
        index = self.order.next(batch)[rows].to(self.device)
        real = self.real_batch(index, stage, alpha)
        labels = self.labels[index] if self.labels is not None else None
        z = torch.randn(batch, config.latent_dim, generator=self.noise)[rows].to(self.device)
        p = self.ada.p

        with self.autocast:
            fake = self.G_train(z, labels, stage, alpha)
        fake_seen = augment(fake, p, self.augment_rng, rows, batch)
        real_seen = augment(real, p, self.augment_rng, rows, batch)

        # 1. Discriminator (and R1 every r1_every steps).
        with self.autocast:
            real_logits, real_classes = self.D_train(real_seen, labels, stage, alpha)
            fake_logits, fake_classes = self.D_train(fake_seen.detach(), labels, stage, alpha)
        real_logits, fake_logits = real_logits.float(), fake_logits.float()
        loss_d = F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
        if real_classes is not None:
            loss_d = loss_d + config.acgan_weight * (F.cross_entropy(real_classes.float(), labels)
                                                     + F.cross_entropy(fake_classes.float(), labels))
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        r1 = self.last.get("r1", float("nan"))
        if config.r1_gamma > 0 and self.step % config.r1_every == 0:
            with self.float32():  # no TF32 either
                r1 = r1_penalty(self.D, real_seen, labels, stage, alpha)  # the bare module: see distributed.py
                (config.r1_gamma / 2 * config.r1_every * r1).backward()
            distributed.average_gradients(self.D)
            r1 = r1.detach()
        self.opt_d.step()
        self.ada.observe(real_logits)

        # 2. Generator, through the updated discriminator (which is not trained here).
        self.D.requires_grad_(False)
        with self.autocast:
            logits, classes = self.D(fake_seen, labels, stage, alpha)
        loss_g = F.softplus(-logits.float()).mean()
        if classes is not None:
            loss_g = loss_g + config.acgan_weight * F.cross_entropy(classes.float(), labels)
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        self.D.requires_grad_(True)

        # 3. Moving average (warmed up, so it follows closely in short runs) and augmentation strength.
        self._update_ema(min(config.ema_decay, (1 + self.step) / (10 + self.step)))
        self.step += 1
        self.images_seen += config.batch_size
        self.stage, self.alpha = stage, alpha
        if self.step % config.ada_interval == 0:
            self.ada.adjust(distributed.all_reduce_sum)
        self.last = {"loss_d": loss_d.detach(), "loss_g": loss_g.detach(), "r1": r1,
                     "real_sign": real_logits.detach().sign().mean()}
        return self.last

    @torch.no_grad()
    def _update_ema(self, decay: float) -> None:
        for p_ema, p in zip(self.G_ema.parameters(), self.G.parameters(), strict=True):
            p_ema.lerp_(p, 1.0 - decay)
        for b_ema, b in zip(self.G_ema.buffers(), self.G.buffers(), strict=True):
            b_ema.copy_(b)

    # --- checkpoints -----------------------------------------------------------------------------

    def rng_streams(self) -> dict[str, torch.Generator]:
        return {"noise": self.noise, "augment": self.augment_rng}

    def save(self) -> None:
        """Write the checkpoint (every process takes part: each gives its random states)."""
        rng = distributed.gather(checkpoint.capture_rng(self.rng_streams()))
        if self.rank == 0:
            self.G_ema.stage, self.G_ema.alpha = self.stage, self.alpha
            payload = {
                "format": checkpoint.FORMAT,
                "code_version": checkpoint.CODE_VERSION,
                "config": self.config.to_dict(),
                "generator": checkpoint.cpu_state(self.G),
                "discriminator": checkpoint.cpu_state(self.D),
                "generator_ema": checkpoint.cpu_state(self.G_ema),
                "optimizer_g": checkpoint.cpu_state(self.opt_g),
                "optimizer_d": checkpoint.cpu_state(self.opt_d),
                "state": {"step": self.step, "images_seen": self.images_seen, "stage": self.stage,
                          "alpha": self.alpha, "seconds": self.seconds, "world_size": self.world,
                          "device": self.device.type, "augment": self.ada.state_dict(),
                          "data_sha256": self.data.digest(), "images": len(self.data.images),
                          "losses": {k: float(v) for k, v in self.last.items()}},
                "order": self.order.state_dict(),
                "rng": rng,
            }
            checkpoint.save(self.path, payload)
        distributed.barrier()

    def _resume(self) -> None:
        saved = checkpoint.load(self.path)
        if saved["format"] != checkpoint.FORMAT:
            raise checkpoint.CheckpointError(f"{self.path} was written by an earlier Mirage (format "
                                             f"{saved['format']}): it can be sampled but not resumed")
        previous = checkpoint.config_of(saved)
        changed = [f.name for f in dataclasses.fields(GanConfig) if f.name not in RESUMABLE_CHANGES
                   and getattr(previous, f.name) != getattr(self.config, f.name)]
        if changed:
            listing = ", ".join(f"{n} {getattr(previous, n)!r} -> {getattr(self.config, n)!r}" for n in changed)
            raise ValueError(f"the run in {self.out_dir} cannot resume with another configuration ({listing}); "
                             f"only {', '.join(RESUMABLE_CHANGES)} may change")
        state = saved["state"]
        if state["world_size"] != self.world:
            raise ValueError(f"the run was trained on {state['world_size']} processes; resume it on as many "
                             f"(this is {self.world}), or the batches would differ")
        if state["data_sha256"] != self.data.digest():
            raise TrainingDataError(f"the training images are not the ones the run in {self.out_dir} started with "
                                    f"({state['images']} images then, {len(self.data.images)} now, or other pixels)")
        self.G.load_state_dict(saved["generator"])
        self.D.load_state_dict(saved["discriminator"])
        self.G_ema.load_state_dict(saved["generator_ema"])
        self.opt_g.load_state_dict(saved["optimizer_g"])
        self.opt_d.load_state_dict(saved["optimizer_d"])
        self.order.load_state_dict(saved["order"])
        self.ada.load_state_dict(state["augment"])
        self.step, self.images_seen, self.seconds = state["step"], state["images_seen"], state["seconds"]
        self.stage, self.alpha = state["stage"], state["alpha"]
        self.last = dict(state["losses"])
        checkpoint.restore_rng(saved["rng"][self.rank], self.rng_streams())

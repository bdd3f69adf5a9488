"""The training step: ``n_critic`` discriminator updates, one generator update, the EMA, the watch for NaN.

A step never talks to the host: losses stay on the device and are read only
at log time, non-finite losses are flagged on the device, and learning rates
are device tensors set from a device step counter. That keeps the step
capturable as one CUDA graph (:mod:`ganzoo.engine.fastpath`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel

from ganzoo.errors import ConfigError
from ganzoo.interfaces import FAKE_LABELS, _accepts, takes_fake_labels, takes_real_batch

if TYPE_CHECKING:
    from collections.abc import Callable

    from ganzoo.engine.config import TrainConfig
    from ganzoo.interfaces import GAN

# What the step watches for NaN or infinity, in the order of TrainStep.first_bad.
FINITE_WATCH = ("discriminator loss", "generator loss", "discriminator gradient norm", "generator gradient norm")


class PluginDDP(DistributedDataParallel):
    """DistributedDataParallel that reaches the plugin's own module for what it does not have itself.

    A loss receives ``D`` as trained; under torchrun that is this wrapper, and ``D.num_classes``
    or ``D.classify`` must still find the plugin's attribute or method (``D(x, y, ...)`` goes
    through DDP's forward, so what it computes has its gradients averaged; a method reached
    this way runs outside it: use it for what does not train, or next to a ``D(...)`` call).
    """

    def __getattr__(self, name: str) -> Any:
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.module, name)


@dataclass
class Nets:
    """The networks and optimizers a step updates, and how they run.

    ``G`` and ``D`` are the plain modules (their weights are saved); ``G_train`` and
    ``D_train`` the ones called for training (DistributedDataParallel under torchrun,
    else the same modules).
    """

    G: nn.Module
    D: nn.Module
    G_ema: nn.Module | None
    G_train: nn.Module
    D_train: nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    amp_dtype: torch.dtype | None  # bf16 autocast, or None for fp32
    channels_last: bool


class TrainStep:
    """One training step as a callable, owning the networks, optimizers and device-side counters.

    Args:
        nets: what the step trains.
        gan: the model (its loss is read at every step: a plugin may swap it).
        config: the resolved run config (schedule, EMA decay).
        device: where the step runs.
        world: the number of processes.
        total_steps: the run's length (the learning-rate schedule ends there).
        to_model_range: turns a stored batch into the model's input range.
    """

    def __init__(self, nets: Nets, gan: GAN, config: TrainConfig, *, device: torch.device, world: int,
                 total_steps: int, to_model_range: Callable[[Tensor], Tensor]) -> None:
        self.G, self.D, self.G_ema = nets.G, nets.D, nets.G_ema
        self.G_train, self.D_train = nets.G_train, nets.D_train
        self.opt_g, self.opt_d = nets.opt_g, nets.opt_d
        self.amp_dtype, self.channels_last = nets.amp_dtype, nets.channels_last
        self.gan, self.config, self.device, self.world = gan, config, device, world
        self.n_critic = gan.loss.n_critic
        self.total_steps = total_steps
        self.to_model_range = to_model_range
        self.g_takes_real = takes_real_batch(gan.loss)
        self.num_classes, self.g_takes_real_y = _fake_labels(gan, nets.G)
        self.ema_step = torch.zeros((), device=device)
        # The step at which each of FINITE_WATCH first became NaN or infinite (-1: never), kept on the device.
        self.first_bad = torch.full((len(FINITE_WATCH),), -1, dtype=torch.long, device=device)
        self.step_t = torch.zeros((), dtype=torch.long, device=device)

    def autocast(self):
        """The autocast context of the step (disabled for fp32)."""
        if self.amp_dtype is None:
            return torch.autocast(self.device.type, enabled=False)
        # No weight-cast cache: cached casts would be stale inside a replayed CUDA graph.
        return torch.autocast(self.device.type, dtype=self.amp_dtype, cache_enabled=False)

    def __call__(self, batch: Tensor, y: Tensor | None) -> dict[str, Tensor]:
        """One generator update and its ``n_critic`` discriminator updates.

        ``batch`` is ``(n_critic, B, *shape)`` as stored (uint8 images or float
        points) and ``y`` ``(n_critic, B)`` labels or None. Returns detached
        device scalars; no host synchronisation happens in here.
        """
        G, D, loss = self.G_train, self.D_train, self.gan.loss
        if self.config.lr_schedule != "constant":
            self.set_learning_rates()
        real = self.to_model_range(batch)
        B = real.shape[1]
        logs: dict[str, Tensor] = {}
        if self.channels_last:  # (n_critic, B, C, H, W): channels_last per batch
            real = real.permute(0, 1, 3, 4, 2).contiguous().permute(0, 1, 4, 2, 3)
        d_norms = []
        fake_y = None
        for k in range(self.n_critic):
            yk = y[k] if y is not None else None
            z = torch.randn(B, self.G.latent_dim, device=self.device)
            d_extra = {}
            if self.num_classes and yk is not None:  # fake_labels="uniform": from the run's own random stream
                fake_y = torch.randint(0, self.num_classes, (B,), device=self.device)
                d_extra = {"fake_y": fake_y}
            last = k == self.n_critic - 1
            # The last critic step's fakes also serve the generator step (as in pytorch/examples).
            with self.autocast(), torch.set_grad_enabled(last):
                fake = G(z, yk if fake_y is None else fake_y)
            self.opt_d.zero_grad(set_to_none=True)
            with self.autocast():
                d_loss, logs = loss.discriminator_loss(D, real[k], fake.detach(), yk, **d_extra)
            d_loss.backward()
            logs["grad_norm_d"] = grad_norm(self.D)
            d_norms.append(logs["grad_norm_d"])
            self.opt_d.step()
        yg = y[-1] if y is not None else None
        self.opt_g.zero_grad(set_to_none=True)
        # G's gradient flows through D's plain module (no DDP all-reduce), and D's own weight
        # gradients are not computed at all: only their path to the input is needed.
        self.D.requires_grad_(False)
        try:
            with self.autocast():
                # The real batch is a slice of this step's input, already on the device: capturable.
                extra = {"real": real[-1]} if self.g_takes_real else {}
                if fake_y is not None and self.g_takes_real_y:
                    extra["real_y"] = yg
                g_loss, g_logs = loss.generator_loss(self.D, fake, yg if fake_y is None else fake_y, **extra)
            g_loss.backward()
        finally:
            self.D.requires_grad_(True)
        logs.update(g_logs)
        logs["grad_norm_g"] = grad_norm(self.G)
        self.opt_g.step()
        if self.G_ema is not None:
            self.update_ema()
        self.step_t += 1
        self._watch(logs, d_norms)
        return logs

    def stacked(self, batch: Tensor, y: Tensor | None) -> tuple[list[str], Tensor]:
        """The step with its logs stacked into one vector (for cheap accumulation)."""
        logs = self(batch, y)
        return list(logs), torch.stack([v.float() for v in logs.values()])

    def _watch(self, logs: dict[str, Tensor], d_norms: list[Tensor]) -> None:
        # Losses and gradient norms are watched every step (a NaN in any parameter's gradient makes
        # its norm NaN); weights and Adam's state are checked before each checkpoint.
        d_norm = torch.stack(d_norms).amax() if len(d_norms) > 1 else d_norms[0]
        watched = torch.stack([logs["loss_d"].float(), logs["loss_g"].float(), d_norm, logs["grad_norm_g"]])
        bad = ~torch.isfinite(watched)
        self.first_bad.copy_(torch.where((self.first_bad < 0) & bad, self.step_t, self.first_bad))

    @torch.no_grad()
    def set_learning_rates(self) -> None:
        """Both learning rates for the coming step, from the step counter on the device."""
        cfg = self.config
        done = self.step_t.float() / self.total_steps
        s = torch.clamp((done - cfg.lr_decay_start) / (1.0 - cfg.lr_decay_start), 0.0, 1.0)
        scale = 1.0 - s if cfg.lr_schedule == "linear" else 0.5 * (1.0 + torch.cos(math.pi * s))
        for opt, base in ((self.opt_g, cfg.lr_g), (self.opt_d, cfg.lr_d)):
            for group in opt.param_groups:
                group["lr"].copy_(scale * base)

    @torch.no_grad()
    def resume_learning_rates(self, saved: dict[str, Any]) -> None:
        """After a checkpoint's Adam state is loaded: this config's rates (a resume may change them).

        Args:
            saved: the checkpoint's config (its ``lr_g`` and ``lr_d``).
        """
        cfg = self.config
        if cfg.lr_schedule == "constant":  # the change is recorded in config.changes
            for opt, lr in ((self.opt_g, cfg.lr_g), (self.opt_d, cfg.lr_d)):
                for group in opt.param_groups:
                    group["lr"].fill_(lr)
        elif (saved.get("lr_g"), saved.get("lr_d")) != (cfg.lr_g, cfg.lr_d):
            self.set_learning_rates()

    def learning_rates(self) -> tuple[float, float]:
        """The generator's and discriminator's current learning rates (syncs with the device)."""
        return float(self.opt_g.param_groups[0]["lr"]), float(self.opt_d.param_groups[0]["lr"])

    @torch.no_grad()
    def update_ema(self) -> None:
        """Move the EMA generator towards G (and copy G's buffers)."""
        # Warm-up ramp (as in TF's ExponentialMovingAverage with num_updates): early
        # averages do not drag in the random initial weights.
        self.ema_step += 1
        decay = torch.clamp((1.0 + self.ema_step) / (10.0 + self.ema_step), max=self.config.ema_decay)
        ema_p = list(self.G_ema.parameters())
        torch._foreach_mul_(ema_p, decay)
        torch._foreach_add_(ema_p, torch._foreach_mul([p.detach() for p in self.G.parameters()], 1.0 - decay))
        for b_ema, b in zip(self.G_ema.buffers(), self.G.buffers()):
            b_ema.copy_(b)

    def first_nonfinite(self) -> str | None:
        """What became NaN or infinite first, and at which step ("the ... at step N"), or None (syncs)."""
        bad = self.first_bad.tolist()
        if max(bad) < 0:
            return None
        at = min(b for b in bad if b >= 0)
        names = [FINITE_WATCH[i] for i, b in enumerate(bad) if b == at]
        what = " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)
        return f"the {what} became NaN or infinite at step {at}"

    @torch.no_grad()
    def nonfinite_state(self) -> list[str]:
        """The parts of the training state (weights, Adam's moments) that hold a NaN or infinity.

        One max-abs reduction per part on the device (it overflows for no finite value), one sync.
        """
        parts: dict[str, list[Tensor]] = {
            "generator weights": [*self.G.parameters(), *self.G.buffers()],
            "discriminator weights": [*self.D.parameters(), *self.D.buffers()],
            "generator optimizer state": _optimizer_tensors(self.opt_g),
            "discriminator optimizer state": _optimizer_tensors(self.opt_d),
        }
        if self.G_ema is not None:
            parts["EMA generator weights"] = [*self.G_ema.parameters(), *self.G_ema.buffers()]
        flags = []
        for tensors in parts.values():
            by_device: dict[torch.device, list[Tensor]] = {}
            for t in tensors:
                if t.is_floating_point():
                    by_device.setdefault(t.device, []).append(t.detach())
            peaks = [torch.stack(torch._foreach_norm(ts, math.inf)).float().amax().to(self.device)
                     for ts in by_device.values()]
            flags.append(torch.isfinite(torch.stack(peaks)).all() if peaks
                         else torch.ones((), dtype=torch.bool, device=self.device))
        ok = torch.stack(flags).tolist()
        return [name for name, good in zip(parts, ok) if not good]


def _fake_labels(gan: GAN, G: nn.Module) -> tuple[int, bool]:
    """``(classes to draw the fakes' labels from, or 0 for the real batch's; whether generator_loss takes real_y)``."""
    loss = gan.loss
    choice = getattr(loss, "fake_labels", "real")
    if choice not in FAKE_LABELS:
        raise ConfigError(f"loss {loss.name!r} has fake_labels={choice!r}; use one of {', '.join(map(repr, FAKE_LABELS))}")
    if choice != "uniform" or not G.num_classes:
        return 0, False
    if not takes_fake_labels(loss):
        raise ConfigError(f"loss {loss.name!r} sets fake_labels='uniform' but its discriminator_loss takes no fake_y; "
                          "add fake_y=None to its signature (the fakes' own labels come there)")
    return int(G.num_classes), _accepts(loss.generator_loss, "real_y")


def _optimizer_tensors(opt: torch.optim.Optimizer) -> list[Any]:
    return [t for st in opt.state.values() for t in st.values() if torch.is_tensor(t)]


def grad_norm(module: nn.Module) -> Tensor:
    """The L2 norm of all of ``module``'s gradients, on the device (zero when it has none)."""
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not grads:
        return torch.zeros((), device=next(module.parameters()).device)
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)).float())

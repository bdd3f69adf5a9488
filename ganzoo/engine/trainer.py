"""The Trainer: builds a run from its config and trains it.

The loop (:meth:`Trainer.fit`) reads top to bottom: take a batch, run
``n_critic`` discriminator steps, one generator step, update the EMA copy of
the generator, log, draw samples, checkpoint. Everything model-specific comes
from the registry (the :class:`~ganzoo.ModelSpec`'s networks, defaults and
recommended hyper-parameters) and from the :class:`~ganzoo.GANLoss`, so a
third-party plugin's model trains with no change here.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ganzoo import __version__
from ganzoo.checkpoint import check_inside, find_checkpoint
from ganzoo.data import TensorDataset
from ganzoo.engine.config import TrainConfig, active_loggers, config_for_resume
from ganzoo.engine.fastpath import CompileGuard, make_graphed_step
from ganzoo.engine.rundir import (
    MetricsLog,
    RunDirLock,
    check_run_dir_intact,
    create_run_dir,
    data_record,
    divergence_error,
    hardware,
    read_training_checkpoint,
    record_divergence,
    restart_log,
    restore_rng_state,
    rng_state,
    run_record,
    write_config,
    write_samples,
    write_training_checkpoint,
    writing,
)
from ganzoo.engine.setup import (
    build_model_and_data,
    build_nets,
    count_steps,
    fixed_noise,
    start_process,
)
from ganzoo.engine.step import TrainStep
from ganzoo.engine.watch import LiveDoctor
from ganzoo.errors import ConfigError, DivergenceError
from ganzoo.interfaces import GAN


class _StopFlag:
    """Turns SIGINT/SIGTERM into a flag checked between steps, so a checkpoint is never half a step."""

    def __init__(self) -> None:
        self.signal: int | None = None
        self._old: dict[int, Any] = {}

    def __enter__(self) -> _StopFlag:
        import threading

        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signal is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C stops at once
        self.signal = signum

    def __exit__(self, *exc: Any) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


def ema_warmup_steps(decay: float) -> int:
    """Updates until the EMA's warm-up ramp ``(1 + t) / (10 + t)`` reaches ``decay`` (8,990 for 0.999)."""
    return math.ceil((10 * decay - 1) / (1 - decay)) if decay < 1 else 2**62


_clock = time.perf_counter  # the engine's clock for throughput (tests replace it)
BAR_REFRESH_S = 5.0  # the progress bar's losses are at most this old, whatever --log-every is


class _Means:
    """Running sums of the logged scalars, kept on the device (one kernel a step, no sync)."""

    def __init__(self, step: int) -> None:
        self.acc: Tensor | None = None
        self.n = 0
        self.t0, self.step0 = _clock(), step  # the average throughput counts from the start of fit()
        self.t_last, self.step_last = self.t0, step  # the current one from the last log row
        self.shown = self.t0  # when the bar's losses were last refreshed

    def add(self, vec: Tensor) -> None:
        self.acc = vec.clone() if self.acc is None else self.acc.add_(vec)
        self.n += 1

    def peek(self) -> list[float] | None:
        """The means so far, without starting again (syncs with the device; the bar calls it every few seconds)."""
        return None if self.acc is None else (self.acc / self.n).tolist()

    def take(self) -> list[float]:
        """The means since the last take (syncs), and start again."""
        means = (self.acc / self.n).tolist()
        self.acc, self.n = None, 0
        return means


def _of_step(name: str, doc: str) -> property:
    """A Trainer attribute owned by its :class:`TrainStep` (one owner: the step updates it)."""
    return property(lambda self: getattr(self.stepper, name), doc=doc)


class Trainer:
    """Trains one :class:`~ganzoo.GAN` on one dataset.

    Example:
        >>> from ganzoo.engine import Trainer, TrainConfig
        >>> cfg = TrainConfig(model="vanilla", dataset="ring8", steps=20, out="/tmp/ganzoo-doc-run",
        ...                   quiet=True, sample_every=10**9, checkpoint_every=10**9)
        >>> run = Trainer(cfg).fit()
        >>> run.step
        20
    """

    G = _of_step("G", "The generator being trained (its plain module, as saved).")
    D = _of_step("D", "The discriminator being trained (its plain module, as saved).")
    G_ema = _of_step("G_ema", "The EMA copy of the generator, or None without EMA.")
    G_train = _of_step("G_train", "G as called for training (DistributedDataParallel under torchrun).")
    D_train = _of_step("D_train", "D as called for training (DistributedDataParallel under torchrun).")
    opt_g = _of_step("opt_g", "The generator's Adam.")
    opt_d = _of_step("opt_d", "The discriminator's Adam.")
    amp_dtype = _of_step("amp_dtype", "The autocast dtype (bf16), or None for fp32.")
    channels_last = _of_step("channels_last", "Whether images run in channels_last memory format.")
    ema_step = _of_step("ema_step", "The EMA's update count (device tensor).")
    step_t = _of_step("step_t", "The step count on the device (the schedule's clock).")
    first_bad = _of_step("first_bad", "The step at which each watched value first became non-finite (-1: never).")

    def __init__(self, config: TrainConfig, *, gan: GAN | None = None, dataset: TensorDataset | None = None):
        self.rank = int(os.environ.get("RANK", "0"))
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.is_main = self.rank == 0
        self._lock: RunDirLock | None = None
        self._loggers: Any = None  # this session's ganzoo.loggers.RunLoggers while fit() runs
        self._run_id: tuple[int, int] | None = None  # the run directory's (device, inode), to notice it replaced
        try:
            self._setup(config, gan, dataset)
        except BaseException:
            self.release()
            raise

    def release(self) -> None:
        """Give up the run directory's lock (at the end of :meth:`fit`; also when the Trainer is freed)."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _hold_lock(self, run_dir: Path) -> None:
        if self.is_main and self._lock is None:
            self._lock = RunDirLock(run_dir)

    # ------------------------------------------------------------------ set-up

    def _setup(self, config: TrainConfig, gan: GAN | None, dataset: TensorDataset | None) -> None:
        resume_dir = Path(config.resume) if config.resume else None
        change: dict[str, Any] = {}
        if resume_dir is not None:
            if (resume_dir / "checkpoints").is_dir() or (resume_dir / "config.json").is_file():
                # a run directory: locked before reading, so no writer runs meanwhile
                self._hold_lock(resume_dir)
            config, change = config_for_resume(config, resume_dir)
            self._hold_lock(Path(config.out))
        if gan is not None:
            config = dataclasses.replace(config, model=gan.spec.name, loss=config.loss or gan.loss.name)
        self.config = cfg = config.resolve()
        self.device = start_process(cfg, self.rank)
        self.gan, self.dataset = gan, dataset = build_model_and_data(cfg, gan, dataset, self.rank)
        self.n_critic = cfg.n_critic
        nets = build_nets(cfg, gan, self.device, self.world)
        self.data = dataset.data.to(self.device)
        self.labels = dataset.labels.to(self.device) if (dataset.labels is not None and nets.G.num_classes) else None
        self.steps_per_epoch, self.total_steps = count_steps(cfg, dataset, self.n_critic, self.world)
        self.stepper = TrainStep(nets, gan, cfg, device=self.device, world=self.world,
                                 total_steps=self.total_steps, to_model_range=dataset.to_model_range)
        self._eager = CompileGuard(self.stepper, pending=cfg.compile, is_main=self.is_main)
        self.data_gen = torch.Generator(device=self.device).manual_seed(cfg.seed)  # same order on every rank
        self.perm = torch.empty(0, dtype=torch.long, device=self.device)
        self.cursor = self.epoch = self.step = 0
        self.fixed_z, self.fixed_y = fixed_noise(cfg, self.G, self.device)
        self._graph: torch.cuda.CUDAGraph | None = None  # filled by the CUDA fast path
        self._step_fn = None
        self._doctor: LiveDoctor | None = None
        self._open_run_dir(resume_dir, change)

    def _open_run_dir(self, resume_dir: Path | None, change: dict[str, Any]) -> None:
        """Create (or, resuming, reload) the run directory; write its config.json."""
        self.run_dir = create_run_dir(self.config, resume_dir, is_main=self.is_main, hold_lock=self._hold_lock)
        if self.is_main:
            st = os.stat(self.run_dir)
            self._run_id = (st.st_dev, st.st_ino)
        if resume_dir is not None:
            ckpt = find_checkpoint(resume_dir)
            check_inside(ckpt, self.run_dir, "dir")  # the run's own checkpoint, not one a link leads to
            self._load_checkpoint(ckpt)
            if self.total_steps < self.step:
                raise ConfigError(
                    f"{self.run_dir} is at step {self.step}, past the {self.total_steps} steps asked for; a run "
                    f"is not shortened: give more than {self.step} --steps (or more --epochs) to train on"
                )
        if self.is_main:
            # What this run actually uses, where the config left a choice to ganzoo ("auto", None).
            used = {"device": str(self.device), "out": str(self.run_dir), "channels_last": self.channels_last,
                    "precision": "bf16" if self.amp_dtype is not None else "fp32",
                    "hardware": hardware(self.device, self.world), "data": data_record(self.dataset)}
            with writing(self.run_dir, self.config.model, "config.json and metrics.jsonl"):
                write_config(self.run_dir, self.config, self.gan, used)
                if resume_dir is not None:
                    restart_log(self.run_dir, self.step, change, quiet=self.config.quiet)
        if change:  # the new rates belong to the run from now on, even if it stops before its next checkpoint
            self.save_checkpoint()

    # ------------------------------------------------------------------ the loop

    def fit(self) -> Trainer:
        """Train until ``steps`` (or ``epochs``) are done; returns self."""
        from tqdm.auto import tqdm

        cfg = self.config
        if self.is_main and self.step >= self.total_steps:
            return self._finished()
        if self.is_main and self._lock is None:
            self._hold_lock(self.run_dir)  # a second fit() of this Trainer
        if self.is_main and not cfg.quiet:
            print(self.describe(), file=sys.stderr)
        log = MetricsLog(self.run_dir, is_main=self.is_main,
                         loggers=self._open_loggers(lambda line: tqdm.write(line, file=sys.stderr)))
        status = "failed"
        bar = tqdm(total=self.total_steps, initial=self.step, disable=cfg.quiet or not self.is_main,
                   unit="step", dynamic_ncols=True)
        means = _Means(self.step)
        self._doctor = (LiveDoctor(self.run_dir, cfg.to_json(), say=lambda line: tqdm.write(line, file=sys.stderr))
                        if cfg.doctor and self.is_main else None)
        if self._step_fn is None:
            self._step_fn = self._make_step()
        step_fn = self._step_fn
        try:
            with _StopFlag() as stop:
                while self.step < self.total_steps:
                    keys, vec = step_fn(*self._batch(self._next_indices()))  # D and G updates, on the device
                    self.step += 1
                    means.add(vec)
                    end = self.step == self.total_steps
                    if self.step % cfg.log_every == 0 or end or stop.signal:
                        self._log(log, bar, keys, means)
                    bar.update(1)
                    if not bar.disable and _clock() - means.shown >= BAR_REFRESH_S:
                        self._refresh_bar(bar, keys, means)
                    if self.step % cfg.sample_every == 0 or end:
                        self.save_samples()
                    if cfg.eval_every and (self.step % cfg.eval_every == 0 or end) and self.is_main:
                        self._log_eval(log, bar)
                    if self.step % cfg.checkpoint_every == 0 or end or stop.signal:
                        self._check_finite()
                        self.save_checkpoint()
                    if stop.signal:
                        status = "stopped"
                        raise self._stopped(stop.signal)
            status = "finished"
        except KeyboardInterrupt:
            status = "stopped"
            raise
        finally:
            bar.close()
            log.close(status)
            self._loggers = None
            self.release()
        return self

    def _open_loggers(self, say: Any) -> Any:
        """This session's loggers (config ``loggers`` and ``tensorboard``), started; ``None`` when none or off the main process."""
        names = active_loggers(self.config)
        if not self.is_main or not names:
            return None
        from ganzoo.loggers import RunInfo, open_loggers

        check_inside(self.run_dir / "tensorboard", self.run_dir, "dir")  # no link out of the run
        cfg = self.config
        run = RunInfo(run_dir=self.run_dir, model=cfg.model, dataset=cfg.dataset,
                      config=json.loads(json.dumps(cfg.to_json(), default=str)),
                      step=self.step, total_steps=self.total_steps, resumed=self.step > 0)
        self._loggers = open_loggers(names, run, say)
        return self._loggers

    def _finished(self) -> Trainer:
        cfg = self.config
        length = f"{cfg.steps} steps" if cfg.steps is not None else f"{cfg.epochs:g} epochs"
        print(f"ganzoo: {self.run_dir} is finished: step {self.step} of {self.total_steps} ({length}); to "
              f"train longer, resume it with a larger --steps or --epochs, e.g. `ganzoo train {cfg.model} "
              f"--resume {self.run_dir} --steps {2 * self.step}`", file=sys.stderr)
        self.release()
        return self

    def _log(self, log: MetricsLog, bar: Any, keys: list[str], means: _Means) -> None:
        """Write one metrics row: the means since the last row, throughput, and scheduled rates."""
        cfg = self.config
        self._check_run_dir()
        self._check_finite()  # syncs with the device, once per log interval
        now = _clock()
        dt = now - means.t0
        per_step = cfg.batch_size * self.n_critic * self.world
        # images/s now: over the steps since the last row (the average since fit() began is kept apart,
        # as start-up, compilation and a first evaluation weigh on it for long)
        rate = (self.step - means.step_last) * per_step / max(now - means.t_last, 1e-9)
        average = (self.step - means.step0) * per_step / max(dt, 1e-9)
        means.t_last, means.step_last, means.shown = now, self.step, now
        row = {"step": self.step, "epoch": round(self.step / self.steps_per_epoch, 4),
               **{k: round(v, 6) for k, v in zip(keys, means.take())},
               "images_per_s": round(rate, 1), "images_per_s_avg": round(average, 1), "time": round(dt, 3)}
        if cfg.lr_schedule != "constant":  # the rates of the step just taken
            row["lr_g"], row["lr_d"] = (float(f"{lr:.6g}") for lr in self.learning_rates())
        with writing(self.run_dir, self.config.model, "metrics.jsonl"):
            log.write(row, forward=True)
            if self._doctor is not None:  # reads the row just written: no device sync of its own
                self._doctor.observe(row, log.write, last=self.step == self.total_steps)
        bar.set_postfix({k: f"{row[k]:.3g}" for k in ("loss_d", "loss_g") if k in row} | {"img/s": f"{rate:.0f}"})

    def _refresh_bar(self, bar: Any, keys: list[str], means: _Means) -> None:
        """The bar's losses and images/s between log rows (a long --log-every must not leave them stale)."""
        now = _clock()
        values = means.peek()  # one host sync every BAR_REFRESH_S seconds
        rate = (self.step - means.step_last) * self.config.batch_size * self.n_critic * self.world / max(
            now - means.t_last, 1e-9)
        means.shown = now
        if values is not None:
            row = dict(zip(keys, values))
            bar.set_postfix({k: f"{row[k]:.3g}" for k in ("loss_d", "loss_g") if k in row} | {"img/s": f"{rate:.0f}"})

    def _check_run_dir(self) -> None:
        """Stop (CheckpointError) if the run directory was deleted or replaced since it was opened (main process).

        Writing on would recreate ``checkpoints/`` and ``samples/`` without config.json, log or lock.
        """
        if self.is_main and self._run_id is not None:
            check_run_dir_intact(self.run_dir, self._lock, self._run_id, self.step)

    def _log_eval(self, log: MetricsLog, bar: Any) -> None:
        row = {"step": self.step, "eval": self.evaluate()}
        with writing(self.run_dir, self.config.model, "metrics.jsonl"):
            log.write(row, forward=True)
        bar.write(f"step {self.step}: " + ", ".join(f"{k} {v:.4g}" for k, v in row["eval"].items()))

    def _stopped(self, signum: int) -> KeyboardInterrupt:
        name = signal.Signals(signum).name
        return KeyboardInterrupt(
            f"{name} at step {self.step}: checkpoint saved in {self.run_dir}; "
            f"continue with `ganzoo train {self.config.model} --resume {self.run_dir}`"
        )

    # ------------------------------------------------------------------ the step

    def _next_indices(self) -> Tensor:
        """Indices of the next ``n_critic`` real batches of this process (device tensor)."""
        cfg = self.config
        per_step = cfg.batch_size * self.n_critic * self.world
        if self.cursor + per_step > self.perm.numel():
            self.perm = torch.randperm(len(self.data), device=self.device, generator=self.data_gen)
            self.cursor = 0
            self.epoch += 1
        idx = self.perm[self.cursor : self.cursor + per_step]
        self.cursor += per_step
        return idx.view(self.world, self.n_critic, cfg.batch_size)[self.rank]

    def _batch(self, idx: Tensor) -> tuple[Tensor, Tensor | None]:
        """Raw (uint8 for images) batches and labels; the step converts them, inside the graph."""
        y = self.labels[idx] if self.labels is not None else None
        return self.data[idx], y

    def _make_step(self):
        if self.device.type == "cuda" and self.config.cuda_graph:
            return make_graphed_step(self._eager, self.stepper, device=self.device, is_main=self.is_main,
                                     on_capture=lambda graph: setattr(self, "_graph", graph))
        return self._eager

    def eager_step(self, batch: Tensor, y: Tensor | None) -> tuple[list[str], Tensor]:
        """:meth:`train_step` with its logs stacked into one vector (for cheap accumulation)."""
        return self._eager(batch, y)

    def train_step(self, batch: Tensor, y: Tensor | None) -> dict[str, Tensor]:
        """One generator update and its ``n_critic`` discriminator updates (see :class:`TrainStep`)."""
        return self.stepper(batch, y)

    def learning_rates(self) -> tuple[float, float]:
        """The generator's and discriminator's current learning rates (syncs with the device)."""
        return self.stepper.learning_rates()

    def nonfinite_state(self) -> list[str]:
        """The parts of the training state (weights, Adam's moments) that hold a NaN or infinity."""
        return self.stepper.nonfinite_state()

    def _check_finite(self) -> None:
        """Stop the run (DivergenceError) if a loss or gradient norm was NaN or infinite (syncs)."""
        what = self.stepper.first_nonfinite()
        if what:
            raise self._diverged(what)

    def _diverged(self, what: str) -> DivergenceError:
        """The error that stops a diverged run, recorded first in ``metrics.jsonl`` (``ganzoo doctor`` reads it)."""
        if self.is_main:
            record_divergence(self.run_dir, self.step, what)
        return divergence_error(what, self.config, self.run_dir)

    def describe(self) -> str:
        """One line saying what trains, on what, how, and where its run directory is."""
        cfg = self.config
        decay = ""
        if cfg.lr_schedule != "constant":
            decay = f", lr {cfg.lr_schedule} decay" + (f" after {cfg.lr_decay_start:.0%}" if cfg.lr_decay_start else "")
        return (
            f"ganzoo {__version__}: training {cfg.model} ({self.gan.loss.name}, n_critic={self.n_critic}) "
            f"on {cfg.dataset} {tuple(self.dataset.shape)} x {len(self.dataset)}, batch {cfg.batch_size}"
            f"{f' x {self.world} processes' if self.world > 1 else ''}{decay}, {self.total_steps} steps, "
            f"device {self.device}{', bf16' if self.amp_dtype else ''}{', channels_last' if self.channels_last else ''}"
            f"{', torch.compile' if cfg.compile else ''}"
            f" -> {self.run_dir}"
        )

    # ------------------------------------------------------------------ samples and checkpoints

    def evaluate(self) -> dict[str, float]:
        """Score the sampling generator with ganzoo's metrics (``eval_n`` samples, first network, no floor)."""
        from ganzoo.metrics import evaluate  # looked up at call time (tests stand in for it)

        G = self.sampling_generator
        was_training = G.training
        try:
            res = evaluate(G, self.config.dataset, self.config.data_dir, n=self.config.eval_n, device=self.device,
                           floor=False, cross_check=False, model_name=self.config.model)
        finally:
            G.train(was_training)
        return {k: round(v, 5) for k, v in res.metrics.items()}

    @property
    def sampling_generator(self) -> nn.Module:
        """The EMA generator when EMA is on, else the trained one."""
        return self.G_ema if self.G_ema is not None else self.G

    @torch.no_grad()
    def save_samples(self) -> Path | None:
        """Save a grid of the fixed noise's samples as ``samples/step-N.png`` (main process only).

        While the EMA generator is still warming up (its decay ramps up to ``ema_decay`` over the
        first updates, see Concepts), the raw generator's grid of the same noise goes to
        ``samples/raw/step-N.png`` too: early in a run, or in a short one, the EMA lags behind
        what G already draws.
        """
        if not self.is_main:
            return None
        self._check_run_dir()
        path = self._write_grid(self.sampling_generator, "samples")
        loggers = self._loggers
        if loggers is not None:
            loggers.image(self.step, "samples/ema" if self.G_ema is not None else "samples/generator", path)
        if self.G_ema is not None and self.step < ema_warmup_steps(self.config.ema_decay):
            raw = self._write_grid(self.G, "samples/raw")
            if loggers is not None:
                loggers.image(self.step, "samples/raw", raw)
        return path

    def _write_grid(self, G: nn.Module, folder: str) -> Path:
        was_training = G.training
        G.eval()
        try:
            with self.stepper.autocast():
                x = G(self.fixed_z, self.fixed_y).float().cpu()
        finally:
            G.train(was_training)
        with writing(self.run_dir, self.config.model, f"the sample grid of step {self.step}"):
            return write_samples(self.run_dir, self.step, x, num_classes=self.G.num_classes, data=self.dataset.data,
                                 folder=folder)

    def save_checkpoint(self) -> Path | None:
        """Write a checkpoint of the run, unless its weights or optimizer state hold a NaN or infinity.

        A checkpoint is a promise that the run can continue from it, so a non-finite state stops
        the run (:class:`~ganzoo.errors.DivergenceError`) instead of being saved.
        """
        bad = self.nonfinite_state()  # on every process: their weights are the same
        if bad:
            raise self._diverged(f"the {' and '.join(bad)} became NaN or infinite by step {self.step} "
                                 "(no checkpoint was written for it)")
        if self.world > 1:
            torch.distributed.barrier()
        if not self.is_main:
            return None
        self._check_run_dir()
        rng = rng_state(self.device, self.data_gen, self.perm, self.ema_step, self.step_t)
        return write_training_checkpoint(
            self.run_dir, {"step": self.step, "epoch": self.epoch, "cursor": self.cursor}, self._nets(),
            {"g": self.opt_g, "d": self.opt_d}, rng, run_record(self.config, self.gan),
            keep=self.config.keep_checkpoints)

    def _nets(self) -> dict[str, nn.Module | None]:
        return {"generator": self.G, "discriminator": self.D, "generator_ema": self.G_ema}

    def _load_checkpoint(self, path: Path) -> None:
        state = read_training_checkpoint(path, self._nets(), {"g": self.opt_g, "d": self.opt_d}, self._restore_rng)
        self.step, self.epoch, self.cursor = state["step"], state["epoch"], state["cursor"]
        self.stepper.resume_learning_rates(state["config"])
        if self.rank:  # each process has its own noise stream
            torch.manual_seed(self.config.seed + self.rank + 1_000_003 * self.step)

    def _restore_rng(self, rng: dict[str, Tensor]) -> None:
        self.perm = restore_rng_state(rng, self.device, self.data_gen, len(self.data), self.ema_step, self.step_t)


def train(model: str | None = None, **kwargs: Any) -> Trainer:
    """Train a registered model; keyword arguments are :class:`TrainConfig` fields.

    Returns the finished :class:`Trainer` (``.run_dir``, ``.sampling_generator``).

    Example:
        >>> import ganzoo
        >>> run = ganzoo.train("vanilla", dataset="ring8", steps=10, out="/tmp/ganzoo-doc-train",
        ...                    quiet=True, sample_every=10**9, checkpoint_every=10**9)
        >>> run.run_dir.name
        'ganzoo-doc-train'
    """
    return Trainer(TrainConfig(model=model, **kwargs)).fit()

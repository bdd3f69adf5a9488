"""One training engine for every GAN family.

The loop (:meth:`Trainer.fit`) reads top to bottom: take a batch, run
``n_critic`` discriminator steps, one generator step, update the EMA copy of
the generator, log, draw samples, checkpoint. Everything model-specific comes
from the registry (the :class:`~ganzoo.ModelSpec`'s networks, defaults and
recommended hyper-parameters) and from the :class:`~ganzoo.GANLoss`, so a
third-party plugin's model trains with no change here.

A step never talks to the host: losses stay on the device and are read only
at log time, non-finite losses are flagged on the device, and batches are
gathered from a device-resident uint8 tensor. That keeps the step capturable
as one CUDA graph.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ganzoo import __version__
from ganzoo.checkpoint import (
    find_checkpoint,
    load_optimizer,
    load_tensors,
    optimizer_tensors,
    read_checkpoint,
    read_state,
    state_dict_tensors,
    write_checkpoint,
)
from ganzoo.data import TensorDataset, get_dataset_spec, load_dataset
from ganzoo.devices import pick_device
from ganzoo.errors import CheckpointError, ConfigError, DataError, DivergenceError, GanzooError
from ganzoo.factory import check_loss, create, create_loss
from ganzoo.interfaces import GAN, takes_real_batch
from ganzoo.registry import get_spec
from ganzoo.rundir import RunDirLock, truncate_metrics

LR_SCHEDULES = ("constant", "linear", "cosine")
# What the step watches for NaN or infinity, in the order of Trainer.first_bad.
FINITE_WATCH = ("discriminator loss", "generator loss", "discriminator gradient norm", "generator gradient norm")


@dataclass
class TrainConfig:
    """Everything that defines a training run. ``None`` means "the model's default".

    The model's :class:`~ganzoo.TrainDefaults` (its paper's recipe) fill every
    hyper-parameter left as ``None``; :meth:`resolve` does that.
    """

    model: str | None = None  # a registered model name; may be omitted when resuming
    dataset: str | None = None  # None: the model's first listed dataset
    data_dir: str | None = None  # None: $GANZOO_DATA or ~/.cache/ganzoo/data
    download: bool = True  # fetch missing datasets through torchvision when online
    model_args: dict[str, Any] = field(default_factory=dict)  # constructor overrides (latent_dim, width...)

    # Length: give steps (generator updates) or epochs (passes over the data by D's real batches).
    steps: int | None = None
    epochs: float | None = None

    # Optimisation (Adam); None takes the model's recommended value.
    batch_size: int | None = None  # per process under torchrun
    lr_g: float | None = None
    lr_d: float | None = None
    betas: tuple[float, float] | None = None
    lr_schedule: str | None = None  # constant | linear | cosine (decay to zero at the last step)
    lr_decay_start: float | None = None  # fraction of the run at the full rate before the decay
    loss: str | None = None
    loss_args: dict[str, Any] = field(default_factory=dict)  # the run records the loss's full config()
    force_loss: bool = False  # train with a loss the model does not offer what it needs (warns)
    n_critic: int | None = None  # None: the recipe's (with the recipe's loss), else the loss's own
    ema: bool | None = None  # EMA of G's weights; samples and saved generators use it
    ema_decay: float | None = None

    # Hardware.
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    precision: str = "auto"  # auto (bf16 autocast on CUDA, fp32 on CPU) | fp32 | bf16
    channels_last: bool | None = None  # None: on for conv models
    cuda_graph: bool = True  # capture the whole step as one CUDA graph on CUDA
    compile: bool = False  # torch.compile G and D (inductor); eager with a notice if compiling fails
    sync_batchnorm: bool = True  # SyncBatchNorm across GPUs under torchrun (CUDA only)
    seed: int | None = None  # None: 0

    # Outputs (None: the default in the comment; on resume, the run's own value).
    out: str | None = None  # None: runs/<model>-<dataset>-<time>
    resume: str | None = None  # a run directory (or checkpoint folder) to continue
    sample_every: int | None = None  # 500
    checkpoint_every: int | None = None  # 1000
    log_every: int | None = None  # 50
    eval_every: int | None = None  # score samples with ganzoo.metrics every N steps (MNIST-like data)
    eval_n: int | None = None  # 2000 generated samples per evaluation during training
    num_samples: int | None = None  # 64
    keep_checkpoints: int | None = None  # 2
    quiet: bool = False
    tensorboard: bool = False
    # Settings changed by a resume, in order: {"step": N, "lr_g": {"from": a, "to": b}, ...}.
    changes: list[dict[str, Any]] = field(default_factory=list)

    def resolve(self) -> TrainConfig:
        """A copy with every model default filled in and every value checked."""
        if not self.model:
            raise ConfigError("no model given; pass a registered name, e.g. TrainConfig(model='dcgan')")
        if not isinstance(self.model, str):
            raise ConfigError(f"model must be a registered name, got {self.model!r}")
        spec = get_spec(self.model)
        for name in ("model_args", "loss_args"):
            if not isinstance(getattr(self, name), dict):
                raise ConfigError(f"{name} must be a dict of settings, got {getattr(self, name)!r}")
        c = dataclasses.replace(self, model_args=dict(self.model_args), loss_args=dict(self.loss_args))
        c.dataset = c.dataset or (spec.datasets[0] if spec.datasets else None)
        if c.dataset is None:
            raise ConfigError(f"model {spec.name!r} names no dataset; pass --dataset")
        t = spec.recipe(c.dataset)  # the paper's recipe, or the model's own for this dataset
        c.model_args = {**t.model_args, **c.model_args}
        c.batch_size = c.batch_size if c.batch_size is not None else t.batch_size
        c.lr_g = c.lr_g if c.lr_g is not None else t.lr_g
        c.lr_d = c.lr_d if c.lr_d is not None else t.lr_d
        c.betas = c.betas if c.betas is not None else t.betas
        c.lr_schedule = c.lr_schedule or t.lr_schedule
        c.lr_decay_start = c.lr_decay_start if c.lr_decay_start is not None else t.lr_decay_start
        c.loss = c.loss or t.loss
        if c.n_critic is None and c.loss == t.loss:  # the recipe's count goes with the recipe's loss
            c.n_critic = t.n_critic
        c.ema = t.ema if c.ema is None else c.ema
        c.ema_decay = c.ema_decay if c.ema_decay is not None else t.ema_decay
        for name, default in OUTPUT_DEFAULTS.items():
            if getattr(c, name) is None:
                setattr(c, name, default)
        if c.steps is None and c.epochs is None:
            c.steps, c.epochs = t.steps, t.epochs
            if c.steps is None and c.epochs is None:
                c.epochs = 1.0
        for name in ("batch_size", "sample_every", "checkpoint_every", "log_every", "num_samples", "eval_n"):
            _check_int(name, getattr(c, name), 1)
        _check_int("keep_checkpoints", c.keep_checkpoints, 0)
        _check_int("seed", c.seed, 0)
        for name in ("steps", "eval_every", "n_critic"):
            if getattr(c, name) is not None:
                _check_int(name, getattr(c, name), 1)
        if c.epochs is not None:
            _check_float("epochs", c.epochs, "> 0")
        for name in ("lr_g", "lr_d"):
            _check_float(name, getattr(c, name), ">= 0")
        if not isinstance(c.betas, (tuple, list)) or len(c.betas) != 2:
            raise ConfigError(f"betas must be two numbers (--beta1, --beta2), got {c.betas!r}")
        c.betas = tuple(c.betas)
        for name, beta in zip(("beta1", "beta2"), c.betas):
            _check_float(name, beta, "in [0, 1)")
        _check_float("ema_decay", c.ema_decay, "in [0, 1)")
        if c.lr_schedule not in LR_SCHEDULES:
            raise ConfigError(f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got {c.lr_schedule!r}")
        if not isinstance(c.lr_decay_start, (int, float)) or not 0.0 <= c.lr_decay_start < 1.0:
            raise ConfigError(f"lr_decay_start must be in [0, 1) (a fraction of the run), got {c.lr_decay_start}")
        if self.lr_decay_start and c.lr_schedule == "constant":
            raise ConfigError(f"lr_decay_start={self.lr_decay_start} has no effect with a constant learning rate; "
                              "add --lr-schedule linear (or cosine)")
        if c.precision not in ("auto", "fp32", "bf16"):
            raise ConfigError(f"precision must be auto, fp32 or bf16, got {c.precision!r}")
        if c.eval_every is not None and c.dataset not in ("mnist", "fashion-mnist"):
            raise ConfigError(
                f"--eval-every needs a dataset with a ganzoo feature network (mnist, fashion-mnist), "
                f"not {c.dataset!r}"
            )
        return c

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> TrainConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        d = {k: v for k, v in d.items() if k in names}
        if isinstance(d.get("betas"), list):
            d["betas"] = tuple(d["betas"])
        return cls(**d)


# What None means for the output settings (a resume keeps the run's own values instead).
OUTPUT_DEFAULTS: dict[str, Any] = {"seed": 0, "sample_every": 500, "checkpoint_every": 1000, "log_every": 50,
                                   "eval_n": 2000, "num_samples": 64, "keep_checkpoints": 2}


# A resume continues the run: these settings define it and are refused when given with another value.
FIXED_ON_RESUME: dict[str, str] = {
    "dataset": "the checkpoint was trained on it",
    "model_args": "the checkpoint's weights have its shapes",
    "batch_size": "the checkpoint's place in the data order counts batches of that size",
    "n_critic": "the checkpoint's place in the data order counts its batches",
    "loss": "the discriminator in the checkpoint was trained for it",
    "loss_args": "the discriminator in the checkpoint was trained for them",
    "ema": "the checkpoint's EMA generator follows it",
    "ema_decay": "the checkpoint's EMA generator follows it",
    "betas": "Adam's moments in the checkpoint were averaged with them",
    "lr_schedule": "the rates continue on the run's curve",
    "lr_decay_start": "the rates continue on the run's curve",
    "seed": "the checkpoint continues the run's random streams",
}
# How this process runs: always taken from this invocation (defaults included), never from the run.
EXECUTION = ("device", "precision", "cuda_graph", "compile", "quiet", "tensorboard", "download")


def _plain(value: Any) -> Any:
    """``value`` as JSON would hold it (tuples as lists), for comparing a flag with a saved setting."""
    return json.loads(json.dumps(value, default=str))


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return " ".join(f"{k}={json.dumps(_plain(v))}" for k, v in value.items())
    return json.dumps(_plain(value))


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _check_int(name: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum or value >= 2**63:
        raise ConfigError(f"{name} must be a whole number >= {minimum}, got {value!r} ({_flag(name)})")


def _check_float(name: str, value: Any, rule: str) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        ok = value > 0 if rule == "> 0" else value >= 0 if rule == ">= 0" else 0 <= value < 1
    if not ok:
        raise ConfigError(f"{name} must be a finite number {rule}, got {value!r} ({_flag(name)})")


def _local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0"))


def _distributed() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


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

    def __init__(self, config: TrainConfig, *, gan: GAN | None = None, dataset: TensorDataset | None = None):
        self.rank = int(os.environ.get("RANK", "0"))
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.is_main = self.rank == 0
        self._lock: RunDirLock | None = None
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

    def _setup(self, config: TrainConfig, gan: GAN | None, dataset: TensorDataset | None) -> None:
        resume_dir = Path(config.resume) if config.resume else None
        change: dict[str, Any] = {}
        if resume_dir is not None:
            if (resume_dir / "checkpoints").is_dir() or (resume_dir / "config.json").is_file():
                # a run directory: locked before reading, so no writer runs meanwhile
                self._hold_lock(resume_dir)
            config, change = self._config_for_resume(config, resume_dir)
            self._hold_lock(Path(config.out))
        if gan is not None:
            config = dataclasses.replace(config, model=gan.spec.name, loss=config.loss or gan.loss.name)
        self.config = cfg = config.resolve()
        self.device = pick_device(cfg.device, _local_rank())
        if _distributed() and not torch.distributed.is_initialized():
            backend = "nccl" if self.device.type == "cuda" else "gloo"
            if self.device.type == "cuda":
                torch.cuda.set_device(self.device)
            torch.distributed.init_process_group(backend)
        torch.manual_seed(cfg.seed + self.rank)  # different noise per process

        # The model is built (and the loss checked) before any data is read, so a bad
        # combination fails in a second; the data is then one tensor, moved to the device once.
        dspec = get_dataset_spec(cfg.dataset)
        spec = get_spec(cfg.model)
        if gan is None:
            args = dict(cfg.model_args)
            native = dataset.shape if dataset is not None else dspec.shape
            if "data_shape" not in args and "data_shape" in spec.defaults and native:
                args["data_shape"] = tuple(native)  # the model follows the data unless told otherwise
            if spec.conditional and "num_classes" not in args and dspec.num_classes:
                args["num_classes"] = dspec.num_classes
            try:
                gan = create(cfg.model, loss=cfg.loss, loss_kwargs=cfg.loss_args,
                             allow_incompatible=cfg.force_loss, **args)
            except ConfigError as exc:
                if "data_shape" in cfg.model_args or not native or exc.__cause__ is not None:
                    raise  # the user's shape, or a setting of the wrong type or range (see registry.create)
                raise DataError(
                    f"model {cfg.model!r} cannot be built for dataset {cfg.dataset!r} "
                    f"(samples of shape {tuple(native)}): {exc}"
                ) from exc
            cfg.model_args = args
        elif gan.loss.name != cfg.loss:
            gan.loss = create_loss(cfg.loss, **cfg.loss_args)
            gan.loss_name = cfg.loss
            check_loss(gan, allow_incompatible=cfg.force_loss)
        if dataset is None:
            dataset = load_dataset(cfg.dataset, cfg.data_dir, download=cfg.download,
                                   image_shape=tuple(gan.generator.output_shape))
        self.dataset = dataset
        if "data_shape" not in cfg.model_args:
            cfg.model_args = dict(gan.config)
        self.gan = gan
        if cfg.n_critic is not None:
            gan.loss.n_critic = cfg.n_critic
        self.n_critic = cfg.n_critic = gan.loss.n_critic  # the run records the count it trains with
        cfg.loss_args = gan.loss.config()  # every constructor argument, so a resume rebuilds the same loss
        self._check_fit(gan, dataset)
        self._g_takes_real = takes_real_batch(gan.loss)

        self.G, self.D = gan.generator.to(self.device), gan.discriminator.to(self.device)
        image = len(self.G.output_shape) == 3
        cuda = self.device.type == "cuda"
        if cuda:  # the same shapes every step: let cuDNN time its algorithms once (as pytorch/examples does)
            torch.backends.cudnn.benchmark = True
        # channels_last by default for conv models: faster on CUDA and, measured, on CPU too (bench/cpu_bench.py)
        self.channels_last = image and (cfg.channels_last if cfg.channels_last is not None else True)
        if self.channels_last:
            self.G.to(memory_format=torch.channels_last)
            self.D.to(memory_format=torch.channels_last)
        self.amp_dtype = torch.bfloat16 if (cfg.precision == "bf16" or (cfg.precision == "auto" and cuda)) else None
        if self.world > 1 and cuda and cfg.sync_batchnorm:
            self.G = nn.SyncBatchNorm.convert_sync_batchnorm(self.G)
            self.D = nn.SyncBatchNorm.convert_sync_batchnorm(self.D)
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False) if cfg.ema else None
        # Compiled in place (every path that calls G or D, DDP's included, runs the compiled
        # forward); compilation itself happens in the first step, which is guarded (eager_step).
        self._compile_pending = cfg.compile
        if cfg.compile:
            self.G.compile()
            self.D.compile()

        # Fused Adam (CPU and CUDA); capturable (step counts on the device) for the CUDA-graph
        # path. Learning rates are device tensors, so a schedule can set them inside the graph.
        adam = {"fused": True, "capturable": cuda and cfg.cuda_graph and self.world == 1}
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=torch.tensor(cfg.lr_g, device=self.device),
                                      betas=cfg.betas, **adam)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=torch.tensor(cfg.lr_d, device=self.device),
                                      betas=cfg.betas, **adam)

        # Under torchrun, gradients are averaged by PyTorch's DistributedDataParallel.
        if self.world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.device.index] if cuda else None
            self.G_train: nn.Module = DDP(self.G, device_ids=ids)
            self.D_train: nn.Module = DDP(self.D, device_ids=ids)
        else:
            self.G_train, self.D_train = self.G, self.D

        self.data = dataset.data.to(self.device)
        self.labels = dataset.labels.to(self.device) if (dataset.labels is not None and self.G.num_classes) else None
        per_step = cfg.batch_size * self.n_critic * self.world
        self.steps_per_epoch = max(1, len(dataset) // per_step)
        self.total_steps = cfg.steps if cfg.steps is not None else round(cfg.epochs * self.steps_per_epoch)
        if self.total_steps < 1:
            raise ConfigError(f"epochs={cfg.epochs:g} is less than one step ({self.steps_per_epoch} steps make an "
                              f"epoch of {dataset.name!r}); give at least --epochs {1 / self.steps_per_epoch:.2g} "
                              "or --steps 1")
        self.data_gen = torch.Generator(device=self.device).manual_seed(cfg.seed)  # same order on every rank
        self.perm = torch.empty(0, dtype=torch.long, device=self.device)
        self.cursor = 0
        self.epoch = 0
        self.step = 0
        self.ema_step = torch.zeros((), device=self.device)
        # The step at which each of FINITE_WATCH first became NaN or infinite (-1: never), kept on the device.
        self.first_bad = torch.full((len(FINITE_WATCH),), -1, dtype=torch.long, device=self.device)
        self.step_t = torch.zeros((), dtype=torch.long, device=self.device)
        fixed = torch.Generator(device="cpu").manual_seed(cfg.seed + 12345)
        self.fixed_z = torch.randn(cfg.num_samples, self.G.latent_dim, generator=fixed).to(self.device)
        self.fixed_y = None
        if self.G.num_classes:
            per = max(1, cfg.num_samples // self.G.num_classes)
            self.fixed_y = torch.arange(self.G.num_classes).repeat_interleave(per).to(self.device)
            self.fixed_z = torch.randn(len(self.fixed_y), self.G.latent_dim, generator=fixed).to(self.device)

        self.run_dir = self._make_run_dir(resume_dir)
        if resume_dir is not None:
            self._load_checkpoint(find_checkpoint(resume_dir))
            if self.total_steps < self.step:
                raise ConfigError(
                    f"{self.run_dir} is at step {self.step}, past the {self.total_steps} steps asked for; a run "
                    f"is not shortened: give more than {self.step} --steps (or more --epochs) to train on"
                )
        if self.is_main:
            self._write_config()
            if resume_dir is not None:
                self._restart_log(change)
        if change:  # the new rates belong to the run from now on, even if it stops before its next checkpoint
            self.save_checkpoint()
        self._graph = None  # filled by the CUDA fast path (ganzoo.cuda_graph)
        self._step_fn = None

    # ------------------------------------------------------------------ set-up helpers

    @staticmethod
    def _config_for_resume(config: TrainConfig, resume_dir: Path) -> tuple[TrainConfig, dict[str, Any]]:
        """The saved run's config with what this invocation may change, and the changes it records."""
        ckpt = find_checkpoint(resume_dir)
        state = read_state(ckpt)
        try:
            saved = TrainConfig.from_json(state["config"])
        except TypeError as exc:
            raise CheckpointError(f"{ckpt / 'state.json'} holds no valid training config ({exc})") from exc
        run_root = ckpt.parent.parent if ckpt == resume_dir else resume_dir
        if config.model is not None and config.model != saved.model:
            raise CheckpointError(
                f"{resume_dir} holds a checkpoint of model {saved.model!r}, not {config.model!r}; "
                f"resume it with `ganzoo train {saved.model} --resume {resume_dir}`"
            )
        if config.out is not None and Path(config.out).resolve() != run_root.resolve():
            raise ConfigError(
                f"--out {config.out} cannot be given with --resume: a resumed run continues in its own "
                f"directory {run_root}. To branch it, copy that folder and resume the copy"
            )
        # Settings added to the model after this run was saved keep their meaning at that time.
        older = {k: v for k, v in get_spec(saved.model).saved_defaults.items()
                 if k not in state.get("model_config", {})}
        saved.model_args = {**older, **saved.model_args}
        for name, why in FIXED_ON_RESUME.items():
            given, old = getattr(config, name), getattr(saved, name)
            if name == "model_args":
                given = {k: v for k, v in given.items() if _plain(v) != _plain(old.get(k))}
                old = {k: old.get(k) for k in given}
            if given in (None, {}) or _plain(given) == _plain(old):
                continue
            flag = "--beta1/--beta2" if name == "betas" else "--model-arg" if name == "model_args" else _flag(name)
            raise ConfigError(
                f"{flag} {_show(given)} cannot change when resuming: {run_root} was trained with {_show(old)} "
                f"({why}). Resume without it, or start a new run with another --out"
            )
        merged = dataclasses.replace(saved, resume=str(resume_dir), out=str(run_root), changes=list(saved.changes))
        for name in EXECUTION:  # how this process runs: always this invocation's
            setattr(merged, name, getattr(config, name))
        for name in OUTPUT_DEFAULTS:
            if name != "seed" and getattr(config, name) is not None:
                setattr(merged, name, getattr(config, name))
        for name in ("eval_every", "data_dir", "channels_last"):
            if getattr(config, name) is not None:
                setattr(merged, name, getattr(config, name))
        if config.steps is not None or config.epochs is not None:  # a new length replaces the old one
            merged.steps, merged.epochs = config.steps, (config.epochs if config.steps is None else None)
        change: dict[str, Any] = {}
        for name in ("lr_g", "lr_d"):
            new, old = getattr(config, name), getattr(saved, name)
            if new is not None and new != old:
                setattr(merged, name, new)
                change[name] = {"from": old, "to": new}
        if change:
            change = {"step": state["step"], **change}
            merged.changes.append(change)
        return merged, change

    def _check_fit(self, gan: GAN, dataset: TensorDataset) -> None:
        shape = tuple(gan.generator.output_shape)
        if dataset.shape != shape:
            raise DataError(
                f"dataset {dataset.name!r} has samples of shape {dataset.shape}, but model "
                f"{gan.name!r} makes {shape}; build the model for the data "
                f"(e.g. data_shape={dataset.shape}) or pick a matching dataset"
            )
        if gan.generator.num_classes and dataset.labels is None:
            raise DataError(
                f"model {gan.name!r} is class-conditional but dataset {dataset.name!r} has no labels"
            )
        if gan.generator.num_classes and dataset.num_classes and dataset.num_classes > gan.generator.num_classes:
            raise DataError(
                f"dataset {dataset.name!r} has {dataset.num_classes} classes, model {gan.name!r} "
                f"was built for {gan.generator.num_classes}; set num_classes={dataset.num_classes}"
            )
        if self.config.batch_size == 1 and any(isinstance(m, torch.nn.BatchNorm1d) for net in
                                               (gan.generator, gan.discriminator) for m in net.modules()):
            raise ConfigError(
                f"--batch-size 1 cannot train {gan.name!r}: its BatchNorm1d normalises over the batch, which "
                "needs at least 2 samples per process; use --batch-size 2 or more"
            )
        need = self.config.batch_size * gan.loss.n_critic
        if len(dataset) < need:
            raise DataError(f"dataset {dataset.name!r} has {len(dataset)} samples, fewer than one step needs ({need})")

    def _make_run_dir(self, resume_dir: Path | None) -> Path:
        """The run directory, created, locked and checked writable (a new run: checked empty)."""
        cfg = self.config
        if cfg.out:
            run_dir = Path(cfg.out)
        else:
            stamp = time.strftime("%Y%m%d-%H%M%S")
            run_dir = Path("runs") / f"{cfg.model}-{cfg.dataset}-{stamp}"
        if resume_dir is None and (run_dir / "ganzoo.json").exists():  # checked before anything is written
            raise ConfigError(f"{run_dir} is a bundle folder (it holds ganzoo.json); a run there would mix "
                              "with the bundle's files: choose another --out")
        if self.is_main:
            try:
                (run_dir / "samples").mkdir(parents=True, exist_ok=True)
                self._hold_lock(run_dir)
                probe = run_dir / ".write-test"
                probe.write_text("")
                probe.unlink()
            except OSError as exc:
                raise ConfigError(f"cannot write the run directory {run_dir}: {exc}; pass a writable --out") from exc
            if resume_dir is None and (run_dir / "checkpoints").exists():
                raise CheckpointError(
                    f"{run_dir} already holds a run; pass --resume {run_dir} to continue it, "
                    "or choose another --out"
                )
        return run_dir

    def _write_config(self) -> None:
        # What this run actually uses, where the config left a choice to ganzoo ("auto", None).
        used = {"device": str(self.device), "out": str(self.run_dir), "channels_last": self.channels_last,
                "precision": "bf16" if self.amp_dtype is not None else "fp32"}
        with open(self.run_dir / "config.json", "w") as f:
            json.dump({**self.config.to_json(), **used, "plugin": _plugin_record(self.gan),
                       "ganzoo_version": __version__,
                       "torch_version": torch.__version__}, f, indent=2, default=str)

    def _restart_log(self, change: dict[str, Any]) -> None:
        """On resume: drop the log rows of steps after the checkpoint, and record this resume's changes."""
        path = self.run_dir / "metrics.jsonl"
        truncate_metrics(path, self.step)
        if change:
            what = {k: v for k, v in change.items() if k != "step"}
            with open(path, "a") as f:
                f.write(json.dumps({"step": self.step, "change": what}) + "\n")
            if not self.config.quiet:
                print(f"ganzoo: resumed at step {self.step} with "
                      + ", ".join(f"{k} {v['from']:g} -> {v['to']:g}" for k, v in what.items()), file=sys.stderr)

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

    def _autocast(self):
        if self.amp_dtype is None:
            return torch.autocast(self.device.type, enabled=False)
        # No weight-cast cache: cached casts would be stale inside a replayed CUDA graph.
        return torch.autocast(self.device.type, dtype=self.amp_dtype, cache_enabled=False)

    def train_step(self, batch: Tensor, y: Tensor | None) -> dict[str, Tensor]:
        """One generator update and its ``n_critic`` discriminator updates.

        ``batch`` is ``(n_critic, B, *shape)`` as stored (uint8 images or float
        points) and ``y`` ``(n_critic, B)`` labels or None. Returns detached
        device scalars; no host synchronisation happens in here.
        """
        G, D, loss = self.G_train, self.D_train, self.gan.loss
        if self.config.lr_schedule != "constant":
            self._set_learning_rates()
        real = self.dataset.to_model_range(batch)
        B = real.shape[1]
        logs: dict[str, Tensor] = {}
        if self.channels_last:  # (n_critic, B, C, H, W): channels_last per batch
            real = real.permute(0, 1, 3, 4, 2).contiguous().permute(0, 1, 4, 2, 3)
        d_norms = []
        for k in range(self.n_critic):
            yk = y[k] if y is not None else None
            z = torch.randn(B, self.G.latent_dim, device=self.device)
            last = k == self.n_critic - 1
            # The last critic step's fakes also serve the generator step (as in pytorch/examples).
            with self._autocast(), torch.set_grad_enabled(last):
                fake = G(z, yk)
            self.opt_d.zero_grad(set_to_none=True)
            with self._autocast():
                d_loss, logs = loss.discriminator_loss(D, real[k], fake.detach(), yk)
            d_loss.backward()
            logs["grad_norm_d"] = _grad_norm(self.D)
            d_norms.append(logs["grad_norm_d"])
            self.opt_d.step()
        yg = y[-1] if y is not None else None
        self.opt_g.zero_grad(set_to_none=True)
        # G's gradient flows through D's plain module (no DDP all-reduce), and D's own weight
        # gradients are not computed at all: only their path to the input is needed.
        self.D.requires_grad_(False)
        try:
            with self._autocast():
                # The real batch is a slice of this step's input, already on the device: capturable.
                extra = {"real": real[-1]} if self._g_takes_real else {}
                g_loss, g_logs = loss.generator_loss(self.D, fake, yg, **extra)
            g_loss.backward()
        finally:
            self.D.requires_grad_(True)
        logs.update(g_logs)
        logs["grad_norm_g"] = _grad_norm(self.G)
        self.opt_g.step()
        if self.G_ema is not None:
            self._update_ema()
        self.step_t += 1
        # Losses and gradient norms are watched every step (a NaN in any parameter's gradient makes
        # its norm NaN); weights and Adam's state are checked before each checkpoint.
        d_norm = torch.stack(d_norms).amax() if len(d_norms) > 1 else d_norms[0]
        watched = torch.stack([logs["loss_d"].float(), logs["loss_g"].float(), d_norm, logs["grad_norm_g"]])
        bad = ~torch.isfinite(watched)
        self.first_bad.copy_(torch.where((self.first_bad < 0) & bad, self.step_t, self.first_bad))
        return logs

    @torch.no_grad()
    def _set_learning_rates(self) -> None:
        """Both learning rates for the coming step, from the step counter on the device."""
        cfg = self.config
        done = self.step_t.float() / self.total_steps
        s = torch.clamp((done - cfg.lr_decay_start) / (1.0 - cfg.lr_decay_start), 0.0, 1.0)
        scale = 1.0 - s if cfg.lr_schedule == "linear" else 0.5 * (1.0 + torch.cos(math.pi * s))
        for opt, base in ((self.opt_g, cfg.lr_g), (self.opt_d, cfg.lr_d)):
            for group in opt.param_groups:
                group["lr"].copy_(scale * base)

    def learning_rates(self) -> tuple[float, float]:
        """The generator's and discriminator's current learning rates (syncs with the device)."""
        return float(self.opt_g.param_groups[0]["lr"]), float(self.opt_d.param_groups[0]["lr"])

    @torch.no_grad()
    def _update_ema(self) -> None:
        # Warm-up ramp (as in TF's ExponentialMovingAverage with num_updates): early
        # averages do not drag in the random initial weights.
        self.ema_step += 1
        decay = torch.clamp((1.0 + self.ema_step) / (10.0 + self.ema_step), max=self.config.ema_decay)
        ema_p = list(self.G_ema.parameters())
        torch._foreach_mul_(ema_p, decay)
        torch._foreach_add_(ema_p, torch._foreach_mul([p.detach() for p in self.G.parameters()], 1.0 - decay))
        for b_ema, b in zip(self.G_ema.buffers(), self.G.buffers()):
            b_ema.copy_(b)

    # ------------------------------------------------------------------ the loop

    def fit(self) -> Trainer:
        """Train until ``steps`` (or ``epochs``) are done; returns self."""
        cfg = self.config
        from tqdm.auto import tqdm

        if self.is_main and self.step >= self.total_steps:
            length = f"{cfg.steps} steps" if cfg.steps is not None else f"{cfg.epochs:g} epochs"
            print(f"ganzoo: {self.run_dir} is finished: step {self.step} of {self.total_steps} ({length}); to "
                  f"train longer, resume it with a larger --steps or --epochs, e.g. `ganzoo train {cfg.model} "
                  f"--resume {self.run_dir} --steps {2 * self.step}`", file=sys.stderr)
            self.release()
            return self
        if self.is_main and self._lock is None:
            self._hold_lock(self.run_dir)  # a second fit() of this Trainer
        if self.is_main and not cfg.quiet:
            print(self.describe(), file=sys.stderr)
        tb = self._tensorboard() if (cfg.tensorboard and self.is_main) else None
        bar = tqdm(total=self.total_steps, initial=self.step, disable=cfg.quiet or not self.is_main,
                   unit="step", dynamic_ncols=True)
        acc: Tensor | None = None  # running sums of the logged scalars, on the device
        n_logged, t0, step0 = 0, time.perf_counter(), self.step
        metrics = open(self.run_dir / "metrics.jsonl", "a") if self.is_main else None
        if self._step_fn is None:
            self._step_fn = self._make_step()
        step_fn = self._step_fn
        try:
            with _StopFlag() as stop:
                while self.step < self.total_steps:
                    keys, vec = step_fn(*self._batch(self._next_indices()))
                    self.step += 1
                    acc = vec.clone() if acc is None else acc.add_(vec)  # one kernel, no sync
                    n_logged += 1
                    end = self.step == self.total_steps
                    if self.step % cfg.log_every == 0 or end or stop.signal:
                        self._check_finite()  # syncs with the device, once per log interval
                        dt = time.perf_counter() - t0
                        rate = (self.step - step0) * cfg.batch_size * self.n_critic * self.world / max(dt, 1e-9)
                        means = (acc / n_logged).tolist()
                        row = {"step": self.step, "epoch": round(self.step / self.steps_per_epoch, 4),
                               **{k: round(v, 6) for k, v in zip(keys, means)},
                               "images_per_s": round(rate, 1), "time": round(dt, 3)}
                        if cfg.lr_schedule != "constant":  # the rates of the step just taken
                            row["lr_g"], row["lr_d"] = (float(f"{lr:.6g}") for lr in self.learning_rates())
                        if metrics:
                            metrics.write(json.dumps(row) + "\n")
                            metrics.flush()
                        if tb:
                            for k, v in row.items():
                                if k not in ("step", "epoch", "time"):
                                    tb.add_scalar(k, v, self.step)
                        bar.set_postfix({k: f"{row[k]:.3g}" for k in ("loss_d", "loss_g") if k in row} | {"img/s": f"{rate:.0f}"})
                        acc, n_logged = None, 0
                    bar.update(1)
                    if self.step % cfg.sample_every == 0 or end:
                        self.save_samples()
                    if cfg.eval_every and (self.step % cfg.eval_every == 0 or end) and self.is_main:
                        row = {"step": self.step, "eval": self.evaluate()}
                        if metrics:
                            metrics.write(json.dumps(row) + "\n")
                            metrics.flush()
                        bar.write(f"step {self.step}: " + ", ".join(f"{k} {v:.4g}" for k, v in row["eval"].items()))
                    if self.step % cfg.checkpoint_every == 0 or end or stop.signal:
                        self._check_finite()
                        self.save_checkpoint()
                    if stop.signal:
                        name = signal.Signals(stop.signal).name
                        raise KeyboardInterrupt(
                            f"{name} at step {self.step}: checkpoint saved in {self.run_dir}; "
                            f"continue with `ganzoo train {cfg.model} --resume {self.run_dir}`"
                        )
        finally:
            bar.close()
            if metrics:
                metrics.close()
            if tb:
                tb.close()
            self.release()
        return self

    def _make_step(self):
        if self.device.type == "cuda" and self.config.cuda_graph:
            from ganzoo.cuda_graph import make_graphed_step

            return make_graphed_step(self)
        return self.eager_step

    def eager_step(self, batch: Tensor, y: Tensor | None) -> tuple[list[str], Tensor]:
        """:meth:`train_step` with its logs stacked into one vector (for cheap accumulation)."""
        if self._compile_pending:
            return self._first_compiled_step(batch, y)
        logs = self.train_step(batch, y)
        return list(logs), torch.stack([v.float() for v in logs.values()])

    def _first_compiled_step(self, batch: Tensor, y: Tensor | None) -> tuple[list[str], Tensor]:
        """The step that compiles G and D; if compiling fails, undo it and train eagerly.

        Compilation happens inside the step (forward at the first call, backward at the first
        backward), possibly after D's update: the step's state is restored before the eager retry,
        so a fallback run is the same as an eager one.
        """
        self._compile_pending = False
        modules = {"G": self.G, "D": self.D, "G_ema": self.G_ema}
        saved = {name: {k: v.clone() for k, v in m.state_dict().items()} for name, m in modules.items() if m is not None}
        opts = [optimizer_tensors(opt, "o") for opt in (self.opt_g, self.opt_d)]
        counters = [t.clone() for t in (self.step_t, self.ema_step, self.first_bad)]
        rng = torch.get_rng_state(), (torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None)
        try:
            return self.eager_step(batch, y)
        except Exception as exc:
            for name, state in saved.items():
                modules[name].load_state_dict(state)
            for opt, (tensors, meta) in zip((self.opt_g, self.opt_d), opts):
                opt.state.clear()
                load_optimizer(opt, "o", tensors, meta)
            for t, old in zip((self.step_t, self.ema_step, self.first_bad), counters):
                t.copy_(old)
            torch.set_rng_state(rng[0])
            if rng[1] is not None:
                torch.cuda.set_rng_state(rng[1], self.device)
            for m in (self.G, self.D):
                m._compiled_call_impl = None  # what nn.Module.compile() set: back to the eager forward
            if self.is_main:
                cause = getattr(exc, "inner_exception", None) or exc  # dynamo wraps the backend's error
                first = (str(cause).strip().splitlines() or [""])[0]
                print(f"ganzoo: torch.compile failed ({type(cause).__name__}: {first[:300]}); training eagerly",
                      file=sys.stderr)
            return self.eager_step(batch, y)

    def _check_finite(self) -> None:
        """Stop the run (DivergenceError) if a loss or gradient norm was NaN or infinite (syncs)."""
        bad = self.first_bad.tolist()
        if max(bad) >= 0:
            at = min(b for b in bad if b >= 0)
            names = [FINITE_WATCH[i] for i, b in enumerate(bad) if b == at]
            what = " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)
            self._diverged(f"the {what} became NaN or infinite at step {at}")

    @torch.no_grad()
    def nonfinite_state(self) -> list[str]:
        """The parts of the training state (weights, Adam's moments) that hold a NaN or infinity.

        One max-abs reduction per part on the device (it overflows for no finite value), one sync.
        """
        parts: dict[str, list[Tensor]] = {
            "generator weights": [*self.G.parameters(), *self.G.buffers()],
            "discriminator weights": [*self.D.parameters(), *self.D.buffers()],
            "generator optimizer state": [t for st in self.opt_g.state.values() for t in st.values()
                                          if torch.is_tensor(t)],
            "discriminator optimizer state": [t for st in self.opt_d.state.values() for t in st.values()
                                              if torch.is_tensor(t)],
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

    def _diverged(self, what: str) -> None:
        cfg = self.config
        last = self._last_good_checkpoint()
        lr = f"--lr-g {cfg.lr_g / 10:g} --lr-d {cfg.lr_d / 10:g}"
        raise DivergenceError(
            f"{what}; training stopped. "
            + (f"The last good checkpoint ({last}, checked finite) is intact: continue from it with lower "
               f"learning rates, `ganzoo train {cfg.model} --resume {self.run_dir} {lr}`, or start again with "
               "--precision fp32 or another loss" if last else
               f"No checkpoint was written. Try lower learning rates ({lr}), --precision fp32 or another loss")
        )

    def _last_good_checkpoint(self) -> Path | None:
        """The checkpoint a resume would continue from, if its tensors are all finite."""
        try:
            path = find_checkpoint(self.run_dir)
            _, files = read_checkpoint(path)
        except GanzooError:
            return None
        finite = all(torch.isfinite(t).all() for tensors in files.values() for t in tensors.values()
                     if t.is_floating_point())
        return path if finite else None

    def describe(self) -> str:
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

    def _tensorboard(self):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except Exception:
            print("ganzoo: --tensorboard needs the tensorboard package (pip install tensorboard); logging to metrics.jsonl only", file=sys.stderr)
            return None
        return SummaryWriter(str(self.run_dir / "tensorboard"))

    # ------------------------------------------------------------------ samples and checkpoints

    def evaluate(self) -> dict[str, float]:
        """Score the sampling generator with ganzoo's metrics (``eval_n`` samples, first network, no floor)."""
        from ganzoo.metrics import evaluate

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
        if not self.is_main:
            return None
        from ganzoo.images import save_grid, save_scatter

        G = self.sampling_generator
        was_training = G.training
        G.eval()
        try:
            with self._autocast():
                x = G(self.fixed_z, self.fixed_y).float().cpu()
        finally:
            G.train(was_training)
        path = self.run_dir / "samples" / f"step-{self.step:08d}.png"
        if x.dim() == 4:
            nrow = self.G.num_classes and len(self.fixed_y) // self.G.num_classes or int(math.sqrt(len(x))) or 1
            save_grid(x, path, nrow=nrow)
        else:
            save_scatter(x, path, reference=self.dataset.data[:2000].float())
        return path

    def save_checkpoint(self) -> Path | None:
        """Write a checkpoint of the run, unless its weights or optimizer state hold a NaN or infinity.

        A checkpoint is a promise that the run can continue from it, so a non-finite state stops
        the run (:class:`~ganzoo.errors.DivergenceError`) instead of being saved.
        """
        bad = self.nonfinite_state()  # on every process: their weights are the same
        if bad:
            self._diverged(f"the {' and '.join(bad)} became NaN or infinite by step {self.step} "
                           "(no checkpoint was written for it)")
        if self.world > 1:
            torch.distributed.barrier()
        if not self.is_main:
            return None
        files = {
            "generator": state_dict_tensors(self.G),
            "discriminator": state_dict_tensors(self.D),
        }
        if self.G_ema is not None:
            files["generator_ema"] = state_dict_tensors(self.G_ema)
        opt_g, meta_g = optimizer_tensors(self.opt_g, "g")
        opt_d, meta_d = optimizer_tensors(self.opt_d, "d")
        files["optimizers"] = {**opt_g, **opt_d}
        rng = {"cpu": torch.get_rng_state(), "data": self.data_gen.get_state(), "perm": self.perm.cpu(),
               "ema_step": self.ema_step.cpu(), "step_t": self.step_t.cpu()}
        if self.device.type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        files["rng"] = rng
        state = {
            "step": self.step,
            "epoch": self.epoch,
            "cursor": self.cursor,
            "optim_g": meta_g,
            "optim_d": meta_d,
            "config": self.config.to_json(),
            "model_config": {k: list(v) if isinstance(v, tuple) else v for k, v in self.gan.config.items()},
            "loss": self.gan.loss.name,
            "plugin": _plugin_record(self.gan),
            "ganzoo_version": __version__,
            "torch_version": torch.__version__,
        }
        return write_checkpoint(self.run_dir / "checkpoints", self.step, files, state, keep=self.config.keep_checkpoints)

    def _load_checkpoint(self, path: Path) -> None:
        state, files = read_checkpoint(path)
        for name, module in (("generator", self.G), ("discriminator", self.D), ("generator_ema", self.G_ema)):
            if module is None:
                continue
            if name not in files:
                raise CheckpointError(f"checkpoint {path} has no {name}.safetensors")
            load_tensors(module, files[name], path / f"{name}.safetensors")
        try:
            load_optimizer(self.opt_g, "g", files["optimizers"], state["optim_g"])
            load_optimizer(self.opt_d, "d", files["optimizers"], state["optim_d"])
            rng = files["rng"]
            torch.set_rng_state(rng["cpu"])
            if "cuda" in rng and self.device.type == "cuda":
                torch.cuda.set_rng_state(rng["cuda"], self.device)
            self.data_gen.set_state(rng["data"])
            self.perm = rng["perm"].to(self.device)
            self.ema_step.copy_(rng["ema_step"])
            self.step_t.copy_(rng["step_t"])
        except (KeyError, ValueError, TypeError, RuntimeError, IndexError) as exc:
            raise CheckpointError(
                f"checkpoint {path} has damaged optimizer or random-number state ({type(exc).__name__}: {exc}); "
                f"resume from an older checkpoint folder in {path.parent}"
            ) from exc
        self.step, self.epoch, self.cursor = state["step"], state["epoch"], state["cursor"]
        saved = state["config"]
        if self.config.lr_schedule == "constant":  # a resume may change the rates (recorded in config.changes)
            for opt, lr in ((self.opt_g, self.config.lr_g), (self.opt_d, self.config.lr_d)):
                for group in opt.param_groups:
                    group["lr"].fill_(lr)
        elif (saved.get("lr_g"), saved.get("lr_d")) != (self.config.lr_g, self.config.lr_d):
            self._set_learning_rates()
        if self.rank:  # each process has its own noise stream
            torch.manual_seed(self.config.seed + self.rank + 1_000_003 * self.step)


def _plugin_record(gan: GAN) -> dict[str, Any]:
    """The plugin (name, distribution, version) of the run's model, so a later load can say what to install."""
    from ganzoo.plugins import get_plugin_manager

    info = get_plugin_manager().info(gan.spec.plugin)
    return {"name": gan.spec.plugin, "distribution": info.distribution, "version": info.version}


def _grad_norm(module: nn.Module) -> Tensor:
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not grads:
        return torch.zeros((), device=next(module.parameters()).device)
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)).float())


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

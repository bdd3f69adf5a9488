"""Loggers: where a run's metrics and sample grids go besides ``metrics.jsonl``.

``metrics.jsonl`` is always written: it is the run's own record, which ``ganzoo doctor``,
``report`` and a resume read. A logger is an extra destination, turned on per run with
``ganzoo train --logger NAME`` (or ``TrainConfig(loggers=("NAME",))``) and kept when the run
resumes. ganzoo ships ``tensorboard``; a plugin adds others through the
``ganzoo_register_loggers`` hook (a W&B one is a page of code: see the plugin guide).

What every logger receives (all on the main process only, never under a second rank):

* :meth:`Logger.start` once per training session, with the run's directory, its whole
  configuration (for a hyper-parameter table) and where the session starts;
* :meth:`Logger.log_metrics` with namespaced names (:func:`tag`): ``train/loss_d``,
  ``train/D(x)``, ``speed/images_per_s``, ``lr/g``, ``eval/fid``;
* :meth:`Logger.log_image` with every sample grid as it is written (``samples/ema`` or
  ``samples/generator``, and ``samples/raw`` while the EMA warms up);
* :meth:`Logger.finish` with ``"finished"``, ``"stopped"`` (interrupted; it can resume) or
  ``"failed"``.

A logger that raises is switched off for the rest of the session with one line on stderr
naming it: training goes on, and ``metrics.jsonl`` keeps everything.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Row keys that name where a row is, not a measurement (never sent as metrics).
PLACE_KEYS = ("step", "epoch", "time")

_SPEED = ("images_per_s", "images_per_s_avg")


@dataclass(frozen=True)
class RunInfo:
    """What a logger learns when a training session starts.

    Attributes:
        run_dir: the run directory (a logger may keep its files under it, as TensorBoard's
            ``tensorboard/`` is).
        model: the registered model name.
        dataset: the dataset name.
        config: the run's configuration as ``config.json`` holds it (JSON values).
        step: the step this session starts at (0 for a new run).
        total_steps: the step the run ends at.
        resumed: this session continues an earlier one.
    """

    run_dir: Path
    model: str
    dataset: str
    config: dict[str, Any]
    step: int
    total_steps: int
    resumed: bool


class Logger:
    """A destination for a run's metrics and sample grids; subclass it and override what you need.

    Every method does nothing by default. ``create()`` of a :class:`ganzoo.specs.LoggerSpec`
    returns one; ganzoo calls its methods on the main process, in this order: ``start``, then
    ``log_metrics`` and ``log_image`` as the run goes, then ``finish``.
    """

    def start(self, run: RunInfo) -> None:
        """A training session of ``run`` begins (a new run, or a resume)."""

    def log_metrics(self, step: int, metrics: dict[str, float]) -> None:
        """Numbers of ``step``, by namespaced name (``train/loss_d``, ``eval/fid``; see :func:`tag`)."""

    def log_image(self, step: int, tag: str, path: Path) -> None:
        """The PNG at ``path`` (a sample grid just written) under ``tag`` (``samples/ema``, ...)."""

    def finish(self, status: str) -> None:
        """The session ends: ``"finished"``, ``"stopped"`` (interrupted, resumable) or ``"failed"``."""


def tag(key: str, kind: str = "train") -> str:
    """The namespaced name a logger sees for a ``metrics.jsonl`` key.

    Example:
        >>> tag("loss_d"), tag("images_per_s"), tag("lr_g"), tag("fid", "eval")
        ('train/loss_d', 'speed/images_per_s', 'lr/g', 'eval/fid')
    """
    if kind != "train":
        return f"{kind}/{key}"
    if key in _SPEED:
        return f"speed/{key}"
    if key in ("lr_g", "lr_d"):
        return f"lr/{key[3:]}"
    return f"train/{key}"


def metrics_of(row: dict[str, Any]) -> tuple[int, dict[str, float]]:
    """``(step, {namespaced name: number})`` of one ``metrics.jsonl`` row; what is not a number is left out.

    A training row's keys go under ``train/``, ``speed/`` and ``lr/``; an evaluation row's
    ``eval`` dict under ``eval/``.

    Example:
        >>> metrics_of({"step": 50, "epoch": 0.1, "loss_d": 1.2, "images_per_s": 800.0, "time": 3.0})
        (50, {'train/loss_d': 1.2, 'speed/images_per_s': 800.0})
        >>> metrics_of({"step": 100, "eval": {"fid": 12.5, "kid": 0.01}})
        (100, {'eval/fid': 12.5, 'eval/kid': 0.01})
    """
    step = int(row["step"])
    out: dict[str, float] = {}
    for key, value in row.items():
        if key in PLACE_KEYS:
            continue
        if isinstance(value, dict):
            kind = "eval" if key == "eval" else key
            out.update({tag(k, kind): float(v) for k, v in value.items() if _number(v)})
        elif _number(value):
            out[tag(key)] = float(value)
    return step, out


def hyperparameters(config: dict[str, Any]) -> dict[str, str | int | float | bool]:
    """A run's config as a flat table of scalars (for a tracker's hyper-parameter view).

    Nested settings flatten with dots (``model_args.latent_dim``); lists and tuples become
    text; ``None`` and the run's bookkeeping (``changes``, ``hardware``, ``data``) are left out.

    Example:
        >>> hyperparameters({"model": "dcgan", "lr_g": 2e-4, "betas": [0.5, 0.999], "model_args": {"width": 64},
        ...                  "steps": None, "changes": []})
        {'model': 'dcgan', 'lr_g': 0.0002, 'betas': '[0.5, 0.999]', 'model_args.width': 64}
    """
    flat: dict[str, str | int | float | bool] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        elif isinstance(value, (list, tuple)):
            flat[prefix] = str(list(value))
        elif isinstance(value, (str, int, float, bool)):
            flat[prefix] = value

    for key, value in config.items():
        if value is not None and key not in ("changes", "hardware", "data"):
            walk(key, value)
    return flat


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# --------------------------------------------------------------------------- TensorBoard


def tensorboard_ready() -> str | None:
    """``None`` when the ``tensorboard`` package is installed, else what to install."""
    if importlib.util.find_spec("tensorboard") is None:
        return "the tensorboard logger needs the tensorboard package: pip install tensorboard (or 'ganzoo[tensorboard]')"
    return None


class TensorBoardLogger(Logger):
    """ganzoo's TensorBoard logger: event files in the run's ``tensorboard/`` folder.

    Scalars under their namespaced names (``train/``, ``speed/``, ``lr/``, ``eval/``), every
    sample grid as an image (``samples/ema``, ``samples/raw``), the run's configuration as
    text and as hyper-parameters (TensorBoard's HPARAMS tab, with the run's losses and
    evaluation scores as its metrics), all in one folder, so a resumed run continues the
    same curves. ``tensorboard --logdir runs`` shows every run side by side.
    """

    def __init__(self) -> None:
        self._writer: Any = None

    def start(self, run: RunInfo) -> None:
        from torch.utils.tensorboard import SummaryWriter
        from torch.utils.tensorboard.summary import hparams

        # The engine has checked that tensorboard/ is a folder inside the run (no link out of it).
        # A resume starts from the checkpoint of step N: whatever an interrupted session logged
        # after it (steps > N) is dropped, as those steps are trained again.
        self._writer = SummaryWriter(str(run.run_dir / "tensorboard"), purge_step=run.step + 1 if run.resumed else None)
        if run.resumed:
            return  # the configuration and hyper-parameters were written by the session that began the run
        table = hyperparameters(run.config)
        watched = ["train/loss_d", "train/loss_g"] + (["eval/fid"] if run.config.get("eval_every") else [])
        for summary in hparams(table, {name: 0.0 for name in watched}):
            self._writer.file_writer.add_summary(summary, run.step)
        import json

        self._writer.add_text("config", "```\n" + json.dumps(run.config, indent=2, default=str) + "\n```", run.step)

    def log_metrics(self, step: int, metrics: dict[str, float]) -> None:
        for name, value in metrics.items():
            self._writer.add_scalar(name, value, step)

    def log_image(self, step: int, tag: str, path: Path) -> None:
        import numpy as np
        from PIL import Image

        with Image.open(path) as im:
            pixels = np.asarray(im.convert("RGB"))
        self._writer.add_image(tag, pixels, step, dataformats="HWC")

    def finish(self, status: str) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


# --------------------------------------------------------------------------- a run's loggers


class RunLoggers:
    """The loggers of one training session: each call goes to each, and one that raises is switched off.

    Args:
        named: ``(name, logger)`` pairs, already created.
        say: where the one-line notes go (stderr by default).
    """

    def __init__(self, named: Iterable[tuple[str, Logger]], say: Callable[[str], None] | None = None) -> None:
        self._on = list(named)
        self._say = say or (lambda line: print(line, file=sys.stderr))

    @property
    def names(self) -> list[str]:
        """The loggers still on."""
        return [name for name, _ in self._on]

    def _each(self, what: str, call: Callable[[Logger], Any]) -> None:
        for name, logger in list(self._on):
            try:
                call(logger)
            except Exception as exc:  # noqa: BLE001  (a logger must never stop training)
                first = (str(exc).strip().splitlines() or [""])[0][:200]
                self._on.remove((name, logger))
                self._say(f"ganzoo: logger {name!r} failed in {what} ({type(exc).__name__}: {first}); it is off for "
                          "the rest of this session, metrics.jsonl has everything")

    def start(self, run: RunInfo) -> None:
        self._each("start", lambda lg: lg.start(run))

    def row(self, row: dict[str, Any]) -> None:
        """A ``metrics.jsonl`` row, as namespaced metrics (:func:`metrics_of`)."""
        if not self._on:
            return
        step, metrics = metrics_of(row)
        if metrics:
            self._each("log_metrics", lambda lg: lg.log_metrics(step, metrics))

    def image(self, step: int, tag: str, path: Path) -> None:
        self._each("log_image", lambda lg: lg.log_image(step, tag, path))

    def finish(self, status: str) -> None:
        self._each("finish", lambda lg: lg.finish(status))
        self._on = []


def open_loggers(names: Iterable[str], run: RunInfo, say: Callable[[str], None] | None = None) -> RunLoggers:
    """Create and start the loggers ``names`` for a session of ``run``.

    A logger whose ``ready()`` says something is missing, or whose ``create()`` fails, is
    left out with one line (training goes on; ``metrics.jsonl`` has everything).

    Raises:
        UnknownNameError: a name no plugin registered (checked before anything is created).
    """
    from ganzoo.registry import get_logger_spec

    say = say or (lambda line: print(line, file=sys.stderr))
    specs = [get_logger_spec(name) for name in names]
    created: list[tuple[str, Logger]] = []
    for spec in specs:
        try:
            problem = spec.ready() if spec.ready is not None else None
            if problem:
                say(f"ganzoo: logger {spec.name!r} is off: {problem}; logging to metrics.jsonl only")
                continue
            logger = spec.create()
            if not isinstance(logger, Logger):
                raise TypeError(f"create() returned {type(logger).__name__}, not a ganzoo.loggers.Logger")
        except Exception as exc:  # noqa: BLE001  (a plugin's logger must never stop training)
            first = (str(exc).strip().splitlines() or [""])[0][:200]
            say(f"ganzoo: logger {spec.name!r} (plugin {spec.plugin!r}) could not be created ({type(exc).__name__}: "
                f"{first}); logging to metrics.jsonl only")
            continue
        created.append((spec.name, logger))
    loggers = RunLoggers(created, say)
    loggers.start(run)
    return loggers

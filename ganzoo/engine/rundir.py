"""The run directory: one writer at a time, its config.json, metrics log, sample grids and checkpoints.

A training holds an OS lock on ``<run>/.lock`` for as long as it may write the run
directory. The operating system drops the lock when the process ends, however it ends
(``kill -9`` included), so a lock is never stale. A second training of the same directory
(``--out`` or ``--resume``) is refused while the first one runs.

Everything a training writes or deletes (``checkpoints/``, ``samples/``, ``metrics.jsonl``,
``config.json``, ``.lock``, ``tensorboard/``) must lie inside the run directory: a link that leads
out of it is refused (:func:`check_run_paths`, :func:`ganzoo.checkpoint.check_inside`). A run
directory deleted or replaced while its training runs is noticed through the lock file
(:meth:`RunDirLock.intact`), and the training stops instead of writing a new one.

The log (``metrics.jsonl``) always matches the checkpoint: a resume drops the rows of steps
after it. Checkpoints are written and read through :mod:`ganzoo.checkpoint`.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from ganzoo import __version__
from ganzoo.checkpoint import (
    check_inside,
    find_checkpoint,
    load_optimizer,
    load_tensors,
    optimizer_tensors,
    read_checkpoint,
    remove_tree,
    state_dict_tensors,
    write_checkpoint,
)
from ganzoo.errors import CheckpointError, ConfigError, DivergenceError, GanzooError
from ganzoo.fsio import write_bytes

if TYPE_CHECKING:
    from ganzoo.engine.config import TrainConfig
    from ganzoo.interfaces import GAN

LOCK_FILE = ".lock"

try:  # POSIX
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]
try:  # Windows
    import msvcrt
except ImportError:
    msvcrt = None  # type: ignore[assignment]


class RunDirLock:
    """An exclusive, non-blocking lock on a run directory, released by :meth:`release` or at exit.

    Example:
        >>> import tempfile
        >>> from ganzoo.engine.rundir import RunDirLock
        >>> with tempfile.TemporaryDirectory() as d:
        ...     lock = RunDirLock(d)
        ...     lock.release()
    """

    def __init__(self, run_dir: str | os.PathLike) -> None:
        self.path = Path(run_dir) / LOCK_FILE
        self._file: IO[str] | None = None
        check_inside(self.path, Path(run_dir), "file")
        try:
            f = open(self.path, "a+")
        except OSError as exc:
            raise CheckpointError(
                f"cannot lock {self.path} ({exc.strerror or exc}): a training writes its checkpoints in "
                f"{self.path.parent}, which must be writable; make it writable, or copy the run to a writable "
                "place and resume the copy"
            ) from None
        try:
            _lock(f)
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK, errno.EDEADLK):
                # A file system without locks (some network mounts): train unlocked, as before.
                print(f"ganzoo: cannot lock {self.path} ({exc.strerror}); nothing stops a second training "
                      "from writing this run directory", file=sys.stderr)
                self._file = f
                return
            f.seek(0)
            holder = f.read().strip()
            f.close()
            who = f" (process {holder})" if holder.isdigit() else ""
            raise CheckpointError(
                f"{self.path.parent} is in use by another training{who}; wait for it to finish or stop it "
                "(Ctrl-C saves a checkpoint), or choose another --out"
            ) from None
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        self._file = f

    @property
    def held(self) -> bool:
        return self._file is not None

    def intact(self) -> bool:
        """Whether the lock file held is still ``<run>/.lock``: False once the run directory was deleted or replaced."""
        if self._file is None:
            return False
        try:
            there, held = os.stat(self.path), os.fstat(self._file.fileno())
        except OSError:
            return False
        return (there.st_dev, there.st_ino) == (held.st_dev, held.st_ino)

    def release(self) -> None:
        """Give the lock up (closing the file releases it)."""
        if self._file is not None:
            f, self._file = self._file, None
            f.close()

    def __del__(self) -> None:
        self.release()


def _lock(f: IO[str]) -> None:
    if fcntl is not None:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    elif msvcrt is not None:  # pragma: no cover - Windows: lock the first byte
        f.seek(0)
        msvcrt.locking(f.fileno(), msvcrt.LK_NBLCK, 1)
    # elsewhere: no lock (documented)


def truncate_metrics(path: Path, step: int) -> int:
    """Drop the rows of ``metrics.jsonl`` after ``step`` (and any torn last line); returns how many.

    A run killed after its last checkpoint logged steps that a resume repeats; without this the
    log would hold two rows for each of them.
    """
    if not path.is_file():
        return 0
    keep, dropped = [], 0
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
            ok = isinstance(row, dict) and isinstance(row.get("step"), int) and row["step"] <= step
        except (ValueError, RecursionError):  # a torn line, or one nested too deeply to read
            ok = False
        if ok:
            keep.append(line)
        else:
            dropped += 1
    if dropped:
        write_bytes(path, "".join(line + "\n" for line in keep).encode())
    return dropped


# ---------------------------------------------------------------------- creation and config.json

# What a training writes or deletes in its run directory, and whether each is a file or a folder.
RUN_PATHS = (("checkpoints", "dir"), ("checkpoints/latest.json", "file"), ("samples", "dir"),
             ("metrics.jsonl", "file"), ("config.json", "file"), (LOCK_FILE, "file"), ("tensorboard", "dir"))


def check_run_paths(run_dir: Path) -> None:
    """Refuse a run directory where a path the training writes or deletes leads out of it (or is the wrong kind)."""
    for name, kind in RUN_PATHS:
        check_inside(run_dir / name, run_dir, kind)



def create_run_dir(cfg: TrainConfig, resume_dir: Path | None, *, is_main: bool,
                   hold_lock: Callable[[Path], None]) -> Path:
    """The run directory, created, locked and checked writable (a new run: checked empty).

    Args:
        cfg: the resolved config (``out``, or ``runs/<model>-<dataset>-<time>`` when unset).
        resume_dir: the directory being resumed, or None for a new run.
        is_main: only the main process creates and locks the directory.
        hold_lock: locks a directory for this training (raises if another one holds it).
    """
    if cfg.out:
        run_dir = Path(cfg.out)
    else:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        run_dir = Path("runs") / f"{cfg.model}-{cfg.dataset}-{stamp}"
    if resume_dir is None and (run_dir / "ganzoo.json").exists():  # checked before anything is written
        raise ConfigError(f"{run_dir} is a bundle folder (it holds ganzoo.json); a run there would mix "
                          "with the bundle's files: choose another --out")
    if is_main:
        try:
            (run_dir / "samples").mkdir(parents=True, exist_ok=True)
            hold_lock(run_dir)
            probe = run_dir / ".write-test"
            remove_tree(probe)  # a link left there is dropped, not written through
            with open(probe, "x"):
                pass
            probe.unlink()
        except OSError as exc:
            raise ConfigError(f"cannot write the run directory {run_dir}: {exc}; pass a writable --out") from exc
        check_run_paths(run_dir)
        if resume_dir is None and (run_dir / "checkpoints").exists():
            raise CheckpointError(
                f"{run_dir} already holds a run; pass --resume {run_dir} to continue it, "
                "or choose another --out"
            )
    return run_dir


def write_config(run_dir: Path, config: TrainConfig, gan: GAN, used: dict[str, Any]) -> None:
    """Write ``config.json``: the config, with ``used`` replacing the choices it left to ganzoo."""
    check_inside(run_dir / "config.json", run_dir, "file")
    with open(run_dir / "config.json", "w") as f:
        json.dump({**config.to_json(), **used, "plugin": plugin_record(gan),
                   "ganzoo_version": __version__,
                   "torch_version": torch.__version__}, f, indent=2, default=str)


def hardware(device: torch.device, world: int = 1) -> str:
    """What trained the run, in words: ``"1x NVIDIA H200"``, ``"CPU (x86_64, 2 threads)"``."""
    import platform

    if device.type == "cuda":
        return f"{world}x {torch.cuda.get_device_name(device)}"
    return f"{world}x " * (world > 1) + f"CPU ({platform.machine() or 'unknown'}, {torch.get_num_threads()} threads)"


def data_record(dataset: Any) -> dict[str, Any]:
    """What the run trained on: the dataset's name and size, and for a folder its name (not its path)."""
    record: dict[str, Any] = {"name": dataset.name, "samples": len(dataset)}
    root = (getattr(dataset, "info", None) or {}).get("root")
    if root:
        record["folder"] = Path(root).name
    return record


def run_history(run_dir: Path, step: int, config: dict[str, Any]) -> dict[str, Any]:
    """What really happened in a run, from its log and config.json: for bundles and their cards.

    Args:
        run_dir: the run directory.
        step: the step of the checkpoint being saved.
        config: the run's ``config.json`` (``{}`` when unreadable).

    Returns:
        ``steps`` (trained, up to that checkpoint), ``planned_steps`` (what the run was asked
        for, when known), ``epochs``, ``wall_time_s`` (training time over every session, up
        to the last log row), ``sessions`` (1 + the number of resumes), ``changes`` (each
        resume's changed settings), ``hardware``, ``torch_version`` and ``data`` (name and
        size; a folder's name, never its path), each only when known.
    """
    from ganzoo.diagnosis import read_log

    rows = [r for r in read_log(run_dir) if isinstance(r.get("time"), (int, float)) and r["step"] <= step]
    history: dict[str, Any] = {"steps": step}
    sessions, wall, last = (1 if rows else 0), 0.0, None
    for r in rows:
        if last is not None and r["time"] < last:  # the clock starts again at each fit(): a resume
            wall += last
            sessions += 1
        last = r["time"]
    if last is not None:
        history["wall_time_s"] = round(wall + last, 1)
        history["sessions"] = sessions
    per_step = next((r["epoch"] / r["step"] for r in reversed(rows)
                     if isinstance(r.get("epoch"), (int, float)) and r["step"] > 0), None)
    if per_step:
        history["epochs"] = round(step * per_step, 3)
    if isinstance(config.get("steps"), int):
        history["planned_steps"] = config["steps"]
    elif isinstance(config.get("epochs"), (int, float)) and per_step:
        history["planned_steps"] = round(config["epochs"] / per_step)
    for key in ("changes", "hardware", "torch_version", "data"):
        if config.get(key):
            history[key] = config[key]
    return history


def run_record(config: TrainConfig, gan: GAN) -> dict[str, Any]:
    """What a checkpoint's ``state.json`` says of the run besides its position and Adam's metadata."""
    return {
        "config": config.to_json(),
        "model_config": {k: list(v) if isinstance(v, tuple) else v for k, v in gan.config.items()},
        "loss": gan.loss.name,
        "plugin": plugin_record(gan),
        "ganzoo_version": __version__,
        "torch_version": torch.__version__,
    }


def plugin_record(gan: GAN) -> dict[str, Any]:
    """The plugin (name, distribution, version) of the run's model, so a later load can say what to install."""
    from ganzoo.plugins import get_plugin_manager

    info = get_plugin_manager().info(gan.spec.plugin)
    return {"name": gan.spec.plugin, "distribution": info.distribution, "version": info.version}


# ---------------------------------------------------------------------- the metrics log


def restart_log(run_dir: Path, step: int, change: dict[str, Any], *, quiet: bool) -> None:
    """On resume: drop the log rows of steps after the checkpoint, and record this resume's changes."""
    path = run_dir / "metrics.jsonl"
    check_inside(path, run_dir, "file")
    truncate_metrics(path, step)
    if change:
        what = {k: v for k, v in change.items() if k != "step"}
        with open(path, "a") as f:
            f.write(json.dumps({"step": step, "change": what}) + "\n")
        if not quiet:
            print(f"ganzoo: resumed at step {step} with "
                  + ", ".join(f"{k} {v['from']:g} -> {v['to']:g}" for k, v in what.items()), file=sys.stderr)


class MetricsLog:
    """The run's ``metrics.jsonl``, and its loggers (:mod:`ganzoo.loggers`); does nothing off the main process."""

    def __init__(self, run_dir: Path, *, is_main: bool, loggers: Any = None) -> None:
        if is_main:
            check_inside(run_dir / "metrics.jsonl", run_dir, "file")
        self.loggers = loggers if is_main else None  # a ganzoo.loggers.RunLoggers, or None
        self._file = open(run_dir / "metrics.jsonl", "a") if is_main else None

    def write(self, row: dict[str, Any], *, forward: bool = False) -> None:
        """Append ``row`` (flushed: a killed run keeps its rows); its numbers to the loggers too if ``forward``."""
        if self._file:
            self._file.write(json.dumps(row) + "\n")
            self._file.flush()
        if self.loggers is not None and forward:
            self.loggers.row(row)

    def close(self, status: str = "finished") -> None:
        if self._file:
            self._file.close()
        if self.loggers is not None:
            self.loggers.finish(status)


def write_samples(run_dir: Path, step: int, x: Tensor, *, num_classes: int, data: Tensor,
                  folder: str = "samples") -> Path:
    """Save generated samples as ``FOLDER/step-N.png``: an image grid, or points over the data's."""
    from ganzoo.images import readable_scale, save_grid, save_scatter

    path = run_dir / folder / f"step-{step:08d}.png"
    check_inside(path.parent, run_dir, "dir")
    check_inside(path, run_dir, "file")
    if not path.parent.is_dir():
        if not path.parent.parent.is_dir() and path.parent.parent != run_dir:
            path.parent.parent.mkdir()  # samples/ for samples/raw/
        path.parent.mkdir()  # not the run directory itself: a run directory that is gone stays gone
    if x.dim() == 4:
        # One row per class for conditional models (the fixed labels come in equal runs); small
        # images enlarged (nearest-neighbour) so that a grid of 28-pixel digits is readable.
        nrow = num_classes and len(x) // num_classes or int(math.sqrt(len(x))) or 1
        save_grid(x, path, nrow=nrow, scale=readable_scale(*x.shape[-2:]))
    else:
        save_scatter(x, path, reference=data[:2000].float())
    return path


# ---------------------------------------------------------------------- checkpoints


def write_training_checkpoint(run_dir: Path, position: dict[str, int], nets: dict[str, nn.Module | None],
                              optimizers: dict[str, torch.optim.Optimizer], rng: dict[str, Tensor],
                              record: dict[str, Any], keep: int) -> Path:
    """Write ``checkpoints/step-N`` through :func:`ganzoo.checkpoint.write_checkpoint`.

    Args:
        run_dir: the run directory.
        position: ``step``, ``epoch`` and ``cursor`` (where the data order stands).
        nets: file name (``generator``...) to module; None entries are left out.
        optimizers: tensor-name prefix (``g``, ``d``) to optimizer.
        rng: the random and counter state saved as ``rng.safetensors``.
        record: the rest of ``state.json`` (config, versions...).
        keep: how many older checkpoints to keep.
    """
    files = {name: state_dict_tensors(m) for name, m in nets.items() if m is not None}
    files["optimizers"], metas = {}, {}
    for prefix, opt in optimizers.items():
        tensors, metas[f"optim_{prefix}"] = optimizer_tensors(opt, prefix)
        files["optimizers"].update(tensors)
    files["rng"] = rng
    state = {**position, **metas, **record}
    model = record.get("config", {}).get("model", "MODEL")
    hint = f"fix that, then continue from it with `ganzoo train {model} --resume {run_dir}`"
    return write_checkpoint(run_dir / "checkpoints", position["step"], files, state, keep=keep, root=run_dir,
                            hint=hint)


def read_training_checkpoint(path: Path, nets: dict[str, nn.Module | None],
                             optimizers: dict[str, torch.optim.Optimizer],
                             restore_rng: Callable[[dict[str, Tensor]], None]) -> dict[str, Any]:
    """Load a checkpoint into ``nets`` and ``optimizers``, hand its rng file to ``restore_rng``; its state."""
    state, files = read_checkpoint(path)
    for name, module in nets.items():
        if module is None:
            continue
        if name not in files:
            raise CheckpointError(f"checkpoint {path} has no {name}.safetensors")
        load_tensors(module, files[name], path / f"{name}.safetensors")
    try:
        for prefix, opt in optimizers.items():
            load_optimizer(opt, prefix, files["optimizers"], state[f"optim_{prefix}"])
        restore_rng(files["rng"])
    except (KeyError, ValueError, TypeError, RuntimeError, IndexError) as exc:
        raise CheckpointError(
            f"checkpoint {path} has damaged optimizer or random-number state ({type(exc).__name__}: {exc}); "
            f"resume from an older checkpoint folder in {path.parent}"
        ) from exc
    return state


def record_divergence(run_dir: Path, step: int, what: str) -> None:
    """Append ``{"step": N, "diverged": what}`` to the log; the run is failing already, so a write error is ignored."""
    try:
        check_inside(run_dir / "metrics.jsonl", run_dir, "file")
        with open(run_dir / "metrics.jsonl", "a") as f:
            f.write(json.dumps({"step": step, "diverged": what}) + "\n")
    except (OSError, GanzooError):
        pass


def divergence_error(what: str, cfg: TrainConfig, run_dir: Path) -> DivergenceError:
    """The error that stops a diverged run, with the way on: the last good checkpoint, or a new start."""
    last = last_good_checkpoint(run_dir)
    lr = f"--lr-g {cfg.lr_g / 10:g} --lr-d {cfg.lr_d / 10:g}"
    return DivergenceError(
        f"{what}; training stopped. "
        + (f"The last good checkpoint ({last}, checked finite) is intact: continue from it with lower "
           f"learning rates, `ganzoo train {cfg.model} --resume {run_dir} {lr}`, or start again with "
           "--precision fp32 or another loss" if last else
           f"No checkpoint was written. Try lower learning rates ({lr}), --precision fp32 or another loss")
    )


def last_good_checkpoint(run_dir: Path) -> Path | None:
    """The checkpoint a resume would continue from, if its tensors are all finite."""
    try:
        path = find_checkpoint(run_dir)
        _, files = read_checkpoint(path)
    except GanzooError:
        return None
    finite = all(torch.isfinite(t).all() for tensors in files.values() for t in tensors.values()
                 if t.is_floating_point())
    return path if finite else None


# ---------------------------------------------------------------------- the run directory under way


def check_run_dir_intact(run_dir: Path, lock: Any, run_id: tuple[int, int], step: int) -> None:
    """Raise CheckpointError if ``run_dir`` was deleted or replaced since the run opened it.

    With the lock held, the locked file must still be the run's ``.lock``; between ``fit()`` calls
    (no lock), the folder's device and inode must still be ``run_id``.
    """
    if lock is not None:
        gone = not lock.intact()
    else:
        try:
            st = os.stat(run_dir)
            gone = (st.st_dev, st.st_ino) != run_id
        except OSError:
            gone = True
    if gone:
        raise CheckpointError(
            f"the run directory {run_dir} was deleted or replaced while training (at step {step}); "
            "stopped without writing there again. Start a new run with another --out, or resume a copy of "
            "the run if you kept one"
        )


@contextlib.contextmanager
def writing(run_dir: Path, model: str, what: str):
    """Turn a failed write in the run directory (disk full...) into one line that says what is intact."""
    try:
        yield
    except CheckpointError:  # the checkpoint's own errors already say it (CheckpointWriteError is an OSError)
        raise
    except OSError as exc:
        try:
            last = f"the last checkpoint {find_checkpoint(run_dir)} is intact; fix that, then continue " \
                   f"from it with `ganzoo train {model} --resume {run_dir}`"
        except GanzooError:
            last = "no checkpoint is there yet; fix that and start again"
        raise CheckpointError(f"cannot write {what} in {run_dir} ({exc.strerror or exc}); {last}") from exc


def rng_state(device: torch.device, data_gen: torch.Generator, perm: Tensor, ema_step: Tensor,
              step_t: Tensor) -> dict[str, Tensor]:
    """Every random stream and counter a checkpoint needs to continue exactly."""
    rng = {"cpu": torch.get_rng_state(), "data": data_gen.get_state(), "perm": perm.cpu(),
           "ema_step": ema_step.cpu(), "step_t": step_t.cpu()}
    if device.type == "cuda":
        rng["cuda"] = torch.cuda.get_rng_state(device)
    return rng


def restore_rng_state(rng: dict[str, Tensor], device: torch.device, data_gen: torch.Generator, n: int,
                      ema_step: Tensor, step_t: Tensor) -> Tensor:
    """Put :func:`rng_state`'s streams and counters back; returns the data order (checked), on ``device``."""
    torch.set_rng_state(rng["cpu"])
    if "cuda" in rng and device.type == "cuda":
        torch.cuda.set_rng_state(rng["cuda"], device)
    data_gen.set_state(rng["data"])
    ema_step.copy_(rng["ema_step"])
    step_t.copy_(rng["step_t"])
    return _checked_perm(rng["perm"], n).to(device)



def _checked_perm(perm: Tensor, n: int) -> Tensor:
    """The saved data order: empty, or a permutation of ``range(n)`` (int64), else ValueError."""
    if perm.dtype != torch.int64 or perm.dim() != 1:
        raise ValueError(f"the data order 'perm' must be a 1-D int64 tensor, got {perm.dtype} of shape "
                         f"{tuple(perm.shape)}")
    if perm.numel() == 0:
        return perm
    if perm.numel() != n:
        raise ValueError(f"the data order 'perm' has {perm.numel()} entries for a dataset of {n}")
    if not torch.equal(perm.sort().values, torch.arange(n)):
        raise ValueError(f"the data order 'perm' is not a permutation of 0..{n - 1}")
    return perm

"""Checkpoints as safetensors plus JSON, written atomically.

A checkpoint is a folder ``checkpoints/step-XXXXXXXX/`` holding
``generator.safetensors``, ``generator_ema.safetensors`` (when EMA is on),
``discriminator.safetensors``, ``optimizers.safetensors`` (Adam's moments and
step counts), ``rng.safetensors`` and ``state.json`` (step, epoch position,
optimizer hyper-parameters, config). It is written to a ``.tmp`` folder and
renamed into place, and only then does ``checkpoints/latest.json`` (itself
replaced atomically) point at it: an interrupted write never damages the
previous checkpoint. No pickles are written or read.

Every path written or deleted must lie inside the run directory (:func:`check_inside`, the rule
:func:`ganzoo.weights.regular_file_inside` applies to loading): a ``checkpoints/`` link leading
out of the run is refused, and no folder is ever removed through a link (a link is unlinked,
what it points at is left alone). A write that fails (disk full) removes its own ``.tmp`` folder
and says that the previous checkpoint is intact.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from ganzoo.errors import CheckpointError
from ganzoo.fsio import fsync_dir, fsync_file, write_json
from ganzoo.weights import fit_problems, read_json

LATEST = "latest.json"


class CheckpointWriteError(CheckpointError, OSError):
    """A checkpoint that could not be written (disk full...); still an ``OSError`` for code that caught one."""


def state_dict_tensors(module: nn.Module) -> dict[str, torch.Tensor]:
    """A module's state dict as contiguous CPU tensors (safetensors needs both)."""
    return {k: v.detach().to("cpu").contiguous() for k, v in module.state_dict().items()}


def save_module(module: nn.Module, path: Path, metadata: dict[str, str] | None = None) -> None:
    save_file(state_dict_tensors(module), str(path), metadata=metadata)


def load_module(module: nn.Module, path: Path) -> None:
    """Load safetensors weights into ``module``, with errors that name the file and the fix."""
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(
            f"{path} is not a readable safetensors file ({exc}); it may be truncated or corrupt"
        ) from exc
    load_tensors(module, tensors, path)


def load_tensors(module: nn.Module, tensors: dict[str, torch.Tensor], source: Path | str) -> None:
    """Load a state dict read from ``source``, refusing missing, unexpected or mis-shaped entries."""
    own = module.state_dict()
    parts = fit_problems({k: (v.dtype, tuple(v.shape)) for k, v in own.items()},
                         {k: (v.dtype, tuple(v.shape)) for k, v in tensors.items()}, dtypes=False)
    if parts:
        raise CheckpointError(
            f"weights in {source} do not fit {type(module).__name__}: " + ", ".join(parts)
            + ". Were they saved from another model or configuration?"
        )
    module.load_state_dict(tensors)


def optimizer_tensors(opt: torch.optim.Optimizer, prefix: str) -> tuple[dict[str, torch.Tensor], dict]:
    """Split an optimizer's state dict into tensors (for safetensors) and JSON-able groups."""
    sd = opt.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    for idx, st in sd["state"].items():
        for key, value in st.items():
            t = value if torch.is_tensor(value) else torch.tensor(value)
            tensors[f"{prefix}.{idx}.{key}"] = t.detach().to("cpu").contiguous()
    # Learning rates may be device tensors (the engine's schedule sets them in place): JSON numbers here.
    groups = [{k: v.item() if torch.is_tensor(v) else v for k, v in g.items()} for g in sd["param_groups"]]
    return tensors, {"param_groups": groups}


def load_optimizer(opt: torch.optim.Optimizer, prefix: str, tensors: dict[str, torch.Tensor], meta: dict) -> None:
    state: dict[int, dict[str, Any]] = {}
    for name, t in tensors.items():
        if not name.startswith(prefix + "."):
            continue
        _, idx, key = name.split(".", 2)
        state.setdefault(int(idx), {})[key] = t
    current = opt.state_dict()["param_groups"]
    groups = meta["param_groups"]
    if [len(g["params"]) for g in groups] != [len(g["params"]) for g in current]:
        raise CheckpointError("the optimizer in the checkpoint has a different number of parameters")
    tensor_lrs = [g["lr"] if torch.is_tensor(g["lr"]) else None for g in opt.param_groups]
    opt.load_state_dict({"state": state, "param_groups": groups})
    for group, lr in zip(opt.param_groups, tensor_lrs):
        if lr is not None:  # keep the tensor (a captured CUDA graph reads it), with the saved value
            lr.fill_(float(group["lr"]))
            group["lr"] = lr
    # Moment buffers in their parameter's memory layout (channels_last convs): fused Adam pairs
    # elements by memory position, so a contiguous buffer for a channels_last weight would be
    # silently mis-paired. (The checkpoint stores them contiguous.)
    for param, st in opt.state.items():
        for key, value in st.items():
            if torch.is_tensor(value) and value.shape == param.shape and value.stride() != param.stride():
                st[key] = torch.empty_like(param, dtype=value.dtype).copy_(value)


def sha256_file(path: str | Path) -> str:
    """The sha256 of a file, read in 1 MB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_inside(path: Path, root: Path, kind: str = "file") -> None:
    """Refuse ``path`` (CheckpointError) if it exists and leads out of ``root`` or is not a ``kind``.

    The run directory's rule for everything a training writes or deletes: links inside the run
    are followed, a link that leads out of it is refused, and an existing ``"file"`` must be a
    regular file (a FIFO would hang the write), a ``"dir"`` a folder. A missing path passes: it
    will be created inside ``root``.
    """
    if not os.path.lexists(path):
        return
    real, top = Path(os.path.realpath(path)), Path(os.path.realpath(root))
    what = "folder" if kind == "dir" else "file"
    if real != top and top not in real.parents:
        raise CheckpointError(f"{path} is a link to {real}, outside the run directory {root}; a training writes and "
                              f"deletes only inside its run: replace the link by a {what} of the run's own")
    try:
        mode = os.stat(real).st_mode
    except OSError:  # a dangling link inside the run: writing creates its target, inside the run
        return
    if not (stat.S_ISDIR(mode) if kind == "dir" else stat.S_ISREG(mode)):
        raise CheckpointError(f"{path} is not a {'folder' if kind == 'dir' else 'regular file'}; a training writes "
                              f"its {what} there: move it out of the run directory {root}")


def remove_tree(path: Path) -> None:
    """Remove ``path``: a link or a file is unlinked, a folder deleted; nothing is removed through a link."""
    if path.is_symlink() or (os.path.lexists(path) and not path.is_dir()):
        path.unlink(missing_ok=True)
    elif path.is_dir():
        shutil.rmtree(path, ignore_errors=True)


def replace_dir(tmp: Path, final: Path) -> None:
    """Move the finished folder ``tmp`` to ``final``, replacing what is there only once ``tmp`` is complete."""
    if os.path.lexists(final):
        old = final.with_name(f"{final.name}.old")
        remove_tree(old)
        os.replace(final, old)
        os.replace(tmp, final)
        remove_tree(old)
    else:
        os.replace(tmp, final)


def write_json_atomic(path: Path, obj: Any) -> None:
    """``obj`` as JSON, whole or not at all, flushed to disk (:func:`ganzoo.fsio.write_json`)."""
    write_json(path, obj, indent=2, sort_keys=True, default=str, strict=True)


def _newest(ckpt_root: Path) -> str | None:
    done = sorted(p.name for p in ckpt_root.glob("step-*") if not p.is_symlink() and p.is_dir() and p.suffix == ""
                  and (p / "state.json").is_file())
    return done[-1] if done else None


def write_checkpoint(ckpt_root: Path, step: int, files: dict[str, dict[str, torch.Tensor]], state: dict, keep: int = 2,
                     *, root: Path | None = None, hint: str = "") -> Path:
    """Write one checkpoint folder atomically, point ``latest.json`` at it, prune old ones.

    Args:
        ckpt_root: the ``checkpoints`` folder.
        step: the step, the folder's name (``step-NNNNNNNN``).
        files: file stem to tensors (one safetensors file each).
        state: the content of ``state.json``.
        keep: how many checkpoints to keep (older ``step-*`` folders are removed; links never followed).
        root: the folder everything must lie inside (the run directory; default ``ckpt_root``'s parent).
        hint: appended to the message when the write fails (what to do next).

    Raises:
        CheckpointError: a path leads out of ``root``, or the write failed (disk full...): then its
            ``.tmp`` folder is removed and the previous checkpoint is as it was.
    """
    root = Path(root) if root is not None else ckpt_root.parent
    check_inside(ckpt_root, root, "dir")
    check_inside(ckpt_root / LATEST, root, "file")
    final = ckpt_root / f"step-{step:08d}"
    tmp = ckpt_root / f"step-{step:08d}.tmp"
    try:
        ckpt_root.mkdir(exist_ok=True)  # not its parents: a run directory that is gone stays gone
        remove_tree(tmp)
        tmp.mkdir()
        for name, tensors in files.items():
            save_file(tensors, str(tmp / f"{name}.safetensors"))
            fsync_file(tmp / f"{name}.safetensors")  # on disk before the rename makes them the checkpoint
        with open(tmp / "state.json", "w") as f:
            json.dump(state, f, indent=2, sort_keys=True, default=str)
            f.flush()
            os.fsync(f.fileno())
        fsync_dir(tmp, strict=True)
        replace_dir(tmp, final)  # the same step may be saved twice (end of run right after a periodic save)
        fsync_dir(ckpt_root, strict=True)
        write_json_atomic(ckpt_root / LATEST, {"step": step, "path": final.name})
        fsync_dir(ckpt_root, strict=True)
    except (SafetensorError, OSError) as exc:
        remove_tree(tmp)
        prev = _newest(ckpt_root) if ckpt_root.is_dir() else None
        if prev == final.name:  # in place, but latest.json could not be updated: the older one is what resumes
            prev = _latest_or_none(ckpt_root)
        said = f"the previous checkpoint {ckpt_root / prev} is intact" if prev else "no earlier checkpoint exists"
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise CheckpointWriteError(f"cannot write the checkpoint of step {step} in {ckpt_root} ({first}); {said}"
                                   + (f"; {hint}" if hint else "")) from exc
    done = sorted(p for p in ckpt_root.glob("step-*") if not p.is_symlink() and p.is_dir() and p.suffix == "")
    for old in done[:-keep] if keep > 0 else []:
        if old != final:
            remove_tree(old)
    return final


def _latest_or_none(ckpt_root: Path) -> str | None:
    try:
        return _latest_name(ckpt_root / LATEST) if (ckpt_root / LATEST).is_file() else None
    except CheckpointError:
        return None


def find_checkpoint(run_dir: Path) -> Path:
    """The newest complete checkpoint of a run directory (or a checkpoint folder itself)."""
    run_dir = Path(run_dir)
    if (run_dir / "state.json").is_file():
        return run_dir
    root = run_dir / "checkpoints"
    if not run_dir.exists():
        raise CheckpointError(f"{run_dir} does not exist; give a ganzoo run directory")
    if not run_dir.is_dir():
        raise CheckpointError(f"{run_dir} is a file, not a ganzoo run directory, checkpoint folder or bundle")
    latest = root / LATEST
    if latest.is_file():
        path = root / _latest_name(latest)
        if (path / "state.json").is_file():
            return path
    done = sorted(p for p in root.glob("step-*") if p.is_dir() and p.suffix == "" and (p / "state.json").is_file())
    if not done:
        raise CheckpointError(
            f"{run_dir} is not a ganzoo run directory: it has no checkpoint (expected {root}/step-*/state.json)"
        )
    return done[-1]


def _latest_name(latest: Path) -> str:
    """The checkpoint folder name that ``latest.json`` holds: ``step-NNNNNNNN``, nothing else."""
    fix = "; delete it to fall back to the newest step folder"
    try:
        record = read_json(latest, "checkpoint pointer", CheckpointError, fix)
    except FileNotFoundError as exc:  # removed since is_file() was asked
        raise CheckpointError(f"{latest} disappeared while it was read{fix}") from exc
    name = record.get("path") if isinstance(record, dict) else None
    if not isinstance(name, str) or not re.fullmatch(r"step-\d{8}", name):
        raise CheckpointError(f"{latest} is corrupt: it must name a folder step-NNNNNNNN inside {latest.parent}, "
                              f"got {name!r}; delete it to fall back to the newest step folder")
    return name


# What a checkpoint's state.json must hold, with the types the engine reads.
_STATE_KEYS: dict[str, type | tuple[type, ...]] = {
    "step": int, "epoch": int, "cursor": int, "optim_g": dict, "optim_d": dict, "config": dict,
}
# The safetensors files a checkpoint needs to resume (generator_ema only when the run keeps an EMA).
CHECKPOINT_FILES = ("generator", "discriminator", "optimizers", "rng")


def read_state(path: Path) -> dict[str, Any]:
    """A checkpoint folder's ``state.json``, checked: the keys a resume reads, with their types."""
    file = path / "state.json"
    fix = (f"; it may be truncated. Resume from an older checkpoint folder in {path.parent} "
           f"(--resume {path.parent}/step-...)")
    try:
        state = read_json(file, "checkpoint state", CheckpointError, fix)
    except FileNotFoundError as exc:
        raise CheckpointError(f"{file} is missing{fix}") from exc
    if not isinstance(state, dict):
        raise CheckpointError(f"{file} is not a ganzoo checkpoint state (not a JSON object)")
    for key, kind in _STATE_KEYS.items():
        value = state.get(key)
        if not isinstance(value, kind) or isinstance(value, bool) or (kind is int and value < 0):
            raise CheckpointError(f"{file} is corrupt: {key!r} must be a {getattr(kind, '__name__', kind)}, "
                                  f"got {value!r}")
    for key in ("optim_g", "optim_d"):
        if not isinstance(state[key].get("param_groups"), list):
            raise CheckpointError(f"{file} is corrupt: {key!r} has no list of param_groups")
    return state


def read_checkpoint(path: Path) -> tuple[dict, dict[str, dict[str, torch.Tensor]]]:
    """``(state, {file stem: tensors})`` of a checkpoint folder, refusing missing or unreadable parts."""
    state = read_state(path)
    missing = [f"{name}.safetensors" for name in CHECKPOINT_FILES if not (path / f"{name}.safetensors").is_file()]
    if missing:
        raise CheckpointError(f"checkpoint {path} is incomplete: {', '.join(missing)} missing. Resume from an "
                              f"older checkpoint folder in {path.parent} (--resume {path.parent}/step-...)")
    files = {}
    for f in sorted(path.glob("*.safetensors")):
        try:
            files[f.stem] = load_file(str(f))
        except (SafetensorError, OSError, ValueError) as exc:
            raise CheckpointError(f"{f} is not a readable safetensors file ({exc}); it may be truncated") from exc
    return state, files

"""Checkpoints as safetensors plus JSON, written atomically.

A checkpoint is a folder ``checkpoints/step-XXXXXXXX/`` holding
``generator.safetensors``, ``generator_ema.safetensors`` (when EMA is on),
``discriminator.safetensors``, ``optimizers.safetensors`` (Adam's moments and
step counts), ``rng.safetensors`` and ``state.json`` (step, epoch position,
optimizer hyper-parameters, config). It is written to a ``.tmp`` folder and
renamed into place, and only then does ``checkpoints/latest.json`` (itself
replaced atomically) point at it: an interrupted write never damages the
previous checkpoint. No pickles are written or read.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from ganzoo.errors import CheckpointError
from ganzoo.weights import fit_problems, read_json

LATEST = "latest.json"


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


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sha256_file(path: str | Path) -> str:
    """The sha256 of a file, read in 1 MB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def replace_dir(tmp: Path, final: Path) -> None:
    """Move the finished folder ``tmp`` to ``final``, replacing what is there only once ``tmp`` is complete."""
    if final.exists():
        old = final.with_name(f"{final.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(tmp, final)


def write_json_atomic(path: Path, obj: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True, default=str)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_checkpoint(ckpt_root: Path, step: int, files: dict[str, dict[str, torch.Tensor]], state: dict, keep: int = 2) -> Path:
    """Write one checkpoint folder atomically, point ``latest.json`` at it, prune old ones."""
    ckpt_root.mkdir(parents=True, exist_ok=True)
    final = ckpt_root / f"step-{step:08d}"
    tmp = ckpt_root / f"step-{step:08d}.tmp"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    for name, tensors in files.items():
        save_file(tensors, str(tmp / f"{name}.safetensors"))
        _fsync_file(tmp / f"{name}.safetensors")  # on disk before the rename makes them the checkpoint
    with open(tmp / "state.json", "w") as f:
        json.dump(state, f, indent=2, sort_keys=True, default=str)
        f.flush()
        os.fsync(f.fileno())
    _fsync_dir(tmp)
    replace_dir(tmp, final)  # the same step may be saved twice (end of run right after a periodic save)
    _fsync_dir(ckpt_root)
    write_json_atomic(ckpt_root / LATEST, {"step": step, "path": final.name})
    _fsync_dir(ckpt_root)
    done = sorted(p for p in ckpt_root.glob("step-*") if p.is_dir() and p.suffix == "")
    for old in done[:-keep] if keep > 0 else []:
        if old != final:
            shutil.rmtree(old, ignore_errors=True)
    return final


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

"""Loading untrusted weights: check everything a file asks for before anything is allocated.

A bundle or run directory names a model, its constructor arguments and safetensors files.
Built naively, a 1 KB ``ganzoo.json`` could ask for a model of hundreds of gigabytes. Here the
order is:

1. the safetensors header is read on its own (its size is capped) and each entry checked
   against the file's real size;
2. the model is built on the ``meta`` device (shapes, no memory), its total size capped;
3. every parameter and buffer is compared (name, shape, dtype) with the header;
4. only then are the tensors read, and assigned into the model in place of the meta tensors.

Files are read only when they are regular files inside the folder they belong to: a link
that leads elsewhere is refused.
"""

from __future__ import annotations

import itertools
import json
import math
import os
import stat
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from ganzoo import factory, limits
from ganzoo.errors import BundleError, GanzooError


def read_json(file: str | Path, what: str, error: type[GanzooError] = BundleError, hint: str = "") -> Any:
    """A small JSON file from disk (at most :data:`ganzoo.limits.MAX_JSON_BYTES`, any nesting), or a one-line error.

    Every JSON file ganzoo reads back (bundles, checkpoints, run directories, receipts) comes
    through here, so a huge or deeply nested file is refused the same way everywhere.

    Args:
        file: the file to read.
        what: what the file should be (for the message), e.g. ``"checkpoint state"``.
        error: the :class:`~ganzoo.errors.GanzooError` subclass raised for a bad file.
        hint: appended to the message for a corrupt file (what to do about it).

    Raises:
        FileNotFoundError: the file does not exist (the caller decides what that means).
        GanzooError: (``error``) unreadable, too large, nested too deeply or not JSON.
    """
    hint = hint or f"; the {what} is corrupt: download or save it again"
    try:
        with open(file, "rb") as f:
            raw = f.read(limits.MAX_JSON_BYTES + 1)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise error(f"cannot read {file} ({exc})") from exc
    if len(raw) > limits.MAX_JSON_BYTES:
        raise error(f"{file} is larger than {limits.MAX_JSON_BYTES >> 20} MB; it is not a {what}")
    try:
        return json.loads(raw)
    except RecursionError:
        raise error(f"{file} is nested too deeply to be a {what}{hint}") from None
    except ValueError as exc:
        raise error(f"{file} is not valid JSON ({exc}){hint}") from exc


# The safetensors dtypes a ganzoo model can hold (other tensor types are refused).
DTYPES: dict[str, torch.dtype] = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
    "U8": torch.uint8, "BOOL": torch.bool,
}


def regular_file_inside(file: Path, root: Path, what: str = "weights file") -> Path:
    """``file`` if it is a regular file whose real path lies inside ``root``; else a BundleError.

    Links inside ``root`` are followed (the Hub cache links its snapshots to its blobs); a link
    that leads out of ``root``, and anything that is not a regular file, is refused.
    """
    real, top = Path(os.path.realpath(file)), Path(os.path.realpath(root))
    if real != top and top not in real.parents:
        raise BundleError(f"{file} is a link to {real}, outside {root}; a bundle's files must lie inside it. "
                          "Replace the link by the file itself")
    try:
        mode = os.stat(real).st_mode
    except FileNotFoundError:
        raise BundleError(f"{file} is missing; download or save the bundle again") from None
    if not stat.S_ISREG(mode):
        raise BundleError(f"{file} is not a regular file; a {what} must be one")
    return real


def read_header(file: Path) -> dict[str, tuple[torch.dtype, tuple[int, ...]]]:
    """``{name: (dtype, shape)}`` from a safetensors file's header, without reading any tensor.

    Refuses a header over :data:`ganzoo.limits.MAX_HEADER_BYTES`, unknown dtypes, and entries whose bytes
    the file does not hold.
    """
    bad = f"{file} is not a readable safetensors file"
    hint = "; it is corrupt or truncated: download or save it again"
    try:
        with open(file, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            head = f.read(8)
            if len(head) < 8:
                raise BundleError(f"{bad} (shorter than 8 bytes){hint}")
            n = int.from_bytes(head, "little")
            if n > limits.MAX_HEADER_BYTES:
                raise BundleError(f"{bad}: its header declares {n} bytes, more than the {limits.MAX_HEADER_BYTES} "
                                  "allowed")
            if n > size - 8:
                raise BundleError(f"{bad}: its header declares {n} bytes, the file has {size - 8}{hint}")
            raw = f.read(n)
    except OSError as exc:
        raise BundleError(f"{bad} ({exc})") from exc
    try:
        header = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise BundleError(f"{bad}: its header is not valid JSON ({type(exc).__name__}){hint}") from None
    if not isinstance(header, dict):
        raise BundleError(f"{bad}: its header is not a JSON object{hint}")
    data_bytes = size - 8 - n
    out: dict[str, tuple[torch.dtype, tuple[int, ...]]] = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype = DTYPES[entry["dtype"]]
            shape = tuple(entry["shape"])
            start, end = entry["data_offsets"]
            ints = [*shape, start, end]
            ok = all(type(v) is int and v >= 0 for v in ints) and len(shape) <= 8 and start <= end
        except (KeyError, TypeError, ValueError):
            ok = False
        if not ok:
            raise BundleError(f"{bad}: header entry {str(name)[:80]!r} is malformed or has an unsupported "
                              f"dtype (supported: {', '.join(DTYPES)})")
        nbytes = math.prod(shape) * dtype.itemsize
        if end - start != nbytes or end > data_bytes:
            raise BundleError(f"{bad}: tensor {str(name)[:80]!r} {list(shape)} needs {nbytes} bytes the file "
                              f"does not hold{hint}")
        out[name] = (dtype, shape)
    return out


def fit_problems(own: dict[str, tuple[torch.dtype, tuple[int, ...]]],
                 found: dict[str, tuple[torch.dtype, tuple[int, ...]]], *, dtypes: bool = True) -> list[str]:
    """What keeps ``found`` (``{name: (dtype, shape)}`` of a file) from fitting ``own`` (a model's).

    An empty list means the names, shapes (and, with ``dtypes``, dtypes) agree.
    """
    missing = sorted(set(own) - set(found))
    unexpected = sorted(set(found) - set(own))
    bad_shape = [f"{k}: file {found[k][1]} vs model {own[k][1]}" for k in own
                 if k in found and found[k][1] != own[k][1]]
    bad_dtype = [f"{k}: file {found[k][0]} vs model {own[k][0]}" for k in own
                 if dtypes and k in found and found[k][1] == own[k][1] and found[k][0] != own[k][0]]
    parts = []
    if missing:
        parts.append(f"missing {missing[:5]}")
    if unexpected:
        parts.append(f"unexpected {[str(u)[:80] for u in unexpected[:5]]}")
    if bad_shape:
        parts.append("shape mismatch " + "; ".join(bad_shape[:5]))
    if bad_dtype:
        parts.append("dtype mismatch " + "; ".join(bad_dtype[:5]))
    return parts


def check_fits(module: nn.Module, header: dict[str, tuple[torch.dtype, tuple[int, ...]]], file: Path) -> None:
    """Refuse a file whose tensors are not exactly ``module``'s state dict (names, shapes, dtypes)."""
    own = {k: (v.dtype, tuple(v.shape)) for k, v in module.state_dict().items()}
    parts = fit_problems(own, header)
    if parts:
        raise BundleError(f"weights in {file} do not fit {type(module).__name__}: " + ", ".join(parts)
                          + ". Were they saved from another model or configuration?")


def build_on_meta(model: str, config: dict[str, Any], source: str) -> Any:
    """``ganzoo.create(model, **config)`` on the meta device (no memory), its total size capped."""
    try:
        with torch.device("meta"):
            gan = factory.create(model, **config)
    except GanzooError as exc:
        raise BundleError(f"{source}: the model cannot be built from its config: {exc}") from exc
    except Exception as exc:  # noqa: BLE001  (a bad setting, or a constructor that reads tensor values)
        first = (str(exc).splitlines() or [""])[0][:200]
        raise BundleError(f"{source}: model {model!r} cannot be built from this config ({type(exc).__name__}: "
                          f"{first}); check its settings (its plugin must also build on the meta device, "
                          "where ganzoo sizes a model before loading it)") from exc
    total = factory.model_bytes([gan.generator, gan.discriminator])
    if total > limits.MAX_MODEL_BYTES:
        raise BundleError(f"{source}: its config asks for a model of {total / 2**20:,.0f} MiB, more than the "
                          f"{limits.MAX_MODEL_BYTES >> 20:,} MiB ganzoo loads; refusing to build it")
    return gan


def _still_meta(module: nn.Module) -> bool:
    if any(t.is_meta for t in itertools.chain(module.parameters(), module.buffers())):
        return True
    return any(isinstance(v, torch.Tensor) and v.is_meta for m in module.modules() for v in vars(m).values())


def read_tensors(file: Path) -> dict[str, torch.Tensor]:
    """All tensors of a safetensors file (call after :func:`read_header` and :func:`check_fits`)."""
    try:
        return load_file(str(file))
    except (SafetensorError, OSError, ValueError) as exc:
        raise BundleError(f"{file} is not a readable safetensors file ({exc}); it may be truncated or "
                          "corrupt") from exc


def load_checked(model: str, config: dict[str, Any], files: dict[str, Path], source: str, *,
                 need: tuple[str, ...] = (), verify: Any = None) -> Any:
    """Build ``model`` from a checked ``config`` and load ``files`` (component -> safetensors) into it.

    Everything is checked before memory is allocated: headers, the model's total size (on the
    meta device), names, shapes and dtypes. ``verify()`` (e.g. the sha256 checks) runs after
    those checks and before the tensors are read. Components in ``files`` and ``need`` come back
    as real modules; any other may stay on the meta device.

    Returns:
        The :class:`ganzoo.GAN`.
    """
    headers = {comp: read_header(file) for comp, file in files.items()}
    gan = build_on_meta(model, config, source)
    for comp, header in headers.items():
        check_fits(getattr(gan, comp), header, files[comp])
    if verify is not None:
        verify()
    tensors = {comp: read_tensors(file) for comp, file in files.items()}
    for comp, sd in tensors.items():
        getattr(gan, comp).load_state_dict(sd, assign=True)
    if not any(_still_meta(getattr(gan, comp)) for comp in (*files, *need)):
        return gan
    # Some tensor is not in the state dict (a non-persistent buffer, a cached attribute): build
    # for real. Its size was checked on the meta device above.
    gan = factory.create(model, **config)
    for comp, sd in tensors.items():
        getattr(gan, comp).load_state_dict(sd)
    return gan

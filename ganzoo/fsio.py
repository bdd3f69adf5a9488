"""Files written whole or not at all: the one way every ganzoo writer replaces a file.

:func:`replace_file` lets a writer fill a temporary file beside the target (a fresh,
unguessable name: never a file or a link left there by someone else), flushes it to disk,
renames it over the target and flushes the folder, so a reader sees the old file or the new
one, never half of one, and a crash or a full disk leaves the old file as it was. Errors are
raised as they come (``OSError``, or what the writer raises); callers turn them into their
own one-line messages.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any


def fsync_file(path: str | Path) -> None:
    """Flush a file's contents to disk."""
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def fsync_dir(folder: str | Path, *, strict: bool = False) -> None:
    """Flush a folder's entries (a rename) to disk.

    A folder that cannot be opened (some systems do not allow it) is skipped; with ``strict``
    an error of the flush itself is raised (a checkpoint must not be called written when it is
    not), else it is ignored.
    """
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        if strict:
            raise
    finally:
        os.close(fd)


def temporary_name(path: Path) -> Path:
    """A fresh name beside ``path`` for its next version; it keeps the suffix (writers that pick
    the format by it still do) and is unguessable, so nothing can be planted there first."""
    while True:
        tmp = path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(8)}.tmp{path.suffix}")
        if not os.path.lexists(tmp):
            return tmp


def replace_file(path: str | Path, write: Callable[[Path], Any], *, strict: bool = False) -> None:
    """Write ``path`` whole or not at all: ``write(tmp)`` fills a temporary file, then a rename.

    The temporary file is flushed to disk before the rename and removed on any failure; it
    takes the permission bits of the file it replaces (a link at ``path`` is replaced, never
    written through). ``strict`` also raises when the folder's flush fails.
    """
    path = Path(path)
    tmp = temporary_name(path)
    try:
        write(tmp)
        fsync_file(tmp)
        if path.is_file() and not path.is_symlink():
            shutil.copymode(path, tmp)
        os.replace(tmp, path)
        fsync_dir(path.parent, strict=strict)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes(path: str | Path, data: bytes, **kw: Any) -> None:
    """:func:`replace_file` with these bytes."""
    replace_file(path, lambda tmp: tmp.write_bytes(data), **kw)


def write_json(path: str | Path, obj: Any, *, indent: int | None = 2, sort_keys: bool = False,
               default: Callable[[Any], Any] | None = None, **kw: Any) -> None:
    """:func:`replace_file` with ``obj`` as JSON (encoded before anything is written)."""
    text = json.dumps(obj, indent=indent, sort_keys=sort_keys, default=default)
    replace_file(path, lambda tmp: tmp.write_text(text), **kw)

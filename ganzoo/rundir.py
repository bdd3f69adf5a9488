"""The run directory's housekeeping: one writer at a time, and a log that matches the checkpoint.

A training holds an OS lock on ``<run>/.lock`` for as long as it may write the run
directory. The operating system drops the lock when the process ends, however it ends
(``kill -9`` included), so a lock is never stale. A second training of the same directory
(``--out`` or ``--resume``) is refused while the first one runs.
"""

from __future__ import annotations

import errno
import json
import os
import sys
from pathlib import Path
from typing import IO

from ganzoo.errors import CheckpointError

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
        >>> from ganzoo.rundir import RunDirLock
        >>> with tempfile.TemporaryDirectory() as d:
        ...     lock = RunDirLock(d)
        ...     lock.release()
    """

    def __init__(self, run_dir: str | os.PathLike) -> None:
        self.path = Path(run_dir) / LOCK_FILE
        self._file: IO[str] | None = None
        f = open(self.path, "a+")
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
        tmp = path.with_name(path.name + ".tmp")
        with open(tmp, "w") as f:
            f.write("".join(line + "\n" for line in keep))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    return dropped

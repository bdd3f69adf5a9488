"""Where evaluation keeps what it computes once: ``$GANZOO_CACHE`` (default ``~/.cache/ganzoo``).

Reference statistics and floors go to ``stats/`` (:func:`default_cache_dir`), the FID
Inception-v3 weights the user supplies to ``weights/`` (:mod:`ganzoo.metrics.inception`).
Files are written whole or not at all (:func:`_atomic_write_bytes`).
"""

from __future__ import annotations

import os
from pathlib import Path

from ganzoo.fsio import replace_file

CACHE_ENV = "GANZOO_CACHE"


def cache_root() -> Path:
    """``$GANZOO_CACHE``, else ``~/.cache/ganzoo``: where evaluation keeps statistics and weights."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "ganzoo"


def default_cache_dir() -> Path:
    """``$GANZOO_CACHE/stats``, else ``~/.cache/ganzoo/stats``."""
    return cache_root() / "stats"


def _atomic_write_bytes(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    replace_file(path, write)

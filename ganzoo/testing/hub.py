"""A local Hugging Face Hub for plugin tests: push and load a bundle without the network.

:func:`local_hub` starts :class:`~ganzoo.testing.hub_server.LocalHub` (an in-memory server on
127.0.0.1 that speaks the part of the Hub API the real ``huggingface_hub`` client uses) and
points the client at it for the duration of a ``with`` block: ``HF_ENDPOINT``, ``HF_TOKEN``,
``HF_HOME`` and the cache folders are set in the environment *and* patched into
``huggingface_hub.constants``, which the client reads once, at import. So plain
``ganzoo.push_to_hub(...)``, ``ganzoo.load("hf-hub:...")``, ``HfApi()`` and
``hf_hub_download(...)`` reach the local server, never the real Hub, and never see a real
token or the user's cache. Everything is put back on exit.

Example:
    >>> import ganzoo
    >>> from ganzoo.testing import local_hub
    >>> with local_hub() as hub:  # doctest: +SKIP
    ...     ganzoo.push_to_hub("runs/mygan-1", "me/mygan")
    ...     g = ganzoo.load("hf-hub:me/mygan")

A pytest fixture with the same object is in :mod:`ganzoo.testing.pytest_plugin`.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ganzoo.testing.hub_server import LocalHub

__all__ = ["LocalHub", "local_hub"]

_MISSING = object()
# Variables the client reads that would otherwise leak the user's setup into a test.
_CLEARED = (
    "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HUGGING_FACE_HUB_TOKEN", "HUGGINGFACE_HUB_CACHE",
    "HUGGINGFACE_ASSETS_CACHE", "HF_HUB_DISABLE_IMPLICIT_TOKEN", "HF_OIDC_RESOURCE", "HUGGINGFACE_CO_STAGING",
)  # fmt: skip


class _Patches:
    """Set environment variables and module attributes; put every one back on :meth:`undo`."""

    def __init__(self) -> None:
        self._undo: list[Any] = []

    def setenv(self, name: str, value: str | None) -> None:
        old = os.environ.get(name)
        self._undo.append(lambda: _set_env(name, old))
        _set_env(name, value)

    def setattr(self, obj: Any, name: str, value: Any) -> None:
        old = getattr(obj, name, _MISSING)
        self._undo.append(lambda: delattr(obj, name) if old is _MISSING else setattr(obj, name, old))
        setattr(obj, name, value)

    def undo(self) -> None:
        while self._undo:
            self._undo.pop()()


def _set_env(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def _point_client_at(server: LocalHub, home: Path, patches: _Patches) -> Any:
    """Aim ``huggingface_hub`` at ``server`` with its files under ``home``; return its constants module."""
    constants = importlib.import_module("huggingface_hub.constants")
    cache = home / "hub"
    cache.mkdir(parents=True, exist_ok=True)
    token_path = home / "token"
    env = {
        "HF_ENDPOINT": server.endpoint, "HF_HUB_DISABLE_XET": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_UPDATE_CHECK": "1", "HF_HOME": str(home), "HF_HUB_CACHE": str(cache),
        "HF_ASSETS_CACHE": str(home / "assets"), "HF_XET_CACHE": str(home / "xet"),
        "HF_TOKEN_PATH": str(token_path), "HF_TOKEN": server.token,
    }  # fmt: skip
    for name, value in env.items():
        patches.setenv(name, value)
    for name in _CLEARED:
        patches.setenv(name, None)
    url_template = server.endpoint + "/{repo_id}/resolve/{revision}/{filename}"
    # Values computed at import (their names differ between client versions: patch those present).
    values = {
        "ENDPOINT": server.endpoint, "HUGGINGFACE_CO_URL_TEMPLATE": url_template, "HF_HOME": str(home),
        "default_home": str(home), "default_cache_path": str(cache), "HF_HUB_CACHE": str(cache),
        "HUGGINGFACE_HUB_CACHE": str(cache), "default_assets_cache_path": str(home / "assets"),
        "HF_ASSETS_CACHE": str(home / "assets"), "HUGGINGFACE_ASSETS_CACHE": str(home / "assets"),
        "default_xet_cache_path": str(home / "xet"), "HF_XET_CACHE": str(home / "xet"),
        "HF_TOKEN_PATH": str(token_path), "HF_STORED_TOKENS_PATH": str(home / "stored_tokens"),
        "CHECK_FOR_UPDATE_DONE_PATH": str(home / ".check_for_update_done"),
        "CHECK_FOR_SKILL_UPDATE_DONE_PATH": str(home / ".check_for_skill_update_done"),
        "AGENT_HARNESSES_PATH": str(home / ".agent_harnesses.json"), "HF_HUB_OFFLINE": False,
        "HF_HUB_DISABLE_XET": True, "HF_HUB_DISABLE_TELEMETRY": True, "HF_HUB_DISABLE_UPDATE_CHECK": True,
        "HF_HUB_DISABLE_IMPLICIT_TOKEN": False, "_staging_mode": False,
    }  # fmt: skip
    for name, value in values.items():
        if hasattr(constants, name):
            patches.setattr(constants, name, value)
    if hasattr(constants, "HF_URL_HOSTS"):
        patches.setattr(constants, "HF_URL_HOSTS", constants.HF_URL_HOSTS | {"127.0.0.1"})
    # Copies made with `from ..constants import X` at import time.
    for module_name, name, value in (
        ("huggingface_hub", "HUGGINGFACE_CO_URL_TEMPLATE", url_template),
        ("huggingface_hub.utils._cache_manager", "HF_HUB_CACHE", str(cache)),
        ("huggingface_hub.utils._cache_assets", "HF_ASSETS_CACHE", str(home / "assets")),
        ("huggingface_hub.file_download", "HUGGINGFACE_CO_URL_TEMPLATE", url_template),
    ):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        if name in vars(module):
            patches.setattr(module, name, value)
    return constants


@contextlib.contextmanager
def local_hub(home: str | os.PathLike | None = None) -> Iterator[LocalHub]:
    """Serve a local Hub and point ``huggingface_hub`` at it inside the ``with`` block.

    Args:
        home: the client's ``HF_HOME`` for the block (its cache is ``home/hub``); default a
            temporary folder, deleted on exit.

    Yields:
        The running :class:`~ganzoo.testing.hub_server.LocalHub`: ``endpoint``
        (``"http://127.0.0.1:PORT"``) and ``token`` (the one token it accepts; write access to
        every repository) to pass on explicitly if you like, ``cache_dir`` (the client's cache),
        ``set_offline(True/False)`` (``HF_HUB_OFFLINE`` for the client, and the server refuses
        every request), ``corrupt(repo_id, path, data)`` (commit other bytes for a file), and
        ``requests`` / ``errors`` (what it was asked; server-side failures: assert it is empty).

    Raises:
        ImportError: ``huggingface_hub`` is not installed.

    Example:
        >>> from huggingface_hub import HfApi
        >>> from ganzoo.testing import local_hub
        >>> with local_hub() as hub:
        ...     _ = HfApi().create_repo("me/empty")
        ...     HfApi().repo_exists("me/empty"), HfApi().repo_exists("me/other")
        (True, False)
    """
    importlib.import_module("huggingface_hub")
    patches = _Patches()
    with contextlib.ExitStack() as stack:
        folder = Path(home) if home is not None else Path(stack.enter_context(
            tempfile.TemporaryDirectory(prefix="ganzoo-hub-")))
        server = LocalHub().start()
        stack.callback(server.stop)
        stack.callback(patches.undo)
        constants = _point_client_at(server, folder, patches)

        def set_client_offline(on: bool) -> None:
            patches.setenv("HF_HUB_OFFLINE", "1" if on else None)
            patches.setattr(constants, "HF_HUB_OFFLINE", on)

        server.offline_hook = set_client_offline
        server.cache_dir = folder / "hub"
        close_session = getattr(importlib.import_module("huggingface_hub.utils"), "close_session", None)
        if callable(close_session):
            stack.callback(close_session)  # drop pooled connections to the stopped server (runs first)
        yield server

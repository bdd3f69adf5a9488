from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# One way to point at data, as for the CLI and the Python API: $GANZOO_DATA (a dataset root
# holding MNIST/raw/), else ../shared/data/mnist beside the checkout.
MNIST_DIR = Path(os.environ.get("GANZOO_DATA") or REPO.parent / "shared" / "data" / "mnist").expanduser()


def mnist_available() -> bool:
    return (MNIST_DIR / "MNIST" / "raw" / "train-images-idx3-ubyte.gz").is_file() or (
        MNIST_DIR / "MNIST" / "raw" / "train-images-idx3-ubyte"
    ).is_file()


@pytest.fixture
def mnist_dir() -> Path:
    if not mnist_available():
        pytest.skip(f"MNIST files not found under {MNIST_DIR}/MNIST/raw (set GANZOO_DATA to the folder holding MNIST/raw)")
    return MNIST_DIR


# Fashion-MNIST: $GANZOO_FASHION_DATA (a root holding FashionMNIST/raw/), else the MNIST root itself
# (GANZOO_DATA's layout: MNIST/ and FashionMNIST/ side by side), else fashion-mnist beside it.
FASHION_DIRS = [Path(os.environ["GANZOO_FASHION_DATA"]).expanduser()] if os.environ.get("GANZOO_FASHION_DATA") else [
    MNIST_DIR, MNIST_DIR.parent / "fashion-mnist"]


@pytest.fixture
def fashion_mnist_dir() -> Path:
    for root in FASHION_DIRS:
        raw = root / "FashionMNIST" / "raw"
        if (raw / "t10k-images-idx3-ubyte.gz").is_file() or (raw / "t10k-images-idx3-ubyte").is_file():
            return root
    pytest.skip(f"Fashion-MNIST files not found under {' or '.join(str(r) for r in FASHION_DIRS)} "
                "(set GANZOO_FASHION_DATA to the folder holding FashionMNIST/raw)")


@pytest.fixture
def hub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A `LocalHub` (tests/hub_server.py) that the real `huggingface_hub` client talks to.

    Plain `HfApi()`, `hf_hub_download(...)` and `snapshot_download(...)` (no endpoint or token
    argument) reach the local server: HF_ENDPOINT, HF_TOKEN (= `hub.token`), HF_HOME and
    HF_HUB_CACHE (under tmp_path), HF_HUB_DISABLE_XET=1 and HF_HUB_DISABLE_TELEMETRY=1 are set in
    the environment *and* patched into `huggingface_hub.constants` (read at import time), so
    neither the real Hub nor a real token can be reached.

    - `hub.endpoint`, `hub.token`: "http://127.0.0.1:PORT" and the one valid token.
    - `hub.cache_dir`: the HF_HUB_CACHE of this test.
    - Offline mode: `hub.set_offline(True)` (and `False` to go back) sets HF_HUB_OFFLINE and
      `huggingface_hub.constants.HF_HUB_OFFLINE` for the client and makes the server refuse any
      request; undone at teardown.
    - `hub.corrupt(repo_id, path, data, revision="main")`: commit other bytes for a file.
    - `hub.requests` ((method, raw path)), `hub.log` (full records), `hub.token_leaks()`,
      `hub.errors` (server-side tracebacks: assert it is empty).
    """
    from hub_server import LocalHub

    pytest.importorskip("huggingface_hub")
    import importlib

    constants = importlib.import_module("huggingface_hub.constants")

    server = LocalHub().start()
    home = tmp_path / "hf_home"
    cache = home / "hub"
    cache.mkdir(parents=True)
    token_path = home / "token"
    env = {
        "HF_ENDPOINT": server.endpoint,
        "HF_HUB_DISABLE_XET": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_UPDATE_CHECK": "1",
        "HF_HOME": str(home),
        "HF_HUB_CACHE": str(cache),
        "HF_ASSETS_CACHE": str(home / "assets"),
        "HF_XET_CACHE": str(home / "xet"),
        "HF_TOKEN_PATH": str(token_path),
        "HF_TOKEN": server.token,
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for name in (
        "HF_HUB_OFFLINE",
        "TRANSFORMERS_OFFLINE",
        "HUGGING_FACE_HUB_TOKEN",
        "HUGGINGFACE_HUB_CACHE",
        "HUGGINGFACE_ASSETS_CACHE",
        "HF_HUB_DISABLE_IMPLICIT_TOKEN",
        "HF_OIDC_RESOURCE",
        "HUGGINGFACE_CO_STAGING",
    ):
        monkeypatch.delenv(name, raising=False)

    # Module-level values computed at import (names differ between versions: patch those present).
    values = {
        "ENDPOINT": server.endpoint,
        "HUGGINGFACE_CO_URL_TEMPLATE": server.endpoint + "/{repo_id}/resolve/{revision}/{filename}",
        "HF_HOME": str(home),
        "default_home": str(tmp_path),
        "default_cache_path": str(cache),
        "HF_HUB_CACHE": str(cache),
        "HUGGINGFACE_HUB_CACHE": str(cache),
        "default_assets_cache_path": str(home / "assets"),
        "HF_ASSETS_CACHE": str(home / "assets"),
        "HUGGINGFACE_ASSETS_CACHE": str(home / "assets"),
        "default_xet_cache_path": str(home / "xet"),
        "HF_XET_CACHE": str(home / "xet"),
        "HF_TOKEN_PATH": str(token_path),
        "HF_STORED_TOKENS_PATH": str(home / "stored_tokens"),
        "CHECK_FOR_UPDATE_DONE_PATH": str(home / ".check_for_update_done"),
        "CHECK_FOR_SKILL_UPDATE_DONE_PATH": str(home / ".check_for_skill_update_done"),
        "AGENT_HARNESSES_PATH": str(home / ".agent_harnesses.json"),
        "HF_HUB_OFFLINE": False,
        "HF_HUB_DISABLE_XET": True,
        "HF_HUB_DISABLE_TELEMETRY": True,
        "HF_HUB_DISABLE_UPDATE_CHECK": True,
        "HF_HUB_DISABLE_IMPLICIT_TOKEN": False,
        "_staging_mode": False,
    }
    for name, value in values.items():
        if hasattr(constants, name):
            monkeypatch.setattr(constants, name, value)
    if hasattr(constants, "HF_URL_HOSTS"):
        monkeypatch.setattr(constants, "HF_URL_HOSTS", constants.HF_URL_HOSTS | {"127.0.0.1"})
    # Copies made with `from ..constants import X` at import time.
    for module_name, name, value in (
        ("huggingface_hub", "HUGGINGFACE_CO_URL_TEMPLATE", values["HUGGINGFACE_CO_URL_TEMPLATE"]),
        ("huggingface_hub.utils._cache_manager", "HF_HUB_CACHE", str(cache)),
        ("huggingface_hub.utils._cache_assets", "HF_ASSETS_CACHE", str(home / "assets")),
        ("huggingface_hub.file_download", "HUGGINGFACE_CO_URL_TEMPLATE", values["HUGGINGFACE_CO_URL_TEMPLATE"]),
    ):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        if name in vars(module):
            monkeypatch.setattr(module, name, value)

    def set_client_offline(on: bool) -> None:
        if on:
            monkeypatch.setenv("HF_HUB_OFFLINE", "1")
        else:
            monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", on)

    server.offline_hook = set_client_offline
    server.cache_dir = cache
    close_session = getattr(importlib.import_module("huggingface_hub.utils"), "close_session", None)
    try:
        yield server
    finally:
        server.stop()
        if callable(close_session):
            close_session()  # drop pooled connections to the stopped server

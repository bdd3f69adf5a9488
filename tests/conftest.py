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
def hub(tmp_path: Path):
    """A `LocalHub` (ganzoo/testing/hub_server.py) that the real `huggingface_hub` client talks to.

    Built on `ganzoo.testing.local_hub` (what plugin authors get): plain `HfApi()`,
    `hf_hub_download(...)` and `snapshot_download(...)` (no endpoint or token argument) reach
    the local server: HF_ENDPOINT, HF_TOKEN (= `hub.token`), HF_HOME and HF_HUB_CACHE (under
    tmp_path), HF_HUB_DISABLE_XET=1 and HF_HUB_DISABLE_TELEMETRY=1 are set in the environment
    *and* patched into `huggingface_hub.constants` (read at import time), so neither the real
    Hub nor a real token can be reached.

    - `hub.endpoint`, `hub.token`: "http://127.0.0.1:PORT" and the one valid token.
    - `hub.cache_dir`: the HF_HUB_CACHE of this test.
    - Offline mode: `hub.set_offline(True)` (and `False` to go back) sets HF_HUB_OFFLINE and
      `huggingface_hub.constants.HF_HUB_OFFLINE` for the client and makes the server refuse any
      request; undone at teardown.
    - `hub.corrupt(repo_id, path, data, revision="main")`: commit other bytes for a file.
    - `hub.requests` ((method, raw path)), `hub.log` (full records), `hub.token_leaks()`,
      `hub.errors` (server-side tracebacks: assert it is empty).
    """
    pytest.importorskip("huggingface_hub")
    from ganzoo.testing.hub import local_hub

    with local_hub(tmp_path / "hf_home") as server:
        yield server

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
MNIST_DIR = Path(os.environ.get("GANZOO_TEST_MNIST", REPO.parent / "shared" / "data" / "mnist"))


def mnist_available() -> bool:
    return (MNIST_DIR / "MNIST" / "raw" / "train-images-idx3-ubyte.gz").is_file() or (
        MNIST_DIR / "MNIST" / "raw" / "train-images-idx3-ubyte"
    ).is_file()


@pytest.fixture
def mnist_dir() -> Path:
    if not mnist_available():
        pytest.skip(f"MNIST files not found under {MNIST_DIR} (set GANZOO_TEST_MNIST)")
    return MNIST_DIR

"""Datasets: IDX parsing, the folder and CIFAR-10 readers, the toys, and their errors."""

from __future__ import annotations

import gzip
import json
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from ganzoo.data import GRID25, RING8, list_datasets, load_dataset, read_idx
from ganzoo.errors import DataError, UnknownNameError


def _write_idx(path, array: np.ndarray, gz: bool = True) -> None:
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(">" + "I" * array.ndim, *array.shape)
    data = header + array.astype(np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if gz else data)


def _fake_mnist(root, n=20, gz=True):
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, (n,), dtype=np.uint8)
    suffix = ".gz" if gz else ""
    _write_idx(raw / f"train-images-idx3-ubyte{suffix}", images, gz)
    _write_idx(raw / f"train-labels-idx1-ubyte{suffix}", labels, gz)
    return images, labels


def test_registered_datasets():
    assert {"mnist", "fashion-mnist", "cifar10", "folder", "ring8", "grid25"} <= set(list_datasets())
    with pytest.raises(UnknownNameError, match="did you mean 'cifar10'"):
        load_dataset("cifar01")


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_from_idx_files(tmp_path, gz):
    images, labels = _fake_mnist(tmp_path, gz=gz)
    ds = load_dataset("mnist", tmp_path, download=False)
    assert ds.data.dtype == torch.uint8 and ds.data.shape == (20, 1, 28, 28)
    assert torch.equal(ds.data[:, 0], torch.from_numpy(images))
    assert torch.equal(ds.labels, torch.from_numpy(labels.astype(np.int64)))
    x = ds.to_model_range(ds.data[:2])
    assert x.min() >= -1 and x.max() <= 1 and x.dtype == torch.float32


def test_truncated_idx_is_reported(tmp_path):
    _fake_mnist(tmp_path, gz=False)
    f = tmp_path / "MNIST" / "raw" / "train-images-idx3-ubyte"
    f.write_bytes(f.read_bytes()[:-100])
    with pytest.raises(DataError, match="truncated or corrupt"):
        load_dataset("mnist", tmp_path, download=False)
    bad = tmp_path / "x-idx"
    bad.write_bytes(b"\x01\x02\x03\x04rest")
    with pytest.raises(DataError, match="not an IDX file"):
        read_idx(bad)


def test_folder_dataset_resizes_crops_and_labels(tmp_path):
    from PIL import Image

    for cls, color in (("cats", (255, 0, 0)), ("dogs", (0, 0, 255))):
        (tmp_path / cls).mkdir()
        for i in range(3):
            Image.new("RGB", (40 + 10 * i, 30), color).save(tmp_path / cls / f"{i}.png")
    ds = load_dataset("folder", tmp_path, image_shape=(3, 16, 16))
    assert ds.data.shape == (6, 3, 16, 16) and ds.data.dtype == torch.uint8
    assert ds.num_classes == 2 and ds.labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert ds.data[0, 0].float().mean() > 200 and ds.data[-1, 2].float().mean() > 200  # red cats, blue dogs
    grey = load_dataset("folder", tmp_path, image_shape=(1, 8, 8))
    assert grey.data.shape == (6, 1, 8, 8)
    with pytest.raises(DataError, match="does not exist"):
        load_dataset("folder", tmp_path / "cats" / "none")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no images"):
        load_dataset("folder", tmp_path / "empty")


def test_cifar10_binary_reader(tmp_path):
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    rng = np.random.default_rng(0)
    rec = rng.integers(0, 256, (7, 3073), dtype=np.uint8)
    rec[:, 0] = np.arange(7) % 10
    rec.tofile(folder / "test_batch.bin")
    ds = load_dataset("cifar10", tmp_path, split="test", download=False)
    assert ds.data.shape == (7, 3, 32, 32)
    assert ds.labels.tolist() == list(np.arange(7) % 10)
    assert torch.equal(ds.data[3].flatten(), torch.from_numpy(rec[3, 1:]))
    with pytest.raises(DataError, match="cifar-10-binary.tar.gz"):
        load_dataset("cifar10", tmp_path / "empty", split="train", download=False)


def test_toys_match_their_definition():
    for toy, n_modes, std in ((RING8, 8, 0.02), (GRID25, 25, 0.05)):
        ds = load_dataset(toy.name)
        assert ds.kind == "points" and ds.shape == (2,)
        centers = torch.tensor(toy.centers)
        assert len(centers) == n_modes
        d = torch.cdist(ds.data[:5000], centers).min(1).values
        assert d.mean() < 2 * std and (d < 4 * std).float().mean() > 0.99
    assert torch.allclose(torch.tensor(RING8.centers).norm(dim=1), torch.full((8,), 2.0))


def test_mnist_real_files(mnist_dir):
    ds = load_dataset("mnist", mnist_dir, split="test", download=False)
    assert ds.data.shape == (10000, 1, 28, 28) and ds.labels.bincount().min() > 800


# --------------------------------------------------------------------------- GANZOO_DATA and downloads


def _fake_torchvision_mnist(monkeypatch, fail: bool):
    """torchvision's MNIST download, offline: it makes its folders and then fails, or writes the files."""
    import torchvision

    class FakeMNIST:
        def __init__(self, root, train=True, download=False):
            if fail:
                raw = Path(root) / "MNIST" / "raw"
                raw.mkdir(parents=True, exist_ok=True)
                (raw / "train-images-idx3-ubyte.gz.part").write_bytes(b"partial")
                raise RuntimeError("Error downloading train-images-idx3-ubyte.gz: [Errno -3] name resolution")
            _fake_mnist(Path(root))

    monkeypatch.setattr(torchvision.datasets, "MNIST", FakeMNIST)


def test_a_failed_download_leaves_nothing_behind(tmp_path, monkeypatch):
    _fake_torchvision_mnist(monkeypatch, fail=True)
    wanted = tmp_path / "not" / "there"  # --data-dir /nonexistent used to create /nonexistent
    with pytest.raises(DataError, match=r"download failed: .*name resolution") as info:
        load_dataset("mnist", wanted, download=True)
    assert str(wanted) in str(info.value)
    assert not (tmp_path / "not").exists()
    existing = tmp_path / "data"  # an existing folder gets no empty MNIST/raw/ either
    existing.mkdir()
    with pytest.raises(DataError):
        load_dataset("mnist", existing, download=True)
    assert list(existing.iterdir()) == []


def test_a_download_lands_in_the_data_dir(tmp_path, monkeypatch):
    _fake_torchvision_mnist(monkeypatch, fail=False)
    ds = load_dataset("mnist", tmp_path / "new", download=True)
    assert len(ds) == 20
    assert sorted(p.name for p in (tmp_path / "new" / "MNIST" / "raw").iterdir()) == [
        "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]


def test_ganzoo_data_is_the_default_root_for_the_api_and_the_cli(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from ganzoo.cli import cli

    _fake_mnist(tmp_path / "mine")
    monkeypatch.setenv("GANZOO_DATA", str(tmp_path / "mine"))
    assert len(load_dataset("mnist", download=False)) == 20
    monkeypatch.setenv("GANZOO_DATA", str(tmp_path / "empty"))
    result = CliRunner().invoke(cli, ["train", "dcgan", "--dataset", "mnist", "--steps", "1", "--no-download",
                                      "--out", str(tmp_path / "run")])
    assert result.exit_code == 1 and f"not found under {tmp_path / 'empty'}" in result.output
    assert not (tmp_path / "empty").exists()


def test_a_conditional_model_takes_a_folders_classes(tmp_path):
    """cgan on a folder of 3 sub-folders, num_classes not given: built for 3 (it was built for its
    default 10, and sampled 7 labels it never trained); a wrong count is refused; a rerun from the
    run's config.json builds the same weights."""
    from PIL import Image
    from safetensors.torch import load_file

    from ganzoo.checkpoint import find_checkpoint
    from ganzoo.engine import TrainConfig, Trainer

    data = tmp_path / "data"
    for k, cls in enumerate(("a", "b", "c")):
        (data / cls).mkdir(parents=True)
        for i in range(24):
            Image.new("RGB", (16, 16), (80 * k, 7 * i, 255 - 80 * k)).save(data / cls / f"{i}.png")
    cfg = dict(model="cgan", dataset="folder", data_dir=str(data), steps=1, batch_size=16, quiet=True,
               sample_every=10**6, model_args={"data_shape": [3, 16, 16], "width": 8})
    t = Trainer(TrainConfig(**cfg, out=str(tmp_path / "run")))
    assert t.G.num_classes == 3 and t.config.model_args["num_classes"] == 3
    t.fit()
    with pytest.raises(DataError, match="built for 5 classes, but the folder .* has 3 .*set num_classes=3"):
        Trainer(TrainConfig(**{**cfg, "model_args": {**cfg["model_args"], "num_classes": 5}}, out=str(tmp_path / "x")))
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    again = Trainer(TrainConfig(**{**cfg, "model_args": saved["model_args"]}, out=str(tmp_path / "again")))
    again.fit()
    a, b = (load_file(str(find_checkpoint(tmp_path / r) / "generator.safetensors")) for r in ("run", "again"))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_too_few_images_for_a_batch_names_the_batch_size_to_use(tmp_path):
    from PIL import Image

    from ganzoo.engine import TrainConfig, Trainer

    for i in range(10):
        Image.new("RGB", (8, 8), (20 * i, 0, 0)).save(tmp_path / f"{i}.png")
    with pytest.raises(DataError, match=r"10 samples, fewer than one step needs \(128: --batch-size 128\); "
                                        r"use --batch-size 10 or less"):
        Trainer(TrainConfig(model="dcgan", dataset="folder", data_dir=str(tmp_path), steps=1, quiet=True,
                            out=str(tmp_path / "run"), model_args={"data_shape": [3, 8, 8], "width": 8}))


def test_a_broken_image_names_the_file_and_what_to_do(tmp_path, monkeypatch):
    from PIL import Image

    from ganzoo import limits

    Image.new("RGB", (8, 8)).save(tmp_path / "good.png")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(DataError, match=r"broken\.png: .*re-save it as PNG or JPEG, or move it out of the folder"):
        load_dataset("folder", tmp_path, image_shape=(3, 8, 8))
    monkeypatch.setattr(limits, "MAX_DATASET_BYTES", 100)
    with pytest.raises(DataError, match=r"\(0\.4 KiB\) in memory"):  # not "(0.0 GiB)"
        load_dataset("folder", tmp_path, image_shape=(3, 8, 8))

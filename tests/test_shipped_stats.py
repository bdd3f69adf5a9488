"""Evaluation with no data and no network: the reference statistics that ship with ganzoo.

``ganzoo/metrics/reference/`` holds the MNIST and Fashion-MNIST test splits' features (and statistics, k-NN
radii and the n=10,000 real-vs-real floor) in the shipped classifier's feature space, keyed by
the sha256 of the network and of the data (:mod:`ganzoo.metrics.shipped`).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import ganzoo
from ganzoo.errors import DataError
from ganzoo.metrics import evaluate, verify_receipt
from ganzoo.metrics.classifier import dataset_networks, load_classifier
from ganzoo.metrics.networks import _features_of_images
from ganzoo.metrics.protocol import _FLOOR_VERSION, METRICS
from ganzoo.metrics.real_data import _content_sha256
from ganzoo.metrics.shipped import floor_file, reference_file, shipped_floor, shipped_reference


@pytest.fixture
def no_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty GANZOO_DATA, an empty cache, and a torchvision that fails the test if asked to download."""
    import torchvision

    def no_download(*args, **kwargs):
        raise AssertionError("evaluation tried to download a dataset")

    empty = tmp_path / "data"
    empty.mkdir()
    monkeypatch.setenv("GANZOO_DATA", str(empty))
    monkeypatch.setenv("GANZOO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(torchvision.datasets, "MNIST", no_download)
    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", no_download)
    return empty


def _network_sha(name: str = "mnist-classifier", dataset: str = "mnist") -> str:
    return load_classifier(dataset, name=name)[1]["sha256"]


@pytest.mark.parametrize(("dataset", "network"), [(d, n) for d in ("mnist", "fashion-mnist")
                                                  for n in dataset_networks(d)])
def test_the_shipped_statistics_match_the_shipped_network(dataset, network):
    # A retrained classifier without rebuilt statistics (scripts/build_reference_stats.py) fails here;
    # so does a feature network of either dataset (the first or a cross-check one) without statistics.
    net, _ = load_classifier(dataset, name=network)
    d = net.feature_dim
    ref = shipped_reference(network, dataset, "test", network_sha256=_network_sha(network, dataset))
    assert ref is not None, f"rebuild {reference_file(network, dataset, 'test')}"
    assert ref["features"].shape == (10000, d) and ref["features"].dtype == torch.float32
    assert ref["radii"].shape == (10000,) and ref["sigma"].shape == (d, d)
    assert ref["path"].stat().st_size < 6e6
    floor = shipped_floor(network, dataset, 10000, network_sha256=_network_sha(network, dataset),
                          reference_sha256=ref["data_sha256"], version=_FLOOR_VERSION)
    assert floor is not None and set(floor["metrics"]) >= set(METRICS)


def test_the_statistics_are_keyed_by_the_hashes():
    sha = _network_sha()
    assert shipped_reference("mnist-classifier", "mnist", "test", network_sha256="0" * 64) is None
    assert shipped_reference("mnist-classifier", "mnist", "test", network_sha256=sha, data_sha256="0" * 64) is None
    assert shipped_reference("mnist-classifier", "fashion-mnist", "test", network_sha256=sha) is None
    ref = shipped_reference("mnist-classifier", "mnist", "test", network_sha256=sha)
    assert shipped_floor("mnist-classifier", "mnist", 10000, network_sha256=sha, reference_sha256="0" * 64,
                         version=_FLOOR_VERSION) is None
    assert shipped_floor("mnist-classifier", "mnist", 5000, network_sha256=sha, reference_sha256=ref["data_sha256"],
                         version=_FLOOR_VERSION) is None


def test_damaged_shipped_files_are_ignored(tmp_path: Path):
    sha = _network_sha()
    src = reference_file("mnist-classifier", "mnist", "test")
    bad = reference_file("mnist-classifier", "mnist", "test", tmp_path)
    bad.write_bytes(src.read_bytes()[: 100_000])
    assert shipped_reference("mnist-classifier", "mnist", "test", network_sha256=sha, directory=tmp_path) is None
    floor_file("mnist-classifier", "mnist", 10000, tmp_path).write_text("{not json")
    assert shipped_floor("mnist-classifier", "mnist", 10000, network_sha256=sha, reference_sha256="x",
                         version=_FLOOR_VERSION, directory=tmp_path) is None


def test_the_shipped_statistics_are_those_of_the_data(mnist_dir):
    from ganzoo.data import load_dataset

    test = load_dataset("mnist", mnist_dir, split="test", download=False)
    ref = shipped_reference("mnist-classifier", "mnist", "test", network_sha256=_network_sha(),
                            data_sha256=_content_sha256(test.data, test.labels))
    assert ref is not None, "the shipped statistics are not of this MNIST test split"
    net, _ = load_classifier("mnist")
    features, _ = _features_of_images(net, test.data[:1000], 500, torch.device("cpu"))
    torch.testing.assert_close(features, ref["features"][:1000], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("network", dataset_networks("fashion-mnist"))
def test_the_shipped_fashion_statistics_are_those_of_the_data(fashion_mnist_dir, network):
    from ganzoo.data import load_dataset

    test = load_dataset("fashion-mnist", fashion_mnist_dir, split="test", download=False)
    sha = _network_sha(network, "fashion-mnist")
    ref = shipped_reference(network, "fashion-mnist", "test", network_sha256=sha,
                            data_sha256=_content_sha256(test.data, test.labels))
    assert ref is not None, "the shipped statistics are not of this Fashion-MNIST test split"
    net, _ = load_classifier("fashion-mnist", name=network)
    features, _ = _features_of_images(net, test.data[-500:], 500, torch.device("cpu"))
    torch.testing.assert_close(features, ref["features"][-500:], rtol=1e-4, atol=1e-4)


def test_evaluate_and_verify_without_data_or_network(no_data: Path):
    g = ganzoo.load("dcgan-mnist")
    result = evaluate(g, "mnist", n=300, metrics=["fid", "precision", "recall"], floor=False)
    assert result.receipt["reference"]["sha256"] == shipped_reference(
        "mnist-classifier", "mnist", "test", network_sha256=_network_sha())["data_sha256"]
    assert 0 < result.metrics["fid"] < 100
    assert 0 < result.cross_check["mnist-resnet"]["metrics"]["fid"] < 100  # its statistics ship too
    check = verify_receipt(result.receipt, g)
    assert check.ok, check.table()
    assert list(no_data.iterdir()) == [] and not (no_data.parent / "cache").exists()


def test_without_data_other_floors_say_what_is_missing(no_data: Path):
    g = ganzoo.load("dcgan-mnist")
    with pytest.raises(DataError, match=r"floor for n=300 needs the mnist train split .* not found under "):
        evaluate(g, "mnist", n=300, metrics=["fid"])


@pytest.mark.slow
def test_ganzoo_eval_verify_offline_without_data(no_data: Path):
    from click.testing import CliRunner

    from ganzoo.cli import cli

    result = CliRunner().invoke(cli, ["eval", "dcgan-mnist", "--verify"])
    assert result.exit_code == 0, result.output
    assert result.output.rstrip().endswith("verified") and "floor.fid" in result.output


def test_fashion_mnist_evaluation_needs_no_data_either(no_data: Path):
    torch.manual_seed(0)
    g = ganzoo.create("dcgan").generator
    result = evaluate(g, "fashion-mnist", n=300, metrics=["fid", "confident"], floor=False)
    assert result.receipt["reference"]["sha256"] == shipped_reference(
        "fashion-mnist-classifier", "fashion-mnist", "test",
        network_sha256=_network_sha("fashion-mnist-classifier", "fashion-mnist"))["data_sha256"]
    assert result.metrics["fid"] > 0 and "fashion-mnist-resnet" in result.cross_check
    assert list(no_data.iterdir()) == [] and not (no_data.parent / "cache").exists()

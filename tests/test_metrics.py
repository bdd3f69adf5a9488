"""Sample-quality metrics (FID, KID, IS, precision/recall, label accuracy), the shipped
feature classifier, and ganzoo.metrics.evaluate with its receipts and errors."""

from __future__ import annotations

import importlib.resources
import json
import math
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

import ganzoo
from ganzoo.data import load_dataset
from ganzoo.errors import EvalError
from ganzoo.interfaces import Generator
from ganzoo.metrics import evaluate, load_classifier, rank_disagreements, verify_receipt
from ganzoo.metrics import feature_metrics as fm
from ganzoo.metrics.classifier import MnistClassifier, ResNetClassifier, classifier_files
from ganzoo.metrics.real_data import _read_cached, reference_stats


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _clusters(n_per: int, classes: list[int], seed: int = 0) -> torch.Tensor:
    """2-D points around 10 well-separated centres on a line, ``n_per`` for each class in ``classes``."""
    g = _gen(seed)
    return torch.cat([torch.tensor([20.0 * c, 0.0]) + torch.randn(n_per, 2, generator=g) for c in classes])


# --------------------------------------------------------------------------- FID


def _sqrtm_denman_beavers(m: np.ndarray, iterations: int = 100) -> np.ndarray:
    """The principal square root of a matrix with positive real eigenvalues (Denman & Beavers 1976)."""
    y, z = m.copy(), np.eye(len(m))
    for _ in range(iterations):
        y, z = (y + np.linalg.inv(z)) / 2, (z + np.linalg.inv(y)) / 2
    return y


def test_fid_of_identical_sets_is_zero():
    x = torch.randn(2000, 32, generator=_gen())
    assert fm.fid(x, x) == pytest.approx(0.0, abs=1e-8)


def test_fid_of_a_shift_is_its_squared_length():
    x = torch.randn(2000, 8, generator=_gen(), dtype=torch.float64)
    shift = torch.arange(8, dtype=torch.float64)
    assert fm.fid(x, x + shift) == pytest.approx(float(shift @ shift), rel=1e-9)


def test_frechet_distance_matches_the_closed_form():
    # Diagonal case by hand: ||(1, 2)||^2 + (1 - 2)^2 + (2 - 3)^2 = 7.
    assert fm.frechet_distance(
        torch.zeros(2), torch.diag(torch.tensor([1.0, 4.0])),
        torch.tensor([1.0, 2.0]), torch.diag(torch.tensor([4.0, 9.0])),
    ) == pytest.approx(7.0, rel=1e-12)
    # General case against the textbook formula, with the square root of the (non-symmetric)
    # product S1 S2 taken by the Denman-Beavers iteration: a route independent of ours (eigh of
    # symmetric matrices), and checked itself (its square gives back the product).
    g = _gen(1)
    a, b = torch.randn(6, 6, generator=g, dtype=torch.float64), torch.randn(6, 6, generator=g, dtype=torch.float64)
    s1, s2 = a @ a.T + 0.1 * torch.eye(6), b @ b.T + 0.1 * torch.eye(6)
    mu1, mu2 = torch.randn(6, generator=g, dtype=torch.float64), torch.randn(6, generator=g, dtype=torch.float64)
    product = s1.numpy() @ s2.numpy()
    covmean = _sqrtm_denman_beavers(product)
    np.testing.assert_allclose(covmean @ covmean, product, rtol=1e-10, atol=1e-10 * np.abs(product).max())
    expected = float((mu1 - mu2) @ (mu1 - mu2)) + float(s1.trace() + s2.trace()) - 2 * covmean.trace()
    assert fm.frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-9)


def test_fid_from_gaussian_samples_approaches_the_closed_form():
    g = _gen(2)
    mu1, mu2 = torch.zeros(4, dtype=torch.float64), torch.tensor([1.0, 0.0, -1.0, 2.0], dtype=torch.float64)
    l1 = torch.tensor([[1.0, 0, 0, 0], [0.5, 1, 0, 0], [0, 0.3, 2, 0], [0.2, 0, 0, 0.5]], dtype=torch.float64)
    l2 = torch.diag(torch.tensor([2.0, 0.5, 1.0, 1.5], dtype=torch.float64))
    x = mu1 + torch.randn(200_000, 4, generator=g, dtype=torch.float64) @ l1.T
    y = mu2 + torch.randn(200_000, 4, generator=g, dtype=torch.float64) @ l2.T
    exact = fm.frechet_distance(mu1, l1 @ l1.T, mu2, l2 @ l2.T)
    assert exact > 5
    assert fm.fid(x, y) == pytest.approx(exact, rel=0.02)


# --------------------------------------------------------------------------- KID, IS, precision/recall


def test_kid_is_near_zero_for_one_distribution_and_large_for_two():
    x = torch.randn(3000, 16, generator=_gen(0))
    y = torch.randn(3000, 16, generator=_gen(1))
    same, same_std = fm.kid(x, y, subsets=20, subset_size=500)
    shifted, _ = fm.kid(x, y + 1.0, subsets=20, subset_size=500)
    assert abs(same) < 3 * same_std + 1e-3
    assert shifted > 50 * max(abs(same), same_std)


def test_kid_is_reproducible_by_seed():
    x, y = torch.randn(1500, 8, generator=_gen(0)), torch.randn(1500, 8, generator=_gen(1)) + 0.2
    a = fm.kid(x, y, subsets=10, subset_size=200, seed=3)
    assert fm.kid(x, y, subsets=10, subset_size=200, seed=3) == a
    assert fm.kid(x, y, subsets=10, subset_size=200, seed=4) != a


def test_precision_and_recall_of_identical_sets_are_one():
    x = torch.randn(1500, 16, generator=_gen())
    assert fm.precision_recall(x, x) == (1.0, 1.0)


def test_a_single_class_set_has_low_recall_and_high_precision():
    real = _clusters(200, list(range(10)))
    one_class = _clusters(200, [3], seed=1)
    all_classes = _clusters(20, list(range(10)), seed=1)
    precision, recall = fm.precision_recall(one_class, real)
    assert precision > 0.9
    assert recall < 0.15
    assert fm.precision_recall(all_classes, real)[1] > 0.5  # control: the same size, every class


def test_inception_score_of_confident_balanced_outputs_is_the_class_count():
    labels = torch.arange(1000) % 10
    confident = 50.0 * torch.nn.functional.one_hot(labels, 10).float()
    assert fm.inception_score(confident) == pytest.approx(10.0, rel=1e-6)
    assert fm.inception_score(confident[labels == 4]) == pytest.approx(1.0, rel=1e-6)  # one class
    assert fm.inception_score(torch.zeros(1000, 10)) == pytest.approx(1.0, rel=1e-9)  # unsure


def test_label_accuracy_counts_matches():
    logits = torch.nn.functional.one_hot(torch.tensor([0, 1, 2, 3]), 4).float()
    assert fm.label_accuracy(logits, torch.tensor([0, 1, 0, 0])) == 0.5


# --------------------------------------------------------------------------- the shipped classifier


def test_shipped_classifier_loads_and_checks_its_sha256(tmp_path):
    net, record = load_classifier("mnist")
    assert record["test_accuracy"] >= 0.99 and not net.training
    assert net.features(torch.zeros(3, 1, 28, 28)).shape == (3, 128)
    assert importlib.resources.files("ganzoo.metrics").joinpath("weights/mnist-classifier.safetensors").is_file()
    weights, meta = classifier_files("mnist-classifier")
    assert weights.stat().st_size < 5_000_000
    shutil.copy(meta, tmp_path / meta.name)
    damaged = bytearray(weights.read_bytes())
    damaged[-1] ^= 0xFF
    (tmp_path / weights.name).write_bytes(bytes(damaged))
    with pytest.raises(EvalError, match="sha256"):
        load_classifier("mnist", weights_dir=tmp_path)


def test_confident_share_counts_samples_above_p_09():
    # softmax([3, 0]) = (0.95, 0.05): confident; softmax([2, 0]) = (0.88, 0.12): not; a tie: not.
    logits = torch.tensor([[3.0, 0.0], [0.0, 3.0], [2.0, 0.0], [1.0, 1.0]])
    assert fm.confident_share(logits) == 0.5
    assert fm.confident_share(logits, threshold=0.8) == 0.75


def test_the_cross_check_network_is_built_independently():
    first, first_rec = load_classifier("mnist")
    second, second_rec = load_classifier("mnist", name="mnist-resnet")
    assert isinstance(first, MnistClassifier) and isinstance(second, ResNetClassifier) and not second.training
    assert second_rec["architecture"] == "resnet" and second_rec["test_accuracy"] >= 0.99
    assert second_rec["seed"] != first_rec["seed"] and second_rec["rotate_degrees"] > 0
    assert second.features(torch.zeros(3, 1, 28, 28)).shape == (3, 96)
    assert classifier_files("mnist-resnet")[0].stat().st_size < 2_000_000
    with pytest.raises(EvalError, match="mnist has no feature network 'fashion-mnist-classifier'"):
        load_classifier("mnist", name="fashion-mnist-classifier")


def test_fashion_mnist_networks_ship():
    for name in ("fashion-mnist-classifier", "fashion-mnist-resnet"):
        net, record = load_classifier("fashion-mnist", name=name)
        assert record["dataset"] == "fashion-mnist" and record["test_accuracy"] > 0.9, name
        assert net.num_classes == 10


def test_a_record_naming_an_unknown_architecture_is_an_error(tmp_path):
    weights, meta = classifier_files("mnist-resnet")
    shutil.copy(weights, tmp_path / weights.name)
    record = json.loads(meta.read_text())
    (tmp_path / meta.name).write_text(json.dumps({**record, "architecture": "transformer"}))
    with pytest.raises(EvalError, match="architecture 'transformer'.*Upgrade ganzoo"):
        load_classifier("mnist", name="mnist-resnet", weights_dir=tmp_path)


def test_rank_disagreements_names_pairs_the_networks_order_differently():
    def receipt(a: float, b: float) -> dict:
        return {"feature_network": {"name": "n1"}, "metrics": {"fid": a},
                "cross_check": [{"feature_network": {"name": "n2"}, "metrics": {"fid": b}}]}

    assert rank_disagreements({"A": receipt(3, 5), "B": receipt(4, 6), "C": receipt(9, 9)}) == []
    found = rank_disagreements({"A": receipt(3, 9), "B": receipt(4, 8), "C": receipt(9, 10)})
    assert found == ["n1 orders A < B by fid (3 vs 4), n2 the other way (9 vs 8)"]


def test_missing_feature_networks_say_how_to_make_them(tmp_path):
    with pytest.raises(EvalError, match="train_classifier.py --dataset fashion-mnist"):
        load_classifier("fashion-mnist", weights_dir=tmp_path)
    with pytest.raises(EvalError, match="train_classifier.py --dataset mnist --arch resnet"):
        load_classifier("mnist", name="mnist-resnet", weights_dir=tmp_path)
    with pytest.raises(EvalError, match="no feature network for dataset 'cifar10'"):
        load_classifier("cifar10")


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread: on a shared 2-core box a second thread mostly waits (and it is kinder)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("stats")


@pytest.fixture
def test_set(mnist_dir, cache_dir):
    """The MNIST test split as the classifier sees it (features, logits), computed once per session."""
    return reference_stats("mnist", mnist_dir, cache_dir=cache_dir)


@pytest.mark.data
def test_classifier_accuracy_on_the_first_2000_test_images(test_set):
    assert fm.label_accuracy(test_set.logits[:2000], test_set.labels[:2000]) >= 0.985


@pytest.mark.data
def test_shuffled_labels_give_chance_label_accuracy(test_set):
    shuffled = test_set.labels[torch.randperm(test_set.n, generator=_gen())]
    assert fm.label_accuracy(test_set.logits, shuffled) == pytest.approx(0.1, abs=0.02)


@pytest.mark.data
def test_one_mnist_digit_has_low_recall_against_all_digits(test_set):
    feats, radii = test_set.features, test_set.radii
    ones = feats[test_set.labels == 1][:1000]
    mixed = feats[torch.randperm(test_set.n, generator=_gen())[:1000]]
    assert fm.precision_recall(ones, feats, real_radii=radii)[1] < 0.2
    assert fm.precision_recall(mixed, feats, real_radii=radii)[1] > 0.5


# --------------------------------------------------------------------------- evaluate()


class Replay(Generator):
    """Plays back fixed images in order, ignoring the noise (and the labels unless ``follow``)."""

    def __init__(self, images, labels=None, num_classes=None, follow=False):
        super().__init__()
        self.latent_dim, self.num_classes, self.output_shape = 1, num_classes, (1, 28, 28)
        self.register_buffer("images", images.float() / 127.5 - 1)
        self.labels, self.follow, self.pos = labels, follow, 0

    def forward(self, z, y=None):
        n = z.shape[0]
        if self.follow:  # the first image of each asked-for class
            return self.images[[int((self.labels == c).nonzero()[0]) for c in y.tolist()]]
        idx = (torch.arange(n) + self.pos) % len(self.images)
        self.pos += n
        return self.images[idx]


class Noise(Generator):
    """Noise images (tanh of the latent vector, so the seed controls them), or a constant ``value``."""

    def __init__(self, output_shape=(1, 28, 28), value=None):
        super().__init__()
        self.output_shape, self.latent_dim, self.value = output_shape, math.prod(output_shape), value
        self.dummy = torch.nn.Parameter(torch.zeros(1))

    def forward(self, z, y=None):
        x = torch.tanh(z).view(z.shape[0], *self.output_shape)
        if self.value is not None:
            x = torch.full_like(x, self.value)
        return x


@pytest.fixture
def test_images(mnist_dir):
    ds = load_dataset("mnist", mnist_dir, split="test", download=False)
    return ds.data, ds.labels


@pytest.mark.data
@pytest.mark.slow
def test_evaluate_test_images_score_zero_fid_and_noise_a_huge_one(mnist_dir, test_images, cache_dir, monkeypatch):
    # Without the statistics that ship with ganzoo, the reference is computed and cached by its hashes.
    monkeypatch.setattr("ganzoo.metrics.shipped.SHIPPED_DIR", cache_dir / "no-shipped-statistics")
    images, _ = test_images
    real = evaluate(Replay(images), "mnist", mnist_dir, n=len(images), metrics=["fid"],
                    cache_dir=cache_dir, floor=False)
    assert real.metrics["fid"] < 1e-6 and real.floor == {} and real.receipt["floor"] is None
    net_sha = load_classifier("mnist")[1]["sha256"]
    assert any(p.name.startswith("mnist-test-data") and net_sha[:16] in p.name for p in cache_dir.iterdir())
    noise = evaluate(Noise(), "mnist", mnist_dir, n=1000, metrics=["fid"], cache_dir=cache_dir)
    assert 0.05 < noise.floor["fid"] < 50  # train vs test: small, but not zero
    assert noise.metrics["fid"] > 50 * noise.floor["fid"]


@pytest.mark.data
def test_conditional_label_accuracy(mnist_dir, test_images, cache_dir):
    images, labels = test_images
    ignores_y = Replay(images, num_classes=10)
    result = evaluate(ignores_y, "mnist", mnist_dir, n=1000, cache_dir=cache_dir,
                      metrics=["label_accuracy", "is"])
    assert result.metrics["label_accuracy"] == pytest.approx(0.1, abs=0.04)
    assert result.floor["label_accuracy"] > 0.98
    follows_y = Replay(images, labels, num_classes=10, follow=True)
    assert evaluate(follows_y, "mnist", mnist_dir, n=1000, cache_dir=cache_dir,
                    metrics=["label_accuracy"]).metrics["label_accuracy"] > 0.9


def test_damaged_cache_files_are_not_trusted(tmp_path):
    path = tmp_path / "ref.safetensors"
    assert _read_cached(path, 10) is None  # missing
    path.write_bytes(b"not a safetensors file")
    assert _read_cached(path, 10) is None
    save_file({"features": torch.zeros(5, 3)}, str(path))
    assert _read_cached(path, 5) is None  # incomplete


@pytest.mark.data
def test_receipt_records_the_protocol_and_verifies(mnist_dir, test_set, cache_dir, tmp_path):
    g = Noise()
    result = evaluate(g, "mnist", mnist_dir, n=300, seed=5, metrics=["fid", "is", "kid"],
                      model_name="noise", cache_dir=cache_dir)
    r = json.loads(result.to_json())
    assert r["metrics"] == result.metrics and r["floor"]["metrics"] == result.floor
    assert r["protocol"]["n"] == 300 and r["protocol"]["seed"] == 5 and r["model"] == "noise"
    assert r["feature_network"]["sha256"] == load_classifier("mnist")[1]["sha256"]
    assert r["reference"]["split"] == "test" and len(r["reference"]["sha256"]) == 64
    assert r["versions"] == {"ganzoo": ganzoo.__version__, "torch": torch.__version__,
                             "python": r["versions"]["python"]}
    assert "fid" in result.table() and "real data" in result.table()

    path = tmp_path / "receipt.json"
    path.write_text(result.to_json())
    check = verify_receipt(path, g, data_dir=mnist_dir, cache_dir=cache_dir)
    assert check.ok, check.table()
    r["metrics"]["fid"] *= 1.05
    bad = verify_receipt(r, g, data_dir=mnist_dir, cache_dir=cache_dir)
    assert not bad.ok
    assert [c["name"] for c in bad.checks if not c["ok"]] == ["fid"]
    assert r["tolerance"]["fid"] == [0.01, 0.01]
    assert verify_receipt(r, g, data_dir=mnist_dir, cache_dir=cache_dir, tolerance={"fid": (0.1, 0.0)}).ok
    r["feature_network"]["sha256"] = "0" * 64
    with pytest.raises(EvalError, match="feature network"):
        verify_receipt(r, g, data_dir=mnist_dir, cache_dir=cache_dir)


@pytest.mark.data
def test_evaluate_scores_the_same_samples_on_both_networks_and_verify_checks_both(mnist_dir, cache_dir):
    g = Noise()
    result = evaluate(g, "mnist", mnist_dir, n=300, seed=2, metrics=["fid", "confident"], cache_dir=cache_dir)
    r = json.loads(result.to_json())
    second = r["cross_check"][0]
    assert second["feature_network"]["name"] == "mnist-resnet"
    assert second["feature_network"]["sha256"] == load_classifier("mnist", name="mnist-resnet")[1]["sha256"]
    assert second["metrics"] == result.cross_check["mnist-resnet"]["metrics"]
    assert set(second["metrics"]) == {"fid", "confident"} and second["metrics"]["fid"] != r["metrics"]["fid"]
    # both networks name real training digits with confidence and put noise far from them (the
    # confident share alone says little about noise: classifiers can be sure of what they never saw)
    for values, floor in ((result.metrics, result.floor), (second["metrics"], second["floor"]["metrics"])):
        assert floor["confident"] > 0.9 and values["fid"] > 10 * floor["fid"]
    assert "mnist-resnet" in result.table()
    assert verify_receipt(r, g, data_dir=mnist_dir, cache_dir=cache_dir).ok
    second["metrics"]["fid"] *= 1.05
    bad = verify_receipt(r, g, data_dir=mnist_dir, cache_dir=cache_dir)
    assert [c["name"] for c in bad.checks if not c["ok"]] == ["mnist-resnet.fid"]
    second["feature_network"]["sha256"] = "0" * 64
    with pytest.raises(EvalError, match="feature network mnist-resnet"):
        verify_receipt(r, g, data_dir=mnist_dir, cache_dir=cache_dir)


@pytest.mark.data
def test_a_receipt_without_cross_check_still_verifies(mnist_dir, cache_dir):
    # the receipts shipped before the cross-check network existed hold the first network only
    g = Noise()
    result = evaluate(g, "mnist", mnist_dir, n=300, seed=3, metrics=["fid"], cache_dir=cache_dir, cross_check=False)
    assert "cross_check" not in result.receipt and result.cross_check == {}
    check = verify_receipt(result.receipt, g, data_dir=mnist_dir, cache_dir=cache_dir)
    assert check.ok and [c["name"] for c in check.checks] == ["fid", "floor.fid"]


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "kwargs, generator, match",
    [
        ({}, Noise(output_shape=(3, 32, 32)), r"shape \(3, 32, 32\).*mnist images are \(1, 28, 28\)"),
        ({"n": 100}, Noise(), r"n=100 is too few.*n >= 256"),
        ({"metrics": ["label_accuracy"]}, Noise(), "needs a class-conditional generator"),
        ({"metrics": ["fid", "inception"]}, Noise(), r"unknown metric\(s\) \['inception'\]"),
        ({"n": 0}, Noise(), "n must be an integer >= 1"),
        ({"dataset": "cifar10"}, Noise(), r"shape \(1, 28, 28\).*cifar10 images are \(3, 32, 32\)"),
        # (a folder is scored on Inception-v3 since #23: tests/test_own_data_eval.py; points have no network)
        ({"dataset": "ring8"}, Noise(), "no feature network for dataset 'ring8'"),
    ],
)
def test_bad_requests_are_clear_errors(kwargs, generator, match):
    with pytest.raises(EvalError, match=match):
        evaluate(generator, **{"dataset": "mnist", **kwargs})


def test_nan_samples_are_an_error():
    with pytest.raises(EvalError, match="500 of 500 generated samples .* contain NaN"):
        evaluate(Noise(value=math.nan), "mnist", n=1000)


def test_a_gan_instead_of_its_generator_is_an_error():
    with pytest.raises(EvalError, match="pass gan.generator"):
        evaluate(ganzoo.create("dcgan"), "mnist")

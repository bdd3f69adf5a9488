"""Evaluate a generator on MNIST, Fashion-MNIST or CIFAR-10 with a fixed protocol, and write a receipt.

The protocol (what makes two numbers comparable):

* **Samples.** ``n`` samples (default 10,000) from ``generator.sample`` in
  chunks of ``batch_size``, in ``eval()`` mode under ``torch.inference_mode``,
  with the noise from a ``torch.Generator`` seeded with ``seed`` on the
  generator's device. A conditional model gets balanced labels, class
  ``i % num_classes`` for sample ``i``. The noise depends on the device type
  (CPU and CUDA generators differ) and on ``batch_size``; both are recorded.
* **Images.** Generated images must have the dataset's shape (``(1, 28, 28)``
  for the MNIST family, ``(3, 32, 32)`` for CIFAR-10), values in [-1, 1]. There
  is no resize rule for generators: another output shape is an error, and so is
  a NaN or Inf in any sample.
* **Features.** MNIST and Fashion-MNIST: the shipped classifier for the dataset
  (:mod:`ganzoo.metrics.classifier`): 128-d penultimate features for FID,
  KID, precision and recall; logits for the Inception Score, label accuracy and
  the confident share (samples classified with softmax probability above 0.9).
  Every number is also computed on the dataset's independently built
  cross-check network (:data:`~ganzoo.metrics.classifier.CROSS_CHECK_NETWORKS`,
  96-d features) from the same samples, and reported beside the first
  (``cross_check`` in the receipt): when the two networks rank models
  differently, neither ranking is to be trusted alone (:func:`rank_disagreements`).
  CIFAR-10: the FID Inception-v3 (:mod:`ganzoo.metrics.inception`, weights
  supplied by the user as safetensors): 2048-d pool3 features of real and generated
  images alike resized to 299x299, and its 1008 logits for the Inception Score;
  no label accuracy (those logits are not CIFAR-10's classes).
* **Reference.** All 10,000 images of the test split. Their features (and
  Gaussian statistics and k-NN radii) are cached under
  ``$GANZOO_CACHE/stats`` (default ``~/.cache/ganzoo/stats``) in a
  safetensors file whose name holds the sha256 of the data and of the feature
  network, so a changed dataset or network never reuses stale statistics.
* **Floor.** The same metrics for the first ``n`` images of the *train* split
  against the test split: what real data scores, printed beside every number.
  It is cached too (it depends on ``n``, the data and the network, not on the
  generator).
* **Minimum n.** ``n`` must be at least twice the feature size (256 for the
  128-d features): below ``feature_dim + 1`` samples the covariance is singular,
  and just above it the estimate is still very noisy. This
  is a floor for a meaningful number, not a recommendation; FID is biased
  upwards at small ``n``, so only numbers with the same ``n`` compare.

:func:`evaluate` returns an :class:`EvalResult` whose ``receipt`` records each
number with everything needed to reproduce it; :func:`verify_receipt`
recomputes a receipt and checks it within stated tolerances.

Example:
    >>> import ganzoo
    >>> from ganzoo.metrics import evaluate
    >>> g = ganzoo.create("dcgan").generator
    >>> result = evaluate(g, "mnist", n=1000, metrics=("fid",))  # doctest: +SKIP
    >>> print(result.table())  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ganzoo.errors import EvalError
from ganzoo.interfaces import Generator
from ganzoo.metrics import feature_metrics as fm
from ganzoo.metrics.classifier import (
    CROSS_CHECK_NETWORKS,
    FEATURE_NETWORKS,
    INPUT_SHAPE,
    load_classifier,
    sha256_file,
)
from ganzoo.weights import read_json

CACHE_ENV = "GANZOO_CACHE"
RECEIPT_VERSION = 1
# Bump when a change to the metric code changes cached floor numbers.
_FLOOR_VERSION = 1
_FLOOR_SEED = 0
DEFAULT_METRICS = ("fid", "kid", "is", "precision", "recall", "confident")
METRICS = (*DEFAULT_METRICS, "label_accuracy")
REFERENCE_SPLIT = "test"
#: RGB datasets scored on Inception-v3 pool3 features (user-supplied weights, see
#: :mod:`ganzoo.metrics.inception`); the MNIST family uses ganzoo's own classifiers.
INCEPTION_DATASETS = ("cifar10",)
FeatureNet = Any  # MnistClassifier or FIDInceptionV3: features_and_logits(x), feature_dim, num_classes


def _image_shape(dataset: str) -> tuple[int, ...]:
    """The shape of the images ``dataset``'s feature network scores (generated ones must match)."""
    if dataset in INCEPTION_DATASETS:
        from ganzoo.data import get_dataset_spec

        return tuple(get_dataset_spec(dataset).shape)
    return INPUT_SHAPE


def feature_network(
    dataset: str, device: torch.device | str | None = None, name: str | None = None,
) -> tuple[FeatureNet, dict[str, Any], tuple[int, ...]]:
    """The feature network for ``dataset``: ``(network, record, image shape it scores)``.

    MNIST and Fashion-MNIST: ganzoo's shipped classifier (128-d features, its labels are the
    dataset's), or with ``name`` one of the dataset's cross-check networks. CIFAR-10: the FID
    Inception-v3 (2048-d pool3 features) from the weights file the user supplies
    (:func:`ganzoo.metrics.inception.load_inception` says where).

    Raises:
        EvalError: no feature network for ``dataset``, or its weights are missing or damaged.
    """
    _check_has_feature_network(dataset)
    if dataset in FEATURE_NETWORKS:
        net, record = load_classifier(dataset, name=name, device=device)
        layer = f"penultimate, {net.feature_dim}-d, before the ReLU"
        return net, {**record, "layer": layer}, _image_shape(dataset)
    from ganzoo.metrics.inception import load_inception

    net, record = load_inception(device=device)
    return net, record, _image_shape(dataset)


def _check_has_feature_network(dataset: str) -> None:
    if dataset not in FEATURE_NETWORKS and dataset not in INCEPTION_DATASETS:
        raise EvalError(
            f"no feature network for dataset {dataset!r}: the sample-quality metrics support "
            f"{', '.join(sorted(FEATURE_NETWORKS))} (ganzoo's classifiers) and "
            f"{', '.join(INCEPTION_DATASETS)} (Inception-v3, weights supplied by you)"
        )

FLOOR_SPLIT = "train"

#: ``(rtol, atol)`` per number: a recomputed value passes if ``|new - old| <= atol + rtol * |old|``.
#: Stated for a rerun on the same kind of device (CPU and CUDA draw different noise). A rerun on
#: the same machine agrees to float rounding; 1% leaves room for other CPUs and BLAS libraries
#: moving features by ~1e-6, and 0.005 is 50 of 10,000 samples crossing a k-NN ball's edge.
DEFAULT_TOLERANCE: dict[str, tuple[float, float]] = {
    "fid": (0.01, 0.01),
    "kid": (0.01, 1e-4),
    "kid_std": (0.05, 1e-4),
    "is": (0.01, 0.01),
    "precision": (0.0, 0.005),
    "recall": (0.0, 0.005),
    "label_accuracy": (0.0, 0.005),
    "confident": (0.0, 0.005),
}


def cache_root() -> Path:
    """``$GANZOO_CACHE``, else ``~/.cache/ganzoo``: where evaluation keeps statistics and weights."""
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "ganzoo"


def default_cache_dir() -> Path:
    """``$GANZOO_CACHE/stats``, else ``~/.cache/ganzoo/stats``."""
    return cache_root() / "stats"


def min_samples(feature_dim: int) -> int:
    """Fewest samples :func:`evaluate` accepts for ``feature_dim``-dimensional features."""
    return 2 * feature_dim


@dataclass
class EvalResult:
    """What :func:`evaluate` returns.

    Attributes:
        metrics: metric name to value (``fid``, ``kid``, ``kid_std``, ``is``, ``precision``,
            ``recall``, ``label_accuracy``: those asked for).
        floor: the same metrics for ``n`` real train images against the test split
            (empty when ``evaluate(..., floor=False)``).
        receipt: a JSON-able record of the numbers and of how they were made.
        cross_check: per cross-check network name, ``{"metrics": ..., "floor": ...}``: the
            same numbers from the same samples on an independently built network.
    """

    metrics: dict[str, float]
    floor: dict[str, float]
    receipt: dict[str, Any] = field(repr=False)
    cross_check: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)

    @classmethod
    def from_receipt(cls, receipt: dict[str, Any]) -> EvalResult:
        """The result a receipt records (its numbers, floors and cross-check numbers), e.g. to print its table."""
        floor = (receipt.get("floor") or {}).get("metrics", {})
        checks = {c["feature_network"]["name"]: {"metrics": dict(c["metrics"]),
                                                 "floor": dict((c.get("floor") or {}).get("metrics", {}))}
                  for c in receipt.get("cross_check") or []}
        return cls(dict(receipt["metrics"]), dict(floor), receipt, checks)

    def table(self) -> str:
        """A plain-text table: metric, value and real-vs-real floor, per feature network."""
        r = self.receipt
        first = r["feature_network"]["name"]
        head = (f"{r['reference']['dataset']}: {r['protocol']['n']} samples (seed {r['protocol']['seed']}) vs "
                f"{r['reference']['n']} {r['reference']['split']} images; features: {first}"
                + "".join(f", {name} (cross-check)" for name in self.cross_check))
        nets = [(first, self.metrics, self.floor)] + [(name, c["metrics"], c["floor"])
                                                      for name, c in self.cross_check.items()]
        width = max(12, *(len(name) + 2 for name, _, _ in nets)) if self.cross_check else 12
        rows = [head]
        if self.cross_check:
            rows.append(" " * 16 + "".join(f"{name:>{width}}{'':>12}" for name, _, _ in nets))
        rows.append(f"{'metric':<16}" + f"{'value':>{width}}{'real data':>12}" * len(nets))
        for metric in self.metrics:
            row = f"{metric:<16}"
            for _, values, floor in nets:
                v, f = values.get(metric), floor.get(metric)
                row += f"{_fmt(v) if v is not None else '':>{width}}{_fmt(f) if f is not None else '':>12}"
            rows.append(row)
        if r["floor"]:
            rows.append(f"real data: {r['floor']['n']} {FLOOR_SPLIT} images vs the {REFERENCE_SPLIT} split")
        return "\n".join(rows)

    def to_json(self) -> str:
        return json.dumps(self.receipt, indent=2)


def _fmt(v: float) -> str:
    if v != 0 and abs(v) < 0.01:
        return f"{v:.2e}"
    return f"{v:.4f}" if abs(v) < 10 else f"{v:.2f}"


# --------------------------------------------------------------------------- features and caches


def _content_sha256(images: Tensor, labels: Tensor | None) -> str:
    """sha256 of the decoded uint8 images then the int64 labels: gzipped and raw copies agree."""
    h = hashlib.sha256(images.contiguous().numpy().tobytes())
    if labels is not None:
        h.update(labels.contiguous().numpy().tobytes())
    return h.hexdigest()


@torch.inference_mode()
def _features_of_images(net: FeatureNet, images: Tensor, batch_size: int, device: torch.device) -> tuple[Tensor, Tensor]:
    """Features and logits (float32, on ``device``) of uint8 images ``(N, 1, 28, 28)``."""
    feats, logits = [], []
    for block in images.split(batch_size):
        x = block.to(device).float().div_(127.5).sub_(1.0)
        f, lg = net.features_and_logits(x)
        feats.append(f)
        logits.append(lg)
    return torch.cat(feats), torch.cat(logits)


def _load_split(dataset: str, data_dir: str | Path | None, split: str, download: bool = True):
    from ganzoo.data import load_dataset

    return load_dataset(dataset, data_dir, split=split, download=download)


def _local_split(dataset: str, data_dir: str | Path | None, split: str):
    """The split from the files at hand, or ``None`` when they are not there (nothing is fetched)."""
    from ganzoo.errors import DataNotFoundError

    try:
        return _load_split(dataset, data_dir, split, download=False)
    except DataNotFoundError:
        return None


def _atomic_write_bytes(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@dataclass
class Reference:
    """The reference split as the feature network sees it: what evaluations compare against.

    Attributes:
        dataset, split: where the images come from (``split`` is ``"test"``).
        features: ``(N, 128)`` float32 penultimate features, on the CPU.
        logits: ``(N, num_classes)`` float32 logits.
        labels: ``(N,)`` int64 labels.
        mu, sigma: float64 mean and covariance of ``features`` (FID's statistics).
        sha256: sha256 of the decoded images then labels (gzipped or raw files agree).
        files: sha256 of each data file read.
        network_sha256: sha256 of the feature network's weights.
        path: the cache file, or the shipped file (:mod:`ganzoo.metrics.shipped`).
    """

    dataset: str
    split: str
    features: Tensor
    logits: Tensor
    labels: Tensor
    mu: Tensor
    sigma: Tensor
    sha256: str
    files: dict[str, str]
    network_sha256: str
    path: Path
    _radii: Tensor | None = field(default=None, repr=False)

    @property
    def n(self) -> int:
        return self.features.shape[0]

    @property
    def radii(self) -> Tensor:
        """Squared k-NN radii (k = 3) for precision and recall: computed once, then cached."""
        if self._radii is None:
            self._radii = fm.knn_radii(self.features)
            self._save()
        return self._radii

    def _save(self) -> None:
        from safetensors.torch import save_file

        tensors = {"features": self.features, "logits": self.logits, "labels": self.labels,
                   "mu": self.mu, "sigma": self.sigma}
        if self._radii is not None:
            tensors["radii"] = self._radii
        meta = {"dataset": self.dataset, "split": self.split, "data_sha256": self.sha256,
                "network_sha256": self.network_sha256, "k": str(fm.PR_NEIGHBOURS)}
        _atomic_write_bytes(self.path, lambda p: save_file(tensors, str(p), metadata=meta))


def _read_cached(path: Path, n: int) -> dict[str, Tensor] | None:
    """A cached reference file's tensors, or None when it is missing, damaged or incomplete."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not path.is_file():
        return None
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError):
        return None  # a damaged cache file is recomputed, not trusted
    needed = ("features", "logits", "labels", "mu", "sigma")
    if any(k not in tensors for k in needed) or tensors["features"].shape[0] != n:
        return None
    return tensors


def _from_shipped(dataset: str, shipped: dict[str, Any], net_sha: str) -> Reference:
    """A :class:`Reference` from statistics shipped with ganzoo (:mod:`ganzoo.metrics.shipped`)."""
    return Reference(dataset, REFERENCE_SPLIT, shipped["features"], shipped["logits"], shipped["labels"],
                     shipped["mu"], shipped["sigma"], shipped["data_sha256"], shipped["files"], net_sha,
                     shipped["path"], shipped["radii"])


def _reference(
    dataset: str, data_dir, net: FeatureNet, net_sha: str, cache_dir: Path, device: torch.device, batch_size: int,
    net_name: str = "", download: bool = True,
) -> Reference:
    from ganzoo.metrics.shipped import shipped_reference

    ds = _local_split(dataset, data_dir, REFERENCE_SPLIT)
    if ds is None:  # no files here: the statistics that ship with ganzoo, else fetch (or say what is missing)
        shipped = shipped_reference(net_name, dataset, REFERENCE_SPLIT, network_sha256=net_sha)
        if shipped is not None:
            return _from_shipped(dataset, shipped, net_sha)
        ds = _load_split(dataset, data_dir, REFERENCE_SPLIT, download)
    data_sha = _content_sha256(ds.data, ds.labels)
    shipped = shipped_reference(net_name, dataset, REFERENCE_SPLIT, network_sha256=net_sha, data_sha256=data_sha)
    if shipped is not None:  # the same data and network: no need to compute
        return _from_shipped(dataset, shipped, net_sha)
    path = cache_dir / f"{dataset}-{REFERENCE_SPLIT}-data{data_sha[:16]}-net{net_sha[:16]}.safetensors"
    files = {Path(f).name: sha256_file(Path(f)) for f in ds.info.get("files", [])}
    cached = _read_cached(path, len(ds))
    if cached is not None:
        return Reference(dataset, REFERENCE_SPLIT, cached["features"], cached["logits"], cached["labels"],
                         cached["mu"], cached["sigma"], data_sha, files, net_sha, path, cached.get("radii"))
    features, logits = _features_of_images(net, ds.data, batch_size, device)
    features, logits = features.cpu(), logits.cpu()
    mu, sigma = fm.gaussian_stats(features)
    ref = Reference(dataset, REFERENCE_SPLIT, features, logits, ds.labels.clone(), mu, sigma, data_sha, files,
                    net_sha, path)
    ref._save()
    return ref


def reference_stats(
    dataset: str = "mnist",
    data_dir: str | Path | None = None,
    *,
    cache_dir: str | Path | None = None,
    device: torch.device | str | None = None,
    batch_size: int = 500,
    network: str | None = None,
) -> Reference:
    """The reference (test split) features and statistics, from the cache or computed and cached.

    ``network`` names one of the dataset's feature networks (default: its first).

    Example:
        >>> ref = reference_stats("mnist")  # doctest: +SKIP
        >>> ref.features.shape, ref.sha256[:8]  # doctest: +SKIP
        (torch.Size([10000, 128]), 'a0863a96')
    """
    device = torch.device(device or "cpu")
    net, record, _ = feature_network(dataset, device=device, name=network)
    cache = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    return _reference(dataset, data_dir, net, record["sha256"], cache, device, batch_size, record["name"])


def _compute(
    names: Sequence[str],
    features: Tensor,
    logits: Tensor,
    labels: Tensor | None,
    ref: Reference,
    kid_seed: int,
) -> dict[str, float]:
    """The asked-for metrics, on the device the features are on (FID's matrix roots on the CPU)."""
    out: dict[str, float] = {}
    ref_features = ref.features.to(features.device)
    if "fid" in names:
        out["fid"] = fm.frechet_distance(*fm.gaussian_stats(features), ref.mu, ref.sigma)
    if "kid" in names:
        out["kid"], out["kid_std"] = fm.kid(features, ref_features, seed=kid_seed)
    if "is" in names:
        out["is"] = fm.inception_score(logits)
    if "precision" in names or "recall" in names:
        p, r = fm.precision_recall(features, ref_features, real_radii=ref.radii.to(features.device))
        if "precision" in names:
            out["precision"] = p
        if "recall" in names:
            out["recall"] = r
    if "label_accuracy" in names:
        out["label_accuracy"] = fm.label_accuracy(logits, labels)
    if "confident" in names:
        out["confident"] = fm.confident_share(logits)
    return out


def _floor(
    dataset: str, data_dir, n: int, names: Sequence[str], net: FeatureNet, net_sha: str,
    ref: Reference, cache_dir: Path, device: torch.device, batch_size: int, net_name: str = "",
    download: bool = True,
) -> dict[str, Any]:
    """Real-vs-real numbers: the first ``n`` train images against the test split.

    Cached as JSON per (data, network, n). The cheap numbers (FID, IS, label accuracy) are
    always computed together; KID and precision/recall only once asked for. Without the train
    files, the floor that ships with ganzoo for this ``n`` (if any) is used.
    """
    from ganzoo.errors import DataNotFoundError
    from ganzoo.metrics.shipped import shipped_floor

    train = _local_split(dataset, data_dir, FLOOR_SPLIT)
    if train is None:
        shipped = shipped_floor(net_name, dataset, n, network_sha256=net_sha, reference_sha256=ref.sha256,
                                version=_FLOOR_VERSION)
        if shipped is not None and all(m in shipped["metrics"] for m in names):
            return shipped
        try:
            train = _load_split(dataset, data_dir, FLOOR_SPLIT, download)
        except DataNotFoundError as exc:
            raise DataNotFoundError(
                f"the real-data floor for n={n} needs the {dataset} {FLOOR_SPLIT} split (ganzoo ships the "
                f"floor only for n=10000): {exc}"
            ) from exc
    n_floor = min(n, len(train))
    images, labels = train.data[:n_floor], train.labels[:n_floor]
    sha = _content_sha256(images, labels)
    path = cache_dir / (f"{dataset}-floor-{FLOOR_SPLIT}{sha[:16]}-{REFERENCE_SPLIT}{ref.sha256[:16]}"
                        f"-net{net_sha[:16]}-n{n_floor}-v{_FLOOR_VERSION}.json")
    record = {"metrics": {}, "split": FLOOR_SPLIT, "n": n_floor, "images": f"first {n_floor}",
              "sha256": sha, "kid_seed": _FLOOR_SEED}
    if path.is_file():
        try:
            cached = read_json(path, "floor cache", EvalError)
            if cached.get("sha256") == sha and isinstance(cached.get("metrics"), dict):
                record["metrics"] = cached["metrics"]
        except (OSError, AttributeError, EvalError):
            pass  # a damaged cache file is recomputed
    wanted = {"fid", "is", "label_accuracy", "confident", *names}
    missing = [m for m in METRICS if m in wanted and m not in record["metrics"]]
    if missing:
        features, logits = _features_of_images(net, images, batch_size, device)
        record["metrics"].update(_compute(missing, features, logits.cpu(), labels, ref, _FLOOR_SEED))
        _atomic_write_bytes(path, lambda p: p.write_text(json.dumps(record, indent=2)))
    return record


def real_vs_real(
    dataset: str = "mnist",
    data_dir: str | Path | None = None,
    *,
    n: int = 10_000,
    metrics: Sequence[str] = METRICS,
    cache_dir: str | Path | None = None,
    device: torch.device | str | None = None,
    batch_size: int = 500,
    network: str | None = None,
) -> dict[str, Any]:
    """The floor alone: the first ``n`` train images scored against the test split.

    ``network`` names one of the dataset's feature networks (default: its first).

    Returns:
        ``{"metrics": {...}, "split": "train", "n": ..., "images": ..., "sha256": ..., "kid_seed": 0}``.

    Example:
        >>> real_vs_real("mnist", n=10000)["metrics"]["fid"]  # doctest: +SKIP
    """
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise EvalError(f"unknown metric(s) {unknown}; choose from {', '.join(METRICS)}")
    device = torch.device(device or "cpu")
    net, record, _ = feature_network(dataset, device=device, name=network)
    if n < min_samples(net.feature_dim):
        raise EvalError(f"n={n} is too few samples: the floor needs n >= {min_samples(net.feature_dim)}")
    cache = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    ref = _reference(dataset, data_dir, net, record["sha256"], cache, device, batch_size, record["name"])
    floor = _floor(dataset, data_dir, n, tuple(metrics), net, record["sha256"], ref, cache, device, batch_size,
                   record["name"])
    return {**floor, "metrics": {k: v for k, v in floor["metrics"].items() if k in metrics or (k == "kid_std" and "kid" in metrics)}}


# --------------------------------------------------------------------------- sampling


def _check_request(generator: Any, metrics: Sequence[str] | None, n: int, batch_size: int, seed: int,
                   dataset: str = "mnist") -> tuple[str, ...]:
    if not isinstance(generator, Generator):
        hint = "; pass gan.generator" if hasattr(generator, "generator") else ""
        raise EvalError(f"evaluate() takes a ganzoo.Generator, not {type(generator).__name__}{hint}")
    if metrics is None:
        names = DEFAULT_METRICS + (("label_accuracy",) if generator.is_conditional else ())
    else:
        names = (metrics,) if isinstance(metrics, str) else tuple(metrics)
        unknown = [m for m in names if m not in METRICS]
        if unknown or not names:
            raise EvalError(f"unknown metric(s) {unknown}; choose from {', '.join(METRICS)}")
    if "label_accuracy" in names and not generator.is_conditional:
        raise EvalError(
            f"label_accuracy needs a class-conditional generator (such as 'cgan'); "
            f"{type(generator).__name__} takes no labels. Drop 'label_accuracy' from metrics"
        )
    for name, value, low in (("n", n, 1), ("batch_size", batch_size, 1), ("seed", seed, 0)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise EvalError(f"{name} must be an integer >= {low}, got {value!r}")
    if dataset in INCEPTION_DATASETS and "label_accuracy" in names:
        raise EvalError(f"label_accuracy needs a classifier of {dataset}'s own classes; the Inception "
                        "network's 1008 ImageNet-era logits are not those. Drop 'label_accuracy'")
    _check_has_feature_network(dataset)  # named as such, not by a shape the dataset does not have
    shape, want = tuple(getattr(generator, "output_shape", ())), _image_shape(dataset)
    if shape != want:
        raise EvalError(
            f"{type(generator).__name__} makes images of shape {shape}, but {dataset} images are {want} "
            "(values in [-1, 1]); ganzoo does not resize generated images for evaluation. Evaluate it "
            "on the dataset it was trained on"
        )
    return tuple(dict.fromkeys(names))


@torch.inference_mode()
def _sample_features(
    generator: Generator, nets: Sequence[FeatureNet], n: int, seed: int, batch_size: int, device: torch.device,
    shape: tuple[int, ...] = INPUT_SHAPE,
) -> tuple[list[tuple[Tensor, Tensor]], Tensor | None]:
    """``[(features, logits)]`` of ``n`` samples, one pair per network (the same samples), and the labels."""
    gen_device = generator._device()
    rng = torch.Generator(device=gen_device).manual_seed(seed)
    labels = torch.arange(n) % generator.num_classes if generator.is_conditional else None
    feats: list[list[Tensor]] = [[] for _ in nets]
    logits: list[list[Tensor]] = [[] for _ in nets]
    for start in range(0, n, batch_size):
        size = min(batch_size, n - start)
        y = labels[start : start + size].to(gen_device) if labels is not None else None
        # bf16 on CUDA: sampling is the cheap half, and the features stay float32.
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=gen_device.type == "cuda"):
            x = generator.sample(size, y, generator=rng, device=gen_device)
        if tuple(x.shape) != (size, *shape):
            raise EvalError(
                f"{type(generator).__name__}.sample({size}) returned shape {tuple(x.shape)}; "
                f"expected {(size, *shape)}"
            )
        x = x.to(device=device, dtype=torch.float32)
        bad = int((~torch.isfinite(x)).flatten(1).any(dim=1).sum())
        if bad:
            raise EvalError(
                f"{bad} of {size} generated samples (samples {start} to {start + size - 1}) contain NaN "
                "or Inf: the generator has diverged or its weights are damaged; metrics on them "
                "would be meaningless. Evaluate an earlier checkpoint"
            )
        for i, net in enumerate(nets):
            f, lg = net.features_and_logits(x)
            feats[i].append(f)
            logits[i].append(lg)
    return [(torch.cat(f), torch.cat(lg)) for f, lg in zip(feats, logits)], labels


# --------------------------------------------------------------------------- public API


def evaluate(
    generator: Generator,
    dataset: str = "mnist",
    data_dir: str | Path | None = None,
    *,
    n: int = 10_000,
    seed: int = 0,
    batch_size: int = 500,
    device: torch.device | str | None = None,
    metrics: Sequence[str] | None = None,
    model_name: str | None = None,
    cache_dir: str | Path | None = None,
    floor: bool = True,
    download: bool = True,
    cross_check: bool = True,
) -> EvalResult:
    """Score a generator's samples against the test split, beside the real-vs-real floor.

    See the module docstring for the protocol.

    Args:
        generator: a :class:`ganzoo.Generator` making ``(1, 28, 28)`` images in [-1, 1]
            (use the EMA generator of a run when it has one).
        dataset: ``"mnist"`` or ``"fashion-mnist"``.
        data_dir: dataset root (default ``$GANZOO_DATA``); missing files are downloaded as for
            training, when online.
        n: number of generated samples (at least :func:`min_samples`, 256).
        seed: seed of the sampling noise.
        batch_size: samples per ``generator.sample`` call (changes the noise; recorded).
        device: where the feature network runs (default: the generator's device).
        metrics: names from :data:`METRICS`; default :data:`DEFAULT_METRICS`, plus
            ``label_accuracy`` for a conditional generator.
        model_name: what was evaluated (a model id, run folder or file), for the receipt.
        cache_dir: where reference statistics live (default :func:`default_cache_dir`).
        floor: also report the real-vs-real floor (``False`` skips it, for quick checks;
            the receipt then records ``"floor": null``).
        download: fetch missing dataset files when online. Either way, when the files are
            not there, the statistics that ship with ganzoo (:mod:`ganzoo.metrics.shipped`:
            the MNIST test split and the floor for n=10000, per feature network) are used and
            nothing is fetched.
        cross_check: also score the same samples on the dataset's cross-check networks
            (MNIST family; ``False`` skips them, for quick checks during training).

    Returns:
        An :class:`EvalResult` with ``metrics``, ``floor``, ``cross_check`` and ``receipt``.

    Raises:
        EvalError: an unsupported dataset or image shape, too few samples, label accuracy
            for an unconditional generator, NaN or Inf samples, damaged feature weights.
        DataError: the dataset files are missing.

    Example:
        >>> import ganzoo
        >>> from ganzoo.metrics import evaluate
        >>> gan = ganzoo.create("dcgan")
        >>> r = evaluate(gan.generator, "mnist", n=500, metrics=["fid"])  # doctest: +SKIP
        >>> r.metrics["fid"] > r.floor["fid"]  # doctest: +SKIP
        True
    """
    names = _check_request(generator, metrics, n, batch_size, seed, dataset)
    gen_device = generator._device()
    device = torch.device(device) if device is not None else gen_device
    net, record, shape = feature_network(dataset, device=device)
    others = [feature_network(dataset, device=device, name=name)[:2]
              for name in (CROSS_CHECK_NETWORKS.get(dataset, ()) if cross_check else ())]
    for each in [net, *(o for o, _ in others)]:
        if n < min_samples(each.feature_dim):
            raise EvalError(
                f"n={n} is too few samples: the {each.feature_dim}x{each.feature_dim} feature covariance "
                f"needs n >= {min_samples(each.feature_dim)} (twice the feature size) to be stable; "
                "the protocol's default is 10000"
            )
    if "label_accuracy" in names and generator.num_classes != net.num_classes:
        raise EvalError(
            f"label_accuracy needs the generator's classes to be {dataset}'s {net.num_classes} "
            f"classes; {type(generator).__name__} has {generator.num_classes}"
        )
    cache = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()

    was_training = generator.training
    generator.eval()
    try:
        scored, labels = _sample_features(generator, [net, *(o for o, _ in others)], n, seed, batch_size,
                                          device, shape)
    finally:
        generator.train(was_training)

    def score(net: FeatureNet, net_record: dict[str, Any], features: Tensor, logits: Tensor):
        net_sha, net_name = net_record["sha256"], net_record["name"]
        ref = _reference(dataset, data_dir, net, net_sha, cache, device, batch_size, net_name, download)
        values = _compute(names, features, logits.cpu(), labels, ref, seed)
        floor_record = (_floor(dataset, data_dir, n, names, net, net_sha, ref, cache, device, batch_size,
                               net_name, download)
                        if floor else None)
        return values, floor_record, ref

    values, floor_record, ref = score(net, record, *scored[0])
    floor_values = {k: v for k, v in floor_record["metrics"].items() if k in values} if floor_record else {}
    checks: dict[str, dict[str, dict[str, float]]] = {}
    check_receipts = []
    for (other, other_record), pair in zip(others, scored[1:]):
        other_values, other_floor, _ = score(other, other_record, *pair)
        other_floor_values = ({k: v for k, v in other_floor["metrics"].items() if k in other_values}
                              if other_floor else {})
        checks[other_record["name"]] = {"metrics": other_values, "floor": other_floor_values}
        check_receipts.append({
            "feature_network": _network_entry(other_record),
            "metrics": other_values,
            "floor": {"metrics": other_floor_values} if other_floor else None,
        })

    import ganzoo

    receipt = {
        "receipt_version": RECEIPT_VERSION,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "model": model_name if model_name is not None else type(generator).__name__,
        "metrics": values,
        "floor": {"metrics": floor_values, **{k: v for k, v in floor_record.items() if k != "metrics"}}
        if floor_record else None,
        "protocol": {
            "n": n,
            "seed": seed,
            "batch_size": batch_size,
            "labels": "balanced: class i % num_classes for sample i" if labels is not None else None,
            "num_classes": generator.num_classes,
            "sample_precision": "bf16 autocast" if gen_device.type == "cuda" else "float32",
            "image_shape": list(shape),
            "fid": "float64 statistics of the feature layer",
            "kid": {"subsets": fm.KID_SUBSETS, "subset_size": min(fm.KID_SUBSET_SIZE, n, ref.n),
                    "kernel": "(x.y/d + 1)^3", "seed": seed},
            "is": {"splits": 1, "on": "logits"},
            "precision_recall": {"k": fm.PR_NEIGHBOURS},
        },
        "tolerance": {k: list(v) for k, v in DEFAULT_TOLERANCE.items() if k in values},
        "feature_network": _network_entry(record),
        "reference": {"dataset": dataset, "split": REFERENCE_SPLIT, "n": ref.n,
                      "sha256": ref.sha256, "files": ref.files},
        "versions": {"ganzoo": ganzoo.__version__, "torch": torch.__version__,
                     "python": platform.python_version()},
        "device": str(gen_device),
        "feature_device": str(device),
        "platform": f"{platform.system()} {platform.machine()}",
    }
    if check_receipts:
        receipt["cross_check"] = check_receipts
    return EvalResult(metrics=values, floor=floor_values, receipt=receipt, cross_check=checks)


def _network_entry(record: dict[str, Any]) -> dict[str, Any]:
    return {"name": record["name"], "sha256": record["sha256"], "test_accuracy": record.get("test_accuracy"),
            "layer": record["layer"]}


def network_values(result: EvalResult | dict[str, Any]) -> dict[str, dict[str, float]]:
    """Feature network name to its metrics, for an :class:`EvalResult` or a receipt dict.

    Example:
        >>> network_values({"feature_network": {"name": "a"}, "metrics": {"fid": 3.0},
        ...                 "cross_check": [{"feature_network": {"name": "b"}, "metrics": {"fid": 4.0}}]})
        {'a': {'fid': 3.0}, 'b': {'fid': 4.0}}
    """
    receipt = result.receipt if isinstance(result, EvalResult) else result
    out = {receipt["feature_network"]["name"]: dict(receipt["metrics"])}
    for c in receipt.get("cross_check") or []:
        out[c["feature_network"]["name"]] = dict(c["metrics"])
    return out


def rank_disagreements(results: dict[str, EvalResult | dict[str, Any]], metric: str = "fid") -> list[str]:
    """Pairs of models that two feature networks order differently by ``metric``.

    Disagreement is information: when ganzoo's first network says model A beats model B and
    the cross-check network says the opposite, the difference between them is within what the
    choice of feature network decides, and neither ranking should be quoted alone.

    Args:
        results: model name to its :class:`EvalResult` (or receipt dict), all on the same dataset.
        metric: the number to rank by.

    Returns:
        One sentence per disagreeing pair (empty when all networks agree).

    Example:
        >>> a = {"feature_network": {"name": "n1"}, "metrics": {"fid": 3.0},
        ...      "cross_check": [{"feature_network": {"name": "n2"}, "metrics": {"fid": 9.0}}]}
        >>> b = {"feature_network": {"name": "n1"}, "metrics": {"fid": 4.0},
        ...      "cross_check": [{"feature_network": {"name": "n2"}, "metrics": {"fid": 8.0}}]}
        >>> rank_disagreements({"A": a, "B": b})
        ['n1 orders A < B by fid (3 vs 4), n2 the other way (9 vs 8)']
    """
    values = {model: network_values(r) for model, r in results.items()}
    models = list(values)
    out = []
    for i, a in enumerate(models):
        for b in models[i + 1 :]:
            nets = [net for net in values[a] if net in values[b]
                    and metric in values[a][net] and metric in values[b][net]]
            signs = {net: (values[a][net][metric] > values[b][net][metric])
                     - (values[a][net][metric] < values[b][net][metric]) for net in nets}
            for j, n1 in enumerate(nets):
                for n2 in nets[j + 1 :]:
                    if signs[n1] * signs[n2] < 0:
                        rel = "<" if signs[n1] < 0 else ">"
                        out.append(f"{n1} orders {a} {rel} {b} by {metric} ({values[a][n1][metric]:.4g} vs "
                                   f"{values[b][n1][metric]:.4g}), {n2} the other way "
                                   f"({values[a][n2][metric]:.4g} vs {values[b][n2][metric]:.4g})")
    return out


@dataclass
class Verification:
    """What :func:`verify_receipt` returns.

    Attributes:
        ok: every recorded number was reproduced within its tolerance.
        checks: one row per number: ``name``, ``recorded``, ``recomputed``, ``allowed``
            (the absolute difference tolerated) and ``ok``.
        notes: differences in setting that may explain a mismatch (versions, device).
        result: the recomputed :class:`EvalResult`.
    """

    ok: bool
    checks: list[dict[str, Any]]
    notes: list[str]
    result: EvalResult

    def table(self) -> str:
        w = max(22, *(len(c["name"]) + 2 for c in self.checks)) if self.checks else 22
        rows = [f"{'number':<{w}}{'recorded':>12}{'recomputed':>12}{'allowed':>10}  ok"]
        for c in self.checks:
            rows.append(f"{c['name']:<{w}}{_fmt(c['recorded']):>12}{_fmt(c['recomputed']):>12}"
                        f"{_fmt(c['allowed']):>10}  {'yes' if c['ok'] else 'NO'}")
        rows += [f"note: {note}" for note in self.notes]
        rows.append("verified" if self.ok else "NOT verified: numbers differ beyond tolerance")
        return "\n".join(rows)


def verify_receipt(
    receipt: dict[str, Any] | str | Path,
    generator: Generator,
    *,
    tolerance: dict[str, tuple[float, float]] | None = None,
    data_dir: str | Path | None = None,
    device: torch.device | str | None = None,
    cache_dir: str | Path | None = None,
    download: bool = False,
) -> Verification:
    """Recompute an evaluation receipt with the same protocol and check its numbers.

    A number passes if ``|recomputed - recorded| <= atol + rtol * |recorded|`` with
    ``(rtol, atol)`` from ``tolerance``, merged over the receipt's own ``tolerance``, merged
    over :data:`DEFAULT_TOLERANCE` (1% for FID, KID and IS; 0.005 absolute for precision,
    recall and label accuracy).
    The defaults hold for a rerun on the same kind of device (CPU or CUDA), which draws
    the same noise; the floor is checked too.

    Args:
        receipt: a receipt dict (``EvalResult.receipt``) or the path of its JSON file.
        generator: the generator the receipt claims to describe.
        tolerance: per-number ``(rtol, atol)`` overrides.
        data_dir: dataset root, as for :func:`evaluate`.
        device: where the feature network runs, as for :func:`evaluate`.
        cache_dir: where reference statistics live, as for :func:`evaluate`.
        download: fetch missing dataset files (default off: verifying uses the data at hand or
            the statistics that ship with ganzoo, and says which files are missing otherwise).

    Raises:
        EvalError: the receipt is unreadable, or was made with a different feature network
            or reference data than this installation has (its numbers are not comparable).

    Example:
        >>> v = verify_receipt("receipt.json", generator)  # doctest: +SKIP
        >>> print(v.table())  # doctest: +SKIP
    """
    if not isinstance(receipt, dict):
        try:
            receipt = read_json(receipt, "ganzoo evaluation receipt", EvalError,
                                "; receipts come from `ganzoo eval --json`")
        except FileNotFoundError as exc:
            raise EvalError(f"cannot read receipt {receipt}: no such file") from exc
    try:
        proto, net_rec, ref_rec = receipt["protocol"], receipt["feature_network"], receipt["reference"]
        recorded = receipt["metrics"]
        recorded_floor = receipt["floor"]["metrics"] if receipt["floor"] else {}
    except (KeyError, TypeError) as exc:
        raise EvalError(f"not a ganzoo evaluation receipt (missing {exc}); receipts come from ganzoo.metrics.evaluate") from exc
    dataset = ref_rec["dataset"]
    cross = receipt.get("cross_check") or []
    try:
        wanted = [(None, net_rec)] + [(c["feature_network"]["name"], c["feature_network"]) for c in cross]
    except (KeyError, TypeError) as exc:
        raise EvalError(f"the receipt's cross_check entries are malformed (missing {exc})") from exc
    for name, entry in wanted:
        if name is not None and name not in CROSS_CHECK_NETWORKS.get(dataset, ()):
            raise EvalError(f"the receipt was made with cross-check network {name!r}, which this ganzoo does "
                            "not ship: use the ganzoo version named in the receipt")
        _, record, _ = feature_network(dataset, name=name)
        if record["sha256"] != entry.get("sha256"):
            raise EvalError(
                f"the receipt was made with feature network {entry.get('name')} sha256 "
                f"{str(entry.get('sha256'))[:12]}..., this ganzoo ships sha256 {record['sha256'][:12]}...: "
                "its numbers cannot be reproduced here. Use the ganzoo version named in the receipt"
            )
    tol = {**DEFAULT_TOLERANCE, **{k: tuple(v) for k, v in (receipt.get("tolerance") or {}).items()},
           **(tolerance or {})}
    result = evaluate(
        generator, dataset, data_dir, n=proto["n"], seed=proto["seed"], batch_size=proto["batch_size"],
        device=device, metrics=[m for m in recorded if m in METRICS], model_name=receipt.get("model"),
        cache_dir=cache_dir, floor=bool(recorded_floor), download=download, cross_check=bool(cross),
    )
    if result.receipt["reference"]["sha256"] != ref_rec["sha256"]:
        raise EvalError(
            f"the {dataset} {ref_rec['split']} split here has sha256 {result.receipt['reference']['sha256'][:12]}..., "
            f"the receipt's has {ref_rec['sha256'][:12]}...: a different reference set; check --data-dir"
        )
    compared = [("", recorded, result.metrics), ("floor.", recorded_floor, result.floor)]
    for c in cross:
        name = c["feature_network"]["name"]
        now = result.cross_check.get(name, {"metrics": {}, "floor": {}})
        compared += [(f"{name}.", c.get("metrics") or {}, now["metrics"]),
                     (f"{name}.floor.", (c.get("floor") or {}).get("metrics") or {}, now["floor"])]
    checks = []
    for prefix, old, new in compared:
        for name, value in old.items():
            rtol, atol = tol.get(name, (0.01, 0.0))
            got = new.get(name, math.nan)
            allowed = atol + rtol * abs(value)
            checks.append({"name": prefix + name, "recorded": value, "recomputed": got,
                           "allowed": allowed, "ok": bool(abs(got - value) <= allowed)})
    notes = []
    for key in ("ganzoo", "torch"):
        then, now = receipt.get("versions", {}).get(key), result.receipt["versions"][key]
        if then != now:
            notes.append(f"{key} {then} made the receipt, {now} verified it")
    then_dev = str(receipt.get("device", "")).split(":")[0]
    now_dev = result.receipt["device"].split(":")[0]
    if then_dev and then_dev != now_dev:
        notes.append(f"the receipt sampled on {then_dev}, this run on {now_dev}: the noise differs, "
                     "so only sampling-level agreement can be expected")
    return Verification(ok=all(c["ok"] for c in checks), checks=checks, notes=notes, result=result)

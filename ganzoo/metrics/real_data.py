"""What real data scores: the reference split's statistics, and the real-vs-real floor.

:func:`reference_stats` gives the reference (test) split as a feature network sees it (a
:class:`Reference`: features, logits, Gaussian statistics, k-NN radii), from the statistics
that ship with ganzoo (:mod:`ganzoo.metrics.shipped`), the cache (:mod:`ganzoo.metrics.cache`)
or computed from the data. :func:`real_vs_real` gives the floor: the first ``n`` train images
scored against the reference, cached as JSON. ``_compute`` scores features against a
reference, for generated samples and real ones alike.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ganzoo.errors import EvalError
from ganzoo.metrics import feature_metrics as fm
from ganzoo.metrics.cache import _atomic_write_bytes, default_cache_dir
from ganzoo.metrics.classifier import sha256_file
from ganzoo.metrics.networks import (
    FeatureNet,
    _features_of_images,
    feature_network,
    logit_metrics,
    network_spec,
)
from ganzoo.metrics.protocol import (
    _FLOOR_SEED,
    _FLOOR_VERSION,
    FLOOR_SPLIT,
    METRICS,
    REFERENCE_SPLIT,
    min_samples,
)
from ganzoo.weights import read_json


def _content_sha256(images: Tensor, labels: Tensor | None) -> str:
    """sha256 of the decoded uint8 images then the int64 labels: gzipped and raw copies agree."""
    h = hashlib.sha256(images.contiguous().numpy().tobytes())
    if labels is not None:
        h.update(labels.contiguous().numpy().tobytes())
    return h.hexdigest()



def _load_split(dataset: str, data_dir: str | Path | None, split: str, download: bool = True,
                image_shape: tuple[int, ...] | None = None):
    from ganzoo.data import load_dataset

    if image_shape is None:
        return load_dataset(dataset, data_dir, split=split, download=download)
    # A dataset that resizes (a folder) is read at the shape the images are scored at.
    return load_dataset(dataset, data_dir, split=split, download=download, image_shape=tuple(image_shape))


def _local_split(dataset: str, data_dir: str | Path | None, split: str, image_shape: tuple[int, ...] | None = None):
    """The split from the files at hand, or ``None`` when they are not there (nothing is fetched)."""
    from ganzoo.errors import DataNotFoundError

    try:
        if image_shape is None:
            return _load_split(dataset, data_dir, split, download=False)
        return _load_split(dataset, data_dir, split, download=False, image_shape=image_shape)
    except DataNotFoundError:
        return None



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
        meta.update(_bind_tensors(tensors, meta))
        _atomic_write_bytes(self.path, lambda p: save_file(tensors, str(p), metadata=meta))


def _ganzoo_version() -> str:
    import ganzoo

    return str(ganzoo.__version__)


def _bind_tensors(tensors: dict[str, Tensor], meta: dict[str, str]) -> dict[str, str]:
    """What binds a cached reference file's numbers: ganzoo's version and a sha256 of tensors and keys.

    A file whose tensors or keys were edited afterwards, or that an other ganzoo version wrote,
    no longer matches and is recomputed (see :func:`_read_cached`).
    """
    version = _ganzoo_version()
    h = hashlib.sha256(json.dumps({k: meta.get(k) for k in _BOUND_KEYS} | {"ganzoo": version},
                                  sort_keys=True).encode())
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}:".encode())
        h.update(t.numpy().tobytes())
    return {"ganzoo": version, "content_sha256": h.hexdigest()}


_BOUND_KEYS = ("dataset", "split", "data_sha256", "network_sha256", "k")


def _read_cached(path: Path, n: int, data_sha: str | None = None, net_sha: str | None = None) -> dict[str, Tensor] | None:
    """A cached reference file's tensors, or None when it is missing, damaged, incomplete or not bound.

    Bound: its metadata names the data and network asked for (``data_sha``, ``net_sha`` when
    given) and this ganzoo's version, and its ``content_sha256`` matches the tensors and keys
    (:func:`_bind_tensors`): an edited or stale file is recomputed, not trusted.
    """
    from safetensors import SafetensorError, safe_open

    if not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError):
        return None  # a damaged cache file is recomputed, not trusted
    needed = ("features", "logits", "labels", "mu", "sigma")
    if any(k not in tensors for k in needed) or tensors["features"].shape[0] != n:
        return None
    if (data_sha is not None and meta.get("data_sha256") != data_sha) or (
            net_sha is not None and meta.get("network_sha256") != net_sha):
        return None
    if meta.get("ganzoo") != _ganzoo_version() or meta.get("content_sha256") != _bind_tensors(
            tensors, meta)["content_sha256"]:
        return None
    return tensors


def _from_shipped(dataset: str, shipped: dict[str, Any], net_sha: str) -> Reference:
    """A :class:`Reference` from statistics shipped with ganzoo (:mod:`ganzoo.metrics.shipped`)."""
    return Reference(dataset, REFERENCE_SPLIT, shipped["features"], shipped["logits"], shipped["labels"],
                     shipped["mu"], shipped["sigma"], shipped["data_sha256"], shipped["files"], net_sha,
                     shipped["path"], shipped["radii"])


def _reference(
    dataset: str, data_dir, net: FeatureNet, net_sha: str, cache_dir: Path, device: torch.device, batch_size: int,
    net_name: str = "", download: bool = True, image_shape: tuple[int, ...] | None = None,
) -> Reference:
    from ganzoo.metrics.shipped import shipped_reference

    ds = _local_split(dataset, data_dir, REFERENCE_SPLIT, image_shape)
    if ds is None:  # no files here: the statistics that ship with ganzoo, else fetch (or say what is missing)
        shipped = shipped_reference(net_name, dataset, REFERENCE_SPLIT, network_sha256=net_sha)
        if shipped is not None:
            return _from_shipped(dataset, shipped, net_sha)
        ds = _load_split(dataset, data_dir, REFERENCE_SPLIT, download, image_shape)
    data_sha = _content_sha256(ds.data, ds.labels)
    shipped = shipped_reference(net_name, dataset, REFERENCE_SPLIT, network_sha256=net_sha, data_sha256=data_sha)
    if shipped is not None:  # the same data and network: no need to compute
        return _from_shipped(dataset, shipped, net_sha)
    path = cache_dir / f"{dataset}-{REFERENCE_SPLIT}-data{data_sha[:16]}-net{net_sha[:16]}.safetensors"
    files = {Path(f).name: sha256_file(Path(f)) for f in ds.info.get("files", [])}
    cached = _read_cached(path, len(ds), data_sha, net_sha)
    if cached is not None:
        return Reference(dataset, REFERENCE_SPLIT, cached["features"], cached["logits"], cached["labels"],
                         cached["mu"], cached["sigma"], data_sha, files, net_sha, path, cached.get("radii"))
    features, logits = _features_of_images(net, ds.data, batch_size, device)
    features, logits = features.cpu(), logits.cpu()
    mu, sigma = fm.gaussian_stats(features)
    labels = ds.labels.clone() if ds.labels is not None else torch.full((len(ds),), -1, dtype=torch.int64)
    ref = Reference(dataset, REFERENCE_SPLIT, features, logits, labels, mu, sigma, data_sha, files,
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
    image_shape: tuple[int, ...] | None = None,
) -> Reference:
    """The reference (test split) features and statistics, from the cache or computed and cached.

    ``network`` names one of the dataset's feature networks (default: its first).
    ``image_shape`` is the ``(C, H, W)`` to read a dataset that resizes (``folder``) at
    (default: the network's or the dataset's own shape).

    Example:
        >>> ref = reference_stats("mnist")  # doctest: +SKIP
        >>> ref.features.shape, ref.sha256[:8]  # doctest: +SKIP
        (torch.Size([10000, 128]), 'a0863a96')
    """
    device = torch.device(device or "cpu")
    net, record, shape = feature_network(dataset, device=device, name=network)
    cache = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    return _reference(dataset, data_dir, net, record["sha256"], cache, device, batch_size, record["name"],
                      image_shape=image_shape or shape)


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
    download: bool = True, image_shape: tuple[int, ...] | None = None,
    extras: Sequence[str] = ("is", "label_accuracy", "confident"),
) -> dict[str, Any]:
    """Real-vs-real numbers: the first ``n`` train images against the test split.

    Cached as JSON per (data, network, n). The cheap numbers (FID, IS, label accuracy) are
    always computed together; KID and precision/recall only once asked for. Without the train
    files, the floor that ships with ganzoo for this ``n`` (if any) is used.
    """
    from ganzoo.errors import DataNotFoundError
    from ganzoo.metrics.shipped import shipped_floor

    train = _local_split(dataset, data_dir, FLOOR_SPLIT, image_shape)
    if train is None:
        shipped = shipped_floor(net_name, dataset, n, network_sha256=net_sha, reference_sha256=ref.sha256,
                                version=_FLOOR_VERSION)
        if shipped is not None and all(m in shipped["metrics"] for m in names):
            return shipped
        try:
            train = _load_split(dataset, data_dir, FLOOR_SPLIT, download, image_shape)
        except DataNotFoundError as exc:
            raise DataNotFoundError(
                f"the real-data floor for n={n} needs the {dataset} {FLOOR_SPLIT} split (ganzoo ships the "
                f"floor only for n=10000): {exc}"
            ) from exc
    n_floor = min(n, len(train))
    images = train.data[:n_floor]
    labels = train.labels[:n_floor] if train.labels is not None else None
    sha = _content_sha256(images, labels)
    path = cache_dir / (f"{dataset}-floor-{FLOOR_SPLIT}{sha[:16]}-{REFERENCE_SPLIT}{ref.sha256[:16]}"
                        f"-net{net_sha[:16]}-n{n_floor}-v{_FLOOR_VERSION}.json")
    record = {"metrics": {}, "split": FLOOR_SPLIT, "n": n_floor, "images": f"first {n_floor}",
              "sha256": sha, "kid_seed": _FLOOR_SEED}
    key = {"dataset": dataset, "reference_sha256": ref.sha256, "network_sha256": net_sha, "version": _FLOOR_VERSION}
    if path.is_file():
        try:
            cached = read_json(path, "floor cache", EvalError)
            bound = cached.pop("bound", None)
            if (cached.get("sha256") == sha and isinstance(cached.get("metrics"), dict)
                    and bound == _bind_floor(cached, key)
                    and all(isinstance(v, float) and not isinstance(v, bool) for v in cached["metrics"].values())):
                record["metrics"] = cached["metrics"]
        except (OSError, AttributeError, TypeError, EvalError):
            pass  # a damaged, edited or stale cache file is recomputed
    # The cheap numbers the network can give (no labels: no label accuracy), and those asked for.
    wanted = {"fid", *(m for m in extras if m != "label_accuracy" or labels is not None), *names}
    missing = [m for m in METRICS if m in wanted and m not in record["metrics"]]
    if missing:
        features, logits = _features_of_images(net, images, batch_size, device)
        record["metrics"].update(_compute(missing, features, logits.cpu(), labels, ref, _FLOOR_SEED))
        stored = {**record, "bound": _bind_floor(record, key)}
        _atomic_write_bytes(path, lambda p: p.write_text(json.dumps(stored, indent=2)))
    return record


def _bind_floor(record: dict[str, Any], key: dict[str, Any]) -> dict[str, str]:
    """What binds a cached floor record: ganzoo's version and a sha256 of the record and what it was made from.

    A record edited afterwards (a number changed in ``$GANZOO_CACHE/stats``), written by another
    ganzoo version or for other data or another network no longer matches, and is recomputed.
    """
    version = _ganzoo_version()
    payload = json.dumps({"record": record, "key": key, "ganzoo": version}, sort_keys=True)
    return {"ganzoo": version, "record_sha256": hashlib.sha256(payload.encode()).hexdigest()}


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
    image_shape: tuple[int, ...] | None = None,
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
    net, record, shape = feature_network(dataset, device=device, name=network)
    if n < min_samples(net.feature_dim):
        raise EvalError(f"n={n} is too few samples: the floor needs n >= {min_samples(net.feature_dim)}")
    cache = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    ref = _reference(dataset, data_dir, net, record["sha256"], cache, device, batch_size, record["name"],
                     image_shape=image_shape or shape)
    floor = _floor(dataset, data_dir, n, tuple(metrics), net, record["sha256"], ref, cache, device, batch_size,
                   record["name"], image_shape=image_shape or shape,
                   extras=logit_metrics(network_spec(dataset, network)))
    return {**floor, "metrics": {k: v for k, v in floor["metrics"].items() if k in metrics or (k == "kid_std" and "kid" in metrics)}}

"""The feature network(s) each dataset is scored with, and features of real images.

Feature networks are registered through the ``ganzoo_register_feature_networks`` hook
(:class:`ganzoo.specs.FeatureNetworkSpec`), ganzoo's own like any plugin's: this module is a
core plugin, registered without importing it (:mod:`ganzoo.core_plugins`). A dataset is scored by the network registered for its name,
else for its kinds (:func:`ganzoo.registry.feature_networks_for`):

* MNIST and Fashion-MNIST: ganzoo's shipped classifiers (:mod:`ganzoo.metrics.classifier`),
  a first network and the dataset's cross-check network;
* every other image dataset (CIFAR-10, a folder of your own images, a plugin's images, grey or
  RGB, any size): the FID Inception-v3 (:mod:`ganzoo.metrics.inception`; ``ganzoo fetch
  inception`` gets its weights), registered for the kind ``"images"``.
"""

from __future__ import annotations

import hashlib
from typing import Any

import torch
from torch import Tensor

from ganzoo.errors import EvalError
from ganzoo.metrics.classifier import (
    FEATURE_NETWORKS,
    load_classifier,
)
from ganzoo.specs import FeatureNetworkSpec

#: Datasets ganzoo scores on Inception-v3 pool3 features out of the box (any image dataset
#: without a network of its own is, too: the Inception network is registered for ``"images"``).
INCEPTION_DATASETS = ("cifar10",)
FeatureNet = Any  # MnistClassifier or FIDInceptionV3 or a plugin's: features_and_logits(x), feature_dim


# --------------------------------------------------------------------------- ganzoo's own networks


def load_shipped_classifier(dataset: str, name: str, device: torch.device | str | None = None) -> tuple[Any, dict[str, Any]]:
    """ganzoo's shipped classifier ``name`` for ``dataset``, and its record (what the core plugin's spec loads)."""
    net, record = load_classifier(dataset, name=name, device=device)
    return net, {**record, "layer": f"penultimate, {net.feature_dim}-d, before the ReLU"}


def load_inception(device: torch.device | str | None = None) -> tuple[Any, dict[str, Any]]:
    """The FID Inception-v3 and its record (what the core plugin's spec loads)."""
    from ganzoo.metrics import inception  # looked up at call time (tests stand in for it)

    return inception.load_inception(device=device)


def inception_ready() -> str | None:
    """``None`` when the FID Inception-v3 weights are in place, else one line saying how to get them."""
    from ganzoo.metrics.inception import WEIGHTS_ENV, default_weights_path

    path = default_weights_path()
    if path.is_file():
        return None
    return (f"the FID Inception-v3 weights are not at {path}: run `ganzoo fetch inception` (or put the "
            f"file there, or set {WEIGHTS_ENV})")


# --------------------------------------------------------------------------- lookup


def network_specs(dataset: str) -> list[FeatureNetworkSpec]:
    """``dataset``'s feature networks, its scoring network first, then its cross-checks.

    Raises:
        EvalError: no feature network scores ``dataset``.
    """
    from ganzoo.registry import feature_networks_for

    specs = feature_networks_for(dataset)
    if not specs:
        raise EvalError(
            f"no feature network for dataset {dataset!r}: the sample-quality metrics score image datasets "
            f"({', '.join(sorted(FEATURE_NETWORKS))} with ganzoo's classifiers, any other image dataset with "
            "Inception-v3) and datasets a plugin gives a network (ganzoo_register_feature_networks)"
        )
    return specs


def network_spec(dataset: str, name: str | None = None) -> FeatureNetworkSpec:
    """The spec of ``dataset``'s feature network ``name`` (default: its scoring network)."""
    specs = network_specs(dataset)
    if name is None:
        return specs[0]
    for spec in specs:
        if spec.name == name:
            return spec
    raise EvalError(f"feature network {name!r} does not score dataset {dataset!r}; its networks: "
                    f"{', '.join(s.name for s in specs)}")


def image_shape_of(spec: FeatureNetworkSpec, dataset: str) -> tuple[int, ...] | None:
    """The image shape ``spec`` scores ``dataset`` at: its own, else the dataset's, else ``None`` (any)."""
    if spec.image_shape is not None:
        return tuple(spec.image_shape)
    from ganzoo.errors import UnknownNameError
    from ganzoo.registry import get_dataset_spec

    try:
        shape = get_dataset_spec(dataset).shape
    except UnknownNameError:
        return None
    return tuple(shape) if shape else None


def _image_shape(dataset: str) -> tuple[int, ...] | None:
    """The shape of the images ``dataset``'s feature network scores (``None``: any image shape)."""
    return image_shape_of(network_spec(dataset), dataset)


def network_problem(dataset: str) -> str | None:
    """Why ``dataset`` cannot be scored here (no network, or its weights are missing), else ``None``. Cheap."""
    try:
        spec = network_spec(dataset)
    except EvalError as exc:
        return str(exc)
    problem = spec.ready() if spec.ready is not None else None
    return f"{dataset} is scored with {spec.name}, and {problem}" if problem else None


def _state_sha256(net: Any, name: str) -> str:
    """sha256 of a network's ``state_dict`` (names, dtypes, shapes and values), for a network with no file hash."""
    state = getattr(net, "state_dict", None)
    if not callable(state):
        raise EvalError(f"feature network {name!r}: load() gave no sha256 in its record and the network has no "
                        "state_dict to hash; return (network, {'sha256': ...})")
    h = hashlib.sha256()
    for key, t in sorted(state().items()):
        t = t.detach().cpu().contiguous()
        h.update(f"{key}:{t.dtype}:{tuple(t.shape)}:".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def feature_network(
    dataset: str, device: torch.device | str | None = None, name: str | None = None,
) -> tuple[FeatureNet, dict[str, Any], tuple[int, ...] | None]:
    """The feature network for ``dataset``: ``(network, record, image shape it scores)``.

    MNIST and Fashion-MNIST: ganzoo's shipped classifier (128-d features, its labels are the
    dataset's), or with ``name`` one of the dataset's cross-check networks. Any other image
    dataset: the FID Inception-v3 (2048-d pool3 features; ``ganzoo fetch inception`` gets its
    weights), unless a plugin registered a network for it. The shape is ``None`` when the
    network scores any image shape and the dataset has none of its own (``folder``).

    Raises:
        EvalError: no feature network for ``dataset``, or its weights are missing or damaged.
    """
    spec = network_spec(dataset, name)
    out = spec.load(device)
    net, record = out if isinstance(out, tuple) and len(out) == 2 else (out, {})
    if not callable(getattr(net, "features_and_logits", None)) or isinstance(getattr(net, "feature_dim", None), bool) \
            or not isinstance(getattr(net, "feature_dim", None), int):
        raise EvalError(f"feature network {spec.name!r} (plugin {spec.plugin!r}): load() must return a network with "
                        "features_and_logits(x) and an integer feature_dim")
    record = dict(record or {})
    record.setdefault("name", spec.name)
    if not isinstance(record.get("sha256"), str) or not record["sha256"]:
        record["sha256"] = _state_sha256(net, spec.name)
    record.setdefault("test_accuracy", None)
    record.setdefault("layer", f"{net.feature_dim}-d features")
    if isinstance(net, torch.nn.Module):
        net = net.to(device or "cpu").eval().requires_grad_(False)
    return net, record, image_shape_of(spec, dataset)


def logit_metrics(spec: FeatureNetworkSpec) -> tuple[str, ...]:
    """The metrics ``spec``'s logits give: the Inception Score (any logits), label accuracy and the
    confident share (logits that are the dataset's own classes)."""
    return (("is",) if spec.logits else ()) + (("label_accuracy", "confident") if spec.num_classes else ())


def _check_has_feature_network(dataset: str) -> None:
    network_specs(dataset)


def _logits_or_empty(f: Tensor, lg: Tensor | None) -> Tensor:
    return lg if lg is not None else f.new_zeros((f.shape[0], 0))


@torch.inference_mode()
def _features_of_images(net: FeatureNet, images: Tensor, batch_size: int, device: torch.device) -> tuple[Tensor, Tensor]:
    """Features and logits (float32, on ``device``) of uint8 images ``(N, C, H, W)``."""
    feats, logits = [], []
    for block in images.split(batch_size):
        x = block.to(device).float().div_(127.5).sub_(1.0)
        f, lg = net.features_and_logits(x)
        feats.append(f.float())
        logits.append(_logits_or_empty(f, lg).float())
    return torch.cat(feats), torch.cat(logits)

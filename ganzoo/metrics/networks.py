"""The feature network(s) each dataset is scored with, and features of real images.

MNIST and Fashion-MNIST: ganzoo's shipped classifiers (:mod:`ganzoo.metrics.classifier`),
a first network and the dataset's cross-check networks. CIFAR-10: the FID Inception-v3
(:mod:`ganzoo.metrics.inception`, weights supplied by the user).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from ganzoo.errors import EvalError
from ganzoo.metrics.classifier import FEATURE_NETWORKS, INPUT_SHAPE, load_classifier

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

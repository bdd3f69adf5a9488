"""ganzoo's own plugins: the standard losses, datasets, feature networks and loggers, registered without torch.

They register like any plugin, under the names of the modules that hold what they register
(``ganzoo.losses``, ``ganzoo.data``, ``ganzoo.metrics.networks``, ``ganzoo.loggers``), but every loss class,
dataset loader and network is named here and imported only when it is used (:class:`Lazy`,
or a loader that imports at call time). So the registries fill in a fraction of a second and
``ganzoo list``, ``info``, ``datasets`` and ``plugins`` never import torch. The facts written
here (shapes, class counts, feature sizes, descriptions) are checked against the modules
they describe by tests/test_light_registration.py.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from ganzoo.plugins import hookimpl
from ganzoo.specs import DatasetSpec, FeatureNetworkSpec, Lazy, LoggerSpec

# --------------------------------------------------------------------------- losses

LOSS_CLASSES = {
    "minimax": "MinimaxLoss",
    "non-saturating": "NonSaturatingLoss",
    "hinge": "HingeLoss",
    "lsgan": "LSGANLoss",
    "wgan-gp": "WGANGPLoss",
}
"""Loss name -> its class in :mod:`ganzoo.losses` (that module's ``LOSSES``)."""


class Losses:
    """The standard losses (plugin ``ganzoo.losses``)."""

    @hookimpl
    def ganzoo_register_losses(self, register: Callable[..., None]) -> None:
        for name, cls in LOSS_CLASSES.items():
            register(name, Lazy(f"ganzoo.losses:{cls}"))


# --------------------------------------------------------------------------- datasets

TOY_DESCRIPTIONS = {
    "ring8": "2-D toy: 8 Gaussians, std 0.02",
    "grid25": "2-D toy: 25 Gaussians, std 0.05",
}
"""The 2-D toys of :data:`ganzoo.data.TOYS`, as ``ganzoo datasets`` describes them."""


class Datasets:
    """The standard datasets (plugin ``ganzoo.data``)."""

    @hookimpl
    def ganzoo_register_datasets(self, register: Callable[[DatasetSpec], None]) -> None:
        register(DatasetSpec("mnist", "MNIST handwritten digits, 28x28 grey", (1, 28, 28), 10,
                             Lazy("ganzoo.data:load_mnist")))
        register(DatasetSpec("fashion-mnist", "Fashion-MNIST clothing, 28x28 grey", (1, 28, 28), 10,
                             Lazy("ganzoo.data:load_fashion_mnist")))
        register(DatasetSpec("cifar10", "CIFAR-10, 32x32 RGB, 10 classes", (3, 32, 32), 10,
                             Lazy("ganzoo.data:load_cifar10")))
        register(DatasetSpec("folder", "any folder of images, resized and centre-cropped to the model",
                             None, None, Lazy("ganzoo.data:load_folder")))
        for name, description in TOY_DESCRIPTIONS.items():
            register(DatasetSpec(name, description, (2,), None, Lazy(f"ganzoo.data:load_{name}"), kind="points-2d"))


# --------------------------------------------------------------------------- feature networks

CLASSIFIERS = {"mnist": "mnist-classifier", "fashion-mnist": "fashion-mnist-classifier"}
"""Dataset -> ganzoo's shipped classifier that scores it (:data:`ganzoo.metrics.classifier.FEATURE_NETWORKS`)."""
CROSS_CHECKS = {"mnist": ("mnist-resnet",), "fashion-mnist": ("fashion-mnist-resnet",)}
"""Dataset -> its cross-check classifiers (:data:`ganzoo.metrics.classifier.CROSS_CHECK_NETWORKS`)."""
CLASSIFIER_INPUT = (1, 28, 28)
"""What the shipped classifiers read (:data:`ganzoo.metrics.classifier.INPUT_SHAPE`)."""
INCEPTION = "inception-v3-fid-2015-12-05"
"""The FID Inception network's registered name (:data:`ganzoo.metrics.inception.NAME`)."""
INCEPTION_FEATURES = 2048
"""Its pool3 feature size (:data:`ganzoo.metrics.inception.FEATURE_DIM`)."""


def _classifier(dataset: str, name: str) -> Callable[..., Any]:
    return functools.partial(Lazy("ganzoo.metrics.networks:load_shipped_classifier"), dataset, name)


class FeatureNetworks:
    """ganzoo's feature networks (plugin ``ganzoo.metrics.networks``)."""

    @hookimpl
    def ganzoo_register_feature_networks(self, register: Callable[[FeatureNetworkSpec], None]) -> None:
        for dataset, name in CLASSIFIERS.items():
            register(FeatureNetworkSpec(name, (dataset,), _classifier(dataset, name), num_classes=10,
                                        image_shape=CLASSIFIER_INPUT,
                                        description=f"ganzoo's {dataset} classifier (shipped)"))
        for dataset, names in CROSS_CHECKS.items():
            for name in names:
                register(FeatureNetworkSpec(name, (dataset,), _classifier(dataset, name), num_classes=10,
                                            image_shape=CLASSIFIER_INPUT, cross_check=True,
                                            description=f"ganzoo's {dataset} cross-check classifier (shipped)"))
        register(FeatureNetworkSpec(INCEPTION, ("images",), Lazy("ganzoo.metrics.networks:load_inception"),
                                    feature_dim=INCEPTION_FEATURES, ready=Lazy("ganzoo.metrics.networks:inception_ready"),
                                    description="the FID Inception-v3 (pool3, 2048-d), for any image dataset; "
                                                "weights: `ganzoo fetch inception`"))


# --------------------------------------------------------------------------- loggers


class Loggers:
    """ganzoo's own logger, TensorBoard (plugin ``ganzoo.loggers``)."""

    @hookimpl
    def ganzoo_register_loggers(self, register: Callable[[LoggerSpec], None]) -> None:
        register(LoggerSpec("tensorboard", Lazy("ganzoo.loggers:TensorBoardLogger"),
                            ready=Lazy("ganzoo.loggers:tensorboard_ready"),
                            description="TensorBoard event files in the run's tensorboard/ folder: curves, sample "
                                        "grids, hyper-parameters (`tensorboard --logdir runs`)"))


CORE = {
    "ganzoo.losses": Losses(),
    "ganzoo.data": Datasets(),
    "ganzoo.metrics.networks": FeatureNetworks(),
    "ganzoo.loggers": Loggers(),
}
"""Plugin name -> the object whose hooks register it; the plugin manager registers these first."""

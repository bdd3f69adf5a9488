"""The feature network for MNIST-family evaluation: a small CNN classifier trained by ganzoo.

Inception-v3 features are a poor fit for 28x28 grey digits (they are upsampled
ten-fold and pushed through a network that never saw a digit), so for MNIST
and Fashion-MNIST ganzoo follows the common practice of scoring samples with a
classifier trained on the dataset's own training split. FID, KID, precision
and recall use its 128-dimensional penultimate layer (:meth:`features`); the
Inception Score and label accuracy use its logits.

Architecture: a 5x5 stride-2 conv stem (32 channels, 28 -> 14 pixels), two
3x3 conv blocks (conv, batch norm, ReLU, 2x2 max pool; 64 and 128 channels;
14 -> 7 -> 3 pixels), a linear layer to 128 features standardised by a non-affine
batch norm, then ReLU and a linear layer to the class logits. About 240k
parameters, 1 MB of float32 weights. The features are taken *before* that
ReLU: the pre-activations are closer to Gaussian and have a full-rank
covariance, which the Frechet distance assumes (after a ReLU, dead units give
zero-variance dimensions). The batch norm makes every feature zero-mean and
unit-variance over the training images (to within 5%, measured), so the features have a fixed, O(1)
scale: FID is a sum over 128 unit-variance dimensions, and KID's cubic kernel
``(x . y / d + 1)^3`` is not swamped by a large raw scale (with the raw linear
outputs of a first version, real-vs-real KID came out as -1.6 +- 17 and an
untrained DCGAN's as 61,000).

Input: ``(N, 1, 28, 28)`` float images in [-1, 1], the range ganzoo's
generators produce (``uint8`` data maps to it with ``x / 127.5 - 1``). There is
no resize rule: anything else is an error (:class:`~ganzoo.errors.EvalError`).

A second opinion: every dataset also has a cross-check network
(:data:`CROSS_CHECK_NETWORKS`), :class:`ResNetClassifier`, built independently of
the first: residual blocks and global average pooling instead of a flattened
3x3 map, a 96-d feature layer instead of 128, SGD instead of Adam, another seed,
and random rotations, scalings and shifts as augmentation instead of shifts
alone. Evaluation reports every number on both; where the two disagree (one
ranks model A above B, the other B above A), neither number alone is to be
trusted.

Weights ship inside the package (``ganzoo/metrics/weights/<name>.safetensors``
with a ``<name>.json`` record of how they were trained, their test accuracy and
their sha256, which :func:`load_classifier` checks). They are made by
``scripts/train_classifier.py`` (``--arch cnn`` or ``--arch resnet``).

Code: Apache-2.0, part of ganzoo.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ganzoo.checkpoint import sha256_file
from ganzoo.errors import EvalError
from ganzoo.weights import read_json

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"

#: Feature network per dataset: the base name of its files in :data:`WEIGHTS_DIR`. Receipts'
#: top-level numbers are on this network.
FEATURE_NETWORKS = {"mnist": "mnist-classifier", "fashion-mnist": "fashion-mnist-classifier"}
#: Independently built networks per dataset whose numbers evaluation reports beside the first's.
CROSS_CHECK_NETWORKS = {"mnist": ("mnist-resnet",), "fashion-mnist": ("fashion-mnist-resnet",)}

INPUT_SHAPE = (1, 28, 28)


class _FeatureClassifier(nn.Module):
    """A classifier split into ``body`` (image -> features) and ``head`` (features -> logits)."""

    body: nn.Module
    head: nn.Module

    def features(self, x: Tensor) -> Tensor:
        """Penultimate-layer features ``(N, feature_dim)`` (before the ReLU)."""
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        """Class logits ``(N, num_classes)``."""
        return self.head(self.body(x))

    def features_and_logits(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """Features and logits of one forward pass."""
        f = self.body(x)
        return f, self.head(f)


class MnistClassifier(_FeatureClassifier):
    """Small CNN classifier for 28x28 single-channel images in [-1, 1].

    Args:
        num_classes: number of logits.
        width: channels of the first conv block (doubled in each of the next two).
        feature_dim: size of the penultimate (feature) layer.

    Example:
        >>> import torch
        >>> net = MnistClassifier().eval()
        >>> net.features(torch.zeros(2, 1, 28, 28)).shape
        torch.Size([2, 128])
    """

    def __init__(self, num_classes: int = 10, width: int = 32, feature_dim: int = 128):
        super().__init__()
        self.num_classes = num_classes
        self.feature_dim = feature_dim
        self.config = {"num_classes": num_classes, "width": width, "feature_dim": feature_dim}
        # A strided 5x5 stem instead of conv + pool at full resolution: on a CPU the
        # 28x28 feature maps cost more in memory traffic than in arithmetic.
        blocks: list[nn.Module] = [
            nn.Conv2d(1, width, 5, stride=2, padding=2, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
        ]
        c_in = width
        for c_out in (2 * width, 4 * width):
            blocks += [
                nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
                nn.BatchNorm2d(c_out),
                nn.ReLU(inplace=True),
                nn.MaxPool2d(2),
            ]
            c_in = c_out
        # The non-affine batch norm standardises each feature (zero mean, unit variance over
        # the training set, from its running statistics at eval time), which keeps KID's cubic
        # kernel (x.y/d + 1)^3 in the O(1) range it was designed for.
        self.body = nn.Sequential(
            *blocks,
            nn.Flatten(),
            nn.Linear(c_in * 3 * 3, feature_dim, bias=False),
            nn.BatchNorm1d(feature_dim, affine=False),
        )
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(feature_dim, num_classes))


class _ResidualBlock(nn.Module):
    """Two 3x3 convolutions with batch norm and a shortcut (1x1 conv when the shape changes)."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(c_out))

    def forward(self, x: Tensor) -> Tensor:
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(y)) + self.shortcut(x))


class ResNetClassifier(_FeatureClassifier):
    """Small residual classifier for 28x28 single-channel images in [-1, 1]: the cross-check network.

    A 3x3 stride-2 stem (28 -> 14 pixels), three residual blocks (``width``, ``2 * width`` and
    ``4 * width`` channels at 14, 7 and 4 pixels), global average pooling, a linear layer to
    ``feature_dim`` features standardised by a non-affine batch norm (the feature layer, as in
    :class:`MnistClassifier`, taken before the ReLU), then ReLU and a linear layer to the logits.

    Args:
        num_classes: number of logits.
        width: channels of the stem and the first block.
        feature_dim: size of the penultimate (feature) layer.

    Example:
        >>> import torch
        >>> net = ResNetClassifier().eval()
        >>> net.features(torch.zeros(2, 1, 28, 28)).shape
        torch.Size([2, 96])
    """

    def __init__(self, num_classes: int = 10, width: int = 32, feature_dim: int = 96):
        super().__init__()
        self.num_classes = num_classes
        self.feature_dim = feature_dim
        self.config = {"num_classes": num_classes, "width": width, "feature_dim": feature_dim}
        self.body = nn.Sequential(
            nn.Conv2d(1, width, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
            _ResidualBlock(width, width, 1),
            _ResidualBlock(width, 2 * width, 2),
            _ResidualBlock(2 * width, 4 * width, 2),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(4 * width, feature_dim, bias=False),
            nn.BatchNorm1d(feature_dim, affine=False),
        )
        self.head = nn.Sequential(nn.ReLU(), nn.Linear(feature_dim, num_classes))


#: Architecture name (``"architecture"`` in a network's JSON record; absent means ``"cnn"``) to class.
ARCHITECTURES: dict[str, type[nn.Module]] = {"cnn": MnistClassifier, "resnet": ResNetClassifier}


def dataset_networks(dataset: str) -> tuple[str, ...]:
    """Names of ``dataset``'s feature networks: the first, then the cross-check ones."""
    return (FEATURE_NETWORKS[dataset], *CROSS_CHECK_NETWORKS.get(dataset, ()))


def classifier_files(name: str, weights_dir: Path | None = None) -> tuple[Path, Path]:
    """The ``.safetensors`` and ``.json`` paths of feature network ``name``."""
    base = Path(weights_dir) if weights_dir is not None else WEIGHTS_DIR
    return base / f"{name}.safetensors", base / f"{name}.json"


def load_classifier(
    dataset: str = "mnist",
    *,
    name: str | None = None,
    device: torch.device | str | None = None,
    weights_dir: str | Path | None = None,
) -> tuple[nn.Module, dict[str, Any]]:
    """Load a shipped feature classifier for ``dataset``, checking its sha256.

    Args:
        dataset: ``"mnist"`` or ``"fashion-mnist"``.
        name: which of the dataset's networks: its first (:data:`FEATURE_NETWORKS`, the
            default) or a cross-check network (:data:`CROSS_CHECK_NETWORKS`).
        device: where to put the network (default CPU).
        weights_dir: folder holding ``<name>.safetensors`` and ``<name>.json``;
            defaults to the package's own ``ganzoo/metrics/weights``.

    Returns:
        ``(network, record)``: the network in ``eval()`` mode, float32, without
        gradients, and its JSON record (``name``, ``sha256``, ``test_accuracy``, ...).

    Raises:
        EvalError: no feature network for ``dataset`` (or no network ``name`` for it), its
            files are missing, or the weights do not match the recorded sha256.

    Example:
        >>> net, record = load_classifier("mnist")
        >>> record["name"], record["test_accuracy"] > 0.99
        ('mnist-classifier', True)
        >>> load_classifier("mnist", name="mnist-resnet")[1]["architecture"]
        'resnet'
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if dataset not in FEATURE_NETWORKS:
        raise EvalError(
            f"no feature network for dataset {dataset!r}: the sample-quality metrics support "
            f"{', '.join(sorted(FEATURE_NETWORKS))} (28x28 grey images)"
        )
    known = dataset_networks(dataset)
    if name is None:
        name = known[0]
    elif name not in known:
        raise EvalError(f"{dataset} has no feature network {name!r}; it has {', '.join(known)}")
    weights, meta = classifier_files(name, weights_dir)
    if not weights.is_file() or not meta.is_file():
        arch = "" if name == FEATURE_NETWORKS[dataset] else " --arch resnet"
        raise EvalError(
            f"the {dataset} feature network {name} is not installed: {weights.name} and {meta.name} "
            f"are missing from {weights.parent}. Train it with `python scripts/train_classifier.py "
            f"--dataset {dataset}{arch} --out {weights.parent}` (from a ganzoo source checkout)"
        )
    record = read_json(meta, "feature network record", EvalError, "; reinstall ganzoo")
    digest = sha256_file(weights)
    if digest != record.get("sha256"):
        raise EvalError(
            f"{weights} has sha256 {digest}, but {meta.name} records {record.get('sha256')}: the "
            "weights are corrupt or were replaced. Reinstall ganzoo, or retrain them with "
            "scripts/train_classifier.py"
        )
    arch = record.get("architecture", "cnn")
    if arch not in ARCHITECTURES:
        raise EvalError(f"{meta} names architecture {arch!r}; this ganzoo knows {', '.join(ARCHITECTURES)}. "
                        "Upgrade ganzoo")
    net = ARCHITECTURES[arch](**record["config"])
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as exc:  # pragma: no cover (sha256 catches it first)
        raise EvalError(f"{weights} is not a readable safetensors file ({exc})") from exc
    net.load_state_dict(state)
    net = net.to(device or "cpu").eval().requires_grad_(False)
    return net, record

"""Evaluation metrics for trained generators.

:func:`evaluate` scores a generator on MNIST or Fashion-MNIST with a fixed
protocol (10,000 samples against the 10,000 test images, features of a
classifier shipped with ganzoo), or on CIFAR-10 with the FID Inception-v3
(:mod:`ganzoo.metrics.inception`, weights supplied by the user), and returns the
numbers, the real-vs-real floor beside them, and a receipt that
:func:`verify_receipt` can recompute.
The metrics themselves (FID, KID, Inception Score, improved precision and
recall, label accuracy, confident share) live in :mod:`ganzoo.metrics.feature_metrics` and
work on any feature vectors.

:func:`toy_metrics` scores samples against a 2-D toy mixture (``ring8``,
``grid25``) the way VEEGAN (Srivastava et al. 2017) and PacGAN (Lin et al.
2018) do: modes covered, fraction of high-quality samples, reverse KL.

Example:
    >>> import torch
    >>> from ganzoo.data import RING8
    >>> from ganzoo.metrics import toy_metrics
    >>> toy_metrics(RING8.sample(2500, torch.Generator().manual_seed(0)), "ring8")["modes_covered"]
    8
"""

from __future__ import annotations

from ganzoo.metrics.classifier import MnistClassifier, ResNetClassifier, load_classifier
from ganzoo.metrics.evaluate import EvalResult, evaluate
from ganzoo.metrics.feature_metrics import (
    confident_share,
    fid,
    frechet_distance,
    gaussian_stats,
    inception_score,
    kid,
    label_accuracy,
    precision_recall,
)
from ganzoo.metrics.networks import feature_network
from ganzoo.metrics.protocol import DEFAULT_METRICS, DEFAULT_TOLERANCE, METRICS
from ganzoo.metrics.real_data import Reference, real_vs_real, reference_stats
from ganzoo.metrics.receipts import Verification, network_values, rank_disagreements, verify_receipt
from ganzoo.metrics.toy import toy_metrics

__all__ = [
    "DEFAULT_METRICS",
    "DEFAULT_TOLERANCE",
    "METRICS",
    "EvalResult",
    "MnistClassifier",
    "Reference",
    "ResNetClassifier",
    "Verification",
    "confident_share",
    "evaluate",
    "feature_network",
    "fid",
    "frechet_distance",
    "gaussian_stats",
    "inception_score",
    "kid",
    "label_accuracy",
    "load_classifier",
    "network_values",
    "precision_recall",
    "rank_disagreements",
    "real_vs_real",
    "reference_stats",
    "toy_metrics",
    "verify_receipt",
]

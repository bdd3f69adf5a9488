"""The evaluation protocol's constants: which metrics exist, the splits, tolerances, minimum ``n``.

The protocol itself is described in :mod:`ganzoo.metrics.evaluate`.
"""

from __future__ import annotations

RECEIPT_VERSION = 1
# Bump when a change to the metric code changes cached floor numbers.
_FLOOR_VERSION = 1
_FLOOR_SEED = 0
DEFAULT_METRICS = ("fid", "kid", "is", "precision", "recall", "confident")
METRICS = (*DEFAULT_METRICS, "label_accuracy")
REFERENCE_SPLIT = "test"
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


def min_samples(feature_dim: int) -> int:
    """Fewest samples :func:`evaluate` accepts for ``feature_dim``-dimensional features."""
    return 2 * feature_dim

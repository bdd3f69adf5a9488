"""The evaluation protocol's constants: which metrics exist, the splits, tolerances, minimum ``n``.

The protocol itself is described in :mod:`ganzoo.metrics.evaluate`.
"""

from __future__ import annotations

from typing import Any

from ganzoo import limits
from ganzoo.errors import EvalError

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


def _bounds() -> dict[str, tuple[int, int, str]]:
    """Each setting that sizes an evaluation's work: ``(low, high, name of the cap)``, read now."""
    return {
        "n": (1, limits.MAX_EVAL_SAMPLES, "MAX_EVAL_SAMPLES"),
        "batch_size": (1, limits.MAX_EVAL_BATCH_SIZE, "MAX_EVAL_BATCH_SIZE"),
        "seed": (0, limits.MAX_SEED, "MAX_SEED"),
        "subsets": (1, limits.MAX_KID_SUBSETS, "MAX_KID_SUBSETS"),
        "subset_size": (1, limits.MAX_KID_SUBSET_SIZE, "MAX_KID_SUBSET_SIZE"),
    }


def check_setting(name: str, value: Any, where: str = "") -> int:
    """``value`` if it is a whole number within the protocol's bounds for ``name``, else an :class:`EvalError`.

    ``name`` is one of ``n``, ``batch_size``, ``seed``, ``subsets``, ``subset_size``; ``where``
    says where the value came from (e.g. ``"the receipt's protocol.n"``), for the message.

    Example:
        >>> check_setting("n", 10_000)
        10000
    """
    low, high, cap = _bounds()[name]
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        what = where or name
        raise EvalError(
            f"{what} must be an integer >= {low} and at most {high:,} (ganzoo.limits.{cap}, the protocol "
            f"maximum), got {value!r}" + ("; ganzoo does not verify this receipt" if where else "")
        )
    return value


def check_protocol(n: Any, seed: Any, batch_size: Any) -> None:
    """Refuse ``n``, ``seed`` or ``batch_size`` outside the protocol's bounds (:mod:`ganzoo.limits`), before any work."""
    for name, value in (("n", n), ("batch_size", batch_size), ("seed", seed)):
        check_setting(name, value)

"""Evaluation metrics for trained generators.

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

from ganzoo.metrics.toy import toy_metrics

__all__ = ["toy_metrics"]

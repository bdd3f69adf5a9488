"""One training engine for every GAN family.

``from ganzoo.engine import Trainer, TrainConfig`` (or ``ganzoo.train(...)``) is the way in.
The package reads bottom up:

* :mod:`~ganzoo.engine.config`: :class:`TrainConfig`, its defaults and checks, and what a resume may change;
* :mod:`~ganzoo.engine.rundir`: the run directory (lock, config.json, metrics log, sample grids, checkpoints);
* :mod:`~ganzoo.engine.step`: the training step (D and G updates, n_critic, EMA, learning rates, NaN watch);
* :mod:`~ganzoo.engine.fastpath`: the step as one CUDA graph, and torch.compile with its eager fallback;
* :mod:`~ganzoo.engine.setup`: building the model, data, networks and optimizers of a run;
* :mod:`~ganzoo.engine.trainer`: the :class:`Trainer`, whose ``fit`` loop calls all of these.
"""

from __future__ import annotations

from ganzoo.engine.config import (
    EXECUTION,
    FIXED_ON_RESUME,
    LR_SCHEDULES,
    OUTPUT_DEFAULTS,
    TrainConfig,
)
from ganzoo.engine.step import FINITE_WATCH
from ganzoo.engine.trainer import Trainer, train

__all__ = [
    "EXECUTION",
    "FINITE_WATCH",
    "FIXED_ON_RESUME",
    "LR_SCHEDULES",
    "OUTPUT_DEFAULTS",
    "TrainConfig",
    "Trainer",
    "train",
]

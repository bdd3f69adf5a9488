"""The CUDA fast path: the whole training step captured once as a CUDA graph, then replayed.

A GAN step on small images is hundreds of tiny kernels; launched one by one
from Python the GPU idles between them. Captured as one graph (the n_critic
discriminator updates, the generator update, Adam with ``capturable=True`` and
the EMA update included) a step costs one launch.

Requirements met by the engine: no host synchronisation inside the step
(losses stay on the device), static input buffers (each batch is copied into
them), noise drawn inside the graph from PyTorch's graph-safe CUDA generator,
and autocast without its weight-cast cache. A model that cannot be captured
(a host sync or data-dependent Python branch in its forward) falls back to
eager execution with a one-line notice; one that is known not to replay
correctly opts out with ``ModelSpec(cuda_graph=False)`` (or ``GANLoss.cuda_graph``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
from torch import Tensor

if TYPE_CHECKING:
    from ganzoo.engine import Trainer

WARMUP_STEPS = 3  # eager steps on a side stream before capture (cuDNN/cuBLAS pick their kernels)


def make_graphed_step(trainer: Trainer) -> Callable[[Tensor, Tensor | None], tuple[list[str], Tensor]]:
    """Return ``step(real, y)`` that trains one step per call, through a CUDA graph once warmed up.

    Every call is one real training step: the warm-up steps train too, and the
    call that captures then replays the graph for its own batch.
    """
    why = _cannot_capture(trainer)
    if why:
        _notice(trainer, f"CUDA graph off ({why}); training eagerly")
        return trainer.eager_step

    state: dict = {"calls": 0, "graph": None, "failed": False}
    side = torch.cuda.Stream(trainer.device)

    def step(real: Tensor, y: Tensor | None) -> tuple[list[str], Tensor]:
        if state["failed"]:
            return trainer.eager_step(real, y)
        if state["graph"] is None and state["calls"] < WARMUP_STEPS:
            state["calls"] += 1
            side.wait_stream(torch.cuda.current_stream(trainer.device))
            with torch.cuda.stream(side):
                logs = trainer.eager_step(real, y)
            torch.cuda.current_stream(trainer.device).wait_stream(side)
            return logs
        if state["graph"] is None:
            state["real"] = real.clone()
            state["y"] = y.clone() if y is not None else None
            graph = torch.cuda.CUDAGraph()
            torch.cuda.synchronize(trainer.device)
            try:
                with torch.cuda.graph(graph):
                    state["logs"] = trainer.eager_step(state["real"], state["y"])
            except Exception as exc:  # capture is all or nothing: nothing ran, train this step eagerly
                state["failed"] = True
                _notice(trainer, f"CUDA graph capture failed ({type(exc).__name__}: {exc}); training eagerly")
                torch.cuda.synchronize(trainer.device)
                return trainer.eager_step(real, y)
            state["graph"] = graph
            trainer._graph = graph
        else:
            state["real"].copy_(real)
            if y is not None:
                state["y"].copy_(y)
        state["graph"].replay()
        return state["logs"]

    return step


def _cannot_capture(trainer: Trainer) -> str:
    if not trainer.gan.spec.cuda_graph:
        return f"model {trainer.gan.spec.name!r} opts out: its ModelSpec has cuda_graph=False"
    if not getattr(trainer.gan.loss, "cuda_graph", True):
        return f"loss {trainer.gan.loss.name!r} opts out: cuda_graph=False"
    if trainer.world > 1:
        return "not combined with DistributedDataParallel yet"
    for opt in (trainer.opt_g, trainer.opt_d):
        if not all(g.get("capturable") for g in opt.param_groups):
            return "optimizer not capturable"
    return ""


def _notice(trainer: Trainer, msg: str) -> None:
    if trainer.is_main:
        print(f"ganzoo: {msg}", file=sys.stderr)

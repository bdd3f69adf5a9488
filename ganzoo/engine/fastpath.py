"""The fast paths: the whole training step captured once as a CUDA graph, and torch.compile.

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

``--compile`` compiles G and D in place; compilation happens in the first step,
which :class:`CompileGuard` undoes and retries eagerly if compiling fails.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

import torch
from torch import Tensor, nn

from ganzoo.checkpoint import load_optimizer, optimizer_tensors

if TYPE_CHECKING:
    from ganzoo.engine.step import TrainStep
    from ganzoo.interfaces import GAN

WARMUP_STEPS = 3  # eager steps on a side stream before capture (cuDNN/cuBLAS pick their kernels)

StepFn = Callable[[Tensor, "Tensor | None"], "tuple[list[str], Tensor]"]


class Capturable(Protocol):
    """What decides whether a step may be captured (a TrainStep, or a Trainer, has it)."""

    gan: GAN
    world: int
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer


def compile_in_place(*modules: nn.Module) -> None:
    """Compile ``modules`` in place, so every path that calls them (DDP's included) runs compiled.

    Nothing compiles yet: that happens in the first step, which :class:`CompileGuard` watches.
    """
    for m in modules:
        m.compile()


class CompileGuard:
    """The step as ``(keys, stacked logs)``; its first call compiles, and falls back to eager if that fails.

    Compilation happens inside the step (forward at the first call, backward at the first
    backward), possibly after D's update: the step's state is restored before the eager retry,
    so a fallback run is the same as an eager one.

    Args:
        step: the training step.
        pending: whether G and D were compiled in place and not yet run.
        is_main: whether this process prints notices.
    """

    def __init__(self, step: TrainStep, *, pending: bool, is_main: bool) -> None:
        self.step, self.pending, self.is_main = step, pending, is_main

    def __call__(self, batch: Tensor, y: Tensor | None) -> tuple[list[str], Tensor]:
        if not self.pending:
            return self.step.stacked(batch, y)
        self.pending = False
        saved = _snapshot(self.step)
        try:
            return self.step.stacked(batch, y)
        except Exception as exc:
            _restore(self.step, saved)
            for m in (self.step.G, self.step.D):
                m._compiled_call_impl = None  # what nn.Module.compile() set: back to the eager forward
            if self.is_main:
                cause = getattr(exc, "inner_exception", None) or exc  # dynamo wraps the backend's error
                first = (str(cause).strip().splitlines() or [""])[0]
                print(f"ganzoo: torch.compile failed ({type(cause).__name__}: {first[:300]}); training eagerly",
                      file=sys.stderr)
            return self.step.stacked(batch, y)


def _modules(step: TrainStep) -> dict[str, nn.Module | None]:
    return {"G": step.G, "D": step.D, "G_ema": step.G_ema}


def _snapshot(step: TrainStep) -> dict[str, Any]:
    """Copies of everything a step changes: weights, Adam's state, device counters, random streams."""
    device = step.device
    return {
        "modules": {name: {k: v.clone() for k, v in m.state_dict().items()}
                    for name, m in _modules(step).items() if m is not None},
        "opts": [optimizer_tensors(opt, "o") for opt in (step.opt_g, step.opt_d)],
        "counters": [t.clone() for t in (step.step_t, step.ema_step, step.first_bad)],
        "rng": (torch.get_rng_state(), torch.cuda.get_rng_state(device) if device.type == "cuda" else None),
    }


def _restore(step: TrainStep, saved: dict[str, Any]) -> None:
    modules = _modules(step)
    for name, state in saved["modules"].items():
        modules[name].load_state_dict(state)
    for opt, (tensors, meta) in zip((step.opt_g, step.opt_d), saved["opts"]):
        opt.state.clear()
        load_optimizer(opt, "o", tensors, meta)
    for t, old in zip((step.step_t, step.ema_step, step.first_bad), saved["counters"]):
        t.copy_(old)
    cpu, cuda = saved["rng"]
    torch.set_rng_state(cpu)
    if cuda is not None:
        torch.cuda.set_rng_state(cuda, step.device)


def make_graphed_step(eager: StepFn, parts: Capturable, *, device: torch.device, is_main: bool,
                      on_capture: Callable[[torch.cuda.CUDAGraph], None] | None = None) -> StepFn:
    """Return ``step(real, y)`` that trains one step per call, through a CUDA graph once warmed up.

    Every call is one real training step: the warm-up steps train too, and the
    call that captures then replays the graph for its own batch.

    Args:
        eager: the step run eagerly (warm-up, capture, and the fallback).
        parts: the model, process count and optimizers (see :func:`_cannot_capture`).
        device: the CUDA device.
        is_main: whether this process prints notices.
        on_capture: called with the graph once captured.
    """
    why = _cannot_capture(parts)
    if why:
        _notice(is_main, f"CUDA graph off ({why}); training eagerly")
        return eager

    state: dict = {"calls": 0, "graph": None, "failed": False}
    side = torch.cuda.Stream(device)

    def step(real: Tensor, y: Tensor | None) -> tuple[list[str], Tensor]:
        if state["failed"]:
            return eager(real, y)
        if state["graph"] is None and state["calls"] < WARMUP_STEPS:
            state["calls"] += 1
            side.wait_stream(torch.cuda.current_stream(device))
            with torch.cuda.stream(side):
                logs = eager(real, y)
            torch.cuda.current_stream(device).wait_stream(side)
            return logs
        if state["graph"] is None:
            state["real"] = real.clone()
            state["y"] = y.clone() if y is not None else None
            graph = torch.cuda.CUDAGraph()
            torch.cuda.synchronize(device)
            try:
                with torch.cuda.graph(graph):
                    state["logs"] = eager(state["real"], state["y"])
            except Exception as exc:  # capture is all or nothing: nothing ran, train this step eagerly
                state["failed"] = True
                _notice(is_main, f"CUDA graph capture failed ({type(exc).__name__}: {exc}); training eagerly")
                torch.cuda.synchronize(device)
                return eager(real, y)
            state["graph"] = graph
            if on_capture is not None:
                on_capture(graph)
        else:
            state["real"].copy_(real)
            if y is not None:
                state["y"].copy_(y)
        state["graph"].replay()
        return state["logs"]

    return step


def _cannot_capture(parts: Capturable) -> str:
    """Why the step may not be captured ("" when it may)."""
    if not parts.gan.spec.cuda_graph:
        return f"model {parts.gan.spec.name!r} opts out: its ModelSpec has cuda_graph=False"
    if not getattr(parts.gan.loss, "cuda_graph", True):
        return f"loss {parts.gan.loss.name!r} opts out: cuda_graph=False"
    if parts.world > 1:
        return "not combined with DistributedDataParallel yet"
    for opt in (parts.opt_g, parts.opt_d):
        if not all(g.get("capturable") for g in opt.param_groups):
            return "optimizer not capturable"
    return ""


def _notice(is_main: bool, msg: str) -> None:
    if is_main:
        print(f"ganzoo: {msg}", file=sys.stderr)

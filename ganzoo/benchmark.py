"""Training throughput on this machine: how many images per second the engine trains a model at.

:func:`throughput` builds a real :class:`~ganzoo.Trainer` (the same step as ``ganzoo
train``: CUDA graph, bf16, channels-last on CUDA) and times its training steps after
warm-up. By default it feeds random data of the dataset's shape, so it needs no download and
measures the engine, not the disk; ``synthetic=False`` times the dataset itself. Nothing is
written outside a temporary folder.
"""

from __future__ import annotations

import math
import tempfile
import time
from typing import Any

import torch

from ganzoo import limits
from ganzoo.data import TensorDataset, get_dataset_spec
from ganzoo.errors import ConfigError
from ganzoo.registry import get_spec

WARMUP_STEPS = 10  # covers the CUDA graph's eager warm-up and capture (and compiling, with compile=True)


def synthetic_dataset(name: str, n: int, seed: int = 0) -> TensorDataset:
    """``n`` random samples with the shape, dtype and labels of image dataset ``name``."""
    spec = get_dataset_spec(name)
    if "images" not in spec.kinds or spec.shape is None:
        raise ConfigError(
            f"dataset {name!r} has no fixed image shape to make random data of; "
            "time it on its own files instead (synthetic=False / --real-data --data-dir DIR)"
        )
    g = torch.Generator().manual_seed(seed)
    data = torch.randint(0, 256, (n, *spec.shape), generator=g, dtype=torch.uint8)
    labels = torch.randint(0, spec.num_classes, (n,), generator=g) if spec.num_classes else None
    return TensorDataset(name, data, labels, spec.num_classes, kind="image", info={"synthetic": True})


def throughput(
    model: str,
    *,
    dataset: str | None = None,
    batch_size: int | None = None,
    device: str = "auto",
    precision: str = "auto",
    cuda_graph: bool = True,
    compile: bool = False,
    seconds: float = 3.0,
    synthetic: bool = True,
    data_dir: str | None = None,
    model_args: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Images per second that ``ganzoo train MODEL`` trains at here, after warm-up.

    Images are real images consumed by training steps (``batch_size x n_critic`` per step);
    the device is synchronised before each clock read.

    Args:
        model: a registered model name.
        dataset: its dataset (default: the model's first); decides the shape and labels.
        batch_size: default: the model's recipe for the dataset.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``, as in :class:`~ganzoo.TrainConfig`.
        precision: ``auto``, ``fp32`` or ``bf16``, likewise.
        cuda_graph: capture the step as one CUDA graph on CUDA.
        compile: ``torch.compile`` G and D.
        seconds: about how long the timed steps run.
        synthetic: random data of the dataset's shape (image datasets) instead of its files.
        data_dir: dataset root, for ``synthetic=False``.
        model_args: constructor overrides.

    Returns:
        A dict: ``images_per_s``, ``steps_per_s``, ``steps``, ``seconds``, ``warmup_s``,
        ``batch_size``, ``cuda_graph`` (whether the step was captured), ``compiled``,
        ``precision``, ``finite`` (no NaN loss while timing), ``device``, ``model``,
        ``dataset``, ``synthetic``.

    Example:
        >>> from ganzoo.benchmark import throughput
        >>> r = throughput("vanilla", dataset="ring8", batch_size=64, device="cpu", seconds=0.1)
        >>> r["images_per_s"] > 0, r["cuda_graph"]
        (True, False)
    """
    from ganzoo.engine import TrainConfig, Trainer

    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or not math.isfinite(seconds) \
            or seconds <= 0:
        raise ConfigError(f"seconds must be > 0 and finite (--seconds), got {seconds}")
    spec = get_spec(model)
    name = dataset or (spec.datasets[0] if spec.datasets else None)
    if name is None:
        raise ConfigError(f"model {spec.name!r} names no dataset; pass dataset=")
    kind = "image" if "images" in get_dataset_spec(name).kinds else "points"
    with tempfile.TemporaryDirectory(prefix="ganzoo-bench-") as tmp:
        config = TrainConfig(model=model, dataset=name, data_dir=data_dir, batch_size=batch_size, steps=10**9,
                             device=device, precision=precision, cuda_graph=cuda_graph, compile=compile,
                             model_args=dict(model_args or {}), quiet=True, out=f"{tmp}/run",
                             sample_every=10**9, checkpoint_every=10**9, log_every=10**9)
        data = None
        if synthetic and kind == "image":
            resolved = config.resolve()
            n_critic = resolved.n_critic or 5  # enough rows for a few steps of any critic count
            rows = max(4096, 4 * resolved.batch_size * n_critic)
            shape = get_dataset_spec(name).shape  # None for a folder: synthetic_dataset says so
            nbytes = rows * math.prod(shape or ())
            if nbytes > limits.MAX_DATASET_BYTES:  # checked before any of it is allocated
                raise ConfigError(
                    f"--batch-size {resolved.batch_size} needs {rows:,} rows of random {name} data "
                    f"({nbytes:,} bytes), more than the {limits.MAX_DATASET_BYTES:,} bytes ganzoo holds "
                    "(ganzoo.limits.MAX_DATASET_BYTES); give a smaller --batch-size"
                )
            data = synthetic_dataset(name, rows)
        trainer = Trainer(config, dataset=data)
        step = trainer._make_step()

        def run(n: int) -> None:
            for _ in range(n):
                step(*trainer._batch(trainer._next_indices()))
            _sync(trainer.device)

        t = time.perf_counter()
        run(WARMUP_STEPS)
        warmup_s = time.perf_counter() - t
        t = time.perf_counter()
        run(5)
        per_step = (time.perf_counter() - t) / 5
        n = max(5, int(seconds / max(per_step, 1e-6)))
        t = time.perf_counter()
        run(n)
        dt = time.perf_counter() - t
        finite = max(trainer.first_bad.tolist()) < 0  # a run that diverged would time nonsense
        per = trainer.config.batch_size * trainer.n_critic
        return {
            "model": spec.name, "dataset": name, "synthetic": data is not None,
            "device": str(trainer.device), "batch_size": trainer.config.batch_size,
            "images_per_s": round(n * per / dt, 1), "steps_per_s": round(n / dt, 2), "steps": n,
            "seconds": round(dt, 3), "warmup_s": round(warmup_s, 2),
            "cuda_graph": trainer._graph is not None,
            "compiled": bool(compile and getattr(trainer.G, "_compiled_call_impl", None) is not None),
            "precision": "bf16" if trainer.amp_dtype is not None else "fp32", "finite": finite,
        }


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)

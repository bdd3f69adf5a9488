"""Drawing sample sets for grids, files and latent walks (used by ``ganzoo sample``)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ganzoo import limits
from ganzoo.errors import ConfigError
from ganzoo.interfaces import Generator

# What one call may allocate for its samples (float32): more is drawn in parts, with other seeds.
MAX_SAMPLE_BYTES = 2 * 2**30


def check_sample_count(g: Generator, n: int) -> None:
    """Refuse ``n`` samples whose float32 values (and noise) would take more than 2 GiB, before drawing them."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"the number of samples must be a whole number >= 1, got {n!r}")
    per = 4 * (math.prod(g.output_shape) + g.latent_dim)
    limit = MAX_SAMPLE_BYTES // per
    if n > limit:
        raise ConfigError(
            f"{n} samples of shape {tuple(g.output_shape)} would take {n * per / 2**30:.1f} GiB; at most {limit} "
            "per call: draw more in parts with different seeds (--seed)"
        )


def check_seed(seed: int) -> int:
    """``seed`` if a ``torch.Generator`` takes it (``-2**63`` to :data:`ganzoo.limits.MAX_SEED`), else a :class:`ConfigError`."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not -(2**63) <= seed <= limits.MAX_SEED:
        raise ConfigError(f"seed must be a whole number from -2**63 to 2**64 - 1 ({limits.MAX_SEED}, "
                          f"ganzoo.limits.MAX_SEED), got {seed!r}")
    return seed


def _labels(g: Generator, n: int, labels: list[int] | None) -> tuple[Tensor | None, int | None]:
    """Labels for ``n`` samples in equal runs, ``labels`` in order, and the run length (one grid row per label).

    ``n`` not a multiple of the number of labels: each run is ``ceil(n / len(labels))`` long
    and the last labels get fewer samples (or none).
    """
    if labels is not None and g.num_classes is None:
        raise ConfigError(f"{type(g).__name__} is unconditional; drop --labels (labels need a conditional "
                          "model such as 'cgan')")
    if g.num_classes is None:
        return None, None
    chosen = list(labels) if labels else list(range(g.num_classes))
    bad = [c for c in chosen if not 0 <= c < g.num_classes]
    if bad:
        raise ConfigError(f"labels {bad} are out of range: this model has classes 0 to {g.num_classes - 1}")
    per = -(-n // len(chosen))
    y = torch.tensor([chosen[i // per] for i in range(n)], dtype=torch.long)
    return y, per


def _cycled_labels(g: Generator, n: int, labels: list[int] | None) -> Tensor | None:
    """``n`` labels cycling through ``labels`` (one per latent-walk row)."""
    y, _ = _labels(g, len(labels) if labels else (g.num_classes or 1), labels)
    return None if y is None else y.repeat((n - 1) // len(y) + 1)[:n]


@torch.inference_mode()
def sample_batch(
    g: Generator, n: int, *, seed: int = 0, labels: list[int] | None = None,
    device: torch.device | str | None = None, batch_size: int = 1000,
) -> tuple[Tensor, Tensor | None, int]:
    """``n`` samples from fixed noise, as ``(samples, labels or None, grid row length)``.

    For a conditional model the samples come in equal runs of one label each, in the
    order of ``labels`` (default: every class), and the grid row length is the run length:
    **one row per label**, different noise along a row. This is ganzoo's one grid convention:
    a run's ``samples/`` grids and a bundle's ``samples.png`` follow it too.
    Runs under inference mode, in batches of ``batch_size``, with bf16 autocast on CUDA.
    """
    check_sample_count(g, n)
    check_seed(seed)
    device = torch.device(device) if device is not None else g._device()
    y, per_row = _labels(g, n, labels)
    rng = torch.Generator(device="cpu").manual_seed(seed)
    z = torch.randn(n, g.latent_dim, generator=rng)
    out = []
    for i in range(0, n, batch_size):
        yb = y[i:i + batch_size].to(device) if y is not None else None
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda"):
            out.append(g(z[i:i + batch_size].to(device), yb).float().cpu())
    nrow = per_row or math.isqrt(n - 1) + 1  # a row per label, else ceil(sqrt(n)): a square grid
    return torch.cat(out), y, nrow


def slerp(a: Tensor, b: Tensor, t: Tensor) -> Tensor:
    """Spherical interpolation between rows of ``a`` and ``b`` at fractions ``t`` (Gaussian latents)."""
    an, bn = a / a.norm(dim=-1, keepdim=True), b / b.norm(dim=-1, keepdim=True)
    omega = torch.acos((an * bn).sum(-1, keepdim=True).clamp(-1 + 1e-7, 1 - 1e-7))
    so = torch.sin(omega)
    return (torch.sin((1 - t) * omega) / so) * a + (torch.sin(t * omega) / so) * b


@torch.inference_mode()
def latent_walk(
    g: Generator, rows: int = 8, steps: int = 10, *, seed: int = 0, labels: list[int] | None = None,
    device: torch.device | str | None = None,
) -> tuple[Tensor, Tensor | None, int]:
    """``rows`` latent walks of ``steps`` samples each, between two random codes per row.

    Returns ``(samples, labels or None, steps)``; a conditional model keeps one label
    per row (cycling through ``labels``), so only the style changes along a row.
    """
    if rows < 1 or steps < 2:
        raise ConfigError(f"a latent walk needs rows >= 1 and steps >= 2, got {rows} and {steps}")
    check_sample_count(g, rows * steps)
    check_seed(seed)
    device = torch.device(device) if device is not None else g._device()
    rng = torch.Generator(device="cpu").manual_seed(seed)
    a, b = torch.randn(rows, g.latent_dim, generator=rng), torch.randn(rows, g.latent_dim, generator=rng)
    t = torch.linspace(0, 1, steps).view(1, steps, 1)
    z = slerp(a[:, None], b[:, None], t).reshape(rows * steps, g.latent_dim)
    y_rows = _cycled_labels(g, rows, labels)
    y = y_rows.repeat_interleave(steps) if y_rows is not None else None
    with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda"):
        x = g(z.to(device), y.to(device) if y is not None else None).float().cpu()
    return x, y, steps

"""What every check shares: how a check runs and reports (``_check``), and its inputs."""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Callable, Iterator
from typing import Any

import torch
from torch import Tensor, nn

from ganzoo.interfaces import GAN, Discriminator, GANLoss, takes_real_batch
from ganzoo.testing.report import ConformanceError

_BATCH = 4  # > 1, so BatchNorm in train mode has statistics to compute
_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


class _Failed(Exception):
    """Raised inside a check; the decorator turns it into a ConformanceError with context."""


def _require(condition: Any, message: str) -> None:
    if not condition:
        raise _Failed(message)


def _who(gan: GAN) -> str:
    return f"model {gan.name!r} (data_shape={gan.config.get('data_shape')})"


def _check(fn: Callable[[GAN], str | None]) -> Callable[[GAN], str | None]:
    @functools.wraps(fn)
    def run(gan: GAN) -> str | None:
        try:
            with _preserved(gan):
                return fn(gan)
        except ConformanceError:
            raise
        except _Failed as exc:
            raise ConformanceError(f"{_who(gan)} failed {fn.__name__}: {exc}") from None
        except Exception as exc:
            raise ConformanceError(
                f"{_who(gan)} failed {fn.__name__}: it raised {type(exc).__name__}: {exc}"
            ) from exc

    return run


@contextlib.contextmanager
def _preserved(gan: GAN) -> Iterator[None]:
    """Restore weights, buffers and train/eval modes of both networks afterwards."""
    nets = [gan.generator, gan.discriminator]
    states = [{k: v.detach().clone() for k, v in net.state_dict().items()} for net in nets]
    modes = [[m.training for m in net.modules()] for net in nets]
    try:
        yield
    finally:
        for net, state, mode in zip(nets, states, modes):
            net.load_state_dict(state)
            for m, training in zip(net.modules(), mode):
                m.training = training


def _device(module: nn.Module) -> torch.device:
    for p in module.parameters():
        return p.device
    for b in module.buffers():
        return b.device
    return torch.device("cpu")


def _rng(device: torch.device, seed: int) -> torch.Generator:
    return torch.Generator(device=device).manual_seed(seed)


def _inputs(gan: GAN, n: int = _BATCH, seed: int = 0) -> tuple[Tensor, Tensor | None, Tensor]:
    """Noise, labels (``None`` when unconditional) and stand-in real data for ``n`` samples."""
    g = gan.generator
    device = _device(g)
    rng = _rng(device, seed)
    z = torch.randn(n, g.latent_dim, generator=rng, device=device)
    y = None
    if g.num_classes is not None:
        y = torch.arange(n, device=device) % g.num_classes
    if len(g.output_shape) == 3:
        real = torch.rand(n, *g.output_shape, generator=rng, device=device) * 2 - 1
    else:
        real = torch.randn(n, *g.output_shape, generator=rng, device=device)
    return z, y, real


def _same(a: Tensor, b: Tensor) -> bool:
    if a.device.type == "cpu":
        return torch.equal(a, b)
    return a.shape == b.shape and torch.allclose(a, b, rtol=1e-5, atol=1e-6)


def _raises(fn: Callable[[], Any], exc_type: type[BaseException] = Exception) -> bool:
    try:
        fn()
    except exc_type:
        return True
    return False


def _trainable(module: nn.Module) -> list[tuple[str, nn.Parameter]]:
    return [(name, p) for name, p in module.named_parameters() if p.requires_grad]


def _grads(loss: Tensor, params: list[tuple[str, nn.Parameter]]) -> list[tuple[str, Tensor | None]]:
    grads = torch.autograd.grad(loss, [p for _, p in params], allow_unused=True, retain_graph=True)
    return [(name, g) for (name, _), g in zip(params, grads)]


def _names(names: list[str]) -> str:
    shown = ", ".join(names[:5])
    return shown + (f" and {len(names) - 5} more" if len(names) > 5 else "")



def _generator_loss(loss: GANLoss, d: Discriminator, fake: Tensor, y: Tensor | None, real: Tensor) -> Any:
    """Call ``generator_loss`` as the engine does: with the real batch when it takes it."""
    if takes_real_batch(loss):
        return loss.generator_loss(d, fake, y, real=real)
    return loss.generator_loss(d, fake, y)



def _require_finite_logs(label: str, logs: Any) -> None:
    _require(
        isinstance(logs, dict),
        f"{label} must return (loss, logs) with a dict of logs, got {type(logs).__name__}",
    )
    for key, value in logs.items():
        _require(
            isinstance(value, Tensor) and value.dim() == 0,
            f"{label} log {key!r} is not a scalar tensor",
        )
        _require(not value.requires_grad, f"{label} log {key!r} is not detached")
        _require(bool(torch.isfinite(value)), f"{label} log {key!r} is {float(value)}")

"""The loss check: :func:`check_loss`."""

from __future__ import annotations

import json
from typing import Any

import torch
from torch import Tensor

from ganzoo.errors import IncompatibleLossError
from ganzoo.factory import create, create_loss
from ganzoo.interfaces import FAKE_LABELS, GAN, REAL_BATCH, takes_fake_labels, takes_real_batch
from ganzoo.registry import list_losses, list_models
from ganzoo.testing._helpers import (
    _Failed,
    _generator_loss,
    _grads,
    _inputs,
    _preserved,
    _require,
    _require_finite_logs,
    _trainable,
)
from ganzoo.testing.report import ConformanceError


def check_loss(name: str, *, models: list[str] | tuple[str, ...] | None = None, **loss_kwargs: Any) -> list[str]:
    """Check the registered loss ``name``: its settings, its config round trip, and a training
    step's forward and backward on every model that offers what it needs.

    Args:
        name: a registered loss name.
        models: the models to try it on (default: every registered model). Models that
            do not offer what the loss needs are skipped; at least one must fit.
        **loss_kwargs: constructor arguments for the loss.

    Returns:
        The models it was checked on.

    Raises:
        ConformanceError: naming the loss, the model and the problem.

    Example:
        >>> from ganzoo.testing import check_loss
        >>> check_loss("hinge", models=["vanilla"])
        ['vanilla']
    """
    who = f"loss {name!r}"
    if name not in list_losses():
        create_loss(name)  # the unknown-name error, with suggestions
    try:
        loss = create_loss(name, **loss_kwargs)
    except Exception as exc:
        raise ConformanceError(f"{who} failed to build with {loss_kwargs or 'its defaults'}: "
                               f"{type(exc).__name__}: {exc}") from exc
    try:
        config = loss.config()
        json.dumps(config)
    except Exception as exc:
        raise ConformanceError(f"{who}: config() must return JSON values (the run records them): {exc}") from exc
    again = create_loss(name, **config).config()
    if again != config:
        raise ConformanceError(f"{who}: rebuilt from its config() {config} it reports {again}; "
                               "config() must return the constructor's arguments")
    if not (isinstance(loss.n_critic, int) and loss.n_critic >= 1):
        raise ConformanceError(f"{who}: n_critic must be an int >= 1, got {loss.n_critic!r}")
    if loss.output not in ("logit", "score"):
        raise ConformanceError(f"{who}: output must be 'logit' or 'score', got {loss.output!r}")
    if getattr(loss, "fake_labels", "real") not in FAKE_LABELS:
        raise ConformanceError(f"{who}: fake_labels must be one of {FAKE_LABELS}, got {loss.fake_labels!r}")
    if loss.fake_labels == "uniform" and not takes_fake_labels(loss):
        raise ConformanceError(f"{who}: fake_labels='uniform' but discriminator_loss takes no fake_y; add fake_y=None")
    if not all(isinstance(n, str) for n in loss.needs):
        raise ConformanceError(f"{who}: needs must be capability names (strings), got {loss.needs!r}")
    if REAL_BATCH in loss.needs and not takes_real_batch(loss):
        raise ConformanceError(f"{who} needs 'real-batch' but its generator_loss takes no real= argument")
    checked: list[str] = []
    for model in models if models is not None else list_models():
        try:
            gan = create(model, loss=name, loss_kwargs=loss_kwargs)
        except IncompatibleLossError:
            continue
        _check_loss_on(gan, who)
        checked.append(model)
    if not checked:
        raise ConformanceError(f"{who} fits none of the models {list(models or list_models())}: check its needs")
    return checked


def _check_loss_on(gan: GAN, who: str) -> None:
    loss, g, d = gan.loss, gan.generator, gan.discriminator
    where = f"{who} on model {gan.name!r}"
    with _preserved(gan):
        g.train()
        d.train()
        z, y, real = _inputs(gan)
        extra = {}
        if y is not None and getattr(loss, "fake_labels", "real") == "uniform":  # the fakes get labels of their own
            extra["fake_y"] = y.flip(0)
        fake = g(z, extra.get("fake_y", y))
        try:
            d_loss, d_logs = loss.discriminator_loss(d, real, fake.detach(), y, **extra)
            g_loss, g_logs = _generator_loss(loss, d, fake, extra.get("fake_y", y), real)
        except Exception as exc:
            raise ConformanceError(f"{where}: it raised {type(exc).__name__}: {exc}") from exc
        for part, value, logs, net, key in (("discriminator", d_loss, d_logs, d, "loss_d"),
                                            ("generator", g_loss, g_logs, g, "loss_g")):
            label = f"{where}: {part}_loss"
            try:
                _require(isinstance(value, Tensor) and value.dim() == 0, f"{label} is not a scalar tensor")
                _require(bool(torch.isfinite(value)), f"{label} is {float(value.detach())}")
                _require_finite_logs(label, logs)
                _require(key in logs, f"{label} must log {key!r} (the engine watches it for NaN)")
                grads = [gr for _, gr in _grads(value, _trainable(net)) if gr is not None]
                _require(grads and any(bool(gr.ne(0).any()) for gr in grads),
                         f"{label} gives the {part} no gradient")
                _require(all(bool(torch.isfinite(gr).all()) for gr in grads), f"{label} gives non-finite gradients")
            except _Failed as exc:
                raise ConformanceError(str(exc)) from None
        if REAL_BATCH in loss.needs:
            d.eval()  # no dropout noise: the only change is the real batch
            with torch.no_grad():
                other = _generator_loss(loss, d, fake.detach(), y, real.flip(0) * 0.5 + 0.25)[0]
                same = _generator_loss(loss, d, fake.detach(), y, real)[0]
            if bool(torch.equal(other, same)):
                raise ConformanceError(f"{where}: it needs 'real-batch' but its generator loss ignores the real batch")

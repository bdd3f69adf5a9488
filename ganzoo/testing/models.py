"""The model checks (:data:`CHECKS`) and :func:`check_model`, which runs them all on a model."""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Callable
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor

from ganzoo.errors import GanzooError
from ganzoo.factory import check_loss as registry_check_loss
from ganzoo.factory import create, create_loss
from ganzoo.interfaces import GAN, Discriminator, GANLoss, Generator, d_takes_labels
from ganzoo.registry import get_spec, list_losses
from ganzoo.testing._helpers import (
    _BATCH,
    _NAME,
    _check,
    _device,
    _Failed,
    _generator_loss,
    _grads,
    _inputs,
    _names,
    _raises,
    _require,
    _require_finite_logs,
    _rng,
    _same,
    _trainable,
)
from ganzoo.testing.report import ConformanceError, ConformanceReport


@_check
def check_interface(gan: GAN) -> None:
    """The spec, the networks and the resolved config agree with each other.

    Checks the model id (lowercase with hyphens), the required defaults
    (``data_shape``, ``latent_dim``, ``num_classes``), the networks' types and
    attributes against the config, float32 parameters, and that the default
    and declared losses are registered.

    Example:
        >>> import ganzoo
        >>> from ganzoo.testing import check_interface
        >>> check_interface(ganzoo.create("dcgan"))
    """
    spec, g, d, cfg = gan.spec, gan.generator, gan.discriminator, gan.config
    _require(_NAME.fullmatch(spec.name), f"model ids are lowercase with hyphens, got {spec.name!r}")
    missing = [k for k in ("data_shape", "latent_dim", "num_classes") if k not in spec.defaults]
    _require(not missing, f"spec.defaults lacks {', '.join(missing)} (every model declares them)")
    _require(
        isinstance(g, Generator), f"the generator is a {type(g).__name__}, not a ganzoo.Generator"
    )
    _require(
        isinstance(d, Discriminator),
        f"the discriminator is a {type(d).__name__}, not a ganzoo.Discriminator",
    )
    shape = tuple(cfg["data_shape"])
    _require(
        g.latent_dim == cfg["latent_dim"],
        f"generator.latent_dim is {g.latent_dim}, config says {cfg['latent_dim']}",
    )
    _require(
        tuple(g.output_shape) == shape,
        f"generator.output_shape is {tuple(g.output_shape)}, config data_shape is {shape}",
    )
    _require(
        tuple(d.input_shape) == shape,
        f"discriminator.input_shape is {tuple(d.input_shape)}, config data_shape is {shape}",
    )
    _require(
        g.num_classes == cfg["num_classes"],
        f"generator.num_classes is {g.num_classes}, config num_classes is {cfg['num_classes']}",
    )
    for part, net in (("generator", g), ("discriminator", d)):
        wrong = [
            n
            for n, t in [*net.named_parameters(), *net.named_buffers()]
            if t.is_floating_point() and t.dtype != torch.float32
        ]
        _require(not wrong, f"{part} tensors are not float32 as built: {_names(wrong)}")
    known = set(list_losses())
    _require(
        spec.train.loss in spec.compatible_losses,
        f"the default loss {spec.train.loss!r} is not among compatible_losses {spec.compatible_losses}",
    )
    unknown = [name for name in spec.compatible_losses if name not in known]
    _require(not unknown, f"compatible_losses names unregistered losses: {_names(unknown)}")


@_check
def check_output_shape(gan: GAN) -> None:
    """The generator returns float32 ``(n, *output_shape)``, in eval and train mode, for n = 1 too.

    Example:
        >>> import ganzoo
        >>> from ganzoo.testing import check_output_shape
        >>> check_output_shape(ganzoo.create("dcgan", data_shape=(3, 32, 32)))
    """
    g = gan.generator
    g.eval()
    rng = _rng(_device(g), 0)
    for n in (1, 3):
        out = g.sample(n, generator=rng)
        _require(
            tuple(out.shape) == (n, *g.output_shape),
            f"sample({n}) has shape {tuple(out.shape)}, expected {(n, *g.output_shape)}",
        )
        _require(
            out.dtype == torch.float32, f"sample({n}) has dtype {out.dtype}, expected torch.float32"
        )
    g.train()
    z, y, _ = _inputs(gan)
    out = g(z, y)
    _require(
        tuple(out.shape) == (_BATCH, *g.output_shape),
        f"forward in train mode gives shape {tuple(out.shape)}, expected {(_BATCH, *g.output_shape)}",
    )
    _require(
        out.dtype == torch.float32,
        f"forward in train mode gives dtype {out.dtype}, expected torch.float32",
    )


@_check
def check_image_range(gan: GAN) -> str | None:
    """Image generators (``len(output_shape) == 3``) output values in [-1, 1], even for large z.

    Models of points (``output_shape == (D,)``) pass without checks: they
    return raw coordinates.

    Example:
        >>> import ganzoo
        >>> from ganzoo.testing import check_image_range
        >>> check_image_range(ganzoo.create("dcgan"))
    """
    g = gan.generator
    if len(g.output_shape) != 3:
        return "not applicable: the model makes points, not images"
    g.eval()
    z, y, _ = _inputs(gan, n=8)
    with torch.no_grad():
        # Large noise drives an unbounded output layer out of range; a Tanh stays inside.
        for scale in (1.0, 50.0):
            out = g(z * scale, y)
            lo, hi = float(out.min()), float(out.max())
            _require(
                -1.0 <= lo and hi <= 1.0,
                f"images must lie in [-1, 1] (end G with a Tanh); got values from {lo:.4g} to {hi:.4g} "
                f"for z scaled by {scale:g}",
            )


@_check
def check_discriminator_output(gan: GAN) -> None:
    """The discriminator returns finite float32 scores of shape ``(N,)``, for N = 1 too.

    Scores are raw logits or critic values: ganzoo's losses apply the
    sigmoid themselves (in log-space), so D must not.

    Example:
        >>> import ganzoo
        >>> from ganzoo.testing import check_discriminator_output
        >>> check_discriminator_output(ganzoo.create("dcgan"))
    """
    g, d = gan.generator, gan.discriminator
    z, y, real = _inputs(gan)
    d.train()
    g.eval()
    with torch.no_grad():
        fake = g(z, y)
    for what, x in (("real data", real), ("generated samples", fake)):
        out = d(x, y)
        _require(
            isinstance(out, Tensor) and tuple(out.shape) == (_BATCH,),
            f"D on a batch of {_BATCH} {what} must return shape ({_BATCH},), got "
            f"{tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__}",
        )
        _require(out.dtype == torch.float32, f"D returns dtype {out.dtype}, expected torch.float32")
        _require(
            bool(torch.isfinite(out).all()),
            f"D returns non-finite scores on {what}: {out.tolist()}",
        )
    _require(
        d(real, y).requires_grad,
        "D's output does not require grad in train mode (detached inside?)",
    )
    if tuple(getattr(d, "extras", ()) or ()):
        _check_extras(d, real, y)
    d.eval()
    with torch.no_grad():
        out = d(real[:1], None if y is None else y[:1])
    _require(
        tuple(out.shape) == (1,),
        f"D on a batch of one must return shape (1,), got {tuple(out.shape)}",
    )


@_check
def check_determinism(gan: GAN) -> None:
    """In eval mode, the same ``torch.Generator`` seed gives identical samples; other seeds differ.

    The global RNG is set differently before each draw (and restored
    afterwards), so a generator that draws hidden noise from it fails.

    Example:
        >>> import ganzoo
        >>> from ganzoo.testing import check_determinism
        >>> check_determinism(ganzoo.create("dcgan"))
    """
    g = gan.generator
    g.eval()
    device = _device(g)
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(1)
        a = g.sample(_BATCH, generator=_rng(device, 1234))
        torch.manual_seed(2)
        b = g.sample(_BATCH, generator=_rng(device, 1234))
        c = g.sample(_BATCH, generator=_rng(device, 4321))
    _require(
        _same(a, b),
        "the same generator seed gave different samples in eval mode: all randomness must come "
        "from the torch.Generator passed to sample() (no global RNG, no dropout in eval mode)",
    )
    _require(
        not _same(a, c), "different seeds gave identical samples: the generator ignores its noise z"
    )


@_check
def check_gradients(gan: GAN) -> None:
    """Every trainable parameter gets a non-zero gradient from its network's loss.

    ``generator_loss`` must reach all of G's parameters through D; and
    ``discriminator_loss`` all of D's. Uses ``torch.autograd.grad``, so the
    parameters' ``.grad`` stay untouched.

    Example:
        >>> import ganzoo
        >>> from ganzoo.testing import check_gradients
        >>> check_gradients(ganzoo.create("dcgan"))
    """
    g, d, loss = gan.generator, gan.discriminator, gan.loss
    g.train()
    d.train()
    z, y, real = _inputs(gan)
    fake = g(z, y)
    for part, net, make in (
        ("generator", g, lambda: _generator_loss(loss, d, fake, y, real)[0]),
        ("discriminator", d, lambda: loss.discriminator_loss(d, real, fake.detach(), y)[0]),
    ):
        value = make()
        _require(
            value.requires_grad,
            f"{part}_loss of {loss!r} does not depend on the {part}'s parameters",
        )
        params = _trainable(net)
        _require(params, f"the {part} has no trainable parameters")
        grads = _grads(value, params)
        none = [n for n, gr in grads if gr is None]
        _require(not none, f"{part} parameters get no gradient from {part}_loss: {_names(none)}")
        # Biases are exempt: balanced losses (hinge at initialisation) give them exactly zero.
        zero = [n for n, gr in grads if not n.endswith("bias") and not bool(gr.ne(0).any())]
        _require(
            not zero, f"{part} parameters get an all-zero gradient from {part}_loss: {_names(zero)}"
        )



def _losses_to_try(gan: GAN) -> list[tuple[str, GANLoss]]:
    losses = [(gan.loss_name or gan.loss.name, gan.loss)]
    losses += [
        (name, create_loss(name)) for name in gan.spec.compatible_losses if name != losses[0][0]
    ]
    return losses



@_check
def check_losses_finite(gan: GAN) -> None:
    """Forward and backward of both losses are finite, for the model's loss and every declared one.

    Each loss in ``spec.compatible_losses`` must also accept the model
    (``GANLoss.check_compatible``), and return a scalar loss and detached
    scalar logs.

    Example:
        >>> import ganzoo
        >>> from ganzoo.testing import check_losses_finite
        >>> check_losses_finite(ganzoo.create("wgan-gp"))
    """
    g, d = gan.generator, gan.discriminator
    g.train()
    d.train()
    z, y, real = _inputs(gan)
    for name, loss in _losses_to_try(gan):
        loss.name = name
        try:
            registry_check_loss(dataclasses.replace(gan, loss=loss, loss_name=name))
        except GanzooError as exc:
            raise _Failed(f"it declares loss {name!r}, which refuses it: {exc}") from None
        fake = g(z, y)
        d_loss, d_logs = loss.discriminator_loss(d, real, fake.detach(), y)
        g_loss, g_logs = _generator_loss(loss, d, fake, y, real)
        for part, value, logs, net in (
            ("discriminator", d_loss, d_logs, d),
            ("generator", g_loss, g_logs, g),
        ):
            label = f"loss {name!r}: {part}_loss"
            _require(
                isinstance(value, Tensor) and value.dim() == 0, f"{label} is not a scalar tensor"
            )
            _require(bool(torch.isfinite(value)), f"{label} is {float(value.detach())}")
            _require_finite_logs(label, logs)
            bad = [
                n
                for n, gr in _grads(value, _trainable(net))
                if gr is not None and not bool(torch.isfinite(gr).all())
            ]
            _require(not bad, f"{label} gives non-finite gradients to {_names(bad)}")


@_check
def check_safetensors_roundtrip(gan: GAN) -> None:
    """State dicts saved with safetensors load into a model rebuilt from ``gan.config``, same outputs.

    Catches settings missing from the config, tensors safetensors cannot
    store (shared or non-contiguous) and state kept outside the state dict.

    Example:
        >>> import ganzoo
        >>> from ganzoo.testing import check_safetensors_roundtrip
        >>> check_safetensors_roundtrip(ganzoo.create("dcgan"))
    """
    device = _device(gan.generator)
    fresh = create(gan.name, **gan.config).to(device)
    z, y, real = _inputs(gan)
    with tempfile.TemporaryDirectory() as tmp:
        for part in ("generator", "discriminator"):
            path = os.path.join(tmp, f"{part}.safetensors")
            save_file(getattr(gan, part).state_dict(), path)
            state = load_file(path, device=str(device))
            getattr(fresh, part).load_state_dict(state, strict=True)
    for net in (gan.generator, gan.discriminator, fresh.generator, fresh.discriminator):
        net.eval()
    with torch.no_grad():
        _require(
            _same(gan.generator(z, y), fresh.generator(z, y)),
            "the rebuilt generator gives different samples after loading the saved state dict",
        )
        _require(
            _same(gan.discriminator(real, y), fresh.discriminator(real, y)),
            "the rebuilt discriminator gives different scores after loading the saved state dict",
        )


@_check
def check_conditioning(gan: GAN) -> None:
    """Conditional models use their labels; unconditional ones refuse labels.

    Conditional (``generator.num_classes`` set): other labels with the same z
    give other samples (and other scores, for a D that takes labels: see
    :attr:`ganzoo.Discriminator.takes_labels`; an auxiliary-classifier D must score
    without them); ``y=None`` in ``forward`` raises; out-of-range labels in ``sample()`` raise
    ``ValueError``. Unconditional: ``sample(n, y=...)`` raises ``ValueError``.

    Example:
        >>> import ganzoo
        >>> from ganzoo.testing import check_conditioning
        >>> check_conditioning(ganzoo.create("cgan"))
    """
    g, d = gan.generator, gan.discriminator
    g.eval()
    d.eval()
    device = _device(g)
    z, y, real = _inputs(gan)
    if g.num_classes is None:
        _require(
            _raises(lambda: g.sample(2, y=0), ValueError),
            "an unconditional generator's sample() must raise ValueError when given labels",
        )
        return
    k = g.num_classes
    _require(
        isinstance(k, int) and k >= 2, f"a conditional generator needs num_classes >= 2, got {k!r}"
    )
    other = (y + 1) % k
    with torch.no_grad():
        a, b = g(z, y), g(z, other)
        differs = (a - b).flatten(1).abs().amax(dim=1) > 0
        _require(
            bool(differs.all()),
            "the generator ignores its labels: other labels, same z, same samples",
        )
        _require(
            _raises(lambda: g(z, None)),
            "a conditional generator's forward must raise when y is None",
        )
        if d_takes_labels(d):
            _require(
                not _same(d(real, y), d(real, other)),
                "the conditional discriminator ignores its labels: other labels, same scores (an auxiliary-"
                "classifier D that predicts labels instead sets takes_labels = False)",
            )
            _require(
                _raises(lambda: d(real, None)),
                "a conditional discriminator's forward must raise when y is None",
            )
        elif d.num_classes is not None:  # a classifier-head D (AC-GAN): it scores without labels
            out = d(real, None)
            _require(
                tuple(out.shape) == (real.shape[0],) and bool(torch.isfinite(out).all()),
                f"a classifier-head discriminator (takes_labels = False) must score without labels: one finite "
                f"score per sample, got shape {tuple(out.shape)}",
            )
    for bad in ([0, k], -1):
        _require(
            _raises(lambda bad=bad: g.sample(2, y=bad), ValueError),
            f"sample(2, y={bad!r}) must raise ValueError: labels run from 0 to {k - 1}",
        )
    s0 = g.sample(2, y=0, generator=_rng(device, 7))
    s1 = g.sample(2, y=1, generator=_rng(device, 7))
    _require(not _same(s0, s1), "sample(n, y=...) ignores y: labels 0 and 1 gave the same samples")


def _check_extras(d: Discriminator, real: Tensor, y: Tensor | None) -> None:
    """A D that lists extras returns ``(scores, {name: tensor})`` for ``return_extras=True``, batch first."""
    from ganzoo.interfaces import scores_and_extras

    try:
        scores, extras = scores_and_extras(d, real, y)
    except Exception as exc:  # noqa: BLE001
        raise _Failed(f"D lists extras {tuple(d.extras)}: forward(x, y, return_extras=True) failed: "
                      f"{type(exc).__name__}: {exc}") from None
    _require(isinstance(scores, Tensor) and tuple(scores.shape) == (len(real),),
             f"forward(x, y, return_extras=True) must return the scores of shape ({len(real)},) first")
    for name, t in extras.items():
        _require(isinstance(t, Tensor) and t.dim() >= 1 and t.shape[0] == len(real),
                 f"extra output {name!r} must be a tensor with the batch ({len(real)}) first")


CHECKS: tuple[Callable[[GAN], str | None], ...] = (
    check_interface,
    check_output_shape,
    check_image_range,
    check_discriminator_output,
    check_determinism,
    check_gradients,
    check_losses_finite,
    check_safetensors_roundtrip,
    check_conditioning,
)
"""Every check, in the order :func:`check_model` runs them."""


def check_model(name: str, **overrides: Any) -> ConformanceReport:
    """Build model ``name`` with ``overrides`` and run every check in :data:`CHECKS` on it.

    Args:
        name: a registered model name.
        **overrides: settings passed to :func:`ganzoo.create`, e.g.
            ``data_shape=(3, 32, 32)`` or ``loss="hinge"``.

    Returns:
        A :class:`~ganzoo.testing.ConformanceReport` naming each check and its outcome; print it for a summary.

    Raises:
        ConformanceError: (an ``AssertionError``) at the first failed check,
            naming the model, the check and the problem.
        UnknownNameError: ``name`` is not registered.

    Example:
        >>> from ganzoo.testing import check_model
        >>> report = check_model("dcgan", data_shape=(3, 32, 32))
        >>> len(report.passed)
        9
        >>> print(report)  # doctest: +ELLIPSIS
        dcgan (data_shape=(3, 32, 32)) passes the conformance kit: 9 of 9 checks passed
          check_interface              passed
        ...
    """
    get_spec(name)  # an unknown name is the caller's mistake, not a failed check
    try:
        gan = create(name, **overrides)
    except Exception as exc:
        raise ConformanceError(
            f"model {name!r} failed to build with {overrides or 'its defaults'}: {type(exc).__name__}: {exc}"
        ) from exc
    report = ConformanceReport(name, dict(overrides))
    for check in CHECKS:
        note = check(gan)
        report.results.append((check.__name__, note or "passed"))
    return report

"""A conformance kit: the checks every registered model must pass.

Plugin authors run it on their own models; ganzoo's test suite runs it on every
model in the registry. :func:`check_model` builds a model and runs all checks;
each check is also a public function taking a :class:`ganzoo.GAN`, so pytest
can parametrise over them and report each one separately. A failed check
raises :class:`ConformanceError` (an ``AssertionError``) naming the model, the
check and what was wrong.

The checks use small batches and run on the model's device (CPU for a model
fresh from :func:`ganzoo.create`). They leave the model as they found it:
weights, BatchNorm statistics and train/eval modes are restored, and
parameters' ``.grad`` is not touched.

Example:
    In a plugin's test suite::

        import ganzoo
        import pytest
        from ganzoo.testing import CHECKS, check_model

        def test_mygan_conforms():
            check_model("mygan")

        @pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
        def test_mygan_at_32(check):
            check(ganzoo.create("mygan", data_shape=(3, 32, 32)))
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from ganzoo.errors import GanzooError, IncompatibleLossError
from ganzoo.factory import check_loss as registry_check_loss
from ganzoo.factory import create, create_loss
from ganzoo.interfaces import GAN, REAL_BATCH, Discriminator, GANLoss, Generator, takes_real_batch
from ganzoo.registry import get_spec, list_losses, list_models

__all__ = [
    "CHECKS",
    "ConformanceError",
    "ConformanceReport",
    "check_conditioning",
    "check_dataset",
    "check_determinism",
    "check_discriminator_output",
    "check_gradients",
    "check_image_range",
    "check_interface",
    "check_loss",
    "check_losses_finite",
    "check_model",
    "check_output_shape",
    "check_safetensors_roundtrip",
]

_BATCH = 4  # > 1, so BatchNorm in train mode has statistics to compute
_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


class ConformanceError(AssertionError):
    """A model broke the ganzoo model contract; the message names the model and the check."""


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


def _generator_loss(loss: GANLoss, d: Discriminator, fake: Tensor, y: Tensor | None, real: Tensor) -> Any:
    """Call ``generator_loss`` as the engine does: with the real batch when it takes it."""
    if takes_real_batch(loss):
        return loss.generator_loss(d, fake, y, real=real)
    return loss.generator_loss(d, fake, y)


def _losses_to_try(gan: GAN) -> list[tuple[str, GANLoss]]:
    losses = [(gan.loss_name or gan.loss.name, gan.loss)]
    losses += [
        (name, create_loss(name)) for name in gan.spec.compatible_losses if name != losses[0][0]
    ]
    return losses


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
    give other samples (and other scores, for a conditional D); ``y=None`` in
    ``forward`` raises; out-of-range labels in ``sample()`` raise
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
        if d.num_classes is not None:
            _require(
                not _same(d(real, y), d(real, other)),
                "the conditional discriminator ignores its labels: other labels, same scores",
            )
            _require(
                _raises(lambda: d(real, None)),
                "a conditional discriminator's forward must raise when y is None",
            )
    for bad in ([0, k], -1):
        _require(
            _raises(lambda bad=bad: g.sample(2, y=bad), ValueError),
            f"sample(2, y={bad!r}) must raise ValueError: labels run from 0 to {k - 1}",
        )
    s0 = g.sample(2, y=0, generator=_rng(device, 7))
    s1 = g.sample(2, y=1, generator=_rng(device, 7))
    _require(not _same(s0, s1), "sample(n, y=...) ignores y: labels 0 and 1 gave the same samples")


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


@dataclass
class ConformanceReport:
    """What :func:`check_model` ran: one ``(check, outcome)`` pair per check, in order.

    ``outcome`` is ``"passed"``, or ``"not applicable: ..."`` for a check that does not concern
    this kind of model (image range for a model of points). ``str(report)`` is a summary.
    """

    model: str
    overrides: dict[str, Any] = field(default_factory=dict)
    results: list[tuple[str, str]] = field(default_factory=list)

    @property
    def passed(self) -> list[str]:
        """Names of the checks that ran and passed."""
        return [name for name, outcome in self.results if outcome == "passed"]

    def __str__(self) -> str:
        settings = ", ".join(f"{k}={v!r}" for k, v in self.overrides.items())
        head = (f"{self.model}{f' ({settings})' if settings else ''} passes the conformance kit: "
                f"{len(self.passed)} of {len(self.results)} checks passed"
                f"{f', {len(self.results) - len(self.passed)} not applicable' if len(self.passed) < len(self.results) else ''}")
        return "\n".join([head] + [f"  {name:<28} {outcome}" for name, outcome in self.results])


def check_model(name: str, **overrides: Any) -> ConformanceReport:
    """Build model ``name`` with ``overrides`` and run every check in :data:`CHECKS` on it.

    Args:
        name: a registered model name.
        **overrides: settings passed to :func:`ganzoo.create`, e.g.
            ``data_shape=(3, 32, 32)`` or ``loss="hinge"``.

    Returns:
        A :class:`ConformanceReport` naming each check and its outcome; print it for a summary.

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


# --------------------------------------------------------------------------- losses and datasets


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
        fake = g(z, y)
        try:
            d_loss, d_logs = loss.discriminator_loss(d, real, fake.detach(), y)
            g_loss, g_logs = _generator_loss(loss, d, fake, y, real)
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


def check_dataset(name: str, data_dir: str | os.PathLike | None = None, *, split: str = "train",
                  download: bool = False) -> Any:
    """Load the registered dataset ``name`` and check it against its :class:`~ganzoo.data.DatasetSpec`.

    Checks the name, the declared kind and shape, the tensors' dtypes and shapes (``uint8
    (N, C, H, W)`` images or ``float32 (N, D)`` points), labels in ``[0, num_classes)``,
    and that the model-range conversion gives [-1, 1] images.

    Args:
        name: a registered dataset name.
        data_dir: its root folder (default: ganzoo's data folder).
        split: the split to load.
        download: let the loader download (off by default: tests run offline).

    Returns:
        The loaded :class:`~ganzoo.data.TensorDataset`.

    Raises:
        ConformanceError: naming the dataset and the problem.

    Example:
        >>> from ganzoo.testing import check_dataset
        >>> check_dataset("ring8").shape
        (2,)
    """
    from ganzoo.data import TensorDataset, get_dataset_spec, load_dataset

    spec = get_dataset_spec(name)
    who = f"dataset {name!r}"
    try:
        _require(_NAME.fullmatch(spec.name), f"the name must be lowercase words joined by hyphens, got {spec.name!r}")
        kinds = spec.kinds
        _require(kinds and all(isinstance(k, str) and k for k in kinds), f"its kinds {kinds!r} are not names")
        images = "images" in kinds
        points = "points" in kinds
        _require(images or points or spec.kind, "it declares no kind")
        if spec.shape is not None:
            _require(len(spec.shape) in (1, 3), f"shape must be (C, H, W) or (D,), got {spec.shape}")
        try:
            ds = load_dataset(name, data_dir, split=split, download=download,
                              image_shape=None if spec.shape else (3, 32, 32))
        except GanzooError:
            raise
        except Exception as exc:
            raise _Failed(f"load() raised {type(exc).__name__}: {exc} (raise ganzoo.errors.DataError "
                          "with the fix for a missing or bad file)") from exc
        _require(isinstance(ds, TensorDataset), "load() must return a ganzoo.data.TensorDataset")
        _require(len(ds) > 0, "it is empty")
        if spec.shape is not None:
            _require(ds.shape == tuple(spec.shape), f"samples have shape {ds.shape}, the spec says {spec.shape}")
        if ds.kind == "image":
            _require(ds.data.dtype == torch.uint8 and ds.data.dim() == 4,
                     f"images must be uint8 (N, C, H, W), got {ds.data.dtype} {tuple(ds.data.shape)}")
            x = ds.to_model_range(ds.data[:16].clone())
            _require(float(x.min()) >= -1 and float(x.max()) <= 1, "images do not map to [-1, 1]")
        else:
            _require(ds.kind == "points", f"TensorDataset.kind must be 'image' or 'points', got {ds.kind!r}")
            _require(ds.data.dtype == torch.float32 and ds.data.dim() == 2,
                     f"points must be float32 (N, D), got {ds.data.dtype} {tuple(ds.data.shape)}")
            _require(bool(torch.isfinite(ds.data).all()), "points must be finite")
        _require((ds.kind == "image") == images,
                 f"it declares the kinds {kinds} but loads {'images' if ds.kind == 'image' else 'points'}")
        if ds.labels is not None:
            _require(ds.labels.dtype == torch.int64 and ds.labels.shape == (len(ds),),
                     f"labels must be int64 of shape ({len(ds)},), got {ds.labels.dtype} {tuple(ds.labels.shape)}")
            k = ds.num_classes or spec.num_classes
            _require(k is not None, "it has labels but no num_classes")
            _require(int(ds.labels.min()) >= 0 and int(ds.labels.max()) < k, f"labels fall outside [0, {k})")
        if spec.num_classes is not None:
            _require(ds.labels is not None, f"the spec says {spec.num_classes} classes but it loads no labels")
    except _Failed as exc:
        raise ConformanceError(f"{who}: {exc}") from None
    return ds

"""Building models and losses from the registry's specs: :func:`create`, :func:`create_loss`.

Also where a model's fit with a loss is decided (:func:`offered`, :func:`check_loss`) and where
a model's size is capped before it is allocated (:data:`ganzoo.limits.MAX_MODEL_BYTES`).
"""

from __future__ import annotations

import inspect
import itertools
import warnings
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from ganzoo import limits, registry
from ganzoo.errors import (
    ConfigError,
    GanzooError,
    IncompatibleLossError,
    PluginError,
    UnknownNameError,
)
from ganzoo.interfaces import GAN, Discriminator, GANLoss, Generator
from ganzoo.specs import (
    CAPABILITIES,
    LABELS,
    LOSS_CAPABILITIES,
    PER_SAMPLE_D,
    REAL_BATCH,
    ModelSpec,
    check_names,
    check_needs,
)


def model_bytes(modules: Iterable[nn.Module]) -> int:
    """Bytes of all parameters and buffers (persistent or not) of ``modules``, shared ones once."""
    seen: dict[int, int] = {}
    for module in modules:
        for t in itertools.chain(module.parameters(), module.buffers()):
            seen[id(t)] = t.numel() * t.element_size()
    return sum(seen.values())


def _check_size(name: str, spec: ModelSpec, config: dict[str, Any], overrides: dict[str, Any]) -> None:
    """Refuse settings whose model would exceed :data:`ganzoo.limits.MAX_MODEL_BYTES`, before allocating.

    The model is built once on the meta device (shapes only, no memory). A plugin that cannot
    build there is simply not pre-checked.
    """
    if torch.get_default_device().type == "meta":  # already a dry build (ganzoo.weights.build_on_meta)
        return
    try:
        with warnings.catch_warnings(), torch.device("meta"):
            warnings.simplefilter("ignore")
            modules = spec.build(**config)
        total = model_bytes(modules)
    except Exception:  # noqa: BLE001  (the real build below reports a bad setting)
        return
    if total > limits.MAX_MODEL_BYTES:
        given = ", ".join(f"{k}={v!r}" for k, v in overrides.items()) or "its defaults"
        raise ConfigError(
            f"model {name!r} with {given} would hold {total / 2**20:,.0f} MiB of parameters, more than the "
            f"{limits.MAX_MODEL_BYTES >> 20:,} MiB ganzoo builds and loads; choose smaller settings"
        )




def create_loss(name: str, **kwargs: Any) -> GANLoss:
    """Build the registered loss ``name`` with ``kwargs``.

    Example:
        >>> import ganzoo
        >>> ganzoo.create_loss("wgan-gp", gp_weight=10.0).n_critic
        5
    """
    reg = registry._get()
    if name not in reg.losses:
        raise UnknownNameError("loss", name, list(reg.losses), hint="`ganzoo losses` shows all")
    factory, plugin = reg.losses[name]
    try:
        loss = factory(**kwargs)
    except (TypeError, ValueError) as exc:  # an unknown argument, or a value out of range (--loss-arg)
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        raise ConfigError(f"loss {name!r} does not take {kwargs}: {first}; {_loss_settings(factory)}") from exc
    if not isinstance(loss, GANLoss):
        raise PluginError(f"loss {name!r} factory returned {type(loss).__name__}, not a GANLoss")
    try:
        check_needs(name, loss.needs)
        provided(loss, name)
    except PluginError as exc:
        reg.manager.mark_broken(plugin, exc)
        raise
    lost = sorted(set(kwargs) - set(loss.config()))
    if lost:
        raise PluginError(
            f"loss {name!r} (plugin {reg.manager.info(plugin).label!r}) was built with {', '.join(lost)} "
            f"but its config() omits them, so runs and bundles would lose them; build it from a "
            f"GANLoss subclass whose __init__ takes them (recorded automatically) or override config()"
        )
    loss.name = name
    return loss


def _loss_settings(factory: Any) -> str:
    """What a loss factory takes, for an error about its arguments (``--loss-arg``)."""
    try:
        params = [p for p in inspect.signature(factory).parameters.values()
                  if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    except (TypeError, ValueError):
        return "`ganzoo losses` lists the losses"
    if not params:
        return "it takes no settings"
    shown = ", ".join(p.name if p.default is p.empty else f"{p.name}={p.default!r}" for p in params)
    return f"its settings are: {shown} (on the command line: --loss-arg KEY=VALUE)"


def provided(loss: GANLoss, name: str | None = None) -> tuple[str, ...]:
    """What ``loss`` provides to models (its ``provides``, a tuple of names; ``()`` when it declares none).

    A model whose :attr:`ModelSpec.needs_from_loss` lists a capability trains only with losses
    that provide it (see :data:`ganzoo.specs.LOSS_CAPABILITIES`).

    Raises:
        PluginError: ``provides`` is not a tuple of names.

    Example:
        >>> import ganzoo
        >>> from ganzoo.factory import provided
        >>> provided(ganzoo.create_loss("hinge"))
        ()
    """
    value = getattr(loss, "provides", ())
    return check_names(f"loss {name or loss.name!r} has provides", value, tuple(LOSS_CAPABILITIES))


def create(
    name: str,
    *,
    loss: str | GANLoss | None = None,
    loss_kwargs: dict | None = None,
    allow_incompatible: bool = False,
    **overrides: Any,
) -> GAN:
    """Build a model's generator, discriminator and loss with its defaults.

    Args:
        name: a registered model name (``ganzoo.list_models()``).
        loss: a loss name or :class:`GANLoss`; defaults to the spec's.
        loss_kwargs: keyword arguments for the loss factory.
        allow_incompatible: build even when the loss needs something the model does not
            offer (a warning instead of :class:`IncompatibleLossError`): at your own risk.
        **overrides: constructor settings that replace the spec's defaults,
            e.g. ``data_shape=(3, 32, 32)`` or ``latent_dim=64``.

    Returns:
        A :class:`GAN` with ``.generator``, ``.discriminator``, ``.loss`` and ``.spec``.

    Raises:
        UnknownNameError: the model or loss name is unknown.
        IncompatibleLossError: the loss cannot train this model.
        ConfigError: a setting is wrong-typed or out of range, or the model would be larger
            than :data:`ganzoo.limits.MAX_MODEL_BYTES`.

    Example:
        >>> import ganzoo
        >>> gan = ganzoo.create("dcgan", data_shape=(3, 32, 32))
        >>> gan.generator.output_shape
        (3, 32, 32)
    """
    spec = registry.get_spec(name)
    config = spec.resolve_config(overrides)
    _check_size(name, spec, config, overrides)
    try:
        generator, discriminator = spec.build(**config)
    except GanzooError:
        raise
    except (TypeError, ValueError, OverflowError) as exc:
        # A wrong-typed or out-of-range setting (latent_dim="abc", dropout=5) fails deep in torch.
        given = ", ".join(f"{k}={v!r}" for k, v in overrides.items()) or "its defaults"
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        raise ConfigError(
            f"model {name!r} cannot be built with {given}: {type(exc).__name__}: {first}. "
            f"Check the values' types and ranges (`ganzoo info {name}` shows its defaults)"
        ) from exc
    if not isinstance(generator, Generator) or not isinstance(discriminator, Discriminator):
        raise PluginError(
            f"model {name!r} from plugin {spec.plugin!r} did not build a ganzoo Generator and "
            f"Discriminator (got {type(generator).__name__}, {type(discriminator).__name__})"
        )
    if isinstance(loss, GANLoss):
        loss_obj, loss_name = loss, loss.name
    else:
        loss_name = loss or spec.train.loss
        loss_obj = create_loss(loss_name, **(loss_kwargs or {}))
    gan = GAN(generator, discriminator, loss_obj, spec, config, loss_name)
    check_loss(gan, allow_incompatible=allow_incompatible)
    return gan


def offered(gan: GAN) -> dict[str, str]:
    """What ``gan`` offers to losses: ``{capability: ""}`` for each offered one, and for each
    of the standard capabilities it lacks, ``{capability: "why not"}``.

    The engine always offers ``"real-batch"``. A :class:`ModelSpec` with ``offers`` set
    is taken at its word; otherwise the networks are inspected: ``"per-sample-d"`` unless D
    has BatchNorm, ``"labels"`` when G and D are both class-conditional (both set
    ``num_classes``): the engine then hands each batch's labels to G, D and the loss.

    Example:
        >>> import ganzoo
        >>> from ganzoo.factory import offered
        >>> offered(ganzoo.create("wgan-gp"))["per-sample-d"]
        ''
        >>> offered(ganzoo.create("dcgan"))["per-sample-d"]
        'its discriminator has BatchNorm (features.3), which couples the samples of a batch'
    """
    result: dict[str, str] = {REAL_BATCH: ""}
    if gan.spec.offers is not None:
        for cap in CAPABILITIES:
            if cap != REAL_BATCH:
                result[cap] = "" if cap in gan.spec.offers else f"its ModelSpec's offers={gan.spec.offers} omits it"
        result.update({cap: "" for cap in gan.spec.offers})
        return result
    coupling = [n for n, m in gan.discriminator.named_modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    result[PER_SAMPLE_D] = (f"its discriminator has BatchNorm ({coupling[0]}), which couples the samples of a batch"
                            if coupling else "")
    result[LABELS] = _labels(gan)
    return result


def _labels(gan: GAN) -> str:
    """Why ``gan`` does not offer ``"labels"`` (``""`` when it does): G and D must both be class-conditional."""
    if gan.generator.num_classes is None:
        return "it is unconditional: its generator's num_classes is None"
    if getattr(gan.discriminator, "num_classes", None) is None:
        return ("its generator is conditional but its discriminator's num_classes is None, so D declares no use of "
                "the labels: set num_classes on a D that takes labels or has a class head")
    return ""


def check_loss(gan: GAN, *, allow_incompatible: bool = False) -> None:
    """Refuse a loss that needs what the model does not offer, or that the model refuses, with the reason.

    Compatibility is decided from both sides: the loss's ``needs`` against what the model
    offers (:func:`offered`); the model's :attr:`ModelSpec.accepts_losses` (when set) and
    :attr:`ModelSpec.needs_from_loss` against the loss's name and what it provides
    (:func:`provided`); then the loss's own :meth:`GANLoss.check_compatible`.

    Args:
        gan: the model with its loss.
        allow_incompatible: warn (``UserWarning``) instead of raising.

    Raises:
        IncompatibleLossError: naming what is missing and how to go on.
    """
    spec, loss = gan.spec, gan.loss
    have = offered(gan)
    problems = []
    for need in loss.needs:
        why = have.get(need, f"no model offers {need!r} unless its ModelSpec lists it in offers")
        if why:
            what = CAPABILITIES.get(need, "a capability of the loss's plugin")
            problems.append(f"it needs {need!r} ({what}), but {why}")
    problems += refused_by_model(spec, loss)
    if not problems:
        try:
            loss.check_compatible(gan)
        except GanzooError as exc:
            problems.append(str(exc))
    if not problems:
        return
    made_for = [n for n in spec.compatible_losses if spec.accepts_losses is None or n in spec.accepts_losses]
    message = (
        f"loss {loss.name!r} does not fit model {spec.name!r}: " + "; ".join(problems)
        + f". Pick another loss ({spec.name} is made for {', '.join(made_for or spec.accepts_losses or ())}; "
        "`ganzoo losses` shows what each needs), or force it with --force-loss "
        "(allow_incompatible=True in Python)"
    )
    if allow_incompatible:
        warnings.warn(f"forced: {message}", UserWarning, stacklevel=3)
        return
    raise IncompatibleLossError(message)


def refused_by_model(spec: ModelSpec, loss: GANLoss) -> list[str]:
    """Why the model of ``spec`` refuses ``loss`` (its ``accepts_losses``, its ``needs_from_loss``); ``[]`` if not.

    Example:
        >>> import ganzoo, dataclasses
        >>> from ganzoo.factory import refused_by_model
        >>> spec = dataclasses.replace(ganzoo.get_spec("cgan"), needs_from_loss=("class-head",))
        >>> refused_by_model(spec, ganzoo.create_loss("hinge"))[0][:60]
        "model 'cgan' needs a loss that provides 'class-head' (the lo"
    """
    problems = []
    if spec.accepts_losses is not None and loss.name not in spec.accepts_losses:
        problems.append(f"model {spec.name!r} accepts only the losses {', '.join(spec.accepts_losses)}")
    have = provided(loss)
    for need in spec.needs_from_loss:
        if need not in have:
            what = LOSS_CAPABILITIES.get(need, "a capability of the model's plugin")
            problems.append(f"model {spec.name!r} needs a loss that provides {need!r} ({what}), "
                            f"but {loss.name!r} provides " + (", ".join(map(repr, have)) or "nothing"))
    return problems

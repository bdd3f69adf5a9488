"""The model and loss registries: names to specs, filled by plugins."""

from __future__ import annotations

import fnmatch
import inspect
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ganzoo.errors import (
    ConfigError,
    GanzooError,
    IncompatibleLossError,
    PluginError,
    UnknownNameError,
)
from ganzoo.interfaces import (
    CAPABILITIES,
    GAN,
    LABELS,
    PER_SAMPLE_D,
    REAL_BATCH,
    Discriminator,
    GANLoss,
    Generator,
)
from ganzoo.plugins import NAME, PluginInfo, check_name

LossFactory = Callable[..., GANLoss]


@dataclass(frozen=True)
class TrainDefaults:
    """Recommended training hyper-parameters for a model, from its paper.

    Attributes:
        loss: registered loss name.
        lr_g: generator learning rate (Adam).
        lr_d: discriminator learning rate (Adam).
        betas: Adam's (beta1, beta2).
        batch_size: batch size.
        n_critic: discriminator steps per generator step (``None``: the loss's own).
        ema: keep an exponential moving average of the generator's weights.
        ema_decay: its decay per generator step.
        model_args: constructor settings this recipe needs (e.g. ``{"latent_dim": 2}``);
            the user's own ``model_args`` win.
        steps: run length in generator steps when the user gives neither steps nor epochs.
        epochs: run length in epochs, likewise (``1.0`` when neither is set here).
        lr_schedule: ``"constant"``, or ``"linear"`` / ``"cosine"`` decay of both
            learning rates to zero at the end of the run.
        lr_decay_start: fraction of the run trained at the full rate before the decay starts.
    """

    loss: str = "non-saturating"
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    betas: tuple[float, float] = (0.5, 0.999)
    batch_size: int = 64
    n_critic: int | None = None
    ema: bool = True
    ema_decay: float = 0.999
    model_args: dict[str, Any] = field(default_factory=dict)
    steps: int | None = None
    epochs: float | None = None
    lr_schedule: str = "constant"
    lr_decay_start: float = 0.0


@dataclass(frozen=True)
class PretrainedEntry:
    """A pretrained generator: where its bundle lives and how it was made.

    Attributes:
        id: exact key for :func:`ganzoo.load` (``"dcgan-mnist"``), never parsed.
        dataset: the dataset it was trained on.
        hub_repo: its canonical Hugging Face Hub repository (``"org/name"``).
        revision: the branch, tag or commit of ``hub_repo`` to load.
        bundle: a bundle folder shipped inside the plugin package (loaded offline
            before the Hub is tried); ``""`` when only the Hub has it.
        sha256: the sha256 of the bundle's ``generator.safetensors``, checked at load.
        description: one line for ``ganzoo list --pretrained``.
    """

    id: str
    dataset: str
    hub_repo: str = ""
    revision: str = "main"
    bundle: str = ""
    sha256: str = ""
    description: str = ""

    @classmethod
    def shipped(cls, package_file: str, id: str, **fields: Any) -> PretrainedEntry:
        """An entry whose bundle ships in the plugin package, in ``pretrained/<id>/`` beside ``package_file``.

        Example:
            >>> e = PretrainedEntry.shipped("/site/ganzoo_x/__init__.py", "x-mnist", dataset="mnist")
            >>> e.bundle
            '/site/ganzoo_x/pretrained/x-mnist'
        """
        from pathlib import Path

        return cls(id=id, bundle=str(Path(package_file).resolve().parent / "pretrained" / id), **fields)


@dataclass(frozen=True)
class ModelSpec:
    """Everything ganzoo knows about one registered model.

    Attributes:
        name: registry id, lowercase with hyphens (``"wgan-gp"``).
        family: the family it belongs to (several names may share one family).
        paper: citation of the paper it follows.
        build: ``build(**config)`` returns ``(generator, discriminator)``.
        defaults: default constructor arguments; must include ``data_shape``,
            ``latent_dim`` and ``num_classes`` (``None`` when unconditional).
        train: the paper's recommended :class:`TrainDefaults`.
        recipes: :class:`TrainDefaults` that replace ``train``, keyed by dataset name
            (``"ring8"``) or dataset kind (``"points-2d"``, ``"grey-images"``,
            ``"rgb-images"``, ``"images"``, ``"points"``; see
            :attr:`ganzoo.data.DatasetSpec.kind`). The dataset's own name wins, then its
            kinds from the most to the least specific, then ``train``.
        compatible_losses: the losses this model was designed and tested with (``ganzoo
            info`` shows them; the conformance kit runs each). Other losses train it too
            when it offers what they need (see ``offers``).
        offers: capabilities this model offers to losses (names from
            :data:`ganzoo.interfaces.CAPABILITIES`). ``None`` (the default): inferred from
            the built networks: ``"per-sample-d"`` unless D has BatchNorm, ``"labels"`` when
            conditional. Set it when D couples samples in a way ganzoo cannot see
            (minibatch statistics), or to offer a capability of your own.
        datasets: datasets it was designed for.
        pretrained: pretrained generators, by id.
        description: one line for ``ganzoo list``.
        plugin: filled in by the registry: the plugin that registered it.
        cuda_graph: ``False`` when the networks' forward cannot be replayed from a CUDA
            graph (Python control flow on tensor values, host syncs, state kept in Python);
            the engine then trains the model eagerly on CUDA, with a notice.
        saved_defaults: settings that a saved configuration (a bundle's ``ganzoo.json``, a
            checkpoint) is read with when it lacks them, instead of ``defaults``: a setting
            added after models were saved, such as dcgan's ``plan``, must rebuild the networks
            those files were saved from.
    """

    name: str
    family: str
    paper: str
    build: Callable[..., tuple[Generator, Discriminator]]
    defaults: dict[str, Any]
    train: TrainDefaults = field(default_factory=TrainDefaults)
    compatible_losses: tuple[str, ...] = ("non-saturating", "minimax", "hinge", "lsgan")
    datasets: tuple[str, ...] = ()
    pretrained: dict[str, PretrainedEntry] = field(default_factory=dict)
    description: str = ""
    plugin: str = ""
    recipes: dict[str, TrainDefaults] = field(default_factory=dict)
    cuda_graph: bool = True
    offers: tuple[str, ...] | None = None
    saved_defaults: dict[str, Any] = field(default_factory=dict)

    @property
    def conditional(self) -> bool:
        return self.defaults.get("num_classes") is not None

    def recipe(self, dataset: str | None) -> TrainDefaults:
        """The training recipe for ``dataset``: by its name, else by its kind, else ``train``.

        Example:
            >>> import ganzoo
            >>> ganzoo.get_spec("vanilla").recipe("ring8").batch_size  # its own recipe
            256
            >>> ganzoo.get_spec("vanilla").recipe("mnist").batch_size  # the paper's
            64
        """
        if not dataset:
            return self.train
        if dataset in self.recipes:
            return self.recipes[dataset]
        from ganzoo.data import dataset_kinds

        for kind in dataset_kinds(dataset):
            if kind in self.recipes:
                return self.recipes[kind]
        return self.train

    def resolve_config(self, overrides: dict[str, Any]) -> dict[str, Any]:
        """Defaults updated with ``overrides``, rejecting keys the builder does not take."""
        params = inspect.signature(self.build).parameters
        takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        allowed = set(params) | set(self.defaults)
        for key in overrides:
            if key not in allowed and not takes_any:
                raise ConfigError(
                    f"model {self.name!r} has no setting {key!r}; its settings are: "
                    + ", ".join(sorted(allowed))
                )
        config = {**self.defaults, **overrides}
        if "data_shape" in config:
            config["data_shape"] = _shape(self.name, config["data_shape"])
        return config


def _shape(model: str, value: Any) -> tuple[int, ...]:
    """``data_shape`` as a tuple of whole numbers >= 1, or a one-line ConfigError."""
    try:
        if isinstance(value, (str, bytes)) or any(isinstance(s, bool) for s in value):
            raise TypeError
        shape = tuple(operator.index(s) for s in value)  # ints, numpy ints; not floats or text
        if shape and min(shape) >= 1:
            return shape
    except TypeError:
        pass
    raise ConfigError(
        f"model {model!r}: data_shape must be a sequence of whole numbers >= 1, got {value!r}; "
        "e.g. data_shape=(2,) or (1, 28, 28) (on the command line: --model-arg data_shape=[1,28,28])"
    )


def _check_size(name: str, spec: ModelSpec, config: dict[str, Any], overrides: dict[str, Any]) -> None:
    """Refuse settings whose model would exceed :data:`ganzoo.weights.MAX_MODEL_BYTES`, before allocating.

    The model is built once on the meta device (shapes only, no memory). A plugin that cannot
    build there is simply not pre-checked.
    """
    import warnings

    import torch

    from ganzoo.weights import MAX_MODEL_BYTES, model_bytes

    if torch.get_default_device().type == "meta":  # already a dry build (ganzoo.weights.build_on_meta)
        return
    try:
        with warnings.catch_warnings(), torch.device("meta"):
            warnings.simplefilter("ignore")
            modules = spec.build(**config)
        total = model_bytes(modules)
    except Exception:  # noqa: BLE001  (the real build below reports a bad setting)
        return
    if total > MAX_MODEL_BYTES:
        given = ", ".join(f"{k}={v!r}" for k, v in overrides.items()) or "its defaults"
        raise ConfigError(
            f"model {name!r} with {given} would hold {total / 2**20:,.0f} MiB of parameters, more than the "
            f"{MAX_MODEL_BYTES >> 20:,} MiB ganzoo builds and loads; choose smaller settings"
        )


class _Registry:
    def __init__(self) -> None:
        from ganzoo.plugins import PerPlugin, commit, get_plugin_manager

        manager = get_plugin_manager()
        self.manager = manager

        def check_model(plugin_name: str, spec: Any, _unused: Any) -> list[tuple[str, str, Any]]:
            if not isinstance(spec, ModelSpec):
                raise PluginError(
                    f"registered {type(spec).__name__} {spec!r:.60} as a model; register() takes a ganzoo.ModelSpec"
                )
            check_name("model", spec.name)
            spec = _with_plugin(spec, plugin_name)
            added = [("models", spec.name, spec)]
            for pid, entry in spec.pretrained.items():
                check_name("pretrained id", pid)
                if not isinstance(entry, PretrainedEntry) or entry.id != pid:
                    raise PluginError(
                        f"model {spec.name!r}: pretrained[{pid!r}] must be a ganzoo.PretrainedEntry with id={pid!r}"
                    )
                added.append(("pretrained", pid, spec.name))
            return added

        def check_loss(plugin_name: str, name: Any, factory: Any) -> list[tuple[str, str, Any]]:
            check_name("loss", name)
            if not callable(factory):
                raise PluginError(f"registered loss {name!r} without a factory (got {factory!r:.60})")
            if isinstance(factory, type) and "needs" in dir(factory):  # a GANLoss class: check it now
                check_needs(name, factory.needs)
            return [("losses", name, factory)]

        from ganzoo.data import check_dataset_registration

        models, losses = PerPlugin(check_model), PerPlugin(check_loss)
        datasets = PerPlugin(check_dataset_registration)
        # Every registration hook runs before anything is kept, so a plugin that fails in
        # any of them is broken and loses what it registered through all of them.
        manager.call_each("ganzoo_register_models", register=models)
        manager.call_each("ganzoo_register_losses", register=losses)
        manager.call_each("ganzoo_register_datasets", register=datasets)
        found = commit(manager, models, losses, datasets)
        self.generation = manager.generation
        self.datasets = {k: v for k, (v, _) in found.get("datasets", {}).items()}
        self.models: dict[str, ModelSpec] = {k: v for k, (v, _) in found.get("models", {}).items()}
        self.losses: dict[str, tuple[LossFactory, str]] = {
            k: (v, plugin) for k, (v, plugin) in found.get("losses", {}).items()
        }

    def broken_note(self, name: str) -> tuple[str, PluginInfo | None]:
        broken = self.manager.broken()
        for info in broken:
            if name == info.name or name.startswith(info.name + "-"):
                return "", info
        lines = [f"note: plugin {i.label!r} is broken ({i.error}); it may provide it" for i in broken]
        return "\n".join(lines), None


def check_needs(loss_name: str, needs: Any) -> tuple[str, ...]:
    """Refuse a loss's ``needs`` that is not a tuple, list or frozenset of capability names.

    Names outside :data:`ganzoo.interfaces.CAPABILITIES` are allowed (a model's
    ``ModelSpec.offers`` may list a plugin's own capability) but must look like names.

    Raises:
        PluginError: naming the loss and the bad value.
    """
    if not isinstance(needs, (tuple, list, frozenset)) or not all(
        isinstance(n, str) and NAME.fullmatch(n) for n in needs
    ):
        raise PluginError(
            f"loss {loss_name!r} has needs={needs!r:.80}; it must be a tuple of capability names "
            f"such as ({', '.join(repr(c) for c in CAPABILITIES)},) (a bare string is not a tuple: "
            "write ('labels',))"
        )
    return tuple(needs)


def _with_plugin(spec: ModelSpec, plugin: str) -> ModelSpec:
    from dataclasses import replace

    return replace(spec, plugin=plugin)


_registry: _Registry | None = None


def _get() -> _Registry:
    global _registry
    if _registry is None or _registry.generation != _registry.manager.generation:
        _registry = _Registry()  # built afresh when a plugin broke since (in any hook)
    return _registry


def _invalidate() -> None:
    global _registry
    _registry = None


def list_models(pattern: str = "*") -> list[str]:
    """Registered model names matching a shell-style wildcard, sorted.

    Example:
        >>> import ganzoo
        >>> "dcgan" in ganzoo.list_models()
        True
        >>> ganzoo.list_models("wgan*")
        ['wgan-gp']
    """
    return sorted(n for n in _get().models if fnmatch.fnmatchcase(n, pattern))


def get_spec(name: str) -> ModelSpec:
    """The :class:`ModelSpec` registered under ``name``.

    Raises:
        UnknownNameError: with close matches, or naming the broken plugin that
            would have provided it.
    """
    reg = _get()
    if name in reg.models:
        return reg.models[name]
    note, culprit = reg.broken_note(name)
    if culprit is not None:
        raise PluginError(
            f"model {name!r} is unavailable: plugin {culprit.label!r} failed to load: "
            f"{culprit.error}. Fix or reinstall it (`ganzoo plugins` shows every plugin's status)"
        )
    raise UnknownNameError("model", name, list(reg.models), hint="`ganzoo list` shows all", extra=note)


def list_pretrained(pattern: str = "*") -> list[str]:
    """Pretrained generator ids (for :func:`ganzoo.load`) matching a wildcard, sorted.

    Example:
        >>> import ganzoo
        >>> "dcgan-mnist" in ganzoo.list_pretrained()
        True
    """
    ids = [p for spec in _get().models.values() for p in spec.pretrained]
    return sorted(i for i in ids if fnmatch.fnmatchcase(i, pattern))


def get_pretrained(pretrained_id: str) -> tuple[ModelSpec, PretrainedEntry]:
    """The model spec and :class:`PretrainedEntry` of a pretrained id.

    Raises:
        UnknownNameError: with close matches among the pretrained ids.
    """
    reg = _get()
    for spec in reg.models.values():
        if pretrained_id in spec.pretrained:
            return spec, spec.pretrained[pretrained_id]
    hint = "`ganzoo list --pretrained` shows all; a bundle folder, a run directory or hf-hub:org/name also work"
    if pretrained_id in reg.models:
        ids = [p for p in reg.models[pretrained_id].pretrained]
        hint = (f"{pretrained_id!r} is a model name; its pretrained generators: {', '.join(ids)}" if ids
                else f"{pretrained_id!r} is a model name with no pretrained generator; train one with "
                     f"`ganzoo train {pretrained_id}`")
    ids = [p for spec in reg.models.values() for p in spec.pretrained]
    raise UnknownNameError("pretrained model", pretrained_id, ids, hint=hint)


def list_losses() -> list[str]:
    """Registered loss names, sorted.

    Example:
        >>> import ganzoo
        >>> "hinge" in ganzoo.list_losses()
        True
    """
    return sorted(_get().losses)


def loss_plugin(name: str) -> str:
    """The plugin that registered loss ``name``."""
    reg = _get()
    if name not in reg.losses:
        raise UnknownNameError("loss", name, list(reg.losses), hint="`ganzoo losses` shows all")
    return reg.losses[name][1]


def create_loss(name: str, **kwargs: Any) -> GANLoss:
    """Build the registered loss ``name`` with ``kwargs``.

    Example:
        >>> import ganzoo
        >>> ganzoo.create_loss("wgan-gp", gp_weight=10.0).n_critic
        5
    """
    reg = _get()
    if name not in reg.losses:
        raise UnknownNameError("loss", name, list(reg.losses), hint="`ganzoo losses` shows all")
    factory, plugin = reg.losses[name]
    try:
        loss = factory(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"loss {name!r} does not take {kwargs}: {exc}") from exc
    if not isinstance(loss, GANLoss):
        raise PluginError(f"loss {name!r} factory returned {type(loss).__name__}, not a GANLoss")
    try:
        check_needs(name, loss.needs)
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
            than :data:`ganzoo.weights.MAX_MODEL_BYTES`.

    Example:
        >>> import ganzoo
        >>> gan = ganzoo.create("dcgan", data_shape=(3, 32, 32))
        >>> gan.generator.output_shape
        (3, 32, 32)
    """
    spec = get_spec(name)
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
    is taken at its word; otherwise the networks are inspected.

    Example:
        >>> import ganzoo
        >>> from ganzoo.registry import offered
        >>> offered(ganzoo.create("wgan-gp"))["per-sample-d"]
        ''
        >>> offered(ganzoo.create("dcgan"))["per-sample-d"]
        'its discriminator has BatchNorm (features.3), which couples the samples of a batch'
    """
    from torch import nn

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
    result[LABELS] = "" if gan.generator.num_classes is not None else "it is unconditional"
    return result


def check_loss(gan: GAN, *, allow_incompatible: bool = False) -> None:
    """Refuse a loss that needs what the model does not offer, with the reason.

    Compatibility is decided from both sides: the loss's ``needs`` against what the model
    offers (:func:`offered`), then the loss's own :meth:`GANLoss.check_compatible`.

    Args:
        gan: the model with its loss.
        allow_incompatible: warn (``UserWarning``) instead of raising.

    Raises:
        IncompatibleLossError: naming what is missing and how to go on.
    """
    import warnings

    from ganzoo.errors import GanzooError

    spec, loss = gan.spec, gan.loss
    have = offered(gan)
    problems = []
    for need in loss.needs:
        why = have.get(need, f"no model offers {need!r} unless its ModelSpec lists it in offers")
        if why:
            what = CAPABILITIES.get(need, "a capability of the loss's plugin")
            problems.append(f"it needs {need!r} ({what}), but {why}")
    if not problems:
        try:
            loss.check_compatible(gan)
        except GanzooError as exc:
            problems.append(str(exc))
    if not problems:
        return
    message = (
        f"loss {loss.name!r} does not fit model {spec.name!r}: " + "; ".join(problems)
        + f". Pick another loss ({spec.name} is made for {', '.join(spec.compatible_losses)}; "
        "`ganzoo losses` shows what each needs), or force it with --force-loss "
        "(allow_incompatible=True in Python)"
    )
    if allow_incompatible:
        warnings.warn(f"forced: {message}", UserWarning, stacklevel=3)
        return
    raise IncompatibleLossError(message)

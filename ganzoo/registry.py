"""The model and loss registries: names to specs, filled by plugins."""

from __future__ import annotations

import fnmatch
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ganzoo.errors import (
    ConfigError,
    DuplicateNameError,
    IncompatibleLossError,
    PluginError,
    UnknownNameError,
)
from ganzoo.interfaces import GAN, Discriminator, GANLoss, Generator
from ganzoo.plugins import PluginInfo

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
        recipes: dataset name -> :class:`TrainDefaults` that replace ``train`` on that
            dataset (e.g. the 2-D toys need another recipe than MNIST).
        compatible_losses: loss names this model can be trained with.
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
    saved_defaults: dict[str, Any] = field(default_factory=dict)

    @property
    def conditional(self) -> bool:
        return self.defaults.get("num_classes") is not None

    def recipe(self, dataset: str | None) -> TrainDefaults:
        """The training recipe for ``dataset``: its own entry in ``recipes``, else ``train``."""
        return self.recipes.get(dataset or "", self.train)

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
            config["data_shape"] = tuple(int(s) for s in config["data_shape"])
        return config


class _Registry:
    def __init__(self) -> None:
        from ganzoo.plugins import PerPlugin, get_plugin_manager

        self.models: dict[str, ModelSpec] = {}
        self.losses: dict[str, tuple[LossFactory, str]] = {}
        manager = get_plugin_manager()
        self.manager = manager

        def add_model(plugin_name: str, spec: Any, _unused: Any) -> None:
            if not isinstance(spec, ModelSpec):
                raise PluginError(
                    f"plugin {plugin_name!r} registered {spec!r}; register() takes a ganzoo.ModelSpec"
                )
            if spec.name in self.models:
                other = self.models[spec.name].plugin
                raise DuplicateNameError(
                    f"model {spec.name!r} is registered twice: by "
                    f"{manager.info(other).label!r} and by {manager.info(plugin_name).label!r}; "
                    "uninstall one of the two distributions"
                )
            self.models[spec.name] = _with_plugin(spec, plugin_name)

        def add_loss(plugin_name: str, name: Any, factory: Any) -> None:
            if name in self.losses:
                other = self.losses[name][1]
                raise DuplicateNameError(
                    f"loss {name!r} is registered twice: by {manager.info(other).label!r} "
                    f"and by {manager.info(plugin_name).label!r}; uninstall one of the two"
                )
            if not callable(factory):
                raise PluginError(f"plugin {plugin_name!r} registered loss {name!r} without a factory")
            self.losses[name] = (factory, plugin_name)

        models, losses = PerPlugin(add_model), PerPlugin(add_loss)
        manager.call_each("ganzoo_register_models", register=models)
        manager.call_each("ganzoo_register_losses", register=losses)
        models.commit()
        losses.commit()

    def broken_note(self, name: str) -> tuple[str, PluginInfo | None]:
        broken = self.manager.broken()
        for info in broken:
            if name == info.name or name.startswith(info.name + "-"):
                return "", info
        lines = [f"note: plugin {i.label!r} is broken ({i.error}); it may provide it" for i in broken]
        return "\n".join(lines), None


def _with_plugin(spec: ModelSpec, plugin: str) -> ModelSpec:
    from dataclasses import replace

    return replace(spec, plugin=plugin)


_registry: _Registry | None = None


def _get() -> _Registry:
    global _registry
    if _registry is None:
        _registry = _Registry()
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
    """Registered loss names, sorted."""
    return sorted(_get().losses)


def create_loss(name: str, **kwargs: Any) -> GANLoss:
    """Build the registered loss ``name`` with ``kwargs``.

    Example:
        >>> import ganzoo
        >>> ganzoo.create_loss("wgan-gp", gp_weight=10.0).n_critic
        5
    """
    reg = _get()
    if name not in reg.losses:
        raise UnknownNameError("loss", name, list(reg.losses))
    loss = reg.losses[name][0](**kwargs)
    if not isinstance(loss, GANLoss):
        raise PluginError(f"loss {name!r} factory returned {type(loss).__name__}, not a GANLoss")
    loss.name = name
    return loss


def create(name: str, *, loss: str | GANLoss | None = None, loss_kwargs: dict | None = None, **overrides: Any) -> GAN:
    """Build a model's generator, discriminator and loss with its defaults.

    Args:
        name: a registered model name (``ganzoo.list_models()``).
        loss: a loss name or :class:`GANLoss`; defaults to the spec's.
        loss_kwargs: keyword arguments for the loss factory.
        **overrides: constructor settings that replace the spec's defaults,
            e.g. ``data_shape=(3, 32, 32)`` or ``latent_dim=64``.

    Returns:
        A :class:`GAN` with ``.generator``, ``.discriminator``, ``.loss`` and ``.spec``.

    Raises:
        UnknownNameError: the model or loss name is unknown.
        IncompatibleLossError: the loss cannot train this model.

    Example:
        >>> import ganzoo
        >>> gan = ganzoo.create("dcgan", data_shape=(3, 32, 32))
        >>> gan.generator.output_shape
        (3, 32, 32)
    """
    spec = get_spec(name)
    config = spec.resolve_config(overrides)
    generator, discriminator = spec.build(**config)
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
    check_loss(gan)
    return gan


def check_loss(gan: GAN) -> None:
    """Refuse a loss that cannot train the model, or one it does not declare, with the reason."""
    spec, loss = gan.spec, gan.loss
    # The loss's own check first: its reason (e.g. BatchNorm under a gradient penalty) is
    # more useful than the list of declared losses.
    loss.check_compatible(gan)
    if loss.name not in spec.compatible_losses:
        raise IncompatibleLossError(
            f"loss {loss.name!r} does not fit model {spec.name!r}: {spec.name} declares the losses "
            f"{', '.join(spec.compatible_losses)}. Pick one of those, or a model made for "
            f"{loss.name!r} (`ganzoo list`)"
        )

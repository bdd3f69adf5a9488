"""The registries: names to specs (models, pretrained generators, losses, datasets), filled by plugins.

Every registration hook runs once, the first time a registry is needed, and again whenever the
plugin set changes (a plugin added, broken or reset). Building models and losses from these specs
is :mod:`ganzoo.factory`'s.
"""

from __future__ import annotations

import fnmatch
from dataclasses import replace
from typing import Any

from ganzoo.errors import PluginError, UnknownNameError
from ganzoo.plugins import PerPlugin, PluginInfo, commit, get_plugin_manager
from ganzoo.specs import (  # noqa: F401  (re-exported: their home before the specs had a module)
    DatasetSpec,
    FeatureNetworkSpec,
    LoggerSpec,
    LossFactory,
    ModelSpec,
    PretrainedEntry,
    TrainDefaults,
    check_name,
    check_needs,
    freeze,
)


class _Registry:
    def __init__(self) -> None:
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

        models, losses = PerPlugin(check_model), PerPlugin(check_loss)
        datasets = PerPlugin(check_dataset_registration)
        # Every registration hook runs before anything is kept, so a plugin that fails in
        # any of them is broken and loses what it registered through all of them.
        manager.call_each("ganzoo_register_models", register=models)
        manager.call_each("ganzoo_register_losses", register=losses)
        manager.call_each("ganzoo_register_datasets", register=datasets)
        feature_networks = PerPlugin(check_feature_network_registration)
        manager.call_each("ganzoo_register_feature_networks", register=feature_networks)
        loggers = PerPlugin(check_logger_registration)
        manager.call_each("ganzoo_register_loggers", register=loggers)
        found = commit(manager, models, losses, datasets, feature_networks, loggers)
        self.loggers: dict[str, LoggerSpec] = {k: v for k, (v, _) in found.get("loggers", {}).items()}
        self.feature_networks: dict[str, FeatureNetworkSpec] = {
            k: v for k, (v, _) in found.get("feature-networks", {}).items()}
        self.generation = manager.generation
        self.datasets = {k: v for k, (v, _) in found.get("datasets", {}).items()}
        self.models: dict[str, ModelSpec] = {k: v for k, (v, _) in found.get("models", {}).items()}
        self.losses: dict[str, tuple[LossFactory, str]] = {
            k: (v, plugin) for k, (v, plugin) in found.get("losses", {}).items()
        }
        # pretrained id -> model name: one lookup, not a walk over every model, per id.
        self.pretrained: dict[str, str] = {k: v for k, (v, _) in found.get("pretrained", {}).items()}

    def broken_note(self, name: str) -> tuple[str, PluginInfo | None]:
        broken = self.manager.broken()
        for info in broken:
            if name == info.name or name.startswith(info.name + "-"):
                return "", info
        lines = [f"note: plugin {i.label!r} is broken ({i.error}); it may provide it" for i in broken]
        return "\n".join(lines), None


def _with_plugin(spec: ModelSpec, plugin: str) -> ModelSpec:
    """The spec as the registry keeps and hands it out: its plugin filled in, its settings read-only copies.

    ``defaults``, ``saved_defaults``, ``pretrained``, ``recipes`` and every recipe's ``model_args``
    are frozen (:class:`ganzoo.specs.FrozenDict`), so no plugin (nor the one that registered it,
    through the dicts it kept) can change another model's settings or pretrained ids.
    """
    return replace(spec, plugin=plugin, kinds_of=dataset_kinds, defaults=freeze(spec.defaults),
                   saved_defaults=freeze(spec.saved_defaults), pretrained=freeze(spec.pretrained),
                   train=freeze(spec.train), recipes=freeze(spec.recipes))


_registry: _Registry | None = None


def _get() -> _Registry:
    global _registry
    manager = get_plugin_manager()
    if _registry is None or _registry.manager is not manager or _registry.generation != manager.generation:
        _registry = _Registry()  # built afresh when plugins changed since (added, broken, reset)
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
    return sorted(i for i in _get().pretrained if fnmatch.fnmatchcase(i, pattern))


def get_pretrained(pretrained_id: str) -> tuple[ModelSpec, PretrainedEntry]:
    """The model spec and :class:`PretrainedEntry` of a pretrained id.

    Raises:
        UnknownNameError: with close matches among the pretrained ids.
    """
    reg = _get()
    model = reg.pretrained.get(pretrained_id)
    if model is not None:
        spec = reg.models[model]
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


# --------------------------------------------------------------------------- datasets


def check_dataset_registration(plugin_name: str, spec: Any, _unused: Any) -> list[tuple[str, str, DatasetSpec]]:
    """Check one ``ganzoo_register_datasets`` registration (used by the registry)."""
    if not isinstance(spec, DatasetSpec):
        raise PluginError(
            f"registered {type(spec).__name__} {spec!r:.60} as a dataset; "
            "register() takes a ganzoo.data.DatasetSpec"
        )
    check_name("dataset", spec.name)
    return [("datasets", spec.name, replace(spec, plugin=plugin_name))]


def dataset_kinds(name: str) -> tuple[str, ...]:
    """The kinds of registered dataset ``name``, most specific first; ``()`` if unknown.

    Example:
        >>> from ganzoo.registry import dataset_kinds
        >>> dataset_kinds("mnist")
        ('grey-images', 'images')
    """
    spec = _get().datasets.get(name)
    return spec.kinds if spec is not None else ()


def list_datasets() -> list[str]:
    """Registered dataset names, sorted."""
    return sorted(_get().datasets)


def get_dataset_spec(name: str) -> DatasetSpec:
    """The :class:`DatasetSpec` registered under ``name``.

    Raises:
        UnknownNameError: with close matches.
    """
    datasets = _get().datasets
    if name not in datasets:
        raise UnknownNameError("dataset", name, list(datasets), hint="`ganzoo datasets` shows all")
    return datasets[name]


# --------------------------------------------------------------------------- feature networks


def check_feature_network_registration(plugin_name: str, spec: Any, _unused: Any) -> list[tuple[str, str, Any]]:
    """Check one ``ganzoo_register_feature_networks`` registration (used by the registry)."""
    if not isinstance(spec, FeatureNetworkSpec):
        raise PluginError(
            f"registered {type(spec).__name__} {spec!r:.60} as a feature network; "
            "register() takes a ganzoo.specs.FeatureNetworkSpec"
        )
    check_name("feature network", spec.name)
    datasets = spec.datasets
    if isinstance(datasets, str) or not isinstance(datasets, (tuple, list)) or not datasets:
        raise PluginError(f"feature network {spec.name!r}: datasets must be a tuple of dataset names or kinds, "
                          f"got {datasets!r:.60} (a bare string is not a tuple: write ('my-dataset',))")
    for d in datasets:
        check_name("dataset (for a feature network)", d)
    if not callable(spec.load):
        raise PluginError(f"feature network {spec.name!r}: load must be a callable load(device), got {spec.load!r:.60}")
    if spec.ready is not None and not callable(spec.ready):
        raise PluginError(f"feature network {spec.name!r}: ready must be a callable or None, got {spec.ready!r:.60}")
    for field_name in ("num_classes", "feature_dim"):
        value = getattr(spec, field_name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise PluginError(f"feature network {spec.name!r}: {field_name} must be a whole number >= 1 or None, "
                              f"got {value!r:.60}")
    shape = spec.image_shape
    if shape is not None and (not isinstance(shape, (tuple, list)) or len(shape) != 3 or not all(
            isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in shape)):
        raise PluginError(f"feature network {spec.name!r}: image_shape must be (C, H, W) or None, got {shape!r:.60}")
    spec = replace(spec, datasets=tuple(datasets), image_shape=tuple(shape) if shape is not None else None,
                   plugin=plugin_name)
    return [("feature-networks", spec.name, spec)]


def list_feature_networks() -> list[str]:
    """Registered feature network names, sorted.

    Example:
        >>> from ganzoo.registry import list_feature_networks
        >>> "mnist-classifier" in list_feature_networks()
        True
    """
    return sorted(_get().feature_networks)


def get_feature_network_spec(name: str) -> FeatureNetworkSpec:
    """The :class:`FeatureNetworkSpec` registered under ``name``.

    Raises:
        UnknownNameError: with close matches.
    """
    nets = _get().feature_networks
    if name not in nets:
        raise UnknownNameError("feature network", name, list(nets), hint="plugins register them")
    return nets[name]


def feature_networks_for(dataset: str) -> list[FeatureNetworkSpec]:
    """The feature networks that score ``dataset``: the first (its scoring network), then its cross-checks.

    The first is the first network registered for the dataset's own name, else for its kinds
    from the most to the least specific (:func:`dataset_kinds`); cross-checks are the
    ``cross_check`` networks registered for the same name or kind. ``[]`` when none scores it.

    Example:
        >>> from ganzoo.registry import feature_networks_for
        >>> [s.name for s in feature_networks_for("mnist")]
        ['mnist-classifier', 'mnist-resnet']
    """
    nets = list(_get().feature_networks.values())
    for key in (dataset, *dataset_kinds(dataset)):
        first = [s for s in nets if key in s.datasets and not s.cross_check]
        if first:
            return [first[0], *(s for s in nets if key in s.datasets and s.cross_check)]
    return []


# --------------------------------------------------------------------------- loggers


def check_logger_registration(plugin_name: str, spec: Any, _unused: Any) -> list[tuple[str, str, Any]]:
    """Check one ``ganzoo_register_loggers`` registration (used by the registry)."""
    if not isinstance(spec, LoggerSpec):
        raise PluginError(f"registered {type(spec).__name__} {spec!r:.60} as a logger; "
                          "register() takes a ganzoo.specs.LoggerSpec")
    check_name("logger", spec.name)
    if spec.name == "none":
        raise PluginError("registered a logger named 'none'; that name means 'no loggers' to --logger: pick another")
    if not callable(spec.create):
        raise PluginError(f"logger {spec.name!r}: create must be a callable that returns a ganzoo.loggers.Logger, "
                          f"got {spec.create!r:.60}")
    if spec.ready is not None and not callable(spec.ready):
        raise PluginError(f"logger {spec.name!r}: ready must be a callable or None, got {spec.ready!r:.60}")
    return [("loggers", spec.name, replace(spec, plugin=plugin_name))]


def list_loggers() -> list[str]:
    """Registered logger names, sorted.

    Example:
        >>> from ganzoo.registry import list_loggers
        >>> "tensorboard" in list_loggers()
        True
    """
    return sorted(_get().loggers)


def get_logger_spec(name: str) -> LoggerSpec:
    """The :class:`LoggerSpec` registered under ``name``.

    Raises:
        UnknownNameError: with close matches.
    """
    loggers = _get().loggers
    if name not in loggers:
        raise UnknownNameError("logger", name, list(loggers), hint="`ganzoo loggers` lists them; plugins add more")
    return loggers[name]

"""Plugin discovery and isolation, on top of pluggy.

Plugins are found through the ``ganzoo`` entry-point group (the built-in
families included). ``GANZOO_DISABLE_PLUGIN_AUTOLOAD=1`` switches discovery off;
tests and notebooks can then add plugin modules with :func:`register_plugin`.

A plugin that fails to import, or raises inside a hook, does not break the
others: it is recorded as broken with its error (``ganzoo plugins`` lists it),
and asking for one of its models names the plugin and the cause.
"""

from __future__ import annotations

import importlib.metadata
import os
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pluggy

from ganzoo import hookspecs

ENTRY_POINT_GROUP = "ganzoo"
AUTOLOAD_ENV = "GANZOO_DISABLE_PLUGIN_AUTOLOAD"

hookimpl = pluggy.HookimplMarker("ganzoo")


@dataclass
class PluginInfo:
    """What ``ganzoo plugins`` shows for one plugin."""

    name: str
    module: str
    distribution: str | None = None
    version: str | None = None
    status: str = "ok"  # "ok" or "broken"
    error: str | None = None

    @property
    def label(self) -> str:
        return self.distribution or self.name


class PluginManager:
    """Holds the pluggy manager and the list of plugins with their status."""

    def __init__(self, autoload: bool | None = None):
        self.pm = pluggy.PluginManager("ganzoo")
        self.pm.add_hookspecs(hookspecs)
        self.infos: dict[str, PluginInfo] = {}
        # Core plugins, like pytest's built-in ones: the standard losses and datasets.
        from ganzoo import data, losses

        for core in (losses, data):
            self.pm.register(core, name=core.__name__)
        if autoload is None:
            autoload = os.environ.get(AUTOLOAD_ENV, "").strip().lower() not in ("1", "true", "yes")
        if autoload:
            self.load_entry_points()

    def load_entry_points(self) -> None:
        seen: set[tuple[str, str]] = set()
        for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
            dist = getattr(ep, "dist", None)
            dist_name = dist.metadata["Name"] if dist is not None else None
            key = (ep.name, ep.value)
            if key in seen or self.pm.has_plugin(ep.name):
                continue  # the same distribution seen twice on sys.path
            seen.add(key)
            info = PluginInfo(
                name=ep.name,
                module=ep.value,
                distribution=dist_name,
                version=dist.version if dist is not None else None,
            )
            self.infos[ep.name] = info
            try:
                plugin = ep.load()
                self.pm.register(plugin, name=ep.name)
                self.pm.check_pending()
            except Exception as exc:  # a broken plugin must not break the others
                self._mark_broken(info, exc)
                if self.pm.has_plugin(ep.name):
                    self.pm.unregister(name=ep.name)

    def register(self, plugin: Any, name: str | None = None) -> str:
        """Register a plugin object or module directly (no entry point needed)."""
        name = name or getattr(plugin, "__name__", None) or repr(plugin)
        self.pm.register(plugin, name=name)
        self.pm.check_pending()
        module = getattr(plugin, "__name__", type(plugin).__name__)
        self.infos[name] = PluginInfo(name=name, module=module)
        return name

    def _mark_broken(self, info: PluginInfo, exc: BaseException) -> None:
        info.status = "broken"
        info.error = "".join(traceback.format_exception_only(type(exc), exc)).strip()

    def call_each(self, hook_name: str, **kwargs: Any) -> None:
        """Call ``hook_name`` on every plugin, one at a time, isolating failures.

        ``kwargs`` values that are callables taking ``plugin_name`` (see
        :class:`PerPlugin`) are bound to each plugin first, so registrations
        know where they came from.
        """
        hook = getattr(self.pm.hook, hook_name)
        # pluggy returns implementations in reverse registration order; keep registration order.
        for impl in reversed(hook.get_hookimpls()):
            info = self.infos.get(impl.plugin_name)
            if info is None and impl.plugin_name.startswith("ganzoo."):
                info = self.infos[impl.plugin_name] = PluginInfo(
                    impl.plugin_name, impl.plugin_name, "ganzoo", _ganzoo_version()
                )
            if info is not None and info.status == "broken":
                continue
            bound = {k: (v.bind(impl.plugin_name) if isinstance(v, PerPlugin) else v) for k, v in kwargs.items()}
            try:
                impl.function(**{a: bound[a] for a in impl.argnames})
            except Exception as exc:
                if info is None:
                    info = self.infos[impl.plugin_name] = PluginInfo(impl.plugin_name, impl.plugin_name)
                self._mark_broken(info, exc)
                for v in kwargs.values():
                    if isinstance(v, PerPlugin):
                        v.drop(impl.plugin_name)

    def broken(self) -> list[PluginInfo]:
        return [i for i in self.infos.values() if i.status == "broken"]

    def info(self, plugin_name: str) -> PluginInfo:
        return self.infos.get(plugin_name) or PluginInfo(plugin_name, plugin_name)


class PerPlugin:
    """A registration callback that remembers which plugin registered what.

    ``bind(plugin_name)`` gives the ``register`` function one plugin receives;
    ``drop(plugin_name)`` forgets everything that plugin registered (used when
    its hook raised half-way, so a broken plugin leaves nothing behind).
    """

    def __init__(self, add: Callable[[str, Any, Any], None]):
        self._add = add
        self.by_plugin: dict[str, list[tuple[Any, Any]]] = {}

    def bind(self, plugin_name: str) -> Callable[..., None]:
        def register(item: Any, value: Any = None) -> None:
            self.by_plugin.setdefault(plugin_name, []).append((item, value))

        return register

    def drop(self, plugin_name: str) -> None:
        self.by_plugin.pop(plugin_name, None)

    def commit(self) -> None:
        for plugin_name, items in self.by_plugin.items():
            for item, value in items:
                self._add(plugin_name, item, value)


def _ganzoo_version() -> str:
    from ganzoo import __version__

    return __version__


_manager: PluginManager | None = None


def get_plugin_manager() -> PluginManager:
    """The process-wide plugin manager, created (and plugins discovered) on first use."""
    global _manager
    if _manager is None:
        _manager = PluginManager()
    return _manager


def register_plugin(plugin: Any, name: str | None = None) -> str:
    """Register a plugin module or object directly and refresh the registries.

    Example:
        >>> import types, ganzoo
        >>> mod = types.ModuleType("my_plugin")
        >>> name = ganzoo.plugins.register_plugin(mod, name="my-plugin")
    """
    name = get_plugin_manager().register(plugin, name)
    _invalidate()
    return name


def reset(autoload: bool | None = None) -> PluginManager:
    """Forget all plugins and registries and discover again (for tests)."""
    global _manager
    _manager = PluginManager(autoload=autoload)
    _invalidate()
    return _manager


def _invalidate() -> None:
    from ganzoo import data, registry

    registry._invalidate()
    data._invalidate()


def list_plugins() -> list[PluginInfo]:
    """Every plugin ganzoo knows of, working or broken."""
    return list(get_plugin_manager().infos.values())

"""Plugin discovery and isolation, on top of pluggy.

Plugins are found through the ``ganzoo`` entry-point group (the built-in
families included). ``GANZOO_DISABLE_PLUGIN_AUTOLOAD=1`` switches discovery off;
tests and notebooks can then add plugin modules with :func:`register_plugin`.

A plugin that fails to import (even with ``SystemExit``), raises inside a hook,
or registers something invalid (a name another plugin already has, a
``register`` argument of the wrong type) does not break the others: it is
recorded as broken with its error (``ganzoo plugins`` lists it), everything it
registered is dropped, and asking for one of its models names the plugin and
the cause.

A plugin's prints (while it is imported or a hook runs) go to stderr, so command output such
as ``--json`` stays clean; a plugin slower than :data:`SLOW_HOOK_SECONDS` is named there.

Order: the core (the standard losses and datasets) first, then ganzoo's own
built-in families, then third-party distributions sorted by distribution name.
The first registration of a name keeps it, so a plugin can never take over a
built-in name.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import os
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pluggy

from ganzoo import hookspecs
from ganzoo.specs import NAME, check_name  # noqa: F401  (plugins and older callers import them from here)

ENTRY_POINT_GROUP = "ganzoo"
AUTOLOAD_ENV = "GANZOO_DISABLE_PLUGIN_AUTOLOAD"
CORE_PLUGINS = ("ganzoo.losses", "ganzoo.data", "ganzoo.metrics.networks", "ganzoo.loggers")
"""ganzoo's own plugins (the standard losses, datasets, feature networks and loggers), registered before any other.

Each is named after the module that holds what it registers; the hooks themselves live in
:mod:`ganzoo.core_plugins`, which names those things without importing them (no torch)."""

hookimpl = pluggy.HookimplMarker("ganzoo")

SLOW_HOOK_SECONDS = 5.0
"""A plugin hook (or a plugin's import) that takes longer than this gets a note on stderr naming it."""

_clock = time.monotonic  # what the slow-hook note measures with (tests replace it)


@contextlib.contextmanager
def plugin_code(plugin_label: str, what: str) -> Iterator[None]:
    """Run a plugin's own code (its import, one of its hooks): its prints go to stderr, a slow one is named.

    Whatever a plugin prints while ganzoo loads it or runs its hooks goes to stderr, so it
    never mixes into a command's output (``--json``). A plugin that takes longer than
    :data:`SLOW_HOOK_SECONDS` is named on stderr: ganzoo waits for it (a hook is the plugin's
    own code), but the user learns who is slow.
    """
    start = _clock()
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        took = _clock() - start
        if took > SLOW_HOOK_SECONDS:
            print(f"ganzoo: plugin {plugin_label!r} took {took:.1f} s in {what}; a plugin should register "
                  "quickly and build, import or download heavy things only when they are used", file=sys.stderr)

@dataclass
class PluginInfo:
    """What ``ganzoo plugins`` shows for one plugin."""

    name: str
    module: str
    distribution: str | None = None
    version: str | None = None
    status: str = "ok"  # "ok" or "broken"
    error: str | None = None  # one line
    registered: dict[str, list[str]] = field(default_factory=dict)  # "models" -> names, ...

    @property
    def label(self) -> str:
        return self.distribution or self.name


class PluginManager:
    """Holds the pluggy manager and the list of plugins with their status."""

    def __init__(self, autoload: bool | None = None):
        self.pm = pluggy.PluginManager("ganzoo")
        self.pm.add_hookspecs(hookspecs)
        self.infos: dict[str, PluginInfo] = {}
        self._recorded: dict[tuple[str, str], set[str]] = {}  # record()'s index of info.registered
        # Bumped whenever a plugin is added or marked broken: registries (and the CLI's plugin
        # commands) built before then rebuild, so a plugin that fails in a later hook loses
        # what earlier hooks registered too.
        self.generation = 0
        # Core plugins, like pytest's built-in ones: the standard losses and datasets. They are
        # found by module name, as entry points are, so this layer never imports the layers
        # above it; unlike entry points they load even when autoload is switched off.
        core = importlib.import_module("ganzoo.core_plugins").CORE
        for module_name in CORE_PLUGINS:
            self.pm.register(core[module_name], name=module_name)
            self._info_for(module_name)
        if autoload is None:
            autoload = os.environ.get(AUTOLOAD_ENV, "").strip().lower() not in ("1", "true", "yes")
        if autoload:
            self.load_entry_points()

    def load_entry_points(self) -> None:
        """Import and register every ``ganzoo`` entry point: ganzoo's own first, then by distribution."""
        seen: set[tuple[str, str]] = set()
        for ep in sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=_entry_point_order):
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
                with plugin_code(info.label, "its import"):
                    plugin = ep.load()
                self.pm.register(plugin, name=ep.name)
                self.pm.check_pending()
            except (Exception, SystemExit) as exc:  # a broken plugin must not break the others
                self._mark_broken(info, exc)
                if self.pm.has_plugin(ep.name):
                    self.pm.unregister(name=ep.name)

    def register(self, plugin: Any, name: str | None = None) -> str:
        """Register a plugin object or module directly (no entry point needed)."""
        from ganzoo.errors import PluginError

        name = name or getattr(plugin, "__name__", None) or repr(plugin)
        try:
            self.pm.register(plugin, name=name)
            self.pm.check_pending()
        except (pluggy.PluginValidationError, ValueError) as exc:  # ValueError: the name is taken
            if self.pm.get_plugin(name) is plugin:
                self.pm.unregister(name=name)
            raise PluginError(f"plugin {name!r} cannot be registered: {' '.join(str(exc).split())}") from exc
        module = getattr(plugin, "__name__", type(plugin).__name__)
        self.infos[name] = PluginInfo(name=name, module=module)
        self.generation += 1
        return name

    def _mark_broken(self, info: PluginInfo, exc: BaseException | str) -> None:
        if isinstance(exc, BaseException):
            if isinstance(exc, SystemExit):
                exc = RuntimeError(f"raised SystemExit({exc.code!r}) while ganzoo loaded it")
            exc = "".join(traceback.format_exception_only(type(exc), exc))
        info.status = "broken"
        info.error = " ".join(exc.split())  # one line, so tables and messages stay readable
        info.registered.clear()  # everything it registered, through every hook, is dropped
        self.generation += 1

    def mark_broken(self, plugin_name: str, exc: BaseException | str) -> None:
        """Record ``plugin_name`` as broken with ``exc`` as its reason (and forget what it registered)."""
        info = self.infos.get(plugin_name)
        if info is None:
            info = self.infos[plugin_name] = PluginInfo(plugin_name, plugin_name)
        self._mark_broken(info, exc)
        info.registered.clear()

    def record(self, plugin_name: str, kind: str, name: str) -> None:
        """Note that ``plugin_name`` registered ``name`` as a ``kind`` (``"models"``, ...)."""
        info = self._info_for(plugin_name)
        names = info.registered.setdefault(kind, [])
        seen = self._recorded.get((plugin_name, kind))
        if seen is None or len(seen) != len(names):  # new, or the list was cleared (broken) since
            seen = self._recorded[(plugin_name, kind)] = set(names)
        if name not in seen:
            names.append(name)
            seen.add(name)

    def _info_for(self, plugin_name: str) -> PluginInfo:
        info = self.infos.get(plugin_name)
        if info is None:
            if plugin_name.startswith("ganzoo."):
                info = PluginInfo(plugin_name, plugin_name, "ganzoo", _ganzoo_version())
            else:
                info = PluginInfo(plugin_name, plugin_name)
            self.infos[plugin_name] = info
        return info

    def call_each(self, hook_name: str, *, after: Callable[[str], None] | None = None, **kwargs: Any) -> None:
        """Call ``hook_name`` on every plugin, one at a time, isolating failures.

        ``kwargs`` values that are :class:`PerPlugin` collectors are bound to each
        plugin first, so registrations know where they came from. ``after(plugin_name)``
        runs after each plugin's hook returned normally (an exception it raises marks
        that plugin broken too).
        """
        hook = getattr(self.pm.hook, hook_name)
        # get_hookimpls() is in registration order (pluggy *calls* them in reverse): keep it.
        for impl in hook.get_hookimpls():
            info = self._info_for(impl.plugin_name)
            if info.status == "broken":
                continue
            bound = {k: (v.bind(impl.plugin_name) if isinstance(v, PerPlugin) else v) for k, v in kwargs.items()}
            try:
                with plugin_code(info.label, hook_name):
                    impl.function(**{a: bound[a] for a in impl.argnames})
                if after is not None:
                    after(impl.plugin_name)
            except (Exception, SystemExit) as exc:
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

    ``check(plugin_name, item, value)`` validates one registration and returns
    ``[(namespace, key, stored), ...]``: what it adds, in which namespaces
    (``"models"``, ``"pretrained"``, ``"losses"``, ``"datasets"``). It raises
    for an invalid registration; :func:`commit` then marks the plugin broken.
    """

    def __init__(self, check: Callable[[str, Any, Any], list[tuple[str, str, Any]]]):
        self._check = check
        self.by_plugin: dict[str, list[tuple[Any, Any]]] = {}

    def bind(self, plugin_name: str) -> Callable[..., None]:
        def register(item: Any, value: Any = None) -> None:
            self.by_plugin.setdefault(plugin_name, []).append((item, value))

        return register

    def drop(self, plugin_name: str) -> None:
        self.by_plugin.pop(plugin_name, None)


def commit(manager: PluginManager, *collectors: PerPlugin) -> dict[str, dict[str, tuple[Any, str]]]:
    """Check and merge what every plugin registered, one plugin at a time, in registration order.

    The first registration of a key keeps it. A plugin whose registrations fail a
    check, or repeat a key an earlier plugin (or itself) registered, is marked broken
    with the reason and contributes nothing; the others are unaffected.

    Returns:
        ``{namespace: {key: (stored, plugin_name)}}``.
    """
    from ganzoo.errors import DuplicateNameError

    result: dict[str, dict[str, tuple[Any, str]]] = {}
    order = list(dict.fromkeys(p for c in collectors for p in c.by_plugin))
    for plugin_name in order:
        if manager.info(plugin_name).status == "broken":
            continue
        staged: list[tuple[str, str, Any]] = []
        staged_keys: set[tuple[str, str]] = set()  # a set: a plugin may register thousands of names
        try:
            for collector in collectors:
                for item, value in collector.by_plugin.get(plugin_name, []):
                    for ns, key, stored in collector._check(plugin_name, item, value):
                        owner = result.get(ns, {}).get(key, (None, None))[1]
                        if owner is None and (ns, key) in staged_keys:
                            owner = plugin_name
                        if owner is not None:
                            what = {"models": "model", "losses": "loss", "datasets": "dataset",
                                    "pretrained": "pretrained id", "feature-networks": "feature network",
                                    "loggers": "logger"}.get(ns, ns)
                            who = ("itself" if owner == plugin_name
                                   else f"{manager.info(owner).label!r}, which was registered first")
                            raise DuplicateNameError(
                                f"registers the {what} {key!r}, already registered by {who}; "
                                "rename it, or uninstall one of the two distributions"
                            )
                        staged.append((ns, key, stored))
                        staged_keys.add((ns, key))
        except Exception as exc:
            manager.mark_broken(plugin_name, exc)
            continue
        for ns, key, stored in staged:
            result.setdefault(ns, {})[key] = (stored, plugin_name)
            manager.record(plugin_name, ns, key)
    return result


def _entry_point_order(ep: importlib.metadata.EntryPoint) -> tuple[int, str, str]:
    dist = getattr(ep, "dist", None)
    name = (dist.metadata["Name"] or "") if dist is not None else ""
    return (0 if name.lower() == "ganzoo" else 1, name.lower(), ep.name)


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
    """Register a plugin module or object directly; the registries see it on their next use.

    Example:
        >>> import types, ganzoo
        >>> mod = types.ModuleType("my_plugin")
        >>> name = ganzoo.plugins.register_plugin(mod, name="my-plugin")
    """
    return get_plugin_manager().register(plugin, name)


def reset(autoload: bool | None = None) -> PluginManager:
    """Forget all plugins and registries and discover again (for tests).

    The registries and the CLI's plugin commands belong to one manager: a new manager
    means they are built again on next use.
    """
    global _manager
    _manager = PluginManager(autoload=autoload)
    return _manager


def list_plugins() -> list[PluginInfo]:
    """Every plugin ganzoo knows of, working or broken."""
    return list(get_plugin_manager().infos.values())

"""The ``ganzoo`` group: plugins' commands (``ganzoo_register_commands``) and one-line errors.

The built-in commands are added to :data:`cli` by :mod:`ganzoo.cli`, which re-exports it.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from ganzoo import __version__
from ganzoo.cli._common import TRACEBACK_ENV, _one_line
from ganzoo.errors import GanzooError

BUILTIN_COMMANDS = ("list", "info", "plugins", "losses", "datasets", "loggers", "train", "bench", "eval", "sample", "save",
                    "pin", "publish", "doctor", "report", "fetch")


class GanzooCLI(click.Group):
    """Adds plugins' commands (``ganzoo_register_commands``) the first time commands are listed,
    and turns ganzoo's errors from any command into one-line messages."""

    _plugins_key: tuple[Any, int] | None = None  # the plugin manager (and its generation) they came from
    _command_plugin: dict[str, str] = {}

    def invoke(self, ctx: click.Context) -> Any:
        if _other_plugins_installed():  # a plugin broken by its commands hook is broken everywhere
            self._load_plugin_commands()
        try:
            return super().invoke(ctx)
        except GanzooError as exc:
            raise click.ClickException(_one_line(exc)) from exc
        except (click.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except Exception as exc:
            plugin_name = self._command_plugin.get(ctx.invoked_subcommand or "")
            if plugin_name is None or os.environ.get(TRACEBACK_ENV, "").strip() not in ("", "0"):
                raise
            from ganzoo.plugins import get_plugin_manager

            label = get_plugin_manager().info(plugin_name).label
            raise click.ClickException(
                f"command {ctx.invoked_subcommand!r} of plugin {label!r} failed: {type(exc).__name__}: "
                f"{_one_line(exc)} (set {TRACEBACK_ENV}=1 to see the traceback)"
            ) from exc

    def forget_plugin_commands(self) -> None:
        """Drop plugins' commands; they are added again on next use."""
        for name in [n for n in self.commands if n not in BUILTIN_COMMANDS]:
            del self.commands[name]
        self._plugins_key = None
        self._command_plugin = {}

    def _load_plugin_commands(self, registration: bool = True) -> None:
        """Add plugins' commands (``ganzoo_register_commands``), once per plugin-set generation.

        ``registration=False`` (listing commands for ``--help``) skips the registration hooks
        (models, losses, datasets): help needs the commands only, and must not wait for a plugin
        that registers thousands of models or is slow to. A command runs after them all
        (:meth:`invoke`), so a plugin broken in a registration hook still adds no command that runs.
        """
        from ganzoo import registry
        from ganzoo.plugins import get_plugin_manager

        manager = get_plugin_manager()
        if registration:
            registry._get()  # the registration hooks first: a plugin broken there adds no command
        if self._plugins_key is not None:
            if self._plugins_key[0] is manager and self._plugins_key[1] == manager.generation:
                return
            self.forget_plugin_commands()  # plugins changed since (register_plugin, reset): add theirs anew
        self._plugins_key = (manager, manager.generation)
        self._command_plugin = {}
        broken_before = {i.name for i in manager.broken()}
        builtin = {name: self.commands[name] for name in BUILTIN_COMMANDS if name in self.commands}
        known = dict(self.commands)

        def after(plugin_name: str) -> None:
            label = manager.info(plugin_name).label
            for name, cmd in list(self.commands.items()):
                if known.get(name) is cmd:
                    continue
                if name in known:  # the first command of a name keeps it: built-ins, then plugins in order
                    what = "built-in command" if name in builtin else "command of an earlier plugin"
                    print(f"ganzoo: plugin {label!r} tried to replace the {what} {name!r}; ignored",
                          file=sys.stderr)
                    self.commands[name] = known[name]
                else:
                    known[name] = cmd
                    self._command_plugin[name] = plugin_name
                    manager.record(plugin_name, "commands", name)

        manager.call_each("ganzoo_register_commands", cli=self, after=after)
        self.commands = dict(known)  # drops what a failing hook added before it raised
        self._plugins_key = (manager, manager.generation)  # a plugin broken just now is part of this state
        for info in manager.broken():
            if info.name not in broken_before:
                print(f"ganzoo: plugin {info.label!r} failed to add its commands: {info.error}", file=sys.stderr)

    def list_commands(self, ctx: click.Context) -> list[str]:
        if _other_plugins_installed():  # only those can add commands; ganzoo's own models add none
            self._load_plugin_commands(registration=False)  # --help: the commands hook only
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in BUILTIN_COMMANDS:
            # A command that runs went through invoke(), which ran the registration hooks first.
            self._load_plugin_commands(registration=False)
        return super().get_command(ctx, name)


def _other_plugins_installed() -> bool:
    """Whether a distribution other than ganzoo has a ``ganzoo`` entry point (or one was registered).

    ganzoo's built-in plugins (its model families) register no commands, and loading them
    imports torch (seconds): ``ganzoo --help`` only loads plugins when another one may add a
    command.
    """
    import importlib.metadata

    from ganzoo import plugins

    if plugins._manager is not None:  # loaded already (a notebook, a test): plugins registered directly count
        return True
    for ep in importlib.metadata.entry_points(group=plugins.ENTRY_POINT_GROUP):
        dist = getattr(ep, "dist", None)
        if dist is None or dist.metadata["Name"] != "ganzoo":
            return True
    return False


@click.group(cls=GanzooCLI, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ganzoo")
def cli() -> None:
    """ganzoo: train, evaluate, load and publish classic GANs."""

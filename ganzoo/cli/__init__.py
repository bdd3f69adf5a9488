"""The ``ganzoo`` command line: a thin layer over the Python API.

Public for command plugins and their tests: :data:`cli` (the top-level group; use it with
``click.testing.CliRunner``), :func:`friendly_errors`, :func:`parse_model_args` and
:func:`model_arg_option`. Every command, built-in or plugin, runs under the group's error
handling: a :class:`ganzoo.errors.GanzooError` prints as one line, without a traceback.

One module per command group, each importing only :mod:`ganzoo.cli._common` (and the group,
:mod:`ganzoo.cli._group`) from this package:

- :mod:`ganzoo.cli.models`: ``list``, ``info``, ``plugins``, ``losses``, ``datasets``, ``loggers``
- :mod:`ganzoo.cli.training`: ``train``, ``bench``
- :mod:`ganzoo.cli.evaluate`: ``eval`` (and the toy metrics of ``save --eval``)
- :mod:`ganzoo.cli.fetch`: ``fetch`` (the FID Inception-v3 weights)
- :mod:`ganzoo.cli.bundles`: ``sample``, ``save``, ``pin``, ``publish``
- :mod:`ganzoo.cli.runs`: ``doctor``, ``report``

The commands import torch and the rest of ganzoo inside their bodies, so ``ganzoo --help``
stays fast.
"""

from __future__ import annotations

from ganzoo.cli._common import TRACEBACK_ENV, friendly_errors, model_arg_option, parse_model_args
from ganzoo.cli._group import BUILTIN_COMMANDS, GanzooCLI, cli
from ganzoo.cli.bundles import pin, publish, sample, save_cmd
from ganzoo.cli.evaluate import eval_cmd
from ganzoo.cli.fetch import fetch
from ganzoo.cli.models import datasets, info, list_cmd, loggers, losses, plugins
from ganzoo.cli.runs import doctor, report
from ganzoo.cli.training import bench, train

__all__ = ["BUILTIN_COMMANDS", "TRACEBACK_ENV", "GanzooCLI", "cli", "friendly_errors", "main", "model_arg_option",
           "parse_model_args"]

for _command in (list_cmd, info, plugins, losses, datasets, loggers, train, bench, eval_cmd, sample, save_cmd, pin, publish,
                 doctor, report, fetch):
    cli.add_command(_command)
del _command


def main() -> None:
    cli(prog_name="ganzoo")


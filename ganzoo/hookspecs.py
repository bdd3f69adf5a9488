"""The hooks a ganzoo plugin can implement.

Every hook is an empty, typed function; its docstring says when ganzoo calls it,
what each argument is and what it returns. A plugin is any module (or object)
with functions of the same names decorated with :data:`ganzoo.hookimpl`, made
known to ganzoo through the ``ganzoo`` entry-point group::

    # pyproject.toml of the plugin distribution
    [project.entry-points.ganzoo]
    mygan = "ganzoo_mygan"

Registration hooks receive a ``register`` callback instead of returning lists,
so a plugin can add several things, or none, in one call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import click

    from ganzoo.specs import DatasetSpec, FeatureNetworkSpec, LoggerSpec, LossFactory, ModelSpec

hookspec = pluggy.HookspecMarker("ganzoo")


@hookspec
def ganzoo_register_models(register: Callable[[ModelSpec], None]) -> None:
    """Register model families.

    Called once, the first time the model registry is needed (``ganzoo list``,
    :func:`ganzoo.create`, :func:`ganzoo.train`, ...), for every plugin.

    Args:
        register: call ``register(spec)`` with a :class:`ganzoo.ModelSpec` for
            each model the plugin provides. Model names are lowercase with
            hyphens and must be unique across all installed plugins: a second
            plugin registering the same name is an error naming both
            distributions.

    Returns:
        Nothing; results of the callback are collected by ganzoo.
    """


@hookspec
def ganzoo_register_losses(register: Callable[[str, LossFactory], None]) -> None:
    """Register GAN losses by name.

    Called once, the first time the loss registry is needed, for every plugin.

    Args:
        register: call ``register(name, factory)`` where ``factory(**kwargs)``
            returns a :class:`ganzoo.GANLoss` (a ``GANLoss`` subclass is a valid
            factory). Names must be unique across plugins.

    Returns:
        Nothing.
    """


@hookspec
def ganzoo_register_datasets(register: Callable[[DatasetSpec], None]) -> None:
    """Register training datasets.

    Called once, the first time the dataset registry is needed, for every plugin.

    Args:
        register: call ``register(spec)`` with a :class:`ganzoo.data.DatasetSpec`;
            its ``load(root, split, download, image_shape)`` returns a
            :class:`ganzoo.data.TensorDataset`.

    Returns:
        Nothing.
    """


@hookspec
def ganzoo_register_commands(cli: click.Group) -> None:
    """Add commands to the ``ganzoo`` command line.

    Called once when the ``ganzoo`` command starts, for every plugin.

    Args:
        cli: the top-level :class:`click.Group`; call ``cli.add_command(cmd)``.
            A plugin must not replace a built-in command.

    Returns:
        Nothing.
    """


@hookspec
def ganzoo_register_feature_networks(register: Callable[[FeatureNetworkSpec], None]) -> None:
    """Register feature networks: what scores a dataset's generated images.

    Called once, the first time the feature-network registry is needed (``ganzoo eval``,
    :func:`ganzoo.metrics.evaluate`, ``--eval-every``, ``--verify``), for every plugin.

    Args:
        register: call ``register(spec)`` with a :class:`ganzoo.specs.FeatureNetworkSpec`
            naming the datasets (or dataset kinds) it scores and a ``load(device)`` that
            returns the network (building it, reading its weights) only when evaluation
            needs it. Names are unique across plugins; the first network registered for a
            dataset scores it (ganzoo's own first), later ones are cross-checks only when
            their spec says ``cross_check=True``.

    Returns:
        Nothing.
    """


@hookspec
def ganzoo_register_loggers(register: Callable[[LoggerSpec], None]) -> None:
    """Register loggers: where a run's metrics and sample grids go besides ``metrics.jsonl``.

    Called once, the first time the logger registry is needed (``ganzoo train --logger``,
    ``ganzoo loggers``), for every plugin.

    Args:
        register: call ``register(spec)`` with a :class:`ganzoo.specs.LoggerSpec` whose
            ``create()`` returns a :class:`ganzoo.loggers.Logger`. Names are unique across
            plugins (``tensorboard`` is ganzoo's own).

    Returns:
        Nothing.
    """

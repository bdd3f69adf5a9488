"""What is there: ``ganzoo list``, ``info``, ``plugins``, ``losses`` and ``datasets``."""

from __future__ import annotations

import json
from typing import Any

import click

from ganzoo.cli._common import _table, friendly_errors
from ganzoo.cli._group import cli
from ganzoo.errors import GanzooError


@click.command("list", short_help="List registered models (or pretrained ids with --pretrained).")
@click.argument("pattern", default="*")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--pretrained", is_flag=True, help="List pretrained generators (ids for `ganzoo.load`) instead.")
@friendly_errors
def list_cmd(pattern: str, as_json: bool, pretrained: bool) -> None:
    """List registered models (optionally matching a wildcard PATTERN)."""
    if pretrained:
        _list_pretrained(pattern, as_json)
    else:
        _list_models(pattern, as_json)


def _list_pretrained(pattern: str, as_json: bool) -> None:
    """``ganzoo list --pretrained``: the pretrained ids, what each is and where it comes from."""
    import ganzoo

    entries = []
    for pid in ganzoo.list_pretrained(pattern):
        spec, e = ganzoo.get_pretrained(pid)
        entries.append({"id": pid, "model": spec.name, "dataset": e.dataset, "hub": f"{e.hub_repo}@{e.revision}" if e.hub_repo else "",
                        "shipped": bool(e.bundle), "description": e.description})
    if as_json:
        click.echo(json.dumps(entries, indent=2))
    else:
        click.echo(_table([[e["id"], e["model"], e["dataset"], "yes" if e["shipped"] else "no", e["hub"],
                            e["description"]] for e in entries],
                          ["id", "model", "dataset", "offline", "hub", "description"]))


def _list_models(pattern: str, as_json: bool) -> None:
    """``ganzoo list``: the registered models and the plugin (and distribution) of each."""
    import ganzoo
    from ganzoo.plugins import get_plugin_manager

    manager = get_plugin_manager()
    rows = []
    for name in ganzoo.list_models(pattern):
        spec = ganzoo.get_spec(name)
        info = manager.info(spec.plugin)
        rows.append({
            "name": name,
            "family": spec.family,
            "conditional": spec.conditional,
            "plugin": spec.plugin,
            "distribution": info.distribution or "",
            "description": spec.description,
        })
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows and pattern == "*":
        click.echo(_no_models_hint(), err=True)
        return
    click.echo(_table(
        [[r["name"], r["family"], "yes" if r["conditional"] else "no", f"{r['plugin']} ({r['distribution']})" if r["distribution"] else r["plugin"]] for r in rows],
        ["name", "family", "conditional", "plugin"],
    ))
    broken = manager.broken()
    if broken:
        click.echo(f"\n{len(broken)} plugin(s) failed to load; `ganzoo plugins` shows why.", err=True)


def _no_models_hint() -> str:
    """Why ``ganzoo list`` is empty, and what to do."""
    import os

    from ganzoo.plugins import AUTOLOAD_ENV

    if os.environ.get(AUTOLOAD_ENV, "").strip().lower() in ("1", "true", "yes"):
        return (f"no models registered: {AUTOLOAD_ENV}={os.environ[AUTOLOAD_ENV]} turns plugin discovery off, and "
                "the built-in models (vanilla, dcgan, wgan-gp, cgan) are plugins too. Unset it to load them, or "
                "register a plugin module from Python with ganzoo.plugins.register_plugin(module)")
    return ("no models registered: no installed plugin registers any (`ganzoo plugins` shows what was found). "
            "Reinstall ganzoo (pip install -e '.[dev]' in a checkout) to get the built-in ones")


@click.command(short_help="Show a model's paper, defaults, recipe, losses and pretrained ids.")
@click.argument("name")
@friendly_errors
def info(name: str) -> None:
    """Show a model's paper, defaults, training recipe, pretrained ids, and its fit with losses.

    `accepts` is which losses it takes (its accepts_losses and needs_from_loss); `offers`
    is what the model offers to losses (with the reason for each capability it lacks),
    read off the networks built with its defaults, so it comes last.
    """
    import ganzoo

    spec = ganzoo.get_spec(name)
    click.echo(f"{spec.name}: {spec.description}")
    click.echo(f"  family:        {spec.family}")
    click.echo(f"  paper:         {spec.paper}")
    click.echo(f"  plugin:        {spec.plugin}")
    click.echo("  defaults:      " + ", ".join(f"{k}={v}" for k, v in spec.defaults.items()))
    click.echo("  training:      " + ", ".join(f"{k}={v}" for k, v in _recipe_fields(spec.train, keep_empty=True).items()))
    click.echo("  losses:        " + ", ".join(spec.compatible_losses))
    click.echo("  accepts:       " + _accepts(spec))
    click.echo("  datasets:      " + ", ".join(spec.datasets))
    for dataset, recipe in spec.recipes.items():
        label = f"on {dataset}:"
        click.echo(f"  {label:<14} " + ", ".join(f"{k}={v}" for k, v in _recipe_fields(recipe).items()))
    click.echo("  pretrained:    " + (", ".join(spec.pretrained) or "(none yet)"))
    # Everything above is the plugin's registration (no torch). What the model offers to
    # losses is read off its built networks, so it comes last: the rest is already on screen.
    for label, text in _offers(spec):
        click.echo(f"  {label:<14} {text}")


def _accepts(spec: Any) -> str:
    """``ganzoo info``'s ``accepts:`` line: which losses the model takes (its accepts_losses and needs_from_loss)."""
    accepts = []
    if spec.accepts_losses is not None:
        accepts.append("only " + ", ".join(spec.accepts_losses))
    if spec.needs_from_loss:
        accepts.append("losses that provide " + ", ".join(spec.needs_from_loss))
    return "; ".join(accepts) or "any loss whose needs it offers"


def _offers(spec: Any) -> list[tuple[str, str]]:
    """``ganzoo info``'s ``offers:`` (and ``lacks:``, with why) lines: read off the model built with its defaults."""
    import warnings

    import ganzoo

    try:
        from ganzoo.factory import offered  # torch: a broken install still shows the rest

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            have = offered(ganzoo.create(spec.name, allow_incompatible=True))
    except Exception as exc:  # noqa: BLE001  (a model that cannot be built with its defaults: the rest is still shown)
        first = (str(exc).strip().splitlines() or [""])[0][:200]
        return [("offers:", f"(cannot build it with its defaults to inspect: {type(exc).__name__}: {first})")]
    offers = ", ".join(c for c, why in have.items() if not why)
    lacks = [f"{c} ({why})" for c, why in have.items() if why]
    return [("offers:", offers or "nothing")] + ([("lacks:", "; ".join(lacks))] if lacks else [])


def _recipe_fields(recipe: Any, keep_empty: bool = False) -> dict[str, Any]:
    """A TrainDefaults as shown by `ganzoo info`: the decay settings only when the rate decays."""
    import dataclasses

    shown = {k: v for k, v in dataclasses.asdict(recipe).items() if keep_empty or v not in (None, {})}
    if shown.get("lr_schedule") == "constant":
        shown.pop("lr_schedule")
        shown.pop("lr_decay_start", None)
    return shown


@click.command(short_help="List plugins, their versions and status (and why one broke).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def plugins(ctx: click.Context, as_json: bool) -> None:
    """List plugins: name, version, distribution, status, what each registered, and why broken ones failed."""
    import dataclasses

    from ganzoo import registry
    from ganzoo.plugins import list_plugins
    from ganzoo.registry import list_datasets

    for build in (registry.list_models, list_datasets):  # run the hooks so hook failures show up
        try:
            build()
        except GanzooError as exc:
            click.echo(f"ganzoo: {exc}", err=True)
    cli._load_plugin_commands()
    infos = list_plugins()
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(i) for i in infos], indent=2))
        return
    rows = [[i.name, i.version or "", i.distribution or "(registered directly)", i.status,
             i.error if i.status == "broken" else _registered(i.registered)] for i in infos]
    click.echo(_table(rows, ["plugin", "version", "distribution", "status", "registered / error"]))


def _registered(registered: dict[str, list[str]]) -> str:
    order = ("models", "pretrained", "losses", "datasets", "feature-networks", "loggers", "commands")
    parts = [f"{kind}: {', '.join(registered[kind])}" for kind in order if registered.get(kind)]
    return "; ".join(parts) or "nothing"


@click.command(short_help="List losses, what each needs from a model and provides to it.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def losses(as_json: bool) -> None:
    """List registered losses: what each needs from a model and provides to it, n_critic, plugin.

    A model trains with a loss when it offers what the loss needs and the loss provides
    what the model needs from its losses (`ganzoo info MODEL` shows what a model offers
    and accepts).
    """
    import ganzoo
    from ganzoo.factory import provided
    from ganzoo.registry import loss_plugin

    rows = []
    for name in ganzoo.list_losses():
        try:
            loss = ganzoo.create_loss(name)
        except Exception as exc:  # a loss that needs arguments, or a broken factory: still list it
            rows.append({"name": name, "needs": [], "provides": [], "n_critic": None, "plugin": loss_plugin(name),
                         "description": f"(cannot build with defaults: {exc})"})
            continue
        doc = (type(loss).__doc__ or "").strip().splitlines()
        rows.append({"name": name, "needs": list(loss.needs), "provides": list(provided(loss)),
                     "n_critic": loss.n_critic, "plugin": loss_plugin(name),
                     "description": doc[0].replace("``", "") if doc else ""})
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(_table([[r["name"], ", ".join(r["needs"]) or "-", ", ".join(r["provides"]) or "-", r["n_critic"] or "",
                        r["plugin"], r["description"]]
                       for r in rows], ["name", "needs", "provides", "n_critic", "plugin", "description"]))


@click.command(short_help="List datasets: shape, classes and kind.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def datasets(as_json: bool) -> None:
    """List registered datasets: shape, classes, kind (recipes are chosen by name, then kind) and plugin."""
    from ganzoo.registry import get_dataset_spec, list_datasets

    rows = []
    for name in list_datasets():
        s = get_dataset_spec(name)
        rows.append({"name": name, "shape": list(s.shape) if s.shape else None, "classes": s.num_classes,
                     "kind": s.kinds[0], "plugin": s.plugin, "description": s.description})
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(_table([[r["name"], "x".join(map(str, r["shape"])) if r["shape"] else "any", str(r["classes"] or ""),
                        r["kind"], r["description"]] for r in rows],
                      ["name", "shape", "classes", "kind", "description"]))


@click.command(short_help="List loggers (where metrics and grids go besides metrics.jsonl).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def loggers(as_json: bool) -> None:
    """List registered loggers: `ganzoo train --logger NAME` turns one on, and whether each can run here.

    metrics.jsonl is always written; a logger is an extra destination. Plugins add loggers
    through the ganzoo_register_loggers hook.
    """
    from ganzoo.registry import get_logger_spec, list_loggers

    rows = []
    for name in list_loggers():
        s = get_logger_spec(name)
        try:
            problem = s.ready() if s.ready is not None else None
        except Exception as exc:  # noqa: BLE001  (a plugin's ready(): listed anyway, with its error)
            problem = f"its ready() failed: {type(exc).__name__}: {exc}"
        rows.append({"name": name, "ready": problem is None, "missing": problem or "", "plugin": s.plugin,
                     "description": s.description})
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(_table([[r["name"], "yes" if r["ready"] else f"no: {r['missing']}", r["plugin"], r["description"]]
                       for r in rows], ["name", "ready", "plugin", "description"]))

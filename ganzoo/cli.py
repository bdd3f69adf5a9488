"""The ``ganzoo`` command line: a thin layer over the Python API.

Public for command plugins and their tests: :data:`cli` (the top-level group; use it with
``click.testing.CliRunner``), :func:`friendly_errors`, :func:`parse_model_args` and
:func:`model_arg_option`. Every command, built-in or plugin, runs under the group's error
handling: a :class:`ganzoo.errors.GanzooError` prints as one line, without a traceback.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ganzoo import __version__
from ganzoo.errors import GanzooError

BUILTIN_COMMANDS = ("list", "info", "plugins", "losses", "datasets", "train", "bench", "eval", "sample", "save",
                    "pin", "publish")


def friendly_errors(fn: Callable) -> Callable:
    """Print ganzoo's own errors (user mistakes) as one clear message, no traceback.

    The ``ganzoo`` group already does this for every command, plugins' included; the
    decorator is for a click command used outside the group.

    Example:
        >>> import click
        >>> from ganzoo.cli import friendly_errors
        >>> from ganzoo.errors import ConfigError
        >>> @click.command()
        ... @friendly_errors
        ... def hello():
        ...     raise ConfigError("bad value 'x'; use 'y'")
    """

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except GanzooError as exc:
            raise click.ClickException(_one_line(exc)) from exc

    return wrapper


TRACEBACK_ENV = "GANZOO_TRACEBACK"


def _one_line(exc: BaseException) -> str:
    """An error message on one line (its lines joined with "; ")."""
    return "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())


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

    def _load_plugin_commands(self) -> None:
        from ganzoo import registry
        from ganzoo.plugins import get_plugin_manager

        manager = get_plugin_manager()
        registry._get()  # the registration hooks first: a plugin broken there adds no command
        if self._plugins_key is not None:
            if self._plugins_key[0] is manager and self._plugins_key[1] == manager.generation:
                return
            self.forget_plugin_commands()  # plugins changed since (register_plugin, reset): add theirs anew
        self._plugins_key = (manager, manager.generation)
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
            self._load_plugin_commands()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in BUILTIN_COMMANDS:
            self._load_plugin_commands()
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


def parse_model_args(values: tuple[str, ...] | list[str], param_hint: str = "--model-arg") -> dict[str, Any]:
    """``KEY=VALUE`` strings to a dict; each value is read as JSON when it parses, else kept as text.

    A value in Python's tuple syntax, ``(2,)`` or ``(1, 28, 28)``, becomes a tuple.

    Example:
        >>> from ganzoo.cli import parse_model_args
        >>> parse_model_args(("latent_dim=64", "data_shape=[3,32,32]", "name=x"))
        {'latent_dim': 64, 'data_shape': [3, 32, 32], 'name': 'x'}
    """
    out: dict[str, Any] = {}
    for item in values:
        if "=" not in item:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint=param_hint)
        key, raw = item.split("=", 1)
        if key in out:
            raise click.BadParameter(f"{key!r} is given twice ({out[key]!r} and {raw!r}); give it once",
                                     param_hint=param_hint)
        text = raw.strip()
        as_tuple = text.startswith("(") and text.endswith(")")  # Python's syntax: (2,) or (1, 28, 28)
        if as_tuple:
            text = "[" + text[1:-1].strip().rstrip(",") + "]"
        try:
            value = json.loads(text)
            out[key] = tuple(value) if as_tuple and isinstance(value, list) else value
        except (ValueError, RecursionError):
            out[key] = raw
    return out


def model_arg_option(fn: Callable) -> Callable:
    """The ``--model-arg KEY=VALUE`` option of the built-in commands, for a plugin's command.

    The command receives ``model_args`` already parsed into a dict (see :func:`parse_model_args`).

    Example:
        >>> import click
        >>> from ganzoo.cli import model_arg_option
        >>> @click.command()
        ... @click.argument("model")
        ... @model_arg_option
        ... def build(model, model_args):
        ...     click.echo(f"{model} {model_args}")
    """
    return click.option(
        "--model-arg", "model_args", multiple=True, metavar="KEY=VALUE",
        callback=lambda ctx, param, value: parse_model_args(value),
        help="Model constructor override, e.g. latent_dim=64 (repeatable).",
    )(fn)


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*header), fmt.format(*("-" * w for w in widths))]
    lines += [fmt.format(*(str(c) for c in r)) for r in rows]
    return "\n".join(line.rstrip() for line in lines)


@cli.command("list", short_help="List registered models (or pretrained ids with --pretrained).")
@click.argument("pattern", default="*")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--pretrained", is_flag=True, help="List pretrained generators (ids for `ganzoo.load`) instead.")
@friendly_errors
def list_cmd(pattern: str, as_json: bool, pretrained: bool) -> None:
    """List registered models (optionally matching a wildcard PATTERN)."""
    import ganzoo
    from ganzoo.plugins import get_plugin_manager

    if pretrained:
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
        return
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


@cli.command(short_help="Show a model's paper, defaults, recipe and pretrained ids.")
@click.argument("name")
@friendly_errors
def info(name: str) -> None:
    """Show a model's paper, defaults, training recipe and pretrained ids."""
    import ganzoo

    spec = ganzoo.get_spec(name)
    click.echo(f"{spec.name}: {spec.description}")
    click.echo(f"  family:        {spec.family}")
    click.echo(f"  paper:         {spec.paper}")
    click.echo(f"  plugin:        {spec.plugin}")
    click.echo("  defaults:      " + ", ".join(f"{k}={v}" for k, v in spec.defaults.items()))
    click.echo("  training:      " + ", ".join(f"{k}={v}" for k, v in _recipe_fields(spec.train, keep_empty=True).items()))
    click.echo("  losses:        " + ", ".join(spec.compatible_losses))
    click.echo("  datasets:      " + ", ".join(spec.datasets))
    for dataset, recipe in spec.recipes.items():
        label = f"on {dataset}:"
        click.echo(f"  {label:<14} " + ", ".join(f"{k}={v}" for k, v in _recipe_fields(recipe).items()))
    click.echo("  pretrained:    " + (", ".join(spec.pretrained) or "(none yet)"))


def _recipe_fields(recipe: Any, keep_empty: bool = False) -> dict[str, Any]:
    """A TrainDefaults as shown by `ganzoo info`: the decay settings only when the rate decays."""
    import dataclasses

    shown = {k: v for k, v in dataclasses.asdict(recipe).items() if keep_empty or v not in (None, {})}
    if shown.get("lr_schedule") == "constant":
        shown.pop("lr_schedule")
        shown.pop("lr_decay_start", None)
    return shown


@cli.command(short_help="List plugins, their versions and status (and why one broke).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def plugins(ctx: click.Context, as_json: bool) -> None:
    """List plugins: name, version, distribution, status, what each registered, and why broken ones failed."""
    import dataclasses

    from ganzoo import registry
    from ganzoo.data import list_datasets
    from ganzoo.plugins import list_plugins

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
    order = ("models", "pretrained", "losses", "datasets", "commands")
    parts = [f"{kind}: {', '.join(registered[kind])}" for kind in order if registered.get(kind)]
    return "; ".join(parts) or "nothing"


@cli.command(short_help="List losses and what each needs from a model.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def losses(as_json: bool) -> None:
    """List registered losses: what each needs from a model, n_critic, and its plugin.

    A model trains with a loss when it offers what the loss needs (`ganzoo info MODEL`
    shows what a model offers).
    """
    import ganzoo
    from ganzoo.registry import loss_plugin

    rows = []
    for name in ganzoo.list_losses():
        try:
            loss = ganzoo.create_loss(name)
        except Exception as exc:  # a loss that needs arguments, or a broken factory: still list it
            rows.append({"name": name, "needs": [], "n_critic": None, "plugin": loss_plugin(name),
                         "description": f"(cannot build with defaults: {exc})"})
            continue
        doc = (type(loss).__doc__ or "").strip().splitlines()
        rows.append({"name": name, "needs": list(loss.needs), "n_critic": loss.n_critic,
                     "plugin": loss_plugin(name), "description": doc[0].replace("``", "") if doc else ""})
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    click.echo(_table([[r["name"], ", ".join(r["needs"]) or "-", r["n_critic"] or "", r["plugin"], r["description"]]
                       for r in rows], ["name", "needs", "n_critic", "plugin", "description"]))


@cli.command(short_help="List datasets: shape, classes and kind.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def datasets(as_json: bool) -> None:
    """List registered datasets: shape, classes, kind (recipes are chosen by name, then kind) and plugin."""
    from ganzoo.data import get_dataset_spec, list_datasets

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


_parse_kv = parse_model_args  # the old private name


def _execution_options(fn: Callable) -> Callable:
    """How the training step runs (`ganzoo train`, `ganzoo bench`): --device, --precision, --cuda-graph, --compile."""
    options = [
        click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N."),
        click.option("--precision", type=click.Choice(["auto", "fp32", "bf16"]), default="auto", show_default=True),
        click.option("--cuda-graph/--no-cuda-graph", default=True, show_default=True,
                     help="Capture the step as one CUDA graph on CUDA."),
        click.option("--compile", "compile", is_flag=True,
                     help="torch.compile G and D (eager, with a notice, if compiling fails)."),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


@cli.command(short_help="Train MODEL on a dataset; a run directory with checkpoints.")
@click.argument("model")
@click.option("--dataset", help="Dataset name (default: the model's first listed dataset). `ganzoo datasets` lists them.")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Dataset root (default $GANZOO_DATA or ~/.cache/ganzoo/data).")
@click.option("--download/--no-download", default=True, show_default=True, help="Download missing datasets when online.")
@click.option("--epochs", type=float, help="Passes over the data (default: the model's recipe for the dataset, else 1).")
@click.option("--steps", type=int, help="Generator steps (overrides --epochs).")
@click.option("--batch-size", type=int, help="Batch size per process (default: the model's recipe).")
@click.option("--lr-g", type=float, help="Generator learning rate.")
@click.option("--lr-d", type=float, help="Discriminator learning rate.")
@click.option("--lr-schedule", type=click.Choice(["constant", "linear", "cosine"]),
              help="Learning-rate schedule: constant, or linear/cosine decay to zero at the last step (default: the recipe's).")
@click.option("--lr-decay-start", type=float, help="Fraction of the run at the full rate before the decay starts (default 0).")
@click.option("--beta1", type=float, help="Adam beta1 (with --beta2; default: the model's recipe).")
@click.option("--beta2", type=float, help="Adam beta2.")
@click.option("--loss", help="Loss name (default: the model's recipe); `ganzoo losses` lists them with their needs.")
@click.option("--force-loss", is_flag=True,
              help="Train with --loss even if the model lacks what it needs (a warning instead of an error).")
@click.option("--n-critic", type=int, help="Discriminator steps per generator step.")
@click.option("--ema/--no-ema", default=None, help="Keep an EMA of the generator (default on).")
@click.option("--ema-decay", type=float, help="EMA decay per step (default 0.999).")
@_execution_options
@click.option("--seed", type=int, help="Random seed (default 0).")
@click.option("--out", type=click.Path(file_okay=False), help="Run directory (default runs/<model>-<dataset>-<time>).")
@click.option("--resume", type=click.Path(file_okay=False),
              help="Continue the run in this directory (its own settings; new --lr-g/--lr-d and a longer "
                   "--steps/--epochs are taken, settings that define the run are refused).")
@click.option("--sample-every", type=int, help="Steps between sample grids (default 500).")
@click.option("--checkpoint-every", type=int, help="Steps between checkpoints (default 1000).")
@click.option("--log-every", type=int, help="Steps between lines of metrics.jsonl (default 50).")
@click.option("--eval-every", type=int, help="Score samples (FID, KID, IS, precision, recall) every N steps into metrics.jsonl.")
@click.option("--eval-n", type=int, help="Samples per evaluation during training (default 2000).")
@click.option("--model-arg", "model_args", multiple=True, metavar="KEY=VALUE", help="Model constructor override, e.g. latent_dim=64 (repeatable).")
@click.option("--tensorboard", is_flag=True, help="Also log to TensorBoard (needs tensorboard installed).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@friendly_errors
def train(model: str, beta1: float | None, beta2: float | None, model_args: tuple[str, ...], **kwargs: Any) -> None:
    """Train MODEL, e.g. `ganzoo train dcgan --dataset mnist --epochs 1`."""
    from ganzoo.engine import TrainConfig, Trainer

    if (beta1 is None) != (beta2 is None):
        raise click.UsageError("give both --beta1 and --beta2, or neither")
    config = TrainConfig(model=model, model_args=_parse_kv(model_args),
                         betas=(beta1, beta2) if beta1 is not None else None, **kwargs)
    try:
        trainer = Trainer(config)
        finished = trainer.step >= trainer.total_steps
        trainer.fit()  # a finished run says so, and how to lengthen it
    except KeyboardInterrupt as exc:
        click.echo(f"\nganzoo: {exc or 'interrupted'}", err=True)
        sys.exit(130)
    if trainer.is_main and not finished:
        click.echo(f"done: {trainer.step} steps; run directory {trainer.run_dir}")
        click.echo(_next_steps(trainer))


def _next_steps(trainer: Any) -> str:
    """What to do with a finished run: the commands, with its path."""
    import shlex

    run = shlex.quote(str(trainer.run_dir))
    cfg = trainer.config
    lines = ["next:",
             f"  ganzoo sample {run} -n 64 -o {shlex.quote(str(trainer.run_dir / 'grid.png'))}   # samples",
             f"  ganzoo save {run} {shlex.quote(f'{cfg.model}-{cfg.dataset}-bundle')} --eval   # a bundle to load or publish"]
    if cfg.dataset in ("mnist", "fashion-mnist"):
        extra = "" if cfg.dataset == "mnist" else f" --dataset {cfg.dataset}"
        lines.append(f"  ganzoo eval {run}{extra}   # FID, KID, IS, precision, recall")
    lines.append(f"  ganzoo train {cfg.model} --resume {run} --steps {2 * trainer.step}   # train on")
    return "\n".join(lines)


@cli.command(short_help="Training speed of MODEL on this machine, in images/s.")
@click.argument("model")
@click.option("--dataset", help="Its dataset (default: the model's first); sets the data's shape and labels.")
@click.option("--batch-size", "batch_sizes", metavar="N[,N...]", help="One or more batch sizes (default: the model's recipe).")
@_execution_options
@click.option("--seconds", type=float, default=3.0, show_default=True, help="About how long each timed run lasts.")
@click.option("--real-data", is_flag=True, help="Time on the dataset's files (--data-dir) instead of random data of its shape.")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Dataset root for --real-data.")
@click.option("--model-arg", "model_args", multiple=True, metavar="KEY=VALUE", help="Model constructor override (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@friendly_errors
def bench(model: str, dataset: str | None, batch_sizes: str | None, real_data: bool, model_args: tuple[str, ...],
          as_json: bool, **kwargs: Any) -> None:
    """Training speed of MODEL on this machine, in images/s, e.g. `ganzoo bench dcgan --batch-size 64,512`.

    Runs the same training step as `ganzoo train` (after warm-up; CUDA graph, bf16 and
    channels-last on CUDA) on random data of the dataset's shape, so no download is needed.
    """
    from ganzoo.benchmark import throughput

    try:
        sizes = [int(b) for b in batch_sizes.split(",")] if batch_sizes else [None]
    except ValueError:
        raise click.BadParameter(f"{batch_sizes!r} is not a comma-separated list of integers, e.g. 64,512",
                                 param_hint="--batch-size") from None
    rows = [throughput(model, dataset=dataset, batch_size=b, synthetic=not real_data, model_args=_parse_kv(model_args),
                       **kwargs) for b in sizes]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    r0 = rows[0]
    click.echo(f"{r0['model']} on {r0['dataset']}{' (random data of its shape)' if r0['synthetic'] else ''}, "
               f"device {r0['device']}, {r0['precision']}")
    click.echo(_table([[r["batch_size"], f"{r['images_per_s']:,.0f}", f"{r['steps_per_s']:,.1f}",
                        "yes" if r["cuda_graph"] else "no"] + (["yes" if r["compiled"] else "no"] if kwargs["compile"] else [])
                       for r in rows],
                      ["batch", "images/s", "steps/s", "CUDA graph"] + (["compiled"] if kwargs["compile"] else [])))


def _bundle_receipt(ref: str) -> dict:
    """The first evaluation receipt recorded in the bundle that REF names."""
    from pathlib import Path

    from ganzoo.zoo import BUNDLE_FILE, bundle_folder, read_bundle_meta

    if Path(ref).exists() and not (Path(ref) / BUNDLE_FILE).is_file():
        raise click.UsageError(f"{ref!r} is not a bundle with receipts; give the receipt file: --verify RECEIPT.json")
    folder, _ = bundle_folder(ref)
    receipts = read_bundle_meta(folder).get("evaluation") or []
    if not receipts:
        raise click.UsageError(f"the bundle {folder} records no evaluation; run `ganzoo eval {ref}` instead")
    return receipts[0]


def _resolve_generator(ref: str, ema: bool):
    """A pretrained id, bundle, run directory or hf-hub: reference; else a model name (untrained)."""
    from pathlib import Path

    import ganzoo

    if Path(ref).exists() or ref.startswith("hf-hub:") or ref in ganzoo.list_pretrained():
        return ganzoo.load(ref, ema=ema), Path(ref).name
    if ref in ganzoo.list_models():
        click.echo(f"note: {ref!r} is a model name, not a trained generator: scoring an untrained one", err=True)
        return ganzoo.create(ref).generator.eval(), ref
    from ganzoo.errors import UnknownNameError

    raise UnknownNameError("model or pretrained id", ref, ganzoo.list_models() + ganzoo.list_pretrained(),
                           hint="or give a bundle folder, a run directory or hf-hub:org/name")


@cli.command("eval", short_help="Score a generator (FID, KID, IS, precision, recall).")
@click.argument("ref", required=False)
@click.option("--dataset", default="mnist", show_default=True,
              help="mnist, fashion-mnist (ganzoo's classifiers) or cifar10 (Inception-v3, see --inception-weights).")
@click.option("--inception-weights", type=click.Path(dir_okay=False, exists=True),
              help="FID Inception-v3 weights (safetensors) for cifar10; default $GANZOO_INCEPTION_WEIGHTS or "
                   "~/.cache/ganzoo/weights/pt_inception-2015-12-05.safetensors.")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Dataset root (default $GANZOO_DATA).")
@click.option("-n", "--n", "n", type=int, default=10_000, show_default=True, help="Generated samples.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--batch-size", type=int, default=500, show_default=True)
@click.option("--device", default="cpu", show_default=True)
@click.option("--metrics", help="Comma-separated subset of: fid, kid, is, precision, recall, confident, label_accuracy.")
@click.option("--no-ema", is_flag=True, help="Score the raw generator of a run instead of its EMA.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Write the receipt here.")
@click.option("--verify", "verify", is_flag=False, flag_value="-", default=None, metavar="[RECEIPT]",
              help="Recompute a receipt (a JSON file; without one, the receipt in REF's bundle) and check it.")
@friendly_errors
def eval_cmd(ref: str | None, dataset: str, inception_weights: str | None, data_dir: str | None, n: int, seed: int, batch_size: int, device: str,
             metrics: str | None, no_ema: bool, json_out: str | None, verify: str | None) -> None:
    """Score a generator (REF: pretrained id, bundle, run directory or hf-hub:org/name) with ganzoo's fixed protocol.

    Prints FID, KID, IS, precision, recall and the confident share (and label accuracy
    for conditional models) beside the real-vs-real floor, on each of the dataset's
    feature networks (MNIST family: two, built independently), and writes a receipt with --json.
    `ganzoo eval RUN --verify receipt.json` recomputes a receipt and checks it.
    """
    from ganzoo.metrics import evaluate, verify_receipt

    if inception_weights:
        import os

        os.environ["GANZOO_INCEPTION_WEIGHTS"] = inception_weights
    if ref is None:
        raise click.UsageError("give a run directory (or model name) to evaluate")
    from ganzoo.devices import pick_device

    device = pick_device(device)
    if json_out:  # checked now: an evaluation takes minutes, and its receipt must not be lost at the end
        _check_writable(Path(json_out), "--json")
    generator, name = _resolve_generator(ref, ema=not no_ema)
    if data_dir is None:  # a run remembers where its data was
        cfg = Path(ref) / "config.json"
        if cfg.is_file():
            from ganzoo.errors import CheckpointError
            from ganzoo.weights import read_json

            saved = read_json(cfg, "run configuration", CheckpointError, "; give --data-dir")
            data_dir = saved.get("data_dir") if isinstance(saved, dict) else None
    if verify:
        receipt: Any = verify
        if verify == "-":
            receipt = _bundle_receipt(ref)
        result = verify_receipt(receipt, generator, data_dir=data_dir, device=device)
        click.echo(result.table())
        if not result.ok:
            sys.exit(1)
        return
    chosen = tuple(m.strip() for m in metrics.split(",")) if metrics else None
    result = evaluate(generator, dataset, data_dir, n=n, seed=seed, batch_size=batch_size, device=device,
                      metrics=chosen, model_name=name)
    click.echo(result.table())
    if json_out:
        with open(json_out, "w") as f:
            f.write(result.to_json())
        click.echo(f"receipt written to {json_out}")


def _parse_labels(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a comma-separated list of class numbers, e.g. 0,1,2",
                                 param_hint="--labels") from None


SAMPLE_FORMATS = ("png", "npz", "pt")
MAX_GRID = 10_000  # images in one PNG grid; more is unreadable (raw samples: --format npz)


def _sample_target(out: str | None, fmt: str | None) -> tuple[Path, str]:
    """The output file and its format, checked before anything is sampled."""
    if out is None:
        fmt = fmt or "png"
        return Path(f"samples.{fmt}"), fmt
    suffix = Path(out).suffix.lower().lstrip(".")
    if suffix not in SAMPLE_FORMATS:
        raise click.BadParameter(f"{out!r} must end in .png, .npz or .pt (the file's format)", param_hint="-o")
    if fmt is not None and fmt != suffix:
        raise click.BadParameter(f"--format {fmt} writes a .{fmt} file, but -o names {out!r}; "
                                 f"name it {Path(out).with_suffix('.' + fmt)} or drop --format", param_hint="-o")
    return Path(out), suffix


def _check_writable(path: Path, option: str) -> None:
    """Refuse an output file that cannot be written, before the work that would fill it.

    Also refused: a link (writing through it would replace whatever it points at), and an
    existing file that a bundle or run directory is made of (its ganzoo.json, config,
    checkpoints, weights): an output must never destroy what was saved.
    """
    if path.is_symlink():
        raise click.BadParameter(f"{path} is a link; give a new file name", param_hint=option)
    if path.is_dir():
        raise click.BadParameter(f"{path} is a folder; give a file name", param_hint=option)
    existed = path.exists()
    if existed and _is_saved_state(path):
        raise click.BadParameter(f"{path} is part of the bundle or run in {path.parent}; writing there would "
                                 "destroy it: give another file name", param_hint=option)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a"):
            pass
    except OSError as exc:
        raise click.BadParameter(f"cannot write {path}: {exc.strerror or exc}", param_hint=option) from None
    if not existed:
        path.unlink(missing_ok=True)


def _is_saved_state(path: Path) -> bool:
    """Whether ``path`` is one of the files a bundle or a run directory consists of."""
    folder = path.parent
    in_ganzoo_folder = ((folder / "ganzoo.json").is_file() or (folder / "checkpoints").is_dir()
                        or "checkpoints" in (folder.name, folder.parent.name))
    own = path.name in {"ganzoo.json", "config.json", "metrics.jsonl", "state.json", "latest.json", "README.md"}
    return in_ganzoo_folder and (own or path.suffix == ".safetensors")


@cli.command(short_help="Draw samples from a generator: a PNG grid, .npz or .pt.")
@click.argument("ref")
@click.option("-n", "--n", "n", type=int,
              help="Number of samples (default 64; with --interpolate a multiple of --steps, default 8 walks).")
@click.option("-o", "--out", type=click.Path(dir_okay=False),
              help="Output file: .png, .npz or .pt (default samples.png).")
@click.option("--labels", help="Class labels for a conditional model, e.g. 0,1,2 (one grid column each).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--interpolate", is_flag=True, help="Latent walks: each row moves between two random codes.")
@click.option("--steps", type=int, default=10, show_default=True, help="Images per latent walk (--interpolate).")
@click.option("--format", "fmt", type=click.Choice(SAMPLE_FORMATS), help="Default: from --out, else png.")
@click.option("--device", default="cpu", show_default=True)
@click.option("--no-ema", is_flag=True, help="For run directories: the raw generator instead of its EMA.")
@friendly_errors
def sample(ref: str, n: int | None, out: str | None, labels: str | None, seed: int, interpolate: bool, steps: int,
           fmt: str | None, device: str, no_ema: bool) -> None:
    """Draw samples from REF (pretrained id, bundle, run directory or hf-hub:org/name).

    Writes a PNG grid (for 2-D point models a scatter plot), or the raw samples in [-1, 1]
    with --format npz (arrays `images`, `labels`) or pt (a dict of tensors).
    """
    import ganzoo
    from ganzoo.devices import pick_device
    from ganzoo.images import save_grid, save_scatter
    from ganzoo.sampling import check_sample_count, latent_walk, sample_batch

    out_path, fmt = _sample_target(out, fmt)
    if n is not None and n < 1:
        raise click.BadParameter(f"{n} samples: give at least 1", param_hint="-n")
    rows = 0
    if interpolate:
        if steps < 2:
            raise click.BadParameter(f"a latent walk needs at least 2 images, got {steps}", param_hint="--steps")
        if n is not None and n % steps:
            raise click.BadParameter(f"{n} samples are not whole latent walks of --steps {steps}; give a multiple of "
                                     f"{steps}, e.g. -n {steps * max(1, round(n / steps))}", param_hint="-n")
        rows = n // steps if n is not None else 8
    dev = pick_device(device)
    chosen = _parse_labels(labels)
    _check_writable(out_path, "-o")
    g = ganzoo.load(ref, device=dev, ema=not no_ema)
    count = rows * steps if interpolate else (n or 64)
    check_sample_count(g, count)
    if fmt == "png" and len(g.output_shape) == 3 and count > MAX_GRID:
        raise click.BadParameter(f"{count} images make an unreadable grid; at most {MAX_GRID} in a PNG "
                                 "(raw samples: --format npz)", param_hint="-n")
    if interpolate:
        x, y, nrow = latent_walk(g, rows=rows, steps=steps, seed=seed, labels=chosen)
    else:
        x, y, nrow = sample_batch(g, count, seed=seed, labels=chosen)
    try:
        if fmt == "npz":
            import numpy as np

            arrays = {"images": x.numpy()} | ({"labels": y.numpy()} if y is not None else {})
            with open(out_path, "wb") as f:  # a file object: numpy adds no second suffix
                np.savez(f, **arrays)
        elif fmt == "pt":
            import torch

            torch.save({"images": x, "labels": y}, out_path)
        elif len(g.output_shape) == 3:
            save_grid(x, out_path, nrow=nrow)
        else:
            save_scatter(x, out_path)
    except OSError as exc:
        raise click.ClickException(f"cannot write {out_path}: {exc}") from exc
    click.echo(f"wrote {len(x)} samples to {out_path}")


@cli.command("save", short_help="Turn a run directory into a bundle (safetensors, model card).")
@click.argument("run", type=click.Path(exists=True, file_okay=False))
@click.argument("bundle", type=click.Path(file_okay=False))
@click.option("--eval", "do_eval", is_flag=True,
              help="Evaluate and record the receipt (image datasets; 2-D toys print their toy metrics).")
@click.option("--data-dir", type=click.Path(file_okay=False), help="Dataset root for --eval.")
@click.option("--no-discriminator", is_flag=True, help="Leave the discriminator out.")
@click.option("--no-ema", is_flag=True, help="Save the raw generator instead of its EMA.")
@click.option("--overwrite", is_flag=True,
              help="Replace the bundle at BUNDLE (only a ganzoo bundle, never RUN itself).")
@click.option("--pretrained-id", help="The pretrained id the bundle will be registered under (e.g. lsgan-mnist).")
@friendly_errors
def save_cmd(run: str, bundle: str, do_eval: bool, data_dir: str | None, no_discriminator: bool, no_ema: bool,
             overwrite: bool, pretrained_id: str | None) -> None:
    """Turn a run directory RUN into a bundle folder BUNDLE (ganzoo.json, safetensors, model card).

    `ganzoo pin BUNDLE` then prints the PretrainedEntry that registers it.
    """
    import ganzoo

    evaluation = None
    if do_eval:
        from ganzoo.checkpoint import find_checkpoint, read_state
        from ganzoo.metrics import evaluate

        state = read_state(find_checkpoint(run))
        g = ganzoo.load(run, ema=not no_ema)
        dataset = state["config"]["dataset"]
        if len(g.output_shape) == 1:  # 2-D points: the toy metrics, not image metrics
            click.echo(_toy_eval(g, dataset))
        else:
            evaluation = evaluate(g, dataset, data_dir or state["config"].get("data_dir"))
            click.echo(evaluation.table())
    path = ganzoo.save(run, bundle, evaluation=evaluation, discriminator=not no_discriminator, ema=not no_ema,
                       overwrite=overwrite, pretrained_id=pretrained_id)
    click.echo(f"bundle written to {path}")


@cli.command(short_help="Print the PretrainedEntry (with sha256) that registers a bundle.")
@click.argument("bundle", type=click.Path(exists=True, file_okay=False))
@click.option("--id", "pretrained_id", help="The pretrained id (default: the bundle's own, from `save --pretrained-id`).")
@click.option("--hub-repo", default="", help="Hub repository the bundle is (or will be) published to, org/name.")
@click.option("--revision", default="main", show_default=True, help="Branch, tag or commit of --hub-repo.")
@click.option("--shipped", is_flag=True, help="The bundle ships inside the plugin package, in pretrained/<id>/.")
@click.option("--json", "as_json", is_flag=True, help="Print the pin as JSON instead of Python.")
def pin(bundle: str, pretrained_id: str | None, hub_repo: str, revision: str, shipped: bool, as_json: bool) -> None:
    """Print the PretrainedEntry that pins BUNDLE (its generator's sha256), to paste into a plugin.

    The sha256 is the one ganzoo.json records for generator.safetensors, checked here
    against the file itself.
    """
    from pathlib import Path

    from ganzoo.checkpoint import sha256_file
    from ganzoo.errors import BundleError
    from ganzoo.zoo import read_bundle_meta

    meta = read_bundle_meta(bundle)
    weights = (meta.get("weights") or {}).get("generator") or {}
    file = Path(bundle) / str(weights.get("file", "generator.safetensors"))
    recorded = weights.get("sha256")
    if not file.is_file():
        raise BundleError(f"{bundle} has no {file.name}; save the bundle again with `ganzoo save RUN BUNDLE`")
    actual = sha256_file(file)
    if recorded and recorded != actual:
        raise BundleError(f"{file} does not match the sha256 its ganzoo.json records ({recorded}); "
                          "the file changed after saving: save the bundle again")
    pid = pretrained_id or meta.get("id")
    if not pid:
        raise click.UsageError("the bundle records no pretrained id; give one with --id (e.g. --id lsgan-mnist)")
    fields = {"id": pid, "dataset": meta.get("dataset") or "", "hub_repo": hub_repo, "revision": revision,
              "sha256": actual}
    if as_json:
        click.echo(json.dumps({**fields, "model": meta.get("model"), "shipped": shipped}, indent=2))
        return
    lines = [f"    {pid!r}: PretrainedEntry" + (".shipped(" if shipped else "(")]
    lines.append("        __file__," if shipped else "")
    for key, value in fields.items():
        if key == "hub_repo" and not value:
            continue
        if key == "revision" and not hub_repo:
            continue
        lines.append(f"        {key}={value!r},")
    lines.append('        description="...",')
    lines.append("    ),")
    click.echo("\n".join(line for line in lines if line))


def _toy_eval(g: Any, dataset: str) -> str:
    """``save --eval`` for a 2-D point model: the toy metrics, printed (bundles record image receipts)."""
    from ganzoo.data import TOYS

    note = "not recorded in the bundle: its evaluation receipts are for image datasets"
    if dataset not in TOYS:
        return f"no sample-quality metrics for the point dataset {dataset!r}; the bundle has no receipt"
    import torch

    from ganzoo.metrics import toy_metrics

    m = toy_metrics(g.sample(2500, generator=torch.Generator().manual_seed(0)), dataset)
    return (f"{dataset}: {m['modes_covered']} of {m['num_modes']} modes covered, {m['high_quality']:.1%} "
            f"high-quality samples, reverse KL {m['reverse_kl']:.3f} (2,500 samples, seed 0; {note})")


@cli.command(short_help="Publish a bundle or run directory to the Hugging Face Hub.")
@click.argument("source", type=click.Path(exists=True, file_okay=False))
@click.option("--repo", required=True, help="Hub repository, org/name.")
@click.option("--private", is_flag=True, help="Create the repository as private.")
@click.option("--revision", help="Branch to commit to (created when missing; default main).")
@click.option("--message", help="Commit message.")
@friendly_errors
def publish(source: str, repo: str, private: bool, revision: str | None, message: str | None) -> None:
    """Publish a bundle or run directory SOURCE to the Hugging Face Hub as REPO.

    Uploads ganzoo.json, the weights it lists, README.md and samples.png, nothing else; a
    bundle holding links, or weights that fail their sha256, is refused. The token comes from
    HF_TOKEN or `hf auth login`; it is never printed.
    """
    import ganzoo

    url = ganzoo.push_to_hub(source, repo, private=private, revision=revision, message=message)
    click.echo(f"published {source} to {repo}: {url}")
    click.echo(f"load it with: ganzoo.load(\"hf-hub:{repo}{'@' + revision if revision else ''}\")")


def main() -> None:
    cli(prog_name="ganzoo")


if __name__ == "__main__":
    main()

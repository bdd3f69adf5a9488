"""The ``ganzoo`` command line: a thin layer over the Python API."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any

import click

from ganzoo import __version__
from ganzoo.errors import GanzooError

BUILTIN_COMMANDS = ("list", "info", "plugins", "datasets", "train", "bench", "eval", "sample", "save", "publish")


def friendly_errors(fn: Callable) -> Callable:
    """Print ganzoo's own errors (user mistakes) as one clear message, no traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except GanzooError as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper


class GanzooCLI(click.Group):
    """Adds plugins' commands (``ganzoo_register_commands``) the first time commands are listed."""

    _plugins_loaded = False

    def _load_plugin_commands(self) -> None:
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        from ganzoo.plugins import get_plugin_manager

        builtin = {name: self.commands[name] for name in BUILTIN_COMMANDS if name in self.commands}
        get_plugin_manager().call_each("ganzoo_register_commands", cli=self)
        for name, cmd in builtin.items():
            if self.commands.get(name) is not cmd:  # a plugin must not replace a built-in
                print(f"ganzoo: a plugin tried to replace the built-in command {name!r}; ignored", file=sys.stderr)
                self.commands[name] = cmd

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
            entries.append({"id": pid, "model": spec.name, "dataset": e.dataset, "hub": f"{e.hub_repo}@{e.revision}",
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
def plugins(as_json: bool) -> None:
    """List plugins: name, version, distribution, status, and the error of broken ones."""
    import dataclasses

    from ganzoo import registry
    from ganzoo.data import list_datasets
    from ganzoo.plugins import list_plugins

    for build in (registry.list_models, list_datasets):  # run the hooks so hook failures show up
        try:
            build()
        except GanzooError as exc:
            click.echo(f"ganzoo: {exc}", err=True)
    infos = list_plugins()
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(i) for i in infos], indent=2))
        return
    rows = [[i.name, i.version or "", i.distribution or "(registered directly)", i.status, i.error or ""] for i in infos]
    click.echo(_table(rows, ["plugin", "version", "distribution", "status", "error"]))


@cli.command()
@friendly_errors
def datasets() -> None:
    """List registered datasets."""
    from ganzoo.data import get_dataset_spec, list_datasets

    rows = []
    for name in list_datasets():
        s = get_dataset_spec(name)
        rows.append([name, "x".join(map(str, s.shape)) if s.shape else "any", str(s.num_classes or ""), s.description])
    click.echo(_table(rows, ["name", "shape", "classes", "description"]))


def _parse_kv(values: tuple[str, ...]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in values:
        if "=" not in item:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--model-arg")
        key, raw = item.split("=", 1)
        try:
            out[key] = json.loads(raw)
        except ValueError:
            out[key] = raw
    return out


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
@click.option("--loss", help="Loss name (minimax, non-saturating, hinge, lsgan, wgan-gp, ...).")
@click.option("--n-critic", type=int, help="Discriminator steps per generator step.")
@click.option("--ema/--no-ema", default=None, help="Keep an EMA of the generator (default on).")
@click.option("--ema-decay", type=float, help="EMA decay per step (default 0.999).")
@_execution_options
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", type=click.Path(file_okay=False), help="Run directory (default runs/<model>-<dataset>-<time>).")
@click.option("--resume", type=click.Path(file_okay=False), help="Continue the run in this directory.")
@click.option("--sample-every", type=int, default=500, show_default=True)
@click.option("--checkpoint-every", type=int, default=1000, show_default=True)
@click.option("--log-every", type=int, default=50, show_default=True)
@click.option("--eval-every", type=int, help="Score samples (FID, KID, IS, precision, recall) every N steps into metrics.jsonl.")
@click.option("--eval-n", type=int, default=2000, show_default=True, help="Samples per evaluation during training.")
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
        trainer.fit()
    except KeyboardInterrupt as exc:
        click.echo(f"\nganzoo: {exc or 'interrupted'}", err=True)
        sys.exit(130)
    if trainer.is_main:
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
@click.option("--metrics", help="Comma-separated subset of fid,kid,is,precision,recall,label_accuracy.")
@click.option("--no-ema", is_flag=True, help="Score the raw generator of a run instead of its EMA.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Write the receipt here.")
@click.option("--verify", "verify", is_flag=False, flag_value="-", default=None, metavar="[RECEIPT]",
              help="Recompute a receipt (a JSON file; without one, the receipt in REF's bundle) and check it.")
@friendly_errors
def eval_cmd(ref: str | None, dataset: str, inception_weights: str | None, data_dir: str | None, n: int, seed: int, batch_size: int, device: str,
             metrics: str | None, no_ema: bool, json_out: str | None, verify: str | None) -> None:
    """Score a generator (REF: pretrained id, bundle, run directory or hf-hub:org/name) with ganzoo's fixed protocol.

    Prints FID, KID, IS, precision and recall (and label accuracy for conditional
    models) beside the real-vs-real floor, and writes a receipt with --json.
    `ganzoo eval RUN --verify receipt.json` recomputes a receipt and checks it.
    """
    from ganzoo.metrics import evaluate, verify_receipt

    if inception_weights:
        import os

        os.environ["GANZOO_INCEPTION_WEIGHTS"] = inception_weights
    if ref is None:
        raise click.UsageError("give a run directory (or model name) to evaluate")
    generator, name = _resolve_generator(ref, ema=not no_ema)
    if data_dir is None:  # a run remembers where its data was
        from pathlib import Path

        cfg = Path(ref) / "config.json"
        if cfg.is_file():
            data_dir = json.loads(cfg.read_text()).get("data_dir")
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


@cli.command(short_help="Draw samples from a generator: a PNG grid, .npz or .pt.")
@click.argument("ref")
@click.option("-n", "--n", "n", type=int, default=64, show_default=True, help="Number of samples.")
@click.option("-o", "--out", type=click.Path(dir_okay=False), help="Output file (default samples.png, .npz or .pt).")
@click.option("--labels", help="Class labels for a conditional model, e.g. 0,1,2 (one grid column each).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--interpolate", is_flag=True, help="Latent walks: each row moves between two random codes.")
@click.option("--steps", type=int, default=10, show_default=True, help="Images per latent walk (--interpolate).")
@click.option("--format", "fmt", type=click.Choice(["png", "npz", "pt"]), help="Default: from --out, else png.")
@click.option("--device", default="cpu", show_default=True)
@click.option("--no-ema", is_flag=True, help="For run directories: the raw generator instead of its EMA.")
@friendly_errors
def sample(ref: str, n: int, out: str | None, labels: str | None, seed: int, interpolate: bool, steps: int,
           fmt: str | None, device: str, no_ema: bool) -> None:
    """Draw samples from REF (pretrained id, bundle, run directory or hf-hub:org/name).

    Writes a PNG grid (for 2-D point models a scatter plot), or the raw samples in [-1, 1]
    with --format npz (arrays `images`, `labels`) or pt (a dict of tensors).
    """
    from pathlib import Path

    import ganzoo
    from ganzoo.images import save_grid, save_scatter
    from ganzoo.sampling import latent_walk, sample_batch

    if fmt is None:
        fmt = Path(out).suffix.lstrip(".").lower() if out and Path(out).suffix.lower() in (".npz", ".pt") else "png"
    out_path = Path(out or f"samples.{fmt}")
    g = ganzoo.load(ref, device=device, ema=not no_ema)
    chosen = _parse_labels(labels)
    if interpolate:
        x, y, nrow = latent_walk(g, rows=max(1, n // steps), steps=steps, seed=seed, labels=chosen)
    else:
        x, y, nrow = sample_batch(g, n, seed=seed, labels=chosen)
    try:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "npz":
            import numpy as np

            arrays = {"images": x.numpy()} | ({"labels": y.numpy()} if y is not None else {})
            np.savez(out_path, **arrays)
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
@friendly_errors
def save_cmd(run: str, bundle: str, do_eval: bool, data_dir: str | None, no_discriminator: bool, no_ema: bool,
             overwrite: bool) -> None:
    """Turn a run directory RUN into a bundle folder BUNDLE (ganzoo.json, safetensors, model card)."""
    import ganzoo

    evaluation = None
    if do_eval:
        from ganzoo.checkpoint import find_checkpoint
        from ganzoo.metrics import evaluate

        state = json.loads((find_checkpoint(run) / "state.json").read_text())
        g = ganzoo.load(run, ema=not no_ema)
        dataset = state["config"]["dataset"]
        if len(g.output_shape) == 1:  # 2-D points: the toy metrics, not image metrics
            click.echo(_toy_eval(g, dataset))
        else:
            evaluation = evaluate(g, dataset, data_dir or state["config"].get("data_dir"))
            click.echo(evaluation.table())
    path = ganzoo.save(run, bundle, evaluation=evaluation, discriminator=not no_discriminator, ema=not no_ema,
                       overwrite=overwrite)
    click.echo(f"bundle written to {path}")


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

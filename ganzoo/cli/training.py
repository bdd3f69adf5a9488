"""Training: ``ganzoo train`` (a run directory with checkpoints) and ``ganzoo bench`` (images/s)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import click

from ganzoo.cli._common import _parse_kv, _table, friendly_errors


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


@click.command(short_help="Train MODEL on a dataset; a run directory with checkpoints.")
@click.argument("model", required=False)
@click.option("--config", "config_file", type=click.Path(dir_okay=False),
              help="Settings from a file: a run's config.json (rerun it) or a .toml/.json of the same keys; "
                   "flags given here win.")
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
              help="Train with --loss even if it does not fit the model (a warning instead of an error).")
@click.option("--loss-arg", "loss_args", multiple=True, metavar="KEY=VALUE",
              help="Loss constructor argument, e.g. gp_weight=5 (repeatable; over the recipe's).")
@click.option("--n-critic", type=int, help="Discriminator steps per generator step.")
@click.option("--ema/--no-ema", default=None, help="Keep an EMA of the generator (default on).")
@click.option("--ema-decay", type=float,
              help="EMA decay per step, reached after a warm-up of about 9/(1-decay) steps (default 0.999).")
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
@click.option("--tensorboard/--no-tensorboard", default=None,
              help="Also log to TensorBoard (needs tensorboard installed); a resumed run keeps what it had.")
@click.option("--logger", "loggers", multiple=True, metavar="NAME",
              help="Also send metrics and sample grids to this logger (repeatable; `ganzoo loggers` lists them, "
                   "plugins add more); a resumed run keeps its loggers, `--logger none` turns them off.")
@click.option("--no-doctor", is_flag=True,
              help="Don't watch the log for failures (the live doctor prints one line per new finding).")
@click.option("--report", is_flag=True, help="At the end, write report.html into the run directory (ganzoo report).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@friendly_errors
def train(model: str | None, config_file: str | None, beta1: float | None, beta2: float | None,
          model_args: tuple[str, ...], loss_args: tuple[str, ...], no_doctor: bool, report: bool,
          **kwargs: Any) -> None:
    """Train MODEL, e.g. `ganzoo train dcgan --dataset mnist --epochs 1`.

    `--config FILE` takes the settings from a file (rerun a run from its config.json, or keep
    sweeps in .toml files); the flags given on the command line override it.
    """
    from ganzoo.engine import TrainConfig, Trainer

    if (beta1 is None) != (beta2 is None):
        raise click.UsageError("give both --beta1 and --beta2, or neither")
    kwargs["loggers"] = kwargs["loggers"] or None  # not given: the file's, or on resume the run's
    settings = _settings(model, config_file, kwargs, beta1, beta2, model_args, loss_args, no_doctor)
    config = TrainConfig(**settings)
    try:
        trainer = Trainer(config)
        finished = trainer.step >= trainer.total_steps
        if config.resume and trainer.is_main and not finished and not trainer.config.quiet:
            click.echo(f"resuming {trainer.run_dir} at step {trainer.step:,} of {trainer.total_steps:,}", err=True)
        trainer.fit()  # a finished run says so, and how to lengthen it
    except KeyboardInterrupt as exc:
        click.echo(f"\nganzoo: {exc or 'interrupted'}", err=True)
        sys.exit(130)
    if trainer.is_main and not finished:
        click.echo(f"done: {trainer.step} steps; run directory {trainer.run_dir}")
        _write_pictures(trainer.run_dir, report)
        click.echo(_next_steps(trainer))


def _settings(model: str | None, config_file: str | None, kwargs: dict[str, Any], beta1: float | None,
              beta2: float | None, model_args: tuple[str, ...], loss_args: tuple[str, ...],
              no_doctor: bool) -> dict[str, Any]:
    """TrainConfig's settings: the defaults, then --config's file, then the flags given on the command line."""
    from click.core import ParameterSource

    from ganzoo.engine.config import read_config_file

    ctx = click.get_current_context()
    given = {name for name in ctx.params if ctx.get_parameter_source(name) not in (None, ParameterSource.DEFAULT)}
    settings = read_config_file(config_file) if config_file else {}
    if model is not None:
        if settings.get("model") not in (None, model):
            raise click.UsageError(f"--config {config_file} trains {settings['model']!r}, not {model!r}; drop "
                                   f"MODEL to rerun it, or change the file's model")
        settings["model"] = model
    elif not settings.get("model") and not kwargs.get("resume"):
        raise click.UsageError("give MODEL (e.g. `ganzoo train dcgan`), --config FILE or --resume RUN_DIR")
    for key, value in kwargs.items():
        if key in given or key not in settings:
            settings[key] = value
    if beta1 is not None:
        settings["betas"] = (beta1, beta2)
    settings["model_args"] = {**settings.get("model_args", {}), **_parse_kv(model_args)}
    settings["loss_args"] = {**settings.get("loss_args", {}), **_parse_kv(loss_args, "--loss-arg")}
    if no_doctor or "doctor" not in settings:
        settings["doctor"] = not no_doctor
    return settings


def _write_pictures(run_dir: Any, report: bool) -> None:
    """The curves as ``curves.png`` for a terminal user (when matplotlib is there), and ``--report``'s page."""
    from ganzoo.errors import GanzooError
    from ganzoo.report import write_curves_png, write_report

    try:
        click.echo(f"curves: {write_curves_png(run_dir)}")
    except GanzooError as exc:
        if report:  # asked for pictures: say why there are none
            raise
        click.echo(f"(no curves.png: {exc})", err=True)
    if report:
        click.echo(f"report: {write_report([run_dir], run_dir / 'report.html')}")


def _next_steps(trainer: Any) -> str:
    """What to do with a finished run: the commands, with its path."""
    import shlex

    run = shlex.quote(str(trainer.run_dir))
    cfg = trainer.config
    from ganzoo.data import TOYS
    from ganzoo.metrics.networks import network_problem, network_spec

    problem = network_problem(cfg.dataset)  # offer only what will work for this run
    fetchable = problem is not None and "ganzoo fetch inception" in problem
    scored = problem is None or fetchable
    bundle = shlex.quote(f"{cfg.model}-{cfg.dataset}-bundle")
    lines = ["next:",
             f"  ganzoo sample {run} -n 64 -o {shlex.quote(str(trainer.run_dir / 'grid.png'))}   # samples"]
    if fetchable:
        lines.append("  ganzoo fetch inception   # once: the FID Inception-v3 weights that score your images")
    # --eval and eval only where they work now; with the weights still to fetch, said as a step after it
    eval_flag = " --eval" if problem is None or cfg.dataset in TOYS else ""
    later = "; add --eval once the weights are fetched" if fetchable else ""
    lines.append(f"  ganzoo save {run} {bundle}{eval_flag}   # a bundle to load or publish{later}")
    if scored:
        what = "FID, KID, IS, precision, recall" if network_spec(cfg.dataset).logits else "FID, KID, precision, recall"
        after = " (after the fetch)" if fetchable else ""
        lines.append(f"  ganzoo eval {run}   # {what} against {cfg.dataset}{after}")
    lines.append(f"  ganzoo doctor {run}   # is it healthy? (and: ganzoo report {run} -o report.html)")
    lines.append(f"  ganzoo train {cfg.model} --resume {run} --steps {2 * trainer.step}   # train on")
    return "\n".join(lines)


@click.command(short_help="Training speed of MODEL on this machine, in images/s.")
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

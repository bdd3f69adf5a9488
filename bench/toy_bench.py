"""Mode-collapse benchmark: ``vanilla`` on the 2-D toys, per loss, over several seeds.

Trains ganzoo's MLP ``vanilla`` GAN with ganzoo's own engine (``ganzoo.train``)
on ``ring8`` (8 Gaussians on a circle) and ``grid25`` (a 5x5 grid of Gaussians),
once per loss and seed. It then draws 2,500 samples from the generator that
ganzoo samples from (the EMA copy when EMA is on) and scores them with
:func:`ganzoo.metrics.toy.toy_metrics`: modes covered, share of high-quality
samples (within 3 std of the nearest mode) and reverse KL over modes. That is
the protocol of VEEGAN (Srivastava et al. 2017) and PacGAN (Lin et al. 2018),
Table 1 of each. It prints a markdown table of mean ± std over seeds.

The recipe (``RECIPE`` below, each part overridable on the command line) was
chosen on 1-3 seeds to fit a 2-core CPU budget. ``bench/RESULTS.md`` ("2-D toys") says
why each setting was chosen. Its main departures from ``vanilla``'s defaults
are a 2-D latent (as in PacGAN's code) instead of 100-D, 128-unit MLPs, batch
256, Adam ``lr=1e-3, betas=(0, 0.9)``, and the engine's EMA generator.

Budget: ``--steps`` counts *discriminator updates* per run. A loss with
``n_critic = k`` (``wgan-gp``: 5) gets ``steps // k`` generator steps, so every
loss sees the same number of real batches. ``--same-g-steps`` gives every loss
``steps`` generator steps instead, which makes ``wgan-gp`` about 5x dearer.
``--steps`` takes one number, or one per dataset: ``ring8=1500,grid25=2500``.

Run (from the repository root; one process, one thread)::

    python bench/toy_bench.py                                   # the full benchmark (25-30 min on a shared 2-core CPU)
    python bench/toy_bench.py --seeds 2 --losses hinge --datasets grid25 --steps 1000
    python bench/toy_bench.py --json runs/toy.json --figures bench/results/figures

``--seeds 10`` runs seeds 0..9; ``--seeds 3,7`` runs exactly those seeds.
With ``--figures DIR``, one scatter plot per dataset is saved there. It shows
the run of the best loss (highest mean share of high-quality samples) whose
seed has the median share of high-quality samples.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

import ganzoo
from ganzoo.data import TOYS
from ganzoo.metrics.toy import toy_metrics

DEFAULT_LOSSES = ("non-saturating", "minimax", "hinge", "lsgan", "wgan-gp")
DEFAULT_DATASETS = ("ring8", "grid25")
DEFAULT_STEPS = "ring8=1500,grid25=2500"
NUM_SAMPLES = 2500  # VEEGAN and PacGAN both score 2,500 samples
EVAL_SEED_OFFSET = 1_000_000  # evaluation noise is seeded apart from training noise

# The training recipe: TrainConfig fields. See bench/RESULTS.md ("2-D toys") for how it was chosen.
RECIPE: dict[str, Any] = {
    "batch_size": 256,
    "lr_g": 1e-3,
    "lr_d": 1e-3,
    "betas": (0.0, 0.9),
    "ema": True,
    "model_args": {"latent_dim": 2, "g_hidden": (128, 128, 128), "d_hidden": (128, 128, 128)},
}


# --------------------------------------------------------------------------- arguments


def parse_seeds(text: str) -> list[int]:
    """``"10"`` is seeds 0..9; ``"3,7"`` is exactly seeds 3 and 7."""
    try:
        if "," in text:
            seeds = [int(s) for s in text.split(",") if s.strip()]
        else:
            seeds = list(range(int(text)))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--seeds takes a count (10) or a comma-separated list (0,3,7), not {text!r}"
        ) from None
    if not seeds or min(seeds) < 0:
        raise argparse.ArgumentTypeError(
            f"--seeds needs at least one seed >= 0, got {text!r} (a single number is a count: "
            "--seeds 1 runs seed 0; --seeds 5, runs seed 5 alone)"
        )
    return seeds


def parse_steps(text: str, datasets: list[str]) -> dict[str, int]:
    """``"2000"`` for every dataset, or ``"ring8=1500,grid25=2500"`` one per dataset."""
    steps: dict[str, int] = {}
    try:
        if "=" in text:
            for part in text.split(","):
                name, _, value = part.partition("=")
                steps[name.strip()] = int(value)
        else:
            steps = dict.fromkeys(datasets, int(text))
    except ValueError:
        raise SystemExit(
            f"toy_bench: --steps takes a number (2000) or name=number pairs "
            f"(ring8=1500,grid25=2500), not {text!r}"
        ) from None
    missing = [d for d in datasets if d not in steps]
    if missing:
        raise SystemExit(f"toy_bench: --steps {text!r} gives no step count for {', '.join(missing)}")
    bad = {d: s for d, s in steps.items() if s < 1}
    if bad:
        raise SystemExit(f"toy_bench: step counts must be >= 1, got {bad}")
    return {d: steps[d] for d in datasets}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Modes covered, % high-quality samples and reverse KL of vanilla on ring8/grid25, per loss.",
    )
    p.add_argument("--seeds", type=parse_seeds, default=parse_seeds("10"),
                   help="a count (10: seeds 0..9) or a list (0,3,7); default 10")
    p.add_argument("--steps", default=DEFAULT_STEPS,
                   help=f"discriminator updates per run: one number or name=number per dataset (default {DEFAULT_STEPS})")
    p.add_argument("--same-g-steps", action="store_true",
                   help="give every loss --steps generator steps (wgan-gp then does 5x the D updates)")
    p.add_argument("--losses", default=",".join(DEFAULT_LOSSES), help="comma-separated registered losses")
    p.add_argument("--datasets", default=",".join(DEFAULT_DATASETS), help="comma-separated toys: ring8, grid25")
    p.add_argument("--json", type=Path, default=None, help="write every run and the summary here")
    p.add_argument("--figures", type=Path, default=None,
                   help="save one scatter plot per dataset (a representative run of the best loss) in this folder")
    p.add_argument("--batch-size", type=int, default=RECIPE["batch_size"])
    p.add_argument("--lr", type=float, nargs=2, metavar=("LR_G", "LR_D"), default=(RECIPE["lr_g"], RECIPE["lr_d"]))
    p.add_argument("--betas", type=float, nargs=2, default=RECIPE["betas"])
    p.add_argument("--latent-dim", type=int, default=RECIPE["model_args"]["latent_dim"])
    p.add_argument("--hidden", type=int, default=RECIPE["model_args"]["g_hidden"][0],
                   help="width of the three hidden layers of G and of D")
    p.add_argument("--no-ema", action="store_true", help="sample from the raw generator instead of its EMA copy")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads per run (default 1)")
    p.add_argument("--jobs", type=int, default=1, help="runs in parallel processes (default 1)")
    p.add_argument("--spec-recipe", action="store_true",
                   help="train with vanilla's own recipe for the dataset (what `ganzoo train vanilla "
                        "--dataset ring8` uses) instead of the flags above; --losses and --steps still apply")
    args = p.parse_args(argv)
    args.losses = [s.strip() for s in args.losses.split(",") if s.strip()]
    args.datasets = [s.strip() for s in args.datasets.split(",") if s.strip()]
    unknown = [d for d in args.datasets if d not in TOYS]
    if unknown:
        p.error(f"unknown toy dataset(s) {unknown}; choose from {sorted(TOYS)}")
    known = ganzoo.list_losses()
    unknown = [loss for loss in args.losses if loss not in known]
    if unknown:
        p.error(f"unknown loss(es) {unknown}; registered: {', '.join(known)}")
    args.steps = parse_steps(args.steps, args.datasets)
    return args


# --------------------------------------------------------------------------- one run


def train_and_score(dataset: str, loss: str, seed: int, g_steps: int, recipe: dict[str, Any]) -> dict[str, Any]:
    """Train one run with ganzoo's engine and score 2,500 samples of its sampling generator."""
    t0, c0 = time.perf_counter(), time.process_time()
    with tempfile.TemporaryDirectory(prefix="ganzoo-toy-") as out:
        trainer = ganzoo.train(
            "vanilla", dataset=dataset, loss=loss, steps=g_steps, seed=seed, out=out, quiet=True,
            device="cpu", sample_every=10**9, checkpoint_every=10**9, log_every=max(1, g_steps),
            **recipe,
        )
    train_s, cpu_s = time.perf_counter() - t0, time.process_time() - c0
    G = trainer.sampling_generator
    was_training = G.training
    G.eval()
    try:
        samples = G.sample(NUM_SAMPLES, generator=torch.Generator().manual_seed(EVAL_SEED_OFFSET + seed))
    finally:
        G.train(was_training)
    m = toy_metrics(samples, dataset)
    return {
        "dataset": dataset, "loss": loss, "seed": seed, "g_steps": g_steps,
        "d_updates": g_steps * trainer.n_critic, "n_critic": trainer.n_critic,
        "modes_covered": m["modes_covered"], "num_modes": m["num_modes"],
        "high_quality": m["high_quality"], "reverse_kl": m["reverse_kl"],
        "mode_counts": m["mode_counts"], "seconds": round(train_s, 2), "cpu_seconds": round(cpu_s, 2),
        "_samples": samples,
    }


# --------------------------------------------------------------------------- summary


def mean_std(values: list[float]) -> tuple[float, float, int]:
    """Mean and sample std (n-1) of the finite values, and how many were not finite."""
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return math.nan, math.nan, len(values)
    std = statistics.stdev(finite) if len(finite) > 1 else 0.0
    return statistics.fmean(finite), std, len(values) - len(finite)


def summarise(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in runs:
        groups.setdefault((r["dataset"], r["loss"]), []).append(r)
    rows = []
    for (dataset, loss), rs in groups.items():
        modes = mean_std([r["modes_covered"] for r in rs])
        hq = mean_std([100.0 * r["high_quality"] for r in rs])
        kl = mean_std([r["reverse_kl"] for r in rs])
        rows.append({
            "dataset": dataset, "loss": loss, "seeds": len(rs), "g_steps": rs[0]["g_steps"],
            "d_updates": rs[0]["d_updates"], "num_modes": rs[0]["num_modes"],
            "modes_mean": modes[0], "modes_std": modes[1],
            "hq_pct_mean": hq[0], "hq_pct_std": hq[1],
            "reverse_kl_mean": kl[0], "reverse_kl_std": kl[1], "reverse_kl_nan": kl[2],
            "all_modes_runs": sum(r["modes_covered"] == r["num_modes"] for r in rs),
            "seconds_mean": statistics.fmean(r["seconds"] for r in rs),
            "cpu_seconds_mean": statistics.fmean(r["cpu_seconds"] for r in rs),
        })
    return rows


def markdown_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| dataset | loss | G steps | modes (mean ± std) | all modes | high-quality % | reverse KL | s/run (CPU) |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        kl = f"{r['reverse_kl_mean']:.3f} ± {r['reverse_kl_std']:.3f}"
        if r["reverse_kl_nan"]:
            kl += f" ({r['reverse_kl_nan']} nan)"
        lines.append(
            f"| {r['dataset']} | {r['loss']} | {r['g_steps']} | "
            f"{r['modes_mean']:.1f} ± {r['modes_std']:.1f} / {r['num_modes']} | "
            f"{r['all_modes_runs']}/{r['seeds']} | {r['hq_pct_mean']:.1f} ± {r['hq_pct_std']:.1f} | "
            f"{kl} | {r['seconds_mean']:.1f} ({r['cpu_seconds_mean']:.1f}) |"
        )
    return "\n".join(lines)


def save_figures(runs: list[dict[str, Any]], rows: list[dict[str, Any]], folder: Path) -> list[Path]:
    """One scatter per dataset: the median-quality seed of the best loss, over the real data."""
    from ganzoo.images import save_scatter

    paths = []
    for dataset in dict.fromkeys(r["dataset"] for r in rows):
        best = max((r for r in rows if r["dataset"] == dataset), key=lambda r: r["hq_pct_mean"])
        rs = sorted((r for r in runs if r["dataset"] == dataset and r["loss"] == best["loss"]),
                    key=lambda r: r["high_quality"])
        run = rs[(len(rs) - 1) // 2]
        reference = TOYS[dataset].sample(2000, torch.Generator().manual_seed(0))
        path = folder / f"toy_{dataset}_{run['loss']}_seed{run['seed']}.png"
        save_scatter(run["_samples"], path, reference=reference)
        paths.append(path)
    return paths


def environment() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "cpu": cpu, "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
        "ganzoo": ganzoo.__version__, "python": platform.python_version(),
    }


def _json_safe(x: Any) -> Any:
    """NaN and infinity become null: strict JSON has no NaN."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_safe(v) for v in x]
    return x


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    recipe = {
        "batch_size": args.batch_size, "lr_g": args.lr[0], "lr_d": args.lr[1], "betas": tuple(args.betas),
        "ema": not args.no_ema,
        "model_args": {"latent_dim": args.latent_dim, "g_hidden": (args.hidden,) * 3, "d_hidden": (args.hidden,) * 3},
    }
    if args.spec_recipe:
        recipe = {"ema": not args.no_ema}
    n_critic = {loss: ganzoo.create_loss(loss).n_critic for loss in args.losses}
    plan = [
        (d, loss, s, args.steps[d] if args.same_g_steps else max(1, args.steps[d] // n_critic[loss]))
        for d in args.datasets for loss in args.losses for s in args.seeds
    ]
    print(f"toy_bench: {len(plan)} runs ({len(args.datasets)} datasets x {len(args.losses)} losses x "
          f"{len(args.seeds)} seeds), recipe {json.dumps(recipe)}", file=sys.stderr)
    runs = []
    t0, c0 = time.perf_counter(), time.process_time()
    if args.jobs > 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        pool = ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=torch.set_num_threads, initargs=(args.threads,))
        results = pool.map(train_and_score, *zip(*[(*p, recipe) for p in plan]))
    else:
        results = (train_and_score(*p, recipe) for p in plan)
    for i, ((dataset, loss, seed, g_steps), r) in enumerate(zip(plan, results), 1):
        runs.append(r)
        print(f"[{i}/{len(plan)}] {dataset} {loss} seed {seed} ({g_steps} G steps): "
              f"{r['modes_covered']}/{r['num_modes']} modes, {100 * r['high_quality']:.1f}% high quality, "
              f"reverse KL {r['reverse_kl']:.3f} ({r['seconds']:.1f} s, {r['cpu_seconds']:.1f} s CPU)", file=sys.stderr, flush=True)
    if args.jobs > 1:
        pool.shutdown()
    total_s, total_cpu_s = time.perf_counter() - t0, time.process_time() - c0

    rows = summarise(runs)
    env = environment()
    print(markdown_table(rows))
    print(f"\n{len(runs)} runs in {total_s / 60:.1f} min wall, {total_cpu_s / 60:.1f} min CPU; {env['cpu']}, {env['cpu_count']} CPUs, "
          f"{args.threads} torch thread(s), torch {env['torch']}, {env['date']}")
    if args.figures is not None:
        for path in save_figures(runs, rows, args.figures):
            print(f"figure: {path}")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "command": " ".join([Path(sys.argv[0]).as_posix(), *sys.argv[1:]]) if argv is None else argv,
            "environment": env, "recipe": recipe, "steps": args.steps, "same_g_steps": args.same_g_steps,
            "num_samples": NUM_SAMPLES, "total_seconds": round(total_s, 1),
            "total_cpu_seconds": round(total_cpu_s, 1), "summary": rows,
            "runs": [{k: v for k, v in r.items() if not k.startswith("_")} for r in runs],
        }
        args.json.write_text(json.dumps(_json_safe(payload), indent=2))
        print(f"json: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

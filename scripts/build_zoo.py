"""Build the pretrained bundles that ship inside the built-in plugins, with evaluation receipts.

The generators were trained on a lent GPU by ganzoo's own engine (commands below and in
``scripts/train_zoo.sh``); their run folders are in ``bench/results/zoo-runs/``. For each pretrained id
this script loads the chosen generator (the EMA weights of the longer run), scores it with
ganzoo's fixed protocol (10,000 samples, seed 0, against the 10,000 MNIST test images, features
of both of ganzoo's MNIST classifiers: the receipt's ``cross_check`` holds the second's
numbers), scores the paper recipe's 30-epoch raw generator the same way for comparison, and writes the bundle to ``plugins/ganzoo_<family>/pretrained/<id>/``. It prints
the sha256 of each ``generator.safetensors`` for the plugin's ``PretrainedEntry``.

    python scripts/build_zoo.py --data-dir ../shared/data/mnist [--only dcgan-mnist] [--n 10000]
    python scripts/build_zoo.py --export runs/zoo/cgan-fashion-mnist cgan-fashion-mnist --only cgan-fashion-mnist

A Fashion-MNIST entry reads its data from ``fashion-mnist`` beside ``--data-dir``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from safetensors.torch import load_file

import ganzoo
from ganzoo.checkpoint import find_checkpoint
from ganzoo.metrics import evaluate

ROOT = Path(__file__).resolve().parent.parent
RUNS = ROOT / "bench" / "results" / "zoo-runs"
H200 = "NVIDIA H200 (lent device machine), torch 2.11.0+cu130, bf16 autocast + CUDA graph, 2026-11-26"
H100 = "NVIDIA H100 80GB HBM3 (lent device machine), torch 2.11.0+cu130, bf16 autocast + CUDA graph, 2026-11-26"
CPU = "2-core AMD EPYC CPU (the project's development VM), torch 2.14.1, float32, 2026-12-01"
TRAIN = ("ganzoo train {model} --dataset mnist --data-dir DATA --epochs {epochs} --device cuda --seed 0 "
         "--out RUN --sample-every {sample} --checkpoint-every {ckpt} --log-every {log} -q")

# id -> run folder in bench/results/zoo-runs, weights file, dataset, comparison run (raw G; None: none),
# where it was trained, the training command.
ZOO = {
    # Both runs were given more epochs than they had time for: `timeout -s TERM 360` stopped them
    # (the engine checkpoints on SIGTERM) at epoch 276.3 and 131.0.
    # Since 2026-12-01: the 32x32 DCGAN nets (plan "pad") trained on the CPU
    # (scripts/train_zoo.sh dcgan-cpu), beside the bundle it replaced.
    "dcgan-mnist": dict(
        run="dcgan-pad-20ep-mnist", weights="generator_ema", dataset="mnist", card=CPU,
        baseline=dict(run="dcgan-276ep-mnist", weights="generator_ema",
                      label="the dcgan-mnist this bundle replaced (ganzoo 0.1's 28x28 nets, plan legacy, "
                            "276 epochs on a GPU, EMA G; `bench/results/zoo-runs/dcgan-276ep-mnist`)"),
        command=("ganzoo train dcgan --dataset mnist --data-dir DATA --epochs 5 --batch-size 128 --lr-g 2e-4 "
                 "--lr-d 2e-4 --beta1 0.5 --beta2 0.999 --loss non-saturating --model-arg plan=pad --seed 0 --out RUN "
                 "--sample-every 1000000 --checkpoint-every 1000000 --log-every 100 -q && ganzoo train dcgan "
                 "--resume RUN --epochs 20 --checkpoint-every 468 --sample-every 2340 --eval-every 2340 "
                 "--eval-n 2000 --log-every 234 -q")),
    "wgan-gp-mnist": dict(run="wgan-gp-131ep-mnist", weights="generator_ema", dataset="mnist",
                          baseline="wgan-gp-mnist", card=H100, command="timeout -s TERM 360 " + TRAIN.format(
                              model="wgan-gp", epochs=200, sample=5000, ckpt=2000, log=500) + " --model-arg arch=dcgan"),
    "vanilla-mnist": dict(run="vanilla-100ep-mnist", weights="generator_ema", dataset="mnist",
                          baseline="vanilla-mnist", card=H100,
                          command=TRAIN.format(model="vanilla", epochs=100, sample=5000, ckpt=2000, log=500)
                          + " --model-arg g_norm=none"),
    "cgan-mnist": dict(run="cgan-mnist", weights="generator_ema", dataset="mnist", baseline="cgan-mnist", card=H200,
                       command=TRAIN.format(model="cgan", epochs=30, sample=2000, ckpt=1000, log=200)),
    # Trained on a CPU in one session (scripts/train_zoo.sh cgan-fashion, FASHION_EPOCHS=20).
    "cgan-fashion-mnist": dict(
        run="cgan-fashion-mnist", weights="generator_ema", dataset="fashion-mnist", baseline=None, card=CPU,
        command="ganzoo train cgan --dataset fashion-mnist --data-dir DATA --epochs 20 --batch-size 128 "
                "--lr-g 2e-4 --lr-d 2e-4 --beta1 0.5 --beta2 0.999 --loss hinge --eval-every 1876 --seed 0 "
                "--out RUN --sample-every 5000 --checkpoint-every 2000 --log-every 500 -q"),
    # dcgan-mnist's CPU recipe on Fashion-MNIST (scripts/train_zoo.sh dcgan-fashion, FASHION_EPOCHS=20).
    "dcgan-fashion-mnist": dict(
        run="dcgan-fashion-mnist", weights="generator_ema", dataset="fashion-mnist", baseline=None, card=CPU,
        command="ganzoo train dcgan --dataset fashion-mnist --data-dir DATA --epochs 20 --batch-size 128 "
                "--lr-g 2e-4 --lr-d 2e-4 --beta1 0.5 --beta2 0.999 --loss non-saturating --model-arg plan=pad "
                "--checkpoint-every 469 --eval-every 2345 --eval-n 2000 --sample-every 2345 --seed 0 --out RUN "
                "--log-every 235 -q"),
}

# Candidates: generators scored like the zoo's but not shipped (--candidate); their receipts are
# written to bench/results/candidates/<id>/ (no weights: those stay in bench/results/zoo-runs).
CANDIDATES = {
    # Today's image MLPs (BatchNorm in G, no dropout in D), 60 epochs on the CPU (scripts/train_zoo.sh
    # vanilla-cpu), beside the shipped 100-epoch GPU bundle on the old MLPs. Not shipped: better recall
    # and confident share, worse FID and KID on both networks (bench/RESULTS.md).
    "vanilla-mnist": dict(
        run="vanilla-bn-60ep-mnist", weights="generator_ema", dataset="mnist", card=CPU,
        baseline=dict(run="vanilla-100ep-mnist", weights="generator_ema",
                      label="the shipped vanilla-mnist (ganzoo 0.1's MLPs, g_norm none, dropout 0.3, "
                            "100 epochs on a GPU, EMA G; `bench/results/zoo-runs/vanilla-100ep-mnist`)"),
        command=("ganzoo train vanilla --dataset mnist --data-dir DATA --epochs 60 --batch-size 64 --lr-g 2e-4 "
                 "--lr-d 2e-4 --beta1 0.5 --beta2 0.999 --loss non-saturating --model-arg g_norm=batch "
                 "--model-arg dropout=0 --checkpoint-every 938 --eval-every 9370 --eval-n 2000 --sample-every 9370 "
                 "--seed 0 --out RUN --log-every 938 -q")),
}


def export_run(run: Path, name: str) -> Path:
    """Copy a finished run's newest checkpoint (weights, state) and its logs to ``bench/results/zoo-runs/<name>``."""
    import shutil

    ckpt = find_checkpoint(run)
    dest = RUNS / name
    if dest.exists():
        raise SystemExit(f"{dest} exists; remove it to export again")
    part = RUNS / f".{name}.part"
    shutil.rmtree(part, ignore_errors=True)
    part.mkdir(parents=True)
    for f in ("generator.safetensors", "generator_ema.safetensors", "state.json"):
        if (ckpt / f).is_file():
            shutil.copy2(ckpt / f, part / f)
    for f in ("config.json", "metrics.jsonl"):
        shutil.copy2(run / f, part / f)
    grids = sorted((run / "samples").glob("*.png"))
    if grids:
        shutil.copy2(grids[-1], part / "samples.png")
    part.rename(dest)
    return dest


def generator_of(run: Path, weights: str) -> tuple[ganzoo.GAN, dict]:
    state = json.loads((run / "state.json").read_text())
    spec = ganzoo.get_spec(state["config"]["model"])
    # A run saved before a default changed keeps the settings it was trained with.
    gan = ganzoo.create(state["config"]["model"], **{**spec.saved_defaults, **state["model_config"]})
    gan.generator.load_state_dict(load_file(str(run / f"{weights}.safetensors")))
    gan.generator.eval()
    return gan, state


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data" / "mnist"))
    p.add_argument("--only", action="append", help="build just these ids")
    p.add_argument("--n", type=int, default=10_000)
    p.add_argument("--candidate", action="store_true",
                   help="build CANDIDATES' entries into bench/results/candidates/ instead of the plugins")
    p.add_argument("--export", nargs=2, metavar=("RUN", "NAME"),
                   help="first copy a finished run's newest checkpoint to bench/results/zoo-runs/NAME")
    args = p.parse_args(argv)
    entries = CANDIDATES if args.candidate else ZOO
    unknown = sorted(set(args.only or ()) - set(entries))
    if unknown:
        p.error(f"no entry {', '.join(unknown)}; the entries: {', '.join(entries)}")
    if args.export:
        print("exported to", export_run(Path(args.export[0]), args.export[1]))
    for pid, entry in entries.items():
        if args.only and pid not in args.only:
            continue
        run_name, weights, dataset, base_name = entry["run"], entry["weights"], entry["dataset"], entry["baseline"]
        card, command = entry["card"], entry["command"]
        data_dir = Path(args.data_dir).parent / dataset if dataset != "mnist" else args.data_dir
        gan, state = generator_of(RUNS / run_name, weights)
        metrics = ("fid", "kid", "is", "precision", "recall", "confident") + (
            ("label_accuracy",) if gan.spec.conditional else ())
        own = evaluate(gan.generator, dataset, data_dir, n=args.n, metrics=metrics, model_name=pid)
        comparison = []
        if base_name:
            # a dict names the run, weights and label (the bundle this one replaces, say); a bare
            # run name is the paper recipe's 30-epoch run, scored by its raw generator
            base_run = base_name if isinstance(base_name, dict) else dict(
                run=base_name, weights="generator", label="the paper recipe's raw generator after 30 epochs "
                f"(`bench/results/zoo-runs/{base_name}/generator.safetensors`)")
            base_gan, base_state = generator_of(RUNS / base_run["run"], base_run["weights"])
            base = evaluate(base_gan.generator, dataset, data_dir, n=args.n, metrics=metrics,
                            model_name=base_run["label"] if isinstance(base_name, dict) else
                            f"{base_state['config']['model']}, paper recipe, 30 epochs, raw G")
            base.receipt["label"] = f"for comparison: {base_run['label']}"
            comparison = [base.receipt]
        rows = [json.loads(line) for line in (RUNS / run_name / "metrics.jsonl").read_text().splitlines()]
        epochs = [r for r in rows if "epoch" in r][-1]["epoch"]  # eval and change rows have no epoch
        own.receipt["label"] = f"{'a candidate, not shipped' if args.candidate else 'this generator'} ({pid}: {weights.replace('_', ' ')}, {epochs:.0f} epochs)"
        training = dict(state["config"])
        gan.loss_name = state["loss"]
        folder = (ROOT / "bench" / "results" / "candidates" / pid if args.candidate else
                  ROOT / "plugins" / f"ganzoo_{gan.spec.family.replace('-', '_')}" / "pretrained" / pid)
        note = (f"Length: {state['step']:,} generator steps ({epochs:.1f} epochs)"
                + (f"; the time limit stopped the {training['epochs']:.0f}-epoch run there." if
                   training.get("epochs") and epochs < training["epochs"] - 0.5 else "."))
        ganzoo.save(gan, folder, dataset=dataset, evaluation=[own], discriminator=False,
                    overwrite=True, pretrained_id=None if args.candidate else pid, generator_is_ema=weights == "generator_ema",
                    extra={"training": {k: v for k, v in training.items() if k not in ("data_dir", "out", "resume")},
                           "trained_on": card, "training_command": command, "training_note": note,
                           "comparison": comparison,
                           "source_run": f"bench/results/zoo-runs/{run_name}/{weights}.safetensors"})
        meta = json.loads((folder / "ganzoo.json").read_text())
        if args.candidate:  # the receipt and card only; the weights are the run's (source_run)
            (folder / "generator.safetensors").unlink()
        print(f"{pid}: FID {own.metrics['fid']:.2f}" + "".join(
                  f" (comparison: {c['metrics']['fid']:.2f})" for c in comparison)
              + (f", label accuracy {own.metrics['label_accuracy']:.3f}" if "label_accuracy" in own.metrics else "")
              + f"\n  sha256 {meta['weights']['generator']['sha256']}", flush=True)


if __name__ == "__main__":
    main()

"""Score the GPU-trained generators with ganzoo's metrics (CPU is enough: sampling is cheap).

Two sets, both from ``bench/gpu_bench.py`` on an H200 (see bench/RESULTS.md):

* the zoo runs in ``bench/results/zoo-runs/``: the raw generator after 30 paper-recipe epochs
  (``generator.safetensors``) against its EMA (``generator_ema.safetensors``), and the
  100-epoch DCGAN;
* the quality-vs-training-seconds snapshots (``--snapshots DIR``, the ``snapshots-*.tar``
  files of a device run, unpacked): the EMA generator after 2.5, 5, 10 and 20 s of training.

Protocol: ``ganzoo.metrics.evaluate`` defaults (10,000 samples, seed 0, vs the 10,000 MNIST
test images, features of ganzoo's MNIST classifier).

    python bench/eval_gpu_runs.py --data-dir ../shared/data/mnist [--snapshots DIR] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file

import ganzoo
from ganzoo.metrics import evaluate

HERE = Path(__file__).resolve().parent


def score(model: str, weights: Path, data_dir: str, n: int, model_args: dict | None = None) -> dict:
    gan = ganzoo.create(model, **(model_args or {}))
    g = gan.generator
    g.load_state_dict(load_file(str(weights)))
    g.eval()
    metrics = ("fid", "kid", "is", "precision", "recall") + (("label_accuracy",) if g.num_classes else ())
    res = evaluate(g, "mnist", data_dir, n=n, metrics=metrics, model_name=model)
    return {k: round(v, 4) for k, v in res.metrics.items()} | {"floor": {k: round(v, 4) for k, v in res.floor.items()}}


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--data-dir", default=str(HERE.parent.parent / "shared" / "data" / "mnist"))
    p.add_argument("--runs", default=str(HERE / "results" / "zoo-runs"))
    p.add_argument("--snapshots")
    p.add_argument("--n", type=int, default=10_000)
    p.add_argument("--json")
    args = p.parse_args(argv)
    torch.manual_seed(0)
    out: dict = {"runs": {}, "snapshots": {}}
    for run in sorted(Path(args.runs).iterdir()):
        cfg = json.loads((run / "config.json").read_text())
        if cfg.get("dataset", "mnist") != "mnist":  # scored against MNIST only
            continue
        # the settings the run was built with (state.json); ones added since it was saved
        # (dcgan's plan, vanilla's g_norm) take the value that rebuilds its nets
        built = json.loads((run / "state.json").read_text())["model_config"] if (run / "state.json").is_file() \
            else cfg.get("model_args", {})
        model_args = {**ganzoo.get_spec(cfg["model"]).saved_defaults, **built}
        for w in ("generator.safetensors", "generator_ema.safetensors"):
            if (run / w).exists():
                key = f"{run.name}/{w.split('.')[0]}"
                out["runs"][key] = score(cfg["model"], run / w, args.data_dir, args.n, model_args)
                print(key, out["runs"][key], flush=True)
    if args.snapshots:
        for f in sorted(Path(args.snapshots).glob("*.safetensors")):
            with safe_open(str(f), "pt") as fh:
                meta = fh.metadata()
            key = f.stem
            out["snapshots"][key] = {"seconds": float(meta["seconds"]), "step": int(meta["step"]),
                                     **score("dcgan", f, args.data_dir, args.n)}
            print(key, out["snapshots"][key], flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))
    return out


if __name__ == "__main__":
    main()

"""Does the doctor diagnose correctly? Runs with known outcomes, healthy and broken on purpose.

Usage: python bench/doctor_bench.py [--data-dir DIR] [--out bench/results/doctor_bench-DATE.json] [--only NAME,...]

Each case trains a short run on the CPU (2-D toys and MNIST), then asks ``ganzoo doctor``
(``ganzoo.doctor.diagnose``, log and samples). The ground truth is measured apart from the
doctor: on the toys, the modes the final generator covers with 2,500 samples of another seed
(VEEGAN's protocol, ``ganzoo.metrics.toy_metrics``); on MNIST, the classes of 2,000 samples by
the feature network; for the broken runs, also what was broken on purpose. A case lists the
codes it must find (a miss when absent) and, for the healthy ones, that nothing of severity
warning or worse may be found (a false alarm otherwise). Prints one row per case and totals
per code: hits, misses, false alarms.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import tempfile
import time
from pathlib import Path

import torch

import ganzoo
from ganzoo.doctor import diagnose
from ganzoo.engine import TrainConfig, Trainer
from ganzoo.errors import DivergenceError
from ganzoo.metrics import load_classifier, toy_metrics
from ganzoo.sampling import sample_batch

QUIET = dict(quiet=True, sample_every=10**9, checkpoint_every=10**9)
# name: (TrainConfig settings, codes that must be found, whether it is healthy (no warning or worse))
CASES = {
    "ring8-recipe": (dict(model="vanilla", dataset="ring8", steps=2000, log_every=20), set(), True),
    "mnist-recipe": (dict(model="dcgan", dataset="mnist", epochs=1, log_every=20), set(), True),  # its default length
    "ring8-minimax-strong-d": (dict(model="vanilla", dataset="ring8", steps=600, log_every=10, loss="minimax",
                                    lr_d=1e-2, lr_g=1e-6), {"discriminator-wins"}, False),
    "mnist-minimax-strong-d": (dict(model="dcgan", dataset="mnist", steps=60, log_every=2, loss="minimax",
                                    lr_d=2e-3, lr_g=1e-5), {"discriminator-wins"}, False),
    "ring8-tiny-generator": (dict(model="vanilla", dataset="ring8", steps=1500, log_every=20,
                                  model_args={"latent_dim": 1, "g_hidden": [2]}), {"mode-collapse"}, False),
    "ring8-lr-too-high": (dict(model="vanilla", dataset="ring8", steps=600, log_every=10, lr_g=1.0, lr_d=1.0),
                          {"divergence|oscillation|mode-collapse"}, False),
}


def ground_truth(run: Path, cfg: dict) -> dict:
    g = ganzoo.load(run)
    if cfg["dataset"] == "ring8":
        m = toy_metrics(sample_batch(g, 2500, seed=12345)[0], "ring8")
        return {"modes_covered": m["modes_covered"], "num_modes": m["num_modes"], "high_quality": m["high_quality"]}
    net, _ = load_classifier(cfg["dataset"])
    with torch.inference_mode():
        classes = net(sample_batch(g, 2000, seed=12345)[0]).argmax(1)
    counts = torch.bincount(classes, minlength=10)
    return {"classes_present": int((counts >= 2000 / 10 / 4).sum()), "class_counts": counts.tolist()}


def run_case(name: str, data_dir: str | None, tmp: Path) -> dict:
    settings, must, healthy = CASES[name]
    out = tmp / name
    cfg = dict(QUIET, out=str(out), **settings)
    if settings["dataset"] == "mnist":
        cfg["data_dir"] = data_dir
    t0 = time.perf_counter()
    diverged = None
    try:
        Trainer(TrainConfig(**cfg)).fit()
    except DivergenceError as exc:
        diverged = str(exc).split(";")[0]
    seconds = time.perf_counter() - t0
    d = diagnose(out, n=512)
    found = {f.code: f.severity for f in d.findings}
    truth = None if diverged else ground_truth(out, settings)
    hits = [m for m in must if any(code in found for code in m.split("|"))]
    misses = [m for m in must if m not in hits]
    alarms = [c for c, s in found.items() if healthy and s in ("warning", "failing")]
    return {"case": name, "settings": settings, "seconds": round(seconds, 1), "diverged": diverged,
            "verdict": d.verdict, "found": found, "must_find": sorted(must), "hits": hits, "misses": misses,
            "false_alarms": alarms, "ground_truth": truth, "checked": d.checked}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data-dir", default=None, help="MNIST root (default $GANZOO_DATA)")
    ap.add_argument("--out", default=f"bench/results/doctor_bench-{dt.date.today()}.json")
    ap.add_argument("--only", default="", help="comma-separated case names")
    args = ap.parse_args()
    names = [n for n in CASES if not args.only or n in args.only.split(",")]
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            r = run_case(name, args.data_dir, Path(tmp))
            results.append(r)
            print(f"{name:26s} {r['verdict']:8s} found {sorted(r['found'])} must {r['must_find']} "
                  f"misses {r['misses']} false alarms {r['false_alarms']} truth {r['ground_truth']} "
                  f"({r['seconds']} s)", flush=True)
    totals: dict[str, dict[str, int]] = {}
    for r in results:
        for m in r["must_find"]:
            t = totals.setdefault(m, {"hits": 0, "misses": 0, "false_alarms": 0})
            t["hits" if m in r["hits"] else "misses"] += 1
        for c in r["false_alarms"]:
            totals.setdefault(c, {"hits": 0, "misses": 0, "false_alarms": 0})["false_alarms"] += 1
    summary = {"date": str(dt.date.today()), "torch": torch.__version__, "device": "cpu", "cases": results,
               "per_code": totals}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(summary, indent=2, default=str) + "\n")
    print(json.dumps(totals, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

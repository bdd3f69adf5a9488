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
import ganzoo.plugins
from ganzoo.diagnosis import read_log
from ganzoo.doctor import diagnose
from ganzoo.engine import TrainConfig, Trainer
from ganzoo.errors import DivergenceError
from ganzoo.metrics import load_classifier, toy_metrics
from ganzoo.sampling import sample_batch

QUIET = dict(quiet=True, sample_every=10**9, checkpoint_every=10**9)
TINY = "mnist-256"  # the first 256 MNIST training images; its test split is MNIST's own
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
    # Tiny data: 256 MNIST training images (the bench's own dataset, below), 150 epochs of them.
    "mnist-256-images": (dict(model="dcgan", dataset=TINY, steps=600, log_every=10, batch_size=64),
                         {"discriminator-overfitting"}, False),
    # Evaluated during training with learning rates 10x the recipe's and no EMA: FID stops improving.
    "mnist-lr-10x-evaluated": (dict(model="dcgan", dataset="mnist", steps=600, log_every=10, lr_g=2e-3, lr_d=2e-3,
                                    ema=False, eval_every=50, eval_n=2000), {"no-progress"}, False),
    "mnist-recipe-evaluated": (dict(model="dcgan", dataset="mnist", steps=600, log_every=10, eval_every=50,
                                    eval_n=2000), set(), True),
    # Momentum 0.9 and learning rates 25x the recipe's on the toy: the game swings.
    "ring8-momentum-swings": (dict(model="vanilla", dataset="ring8", steps=1500, log_every=10, lr_g=5e-3, lr_d=5e-3,
                                   betas=(0.9, 0.999), loss="non-saturating", ema=False),
                              {"oscillation|mode-collapse"}, False),
    # A critic's scores (the wgan-gp loss, n_critic 5) are not probabilities: healthy, and broken on purpose.
    # (The wgan-gp family's conv nets are MNIST-sized: its runs are in tests/test_doctor.py, not timed here.)
    "ring8-wgan-gp-loss": (dict(model="vanilla", dataset="ring8", steps=1500, log_every=20, loss="wgan-gp",
                                n_critic=5, lr_g=1e-4, lr_d=1e-4, betas=(0.0, 0.9)), set(), True),
    "ring8-wgan-gp-tiny-generator": (dict(model="vanilla", dataset="ring8", steps=1500, log_every=20, loss="wgan-gp",
                                          n_critic=5, lr_g=1e-4, lr_d=1e-4, betas=(0.0, 0.9),
                                          model_args={"latent_dim": 1, "g_hidden": [2]}), {"mode-collapse"}, False),
    "cgan-recipe": (dict(model="cgan", dataset="mnist", steps=400, log_every=10), set(), True),
    "cgan-minimax-strong-d": (dict(model="cgan", dataset="mnist", steps=60, log_every=2, loss="minimax",
                                   lr_d=2e-3, lr_g=1e-5), {"discriminator-wins"}, False),
}


class TinyMnist:
    """Registers ``mnist-256``: a training set too small for a GAN, so that D can memorise it."""

    @ganzoo.hookimpl
    def ganzoo_register_datasets(self, register):
        from ganzoo.data import load_dataset
        from ganzoo.specs import DatasetSpec

        def load(root, split="train", download=False, image_shape=None):
            ds = load_dataset("mnist", root, split=split, download=download)
            if split == "train":
                ds.data, ds.labels = ds.data[:256].clone(), ds.labels[:256].clone()
            ds.name = TINY
            return ds

        register(DatasetSpec(TINY, "256 MNIST training images (doctor bench)", (1, 28, 28), 10, load,
                             kind="grey-images"))


def d_memorises(run: Path, data_dir: str | None) -> dict:
    """D's mean P(real) on its 256 training images against 256 held-out ones, and how well it tells them apart."""
    from ganzoo.data import load_dataset

    d = ganzoo.load(run, component="discriminator")
    out = {}
    for split in ("train", "test"):
        ds = load_dataset(TINY, data_dir, split=split, download=False)
        x = ds.to_model_range(ds.data[:256])
        with torch.inference_mode():
            out[split] = torch.sigmoid(d(x).float())
    auc = float((out["train"][:, None] > out["test"][None, :]).float().mean())
    return {"p_real_train": round(float(out["train"].mean()), 3), "p_real_test": round(float(out["test"].mean()), 3),
            "auc_train_vs_test": round(auc, 3)}


def ground_truth(run: Path, cfg: dict, data_dir: str | None = None) -> dict:
    g = ganzoo.load(run)
    if cfg["dataset"] == TINY:
        return d_memorises(run, data_dir)
    truth = {}
    if cfg.get("eval_every"):
        fids = [(r["step"], r["eval"]["fid"]) for r in read_log(run) if isinstance(r.get("eval"), dict)]
        best = min(fids, key=lambda sv: sv[1])
        truth = {"fid_first": round(fids[0][1], 2), "fid_best": round(best[1], 2), "best_step": best[0],
                 "fid_last": round(fids[-1][1], 2), "evaluations": len(fids)}
    if cfg["dataset"] == "ring8":
        m = toy_metrics(sample_batch(g, 2500, seed=12345)[0], "ring8")
        return {"modes_covered": m["modes_covered"], "num_modes": m["num_modes"], "high_quality": m["high_quality"]}
    net, _ = load_classifier(cfg["dataset"])
    with torch.inference_mode():
        classes = net(sample_batch(g, 2000, seed=12345)[0]).argmax(1)
    counts = torch.bincount(classes, minlength=10)
    return {**truth, "classes_present": int((counts >= 2000 / 10 / 4).sum()), "class_counts": counts.tolist()}


def run_case(name: str, data_dir: str | None, tmp: Path) -> dict:
    settings, must, healthy = CASES[name]
    out = tmp / name
    cfg = dict(QUIET, out=str(out), **settings)
    if settings["dataset"] in ("mnist", TINY):
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
    truth = None if diverged else ground_truth(out, settings, data_dir)
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
    ganzoo.plugins.register_plugin(TinyMnist(), name="doctor-bench")
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

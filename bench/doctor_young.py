"""What does the doctor say about a healthy run while it is young? The false-alarm check.

Usage: python bench/doctor_young.py [--data-dir DIR] [--runs mnist:0,mnist:1,fashion-mnist:0]
                                    [--every 100] [--out bench/results/doctor_young-DATE.json]

A new user trains the README's 100-step run and asks ``ganzoo doctor``. Each case here trains a
dataset's own dcgan recipe (one epoch, 937 steps at batch 64) in legs of ``--every`` steps
(resumed from the leg before, as a user asking now and then would see it) and after each leg
asks the doctor twice on the same run directory: with its thresholds as shipped, and with the
two young-run rules switched off (samples judged at any step; a discriminator that wins to the
end judged at any length), which is what the doctor said before them (the class check's
interval, which came after the first run of this script, stays on in both). The ground truth beside
it is independent of the doctor's rules: how many of the classes 2,000 samples of the EMA
generator cover by the dataset's feature network (a class counts with at least a quarter of its
fair share, the doctor's own bar), and the run's FID at the end (``ganzoo eval``'s protocol on
2,000 samples, the first feature network). A recipe run is healthy by construction; every
warning or failing before its end is a false alarm unless the truth column shows the damage.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import time
from contextlib import contextmanager
from pathlib import Path

import torch

import ganzoo.diagnosis
import ganzoo.doctor
from ganzoo.doctor import diagnose
from ganzoo.engine import TrainConfig, Trainer
from ganzoo.metrics import load_classifier
from ganzoo.sampling import sample_batch
from ganzoo.zoo import load


@contextmanager
def old_rules():
    """The doctor before the young-run rules: samples judged from step 0, D-wins at any length."""
    saved = ganzoo.doctor.MIN_JUDGED_STEP, ganzoo.diagnosis.WIN_END_STEPS
    ganzoo.doctor.MIN_JUDGED_STEP, ganzoo.diagnosis.WIN_END_STEPS = 0, 0
    try:
        yield
    finally:
        ganzoo.doctor.MIN_JUDGED_STEP, ganzoo.diagnosis.WIN_END_STEPS = saved


def verdict(d) -> str:
    codes = [f"{f.severity}: {f.code}" for f in d.findings if f.severity != "healthy"]
    return d.verdict + (f" ({'; '.join(codes)})" if codes else "")


def classes_covered(run: Path, dataset: str, n: int = 2000) -> tuple[int, int, float]:
    net, _ = load_classifier(dataset)
    g = load(run, device="cpu")
    x, _, _ = sample_batch(g, n, seed=1, device="cpu")
    with torch.inference_mode():
        pred = net(x).argmax(1)
    k = int(net(x[:1]).shape[1])
    counts = torch.bincount(pred, minlength=k)
    return int((counts >= 0.25 * n / k).sum()), k, float(counts.min()) / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", default=os.environ.get("GANZOO_DATA"))
    ap.add_argument("--runs", default="mnist:0,mnist:1,fashion-mnist:0", help="DATASET:SEED,...")
    ap.add_argument("--every", type=int, default=100)
    ap.add_argument("--steps", type=int, default=937, help="the recipe's one epoch at batch 64")
    ap.add_argument("--workdir", default="/tmp/doctor_young")
    ap.add_argument("--out", default=f"bench/results/doctor_young-{dt.date.today()}.json")
    args = ap.parse_args()
    results = []
    for case in args.runs.split(","):
        dataset, seed = case.split(":")
        data_dir = args.data_dir
        if data_dir and dataset != "mnist" and Path(data_dir).name == "mnist":
            data_dir = str(Path(data_dir).parent / dataset)
        run = Path(args.workdir) / f"{dataset}-seed{seed}"
        legs = list(range(args.every, args.steps, args.every)) + [args.steps]
        rows = []
        started = time.time()
        for i, step in enumerate(legs):
            if i == 0:
                cfg = TrainConfig(model="dcgan", dataset=dataset, data_dir=data_dir, steps=step, seed=int(seed),
                                  out=str(run), quiet=True, log_every=10, sample_every=10**9, checkpoint_every=10**9,
                                  batch_size=64)
            else:
                cfg = TrainConfig(resume=str(run), steps=step, quiet=True)
            Trainer(cfg).fit()
            now = diagnose(run, n=512)
            with old_rules():
                before = diagnose(run, n=512)
            covered, k, rarest = classes_covered(run, dataset)
            row = {"step": step, "doctor": verdict(now), "doctor_without_young_rules": verdict(before),
                   "classes_covered": f"{covered}/{k}", "rarest_class_share": round(rarest, 4),
                   "doctor_evidence": [f.evidence for f in now.findings if f.code == "mode-collapse"],
                   "minutes": round((time.time() - started) / 60, 1)}
            print(f"{dataset} seed {seed} step {step:4d}: {row['doctor']:<40} | before: "
                  f"{row['doctor_without_young_rules']:<70} | truth {row['classes_covered']}, rarest {rarest:.1%}", flush=True)
            rows.append(row)
        results.append({"dataset": dataset, "seed": int(seed), "rows": rows})
    out = {"date": str(dt.date.today()), "torch": torch.__version__, "every": args.every, "steps": args.steps,
           "results": results}
    Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    print("wrote", args.out)


if __name__ == "__main__":
    main()

"""ganzoo's metric code against torchmetrics and torch-fidelity, on the same features.

The measurement behind the library decision in ``ganzoo/metrics/feature_metrics.py``.
Neither library is a ganzoo dependency; install them in a scratch virtualenv::

    python -m venv --system-site-packages /tmp/libcheck
    /tmp/libcheck/bin/pip install torchmetrics torch-fidelity
    /tmp/libcheck/bin/python bench/eval_libs_check.py --data-dir ../shared/data/mnist

Features: the shipped MNIST classifier on the 10,000 test images (the reference),
on the first 10,000 train images ("train": real vs real) and on train images
10,000-19,999 with Gaussian noise of std 60/255 added ("noisy"). Each
implementation runs in its own process, one torch thread, so that its peak RSS
(``ru_maxrss``, the whole process: torch, data and features included) is its own.
Prints a markdown table; ``--append FILE`` appends it there.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

IMPLEMENTATIONS = ("ganzoo", "torchmetrics", "torch-fidelity", "torch-fidelity save_cpu_ram")


def _features(data_dir: str | None) -> dict[str, torch.Tensor]:
    from ganzoo.data import load_dataset
    from ganzoo.metrics import load_classifier, reference_stats

    ref = reference_stats("mnist", data_dir)
    net, _ = load_classifier("mnist")
    train = load_dataset("mnist", data_dir, split="train", download=False)
    noisy = train.data[10_000:20_000].float()
    noisy += 60 * torch.randn(noisy.shape, generator=torch.Generator().manual_seed(0))
    out = {"test": ref.features}
    with torch.inference_mode():
        for name, images in (("train", train.data[:10_000].float()), ("noisy", noisy.clamp(0, 255).round())):
            f, lg = zip(*(net.features_and_logits(b / 127.5 - 1) for b in images.split(500)))
            out[name], out[name + "_logits"] = torch.cat(f), torch.cat(lg)
    return out


def _timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def _score(impl: str, fake: torch.Tensor, real: torch.Tensor, logits: torch.Tensor) -> dict:
    r: dict = {}
    if impl == "ganzoo":
        from ganzoo.metrics import feature_metrics as fm

        r["fid"], r["fid_s"] = _timed(lambda: fm.fid(fake, real))
        (r["kid"], _), r["kid_s"] = _timed(lambda: fm.kid(fake, real, seed=0))
        r["kid_again"] = fm.kid(fake, real, seed=0)[0]
        r["is"], r["is_s"] = _timed(lambda: fm.inception_score(logits))
        (r["precision"], r["recall"]), r["pr_s"] = _timed(lambda: fm.precision_recall(fake, real))
    elif impl == "torchmetrics":
        from torchmetrics.image.fid import FrechetInceptionDistance
        from torchmetrics.image.inception import InceptionScore
        from torchmetrics.image.kid import KernelInceptionDistance

        class Identity(torch.nn.Module):  # features are already computed
            num_features = real.shape[1]

            def forward(self, x):
                return x

        def fid():
            m = FrechetInceptionDistance(feature=Identity())
            m.update(real, real=True)
            m.update(fake, real=False)
            return float(m.compute())

        def kid():
            m = KernelInceptionDistance(feature=Identity(), subsets=100, subset_size=1000)
            m.update(real, real=True)
            m.update(fake, real=False)
            return float(m.compute()[0])

        def inception():
            m = InceptionScore(feature=Identity(), splits=1)
            m.update(logits)
            return float(m.compute()[0])

        r["fid"], r["fid_s"] = _timed(fid)
        r["kid"], r["kid_s"] = _timed(kid)
        r["kid_again"] = kid()
        r["is"], r["is_s"] = _timed(inception)
    else:
        from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric
        from torch_fidelity.metric_isc import isc_features_to_metric
        from torch_fidelity.metric_kid import kid_features_to_metric
        from torch_fidelity.metric_prc import prc_features_to_metric

        if impl == "torch-fidelity":
            r["fid"], r["fid_s"] = _timed(lambda: fid_statistics_to_metric(
                fid_features_to_statistics(fake.double()), fid_features_to_statistics(real.double()), False
            )["frechet_inception_distance"])
            r["kid"], r["kid_s"] = _timed(lambda: kid_features_to_metric(
                fake, real, kid_subsets=100, kid_subset_size=1000, rng_seed=0, verbose=False
            )["kernel_inception_distance_mean"])
            r["kid_again"] = r["kid"]  # seeded numpy RNG: same by construction
            r["is"], r["is_s"] = _timed(lambda: isc_features_to_metric(
                logits, splits=1, shuffle=False)["inception_score_mean"])
        pr, r["pr_s"] = _timed(lambda: prc_features_to_metric(
            fake, real, prc_neighborhood=3, prc_batch_size=10_000,
            save_cpu_ram=impl.endswith("save_cpu_ram"), verbose=False))
        r["precision"], r["recall"] = pr["precision"], pr["recall"]
    return r


def run_one(impl: str, data_dir: str | None) -> dict:
    torch.set_num_threads(1)
    feats = _features(data_dir)
    out: dict = {
        name: _score(impl, feats[name], feats["test"], feats[name + "_logits"]) for name in ("train", "noisy")
    }
    out["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    return out


def _cell(r: dict, key: str, fmt: str) -> str:
    return format(r[key], fmt) if key in r else "-"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default=None)
    p.add_argument("--only", choices=IMPLEMENTATIONS, help=argparse.SUPPRESS)  # the child process
    p.add_argument("--append", type=Path, default=None)
    args = p.parse_args()
    if args.only:
        print(json.dumps(run_one(args.only, args.data_dir)))
        return 0

    results = {}
    for impl in IMPLEMENTATIONS:
        cmd = [sys.executable, __file__, "--only", impl] + (["--data-dir", args.data_dir] if args.data_dir else [])
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode:
            print(f"{impl}: failed ({proc.stderr.strip().splitlines()[-1] if proc.stderr else proc.returncode})")
            continue
        results[impl] = json.loads(proc.stdout.strip().splitlines()[-1])

    import importlib.metadata as md

    versions = []
    for dist in ("torchmetrics", "torch-fidelity"):
        try:
            versions.append(f"{dist} {md.version(dist)}")
        except md.PackageNotFoundError:
            versions.append(f"{dist} not installed")
    lines = [
        f"## Metric libraries vs ganzoo's own code ({datetime.now(timezone.utc):%Y-%m-%d})",
        "",
        f"`bench/eval_libs_check.py`: {', '.join(versions)}, torch {torch.__version__}; "
        f"{platform.machine()} CPU, {os.cpu_count()} cores (shared), 1 torch thread. "
        "Reference: the 10,000 MNIST test images; 'train': the first 10,000 train images; 'noisy': 10,000 "
        "other train images plus Gaussian noise (std 60/255). Times in seconds; peak RSS of the whole process.",
        "",
        "| implementation | set | FID | KID | KID, 2nd call | IS | precision | recall | KID s | P&R s | peak RSS GB |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for impl, res in results.items():
        for name in ("train", "noisy"):
            r = res[name]
            lines.append(
                f"| {impl} | {name} | {_cell(r, 'fid', '.10f')} | {_cell(r, 'kid', '.3e')} | "
                f"{_cell(r, 'kid_again', '.3e')} | {_cell(r, 'is', '.8f')} | {_cell(r, 'precision', '.4f')} | "
                f"{_cell(r, 'recall', '.4f')} | {_cell(r, 'kid_s', '.1f')} | {_cell(r, 'pr_s', '.1f')} | "
                f"{res['peak_rss_gb']:.2f} |"
            )
    text = "\n".join(lines) + "\n"
    print(text)
    if args.append:
        with open(args.append, "a") as f:
            f.write("\n" + text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

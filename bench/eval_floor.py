"""The real-vs-real floor of ganzoo's MNIST evaluation: what real images score.

Scores the first ``n`` MNIST *train* images against the 10,000 *test* images
with the shipped feature classifier, exactly as ``ganzoo.metrics.evaluate``
scores a generator's ``n`` samples, for each ``n`` asked for (FID and KID are
biased upwards at small ``n``, so a floor only compares with numbers of the
same ``n``). Prints a markdown section with the date, machine, versions and
wall time; ``--append FILE`` also appends it there.

Run (from the repository root)::

    python bench/eval_floor.py --data-dir ../shared/data/mnist
    python bench/eval_floor.py --data-dir ../shared/data/mnist --n 2000 5000 10000 --append bench/RESULTS.md

A fresh temporary cache is used unless ``--cache-dir`` is given, so the wall
time includes computing the reference statistics.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

import ganzoo
from ganzoo.metrics import load_classifier, real_vs_real

COLUMNS = ("fid", "kid", "kid_std", "is", "precision", "recall", "label_accuracy")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="mnist")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--n", type=int, nargs="+", default=[10_000])
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    p.add_argument("--cache-dir", default=None)
    p.add_argument("--append", type=Path, default=None, help="markdown file to append the section to")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    _, record = load_classifier(args.dataset)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        cache = args.cache_dir or tmp
        for n in args.n:
            start = time.perf_counter()
            floor = real_vs_real(args.dataset, args.data_dir, n=n, cache_dir=cache, device=args.device)
            rows.append((n, floor["metrics"], time.perf_counter() - start))

    device = args.device
    if device.startswith("cuda"):
        device += f" ({torch.cuda.get_device_name(torch.device(device))})"
    else:
        device += f" ({platform.machine()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads)"
    lines = [
        f"## Real-vs-real floor, {args.dataset} ({datetime.now(timezone.utc):%Y-%m-%d})",
        "",
        f"First n train images vs the 10,000 test images; features: {record['name']} "
        f"(sha256 {record['sha256'][:12]}..., test accuracy {record['test_accuracy']:.4f}). "
        f"Machine: {device}; ganzoo {ganzoo.__version__}, torch {torch.__version__}. "
        "Wall time includes the reference statistics for the first row (fresh cache).",
        "",
        "| n | " + " | ".join(COLUMNS) + " | wall s |",
        "|---|" + "---|" * (len(COLUMNS) + 1),
    ]
    for n, m, seconds in rows:
        cells = [f"{m[c]:.3g}" if c in ("kid", "kid_std") else f"{m[c]:.4f}" for c in COLUMNS]
        lines.append(f"| {n} | " + " | ".join(cells) + f" | {seconds:.0f} |")
    lines.append("")
    lines.append("Command: `python bench/eval_floor.py " + " ".join(
        f"--{k.replace('_', '-')} {' '.join(map(str, v)) if isinstance(v, list) else v}"
        for k, v in vars(args).items() if v is not None and k != "append") + "`")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.append:
        with open(args.append, "a") as f:
            f.write("\n" + text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

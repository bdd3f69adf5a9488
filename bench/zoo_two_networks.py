"""Score the shipped zoo and real data on both MNIST feature networks, side by side.

For each pretrained id (default: every ``*-mnist`` one) this runs ganzoo's protocol
(10,000 samples, seed 0, against the 10,000 test images) once; ``evaluate`` scores the same
samples on the first network (``mnist-classifier``) and on the independently built
cross-check network (``mnist-resnet``). Real data is the protocol's floor: the first 10,000
train images against the test split, on each network. The script prints a Markdown table
(FID and the share of samples classified with p > 0.9, per network), the pairs of models the
two networks rank differently, and writes every receipt to ``--out``.

With ``--floor-only DATASET`` it scores real data alone (for Fashion-MNIST, which has no
shipped generator yet).

    python bench/zoo_two_networks.py --data-dir ../shared/data/mnist \\
        --out bench/results/zoo_two_networks-2026-12-01.json

Results: ``bench/RESULTS.md`` ("The zoo on two feature networks").
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

import ganzoo
from ganzoo.metrics import evaluate, rank_disagreements
from ganzoo.metrics.cache import default_cache_dir
from ganzoo.metrics.classifier import dataset_networks
from ganzoo.metrics.networks import feature_network
from ganzoo.metrics.real_data import _floor, _reference

METRICS = ("fid", "kid", "precision", "recall", "confident")


def floors(dataset: str, data_dir: str | None, n: int) -> dict[str, dict[str, float]]:
    """Real data (first ``n`` train images vs the test split) on each of ``dataset``'s networks."""
    out = {}
    device, cache = torch.device("cpu"), default_cache_dir()
    for name in dataset_networks(dataset):
        net, record, _ = feature_network(dataset, device, name=name)
        ref = _reference(dataset, data_dir, net, record["sha256"], cache, device, 500)
        out[name] = _floor(dataset, data_dir, n, METRICS, net, record["sha256"], ref, cache, device, 500)["metrics"]
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default=None)
    p.add_argument("--ids", nargs="*", help="pretrained ids (default: every *-mnist one)")
    p.add_argument("--n", type=int, default=10_000)
    p.add_argument("--floor-only", metavar="DATASET")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    meta = {"n": args.n, "seed": 0, "torch": torch.__version__, "ganzoo": ganzoo.__version__,
            "platform": f"{platform.system()} {platform.machine()}, {args.threads} thread(s)"}

    if args.floor_only:
        result = {**meta, "dataset": args.floor_only, "floor": floors(args.floor_only, args.data_dir, args.n)}
        print(json.dumps(result, indent=2))
    else:
        ids = args.ids or [i for i in ganzoo.list_pretrained() if i.endswith("-mnist")]
        receipts = {}
        for pid in ids:
            g = ganzoo.load(pid)
            metrics = METRICS + (("label_accuracy",) if g.is_conditional else ())
            receipts[pid] = evaluate(g, "mnist", args.data_dir, n=args.n, metrics=metrics, model_name=pid).receipt
            print(f"{pid}: done ({time.perf_counter() - start:.0f} s)", flush=True)
        first = next(iter(receipts.values()))
        nets = [first["feature_network"]["name"]] + [c["feature_network"]["name"] for c in first["cross_check"]]
        print("\n| model | " + " | ".join(f"FID `{n}` | p>0.9 `{n}`" for n in nets) + " |")
        print("|---|" + "---:|---:|" * len(nets))
        real = [first["floor"]["metrics"]] + [c["floor"]["metrics"] for c in first["cross_check"]]
        print("| real train images | " + " | ".join(f"{m['fid']:.2f} | {m['confident']:.3f}" for m in real) + " |")
        for pid, r in receipts.items():
            cells = [r["metrics"]] + [c["metrics"] for c in r["cross_check"]]
            print(f"| `{pid}` | " + " | ".join(f"{m['fid']:.2f} | {m['confident']:.3f}" for m in cells) + " |")
        disagreements = {m: rank_disagreements(receipts, m) for m in ("fid", "confident")}
        for m, found in disagreements.items():
            print(f"\nrank disagreements by {m}: " + ("; ".join(found) if found else "none"))
        result = {**meta, "dataset": "mnist", "receipts": receipts, "rank_disagreements": disagreements}
    result["seconds"] = round(time.perf_counter() - start, 1)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

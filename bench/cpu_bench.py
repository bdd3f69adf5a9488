"""CPU throughput: DCGAN on MNIST, batch 64, ganzoo's engine against a pytorch/examples-style loop.

Both train the same networks (``ganzoo.create("dcgan")``) in the same run on this machine;
the baseline is ``bench/baseline_dcgan.py`` (torchvision MNIST + DataLoader, fp32). ganzoo
runs its CPU path: in-memory uint8 data batched by indexing, channels_last, no per-step host
sync. Each is timed over ``--steps`` steps after ``--warmup`` steps; the pair is repeated
``--repeats`` times, alternating, and the median is reported.

    python bench/cpu_bench.py --data-dir ../shared/data/mnist
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent


def ganzoo_rate(data_dir: str, batch_size: int, steps: int, warmup: int, channels_last: bool,
                compile: bool = False) -> float:
    from ganzoo.engine import TrainConfig, Trainer

    out = Path(tempfile.mkdtemp(prefix="ganzoo-cpu-bench-"))
    try:
        tr = Trainer(TrainConfig(model="dcgan", dataset="mnist", data_dir=data_dir, batch_size=batch_size,
                                 steps=10**9, device="cpu", channels_last=channels_last, quiet=True,
                                 compile=compile, out=str(out / "run")))
        step = tr._make_step()
        for _ in range(warmup):  # compiling happens here with --compile (not timed)
            step(*tr._batch(tr._next_indices()))
        t = time.perf_counter()
        for _ in range(steps):
            _, vec = step(*tr._batch(tr._next_indices()))
        float(vec[0])  # the same single read a log line would make
        return steps * batch_size / (time.perf_counter() - t)
    finally:
        shutil.rmtree(out, ignore_errors=True)


def baseline_rate(data_dir: str, batch_size: int, steps: int, warmup: int, workers: int) -> float:
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        subprocess.run([sys.executable, str(HERE / "baseline_dcgan.py"), "--device", "cpu", "--batch-size",
                        str(batch_size), "--steps", str(steps), "--warmup", str(warmup), "--workers", str(workers),
                        "--data-dir", data_dir, "--json", f.name], check=True, capture_output=True)
        return json.loads(Path(f.name).read_text())["images_per_s"]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=str(HERE.parent.parent / "shared" / "data" / "mnist"))
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--compile", action="store_true", help="also time the engine with torch.compile (channels_last)")
    p.add_argument("--json")
    args = p.parse_args(argv)
    rows = {"baseline": [], "ganzoo": [], "ganzoo_nchw": [], **({"ganzoo_compile": []} if args.compile else {})}
    for _ in range(args.repeats):
        rows["baseline"].append(baseline_rate(args.data_dir, args.batch_size, args.steps, args.warmup, args.workers))
        rows["ganzoo"].append(ganzoo_rate(args.data_dir, args.batch_size, args.steps, args.warmup, True))
        rows["ganzoo_nchw"].append(ganzoo_rate(args.data_dir, args.batch_size, args.steps, args.warmup, False))
        if args.compile:
            rows["ganzoo_compile"].append(ganzoo_rate(args.data_dir, args.batch_size, args.steps, args.warmup, True, True))
        print({k: round(v[-1], 1) for k, v in rows.items()}, flush=True)
    med = {k: statistics.median(v) for k, v in rows.items()}
    result = {"batch_size": args.batch_size, "steps": args.steps, "repeats": args.repeats, "threads": torch.get_num_threads(),
              "torch": torch.__version__, "median_images_per_s": {k: round(v, 1) for k, v in med.items()},
              "speedup": round(med["ganzoo"] / med["baseline"], 2), "all": rows}
    print(f"pytorch/examples-style: {med['baseline']:.1f} img/s | ganzoo (channels_last): {med['ganzoo']:.1f} img/s "
          f"| ganzoo (NCHW): {med['ganzoo_nchw']:.1f} img/s | speed-up {result['speedup']}x"
          + (f" | ganzoo (torch.compile): {med['ganzoo_compile']:.1f} img/s" if args.compile else ""))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()

"""What the live doctor costs a training: the same run with and without it, on this machine.

Usage: python bench/doctor_overhead.py [--steps N] [--log-every K] [--repeats R]

Trains vanilla on ring8 (the cheapest step ganzoo has, so the doctor's share is as large as it
gets) with --log-every 1 by default (the doctor looks at every 5th row: the most often it runs),
alternating doctor on and off R times, and prints the median wall time of each and the
difference per log row. A real run logs every 50 steps: divide accordingly.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time

from ganzoo.engine import TrainConfig, Trainer


def one(doctor: bool, steps: int, log_every: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        cfg = TrainConfig(model="vanilla", dataset="ring8", steps=steps, log_every=log_every, quiet=True,
                          sample_every=10**9, checkpoint_every=10**9, doctor=doctor, out=f"{tmp}/run")
        trainer = Trainer(cfg)
        t0 = time.perf_counter()
        trainer.fit()
        return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--log-every", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    times: dict[bool, list[float]] = {True: [], False: []}
    for _ in range(args.repeats):
        for doctor in (False, True):
            times[doctor].append(one(doctor, args.steps, args.log_every))
    off, on = statistics.median(times[False]), statistics.median(times[True])
    rows = args.steps // args.log_every
    print(json.dumps({"steps": args.steps, "log_every": args.log_every, "log_rows": rows, "repeats": args.repeats,
                      "seconds_without": round(off, 3), "seconds_with": round(on, 3),
                      "overhead_percent": round(100 * (on - off) / off, 2),
                      "ms_per_log_row": round(1000 * (on - off) / rows, 3)}, indent=2))


if __name__ == "__main__":
    main()

"""Print bench/RESULTS.md's calibration table from the JSON files of ``bench/calibrate_cpu.sh``.

    python bench/calibration_table.py bench/results/calibrate-cpu-2026-12-01/*.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def rows(path: Path) -> list[tuple[str, dict, str]]:
    data = json.loads(path.read_text())
    if "score" in data:  # bench/reference_dcgan.py
        p = data["params"]
        return [(data["model"], data["score"], f"G {p['G'] / 1e6:.2f}M, D {p['D'] / 1e6:.2f}M; "
                 f"{data['settings']['steps']} steps, {data['train_seconds']:.0f} s")]
    out = []
    for r in data["results"]:  # bench/calibrate.py
        cfg = r.get("model_config") or {}
        setting = ", ".join(f"{k}={cfg[k]}" for k in ("plan", "arch") if k in cfg)
        out.append((f"ganzoo {r['config']['model']} ({setting}), {'EMA' if r.get('ema') else 'raw'} G",
                    r["score"], f"{r.get('step')} steps"
                    + (f", {r['train_seconds']:.0f} s" if r.get("train_seconds") else "")))
    return out


def main(paths: list[str]) -> None:
    table = [row for p in sorted(paths) for row in rows(Path(p))]
    print("| model | FID | p > 0.9 | precision | recall | run |")
    print("|---|---:|---:|---:|---:|---|")
    for name, s, note in table:
        print(f"| {name} | {s['fid']:.1f} | {s['confident']:.3f} | {s['precision']:.3f} | {s['recall']:.3f} | {note} |")
    real = table[0][1]["real"]
    print(f"| real data (train vs test; test images for p > 0.9) | {real['fid']:.2f} | {real['confident']:.3f} "
          f"| {real['precision']:.3f} | {real['recall']:.3f} | |")


if __name__ == "__main__":
    main(sys.argv[1:])

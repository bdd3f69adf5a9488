"""Print bench/RESULTS.md's calibration table from the JSON files of ``bench/calibrate_cpu.sh``.

Both MNIST feature networks: ganzoo's classifier and the cross-check ``mnist-resnet``.

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
        seed = data["settings"].get("seed", 0)
        return [(data["model"] + (f", seed {seed}" if seed else ""), data["score"],
                 f"G {p['G'] / 1e6:.2f}M, D {p['D'] / 1e6:.2f}M; "
                 f"{data['settings']['steps']} steps, {data['train_seconds']:.0f} s")]
    out = []
    for r in data["results"]:  # bench/calibrate.py
        cfg = r.get("model_config") or {}
        if r["config"]["model"] == "vanilla":
            if "g_norm" not in cfg:  # saved before g_norm: the old nets
                cfg = {**cfg, "g_norm": "none"}
            if "dropout" not in cfg:  # saved before dropout was recorded: 0.3 was then its default for images
                cfg = {**cfg, "dropout": 0.3}
        setting = ", ".join([f"{k}={cfg[k]}" for k in ("plan", "arch", "dropout", "g_norm") if cfg.get(k) is not None]
                            + [f"batch {r['config']['batch_size']}"]
                            + ([f"seed {r['config']['seed']}"] if r["config"].get("seed") else []))
        out.append((f"ganzoo {r['config']['model']} ({setting}), {'EMA' if r.get('ema') else 'raw'} G",
                    r["score"], f"{r.get('step')} steps"
                    + (f", {r['train_seconds']:.0f} s" if r.get("train_seconds") else "")))
    return out


def _check(s: dict, key: str, real: bool = False) -> str:
    """The cross-check network's number (``mnist-resnet``), or a dash for results scored before it."""
    for c in (s.get("cross_check") or {}).values():
        v = (c["real"] if real else c["metrics"]).get(key)
        if v is not None:
            return f"{v:.2f}" if key == "fid" else f"{v:.3f}"
    return "-"


def main(paths: list[str]) -> None:
    table = [row for p in sorted(paths) for row in rows(Path(p))]
    print("| model | FID | FID (cross-check) | p > 0.9 | p > 0.9 (cross-check) | precision | recall | run |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for name, s, note in table:
        print(f"| {name} | {s['fid']:.2f} | {_check(s, 'fid')} | {s['confident']:.3f} | {_check(s, 'confident')} "
              f"| {s['precision']:.3f} | {s['recall']:.3f} | {note} |")
    real = table[0][1]["real"]
    print(f"| real data (10,000 train vs the test images) | {real['fid']:.2f} | {_check(table[0][1], 'fid', True)} "
          f"| {real['confident']:.3f} | {_check(table[0][1], 'confident', True)} "
          f"| {real['precision']:.3f} | {real['recall']:.3f} | |")


if __name__ == "__main__":
    main(sys.argv[1:])

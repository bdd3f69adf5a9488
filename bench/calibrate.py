"""Score ganzoo runs and bundles the way ``bench/reference_dcgan.py`` scores the reference DCGAN.

Each argument is a run directory (its newest checkpoint; the raw generator and, when the run
kept one, the EMA generator are both scored) or a pretrained id / bundle folder. Scores come
from ``bench/quality.py`` (ganzoo's protocol plus the share of samples classified with
p > 0.9). Writes one JSON list.

    python bench/calibrate.py /work/i15a-runs/dcgan-4x4-3ep dcgan-mnist --json bench/results/x.json
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from quality import score  # noqa: E402

import ganzoo  # noqa: E402


def _run_info(run: Path) -> dict:
    lines = (run / "metrics.jsonl").read_text().splitlines() if (run / "metrics.jsonl").is_file() else []
    last = json.loads(lines[-1]) if lines else {}
    ckpt = sorted((run / "checkpoints").glob("*/state.json"))
    state = json.loads(ckpt[-1].read_text()) if ckpt else {}
    return {"epoch": last.get("epoch"), "step": state.get("step"), "train_seconds": last.get("time"),
            "config": state.get("config"),
            "model_config": state.get("model_config")}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("sources", nargs="+", help="run directories, pretrained ids or bundle folders")
    p.add_argument("--data-dir", default=None, help="MNIST root (default $GANZOO_DATA)")
    p.add_argument("--json", type=Path, required=True)
    p.add_argument("--no-ema", action="store_true", help="score only the raw generator of runs")
    args = p.parse_args(argv)
    out = []
    for src in args.sources:
        run = Path(src)
        if (run / "checkpoints").is_dir():
            info = _run_info(run)
            for ema in (False,) if args.no_ema else (False, True):
                g = ganzoo.load(run, ema=ema)
                label = f"{run.name} ({'EMA' if ema else 'raw'} G)"
                out.append({"source": str(run), "ema": ema, **info, "score": score(g, args.data_dir, label)})
                print(label, {k: round(v, 4) for k, v in out[-1]["score"].items() if k in
                              ("fid", "confident", "precision", "recall")}, flush=True)
        else:
            g = ganzoo.load(src)
            out.append({"source": src, "score": score(g, args.data_dir, src)})
            print(src, {k: round(v, 4) for k, v in out[-1]["score"].items() if k in
                        ("fid", "confident", "precision", "recall")}, flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                                     "command": "python bench/calibrate.py " + " ".join(argv or sys.argv[1:]),
                                     "results": out}, indent=2) + "\n")


if __name__ == "__main__":
    main()

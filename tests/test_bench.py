"""The GPU benchmark's code paths, run on the CPU (``--dry``), so a lent GPU's minutes are not
spent finding a typo. Numbers are not checked here; they live in bench/RESULTS.md."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow
@pytest.mark.data
def test_gpu_bench_dry_run_completes_every_section(tmp_path, mnist_dir):
    out = tmp_path / "out"
    cmd = [sys.executable, str(REPO / "bench" / "gpu_bench.py"), "--dry", "--data-dir", str(mnist_dir),
           "--out", str(out), "--work", str(tmp_path / "work"), "--zoo", "dcgan",
           "--recipes", "default,bs512-lr1e-3,bs512-lr1e-3-linear"]
    proc = subprocess.run(cmd, capture_output=True, text=True)  # no time limit: speed is bench/'s business
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads((out / "gpu_bench.json").read_text())
    for section in ("smoke", "throughput", "quality", "pretrained"):
        assert "error" not in res[section], (section, res[section])
    assert all(res["smoke"][m]["last"]["step"] == 4 for m in ("vanilla", "dcgan", "wgan-gp", "cgan"))
    tp = res["throughput"]
    assert tp["ganzoo"]["8"]["finite"] and tp["ganzoo"]["8"]["images_per_s"] > 0
    assert "images_per_s" in tp["baseline"]["8"], tp["baseline"]
    assert tp["compile"]["8-graph"]["images_per_s"] > 0 and "compiled" in tp["compile"]["8-graph"]

    q = res["quality"]
    assert math.isfinite(q["bar"]["dcgan-mnist"])
    decay = q["bs512-lr1e-3-linear"]
    assert decay["config"]["lr_schedule"] == "linear"
    assert decay["snapshots"][-1]["step"] == decay["steps"]  # a decaying recipe runs to its end
    assert decay["snapshots"][-1]["lr_g"] < decay["config"]["lr_g"]
    for name in ("default", "bs512-lr1e-3"):
        assert all(math.isfinite(r["fid"]) for r in q[name]["snapshots"])
        assert q[name]["config"]["lr_schedule"] == "constant"
    assert q["best_within_budget"] is not None
    with tarfile.open(out / "snapshots-bs512-lr1e-3.tar") as tar:
        assert any(n.endswith(".safetensors") for n in tar.getnames())
    assert res["pretrained"]["dcgan"]["rc"] == 0
    assert (out / "zoo-dcgan.tar").is_file()

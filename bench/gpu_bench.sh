#!/usr/bin/env bash
# One device call on a lent GPU machine (H100/H200, torch 2.11 preinstalled, no network):
#   bash bench/gpu_bench.sh            (writes under $OUT, default /tmp/gpu-bench-out)
# Issue 6's measurements, about 7 minutes (smoke ~0.5, throughput ~3, quality ~3.5):
#   OUT=$OUT bash bench/gpu_bench.sh --sections smoke,throughput,quality
# `--recipes a,b` picks quality recipes (bench/gpu_bench.py RECIPES); `python3 bench/gpu_bench.py --dry ...`
# runs every section on the CPU first (tests/test_bench.py does).
# Needs the MNIST .gz files in .gpu_data/MNIST/raw/ (or GANZOO_DATA pointing at a folder with MNIST/raw/).
set -uo pipefail
OUT=${OUT:-/tmp/gpu-bench-out}
DATA=${GANZOO_DATA:-.gpu_data}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv
# ganzoo's own dependencies are all in the image; install just the package (offline, no deps).
python3 -m pip install -q --no-deps --no-build-isolation --no-index -e . 2>&1 | grep -v -i warning \
  || python3 -m pip install -q --no-deps --no-index .whl/ganzoo-*.whl
python3 -c "import ganzoo, torch; print('ganzoo', ganzoo.__version__, 'torch', torch.__version__, ganzoo.list_models())"
# The GPU-only tests first (CUDA graph vs eager, schedule inside the graph, resume, compile, bf16 sampling).
timeout 240 python3 -m pytest -q -m gpu -p no:cacheprovider tests/test_gpu.py tests/test_zoo.py 2>&1 \
  | tee "$OUT/gpu_tests.log" | tail -n 25
PYTHONUNBUFFERED=1 python3 bench/gpu_bench.py --data-dir "$DATA" --out "$OUT" "$@" 2>&1 | tee "$OUT/gpu_bench.log"

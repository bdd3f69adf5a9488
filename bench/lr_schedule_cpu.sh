#!/usr/bin/env bash
# Does decaying the learning rate help DCGAN at a fixed budget? One MNIST epoch per run on the CPU
# (ganzoo's MNIST recipe, batch 64, seed $SEED, default 0), constant rate vs linear decay to zero, scored with
# `ganzoo eval` (10,000 samples, EMA and raw generator). Time it alone: 2 cores, ~4 min a run.
#   bash bench/lr_schedule_cpu.sh [DATA_DIR] [EPOCHS]
#   SEED=1 RECIPES="constant:0 linear:0.5" bash bench/lr_schedule_cpu.sh   (another seed, some schedules)
set -euo pipefail
DATA=${1:-../shared/data/mnist}
EPOCHS=${2:-1}
SEED=${SEED:-0}
RECIPES=${RECIPES:-constant:0 linear:0 linear:0.5 cosine:0}
OUT=${OUT:-/tmp/lr-schedule-cpu}
RES=bench/results/lr_schedule_cpu-$(date -u +%F)-e${EPOCHS}$([ "$SEED" = 0 ] || echo "-seed$SEED")
mkdir -p "$OUT" "$RES"
for recipe in $RECIPES; do
  set -- ${recipe/:/ }
  name=$1-$2
  rm -rf "$OUT/$name"
  ganzoo train dcgan --dataset mnist --data-dir "$DATA" --epochs "$EPOCHS" --device cpu --seed "$SEED" \
    --lr-schedule "$1" --lr-decay-start "$2" --out "$OUT/$name" --sample-every 100000 --log-every 200 -q
  ganzoo eval "$OUT/$name" --data-dir "$DATA" --json "$RES/$name-ema.json" | tail -n 3
  ganzoo eval "$OUT/$name" --data-dir "$DATA" --no-ema --json "$RES/$name-raw.json" | tail -n 3
  cp "$(ls "$OUT/$name"/samples/*.png | tail -n 1)" "$RES/$name-samples.png"
done

#!/usr/bin/env bash
# The commands that trained the generators shipped as ganzoo's pretrained ids, on one lent GPU.
# DATA holds MNIST/raw/*.gz; each run directory is then turned into a bundle by
# scripts/build_zoo.py (which also evaluates it). Runs on a CPU too, but takes days there.
#
#   DATA=../shared/data/mnist OUT=runs/zoo bash scripts/train_zoo.sh [dcgan|wgan-gp|vanilla|cgan ...]
#
# What actually ran, 2026-11-26 (bench/RESULTS.md has the logs and numbers):
# - dcgan-mnist, wgan-gp-mnist: NVIDIA H100, both at once on one card, through
#   `RUNS="dcgan:300 wgan-gp:200" TOYS=0 LIMIT=360 bash bench/gpu_zoo_toys.sh`; the 360 s limit
#   stopped them (SIGTERM: the engine saves a checkpoint) after 129,316 and 24,491 generator
#   steps (276.3 and 131.0 epochs). The --steps below give the same length on any machine.
# - vanilla-mnist: NVIDIA H100, `bash bench/gpu_zoo_toys.sh` (100 epochs, beside wgan-gp).
# - cgan-mnist: NVIDIA H200, `bash bench/gpu_bench.sh --zoo cgan` (30 epochs).
# Every run: the model's own recipe (its paper's hyper-parameters; dcgan ran at the paper's batch
# 128, before batch 64 became its MNIST default), seed 0, EMA on, bf16
# autocast and the CUDA-graph step on the GPU.
set -euo pipefail
DATA=${DATA:-.gpu_data}
OUT=${OUT:-runs/zoo}
common=(--dataset mnist --data-dir "$DATA" --seed 0 --sample-every 5000 --checkpoint-every 2000 --log-every 500 -q)
models=("$@")
[ ${#models[@]} -eq 0 ] && models=(dcgan wgan-gp vanilla cgan)
for m in "${models[@]}"; do
  case $m in
    dcgan)   ganzoo train dcgan   --steps 129316 --batch-size 128 --out "$OUT/dcgan-mnist"   "${common[@]}" ;;
    wgan-gp) ganzoo train wgan-gp --steps 24491  --out "$OUT/wgan-gp-mnist" "${common[@]}" ;;
    vanilla) ganzoo train vanilla --epochs 100   --out "$OUT/vanilla-mnist" "${common[@]}" ;;
    cgan)    ganzoo train cgan    --epochs 30    --out "$OUT/cgan-mnist"    "${common[@]}" ;;
    *) echo "unknown model $m (dcgan, wgan-gp, vanilla, cgan)" >&2; exit 2 ;;
  esac
done

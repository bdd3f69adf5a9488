#!/usr/bin/env bash
# Issue 15's calibration on a CPU: the reference DCGAN (bench/reference_dcgan.py) and ganzoo's
# conv nets trained for the same number of epochs with the same recipe (batch 128, Adam 2e-4,
# betas (0.5, 0.999), non-saturating loss, seed 0), one training at a time, each scored with
# ganzoo's protocol (bench/quality.py). Results: $OUT/*.json; bench/RESULTS.md has the table.
#
#   DATA=../shared/data/mnist OUT=runs/calibrate EPOCHS=3 bash bench/calibrate_cpu.sh [step ...]
#   DEVICE=cuda EPOCHS=30 ...                     # the same on a GPU
#   SEED=1 ...                                    # another seed (files named ...-seed1)
#
# Steps: reference dcgan-legacy dcgan-4x4 dcgan-pad vanilla wgan-gp-dcgan wgan-gp-paper; vanilla's
# old MLPs: vanilla-old (batch 128), vanilla-batch64, vanilla-nodropout; and vanilla's own
# reference, a plain MLP GAN (bench/reference_dcgan.py --arch mlp), beside vanilla with BatchNorm
# in G at the MLP GANs' usual batch 64: reference-mlp vanilla-bn (dropout 0.3) vanilla-bn-nodrop.
# Every vanilla step but `vanilla` (today's defaults) pins g_norm and dropout.
# LOCK (optional) is a file every training holds with flock, so that trainings sharing a
# machine run one at a time (with nice -n 10).
set -euo pipefail
DATA=${DATA:-${GANZOO_DATA:-../shared/data/mnist}}
OUT=${OUT:-runs/calibrate}
EPOCHS=${EPOCHS:-3}
WGAN_STEPS=${WGAN_STEPS:-400}
LOCK=${LOCK:-}
DEVICE=${DEVICE:-cpu}
SEED=${SEED:-0}  # one seed per run; results of seeds other than 0 are named ...-seedN
TAG=${EPOCHS}ep$([ "$SEED" = 0 ] || echo "-seed$SEED")
mkdir -p "$OUT"
run() { if [ -n "$LOCK" ]; then flock "$LOCK" nice -n 10 "$@"; else "$@"; fi; }
quiet=(--sample-every 1000000 --checkpoint-every 1000000 --log-every 100 -q --device "$DEVICE" --seed "$SEED")
recipe=(--batch-size 128 --lr-g 2e-4 --lr-d 2e-4 --beta1 0.5 --beta2 0.999 --loss non-saturating)
ganzoo_run() {  # NAME MODEL ARGS...: train, then score the raw generator (as the reference's)
  local name=$1 model=$2; shift 2
  run ganzoo train "$model" --dataset mnist --data-dir "$DATA" --out "$OUT/$name" "${quiet[@]}" "$@"
  run python bench/calibrate.py "$OUT/$name" --data-dir "$DATA" --json "$OUT/$name.json" --no-ema
}
steps=("$@")
[ ${#steps[@]} -eq 0 ] && steps=(reference dcgan-legacy dcgan-4x4 dcgan-pad)
for s in "${steps[@]}"; do
  case $s in
    reference) run python bench/reference_dcgan.py --seed "$SEED" --epochs "$EPOCHS" --data-dir "$DATA" --device "$DEVICE" \
                 --json "$OUT/reference-${TAG}.json" --weights "$OUT/reference-${TAG}.safetensors" ;;
    dcgan-legacy|dcgan-4x4|dcgan-pad)
      ganzoo_run "$s-${TAG}" dcgan --epochs "$EPOCHS" "${recipe[@]}" --model-arg "plan=${s#dcgan-}" ;;
    vanilla) ganzoo_run "vanilla-${TAG}" vanilla --epochs "$EPOCHS" "${recipe[@]}" ;;  # today's defaults
    # vanilla's old MLPs (g_norm none: no BatchNorm in G, dropout 0.3 in D unless given)
    vanilla-old) ganzoo_run "$s-${TAG}" vanilla --epochs "$EPOCHS" "${recipe[@]}" --model-arg g_norm=none ;;
    vanilla-batch64) ganzoo_run "$s-${TAG}" vanilla --epochs "$EPOCHS" "${recipe[@]}" --batch-size 64 \
                 --model-arg g_norm=none ;;
    vanilla-nodropout) ganzoo_run "$s-${TAG}" vanilla --epochs "$EPOCHS" "${recipe[@]}" --model-arg g_norm=none \
                 --model-arg dropout=0 ;;
    reference-mlp) run python bench/reference_dcgan.py --seed "$SEED" --arch mlp --batch-size 64 --epochs "$EPOCHS" --data-dir "$DATA" \
                 --device "$DEVICE" --json "$OUT/reference-mlp-${TAG}.json" \
                 --weights "$OUT/reference-mlp-${TAG}.safetensors" ;;
    vanilla-bn) ganzoo_run "$s-${TAG}" vanilla --epochs "$EPOCHS" "${recipe[@]}" --batch-size 64 \
                 --model-arg g_norm=batch --model-arg dropout=0.3 ;;
    vanilla-bn-nodrop) ganzoo_run "$s-${TAG}" vanilla --epochs "$EPOCHS" "${recipe[@]}" --batch-size 64 \
                 --model-arg g_norm=batch --model-arg dropout=0 ;;
    # WGAN-GP keeps its own recipe (Adam 1e-4, betas (0, 0.9), batch 64, 5 critic steps); equal steps.
    wgan-gp-dcgan|wgan-gp-paper)
      ganzoo_run "$s-${WGAN_STEPS}steps${TAG#"${EPOCHS}ep"}" wgan-gp --steps "$WGAN_STEPS" --model-arg "arch=${s#wgan-gp-}" ;;
    *) echo "unknown step $s" >&2; exit 2 ;;
  esac
done

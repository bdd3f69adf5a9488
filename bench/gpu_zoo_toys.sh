#!/usr/bin/env bash
# One device call on a lent GPU machine (torch preinstalled, no network), two jobs at once:
#  1. the GPU trains the zoo's wgan-gp and vanilla MNIST generators for EPOCHS epochs of their
#     paper recipes (the 30-epoch runs are in bench/results/zoo-runs/); each run is stopped after
#     LIMIT seconds at the latest (SIGTERM: the engine writes a checkpoint and exits);
#  2. the machine's CPU cores run the 2-D toy benchmark with vanilla's own toy recipe
#     (`ganzoo train vanilla --dataset ring8` defaults), 10 seeds, one thread per run.
#
#   bash bench/gpu_zoo_toys.sh            (writes under $OUT, default /tmp/gpu-zoo-out)
#   RUNS="dcgan:300 wgan-gp:200" TOYS=0 LIMIT=360 bash bench/gpu_zoo_toys.sh   (other models/epochs, no toys)
# Needs the MNIST .gz files in .gpu_data/MNIST/raw/ (or GANZOO_DATA pointing at a folder with MNIST/raw/).
set -uo pipefail
OUT=${OUT:-/tmp/gpu-zoo-out}
DATA=${GANZOO_DATA:-.gpu_data}
RUNS=${RUNS:-"wgan-gp:100 vanilla:100"}  # model:epochs pairs
TOYS=${TOYS:-1}
LIMIT=${LIMIT:-330}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/machine.txt"
nproc | tee -a "$OUT/machine.txt"
python3 -m pip install -q --no-deps --no-build-isolation --no-index -e . 2>&1 | grep -v -i warning \
  || python3 -m pip install -q --no-deps --no-index .whl/ganzoo-*.whl
python3 -c "import ganzoo, torch; print('ganzoo', ganzoo.__version__, 'torch', torch.__version__, ganzoo.list_models())" \
  | tee -a "$OUT/machine.txt"
start=$(date +%s)

runs=/tmp/zoo
for pair in $RUNS; do
  m=${pair%%:*}; EPOCHS=${pair##*:}
  PYTHONUNBUFFERED=1 timeout -s TERM "$LIMIT" python3 -m ganzoo train "$m" --dataset mnist --data-dir "$DATA" \
    --epochs "$EPOCHS" --device cuda --seed 0 --out "$runs/$m-mnist-${EPOCHS}ep" \
    --sample-every 5000 --checkpoint-every 2000 --log-every 500 -q >"$OUT/train-$m.log" 2>&1 &
done

toys=/tmp/toys
mkdir -p "$toys"
tb() {  # name, then toy_bench arguments
  local name=$1; shift
  CUDA_VISIBLE_DEVICES= PYTHONUNBUFFERED=1 python3 bench/toy_bench.py --spec-recipe --losses hinge \
    --json "$toys/$name.json" --figures "$toys/fig-$name" "$@" >"$toys/$name.md" 2>"$toys/$name.log"
}
if [ "$TOYS" = 1 ]; then
  tb ring8-10k --datasets ring8 --steps 10000 --jobs 5 &
  tb ring8-20k --datasets ring8 --steps 20000 --jobs 5 &
  tb grid25-10k --datasets grid25 --steps 10000 --jobs 4 &
fi
wait
echo "all jobs done after $(( $(date +%s) - start )) s" | tee -a "$OUT/machine.txt"
cat "$toys"/*.md 2>/dev/null

# At most 8 files come back: one tar per training run (the newest checkpoint's generators and
# state, the run's config, metrics and sample grids), one for the toys.
for d in "$runs"/*; do
  ck=$(ls -d "$d"/checkpoints/step-* | grep -v '\.' | tail -1)
  tail -2 "$d/metrics.jsonl"
  tar -czf "$OUT/run-$(basename "$d").tar.gz" -C "$d" config.json metrics.jsonl samples \
    -C "$ck" state.json generator.safetensors $(cd "$ck" && ls generator_ema.safetensors 2>/dev/null)
done
[ "$TOYS" = 1 ] && tar -czf "$OUT/toys.tar.gz" -C "$toys" .
ls -la "$OUT"

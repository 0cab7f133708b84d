#!/usr/bin/env bash
# Retrains the bundled default model (models/default) on one GPU in about 3 minutes of wall time.
#
# Runs from the repository root with $OUT set. Needs models/train/work/train.bin and heldout.bin
# (made by the recipe in models/train/README.md) and python3 with torch, numpy. No network.
#
# A small sweep runs concurrently on the one GPU (the model is tiny: one run does not fill it):
# every run trains from scratch with the same seed, data and peak LR, and differs only in dropout
# and in the cap on epochs. Each sizes its own warmup-stable-decay schedule to the wall-clock budget
# from a measured step time (train.py --max-seconds), keeps spans of the training split out as a
# validation set and keeps its best checkpoint by validation loss. select-run.py then picks the
# run with the lowest validation loss (held-out perplexity is only reported) and writes to $OUT:
#   model.safetensors  BF16, same layout as models/default/model.safetensors (checked)
#   result.json        the chosen run's figures, the layout check and every run's figures
#   train-log.jsonl    every run's log, each line tagged with "run"
#   console.txt        every run's console output
#
# Environment (defaults are the device run):
#   DEVICE=cuda MAX_SECONDS=150 BATCH=32 SEQ_LEN=512 AMP=bf16 PYTHON=python3
#   SWEEP="name:dropout:max_epochs[:attn[:layerdrop]] ..."   (max_epochs 0: as many as the time allows;
#                                         attn: auto, explicit or sdpa; one default run uses the explicit
#                                         attention path, so that a failure of the fused one cannot sink
#                                         the sweep; layerdrop: train.py --layerdrop, default 0)
#   Depth-switchable sweep (trains the shallow subnets too; docs/adaptive.md, "Depth 1"):
#   SWEEP="ld10-d30:0.3:0::0.1 ld20-d30:0.3:0::0.2 ld20-d20:0.2:0::0.2 ld30-d20:0.2:0::0.3 ld30-d10:0.1:0::0.3 ld20-d30x:0.3:0:explicit:0.2"
#   EXTRA="..."                           more train.py options for every run (local tests)
# Local test on the CPU (tiny budget, through the same path):
#   DEVICE=cpu AMP= MAX_SECONDS=40 BATCH=2 SEQ_LEN=128 SWEEP="a:0.0:0 b:0.1:0" PYTHON=/usr/bin/python3 \
#     EXTRA="--calib-steps 3 --warmup 5 --val-chunk-len 1024 --heldout-limit 4096" OUT=/tmp/trainout \
#     bash models/train/device-train.sh
set -u
export PYTHONUNBUFFERED=1 OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
: "${OUT:?set OUT to the folder that receives the results}"
DEVICE=${DEVICE:-cuda}
MAX_SECONDS=${MAX_SECONDS:-150}
BATCH=${BATCH:-32}
SEQ_LEN=${SEQ_LEN:-512}
AMP=${AMP-bf16}
PYTHON=${PYTHON:-python3}
SWEEP=${SWEEP:-"d00-e5:0.0:5 d10-e10:0.1:10 d10-e20x:0.1:20:explicit d20-e20:0.2:20 d20-e40:0.2:40 d30-all:0.3:0"}
EXTRA=${EXTRA:-}
WORK=models/train/work
RUNS=$(mktemp -d /tmp/edgewise-train.XXXXXX)
t0=$(date +%s)
mkdir -p "$OUT"

for f in "$WORK/train.bin" "$WORK/heldout.bin" models/train/train.py models/train/select-run.py; do
  [ -f "$f" ] || { echo "missing $f" | tee "$OUT/console.txt"; exit 1; }
done
note="device $DEVICE"
if [ "$DEVICE" = cuda ] && command -v nvidia-smi >/dev/null; then
  gpu=$(timeout 5 nvidia-smi --query-gpu=name,memory.total,compute_mode --format=csv,noheader 2>/dev/null | head -1)
  echo "gpu: $gpu"
  note="$gpu"
  case "$gpu" in
    *Exclusive*) SWEEP="d20-e30:0.2:30:explicit"; echo "GPU in an exclusive compute mode: one run only ($SWEEP)";;
  esac
fi
ls -l "$WORK/train.bin" "$WORK/heldout.bin"
echo "sweep: $SWEEP; budget ${MAX_SECONDS}s per run; batch ${BATCH}x${SEQ_LEN}"

pids=()
for spec in $SWEEP; do
  IFS=: read -r name dropout epochs attn layerdrop <<<"$spec"
  mkdir -p "$RUNS/$name"
  # shellcheck disable=SC2086  # EXTRA is a list of options
  timeout -k 5 $((MAX_SECONDS + 20)) "$PYTHON" models/train/train.py --device "$DEVICE" ${AMP:+--amp "$AMP"} \
    --work "$WORK" --out-dir "$RUNS/$name" --threads 1 --batch "$BATCH" --seq-len "$SEQ_LEN" \
    --max-seconds "$MAX_SECONDS" --max-epochs "$epochs" --dropout "$dropout" --layerdrop "${layerdrop:-0}" --attn "${attn:-auto}" --decay-frac 0.3 \
    --val-chunks 16 --ckpt-every 0 --heldout-every 0 --log-every 100 --print-every 500 $EXTRA \
    >"$RUNS/$name/console.txt" 2>&1 &
  pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done
echo "training done after $(( $(date +%s) - t0 ))s"
for spec in $SWEEP; do
  name=${spec%%:*}
  echo "--- $name"; head -n 1 "$RUNS/$name/console.txt" | cut -c1-300
  grep -E '"plan"|time guard|sdpa unavailable|sdpa disagrees|Error|error' "$RUNS/$name/console.txt" | head -4 | cut -c1-300; tail -n 1 "$RUNS/$name/console.txt" | cut -c1-300
done
timeout 15 "$PYTHON" models/train/select-run.py --runs "$RUNS" --out "$OUT" --note "$note; script $(( $(date +%s) - t0 ))s"
rc=$?
echo "device-train.sh finished in $(( $(date +%s) - t0 ))s (select-run rc $rc)"
ls -l "$OUT"
exit $rc

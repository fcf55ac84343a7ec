#!/usr/bin/env bash
# On a lent GPU machine: several trainings side by side on one GPU, each ending by TRAIN_S seconds
# after the start, then their models packed (float16, split under the tool's 16 MiB a file) in $OUT.
#   bash benchmarks/gpu/side_by_side.sh TRAIN_S NAME "TRAIN.PY ARGS" [NAME "ARGS" ...]
# Every run gets run 9's recipe (batch 256, warm-up 100, cosine, run 9's masking mix, bf16) from
# START (default: the bundled model; START= with nothing trains from scratch) plus its own ARGS.
# Needs the kit of make_kit.sh, carried:
#   run(command='bash benchmarks/gpu/side_by_side.sh 440 gpuH "--learning_rate 2e-4 --seed 21"', carry=[".whl", ".gpu"])
# Back here: cat FILES_AT/NAME.tar.* | tar xf - -C runs    (runs/NAME, ready for compare_on_validation.py)
# SIM=1 OUT=/tmp/simout bash benchmarks/gpu/side_by_side.sh 150 ...   dry-runs it on the CPU (tiny batches).
set -uo pipefail
TRAIN_S=$1; shift
T0=$(date +%s)
export PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false DEADLINE=$((T0 + TRAIN_S))
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
log() { echo "[$(($(date +%s) - T0))s] $*"; }
if [ -z "${SIM:-}" ]; then
  python3 -c "import pyarrow, torch, transformers; print('pyarrow', pyarrow.__version__, 'torch', torch.__version__, 'transformers', transformers.__version__, torch.cuda.get_device_name())"
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 3
  export PYTHONPATH=$PWD:/tmp/site
  if ! python3 -c "import datasets, miditok, symusic, velocity_bert.data"; then
    log "datasets failed to import; trying the older wheel"
    rm -rf /tmp/site/datasets*
    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/alt/*.whl || exit 3
    python3 -c "import datasets, miditok, symusic, velocity_bert.data" || exit 4
  fi
  per_run=(--bf16 --tf32 true --dataloader_num_workers $((14 / ($# / 2)))); BATCH=256; EVAL_BATCH=64; MAXS=6000; EVERY=250
else
  export PYTHONPATH=$PWD MEASURE_FROM=3 MEASURE_TO=6 EVAL_COST_S=20
  per_run=(--use_cpu --dataloader_num_workers 0); BATCH=4; EVAL_BATCH=8; MAXS=400; EVERY=20
fi
if [ -z "${SIM:-}" ]; then  # the data where train.py looks for it here (SIM runs here, beside the real folder)
  mkdir -p ../shared/data/asap && cp .gpu/splits.csv ../shared/data/asap/splits.csv || exit 5
  python3 -c "import tarfile; tarfile.open('.gpu/asap_midi.tar.xz').extractall('../shared/data/asap')" || exit 6
fi
# Tokenized once before the runs start, so that runs side by side never build one cache together.
python3 benchmarks/gpu/pretokenize.py || exit 7
log "setup done"
start=${START-velocity_bert/pretrained/velocity-bert-asap}  # START= (empty): from scratch, sizes in ARGS
common=(${start:+--model_name_or_path "$start"} --data_dir ../shared/data/asap
  --max_eval_files 30 --per_device_train_batch_size $BATCH --per_device_eval_batch_size $EVAL_BATCH
  --warmup_steps 100 --lr_scheduler_type cosine --weight_decay 0.01 --max_steps $MAXS
  --eval_strategy steps --eval_steps $EVERY --save_steps $EVERY --save_total_limit 2 --logging_steps 50
  --load_best_model_at_end --metric_for_best_model eval_loss --report_to none --disable_tqdm true
  --mask_random 0.2 --mask_span 0.2 --mask_ratio 0.6 "${per_run[@]}")
names=(); pids=()
while [ $# -ge 2 ]; do
  read -ra extra <<<"$2"
  python3 benchmarks/gpu/budget_train.py "${common[@]}" --output_dir "runs/$1" "${extra[@]}" >"$OUT/$1.log" 2>&1 &
  names+=("$1"); pids+=($!); shift 2
done
for i in "${!pids[@]}"; do wait "${pids[$i]}"; log "${names[$i]}: rc $?"; done
for r in "${names[@]}"; do
  [ -f "runs/$r/model.safetensors" ] || { log "$r: no model"; continue; }
  python3 - "runs/$r/model.safetensors" <<'PY'
import sys
import torch
from safetensors.torch import load_file, save_file
save_file({k: v.to(torch.float16).contiguous() for k, v in load_file(sys.argv[1]).items()}, sys.argv[1], metadata={"format": "pt"})
PY
  last=$(ls -d runs/$r/checkpoint-* | sort -t- -k2 -n | tail -1)  # its trainer_state.json holds every evaluation
  cp "$last/trainer_state.json" "runs/$r/trainer_state.json"  # where validation_table.py and export look first
  (cd runs && ls -d "$r"/* | grep -v /checkpoint- | tar cf - -T -) | split -b 12m -d - "$OUT/$r.tar."
done
ls -la "$OUT"; log "done"

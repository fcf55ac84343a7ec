#!/usr/bin/env bash
# Which augmentation helps once a model overfits? A CPU-sized proxy for the GPU runs: a 4 x 256
# model on every EVERY-th ASAP train file (default 80: 11 performances, ~1% of the notes) trains for
# 500 steps (~90 epochs), long enough to overfit, once per recipe; validation is every 3rd
# validation file (37). Each arm has run 9's masking mix; only the augmentation differs.
#   [EVERY=80] [SEED=0] bash benchmarks/augmentation_proxy.sh [STEPS] [ARM ...]
#   arms: none pitch loudness both visible (both, loudness only where half the velocities show) dropout (0.2)
#         offsets (pitch, with train windows every 64 notes instead of 384: each note seen at 8 offsets)
#         random (pitch, with each train window cut at a new random start every draw: run 10's recipe)
#         nodrop (random, with dropout 0 instead of 0.1; rotary and onset too; every other arm has 0.1)
#         rotary (nodrop, with rotary positions instead of a learned embedding per note index)
#         rotdrop (rotary, with dropout 0.1: does dropout hold off rotary's earlier overfitting?)
#         onset (nodrop, with rotary positions by onset on the bar/position grid)
#         tempo (random, with --tempo_stretch 0.1: each draw from the performance or a copy of it
#               played 0.9, 0.95, 1.05 or 1.1 times as long)
#         ordinal (random, trained toward a Gaussian of SIGMA levels around each true level, default 1:
#               --label_sigma; evaluation and the best checkpoint still go by the plain loss)
#         every arm but rotary, rotdrop and onset has learned positions, whatever train.py's default
# Results: runs/proxyEVERY_ARM[_sSEED][_STEPS, unless 500]/{trainer_state.json in the checkpoints, validation.json}.
# ~25 min an arm on 2 cores (EVERY=20, 42 files, did not overfit in 500 steps).
set -euo pipefail
STEPS=${1:-500}; shift || true
ARMS=${*:-none pitch both}
ASAP=${ASAP:-../shared/data/asap}
EVERY=${EVERY:-80}
SEED=${SEED:-0}  # another seed: another initialization and random stream, to see one run's noise
SUB=runs/proxy_data$EVERY
mkdir -p "$SUB"
for entry in "$ASAP"/*/; do ln -sfn "$(realpath "$entry")" "$SUB/$(basename "$entry")"; done
python - "$ASAP/splits.csv" "$SUB/splits.csv" "$EVERY" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
keep = {"train": int(sys.argv[3]), "validation": 3}
seen = {s: 0 for s in keep}
with open(sys.argv[2], "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=["midi_performance", "split"])
    w.writeheader()
    for r in rows:
        s = r["split"]
        if s in keep:
            if seen[s] % keep[s] == 0:
                w.writerow({"midi_performance": r["midi_performance"], "split": s})
            seen[s] += 1
PY
for arm in $ARMS; do
  drop=0.1  # every recorded arm but nodrop trained with dropout 0.1, the config's default until session 17
  pos=absolute  # and learned positions, train.py's default until session 18
  case $arm in
    none) extra=() ;;
    pitch) extra=(--pitch_shift 3) ;;
    loudness) extra=(--velocity_shift 2 --velocity_stretch 0.2) ;;
    both) extra=(--pitch_shift 3 --velocity_shift 2 --velocity_stretch 0.2) ;;
    visible) extra=(--pitch_shift 3 --velocity_shift 2 --velocity_stretch 0.2 --velocity_min_visible 0.5) ;;
    dropout) extra=(--pitch_shift 3); drop=0.2 ;;
    offsets) extra=(--pitch_shift 3 --train_overlap 448) ;;
    random) extra=(--pitch_shift 3 --random_offsets) ;;
    nodrop) extra=(--pitch_shift 3 --random_offsets); drop=0 ;;
    rotary) extra=(--pitch_shift 3 --random_offsets); drop=0; pos=rotary ;;
    rotdrop) extra=(--pitch_shift 3 --random_offsets); pos=rotary ;;
    onset) extra=(--pitch_shift 3 --random_offsets); drop=0; pos=rotary_onset ;;
    tempo) extra=(--pitch_shift 3 --random_offsets --tempo_stretch 0.1) ;;
    ordinal) extra=(--pitch_shift 3 --random_offsets --label_sigma "${SIGMA:-1}") ;;
    *) echo "unknown arm $arm" >&2; exit 2 ;;
  esac
  out=runs/proxy${EVERY}_$arm
  [ "$arm" != ordinal ] || [ "${SIGMA:-1}" = 1 ] || out=${out}$SIGMA
  [ "$SEED" = 0 ] || out=${out}_s$SEED
  [ "$STEPS" = 500 ] || out=${out}_$STEPS  # another length is another schedule: never resume across them
  resume=()
  last=$(ls -d "$out"/checkpoint-* 2>/dev/null | sort -t- -k2 -n | tail -1 || true)
  [ -n "$last" ] && resume=(--resume_from_checkpoint "$last")
  python train.py --data_dir "$SUB" --output_dir "$out" --cache_dir cache \
    --max_steps "$STEPS" --per_device_train_batch_size 16 --learning_rate 1e-3 --warmup_steps 50 \
    --lr_scheduler_type cosine --weight_decay 0.01 --eval_strategy steps --eval_steps 50 \
    --save_steps 50 --save_total_limit 2 --load_best_model_at_end --metric_for_best_model eval_loss \
    --logging_steps 50 --report_to none --use_cpu --seed "$SEED" --dropout "$drop" --position_embedding_type "$pos" --disable_tqdm true "${extra[@]}" "${resume[@]}"
  python benchmarks/compare_on_validation.py "$out" --data "$SUB" --settings random15 all \
    --json "$out/validation.json"
done

#!/usr/bin/env bash
# Accuracy of a model on the ASAP test split, all three settings, seed 0; JSONs land beside the
# model as eval_test_<setting>.json (hub_upload.py puts them in the model card).
#   bash benchmarks/evaluate_asap.sh [MODEL_DIR] [DATA_DIR]
set -euo pipefail
model=${1:-velocity_bert/pretrained/velocity-bert-asap}
data=${2:-../shared/data/asap}
for setting in random15 span all; do
    velocity-bert evaluate "$model" --dtype float32 --data "$data" --split test --setting "$setting" --seed 0 \
        --json "$model/eval_test_$setting.json"
done

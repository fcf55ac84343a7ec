#!/usr/bin/env bash
# Every number in BENCHMARKS.md, in order, from a trained run folder (default runs/base).
#   bash benchmarks/reproduce.sh [RUN_DIR]
set -euo pipefail
run=${1:-runs/base}
data=../shared/data/asap
model=velocity_bert/pretrained/velocity-bert-asap
out=benchmarks/results
mkdir -p "$out"
python -m velocity_bert.export "$run"
bash benchmarks/evaluate_asap.sh "$model" "$data"
for setting in random15 all; do
    velocity-bert evaluate "$model" --data "$data" --split test --setting "$setting" --estimate mean \
        --json "$out/test_${setting}_mean.json"
done
python benchmarks/humanize_speed.py --notes 6000 --json "$out/humanize_6000.json"
/usr/bin/time -v python benchmarks/humanize_speed.py --notes 17000 --only all --json "$out/humanize_17000.json" \
    2> "$out/humanize_17000_time.txt"
python benchmarks/throughput.py --steps 10 --json "$out/throughput.json"
velocity-bert analyze "$model" --data "$data" --split test --files 20 --out docs/analysis

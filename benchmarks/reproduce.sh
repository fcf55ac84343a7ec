#!/usr/bin/env bash
# Every number in BENCHMARKS.md, in order, from a trained run folder (default runs/base).
#   bash benchmarks/reproduce.sh [RUN_DIR] [PREVIOUS_SUMMARY]
#   bash benchmarks/reproduce.sh -      # remeasure the bundled model as it is, without exporting a run
# PREVIOUS_SUMMARY: training_summary.json of the model the run continued from (copy it out of the
# bundled folder before, since the export replaces that folder). WEIGHTS_DTYPE=float16 stores the
# weights at half the size (a model over ~6 M parameters needs it to fit the package's 25 MB).
set -euo pipefail
run=${1:-runs/base}
previous=${2:-}
data=../shared/data/asap
model=velocity_bert/pretrained/velocity-bert-asap
out=benchmarks/results
mkdir -p "$out"
if [ "$run" != "-" ]; then
    python -m velocity_bert.export "$run" ${previous:+--previous "$previous"} --weights_dtype "${WEIGHTS_DTYPE:-float32}"
fi
bash benchmarks/evaluate_asap.sh "$model" "$data"
for setting in random15 span all; do
    for estimate in mode mean; do  # the other point estimates, next to the default (median)
        velocity-bert evaluate "$model" --dtype float32 --data "$data" --split test --setting "$setting" --estimate "$estimate" \
            --json "$out/test_${setting}_${estimate}.json"
    done
done
velocity-bert evaluate "$model" --dtype float32 --data "$data" --split test --setting all --passes 2 \
    --json "$out/test_all_2passes.json"   # iterative mask-predict, for comparison with the 1-pass default
for setting in random15 span all; do  # four windows per note: more accurate, half the speed
    velocity-bert evaluate "$model" --dtype float32 --data "$data" --split test --setting "$setting" --overlap 384 \
        --json "$out/test_${setting}_overlap384.json"
done
python benchmarks/decoding_tradeoff.py --files 16 --json "$out/decoding_tradeoff.json"
python benchmarks/compare_on_validation.py "$model" --settings random15 span all --estimates mode median mean \
    --json "$out/validation_estimates.json"
python benchmarks/compare_on_validation.py "$model" --settings random15 span all --overlaps 384 \
    --json "$out/validation_overlap384.json"
python benchmarks/level_vs_shape.py --model "$model" --json "$out/level_vs_shape_validation.json"
python benchmarks/fit_gap.py "$model" --json "$out/fit_gap.json"  # train files against validation files
python benchmarks/humanize_speed.py --notes 6000 --json "$out/humanize_6000.json"
python benchmarks/humanize_speed.py --notes 6000 --overlap 384 --json "$out/humanize_6000_overlap384.json"
python benchmarks/humanize_speed.py --notes 6000 --passes 4 --json "$out/humanize_6000_4passes.json"  # the old default
/usr/bin/time -v python benchmarks/humanize_speed.py --notes 17000 --only all --json "$out/humanize_17000.json" \
    2> "$out/humanize_17000_time.txt"
python benchmarks/throughput.py --steps 10 --json "$out/throughput.json"
velocity-bert analyze "$model" --data "$data" --split test --files 20 --out docs/analysis
python benchmarks/accuracy_table.py > benchmarks/results/accuracy_table.md

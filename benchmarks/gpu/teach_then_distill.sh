#!/usr/bin/env bash
# On a lent GPU machine, in one call: train a rotary-position teacher from scratch (NAME_T), then
# continue the bundled model (run 10) toward the mean of its own and the teacher's distributions
# (NAME_S). Averaging run 10 with a rotary model gained +0.7 points of validation exact (BENCHMARKS.md,
# "A second model?"), but that rotary model lived in runs/, which a new checkout does not keep, so
# the teacher has to be made in the same call as its student.
#   bash benchmarks/gpu/teach_then_distill.sh TEACH_S DISTILL_S [NAME_T NAME_S]
#   run(command='bash benchmarks/gpu/teach_then_distill.sh 230 310', carry=[".whl", ".gpu"], timeout_s=590)
# Each stage is one side_by_side.sh, whose budget counts its own setup; both models come back packed.
# The teacher is runs/gpuN's recipe (session 20: rotary, no dropout, best loss at ~1,250 steps, about
# 150 s alone on an H100), its cosine cut to TEACH_S; the student is weight 1.0 toward the teachers,
# which did at least as well as 0.5 on the CPU (session 22).
# SIM=1 OUT=/tmp/simout bash benchmarks/gpu/teach_then_distill.sh 150 150   dry-runs it on the CPU.
set -uo pipefail
TEACH_S=${1:?TEACH_S}; DISTILL_S=${2:?DISTILL_S}; T=${3:-gpuT}; S=${4:-gpuU}
here=$(dirname "$0")
START= bash "$here/side_by_side.sh" "$TEACH_S" "$T" "--hidden_size 384 --num_hidden_layers 6 --num_attention_heads 6 \
--intermediate_size 1536 --learning_rate 7e-4 --warmup_steps 200 --seed 31 --pitch_shift 3 --random_offsets \
--position_embedding_type rotary --dropout 0" || exit $?
[ -f "runs/$T/model.safetensors" ] || { echo "no teacher in runs/$T" >&2; exit 8; }
bash "$here/side_by_side.sh" "$DISTILL_S" "$S" "--learning_rate 3e-4 --seed 41 --pitch_shift 3 --random_offsets \
--distill_from velocity_bert/pretrained/velocity-bert-asap runs/$T --distill_weight 1.0"

#!/usr/bin/env bash
# Builds what a lent GPU machine lacks, in two git-ignored folders that the device tool carries:
#   .whl/  wheels for its Python 3.12 (it has torch, transformers, accelerate, pyarrow; not these)
#   .gpu/  ASAP's splits.csv and the tokenized windows and whole files (cache/windows-*.arrow, xz-packed, ~20 MB),
#          so the device reads no MIDI (../shared does not travel there).
#   bash benchmarks/gpu/make_kit.sh            (here, on the CPU machine; ~1 min)
# then, with the device tool: benchmarks/gpu/side_by_side.sh (its header)
set -euo pipefail
cd "$(dirname "$0")/../.."
grep -qx '/.whl/' .git/info/exclude || echo /.whl/ >> .git/info/exclude
grep -qx '/.gpu/' .git/info/exclude || echo /.gpu/ >> .git/info/exclude
mkdir -p .whl/alt .gpu
pins=()
for name in miditok symusic datasets dill multiprocess pySmartDL platformdirs; do
  pins+=("$name==$(python -m pip show "$name" | sed -n 's/^Version: //p')")
done
dl() { python -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 "$@"; }
dl -d .whl "${pins[@]}"
dl -d .whl/alt datasets==4.0.0  # fallback for an image whose pyarrow is older than datasets 5 needs
python - <<'PY'
import os

import train
from velocity_bert import DEFAULT_MODEL, VelocityBertConfig, VelocityBertTokenizer

# Through train.py's own function and defaults (cache_dir, num_proc), so the cache keys match there.
tokenizer, config = VelocityBertTokenizer.from_pretrained(DEFAULT_MODEL), VelocityBertConfig.from_pretrained(DEFAULT_MODEL)
names = set()
for random_offsets in (False, True):  # fixed train windows, and whole train files for --random_offsets
    data_args = train.DataArguments(data_dir="../shared/data/asap", max_eval_files=30, random_offsets=random_offsets)
    splits = train.tokenized_splits(data_args, config, tokenizer)
    names.update(os.path.relpath(c["filename"]) for ds in splits.values() for c in ds.cache_files)
with open(".gpu/cache_files.txt", "w") as f:
    f.writelines(name + "\n" for name in sorted(names))
PY
cp ../shared/data/asap/splits.csv .gpu/splits.csv
tar cJf .gpu/cache.tar.xz -T .gpu/cache_files.txt
du -sh .whl .gpu

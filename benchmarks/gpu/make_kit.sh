#!/usr/bin/env bash
# Builds what a lent GPU machine lacks, in two git-ignored folders that the device tool carries:
#   .whl/  wheels for its Python 3.12 (it has torch, transformers, accelerate, pyarrow; not these)
#   .gpu/  ASAP's splits.csv and its train and validation MIDI files (xz-packed; ../shared does not
#          travel there), which side_by_side.sh unpacks where train.py looks and tokenizes once.
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
# The train and validation performances themselves (the device never needs test), not their
# tokenized windows: the windows of every recipe (fixed, whole files, --tempo_stretch's copies) take
# 59 MB packed, the MIDI 20-odd, and the device's 16 cores tokenize them in seconds (pretokenize.py).
python - <<'PY'
import csv

rows = csv.DictReader(open("../shared/data/asap/splits.csv", newline=""))
with open(".gpu/midi_files.txt", "w") as f:
    f.writelines(r["midi_performance"] + "\n" for r in rows if r["split"] in ("train", "validation"))
PY
cp ../shared/data/asap/splits.csv .gpu/splits.csv
rm -f .gpu/cache.tar.xz .gpu/cache_files.txt  # the kit of sessions 7-20
tar cJf .gpu/asap_midi.tar.xz -C ../shared/data/asap -T .gpu/midi_files.txt
du -sh .whl .gpu

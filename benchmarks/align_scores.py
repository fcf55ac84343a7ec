"""Note-align ASAP's performances to their piece's score, so that a rendition of the flat score
can be scored note by note against what a pianist played.

    pip install ".[align]"    # parangonar, the alignment library
    python benchmarks/align_scores.py [--data ../shared/data/asap] [--split validation] [--jobs 2]

ASAP's own note alignments are not in `../shared`, so they are remade here with
`velocity_bert.alignment.match` (parangonar's DualDTWNoteMatcher). Notes are read with
`velocity_bert.load_notes`, so every index saved is a position in the canonical note order that
the model, `score_renditions.py` and train.py --score_copies use. One `.npz` per performance under
`--out/SPLIT/` (`score_index`, `performance_index`: the matched pairs), written once and skipped
afterwards, so an interrupted run resumes.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import time
from pathlib import Path

from velocity_bert.alignment import match, pairs_path, save_pairs
from velocity_bert.notes import MidiInputError, load_notes


def align(root: Path, score_path: str, performance_path: str, target: Path) -> str:
    start = time.perf_counter()
    try:
        score, performance = load_notes(root / score_path), load_notes(root / performance_path)
    except MidiInputError as error:
        return f"{performance_path}: skipped ({error})"
    score_index, performance_index = match(score, performance)
    save_pairs(target, score_index, performance_index)
    return (
        f"{performance_path}: {len(score_index)} matched of {len(score)} score / {len(performance)} played notes "
        f"({time.perf_counter() - start:.0f} s)"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="../shared/data/asap")
    parser.add_argument("--split", default="validation", choices=("train", "validation", "test"))
    parser.add_argument("--out", default="cache/alignments")
    parser.add_argument("--jobs", type=int, default=1, help="processes (one core each)")
    args = parser.parse_args()
    root, out = Path(args.data), Path(args.out)
    with open(root / "splits.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["split"] == args.split]
    todo = [
        (r["midi_score"], r["midi_performance"], pairs_path(out, args.split, r["midi_performance"]))
        for r in rows
        if not pairs_path(out, args.split, r["midi_performance"]).exists()
    ]
    # In an order that mixes composers (splits.csv is alphabetical), so that a run stopped early has
    # aligned a spread of the corpus that train.py --score_copies can already use.
    todo.sort(key=lambda job: hashlib.sha1(job[1].encode()).hexdigest())
    print(f"{len(rows) - len(todo)} of {len(rows)} {args.split} performances already aligned", flush=True)
    from joblib import Parallel, delayed  # noqa: PLC0415 (installed with parangonar)

    jobs = Parallel(n_jobs=args.jobs, return_as="generator_unordered")
    for line in jobs(delayed(align)(root, s, p, t) for s, p, t in todo):
        print(line, flush=True)


if __name__ == "__main__":
    main()

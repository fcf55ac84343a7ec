"""Note-align ASAP's performances to their piece's score, so that a rendition of the flat score
can be scored note by note against what a pianist played.

    pip install parangonar==3.4.0    # the alignment library; a benchmark's need, not the package's
    python benchmarks/align_scores.py [--data ../shared/data/asap] [--split validation] [--jobs 2]

ASAP's own note alignments are not in `../shared`, so they are remade here with parangonar's
DualDTWNoteMatcher (Peter et al., ISMIR 2023: a pitch-set DTW over the score's onsets, then a
per-pitch matching): ~50 s for the longest validation file (8,400 notes) on one core of the
development machine, against ~4 minutes for its AutomaticNoteMatcher, which matched fewer notes.
Notes are read with `velocity_bert.load_notes`, so every index saved is a position in the canonical
note order that the model and `score_renditions.py` use. One `.npz` per performance under
`--out/SPLIT/` (`score_index`, `performance_index`: the matched pairs), written once and skipped
afterwards, so an interrupted run resumes.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np

from velocity_bert.notes import MidiInputError, Notes, load_notes


def alignment_path(out: Path, split: str, performance: str) -> Path:
    return out / split / (performance.replace("/", "__").removesuffix(".mid") + ".npz")


def note_arrays(score: Notes, performance: Notes) -> tuple[np.ndarray, np.ndarray]:
    """The structured arrays parangonar matches (partitura's field names), with our indices as ids."""
    quarter = float(score.ticks_per_quarter)
    s = np.zeros(
        len(score),
        dtype=[("onset_beat", "f4"), ("duration_beat", "f4"), ("pitch", "i4"), ("id", "U16"), ("is_grace", "?")],
    )
    s["onset_beat"], s["duration_beat"] = score.onset_tick / quarter, score.duration_tick / quarter
    s["pitch"], s["id"] = score.pitch, [f"s{i}" for i in range(len(score))]
    p = np.zeros(
        len(performance),
        dtype=[("onset_sec", "f4"), ("duration_sec", "f4"), ("pitch", "i4"), ("velocity", "i4"), ("id", "U16")],
    )
    p["onset_sec"], p["duration_sec"] = performance.onset_sec, performance.duration_sec
    p["pitch"], p["velocity"] = performance.pitch, performance.velocity
    p["id"] = [f"p{i}" for i in range(len(performance))]
    return s, p


def match(score: Notes, performance: Notes) -> tuple[np.ndarray, np.ndarray]:
    """The matched pairs (score index, performance index), in score order."""
    import parangonar  # noqa: PLC0415 (only this benchmark needs it)

    s, p = note_arrays(score, performance)
    pairs = sorted(
        (int(a["score_id"][1:]), int(a["performance_id"][1:]))
        for a in parangonar.DualDTWNoteMatcher()(s, p)
        if a["label"] == "match"
    )
    score_index, performance_index = np.array(pairs, dtype=np.int64).reshape(-1, 2).T
    return score_index, performance_index


def align(root: Path, score_path: str, performance_path: str, target: Path) -> str:
    start = time.perf_counter()
    try:
        score, performance = load_notes(root / score_path), load_notes(root / performance_path)
    except MidiInputError as error:
        return f"{performance_path}: skipped ({error})"
    score_index, performance_index = match(score, performance)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part.npz")  # a killed run leaves no file that looks finished
    np.savez(partial, score_index=score_index, performance_index=performance_index)
    partial.replace(target)
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
        (r["midi_score"], r["midi_performance"], alignment_path(out, args.split, r["midi_performance"]))
        for r in rows
        if not alignment_path(out, args.split, r["midi_performance"]).exists()
    ]
    print(f"{len(rows) - len(todo)} of {len(rows)} {args.split} performances already aligned", flush=True)
    from joblib import Parallel, delayed  # noqa: PLC0415 (installed with parangonar)

    jobs = Parallel(n_jobs=args.jobs, return_as="generator_unordered")
    for line in jobs(delayed(align)(root, s, p, t) for s, p, t in todo):
        print(line, flush=True)


if __name__ == "__main__":
    main()

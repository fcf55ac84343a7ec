"""How pianists play a score's dynamics markings: the line behind `decoding.MARKING_TO_PLAYED`.

    python benchmarks/fit_markings.py [--data ../shared/data/asap] [--split train] [--alignments cache/alignments]

A notation program writes a score's markings into its velocities (MuseScore: pp 33, p 49, f 96,
ff 112, hairpins in between); `humanize --keep-dynamics` plays each note at its marking as a
pianist plays it. This fits that mapping, velocity = intercept + slope x marking (least squares),
over every score note a pianist of `--split` played (the pairs `align_scores.py` cached), on the
scores that carry markings (`notes.has_markings`). It needs no model. The constants come from
the train split; `score_renditions.py` then scores them on validation and test, and reports the
same line refitted there (`marking_fit`), which shows how far the train split's pianists speak for
others.
"""

from __future__ import annotations

import argparse
import json
from functools import cache

import numpy as np

import velocity_bert as vb
from velocity_bert.alignment import load_pairs
from velocity_bert.data import list_files, score_copy_sources
from velocity_bert.decoding import MARKING_TO_PLAYED
from velocity_bert.notes import has_markings


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="../shared/data/asap", help="an ASAP folder (splits.csv, midi_score.mid)")
    parser.add_argument("--split", default="train", choices=("train", "validation", "test"))
    parser.add_argument("--alignments", default="cache/alignments", help="align_scores.py's --out")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    performances = list_files(args.data, args.split)
    sources = score_copy_sources(args.data, performances, args.alignments, args.split)
    load_score = cache(vb.load_notes)  # a score is shared by several performances
    marks, played, scores = [], [], set()
    for performance, (score_path, pairs) in sorted(sources.items()):
        score = load_score(score_path)
        if not has_markings(score.velocity):
            continue
        score_index, performance_index = load_pairs(pairs)
        marks.append(score.velocity[score_index].astype(np.float64))
        played.append(vb.load_notes(performance).velocity[performance_index].astype(np.float64))
        scores.add(score_path)
    if not marks:
        raise SystemExit(f"no aligned performance of a marked score under {args.alignments}/{args.split}")
    marked_performances = len(marks)
    marks, played = np.concatenate(marks), np.concatenate(played)
    slope, intercept = np.polyfit(marks, played, 1)
    report = {
        "split": args.split,
        "performances_aligned": len(sources),
        "performances_of_marked_scores": marked_performances,
        "marked_scores": len(scores),
        "notes": len(marks),
        "intercept": float(intercept),
        "slope": float(slope),
        "mae": float(np.abs(np.rint(intercept + slope * marks) - played).mean()),
    }
    print(
        f"{args.split}: {len(sources)} of {len(performances)} performances aligned; {len(marks)} notes of "
        f"{marked_performances} performances of {len(scores)} marked scores"
    )
    print(
        f"velocity = {intercept:.1f} + {slope:.3f} x marking (MAE {report['mae']:.2f}; decoding.MARKING_TO_PLAYED "
        f"is {MARKING_TO_PLAYED[0]} + {MARKING_TO_PLAYED[1]} x marking)"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()

"""Repairing misplayed velocities: does `repair` find the notes that are wrong, and does re-predicting
them bring the file back toward what the pianist played?

    python benchmarks/repair.py [--model M] [--split validation] [--files 30] [--share 0.02] \
        [--shift 20 40] [--alphas 0.001 0.003 0.01 0.03] [--json F]

Each performance is measured twice. As played: every note a flag lands on is a false alarm, so the
share flagged is the false-alarm rate, and what re-predicting them moves is the damage repair does
to a clean file. Corrupted: `--share` of its notes (chosen by `numpy.random.default_rng(seed)`)
moved by `--shift` velocity units, up or down at random (the other way where 1-127 would cut the
move short), as a mis-hit key or a transcription's error would. Then, per significance level:
precision and recall of the flags against the corrupted notes, and the mean distance of the
corrupted notes, and of all notes, from the pianist's velocities before and after repair.

The baseline detector flags, at each level, as many notes as the model did, by their distance from
the median of the 16 nearest notes in time (`evaluation.neighbour_median`), each judged with the
same notes visible as the model, so the two differ only in how they rank the notes.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace

import numpy as np
from fit_gap import spread  # beside this script
from tqdm.auto import tqdm

import velocity_bert as vb
from velocity_bert.data import list_files
from velocity_bert.decoding import SURPRISE_ROUNDS, note_surprise, predict_velocities
from velocity_bert.evaluation import neighbour_median


def corrupt(velocity: np.ndarray, share: float, shift: tuple[int, int], rng: np.random.Generator):
    """`velocity` with `share` of its notes moved by `shift` units, and which notes moved."""
    n = len(velocity)
    moved = np.zeros(n, dtype=bool)
    moved[rng.choice(n, size=max(1, round(share * n)), replace=False)] = True
    size = rng.integers(shift[0], shift[1] + 1, size=n)
    sign = rng.choice((-1, 1), size=n)
    # The other way where the move would leave 1-127: every corrupted note moves by its full size.
    sign = np.where((velocity + sign * size > 127) | (velocity + sign * size < 1), -sign, sign)
    out = velocity.astype(np.int64).copy()
    out[moved] = np.clip(out[moved] + (sign * size)[moved], 1, 127)
    return out, moved


def neighbour_distance(notes) -> np.ndarray:
    """Each note's distance from the median of its 16 nearest notes in time, judged in the same
    rounds as `note_surprise` (every 7th note hidden at once)."""
    distance = np.zeros(len(notes))
    for r in range(SURPRISE_ROUNDS):
        hidden = np.zeros(len(notes), dtype=bool)
        hidden[r::SURPRISE_ROUNDS] = True
        if hidden.any():
            distance[hidden] = np.abs(notes.velocity[hidden] - neighbour_median(notes, hidden))
    return distance


def flag_top(score: np.ndarray, count: int) -> np.ndarray:
    """The `count` notes with the highest score."""
    flagged = np.zeros(len(score), dtype=bool)
    flagged[np.argsort(-score, kind="stable")[:count]] = True
    return flagged


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=vb.DEFAULT_MODEL)
    parser.add_argument("--data", default="../shared/data/asap")
    parser.add_argument("--split", default="validation")
    parser.add_argument("--files", type=int, default=30, help="files spread over the split (0: all)")
    parser.add_argument("--share", type=float, default=0.02, help="share of each file's notes corrupted")
    parser.add_argument("--shift", type=int, nargs=2, default=(20, 40), metavar=("MIN", "MAX"))
    parser.add_argument("--alphas", type=float, nargs="+", default=[0.001, 0.003, 0.01, 0.03])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    model = vb.VelocityBertForMaskedVelocity.from_pretrained(args.model).eval()
    tokenizer = vb.VelocityBertTokenizer.from_pretrained(args.model)
    files = list_files(args.data, args.split)
    files = spread(files, args.files) if args.files else files  # the split is sorted by composer and piece
    rng = np.random.default_rng(args.seed)
    keys = ("flagged", "hits", "moved", "moved_before", "moved_after", "all_before", "all_after", "notes")
    totals = {(case, a): dict.fromkeys(keys, 0.0) for case in ("played", "corrupted") for a in args.alphas}
    baseline = {a: {"flagged": 0, "hits": 0} for a in args.alphas}
    for path in tqdm(files, unit="file"):
        clean = vb.load_notes(path)
        corrupted_velocity, moved = corrupt(clean.velocity, args.share, tuple(args.shift), rng)
        cases = {"played": (clean, np.zeros(len(clean), dtype=bool))}
        cases["corrupted"] = (replace(clean, velocity=corrupted_velocity), moved)
        for case, (notes, wrong) in cases.items():
            surprise = note_surprise(model, tokenizer, notes)
            distance = neighbour_distance(notes) if case == "corrupted" else None
            for a in args.alphas:
                flagged = surprise < a
                repaired = predict_velocities(model, tokenizer, notes, flagged)
                t = totals[(case, a)]
                t["flagged"] += flagged.sum()
                t["hits"] += (flagged & wrong).sum()
                t["moved"] += wrong.sum()
                t["moved_before"] += np.abs(notes.velocity - clean.velocity)[wrong].sum()
                t["moved_after"] += np.abs(repaired - clean.velocity)[wrong].sum()
                t["all_before"] += np.abs(notes.velocity - clean.velocity).sum()
                t["all_after"] += np.abs(repaired - clean.velocity).sum()
                t["notes"] += len(notes)
                if distance is not None:
                    picked = flag_top(distance, int(flagged.sum()))
                    baseline[a]["flagged"] += picked.sum()
                    baseline[a]["hits"] += (picked & wrong).sum()
    rows = []
    print(
        f"{len(files)} {args.split} files; corrupted: {args.share:.0%} of notes moved by {args.shift[0]}-{args.shift[1]}"
    )
    print(
        "| alpha | flagged, as played | MAE of all notes, as played: repaired | flagged, corrupted | precision "
        "| recall | baseline precision / recall | MAE of moved notes: before -> after | MAE of all notes: before -> after |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for a in args.alphas:
        p, c, b = totals[("played", a)], totals[("corrupted", a)], baseline[a]
        row = {
            "alpha": a,
            "false_alarm_rate": p["flagged"] / p["notes"],
            "played_mae_after": p["all_after"] / p["notes"],
            "flagged_share": c["flagged"] / c["notes"],
            "precision": c["hits"] / max(c["flagged"], 1),
            "recall": c["hits"] / c["moved"],
            "baseline_precision": b["hits"] / max(b["flagged"], 1),
            "baseline_recall": b["hits"] / c["moved"],
            "moved_mae_before": c["moved_before"] / c["moved"],
            "moved_mae_after": c["moved_after"] / c["moved"],
            "all_mae_before": c["all_before"] / c["notes"],
            "all_mae_after": c["all_after"] / c["notes"],
        }
        rows.append(row)
        print(
            f"| {a:g} | {row['false_alarm_rate']:.2%} | {row['played_mae_after']:.3f} | {row['flagged_share']:.2%} "
            f"| {row['precision']:.1%} | {row['recall']:.1%} | {row['baseline_precision']:.1%} / "
            f"{row['baseline_recall']:.1%} | {row['moved_mae_before']:.2f} -> {row['moved_mae_after']:.2f} "
            f"| {row['all_mae_before']:.3f} -> {row['all_mae_after']:.3f} |",
            flush=True,
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"model": args.model, "args": vars(args), "files": len(files), "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()

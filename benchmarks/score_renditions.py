"""Humanizing a flat score, the main use: how close is the rendition's dynamics curve to a
pianist's, and what does the score's even timing cost?

    python benchmarks/score_renditions.py [--model DIR] [--split validation] [--scores FILE] [--segments 32] [--cues]
        [--alignments cache/alignments] [--json F]

ASAP keeps a quantized score MIDI (`midi_score.mid`) beside each piece's performances: what a
notation program exports, the file a user humanizes. "Flat" below means what the model is given:
every velocity hidden. The files themselves are flat only for the Bach pieces (every note 80); the
others carry their score's dynamics markings as velocities, as MuseScore writes them (p 49, f 96,
ff 112, hairpins in between): 14 of the 23 validation scores, 23 of the 26 test scores.
`../shared` holds no note
alignment of the two (see the end for the one align_scores.py makes); without it the loudness
*curve* can still be compared:
each file's notes in order are cut into `--segments` runs of equal note count (note rank, not time,
so tempo does not matter; ornaments and skipped notes shift it a little), and each run's mean
velocity is one point. For each performance, Pearson r between its true curve and:
- the model's rendition of the flat score (what a user gets);
- the model with every velocity of the performance hidden (the `all` setting: the same task with
  the pianist's timing, so the gap is what the even timing costs);
- the other performances of the same score (how much pianists agree: a ceiling of sorts);
- note density (notes per second of each run, from the score or the performance): the model-free
  guess that busier passages are louder.
Also the note-level SD of each, and the SD of the curve (the range of the phrase-level dynamics).

Note rank lines a score up with a performance only where both hold the same notes: a performance
that skips a repeat the score writes out (or the reverse) slides out of step. So every measure is
also given on the well-aligned performances alone: within 5% of the score's note count, with mean
pitch curves (score against performance, no velocities involved) at r >= 0.9.

`--cues` asks which of a performance's cues the model reads the dynamics from, by taking them out
of the performance before hiding every velocity (pooled MAE and r, one decode per variant): chords
struck together (onsets within 35 ms moved to the chord's first, as a score has them) and legato
durations (each note held to the next chord: no articulation), apart and both. How many notes are
held that way in the score and in the performance is reported too.

With note alignments (`benchmarks/align_scores.py`, cached under `--alignments`), the rendition is
also scored note by note on the score notes matched to each performance, with `evaluate`'s measures
(exact / within one level / MAE, 95% interval over files, piece-averaged, r per file), next to:
the same model with every velocity of the performance hidden (the pianist's timing), on the same
notes; the train-median constant; the mean of the other pianists' velocities on each score note
(how far one pianist is from the others: a floor of sorts, on the notes another pianist matched);
and two that are told each pianist's mean velocity, which a user sets by ear: that mean as a
constant, and the rendition shifted to it (what the rendition's shape is worth beyond its level).
Three more read the score's own velocities, the markings: those velocities as they are (what the
notation program plays), the same at a pianist's scale (decoding.MARKING_TO_PLAYED), and the
rendition with `humanize --keep-dynamics` (the markings at a pianist's scale as the level, the
model's shaping on top; one row per `--sigmas`, how far the model's own loudness is averaged, the
default DYNAMICS_SIGMA_S); for a model with the marking field (train.py --markings), also the
rendition that model plays with the markings as its input, which is what --keep-dynamics gives
with it. These are also given on the marked scores alone, with the least-squares
line of the pianists' velocities on the markings there (`marking_fit`: where MARKING_TO_PLAYED
comes from, on validation).
"""

from __future__ import annotations

import argparse
import csv
import json
from collections import defaultdict
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

import velocity_bert as vb
from velocity_bert.alignment import load_pairs, pairs_path
from velocity_bert.cli import add_decoding_arguments, decoding_options
from velocity_bert.decoding import (
    DYNAMICS_SIGMA_S,
    MARKING_TO_PLAYED,
    DecodingOptions,
    keep_dynamics,
    predict_levels,
    predict_velocities,
)
from velocity_bert.evaluation import summarize, train_median
from velocity_bert.notes import MidiInputError, Notes, has_markings, legato


def curve(values: np.ndarray, segments: int) -> np.ndarray:
    """Mean of `values` over `segments` runs of consecutive notes of (nearly) equal count."""
    run = np.arange(len(values)) * segments // len(values)
    return np.bincount(run, weights=values, minlength=segments) / np.bincount(run, minlength=segments)


def density(onsets: np.ndarray, segments: int) -> np.ndarray:
    """Notes per second of each run: its note count over the time from its first onset to the next
    run's first onset (the last run: to its own last onset)."""
    run = np.arange(len(onsets)) * segments // len(onsets)
    starts = np.array([onsets[run == i].min() for i in range(segments)])
    ends = np.append(starts[1:], onsets.max())
    return np.bincount(run, minlength=segments) / np.maximum(ends - starts, 1e-3)


def together(notes: Notes, window_s: float = 0.035) -> tuple[Notes, np.ndarray]:
    """The notes with every chord struck at once (onsets chained within `window_s` take the first
    one's), re-sorted into canonical order; and that order, to line the truth up with."""
    first = np.diff(notes.onset_sec, prepend=-np.inf) > window_s
    lead = np.maximum.accumulate(np.where(first, np.arange(len(notes)), 0))
    onset_sec, onset_tick = notes.onset_sec[lead], notes.onset_tick[lead]
    order = np.lexsort((notes.pitch, onset_sec))
    return replace(notes.take(order), onset_sec=onset_sec[order], onset_tick=onset_tick[order]), order


def both(notes: Notes) -> tuple[Notes, np.ndarray]:
    together_notes, order = together(notes)
    return legato(together_notes), order


# Each takes a performance's notes and returns them changed, with the order that lines up the truth.
CUES = {
    "chords together": together,
    "legato durations": lambda notes: (legato(notes), np.arange(len(notes))),
    "both": both,
}


def legato_share(notes: Notes, window_s: float = 0.035, tolerance: float = 0.05) -> float:
    """The share of notes (the last chord's aside) held to the next chord, within `tolerance` of that
    length: how much of a file `legato` leaves as it is, which is what train.py --legato imitates."""
    held = legato(notes, window_s)
    has_next = notes.onset_sec + window_s < notes.onset_sec[-1]  # onsets are sorted
    ratio = notes.duration_sec[has_next] / np.maximum(held.duration_sec[has_next], 1e-9)
    return float(np.mean(np.abs(ratio - 1) <= tolerance))


def pearson(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a, b)[0, 1]) if a.std() > 0 and b.std() > 0 else float("nan")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=vb.DEFAULT_MODEL)
    parser.add_argument("--data", default="../shared/data/asap", help="an ASAP folder (splits.csv, midi_score.mid)")
    parser.add_argument("--split", default="validation", choices=("validation", "test", "train"))
    # A marking field trained on some train scores is judged on the marked train scores held out of
    # its --score_copies, where the pianists are those it learned from (BENCHMARKS.md, "Held-out
    # train scores").
    parser.add_argument("--scores", default=None, help="a file listing midi_score paths, one a line: only these")
    parser.add_argument("--segments", type=int, default=32)
    parser.add_argument("--cues", action="store_true", help="also decode with a performance's cues taken out")
    parser.add_argument("--alignments", default="cache/alignments", help="align_scores.py's --out, if it ran")
    # The decoding a user can choose for `humanize`, so each choice is judged on the flat scores, the
    # input it is mostly used on, not only on recordings (evaluate's settings).
    add_decoding_arguments(parser)
    parser.add_argument(
        "--sigmas",
        type=float,
        nargs="+",
        default=[DYNAMICS_SIGMA_S],
        help="keep-dynamics rows, one per SD in seconds of the model's own loudness it takes out",
    )
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    options = DecodingOptions(**decoding_options(args))
    root = Path(args.data)
    with open(root / "splits.csv", newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["split"] == args.split]
    if args.scores:
        wanted = {line.strip() for line in Path(args.scores).read_text().splitlines() if line.strip()}
        rows = [r for r in rows if r["midi_score"] in wanted]
        if not rows:
            parser.error(f"none of the scores in {args.scores} is in the {args.split} split")
    by_score = defaultdict(list)
    for r in rows:
        by_score[r["midi_score"]].append(r["midi_performance"])
    model = vb.VelocityBertForMaskedVelocity.from_pretrained(args.model).eval()
    tokenizer = vb.VelocityBertTokenizer.from_pretrained(args.model)
    k = args.segments
    constant = train_median(root)
    # name -> per-file predictions and truths on aligned notes, and each file's piece, for summarize
    note_level = defaultdict(lambda: {"pred": [], "true": [], "pieces": []})
    note_level_marked = defaultdict(lambda: {"pred": [], "true": [], "pieces": []})  # scores with markings

    per_performance = []  # one dict per performance
    for score_path, performances in sorted(by_score.items()):
        try:
            score = vb.load_notes(root / score_path)
        except MidiInputError:
            continue
        if len(score) < 4 * k:
            continue
        # What `humanize` plays, with and without --keep-dynamics, from one decode (as predict_velocities).
        _, estimate = predict_levels(model, tokenizer, score, options=options)
        rendition = np.clip(np.rint(estimate), 1, 127)
        marks = score.velocity.astype(np.float64)
        marked = has_markings(marks)
        kept = {  # a flat score has no markings to keep: predict_velocities plays the model's own
            f"rendition keeping the score's dynamics (sigma {sigma:g} s)": np.clip(
                np.rint(keep_dynamics(score.onset_sec, marks, estimate, sigma) if marked else estimate), 1, 127
            )
            for sigma in args.sigmas
        }
        if tokenizer.markings:  # a model that reads them (train.py --markings): what --keep-dynamics plays
            read = predict_velocities(model, tokenizer, score, options=replace(options, keep_dynamics=True))
            kept["rendition reading the score's markings (model's field)"] = read.astype(np.float64)
        truths = {}
        for p in performances:
            try:
                notes = vb.load_notes(root / p)
            except MidiInputError:
                continue
            if len(notes) >= 4 * k:
                truths[p] = notes
        true_curves = {p: curve(n.velocity.astype(np.float64), k) for p, n in truths.items()}
        matched = {}  # performance -> (score index, performance index) of its aligned notes
        on_score = {}  # performance -> its velocities on the score's notes (NaN where not matched)
        for p in truths:
            path = pairs_path(args.alignments, args.split, p)
            if path.exists():
                matched[p] = load_pairs(path)
                on_score[p] = np.full(len(score), np.nan)
                on_score[p][matched[p][0]] = truths[p].velocity[matched[p][1]]
        for p, notes in truths.items():
            true = notes.velocity.astype(np.float64)
            hidden_all = predict_velocities(model, tokenizer, notes, options=options).astype(np.float64)
            others = [pearson(true_curves[q], true_curves[p]) for q in truths if q != p]
            aligned = abs(len(notes) / len(score) - 1) <= 0.05 and (
                pearson(curve(score.pitch.astype(np.float64), k), curve(notes.pitch.astype(np.float64), k)) >= 0.9
            )
            mae = {"performance as played": float(np.abs(hidden_all - true).mean())}
            r_cues = {}
            for cue, take_out in CUES.items() if args.cues else ():
                changed, order = take_out(notes)
                predicted = predict_velocities(model, tokenizer, changed, options=options).astype(np.float64)
                mae[cue] = float(np.abs(predicted - true[order]).mean())
                r_cues[f"every velocity hidden, {cue}"] = pearson(curve(predicted, k), curve(true[order], k))
            if p in matched:
                si, pi = matched[p]
                truth = true[pi]
                level = truth.mean() - rendition[si].mean()
                systems = {
                    "rendition of the flat score": (rendition[si], truth),
                    "every velocity hidden (performance timing)": (hidden_all[pi], truth),
                    "train median, a constant": (np.full(len(si), constant), truth),
                    "the pianist's mean, a constant (told)": (np.full(len(si), truth.mean()), truth),
                    "rendition shifted to the pianist's mean (told)": (rendition[si] + level, truth),
                    "the score's own velocities (its markings)": (marks[si], truth),
                    "the markings at a pianist's scale": (
                        np.rint(MARKING_TO_PLAYED[0] + MARKING_TO_PLAYED[1] * marks[si]),
                        truth,
                    ),
                    **{name: (v[si], truth) for name, v in kept.items()},
                }
                if len(on_score) > 1:
                    theirs = np.array([v[si] for q, v in on_score.items() if q != p])
                    played = np.isfinite(theirs)
                    keep = played.any(axis=0)
                    mean_of_others = np.where(played, theirs, 0).sum(axis=0)[keep] / played.sum(axis=0)[keep]
                    systems["mean of the other pianists (their matched notes)"] = (mean_of_others, truth[keep])
                for name, (pred, ref) in systems.items():
                    for table in (note_level, note_level_marked) if marked else (note_level,):
                        table[name]["pred"].append(pred)
                        table[name]["true"].append(ref)
                        table[name]["pieces"].append(score_path)
            per_performance.append(
                {
                    "performance": p,
                    "matched_notes": int(len(matched[p][0])) if p in matched else 0,
                    "score": score_path,
                    "aligned": bool(aligned),
                    "score_marked": bool(marked),
                    "r": {
                        "rendition of the flat score": pearson(curve(rendition, k), true_curves[p]),
                        "every velocity hidden (performance timing)": pearson(curve(hidden_all, k), true_curves[p]),
                        "other pianists, same score": float(np.mean(others)) if others else float("nan"),
                        "note density of the score": pearson(density(score.onset_sec, k), true_curves[p]),
                        "note density of the performance": pearson(density(notes.onset_sec, k), true_curves[p]),
                        **r_cues,
                    },
                    "mae_every_velocity_hidden": mae,
                    "notes": len(notes),
                    "legato_share": {"score": legato_share(score), "pianist": legato_share(notes)},
                    "note_sd": {
                        "pianist": float(true.std()),
                        "rendition": float(rendition.std()),
                        "hidden_all": float(hidden_all.std()),
                    },
                    "curve_sd": {
                        "pianist": float(true_curves[p].std()),
                        "rendition": float(curve(rendition, k).std()),
                        "hidden_all": float(curve(hidden_all, k).std()),
                    },
                }
            )

    def averages(field: str, only_aligned: bool = False) -> dict:
        """Mean over performances, and over scores (each score's performances averaged first)."""
        chosen = [d for d in per_performance if d["aligned"] or not only_aligned]
        out = {}
        for name in per_performance[0][field]:
            values = [(d["score"], d[field][name]) for d in chosen if not np.isnan(d[field][name])]
            by = defaultdict(list)
            for s, v in values:
                by[s].append(v)
            out[name] = {
                "performances": len(values),
                "mean": float(np.mean([v for _, v in values])),
                "score_averaged": float(np.mean([np.mean(v) for v in by.values()])),
            }
        return out

    report = {
        "model": args.model,
        "decoding": asdict(options),
        "split": args.split,
        "segments": k,
        "scores": len({d["score"] for d in per_performance}),
        "performances": len(per_performance),
        "aligned_performances": sum(d["aligned"] for d in per_performance),
    }
    for subset, only_aligned in (("all", False), ("aligned", True)):
        fields = ("r", "note_sd", "curve_sd", "legato_share")
        report[subset] = {field: averages(field, only_aligned) for field in fields}
    report["mae_every_velocity_hidden"] = {  # pooled over notes, as `evaluate` reports it
        name: sum(d["mae_every_velocity_hidden"][name] * d["notes"] for d in per_performance)
        / sum(d["notes"] for d in per_performance)
        for name in per_performance[0]["mae_every_velocity_hidden"]
    }
    for key, table in (("note_level", note_level), ("note_level_marked", note_level_marked)):
        report[key] = {name: summarize(v, v["pieces"], np.random.default_rng(0)) for name, v in table.items()}
        for name, v in table.items():  # too loud (+) or too soft (-) on average
            report[key][name]["bias"] = float(np.mean(np.concatenate(v["pred"]) - np.concatenate(v["true"])))
        report[f"{key}_files"] = len(table["rendition of the flat score"]["pred"]) if table else 0
    if note_level_marked:  # velocity = intercept + slope x marking, over every marked note
        markings = note_level_marked["the score's own velocities (its markings)"]
        slope, intercept = np.polyfit(np.concatenate(markings["pred"]), np.concatenate(markings["true"]), 1)
        report["marking_fit"] = {"intercept": float(intercept), "slope": float(slope)}
    report["train_median_velocity"] = constant
    report["per_performance"] = per_performance
    print(
        f"{report['performances']} performances of {report['scores']} scores ({report['aligned_performances']} "
        f"well aligned), {k} runs of notes each"
    )
    print(
        "\nevery velocity hidden, pooled MAE: "
        + ", ".join(f"{n} {v:.3f}" for n, v in report["mae_every_velocity_hidden"].items())
    )
    titles = {
        "r": "Pearson r with the pianist's curve",
        "note_sd": "note SD",
        "curve_sd": "curve SD",
        "legato_share": "share of notes held to the next chord (within 5%)",
    }
    for subset in ("all", "aligned"):
        for field, title in titles.items():
            print(f"\n{subset} performances, {title}: mean over performances / over scores (performances)")
            for name, v in report[subset][field].items():
                print(f"  {name:46s} {v['mean']:6.3f} / {v['score_averaged']:6.3f} ({v['performances']})")
    for key, which in (("note_level", ""), ("note_level_marked", " of the scores with dynamics markings")):
        if not report[key]:
            continue
        print(
            f"\nnote by note, on the score notes aligned to {report[f'{key}_files']} performances{which} "
            "(pooled; piece average; r per file):"
        )
        for name, m in report[key].items():
            low, high = m["mae_ci95"]
            print(
                f"  {name:50s} {m['exact']:6.1%} / {m['within_one']:6.1%} / {m['mae']:6.2f} ({low:.2f}-{high:.2f}); "
                f"{m['piece_averaged']['mae']:6.2f}; r {m['pearson_r_per_file'] or float('nan'):.3f}; bias {m['bias']:+.1f} "
                f"({m['count']} notes)"
            )
    if "marking_fit" in report:
        fit = report["marking_fit"]
        print(f"\npianists against the markings (least squares): {fit['intercept']:.1f} + {fit['slope']:.3f} x marking")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()

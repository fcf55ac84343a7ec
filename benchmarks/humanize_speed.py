"""Humanize speed and memory: notes per second for filling 15% of a piece, for predicting every
velocity and for repairing a recording (`repair`: every note judged, the unlikely ones predicted),
the ratio to the piece's duration (x real time), and peak memory.

    python benchmarks/humanize_speed.py --notes 6000 [--model DIR] [--passes N] [--overlap N] [--dtype D] [--json F]
    python benchmarks/humanize_speed.py --notes 6000 --input bytes   # as humanize: a file's bytes in, written in place
    /usr/bin/time -v python benchmarks/humanize_speed.py --notes 17000 --only all   # peak RSS

The piece is cut from (or, for long pieces, chained from) ASAP test performances when the folder
is present, else synthesized.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np
import symusic

import velocity_bert as vb
from velocity_bert.decoding import REPAIR_ALPHA

ASAP = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "asap"


def piece_with(n_notes: int) -> symusic.Score:
    """A one-track performance of exactly n_notes, chaining ASAP test files end to end."""
    from velocity_bert.data import list_files

    files = list_files(ASAP, "test") if (ASAP / "splits.csv").exists() else []
    out = symusic.Score(384)
    track = symusic.Track("piano", program=0)
    offset, rng = 0, np.random.default_rng(0)
    while len(track.notes) < n_notes:
        if files:
            src = symusic.Score(str(files[int(rng.integers(len(files)))])).resample(384)
            notes = [n for t in src.tracks if not t.is_drum for n in t.notes]
        else:
            from tests.conftest import make_score

            notes = [
                n
                for t in make_score(500, seed=int(rng.integers(1000)), drums=False).resample(384).tracks
                for n in t.notes
            ]
        for note in sorted(notes, key=lambda n: (n.time, n.pitch))[: n_notes - len(track.notes)]:
            track.notes.append(symusic.Note(note.time + offset, note.duration, note.pitch, note.velocity))
        offset = max(n.end for n in track.notes) + 384
    out.tracks.append(track)
    return out


def timed(pipe, score, mask, passes: int | None, overlap: int | None = None, repair: float | None = None) -> float:
    start = time.perf_counter()
    pipe(score, mask=mask, passes=passes, overlap=overlap, repair=repair)
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--notes", type=int, default=6000)
    parser.add_argument("--model", default=vb.DEFAULT_MODEL)
    parser.add_argument("--passes", type=int, default=None, help="default: the pipeline's")
    parser.add_argument("--overlap", type=int, default=None, help="default: the model's window_overlap")
    parser.add_argument("--only", choices=("fill15", "all", "repair"), default=None)
    parser.add_argument(
        "--dtype", default="float32", choices=("float32", "bfloat16", "float16"), help="the weights' dtype at run time"
    )
    parser.add_argument(
        "--input",
        default="score",
        choices=("score", "bytes"),
        help="what the pipeline gets: the piece as a symusic Score (default, as every row before session 28) "
        "or as MIDI bytes, as humanize reads a file (its velocities then written in place, notes.patch_velocities)",
    )
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    import torch

    pipe = vb.load_pipeline(args.model, dtype=getattr(torch, args.dtype))
    score = piece_with(args.notes)
    notes = vb.load_notes(score)
    if args.input == "bytes":
        score = score.dumps_midi()
    duration = float(np.max(notes.onset_sec + notes.duration_sec))
    timed(pipe, score, None, 1)  # warm-up
    result = {
        "notes": len(notes),
        "duration_s": round(duration, 1),
        "passes": args.passes or "default",
        "dtype": args.dtype,
        "input": args.input,
        "overlap": pipe.model.config.window_overlap if args.overlap is None else args.overlap,  # 0 is an overlap
    }
    # repair: every note judged (7 encoder runs per window), then the few it flags predicted.
    settings = {
        "fill15": (np.random.default_rng(0).random(len(notes)) < 0.15, None),
        "all": (None, None),
        "repair": (None, REPAIR_ALPHA),
    }
    for name, (mask, repair) in settings.items():
        if args.only and name != args.only:
            continue
        seconds = min(timed(pipe, score, mask, args.passes, args.overlap, repair) for _ in range(2))
        result[name] = {
            "seconds": round(seconds, 3),
            "notes_per_s": round(len(notes) / seconds),
            "x_real_time": round(duration / seconds, 1),
        }
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

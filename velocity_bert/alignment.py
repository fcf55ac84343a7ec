"""Scores and performances matched note by note: pianists' velocities on a score's notes.

A user humanizes a score (even timing, metrical bars, notes held to the next chord); a corpus like
ASAP holds performances of scores. Matching their notes gives both the answers for scoring a
rendition of the score (benchmarks/score_renditions.py) and score-timed training windows whose
velocities a pianist chose (`score_copy`, train.py --score_copies).

The matching is parangonar's (an optional dependency, the `align` extra, imported only to match);
the cached pairs it leaves are plain `.npz` files read with numpy. Hand-written here: the bridge
from our canonical notes to partitura's note arrays, the cache layout, and the copy.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from .notes import Notes


def pairs_path(alignments: str | Path, split: str, performance: str) -> Path:
    """Where the pairs of one performance (`splits.csv`'s relative path) are cached."""
    return Path(alignments) / split / (performance.replace("/", "__").removesuffix(".mid") + ".npz")


def save_pairs(path: Path, score_index: np.ndarray, performance_index: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".part.npz")  # a killed run leaves no file that looks finished
    np.savez(partial, score_index=score_index, performance_index=performance_index)
    partial.replace(path)


def load_pairs(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    with np.load(path) as pairs:
        return pairs["score_index"], pairs["performance_index"]


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
    """The matched pairs (score index, performance index), in score order.

    parangonar's DualDTWNoteMatcher (a DTW of the performance's pitches against the score's onsets,
    then each pitch matched in order): ~50 s for an 8,400-note performance on one core, where its
    AutomaticNoteMatcher took ~4 minutes and matched fewer notes (BENCHMARKS.md, "Note by note").
    """
    try:
        import parangonar
    except ImportError as error:
        raise ImportError('matching notes needs parangonar: pip install "velocity-bert[align]"') from error

    s, p = note_arrays(score, performance)
    pairs = sorted(
        (int(a["score_id"][1:]), int(a["performance_id"][1:]))
        for a in parangonar.DualDTWNoteMatcher()(s, p)
        if a["label"] == "match"
    )
    score_index, performance_index = np.array(pairs, dtype=np.int64).reshape(-1, 2).T
    return score_index, performance_index


def score_copy(score: Notes, performance: Notes, score_index: np.ndarray, performance_index: np.ndarray) -> Notes:
    """The score's matched notes, each with the velocity its pianist played: a score as a user gives
    it, with a pianist's answers. Unmatched score notes (a repeat or ornament the pianist played
    otherwise) are left out rather than guessed; the rest keep the score's timing and bars."""
    keep = np.sort(np.asarray(score_index))
    velocity = np.zeros(len(score), dtype=score.velocity.dtype)
    velocity[score_index] = performance.velocity[performance_index]
    return replace(score.take(keep), velocity=velocity[keep])


def copy_markings(score: Notes, score_index: np.ndarray) -> np.ndarray:
    """The score's own velocities (its dynamics markings, where it has them) on the notes of its
    `score_copy`, in the copy's order: what a marking tokenizer is shown beside the pianist's."""
    return score.velocity[np.sort(np.asarray(score_index))]

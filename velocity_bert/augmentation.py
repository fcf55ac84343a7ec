"""Training-time augmentation of cached windows: transposition, loudness changes, chords struck
together, a score's markings hidden.

ASAP is small (about 2.8 M notes): on a GPU a 4 x 256 model sees it 100 times in six minutes and
validation loss stops falling, and the 6 x 384 bundled model overfits when trained further. Each
augmentation gives the model new inputs whose dynamics are still plausible:
- `Transpose`: a phrase played a tone higher is shaped the same way.
- `Loudness`: the same phrase played a little louder or softer overall, or with a wider or narrower
  range. ASAP's performances come from several competition years and Disklavier set-ups, so a
  file's overall level and spread vary for reasons the notes cannot show.
- `StrikeTogether`: a chord with its notes struck at once and in pitch order, as a notation
  program writes it. In a recorded performance a chord's louder notes tend to sound first (in
  ASAP's validation files onset delay and velocity correlate at r = -0.33 within the average chord;
  a harder-struck hammer also arrives sooner), so the spread and order of its onsets give its
  velocities away. A flat score has neither; taken out of the performances, the bundled model's
  MAE with every velocity hidden went from 9.20 to 16.06, a constant's (BENCHMARKS.md, "Humanizing
  a flat score").
MidiTok's own augmentation works on files before tokenization; these work on the cached windows,
so the cache is built once. Each takes a window's field ids [n, fields], a numpy Generator and
(optionally) which notes will be hidden, and returns new ids; the velocity field carries the labels,
so a loudness change moves them too.

Not here: a tempo change moves every timing field at once, and holding each note to the next chord
needs the gap in ticks; the ids show neither exactly, so both happen before tokenization:
`load_notes(time_scale=...)` and `notes.legato` make the copies and `data.RandomWindows` draws from
them (train.py's `--tempo_stretch` and `--legato`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .tokenization_velocity_bert import FIELDS, MARKING, PAD_ID, PITCH, VELOCITY

SHIFT, POSITION, BAR = (FIELDS.index(f) for f in ("shift", "position", "bar"))


@dataclass
class Transpose:
    """Shift every pitch of a window by the same random number of semitones in
    [-max_semitones, max_semitones], clamped to the tokenizer's pitch range."""

    max_semitones: int
    pitch_ids: tuple[int, int]  # first and last pitch token id (one id per semitone, ascending)

    def __call__(self, ids: np.ndarray, rng: np.random.Generator, hidden: np.ndarray | None = None) -> np.ndarray:
        # Windows hold no special tokens in the pitch field (the tokenizer clamps pitches into its
        # range and padding comes later, in the collator), so every pitch id can be shifted.
        ids = np.array(ids, dtype=np.int64)
        shift = int(rng.integers(-self.max_semitones, self.max_semitones + 1))
        ids[:, PITCH] = np.clip(ids[:, PITCH] + shift, *self.pitch_ids)
        return ids


@dataclass
class Loudness:
    """Move a window's velocity levels by one random offset in [-max_shift, max_shift] levels and
    scale their distances from the window's mean level by a factor in [1 - max_stretch,
    1 + max_stretch], rounding and clamping to the level range. Applied to a share `p` of windows;
    the rest keep the recorded dynamics, so the model still learns ASAP's own loudness.

    `min_visible` leaves alone windows where fewer than that share of velocities stay visible: there
    the context cannot reveal the new level, so a shifted answer only teaches the model that a flat
    file's overall level is noise (the small-model proxy in BENCHMARKS.md saw `all` pay for it)."""

    max_shift: int
    max_stretch: float
    velocity_ids: tuple[int, int]  # the ids of the lowest and highest velocity level
    p: float = 0.5
    min_visible: float = 0.0

    def __call__(self, ids: np.ndarray, rng: np.random.Generator, hidden: np.ndarray | None = None) -> np.ndarray:
        ids = np.array(ids, dtype=np.int64)
        if rng.random() >= self.p:
            return ids
        if hidden is not None and 1.0 - hidden.mean() < self.min_visible:
            return ids
        shift = int(rng.integers(-self.max_shift, self.max_shift + 1))
        factor = 1.0 + rng.uniform(-self.max_stretch, self.max_stretch)
        velocity = ids[:, VELOCITY].astype(np.float64)
        centre = velocity.mean()
        moved = np.rint(centre + (velocity - centre) * factor + shift)
        ids[:, VELOCITY] = np.clip(moved, *self.velocity_ids)
        return ids


@dataclass
class StrikeTogether:
    """In a share `p` of windows, strike every chord at once: a note whose onset gap to the previous
    one is among `chord_shift_ids` (0 to ~20 ms) joins its chord, takes its first note's onset
    (shift 0, the same bar and position), and the chord's notes are put in pitch order, velocities
    moving with their notes. The gap from one chord to the next is left as recorded."""

    chord_shift_ids: tuple[int, ...]  # tokenizer.shift_ids_within(ms); the first is 0 ms
    p: float = 0.5

    def __call__(self, ids: np.ndarray, rng: np.random.Generator, hidden: np.ndarray | None = None) -> np.ndarray:
        ids = np.array(ids, dtype=np.int64)
        if rng.random() >= self.p or len(ids) < 2:
            return ids
        joins = np.isin(ids[:, SHIFT], self.chord_shift_ids)
        joins[0] = False  # a window's first note starts its chord
        chord = np.cumsum(~joins) - 1
        leads = np.flatnonzero(~joins)
        gaps = ids[leads, SHIFT]
        ids[:, POSITION], ids[:, BAR] = ids[leads[chord], POSITION], ids[leads[chord], BAR]
        ids[:, SHIFT] = self.chord_shift_ids[0]
        # Sorting within chords keeps each chord's rows where they were, so its first row is still at
        # its lead's index, where the gap from the previous chord goes back. The hidden notes were
        # chosen by position: a reordered chord may hide other notes of it, as randomly as before.
        ids = ids[np.lexsort((ids[:, PITCH], chord))]
        ids[leads, SHIFT] = gaps
        return ids


@dataclass
class HideMarkings:
    """In a share `p` of windows, hide the score's dynamics markings (the marking field goes to PAD,
    as for a recording): a model that reads markings must still play a score without any, and
    must not learn to lean on them alone."""

    p: float = 0.25

    def __call__(self, ids: np.ndarray, rng: np.random.Generator, hidden: np.ndarray | None = None) -> np.ndarray:
        ids = np.array(ids, dtype=np.int64)
        if ids.shape[1] > MARKING and rng.random() < self.p:
            ids[:, MARKING] = PAD_ID
        return ids


@dataclass
class Compose:
    """Apply several augmentations in order."""

    steps: Sequence[Callable[..., np.ndarray]]

    def __call__(self, ids: np.ndarray, rng: np.random.Generator, hidden: np.ndarray | None = None) -> np.ndarray:
        for step in self.steps:
            ids = step(ids, rng, hidden)
        return ids

"""Training-time transposition of windows.

ASAP is small (about 2.8 M notes): on a GPU a 4 x 256 model sees it 100 times in six minutes and
validation loss stops falling. Shifting a window's pitches by a few semitones gives the model new
inputs with the same dynamics (a phrase played a tone higher is shaped the same way). Velocities,
timing and the hidden notes are left alone. MidiTok's own augmentation works on files before
tokenization; this works on the cached windows, so the cache is built once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .tokenization_velocity_bert import FIELDS

PITCH = FIELDS.index("pitch")


@dataclass
class Transpose:
    """Shift every pitch of a window by the same random number of semitones in
    [-max_semitones, max_semitones], clamped to the tokenizer's pitch range."""

    max_semitones: int
    pitch_ids: tuple[int, int]  # first and last pitch token id (one id per semitone, ascending)

    def __call__(self, ids: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        # Windows hold no special tokens in the pitch field (the tokenizer clamps pitches into its
        # range and padding comes later, in the collator), so every pitch id can be shifted.
        ids = np.array(ids, dtype=np.int64)
        shift = int(rng.integers(-self.max_semitones, self.max_semitones + 1))
        ids[:, PITCH] = np.clip(ids[:, PITCH] + shift, *self.pitch_ids)
        return ids

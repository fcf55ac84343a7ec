"""Which velocities to hide during training, and the collator that hides them.

One model must both fill in a few notes (context mostly visible) and predict every velocity of a
flat file (nothing visible, then iterative mask-predict). Each sequence therefore draws one mode:
`random` (15% of notes, BERT's 80/10/10), `span` (contiguous runs, ~15% of notes), `ratio`
(a uniform share in [0, 1] of notes, all MASK, which covers every step of mask-predict) or `all`
(every note MASK: a flat file's first pass, which `ratio` reaches only near its top).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from .tokenization_velocity_bert import MASK_ID, PAD_ID, VELOCITY


@dataclass
class MaskingMix:
    """Shares of the three modes and their sizes. The default leans on `ratio` because a
    flat file (every velocity hidden) is the main job: in the small-model comparison in
    BENCHMARKS.md ("Masking mix") 0.2 / 0.2 / 0.6 predicted whole files better than 0.5 / 0.2 / 0.3
    at no cost to 15% fill-in, and the bundled model trains with it from run 3 on."""

    random: float = 0.2
    span: float = 0.2
    ratio: float = 0.6
    all: float = 0.0
    random_rate: float = 0.15
    span_rate: float = 0.15
    span_notes: tuple[int, int] = (8, 64)


def choose_hidden(n: int, mix: MaskingMix, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """A bool mask of the notes to predict, at least one, and the mode that drew it."""
    weights = np.array([mix.random, mix.span, mix.ratio, mix.all], dtype=np.float64)
    mode = ("random", "span", "ratio", "all")[rng.choice(4, p=weights / weights.sum())]
    hidden = np.zeros(n, dtype=bool)
    if mode == "all":
        hidden[:] = True
    elif mode == "random":
        hidden = rng.random(n) < mix.random_rate
    elif mode == "span":
        while hidden.sum() < mix.span_rate * n:
            length = int(rng.integers(mix.span_notes[0], mix.span_notes[1] + 1))
            start = int(rng.integers(0, max(n - length, 0) + 1))
            hidden[start : start + length] = True
    else:
        hidden = rng.random(n) < rng.random()
    if not hidden.any():
        hidden[rng.integers(n)] = True
    return hidden, mode


def apply_mask(
    ids: np.ndarray,
    levels: np.ndarray,
    hidden: np.ndarray,
    mode: str,
    rng: np.random.Generator,
    velocity_offset: int,
    num_levels: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Masked ids and labels (-100 where no loss). Only `random` mode uses BERT's 80/10/10."""
    ids = ids.copy()
    labels = np.where(hidden, levels, -100)
    new = np.full(len(ids), MASK_ID)
    if mode == "random":
        draw = rng.random(len(ids))
        rand_level = rng.integers(0, num_levels, len(ids)) + velocity_offset
        new = np.where(draw < 0.8, MASK_ID, np.where(draw < 0.9, rand_level, ids[:, VELOCITY]))
    ids[hidden, VELOCITY] = new[hidden]
    return ids, labels


class MaskingCollator:
    """Pads windows and hides velocities. Windows that already carry `labels` (a fixed evaluation
    masking) are only padded."""

    def __init__(
        self,
        mix: MaskingMix | None = None,
        velocity_offset: int = 4,
        num_levels: int = 32,
        seed=None,
        augment: Callable[[np.ndarray, np.random.Generator, np.ndarray], np.ndarray] | None = None,
    ):
        # Applied to training windows after choosing the hidden notes, before masking them, so an
        # augmentation can depend on how much context stays visible (see augmentation.py).
        self.augment = augment
        self.mix = mix or MaskingMix()
        self.velocity_offset = velocity_offset
        self.num_levels = num_levels
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self._worker = None

    def _worker_rng(self) -> np.random.Generator:
        """DataLoader workers each get a copy of this collator, random state included: without a
        reseed every worker would hide the same pattern of notes in its n-th batch."""
        info = torch.utils.data.get_worker_info()
        if info is not None and info.id != self._worker:
            self._worker = info.id
            self.rng = np.random.default_rng(None if self.seed is None else [self.seed, info.id])
        return self.rng

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        rng = self._worker_rng()
        length = max(len(f["input_ids"]) for f in features)
        batch = len(features)
        input_ids = np.full((batch, length, len(features[0]["input_ids"][0])), PAD_ID, dtype=np.int64)
        labels = np.full((batch, length), -100, dtype=np.int64)
        attention_mask = np.zeros((batch, length), dtype=np.int64)
        for i, f in enumerate(features):
            ids = np.asarray(f["input_ids"], dtype=np.int64)
            n = len(ids)
            if "labels" in f and f["labels"] is not None:
                lab = np.asarray(f["labels"], dtype=np.int64)
            else:
                levels = np.asarray(f["levels"])
                hidden, mode = choose_hidden(n, self.mix, rng)
                if self.augment is not None:
                    ids = self.augment(ids, rng, hidden)
                    # A loudness change moves the answers with the visible velocities.
                    levels = ids[:, VELOCITY] - self.velocity_offset
                ids, lab = apply_mask(ids, levels, hidden, mode, rng, self.velocity_offset, self.num_levels)
            input_ids[i, :n], labels[i, :n], attention_mask[i, :n] = ids, lab, 1
        return {
            "input_ids": torch.from_numpy(input_ids),
            "attention_mask": torch.from_numpy(attention_mask),
            "labels": torch.from_numpy(labels),
        }

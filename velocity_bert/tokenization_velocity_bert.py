"""Note-level tokenizer: one position per note, built on MidiTok's Octuple vocabulary.

Each note becomes one compound token (pitch, position in bar, bar relative to the window, duration,
time since the previous note, velocity-or-MASK), like MidiTok's Octuple. A note-level sequence costs
1 token per note where REMI costs 3.69 on ASAP, so a 512-token window sees 3.7x more music, and
every prediction maps back to its note exactly.

MidiTok provides the vocabulary, the 32 velocity levels, the duration grid, the value quantizer
and the save/load format. Hand-written here, because MidiTok's `encode` re-sorts, deduplicates and
clips notes and returns no token-to-note mapping: turning our canonical notes into field values,
and the `shift` field (inter-onset interval in seconds, log-spaced), which Octuple lacks and which
carries chord membership and tempo in a form that does not depend on the file's tempo map.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import miditok
import numpy as np
import symusic
from miditok.utils.utils import np_get_closest

from .notes import Notes

TOKENIZER_FILE = "velocity_tokenizer.json"
FIELDS = ("pitch", "position", "bar", "duration", "shift", "velocity")
PITCH, VELOCITY = FIELDS.index("pitch"), FIELDS.index("velocity")  # columns of a window's ids
# An optional seventh field, after the others so that their columns never move: the note's dynamics
# marking as a notation program wrote it into the velocity (MuseScore: p 49, f 96), on the velocity
# field's levels, or PAD where none is known (a recording). A tokenizer made with `markings=True`
# writes it; a model trained on it reads a score's markings as context instead of as an answer.
MARKING = len(FIELDS)
# Inter-onset intervals (ms) the shift field distinguishes; 0 = same chord.
SHIFT_BINS_MS = (0, 10, 20, 35, 50, 75, 100, 150, 200, 300, 400, 600, 800, 1200, 2000, 4000)
NUM_VELOCITIES = 32
MAX_BARS = 128
PAD_ID, MASK_ID = 0, 3  # MidiTok's special-token ids, the same in every field
NUM_SPECIAL = 4  # PAD, BOS, EOS, MASK: a field's own ids start after them


def _octuple(num_velocities: int, max_bars: int, **config) -> miditok.Octuple:
    cfg = miditok.TokenizerConfig(
        use_velocities=True,
        num_velocities=num_velocities,
        max_bar_embedding=max_bars,
        use_time_signatures=False,
        use_programs=False,
        **config,
    )
    return miditok.Octuple(cfg)


class VelocityBertTokenizer:
    """Turns canonical notes into per-note field ids, and velocity levels into velocities."""

    file_name = TOKENIZER_FILE

    def __init__(
        self,
        num_velocities: int = NUM_VELOCITIES,
        max_bars: int = MAX_BARS,
        shift_bins_ms: tuple[int, ...] = SHIFT_BINS_MS,
        miditok_tokenizer: miditok.Octuple | None = None,
        sustain_pedal: bool = False,
        markings: bool = False,
    ):
        self.miditok = miditok_tokenizer or _octuple(num_velocities, max_bars)
        self.markings = bool(markings)
        self.fields = FIELDS + (("marking",) if self.markings else ())
        self.shift_bins_ms = tuple(int(x) for x in shift_bins_ms)
        # Whether the duration field shows how long a note sounds under the sustain pedal
        # (notes.sustained_duration_tick) instead of how long the key is held.
        self.sustain_pedal = bool(sustain_pedal)
        vocab = dict(zip(("pitch", "position", "bar", "velocity", "duration"), self.miditok.vocab))
        self._vocab = vocab
        self.velocities = np.asarray(self.miditok.velocities, dtype=np.int64)  # 3, 7, ..., 127
        lo, hi = self.miditok.config.pitch_range
        self.pitch_range = (int(lo), int(hi))
        self._pitch_ids = np.array([vocab["pitch"][f"Pitch_{p}"] for p in range(lo, hi)])
        self._num_bars = sum(k.startswith("Bar_") for k in vocab["bar"])
        self._bar0 = vocab["bar"]["Bar_0"]
        self._pos0 = vocab["position"]["Position_0"]
        self._num_positions = sum(k.startswith("Position_") for k in vocab["position"])
        self.position_res = max(self.miditok.config.beat_res.values())
        durs = self.miditok.durations
        self._dur_beats = np.array([b + p / r for b, p, r in durs], dtype=np.float64)
        self._dur_ids = np.array([vocab["duration"]["Duration_" + ".".join(map(str, d))] for d in durs])
        self._vel0 = vocab["velocity"][f"Velocity_{self.velocities[0]}"]
        self._shift_log = np.log1p(np.asarray(self.shift_bins_ms, dtype=np.float64) / 5.0)

    def __eq__(self, other: object) -> bool:
        """Whether both make the same ids from the same notes (a teacher must read its student's ids):
        equal vocabulary sizes are not enough, since shift bins, the sustain-pedal durations or
        MidiTok's grid could differ under the same sizes. MidiTok's own equality covers its part."""
        if not isinstance(other, VelocityBertTokenizer):
            return NotImplemented
        return (self.shift_bins_ms, self.sustain_pedal, self.markings) == (
            other.shift_bins_ms,
            other.sustain_pedal,
            other.markings,
        ) and (self.miditok == other.miditok)

    __hash__ = None  # mutable MidiTok state inside: equal, not hashable

    # -- vocabulary -------------------------------------------------------------------------
    @property
    def field_vocab_sizes(self) -> list[int]:
        sizes = {name: len(v) for name, v in self._vocab.items()}
        sizes["shift"] = NUM_SPECIAL + len(self.shift_bins_ms)
        sizes["marking"] = sizes["velocity"]
        return [sizes[f] for f in self.fields]

    @property
    def pitch_token_range(self) -> tuple[int, int]:
        """First and last pitch token id; one id per semitone, so a transposition is an offset."""
        assert np.all(np.diff(self._pitch_ids) == 1)
        return int(self._pitch_ids[0]), int(self._pitch_ids[-1])

    def shift_ids_within(self, ms: float) -> tuple[int, ...]:
        """The shift-field ids of onset gaps up to `ms` (0 ms first): a chord's notes as a pianist
        spreads them, for augmentation.StrikeTogether."""
        return tuple(NUM_SPECIAL + i for i, b in enumerate(self.shift_bins_ms) if b <= ms)

    @property
    def onset_grid(self) -> dict[str, int]:
        """Where the model finds each note's onset on the bar/position grid (VelocityBertConfig's
        fields for rotary_onset positions): bars and positions both count from the same id."""
        assert self._bar0 == self._pos0
        return {
            "bar_field": FIELDS.index("bar"),
            "position_field": FIELDS.index("position"),
            "grid_token_offset": int(self._bar0),
            "positions_per_bar": int(self._num_positions),
        }

    @property
    def num_velocities(self) -> int:
        return len(self.velocities)

    def velocity_to_level(self, velocity: np.ndarray) -> np.ndarray:
        """MidiTok's quantization: nearest level, ties go up."""
        v = np.asarray(velocity, dtype=np.int64)
        return np.searchsorted(self.velocities, np_get_closest(self.velocities, v))

    def level_to_velocity(self, level: np.ndarray) -> np.ndarray:
        return self.velocities[np.asarray(level, dtype=np.int64)]

    def level_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Each level's stretch of the velocity line: from half a unit below the lowest MIDI velocity
        it quantizes to half a unit above the highest (3 holds 1..4: 0.5..4.5)."""
        velocity = np.arange(1, 128)
        level = self.velocity_to_level(velocity)
        lo = np.full(self.num_velocities, np.nan)
        hi = np.full(self.num_velocities, np.nan)
        np.fmin.at(lo, level, velocity - 0.5)
        np.fmax.at(hi, level, velocity + 0.5)
        return lo, hi

    def velocity_token(self, level: np.ndarray) -> np.ndarray:
        return np.asarray(level, dtype=np.int64) + self._vel0

    # -- encoding ---------------------------------------------------------------------------
    def encode(self, notes: Notes, markings: np.ndarray | None = None) -> np.ndarray:
        """Field ids [n_notes, fields], velocities visible; the bar column holds the absolute bar
        index (made window-relative by `window`). `markings`: one velocity per note, the score's
        dynamics markings, for a tokenizer with the marking field (without them it holds PAD)."""
        if markings is not None and not self.markings:
            raise ValueError("this tokenizer has no marking field (VelocityBertTokenizer(markings=True) has)")
        n = len(notes)
        ids = np.zeros((n, len(self.fields)), dtype=np.int64)
        lo, hi = self.pitch_range
        # Out-of-range pitches are clamped for the model's view only (the note is still predicted).
        ids[:, 0] = self._pitch_ids[np.clip(notes.pitch, lo, hi - 1) - lo]
        bar = np.searchsorted(notes.bar_starts, notes.onset_tick, side="right") - 1
        bar = np.clip(bar, 0, None)
        beat_ticks = notes.bar_beat_ticks[bar]
        pos = (notes.onset_tick - notes.bar_starts[bar]) * self.position_res // beat_ticks
        ids[:, 1] = self._pos0 + np.clip(pos, 0, self._num_positions - 1)
        ids[:, 2] = bar
        # Zero-length notes get the shortest duration; very long ones the longest.
        held = notes.sustained_duration_tick if self.sustain_pedal else notes.duration_tick
        beats = held / beat_ticks
        ids[:, 3] = self._dur_ids[np.searchsorted(self._dur_beats, np_get_closest(self._dur_beats, beats))]
        ioi_ms = np.diff(notes.onset_sec, prepend=notes.onset_sec[:1]) * 1000.0
        shift = np.searchsorted(self._shift_log, np_get_closest(self._shift_log, np.log1p(ioi_ms / 5.0)))
        ids[:, 4] = NUM_SPECIAL + shift
        ids[:, VELOCITY] = self.velocity_token(self.velocity_to_level(notes.velocity))
        if markings is not None:
            ids[:, MARKING] = self.velocity_token(self.velocity_to_level(markings))
        return ids

    def window(self, ids: np.ndarray, start: int, stop: int) -> np.ndarray:
        """Ids of notes [start, stop) with bars counted from the window's first bar."""
        w = ids[start:stop].copy()
        w[:, 2] = self._bar0 + np.clip(w[:, 2] - w[0, 2], 0, self._num_bars - 1)
        return w

    # -- save / load ------------------------------------------------------------------------
    def save_pretrained(self, save_directory: str | os.PathLike) -> Path:
        """MidiTok's own file under a name that does not collide with HF's tokenizer.json."""
        save_directory = Path(save_directory)
        save_directory.mkdir(parents=True, exist_ok=True)
        self.miditok.save(
            save_directory,
            additional_attributes={
                "velocity_bert": {
                    "fields": list(self.fields),
                    "shift_bins_ms": list(self.shift_bins_ms),
                    "sustain_pedal": self.sustain_pedal,
                    "symusic_version": symusic.__version__,
                }
            },
            filename=self.file_name,
        )
        return save_directory / self.file_name

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike, **hub_kwargs) -> VelocityBertTokenizer:
        """Load from a model folder or a Hub repo id (through MidiTok's hub mixin)."""
        directory = Path(directory)
        if not directory.is_dir():
            from huggingface_hub import hf_hub_download

            directory = Path(hf_hub_download(str(directory), cls.file_name, **hub_kwargs)).parent
        path = directory / cls.file_name
        extra = json.loads(path.read_text()).get("velocity_bert", {})
        tok = miditok.Octuple(params=path)
        fields = tuple(extra.get("fields", FIELDS))
        if fields not in (FIELDS, FIELDS + ("marking",)):
            raise ValueError(f"{path}: fields {fields} differ from this code's {FIELDS} (+ marking)")
        return cls(
            miditok_tokenizer=tok,
            shift_bins_ms=tuple(extra.get("shift_bins_ms", SHIFT_BINS_MS)),
            sustain_pedal=extra.get("sustain_pedal", False),
            markings=fields != FIELDS,
        )

"""MIDI <-> canonical notes: the only module that knows MIDI files.

Every other module sees notes as flat numpy arrays in one canonical order, so a prediction made
anywhere maps back to exactly one note of the input file. Writing back touches velocities only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import symusic

from .smf import SmfLayoutError, note_groups, riff_midi, riff_midi_span

# What a folder of MIDI files is searched for; .rmi is Windows' RIFF wrapper around one.
MIDI_SUFFIXES = (".mid", ".midi", ".rmi")
MAX_NOTES = 100_000
MAX_TRACKS = 512
MAX_SECONDS = 4 * 3600
# Tempos outside this range (quarter notes per minute) are not music we can model; MIDI itself
# allows 3.6 to 60,000,000.
TEMPO_RANGE = (4.0, 2000.0)


class MidiInputError(ValueError):
    """A MIDI input we refuse, with a message meant to be shown to the user as one line."""


@dataclass(frozen=True)
class Notes:
    """All non-drum notes of a score, sorted by onset, then pitch (then track, index).

    `track` and `index` say where each note lives in the score so velocities can be written back.
    Pitches outside the tokenizer's range and zero-length notes are kept here: the tokenizer clamps
    them for the model's view only.
    """

    onset_tick: np.ndarray
    duration_tick: np.ndarray
    onset_sec: np.ndarray
    duration_sec: np.ndarray
    pitch: np.ndarray
    velocity: np.ndarray
    track: np.ndarray
    index: np.ndarray
    ticks_per_quarter: int
    # Bar start ticks from the time-signature map, for bar/position tokens.
    bar_starts: np.ndarray
    # Ticks per beat at each bar start (changes with the time signature's denominator).
    bar_beat_ticks: np.ndarray
    # Duration until the key is released or, if the sustain pedal (CC64) is down then, until the
    # pedal is released: how long the note sounds. For the model's view only; never written back.
    sustained_duration_tick: np.ndarray | None = None
    # Every track's name, by the index in `track`, so a user can pick tracks by name.
    track_names: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.pitch)

    def take(self, picked: np.ndarray) -> Notes:
        """The notes at `picked` (a subset, or the same notes in another order), every per-note array
        alike; the score-level fields stay. The caller keeps the result in canonical order."""
        per_note = {name: getattr(self, name) for name in PER_NOTE if getattr(self, name) is not None}
        return replace(self, **{name: values[picked] for name, values in per_note.items()})


# The fields of Notes that hold one value per note, for Notes.take.
PER_NOTE = (
    "onset_tick",
    "duration_tick",
    "onset_sec",
    "duration_sec",
    "pitch",
    "velocity",
    "track",
    "index",
    "sustained_duration_tick",
)


# A zero-byte file (a failed download or export) says so, not that its header is missing.
EMPTY = "an empty file (0 bytes), not a MIDI file"


def read_score(source: str | os.PathLike | bytes | symusic.Score) -> symusic.Score:
    """Parse a path, raw bytes or a Score (copied, or converted from quarters or seconds) into a
    tick-based Score, or raise MidiInputError. A RIFF MIDI file (.rmi) is read through the MIDI
    file inside it. Messages never name the file: the caller knows which one it passed (the CLI
    prefixes it)."""
    if isinstance(source, symusic.Score):
        return source.copy() if source.ttype == symusic.TimeUnit.tick else source.to("tick")
    if not isinstance(source, (str, os.PathLike, bytes, bytearray)):
        raise TypeError(f"a MIDI source is a path, bytes or a symusic.Score, not {type(source).__name__}")
    try:
        if isinstance(source, (bytes, bytearray)):
            score = symusic.Score.from_midi(_smf(bytes(source)))
        else:
            path = Path(source)
            if path.is_dir():
                raise MidiInputError("a folder, not a MIDI file")
            if not path.is_file():
                raise MidiInputError("no such file")
            with open(path, "rb") as f:
                head = f.read(4)
            if head == b"RIFF":
                score = symusic.Score.from_midi(_smf(path.read_bytes()))
            elif not head:
                raise MidiInputError(EMPTY)
            elif head != b"MThd":
                raise MidiInputError("not a MIDI file (no MThd header)")
            else:
                # By content: symusic guesses the format from the suffix otherwise, and refuses a
                # MIDI file named .kar, .smf or nothing at all (a browser download, a temporary file).
                score = symusic.Score.from_file(str(path), fmt="midi")
    except MidiInputError:
        raise
    except Exception as err:  # symusic raises RuntimeError/ValueError with C++ messages
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise MidiInputError(f"unreadable MIDI file: {first}") from None
    if score.ticks_per_quarter <= 0:
        raise MidiInputError("invalid MIDI file: ticks per quarter must be positive")
    return score


def _smf(data: bytes) -> bytes:
    """The Standard MIDI File in `data`: all of it, or the one a RIFF MIDI file wraps."""
    if not data:
        raise MidiInputError(EMPTY)
    if data[:4] == b"RIFF":
        span = riff_midi_span(data)
        if span is None:
            raise MidiInputError("a RIFF file, but not RIFF MIDI (no RMID data chunk)")
        data = data[span]
    if data[:4] != b"MThd":
        raise MidiInputError("not a MIDI file (no MThd header)")
    return data


def _bar_map(score: symusic.Score) -> tuple[np.ndarray, np.ndarray]:
    """Bar starts (ticks) and ticks per beat per bar, from the time-signature map (4/4 if none)."""
    tpq = score.ticks_per_quarter
    end = max(int(score.end()), 1)
    sigs = [(int(ts.time), int(ts.numerator), int(ts.denominator)) for ts in score.time_signatures]
    sigs = [s for s in sigs if s[1] > 0 and s[2] > 0]
    if not sigs or sigs[0][0] > 0:
        sigs.insert(0, (0, 4, 4))
    starts, beat_ticks = [], []
    for i, (time, num, den) in enumerate(sigs):
        nxt = sigs[i + 1][0] if i + 1 < len(sigs) else end + 1
        beat = max(tpq * 4 // den, 1)
        bar_len = beat * num
        # A signature change mid-bar starts a new bar, as notation programs do.
        n = max(int(np.ceil((nxt - time) / bar_len)), 1)
        starts.append(time + bar_len * np.arange(n, dtype=np.int64))
        beat_ticks.append(np.full(n, beat, dtype=np.int64))
    starts, beat_ticks = np.concatenate(starts), np.concatenate(beat_ticks)
    keep = np.r_[True, np.diff(starts) > 0]
    return starts[keep], beat_ticks[keep]


def load_notes(
    source: str | os.PathLike | bytes | symusic.Score, max_notes: int = MAX_NOTES, time_scale: float = 1.0
) -> Notes:
    """Read every note of every non-drum track into canonical order.

    `time_scale` reads a performance as if it were played that many times as long on the same
    clock (every event moved alike: notes, pedals, tempo and meter changes), for training's tempo
    augmentation (data.py). Performance files keep one fixed clock, so this is a slower or faster
    rendition; on a score it would move the notes off its bar lines.

    Raises MidiInputError for inputs a user should be told about (no notes, drums only, too large,
    an absurd tempo that puts notes hours away).
    """
    if not time_scale > 0:
        raise ValueError(f"time_scale must be positive, not {time_scale}")
    score = read_score(source)
    if time_scale != 1.0 and score.end() > 0:
        # At 8x the tick resolution first, so that a faster rendition cannot round two onsets onto
        # one tick and reorder the notes (the copies' notes must line up with the original's).
        score = score.resample(score.ticks_per_quarter * 8)
        end = int(score.end())
        score = score.adjust_time([0, end], [0, max(round(end * time_scale), 1)])
    if len(score.tracks) > MAX_TRACKS:
        raise MidiInputError(f"too many tracks ({len(score.tracks)} > {MAX_TRACKS})")
    pitched = [i for i, t in enumerate(score.tracks) if not t.is_drum and len(t.notes)]
    if not pitched:
        has_drums = any(t.is_drum and len(t.notes) for t in score.tracks)
        raise MidiInputError("only drum notes: nothing to humanize" if has_drums else "no notes in file")
    total = sum(len(score.tracks[i].notes) for i in pitched)
    if total > max_notes:
        raise MidiInputError(f"too many notes ({total} > {max_notes}); split the file")
    for tempo in score.tempos:
        if not TEMPO_RANGE[0] <= tempo.qpm <= TEMPO_RANGE[1]:
            raise MidiInputError(
                f"absurd tempo: {tempo.qpm:.3g} quarter notes per minute at tick {tempo.time} "
                f"(accepted: {TEMPO_RANGE[0]:g}-{TEMPO_RANGE[1]:g})"
            )
    seconds = score.to("second")
    cols = {k: [] for k in ("time", "duration", "pitch", "velocity", "sec", "dur_sec", "track", "index")}
    for i in pitched:
        soa = score.tracks[i].notes.numpy()
        sec = seconds.tracks[i].notes.numpy()
        n = len(soa["time"])
        for key in ("time", "duration", "pitch", "velocity"):
            cols[key].append(soa[key].astype(np.int64))
        cols["sec"].append(sec["time"].astype(np.float64))
        cols["dur_sec"].append(sec["duration"].astype(np.float64))
        cols["track"].append(np.full(n, i, dtype=np.int64))
        cols["index"].append(np.arange(n, dtype=np.int64))
    c = {k: np.concatenate(v) for k, v in cols.items()}
    if not np.all(np.isfinite(c["sec"])) or c["sec"].max() + c["dur_sec"].max() > MAX_SECONDS:
        raise MidiInputError(f"absurd timing: the file would last over {MAX_SECONDS // 3600} hours")
    order = np.lexsort((c["index"], c["track"], c["pitch"], c["time"]))
    c = {k: v[order] for k, v in c.items()}
    bar_starts, bar_beat_ticks = _bar_map(score)
    sustained = _sustained_durations(score, pitched, c["time"], c["duration"])
    return Notes(
        onset_tick=c["time"],
        duration_tick=c["duration"],
        onset_sec=c["sec"],
        duration_sec=c["dur_sec"],
        pitch=c["pitch"],
        velocity=c["velocity"],
        track=c["track"],
        index=c["index"],
        ticks_per_quarter=score.ticks_per_quarter,
        bar_starts=bar_starts,
        bar_beat_ticks=bar_beat_ticks,
        sustained_duration_tick=sustained,
        track_names=tuple(t.name for t in score.tracks),
    )


def _pedal_intervals(track: symusic.core.TrackTick) -> tuple[np.ndarray, np.ndarray]:
    """Sustain (CC64 >= 64) intervals from the raw controllers: symusic fills `track.pedals` only
    when parsing a file, and a Score built in memory must behave the same."""
    cc = track.controls.numpy()
    sel = cc["number"] == 64
    times, down = cc["time"][sel].astype(np.int64), cc["value"][sel] >= 64
    order = np.argsort(times, kind="stable")
    times, down = times[order], down[order]
    starts, ends, start = [], [], None
    for t, d in zip(times, down):
        if d and start is None:
            start = t
        elif not d and start is not None:
            starts.append(start)
            ends.append(t)
            start = None
    return np.asarray(starts, dtype=np.int64), np.asarray(ends, dtype=np.int64)


def _sustained_durations(
    score: symusic.Score, tracks: list[int], onset: np.ndarray, duration: np.ndarray
) -> np.ndarray:
    """Extend each note to the end of a sustain pedal held at its release. Pedals of all pitched
    tracks count (piano files often keep the pedal on one hand's track)."""
    pairs = [_pedal_intervals(score.tracks[i]) for i in tracks]
    starts = np.concatenate([p[0] for p in pairs])
    if len(starts) == 0:
        return duration.copy()
    ends = np.concatenate([p[1] for p in pairs])
    order = np.argsort(starts)
    starts, ends = starts[order], np.maximum.accumulate(ends[order])
    release = onset + duration
    idx = np.searchsorted(starts, release, side="right") - 1
    held = (idx >= 0) & (ends[np.maximum(idx, 0)] > release)
    return np.where(held, ends[np.maximum(idx, 0)] - onset, duration)


def legato(notes: Notes, window_s: float = 0.035) -> Notes:
    """The notes each held until the next chord (the next onset more than `window_s` later; the last
    chord keeps its durations), the pedal too: no articulation, as a notation program writes a score.

    Most of a flat score's notes end where the next chord starts (67% of the notes of ASAP's
    validation `midi_score.mid` files, 7% of its pianists'; benchmarks/score_renditions.py), so the
    way a performance lets go of its keys tells the model about touch that a score cannot: for
    training's articulation augmentation (train.py --legato) and the benchmark that measures that
    cue (benchmarks/score_renditions.py --cues).
    Durations change, never onsets, so the notes keep their order.
    """
    following = np.searchsorted(notes.onset_sec, notes.onset_sec + window_s, side="right")
    last = following == len(notes)
    nxt = np.minimum(following, len(notes) - 1)
    ticks = np.where(last, notes.duration_tick, notes.onset_tick[nxt] - notes.onset_tick)
    secs = np.where(last, notes.duration_sec, notes.onset_sec[nxt] - notes.onset_sec)
    held = {"sustained_duration_tick": ticks} if notes.sustained_duration_tick is not None else {}
    return replace(notes, duration_tick=ticks, duration_sec=secs, **held)


def tracks_with_notes(notes: Notes) -> list[tuple[int, str, int]]:
    """(index in the file's track list, name, notes) for each track with notes: what a user picks
    from (`humanize --tracks`, `info`, the demo's track picker)."""
    return [(i, notes.track_names[i], int((notes.track == i).sum())) for i in sorted(set(notes.track.tolist()))]


def track_mask(notes: Notes, wanted: list[str | int]) -> np.ndarray:
    """True for the notes of the tracks asked for, each by index or by name (case and surrounding
    spaces ignored). A track without notes raises ValueError listing the tracks that have some."""
    present = tracks_with_notes(notes)
    picked = set()
    for w in wanted:
        w = str(w).strip()
        hits = [i for i, name, _ in present if (i == int(w) if w.isdigit() else name.strip().lower() == w.lower())]
        if not hits:
            listing = ", ".join(f"{i}{f' {name!r}' if name else ''} ({n} notes)" for i, name, n in present)
            raise ValueError(f"no notes in a track {w!r}; the tracks with notes: {listing}")
        picked.update(hits)
    return np.isin(notes.track, sorted(picked))


def check_passage(start: float | None, end: float | None) -> None:
    """A passage in seconds, either end open. Called before any work too (the CLI checks its
    options before the model loads); a float option also takes nan, which selects nothing."""
    for which, value in (("start", start), ("end", end)):
        if value is not None and np.isnan(value):
            raise ValueError(f"the passage's {which} must be a number of seconds, not {value}")
    if start is not None and end is not None and not start < end:
        raise ValueError(f"the passage must start before it ends, not from {start:g} s to {end:g} s")


def selection_mask(
    notes: Notes, start: float | None = None, end: float | None = None, tracks: list[str | int] | None = None
) -> np.ndarray | None:
    """The notes to predict: those starting in [start, end) seconds, of the tracks named (see
    track_mask); None when nothing narrows them (every note). A choice that leaves no note raises
    ValueError saying where the notes are, for humanize and the demo alike."""
    check_passage(start, end)
    mask = None
    if start is not None or end is not None:
        lo, hi = -np.inf if start is None else start, np.inf if end is None else end
        mask = (notes.onset_sec >= lo) & (notes.onset_sec < hi)
        if not mask.any():
            since = "" if start is None else f" at or after {start:g} s"
            until = "" if end is None else f" before {end:g} s"
            piece = f"its notes start between {notes.onset_sec[0]:.1f} and {notes.onset_sec[-1]:.1f} s"
            raise ValueError(f"no notes start{since}{' and' if since and until else ''}{until} ({piece})")
    if tracks:
        chosen = track_mask(notes, tracks)
        mask = chosen if mask is None else mask & chosen
        if not mask.any():
            raise ValueError("no notes of the chosen tracks start in the chosen time range")
    return mask


def _velocities_for(notes: Notes, velocities: np.ndarray) -> np.ndarray:
    """One MIDI velocity per note, 1-127: 0 would turn a note-on into a note-off."""
    velocities = np.clip(np.asarray(velocities, dtype=np.int64), 1, 127)
    if len(velocities) != len(notes):
        raise ValueError(f"{len(velocities)} velocities for {len(notes)} notes")
    return velocities


def write_velocities(
    source: str | os.PathLike | bytes | symusic.Score, notes: Notes, velocities: np.ndarray
) -> symusic.Score:
    """A copy of the score where only the velocities of `notes` changed, in the source's own time
    unit: a Score in quarters or seconds comes back in them, its times untouched (converting the
    tick copy back would round them). Notes keep their place in each track whatever the unit."""
    score = source.copy() if isinstance(source, symusic.Score) else read_score(source)
    velocities = _velocities_for(notes, velocities)
    for i in np.unique(notes.track):
        sel = notes.track == i
        track = score.tracks[int(i)]
        soa = track.notes.numpy()
        soa["velocity"][notes.index[sel]] = velocities[sel]
        track.notes = symusic.Note.from_numpy(
            soa["time"], soa["duration"], soa["pitch"], soa["velocity"], ttype=score.ttype
        )
    return score


def patch_velocities(
    data: bytes, notes: Notes, velocities: np.ndarray, score: symusic.Score | None = None
) -> bytes | None:
    """The file's own bytes with only the velocity bytes of `notes`' note-ons changed, or None
    when its layout is not one smf.py reads exactly as symusic does (the caller then writes the
    score through symusic, which renumbers channels and drops system-exclusive and text events).

    `notes` must come from these bytes (load_notes of read_score(data)): its track and index say
    which of symusic's notes each one is, and smf.py finds the byte each of those came from.
    `score`: symusic's tick reading of these bytes, when the caller has it (else it is read here)."""
    velocities = _velocities_for(notes, velocities)
    span = riff_midi_span(data) or slice(0, len(data))  # a RIFF MIDI file: patch the file inside
    try:
        groups = note_groups(data[span])
        score = symusic.Score.from_midi(data[span]) if score is None else score
    except (SmfLayoutError, RuntimeError, ValueError):
        return None
    tracks = [i for i, t in enumerate(score.tracks) if len(t.notes)]
    if len(tracks) != len(groups):
        return None
    keys = ("velocity", "duration", "pitch", "time")  # lexsort: the last key sorts first
    offsets = {}
    for i, group in zip(tracks, groups):
        soa = score.tracks[i].notes.numpy()
        if len(soa["time"]) != len(group):
            return None
        ours, theirs = np.lexsort([group[k] for k in keys]), np.lexsort([soa[k] for k in keys])
        if not all(np.array_equal(group[k][ours], soa[k][theirs]) for k in keys):
            return None
        offsets[i] = np.empty(len(group), dtype=np.int64)
        offsets[i][theirs] = span.start + group["offset"][ours]  # notes that tie on every key are the same note
    out = np.frombuffer(bytearray(data), dtype=np.uint8)
    for i in np.unique(notes.track):
        sel = notes.track == i
        out[offsets[int(i)][notes.index[sel]]] = velocities[sel]
    return out.tobytes()


def midi_bytes(score: symusic.Score, container: bytes | None = None) -> bytes:
    """The file's bytes, for a pipe (`humanize -o -`) or a web response. `container`: the bytes
    the score was read from; a RIFF MIDI file keeps its wrapper (and INFO chunks) around the new
    MIDI file, so a .rmi comes back a .rmi."""
    smf = score.dumps_midi()
    return riff_midi(smf, container) if container is not None and riff_midi_span(container) else smf


def save_midi(data: bytes, path: str | os.PathLike) -> None:
    """Write atomically: a temporary file in the same folder, renamed when complete. The name
    decides the container: a .rmi path gets a RIFF MIDI file, any other a bare MIDI file (what
    players expect of a .mid), whichever of the two `data` is."""
    path = Path(path)
    span = riff_midi_span(data)
    if path.suffix.lower() == ".rmi" and span is None:
        data = riff_midi(data)
    elif path.suffix.lower() != ".rmi" and span is not None:
        data = data[span]
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def save_score(score: symusic.Score, path: str | os.PathLike) -> None:
    """Write a Score atomically (see save_midi)."""
    save_midi(midi_bytes(score), path)


def has_markings(velocities: np.ndarray) -> bool:
    """Whether a file's velocities can be a score's dynamics markings (what `humanize
    --keep-dynamics` keeps and a marking tokenizer reads): a file whose velocities are all the same
    has none (a flat export)."""
    return len(velocities) > 0 and bool(np.ptp(velocities) > 0)

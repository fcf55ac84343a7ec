import re
from pathlib import Path

import numpy as np
import pytest
import symusic

from tests.conftest import make_score, smf_bytes
from velocity_bert.notes import (
    MidiInputError,
    legato,
    load_notes,
    save_score,
    selection_mask,
    track_mask,
    tracks_with_notes,
    write_velocities,
)


def test_canonical_order_and_drums_excluded(midi_file):
    score = symusic.Score(str(midi_file))
    notes = load_notes(midi_file)
    pitched = sum(len(t.notes) for t in score.tracks if not t.is_drum)
    assert len(notes) == pitched
    assert not np.isin(notes.track, [i for i, t in enumerate(score.tracks) if t.is_drum]).any()
    key = np.stack([notes.onset_tick, notes.pitch])
    assert np.all((np.diff(key[0]) > 0) | ((np.diff(key[0]) == 0) & (np.diff(key[1]) >= 0)))
    for i in range(len(notes)):  # each note maps back to its exact source
        src = score.tracks[notes.track[i]].notes[notes.index[i]]
        assert (src.time, src.pitch, src.velocity) == (notes.onset_tick[i], notes.pitch[i], notes.velocity[i])
    assert np.all(np.diff(notes.onset_sec) >= 0)


def test_unrepresentable_notes_are_kept(midi_file):
    notes = load_notes(midi_file)
    assert (notes.pitch > 108).any() and (notes.duration_tick == 0).any()


def assert_same_but_velocities(a: symusic.Score, b: symusic.Score):
    assert a.ticks_per_quarter == b.ticks_per_quarter
    assert a.tempos == b.tempos and a.time_signatures == b.time_signatures
    assert len(a.tracks) == len(b.tracks)
    for ta, tb in zip(a.tracks, b.tracks):
        assert (ta.name, ta.program, ta.is_drum) == (tb.name, tb.program, tb.is_drum)
        assert ta.controls == tb.controls and ta.pedals == tb.pedals and ta.pitch_bends == tb.pitch_bends
        na, nb = ta.notes.numpy(), tb.notes.numpy()
        for k in ("time", "duration", "pitch"):
            np.testing.assert_array_equal(na[k], nb[k])


def test_write_back_changes_only_velocities(midi_file, tmp_path):
    notes = load_notes(midi_file)
    new = np.random.default_rng(1).integers(1, 128, len(notes))
    out = tmp_path / "out.mid"
    save_score(write_velocities(midi_file, notes, new), out)
    original, written = symusic.Score(str(midi_file)), symusic.Score(str(out))
    assert_same_but_velocities(original, written)
    np.testing.assert_array_equal(load_notes(out).velocity, new)
    drums = [t for t in written.tracks if t.is_drum][0]
    assert drums.notes == [t for t in original.tracks if t.is_drum][0].notes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.mid", "piece.mid"]  # no temp file left


def format_0_bytes(n: int = 30) -> bytes:
    """One track, three channels (piano, violin, drums), as some sequencers export."""
    events = [(0, b"\xff\x51\x03" + (500_000).to_bytes(3, "big")), (0, bytes([0xC1, 40]))]
    for i in range(n):
        events += [(0, bytes(e)) for e in [(0x90, 60 + i % 12, 64), (0x91, 70, 64), (0x99, 36, 100)]]
        off = [(0x80, 60 + i % 12, 0), (0x81, 70, 0), (0x89, 36, 0)]
        events += [(240 if k == 0 else 0, bytes(e)) for k, e in enumerate(off)]
    return smf_bytes([events], fmt=0)


def test_format_0_comes_back_as_format_1_with_only_velocities_changed(tmp_path):
    src = tmp_path / "type0.mid"
    src.write_bytes(format_0_bytes())
    notes = load_notes(src)
    assert len(notes) == 60  # piano and violin; the drum channel is left out
    new = np.random.default_rng(0).integers(1, 128, len(notes))
    out = tmp_path / "out.mid"
    save_score(write_velocities(src, notes, new), out)
    assert out.read_bytes()[8:10] == b"\x00\x01"  # format 1
    original, written = symusic.Score(str(src)), symusic.Score(str(out))
    assert_same_but_velocities(original, written)
    assert sorted((t.program, t.is_drum) for t in written.tracks) == [(0, False), (0, True), (40, False)]
    np.testing.assert_array_equal(load_notes(out).velocity, new)


def test_real_files_round_trip(asap, tmp_path):
    for path in sorted(asap.rglob("*.mid"))[:: max(1, len(list(asap.rglob("*.mid"))) // 8)][:8]:
        notes = load_notes(path)
        same = write_velocities(path, notes, notes.velocity)
        save_score(same, tmp_path / "x.mid")
        assert_same_but_velocities(symusic.Score(str(path)), symusic.Score(str(tmp_path / "x.mid")))
        assert len(load_notes(tmp_path / "x.mid")) == len(notes)


def test_a_midi_file_is_known_by_its_content_not_its_name(midi_file, tmp_path):
    """A browser download, a temporary file or a karaoke file is MIDI under any name."""
    expected = load_notes(midi_file)
    for name in ("download", "song.kar", "song.MID", "song.smf"):
        (tmp_path / name).write_bytes(midi_file.read_bytes())
        np.testing.assert_array_equal(load_notes(tmp_path / name).velocity, expected.velocity)


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", r"^an empty file \(0 bytes\), not a MIDI file$"),
        (b"hello, I am text", r"^not a MIDI file \(no MThd header\)$"),
        (b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01", "unreadable"),
    ],
)
def test_bad_bytes(content, message, tmp_path):
    path = tmp_path / "bad.mid"
    path.write_bytes(content)
    with pytest.raises(MidiInputError, match=message):
        load_notes(path)
    with pytest.raises(MidiInputError, match=message):  # the same bytes from memory (stdin, an upload)
        load_notes(content)


def test_truncated_file(midi_file):
    data = Path(midi_file).read_bytes()
    with pytest.raises(MidiInputError):
        notes = load_notes(data[: len(data) // 2])
        assert len(notes) < len(load_notes(midi_file))  # a reader that salvages must not crash either


def test_empty_drums_only_and_too_many(tmp_path):
    empty = symusic.Score(480)
    with pytest.raises(MidiInputError, match="no notes"):
        load_notes(empty)
    drums = make_score(20)
    drums.tracks = [t for t in drums.tracks if t.is_drum]
    with pytest.raises(MidiInputError, match="drum"):
        load_notes(drums)
    with pytest.raises(MidiInputError, match="too many notes"):
        load_notes(make_score(300), max_notes=100)


@pytest.mark.parametrize("mspq", [1, 16_777_215])  # MIDI's fastest and slowest tempos
def test_absurd_tempo(mspq, tmp_path):
    score = make_score(50)
    score.tempos = [symusic.Tempo(0, mspq=mspq)]
    path = tmp_path / "tempo.mid"
    score.dump_midi(str(path))
    with pytest.raises(MidiInputError, match="absurd"):
        load_notes(path)


def test_absurd_length():
    score = make_score(50)
    score.tracks[0].notes.append(symusic.Note(480 * 100_000, 10, 60, 64))  # 100,000 beats later
    with pytest.raises(MidiInputError, match="absurd timing"):
        load_notes(score)


def test_sustain_pedal_extends_sounding_duration_only():
    score = symusic.Score(480)
    track = symusic.Track("p", program=0)
    track.notes.append(symusic.Note(0, 100, 60, 64))  # released at 100, pedal down 50-1000
    track.notes.append(symusic.Note(2000, 100, 62, 64))  # no pedal
    track.controls.append(symusic.ControlChange(50, 64, 127))
    track.controls.append(symusic.ControlChange(1000, 64, 0))
    score.tracks.append(track)
    notes = load_notes(score)
    assert notes.duration_tick.tolist() == [100, 100]
    assert notes.sustained_duration_tick.tolist() == [1000, 100]


def test_too_many_tracks():
    score = symusic.Score(480)
    for i in range(1000):
        track = symusic.Track(f"t{i}", program=0)
        track.notes.append(symusic.Note(i, 10, 60, 64))
        score.tracks.append(track)
    with pytest.raises(MidiInputError, match="too many tracks"):
        load_notes(score)


def test_time_scale_reads_a_slower_rendition():
    """Training's tempo augmentation: every note, pedal and tempo change moves alike, so seconds,
    ticks and sounding durations all grow by the factor while pitches and velocities stay."""
    score = make_score(120, seed=3)
    plain, slow = load_notes(score), load_notes(score, time_scale=1.25)
    for key in ("pitch", "velocity", "track", "index"):
        np.testing.assert_array_equal(getattr(slow, key), getattr(plain, key))
    np.testing.assert_allclose(slow.onset_sec, plain.onset_sec * 1.25, atol=2e-3)
    for key in ("onset_tick", "duration_tick", "sustained_duration_tick"):  # in quarter notes (finer ticks)
        quarters = getattr(slow, key) / slow.ticks_per_quarter
        np.testing.assert_allclose(quarters, getattr(plain, key) / plain.ticks_per_quarter * 1.25, atol=1e-3)
    # A faster rendition never rounds two onsets onto one tick, which would reorder the notes.
    for t in range(3, 13):
        score.tracks[0].notes.append(symusic.Note(t, 5, 90 - t, 10 * t))  # a fast run, a tick apart
    plain, fast = load_notes(score), load_notes(score, time_scale=0.6)
    np.testing.assert_array_equal(fast.velocity, plain.velocity)
    assert np.all(np.diff(fast.onset_tick)[np.diff(plain.onset_tick) > 0] > 0)
    assert (slow.sustained_duration_tick > slow.duration_tick).any()  # the pedals moved with the notes
    with pytest.raises(ValueError, match="positive"):
        load_notes(score, time_scale=0)


def test_a_folder_or_a_wrong_type_is_named_as_such(tmp_path):
    with pytest.raises(MidiInputError, match="^a folder, not a MIDI file$"):
        load_notes(tmp_path)
    with pytest.raises(MidiInputError, match="^no such file$"):
        load_notes(tmp_path / "missing.mid")
    for wrong in (123, None, ["a.mid"]):
        with pytest.raises(TypeError, match="path, bytes or a symusic.Score"):
            load_notes(wrong)


def test_tracks_are_picked_by_index_or_name(midi_file):
    """What `--tracks` and the demo's picker take: an index as in the file's track list (the drum
    track, index 2, has no notes here) or a name in any case; anything else lists what there is."""
    notes = load_notes(midi_file)
    left = notes.track == 1
    assert tracks_with_notes(notes) == [(0, "right", int((~left).sum())), (1, "left", int(left.sum()))]
    for wanted in (["1"], [1], [" LEFT "], ["01", "left"]):
        np.testing.assert_array_equal(track_mask(notes, wanted), left)
    assert track_mask(notes, ["right", "1"]).all()
    for missing in ("2", "drums", "middle"):
        with pytest.raises(ValueError, match=rf"^no notes in a track '{missing}'; the tracks with notes: 0 'right' \("):
            track_mask(notes, ["0", missing])


def test_selection_by_time_and_track(midi_file):
    """What humanize and the demo hide: a passage in seconds (either end open), tracks, or both."""
    notes = load_notes(midi_file)
    assert selection_mask(notes) is None  # every note
    t, left = notes.onset_sec, notes.track == 1
    np.testing.assert_array_equal(selection_mask(notes, start=10), t >= 10)
    np.testing.assert_array_equal(selection_mask(notes, 5, 10), (t >= 5) & (t < 10))
    np.testing.assert_array_equal(selection_mask(notes, end=10, tracks=["left"]), (t < 10) & left)
    where = re.escape(f"(its notes start between {t[0]:.1f} and {t[-1]:.1f} s)")
    with pytest.raises(ValueError, match=rf"^no notes start before 0 s {where}$"):
        selection_mask(notes, end=0)
    with pytest.raises(ValueError, match="^the passage must start before it ends, not from 10 s to 5 s$"):
        selection_mask(notes, 10, 5)  # the demo's passage too, not only the CLI's --from/--to
    with pytest.raises(ValueError, match="^the passage's end must be a number of seconds, not nan$"):
        selection_mask(notes, end=float("nan"))
    with pytest.raises(ValueError, match="^no notes of the chosen tracks start in the chosen time range$"):
        selection_mask(notes, start=float(t[left].max()) + 0.001, tracks=[1])


def test_legato_holds_each_note_to_the_next_chord():
    """A score's articulation, for training (--legato): staccato chords, rolled 10 ms apart, come out
    each held to the next chord's first onset, the pedal-held length too; the last chord, which has
    no next, keeps its own; onsets, pitches and velocities stay, so the notes keep their order."""
    score = symusic.Score(480)
    track = symusic.Track("piano", program=0)
    for c, (start, length) in enumerate(((0, 60), (480, 120), (1440, 30), (1920, 200))):
        for j, pitch in enumerate((60, 64, 67)):
            track.notes.append(symusic.Note(start + 10 * j, length, pitch, 40 + 10 * c + j))
    track.controls.append(symusic.ControlChange(400, 64, 127))  # a pedal over the second chord's end
    track.controls.append(symusic.ControlChange(1400, 64, 0))
    score.tracks.append(track)
    played = load_notes(score)
    held = legato(played)
    for key in ("onset_tick", "onset_sec", "pitch", "velocity", "track", "index"):
        np.testing.assert_array_equal(getattr(held, key), getattr(played, key))
    next_chord = np.repeat([480, 1440, 1920], 3)
    np.testing.assert_array_equal(held.duration_tick[:9], next_chord - played.onset_tick[:9])
    np.testing.assert_array_equal(held.duration_tick[9:], played.duration_tick[9:])
    np.testing.assert_array_equal(held.sustained_duration_tick, held.duration_tick)
    assert (played.sustained_duration_tick[3:6] > played.duration_tick[3:6]).all()  # the pedal held them
    np.testing.assert_allclose(held.duration_sec[:3], 0.5 - played.onset_sec[:3])  # 480 ticks at 120 bpm


def test_take_picks_every_per_note_field_alike_and_keeps_the_score_level_ones(tmp_path):
    """Notes.take is how a subset or a reordering of notes is made (score copies, chords struck
    together); a field it forgot would pair one note's pitch with another's timing."""
    from dataclasses import fields, replace

    from velocity_bert.notes import PER_NOTE

    make_score(40, seed=5, drums=False).dump_midi(str(tmp_path / "a.mid"))
    notes = load_notes(tmp_path / "a.mid")
    picked = np.array([7, 3, 3, 0])
    taken = notes.take(picked)
    for field in fields(notes):
        value = getattr(notes, field.name)
        if field.name in PER_NOTE:
            assert np.array_equal(getattr(taken, field.name), value[picked]), field.name
        else:
            assert getattr(taken, field.name) is value, field.name
    assert len(taken) == 4 and replace(notes, sustained_duration_tick=None).take(picked).sustained_duration_tick is None
    per_note = {f.name for f in fields(notes) if isinstance(getattr(notes, f.name), np.ndarray)}
    assert per_note - {"bar_starts", "bar_beat_ticks"} == set(PER_NOTE)  # a new per-note field must be listed

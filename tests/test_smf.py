"""Velocities written back into a file's own bytes: nothing else in the file may change."""

import re

import numpy as np
import pytest
import symusic

from tests.conftest import smf_bytes
from velocity_bert import smf
from velocity_bert.notes import load_notes, patch_velocities, read_score


def sequencer_export() -> tuple[bytes, int]:
    """What symusic's writer loses: channels other than 0 and 9, system-exclusive, copyright and
    text events, aftertouch, a mid-track program change; with running status, a note that overlaps
    itself, a zero-length note, a note never released and a drum channel. Returns the bytes and
    how many notes symusic reads from them."""
    conductor = [
        (0, b"\xff\x51\x03" + (500_000).to_bytes(3, "big")),
        (0, b"\xff\x02\x06(c) me"),
        (0, b"\xf0\x05\x7e\x7f\x09\x01\xf7"),  # GM reset
    ]
    strings = [(0, b"\xff\x03\x07Strings"), (0, bytes([0xC3, 48])), (0, bytes([0xB3, 7, 90]))]
    for i in range(12):  # note-ons, then their note-offs as note-ons at velocity 0, in running status
        strings += [(0, bytes([0x93, 60 + i % 5, 40 + i])), (0, bytes([62 + i % 3, 50])), (120, bytes([60 + i % 5, 0]))]
        strings += [(0, bytes([62 + i % 3, 0])), (0, bytes([0xA3, 60, 10]))]  # poly aftertouch
    strings += [(0, bytes([0xC3, 49])), (0, bytes([0x93, 70, 99])), (240, bytes([0x83, 70, 0]))]  # new program
    piano = [(0, b"\xff\x01\x04text"), (0, bytes([0xC5, 0]))]
    piano += [(0, bytes([0x95, 50, 70])), (60, bytes([0x95, 50, 71])), (60, bytes([0x85, 50, 0]))]  # overlaps itself
    piano += [(60, bytes([0x85, 50, 0])), (0, bytes([0x95, 52, 72])), (0, bytes([0x85, 52, 0]))]  # zero length
    piano += [(0, bytes([0xD5, 30])), (0, bytes([0x95, 53, 73])), (10, bytes([0x95, 55, 74]))]  # 53: never off
    piano += [(100, bytes([0x85, 55, 0])), (0, bytes([0x99, 36, 100])), (50, bytes([0x89, 36, 0]))]
    data = smf_bytes([conductor, strings, piano])
    return data, 25 + 4 + 1  # strings; piano, less the unreleased note; the drum


def note_on_velocity_offsets(data: bytes) -> np.ndarray:
    return np.sort(np.concatenate([g["offset"] for g in smf.note_groups(data)]))


def test_scan_reads_the_notes_symusic_reads():
    data, count = sequencer_export()
    groups = smf.note_groups(data)
    score = symusic.Score.from_midi(data)
    assert sum(len(t.notes) for t in score.tracks) == sum(len(g) for g in groups) == count
    assert [len(t.notes) for t in score.tracks if len(t.notes)] == [len(g) for g in groups]
    for group in groups:  # each offset points at its note's velocity byte, after a pitch byte
        assert [data[o] for o in group["offset"]] == group["velocity"].tolist()
        assert [data[o - 1] for o in group["offset"]] == group["pitch"].tolist()


def test_only_velocity_bytes_change():
    data, _ = sequencer_export()
    notes = load_notes(read_score(data))
    new = np.random.default_rng(0).integers(1, 128, len(notes))
    out = patch_velocities(data, notes, new)
    assert len(out) == len(data)
    changed = np.flatnonzero(np.frombuffer(out, np.uint8) != np.frombuffer(data, np.uint8))
    assert np.isin(changed, note_on_velocity_offsets(data)).all()
    assert len(changed) == (new != notes.velocity).sum()
    np.testing.assert_array_equal(load_notes(read_score(out)).velocity, new)
    drums = [t for t in symusic.Score.from_midi(out).tracks if t.is_drum]
    assert [n.velocity for n in drums[0].notes] == [100]


def test_format_0_stays_format_0():
    track = [(0, bytes([0xC1, 40]))]
    for i in range(20):  # piano and violin on two channels of one track
        track += [(0, bytes([0x90, 60 + i % 12, 64])), (0, bytes([0x91, 70, 64]))]
        track += [(240, bytes([0x80, 60 + i % 12, 0])), (0, bytes([0x81, 70, 0]))]
    data = smf_bytes([track], fmt=0)
    notes = load_notes(read_score(data))
    new = np.arange(len(notes)) % 120 + 1
    out = patch_velocities(data, notes, new)
    assert out[8:10] == b"\x00\x00" and len(out) == len(data)
    np.testing.assert_array_equal(load_notes(read_score(out)).velocity, new)


def test_velocity_zero_is_not_written():
    """A note-on at velocity 0 is a note-off: a prediction of 0 must not end the note."""
    data, _ = sequencer_export()
    notes = load_notes(read_score(data))
    out = patch_velocities(data, notes, np.zeros(len(notes), dtype=int))
    assert (load_notes(read_score(out)).velocity == 1).all()


@pytest.mark.parametrize("cut", [20, 60])
def test_a_layout_the_scan_does_not_vouch_for_gives_none(cut):
    """A chunk that claims more bytes than the file holds (symusic may read what is there): the
    caller falls back to symusic's writer rather than patch bytes it has not understood."""
    data, _ = sequencer_export()
    short = data[: len(data) - cut]
    with pytest.raises(smf.SmfLayoutError):
        smf.note_groups(short)
    try:
        notes = load_notes(read_score(short))
    except ValueError:
        return  # symusic refuses it too
    assert patch_velocities(short, notes, notes.velocity) is None


def test_real_files_scan_as_symusic_reads_them(asap):
    """Every 25th ASAP file (all 1302 matched when this was written): the same notes, track by track."""
    for path in sorted(asap.rglob("*.mid"))[::25]:
        data = path.read_bytes()
        notes = load_notes(read_score(data))
        shifted = np.clip(notes.velocity + 5, 1, 127)
        out = patch_velocities(data, notes, shifted)
        assert out is not None, path
        np.testing.assert_array_equal(load_notes(read_score(out)).velocity, shifted)


INFO = b"LIST" + (4 + 8 + 6).to_bytes(4, "little") + b"INFO" + b"INAM" + (5).to_bytes(4, "little") + b"Song\0\0"


def riff_midi(data: bytes, before: bytes = b"", after: bytes = INFO) -> bytes:
    """A RIFF MIDI file (.rmi) as Windows writes it: the MIDI file in a 'data' chunk (padded to an
    even length), here with an INFO list (a title) after it and optionally a chunk before it."""
    body = before + b"data" + len(data).to_bytes(4, "little") + data + b"\0" * (len(data) & 1) + after
    return b"RIFF" + (4 + len(body)).to_bytes(4, "little") + b"RMID" + body


def test_riff_midi_reads_and_patches_the_file_inside():
    data, count = sequencer_export()
    other = b"junk" + (3).to_bytes(4, "little") + b"abc\0"  # an odd-sized chunk first: padding skipped
    rmi = riff_midi(data, before=other)
    span = smf.riff_midi_span(rmi)
    assert rmi[span] == data and smf.riff_midi_span(data) is None
    notes = load_notes(read_score(rmi))
    assert len(notes) == count - 1  # as from the bare file: the drum is not a note of ours
    np.testing.assert_array_equal(notes.velocity, load_notes(read_score(data)).velocity)
    new = np.random.default_rng(1).integers(1, 128, len(notes))
    out = patch_velocities(rmi, notes, new)
    assert len(out) == len(rmi) and out[: span.start] == rmi[: span.start] and out[span.stop :] == rmi[span.stop :]
    assert out[span] == patch_velocities(data, notes, new)  # the same bytes as patching the bare file
    np.testing.assert_array_equal(load_notes(read_score(out)).velocity, new)


def test_a_rewritten_riff_midi_keeps_its_wrapper_and_the_name_decides_the_container(tmp_path):
    from velocity_bert.notes import midi_bytes, save_midi

    data, _ = sequencer_export()
    junk = b"junk" + (3).to_bytes(4, "little") + b"abc\0"  # a chunk before the data chunk is kept too
    rmi = riff_midi(data, before=junk)
    score = read_score(rmi)
    score.tracks[1].notes[0].velocity = 1
    smf_out = score.dumps_midi()
    assert len(smf_out) != len(data)  # the rewrite changes the data chunk's size
    out = midi_bytes(score, container=rmi)
    assert out[:4] == b"RIFF" and int.from_bytes(out[4:8], "little") == len(out) - 8 and out.endswith(INFO)
    assert out[8:24] == b"RMID" + junk
    assert out[smf.riff_midi_span(out)] == smf_out
    assert midi_bytes(score, container=data) == smf_out == midi_bytes(score)
    save_midi(out, tmp_path / "a.mid")  # a .mid name gets a bare MIDI file, what players expect
    save_midi(data, tmp_path / "b.rmi")  # and a .rmi name a RIFF MIDI one
    save_midi(out, tmp_path / "c.RMI")
    assert (tmp_path / "a.mid").read_bytes() == smf_out
    wrapped = (tmp_path / "b.rmi").read_bytes()
    assert wrapped[:4] == b"RIFF" and wrapped[smf.riff_midi_span(wrapped)] == data
    assert (tmp_path / "c.RMI").read_bytes() == out
    assert len(load_notes(read_score(tmp_path / "b.rmi"))) == len(load_notes(read_score(data)))


@pytest.mark.parametrize(
    "data, says",
    [
        (b"RIFF\x24\0\0\0WAVEfmt ", "a RIFF file, but not RIFF MIDI (no RMID data chunk)"),
        (riff_midi(b"")[: -len(INFO) - 8] + INFO, "a RIFF file, but not RIFF MIDI (no RMID data chunk)"),
        (riff_midi(b"not midi"), "not a MIDI file (no MThd header)"),
        (riff_midi(sequencer_export()[0])[:60], "unreadable MIDI file"),
    ],
)
def test_a_riff_file_that_is_not_usable_midi_says_why(data, says, tmp_path):
    from velocity_bert.notes import MidiInputError

    path = tmp_path / "x.rmi"
    path.write_bytes(data)
    for source in (data, path):
        with pytest.raises(MidiInputError, match=f"^{re.escape(says)}"):
            read_score(source)

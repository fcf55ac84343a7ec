"""Where each note's velocity byte lies in a Standard MIDI File, so velocities can be written back
by changing those bytes and nothing else.

Hand-written because no library we use does it: symusic (and mido, pretty_midi) rebuild a file
when they write it, and symusic's writer renumbers channels, drops system-exclusive messages,
copyright and other text events, aftertouch and mid-track program changes. A user's file should
come back as it came in, but for velocities. Only notes.py imports this module.

The scan pairs note-ons with note-offs the way symusic's reader does (first in, first out per
channel and pitch, a note-off at its note-on's own tick making a zero-length note; a note still on at the
end of its track chunk is dropped) and groups them as symusic groups notes into tracks (track
chunk, then channel, then the program at the note-off), so notes.py can check the result against
symusic's own reading before trusting it, and falls back to symusic's writer when they differ.
"""

from __future__ import annotations

from collections import deque

import numpy as np

# Data bytes after a channel status byte (high nibble 0x8-0xE).
_DATA_BYTES = {0x8: 2, 0x9: 2, 0xA: 2, 0xB: 2, 0xC: 1, 0xD: 1, 0xE: 2}
FIELDS = ("time", "duration", "pitch", "velocity", "offset")


class SmfLayoutError(ValueError):
    """The bytes are not laid out as this scan expects; the caller writes through symusic instead."""


def _varlen(data: bytes, pos: int, end: int) -> tuple[int, int]:
    value = 0
    for _ in range(4):
        if pos >= end:
            raise SmfLayoutError("variable-length number runs past its chunk")
        byte = data[pos]
        pos += 1
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            return value, pos
    raise SmfLayoutError("variable-length number longer than 4 bytes")


def _scan_track(data: bytes, pos: int, end: int) -> list[np.ndarray]:
    """One MTrk chunk's notes, one structured array per (channel, program) group, in that order."""
    tick, status = 0, None
    program = [0] * 16
    queues: dict[tuple[int, int], deque] = {}
    groups: dict[tuple[int, int], list] = {}
    while pos < end:
        delta, pos = _varlen(data, pos, end)
        tick += delta
        if pos >= end:
            raise SmfLayoutError("event runs past its chunk")
        first = data[pos]
        if first == 0xFF:  # meta: type, length, data
            length, pos = _varlen(data, pos + 2, end)
            pos += length
            continue
        if first in (0xF0, 0xF7):  # system exclusive: length, data
            length, pos = _varlen(data, pos + 1, end)
            pos += length
            continue
        if first >= 0x80:
            if first >= 0xF0:
                raise SmfLayoutError(f"system message 0x{first:02X} in a file")
            status, pos = first, pos + 1
        elif status is None:
            raise SmfLayoutError("running status before any status byte")
        kind, channel = status >> 4, status & 0x0F
        if pos + _DATA_BYTES[kind] > end:
            raise SmfLayoutError("event runs past its chunk")
        if kind == 0xC:
            program[channel] = data[pos]
        elif kind in (0x8, 0x9):
            pitch, velocity = data[pos], data[pos + 1]
            if kind == 0x9 and velocity:
                queues.setdefault((channel, pitch), deque()).append((tick, velocity, pos + 1))
            else:  # note-off, or note-on at velocity 0
                notes = groups.setdefault((channel, program[channel]), [])
                queue = queues.get((channel, pitch))
                if queue:  # ticks never decrease, so the front note started at or before now
                    start, vel, offset = queue.popleft()
                    notes.append((start, tick - start, pitch, vel, offset))
        pos += _DATA_BYTES[kind]
    dtype = [(f, np.int64) for f in FIELDS]
    return [np.array(groups[key], dtype=dtype) for key in sorted(groups) if groups[key]]


def note_groups(data: bytes) -> list[np.ndarray]:
    """Every note of the file as symusic reads it, one structured array (time, duration, pitch,
    velocity, offset of the velocity byte) per track symusic makes from it, tracks without notes
    left out. Raises SmfLayoutError for anything unexpected."""
    if len(data) < 14 or data[:4] != b"MThd":
        raise SmfLayoutError("no MThd header")
    pos = 8 + int.from_bytes(data[4:8], "big")
    tracks: list[np.ndarray] = []
    while pos + 8 <= len(data):
        kind, length = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "big")
        start, end = pos + 8, pos + 8 + length
        if end > len(data):
            raise SmfLayoutError("a chunk runs past the end of the file")
        if kind == b"MTrk":
            tracks.extend(_scan_track(data, start, end))
        pos = end
    return tracks


def riff_midi_span(data: bytes) -> slice | None:
    """Where the Standard MIDI File lies inside a RIFF MIDI file (.rmi: 'RIFF', size, 'RMID', then
    chunks, the 'data' chunk holding the SMF; Windows writes them, Microsoft's RIFF MIDI spec), or
    None for anything that is not RIFF MIDI. A truncated data chunk gives what is there, and the
    SMF reader then says it is truncated. Hand-written: symusic reads only bare SMF."""
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"RMID":
        return None
    pos = 12
    while pos + 8 <= len(data):
        kind, size = data[pos : pos + 4], int.from_bytes(data[pos + 4 : pos + 8], "little")
        if kind == b"data":
            return slice(pos + 8, min(pos + 8 + size, len(data)))
        pos += 8 + size + (size & 1)  # RIFF chunks are padded to an even length
    return None


def riff_midi(smf: bytes, container: bytes | None = None) -> bytes:
    """A RIFF MIDI file holding `smf`: `container`'s (a RIFF MIDI file's) data chunk replaced, its
    other chunks (the INFO list: title, copyright) kept and the sizes updated; or, without one, a
    wrapper with the data chunk alone."""
    before = after = b""
    if container is not None:
        span = riff_midi_span(container)
        if span is None:
            raise ValueError("not a RIFF MIDI file")
        old_size = int.from_bytes(container[span.start - 4 : span.start], "little")
        before, after = container[12 : span.start - 8], container[span.start + old_size + (old_size & 1) :]
    body = before + b"data" + len(smf).to_bytes(4, "little") + smf + b"\0" * (len(smf) & 1) + after
    return b"RIFF" + (4 + len(body)).to_bytes(4, "little") + b"RMID" + body

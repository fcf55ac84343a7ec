"""How humanized files are written back: in place (only velocity bytes change) or through symusic.

    python benchmarks/write_back.py [--data ../shared/data/asap] [--json benchmarks/results/write_back.json]

For every MIDI file under --data: whether notes.patch_velocities can write it in place (its scan of
the file agrees with symusic's reading), the seconds it takes against symusic's own writer, and
whether the patched file reads back with exactly the new velocities and differs from the input
nowhere else. Velocities are the input's plus 5 (clipped), so every note-on byte changes.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from velocity_bert.notes import MIDI_SUFFIXES, load_notes, patch_velocities, read_score, write_velocities


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="../shared/data/asap", help="a folder of MIDI files (searched recursively)")
    parser.add_argument("--json", default=None, help="also write the numbers here")
    args = parser.parse_args()
    files = sorted(p for p in Path(args.data).rglob("*") if p.suffix.lower() in MIDI_SUFFIXES)
    in_place, fallback, wrong, notes_total = 0, [], [], 0
    t_patch = t_symusic = 0.0
    for path in files:
        data = path.read_bytes()
        notes = load_notes(read_score(data))
        new = np.clip(notes.velocity + 5, 1, 127)
        notes_total += len(notes)
        start = time.perf_counter()
        out = patch_velocities(data, notes, new)
        t_patch += time.perf_counter() - start
        start = time.perf_counter()
        write_velocities(data, notes, new).dumps_midi()
        t_symusic += time.perf_counter() - start
        if out is None:
            fallback.append(str(path))
            continue
        in_place += 1
        same_elsewhere = len(out) == len(data) and (
            np.count_nonzero(np.frombuffer(out, np.uint8) != np.frombuffer(data, np.uint8))
            == (new != notes.velocity).sum()
        )
        if not (same_elsewhere and np.array_equal(load_notes(read_score(out)).velocity, new)):
            wrong.append(str(path))
    report = {
        "files": len(files),
        "notes": notes_total,
        "written_in_place": in_place,
        "through_symusic": fallback,
        "in_place_but_wrong": wrong,
        "seconds_in_place": round(t_patch, 2),
        "seconds_symusic_writer": round(t_symusic, 2),
        "microseconds_per_note_in_place": round(1e6 * t_patch / max(notes_total, 1), 2),
    }
    print(json.dumps(report, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()

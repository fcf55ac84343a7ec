"""Build the bundled example: Scott Joplin's Maple Leaf Rag (1899, public domain) from music21's
corpus, written as a flat MIDI (every velocity 64), as a notation program would export it.

    pip install music21 && python examples/make_example.py
"""

import sys
from pathlib import Path

import symusic

try:
    from music21 import corpus  # the score's source; not a dependency of the package
except ImportError:
    sys.exit("make_example.py needs music21: pip install music21")

# Inside the package, so the demo offers it after a plain `pip install` too.
OUT = Path(__file__).resolve().parents[1] / "velocity_bert" / "examples" / "maple_leaf_rag_flat.mid"

score = corpus.parse("joplin/maple_leaf_rag")
tmp = OUT.with_suffix(".music21.mid")
score.write("midi", fp=str(tmp))
midi = symusic.Score(str(tmp))
for track in midi.tracks:
    for note in track.notes:
        note.velocity = 64
midi.dump_midi(str(OUT))
tmp.unlink()
print(OUT, sum(len(t.notes) for t in midi.tracks), "notes")

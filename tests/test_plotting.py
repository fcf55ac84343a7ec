import numpy as np
import pytest

import velocity_bert as vb
from tests.conftest import make_score
from velocity_bert.plotting import piano_roll, velocity_curve

MAGIC = {"png": b"\x89PNG", "svg": b"<?xml", "pdf": b"%PDF", "jpg": b"\xff\xd8\xff"}


@pytest.mark.parametrize(
    "name, kind",
    [
        ("roll.png", "png"),
        ("roll.svg", "svg"),
        ("roll.PDF", "pdf"),
        ("roll.jpg", "jpg"),
        ("roll", "png"),
        ("roll.mid.v2", "png"),
    ],
)
@pytest.mark.parametrize("draw", [piano_roll, velocity_curve])
def test_image_format_follows_the_name_and_nothing_else_is_left(draw, name, kind, tmp_path):
    score = make_score(40, seed=1)
    score.dump_midi(str(tmp_path / "a.mid"))
    notes = vb.load_notes(tmp_path / "a.mid")
    draw(notes, notes.velocity, np.full(len(notes), 64), tmp_path / name)
    assert (tmp_path / name).read_bytes()[: len(MAGIC[kind])] == MAGIC[kind]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["a.mid", name])  # no temporary file

import json

import miditok
import numpy as np
import pytest

from velocity_bert import VelocityBertTokenizer, load_notes, write_velocities
from velocity_bert.tokenization_velocity_bert import (
    FIELDS,
    MARKING,
    MASK_ID,
    MAX_BARS,
    NUM_VELOCITIES,
    PAD_ID,
    TOKENIZER_FILE,
    VELOCITY,
    _octuple,
)


def test_one_token_per_note_in_vocab(midi_file):
    tok = VelocityBertTokenizer()
    notes = load_notes(midi_file)
    ids = tok.encode(notes)
    assert ids.shape == (len(notes), len(FIELDS))
    window = tok.window(ids, 10, 74)
    assert window.shape == (64, len(FIELDS))
    assert np.all(window >= 4) and np.all(window < np.array(tok.field_vocab_sizes))
    assert window[0, FIELDS.index("bar")] == tok.window(ids, 10, 11)[0, FIELDS.index("bar")]  # relative bars


def test_onset_grid_orders_notes_as_their_onsets(midi_file):
    """The grid a rotary_onset model reads its positions from: nondecreasing along the notes of a
    window, and one position for notes that start together."""
    tok = VelocityBertTokenizer()
    notes = load_notes(midi_file)
    grid = tok.onset_grid
    window = tok.window(tok.encode(notes), 0, 300)
    onset = (window[:, grid["bar_field"]] - grid["grid_token_offset"]) * grid["positions_per_bar"] + (
        window[:, grid["position_field"]] - grid["grid_token_offset"]
    )
    assert np.all(np.diff(onset) >= 0) and onset[-1] > onset[0]
    together = np.diff(notes.onset_tick[:300]) == 0
    assert together.any() and np.all(np.diff(onset)[together] == 0)


def test_velocity_levels_are_miditoks():
    tok = VelocityBertTokenizer()
    reference = miditok.Octuple(miditok.TokenizerConfig(use_velocities=True, num_velocities=32))
    assert list(tok.velocities) == list(np.linspace(0, 127, 33, dtype=int)[1:]) == list(reference.velocities)
    levels = tok.velocity_to_level(np.arange(1, 128))
    assert list(tok.level_to_velocity(levels[[0, 3, 4, 7, 8, 124, 126]])) == [3, 3, 7, 7, 11, 127, 127]
    assert tok.level_to_velocity(tok.velocity_to_level(tok.velocities)).tolist() == tok.velocities.tolist()


def test_level_bounds_tile_the_velocity_line():
    tok = VelocityBertTokenizer()
    lo, hi = tok.level_bounds()
    assert lo[0] == 0.5 and hi[-1] == 127.5 and np.array_equal(lo[1:], hi[:-1])
    assert np.all((lo <= tok.velocities) & (tok.velocities <= hi))
    velocity = np.arange(1, 128)
    level = tok.velocity_to_level(velocity)
    assert np.all((lo[level] < velocity) & (velocity < hi[level]))


def test_velocity_is_the_only_field_that_depends_on_velocity(midi_file):
    tok = VelocityBertTokenizer()
    notes = load_notes(midi_file)
    louder = np.clip(notes.velocity + 30, 1, 127)
    loud = load_notes(write_velocities(midi_file, notes, louder))
    ids, ids2 = tok.encode(notes), tok.encode(loud)
    assert (ids[:, -1] != ids2[:, -1]).any()
    v = FIELDS.index("velocity")
    np.testing.assert_array_equal(np.delete(ids, v, axis=1), np.delete(ids2, v, axis=1))
    assert MASK_ID not in ids[:, v]


def test_save_load_round_trip(tmp_path, midi_file):
    tok = VelocityBertTokenizer(shift_bins_ms=(0, 20, 100, 1000))
    path = tok.save_pretrained(tmp_path)
    assert path.name == TOKENIZER_FILE != "tokenizer.json"
    saved = json.loads(path.read_text())
    assert saved["miditok_version"] and saved["velocity_bert"]["symusic_version"]
    loaded = VelocityBertTokenizer.from_pretrained(tmp_path)
    assert loaded.field_vocab_sizes == tok.field_vocab_sizes
    assert loaded == tok != VelocityBertTokenizer()
    notes = load_notes(midi_file)
    np.testing.assert_array_equal(loaded.encode(notes), tok.encode(notes))


def test_equal_means_the_same_ids_under_the_same_sizes():
    """Each of these keeps every vocabulary size and still changes some note's ids."""
    base = VelocityBertTokenizer()
    assert base == VelocityBertTokenizer()
    lo, hi = base.pitch_range
    for other in (
        VelocityBertTokenizer(shift_bins_ms=tuple(x + 1 for x in base.shift_bins_ms)),
        VelocityBertTokenizer(sustain_pedal=True),
        VelocityBertTokenizer(miditok_tokenizer=_octuple(NUM_VELOCITIES, MAX_BARS, pitch_range=(lo + 1, hi + 1))),
    ):
        assert other.field_vocab_sizes == base.field_vocab_sizes and other != base


def test_real_files(asap):
    tok = VelocityBertTokenizer()
    for path in sorted(asap.rglob("*.mid"))[::150]:
        notes = load_notes(path)
        ids = tok.encode(notes)
        assert len(ids) == len(notes)
        np.testing.assert_array_equal(
            tok.level_to_velocity(ids[:, -1] - 4), tok.level_to_velocity(tok.velocity_to_level(notes.velocity))
        )


def test_sustain_pedal_option_round_trips(tmp_path):
    import symusic

    score = symusic.Score(480)
    track = symusic.Track("p", program=0)
    track.notes.append(symusic.Note(0, 60, 60, 64))
    track.controls.append(symusic.ControlChange(30, 64, 127))
    track.controls.append(symusic.ControlChange(1920, 64, 0))
    score.tracks.append(track)
    notes = load_notes(score)
    d = FIELDS.index("duration")
    plain, pedal = VelocityBertTokenizer(), VelocityBertTokenizer(sustain_pedal=True)
    assert pedal.encode(notes)[0, d] > plain.encode(notes)[0, d]
    pedal.save_pretrained(tmp_path)
    assert VelocityBertTokenizer.from_pretrained(tmp_path).sustain_pedal is True


def test_marking_field_is_a_seventh_column_that_round_trips(tmp_path, midi_file):
    """A tokenizer with markings adds the score's marking on the velocity levels after the six
    fields (whose columns stay where they were); without markings known, it holds PAD."""
    notes = load_notes(midi_file)
    plain, marked = VelocityBertTokenizer(), VelocityBertTokenizer(markings=True)
    assert marked.fields == (*FIELDS, "marking") and marked.field_vocab_sizes[:6] == plain.field_vocab_sizes
    assert marked.field_vocab_sizes[MARKING] == plain.field_vocab_sizes[VELOCITY] and marked != plain
    markings = np.where(np.arange(len(notes)) % 2, 49, 96)
    ids = marked.encode(notes, markings)
    np.testing.assert_array_equal(ids[:, :MARKING], plain.encode(notes))
    np.testing.assert_array_equal(ids[:, MARKING], marked.velocity_token(marked.velocity_to_level(markings)))
    assert (marked.encode(notes)[:, MARKING] == PAD_ID).all()
    with pytest.raises(ValueError, match="no marking field"):
        plain.encode(notes, markings)
    marked.save_pretrained(tmp_path)
    loaded = VelocityBertTokenizer.from_pretrained(tmp_path)
    assert loaded == marked and loaded.markings
    np.testing.assert_array_equal(loaded.encode(notes, markings), ids)

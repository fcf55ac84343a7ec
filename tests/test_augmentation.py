import numpy as np

from tests.conftest import make_score
from velocity_bert import VelocityBertTokenizer, load_notes
from velocity_bert.augmentation import PITCH, VELOCITY, Compose, HideMarkings, Loudness, StrikeTogether, Transpose
from velocity_bert.masking import MaskingCollator, MaskingMix
from velocity_bert.tokenization_velocity_bert import FIELDS, MARKING, PAD_ID


def window(tok, pitches):
    ids = np.full((len(pitches), len(FIELDS)), 7, dtype=np.int16)
    lo, _ = tok.pitch_token_range
    ids[:, PITCH] = lo + np.asarray(pitches) - tok.pitch_range[0]
    return ids


def test_pitch_ids_are_one_per_semitone():
    tok = VelocityBertTokenizer()
    lo, hi = tok.pitch_token_range
    assert hi - lo == tok.pitch_range[1] - 1 - tok.pitch_range[0]


def test_transpose_shifts_pitches_only_and_clamps():
    tok = VelocityBertTokenizer()
    lo, hi = tok.pitch_token_range
    ids = window(tok, [21, 60, 64, 108])
    shifts = set()
    for seed in range(40):
        out = Transpose(3, (lo, hi))(ids, np.random.default_rng(seed))
        assert out.dtype == np.int64 and ids.dtype == np.int16  # a new array, the window untouched
        np.testing.assert_array_equal(np.delete(out, PITCH, axis=1), np.delete(ids, PITCH, axis=1))
        shift = int(out[1, PITCH] - ids[1, PITCH])
        shifts.add(shift)
        assert out[2, PITCH] - ids[2, PITCH] == shift
        assert lo <= out[:, PITCH].min() and out[:, PITCH].max() <= hi
    assert shifts == set(range(-3, 4))
    np.testing.assert_array_equal(Transpose(0, (lo, hi))(ids, np.random.default_rng(0)), ids)


def test_collator_transposes_training_windows_not_fixed_ones():
    tok = VelocityBertTokenizer()
    ids = window(tok, np.arange(50, 90))
    levels = np.arange(40) % 32
    ids[:, FIELDS.index("velocity")] = levels + 4
    collate = MaskingCollator(seed=0, augment=Transpose(5, tok.pitch_token_range))
    moved = [collate([{"input_ids": ids, "levels": levels}])["input_ids"][0, :, PITCH].numpy() for _ in range(20)]
    assert any((m != ids[:, PITCH]).any() for m in moved)
    fixed = collate([{"input_ids": ids, "levels": levels, "labels": levels}])["input_ids"][0, :, PITCH]
    np.testing.assert_array_equal(fixed, ids[:, PITCH])


LEVELS = (4, 35)  # velocity ids of level 0 and level 31


def test_loudness_moves_velocities_only_within_the_level_range():
    tok = VelocityBertTokenizer()
    ids = window(tok, np.arange(50, 90))
    ids[:, VELOCITY] = 4 + np.r_[np.arange(0, 32), np.full(8, 16)]
    changed = 0
    for seed in range(60):
        out = Loudness(3, 0.3, LEVELS, p=0.5)(ids, np.random.default_rng(seed))
        assert out.dtype == np.int64 and ids.dtype == np.int16
        np.testing.assert_array_equal(np.delete(out, VELOCITY, axis=1), np.delete(ids, VELOCITY, axis=1))
        assert LEVELS[0] <= out[:, VELOCITY].min() and out[:, VELOCITY].max() <= LEVELS[1]
        # One monotone map for the whole window: louder notes stay at least as loud.
        order = np.argsort(ids[:, VELOCITY], kind="stable")
        assert np.all(np.diff(out[order, VELOCITY]) >= 0)
        changed += bool((out != ids).any())
    assert 10 < changed < 50  # about half the windows (p=0.5), the rest untouched


def test_loudness_shift_alone_is_a_constant_offset():
    ids = np.full((10, len(FIELDS)), 7, dtype=np.int16)
    ids[:, VELOCITY] = 4 + np.arange(10, 20)
    offsets = set()
    for seed in range(40):
        out = Loudness(2, 0.0, LEVELS, p=1.0)(ids, np.random.default_rng(seed))
        delta = out[:, VELOCITY] - ids[:, VELOCITY]
        assert len(set(delta)) == 1
        offsets.add(int(delta[0]))
    assert offsets == {-2, -1, 0, 1, 2}


def test_collator_labels_follow_a_loudness_change():
    tok = VelocityBertTokenizer()
    ids = window(tok, np.arange(50, 90))
    levels = np.full(40, 16)
    ids[:, VELOCITY] = levels + 4
    collate = MaskingCollator(
        seed=0, augment=Compose([Transpose(2, tok.pitch_token_range), Loudness(4, 0.0, LEVELS, p=1.0)])
    )
    seen = set()
    for _ in range(30):
        batch = collate([{"input_ids": ids, "levels": levels}])
        labels = batch["labels"][0].numpy()
        hidden = labels != -100
        visible = batch["input_ids"][0, ~hidden, VELOCITY].numpy()
        # Every note of the window had level 16; after the shift the answers and what stays
        # visible agree on the new level.
        assert len(set(labels[hidden])) == 1
        if len(visible):
            assert set(visible - 4) == set(labels[hidden])
        seen.add(int(labels[hidden][0]))
    assert len(seen) > 3


def test_loudness_min_visible_spares_windows_without_enough_context():
    ids = np.full((20, len(FIELDS)), 7, dtype=np.int16)
    ids[:, VELOCITY] = 4 + np.arange(5, 25)
    louder = Loudness(4, 0.3, LEVELS, p=1.0, min_visible=0.5)
    few_hidden = np.arange(20) < 5  # 75% visible: augmented
    most_hidden = np.arange(20) < 15  # 25% visible: left as recorded
    changed = [bool((louder(ids, np.random.default_rng(s), few_hidden) != ids).any()) for s in range(20)]
    assert sum(changed) > 10
    for s in range(20):
        np.testing.assert_array_equal(louder(ids, np.random.default_rng(s), most_hidden), ids)
        np.testing.assert_array_equal(louder(ids, np.random.default_rng(s), np.ones(20, bool)), ids)


def test_collator_keeps_recorded_answers_for_whole_hidden_windows():
    tok = VelocityBertTokenizer()
    ids = window(tok, np.arange(50, 90))
    levels = np.arange(40) % 32
    ids[:, VELOCITY] = levels + 4
    spare = Loudness(4, 0.3, LEVELS, p=1.0, min_visible=0.5)
    every = MaskingCollator(MaskingMix(random=0, span=0, ratio=0, all=1), seed=0, augment=spare)
    few = MaskingCollator(MaskingMix(random=1, span=0, ratio=0, all=0), seed=0, augment=spare)
    for _ in range(10):
        np.testing.assert_array_equal(every([{"input_ids": ids, "levels": levels}])["labels"][0].numpy(), levels)
    moved = [few([{"input_ids": ids, "levels": levels}])["labels"][0].numpy() for _ in range(10)]
    assert any(((m != -100) & (m != levels)).any() for m in moved)


def test_strike_together_writes_a_rolled_chord_as_a_score_has_it(tmp_path):
    """Rolled chords (loudest first, 10 ms apart) come out as the same chords written struck at
    once: every field equal to the tokenized score's, each velocity still on its own pitch."""
    import symusic

    from velocity_bert import load_notes

    tok = VelocityBertTokenizer()
    files = {}
    for name, roll in (("rolled", 10), ("score", 0)):
        score = symusic.Score(480)
        track = symusic.Track("piano", program=0)
        for c in range(20):  # a chord every 720 ticks (750 ms at 120 bpm), notes 10.4 ms apart
            for j, (pitch, velocity) in enumerate(((72, 90), (64, 60), (60, 40))):
                track.notes.append(symusic.Note(c * 720 + roll * j, 60, pitch, velocity - c))
        score.tracks.append(track)
        score.dump_midi(str(tmp_path / f"{name}.mid"))
        files[name] = tok.encode(load_notes(tmp_path / f"{name}.mid"))
    strike = StrikeTogether(tok.shift_ids_within(20), p=1.0)
    out = strike(files["rolled"], np.random.default_rng(0))
    assert (files["rolled"] != files["score"]).any()
    np.testing.assert_array_equal(out, files["score"])
    np.testing.assert_array_equal(
        StrikeTogether(tok.shift_ids_within(20), p=0.0)(files["rolled"], np.random.default_rng(0)), files["rolled"]
    )
    assert tok.shift_ids_within(20) == (4, 5, 6)  # the 0, 10 and 20 ms bins


def test_hide_markings_blanks_a_share_of_windows_markings_only():
    tok = VelocityBertTokenizer(markings=True)
    notes = load_notes(make_score(40, seed=3))
    ids = tok.encode(notes, markings=np.full(len(notes), 96))
    hide, rng = HideMarkings(p=0.4), np.random.default_rng(0)
    hidden = 0
    for _ in range(500):
        out = hide(ids, rng)
        np.testing.assert_array_equal(out[:, :MARKING], ids[:, :MARKING])
        assert (out[:, MARKING] == PAD_ID).all() or np.array_equal(out, ids)
        hidden += (out[:, MARKING] == PAD_ID).all()
    assert 0.33 < hidden / 500 < 0.47
    six = VelocityBertTokenizer().encode(notes)  # a window without the field is left alone
    np.testing.assert_array_equal(HideMarkings(p=1.0)(six, rng), six)

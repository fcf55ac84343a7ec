import numpy as np

from velocity_bert import VelocityBertTokenizer
from velocity_bert.augmentation import PITCH, Transpose
from velocity_bert.masking import MaskingCollator
from velocity_bert.tokenization_velocity_bert import FIELDS


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

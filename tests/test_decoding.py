"""decoding.py through the pipeline that users call: windows over a piece, mask-predict passes,
point estimates, sampling."""

from dataclasses import replace

import numpy as np
import pytest
import torch

import velocity_bert as vb
from tests.conftest import SURE_LEVEL, make_score, marked_score, score_with_slips, sure_distribution, tiny_config
from velocity_bert.decoding import (
    DYNAMICS_SIGMA_S,
    MARKING_TO_PLAYED,
    SURPRISE_ROUNDS,
    DecodingOptions,
    interpolated_median,
    local_mean,
    note_surprise,
    predict_levels,
)


def test_low_temperature_samples_the_mode(pipe, midi_file):
    """Sampling sharpens toward the most likely level instead of underflowing to NaN."""
    cold = pipe(str(midi_file), sample=True, seed=1, temperature=1e-4)["velocities"]
    assert cold == pipe(str(midi_file), estimate="mode")["velocities"]


def test_long_piece_uses_many_windows(pipe):
    score = make_score(700, seed=3)
    out = pipe(score, passes=3)
    assert len(out["velocities"]) == len(vb.load_notes(score))


@pytest.mark.parametrize("estimate", ["median", "mean"])
def test_point_estimates(pipe, midi_file, estimate):
    notes = vb.load_notes(midi_file)
    out = np.asarray(pipe(str(midi_file), estimate=estimate)["velocities"])
    assert len(out) == len(notes) and out.min() >= 1 and out.max() <= 127
    # Both are estimates on the velocity line, not level values (the old median was a level's).
    assert not set(out.tolist()) <= set(vb.VelocityBertTokenizer().velocities.tolist())
    with pytest.raises(ValueError, match="estimate"):
        pipe(str(midi_file), estimate="average")


def test_default_estimate_is_the_median_and_mode_plays_levels(pipe, midi_file):
    default = pipe(str(midi_file))["velocities"]
    assert default == pipe(str(midi_file), estimate="median")["velocities"]
    mode = pipe(str(midi_file), estimate="mode")["velocities"]
    assert mode != default and set(mode) <= set(vb.VelocityBertTokenizer().velocities.tolist())


def test_median_is_interpolated_within_its_level():
    tok = vb.VelocityBertTokenizer()
    lo, hi = tok.level_bounds()
    probs = np.zeros((3, tok.num_velocities))
    probs[0, 5] = 1.0  # all mass on one level: the middle of its stretch
    probs[1, [4, 5, 6]] = [0.25, 0.5, 0.25]  # symmetric: the same middle
    probs[2, [4, 5]] = [0.45, 0.55]  # the 0.5 quantile sits just inside level 5
    out = interpolated_median(probs, lo, hi)
    middle = (lo[5] + hi[5]) / 2
    assert out[0] == pytest.approx(middle) and out[1] == pytest.approx(middle)
    assert out[2] == pytest.approx(lo[5] + (0.05 / 0.55) * (hi[5] - lo[5]))
    # Velocities drawn from such a distribution: the interpolated median errs less than the level's.
    rng = np.random.default_rng(0)
    level = rng.choice(tok.num_velocities, size=20000, p=probs[2])
    true = rng.uniform(lo[level], hi[level])
    assert np.abs(true - out[2]).mean() < np.abs(true - tok.velocities[5]).mean()


def _windows_run(pipe, score, **kwargs) -> int:
    """How many windows the model encodes for one call (a forward hook counts batch rows)."""
    rows = []
    handle = pipe.model.register_forward_hook(
        lambda m, args, kw, out: rows.append(kw["input_ids"].shape[0]), with_kwargs=True
    )
    try:
        pipe(score, **kwargs)
    finally:
        handle.remove()
    return sum(rows)


def test_passes_cost_one_encoder_run_each(pipe):
    score = make_score(700, seed=3)
    n = len(vb.load_notes(score))
    windows = len(vb.decoding.window_starts(n, pipe.model.config.window_length, pipe.model.config.window_overlap))
    assert _windows_run(pipe, score) == windows  # default: one pass
    assert _windows_run(pipe, score, passes=3) == 3 * windows
    mask = np.random.default_rng(0).random(n) < 0.15  # spread over the piece: every window owns some
    # The second pass skips windows that own no note still hidden.
    assert windows < _windows_run(pipe, score, mask=mask, passes=2) <= 2 * windows


def test_overlap_option(pipe):
    score = make_score(700, seed=3)
    assert _windows_run(pipe, score, passes=1, overlap=0) < _windows_run(pipe, score, passes=1)
    out = pipe(score, overlap=0)
    assert len(out["velocities"]) == len(vb.load_notes(score))
    with pytest.raises(ValueError, match="overlap"):
        pipe(score, overlap=pipe.model.config.window_length)


def test_windows_combine(pipe):
    short = make_score(30, seed=1)
    assert len(vb.load_notes(short)) <= pipe.model.config.window_length  # one window: nothing to combine
    assert pipe(short, combine="owner")["velocities"] == pipe(short, combine="mean")["velocities"]
    score = make_score(700, seed=3)
    owner = pipe(score, passes=1, combine="owner")["velocities"]
    assert pipe(score, passes=1, combine="mean")["velocities"] != owner  # overlapping windows vote
    with pytest.raises(ValueError, match="combine"):
        pipe(score, combine="max")


def test_local_mean_is_the_gaussian_weighted_mean():
    rng = np.random.default_rng(0)
    onsets = np.sort(rng.uniform(0, 60, 500))
    onsets[100:110] = onsets[100]  # a chord: notes that share an onset share their local mean
    values = rng.uniform(20, 110, 500)
    weights = np.exp(-0.5 * ((onsets[:, None] - onsets[None]) / 2.0) ** 2)
    assert local_mean(onsets, values, 2.0) == pytest.approx(weights @ values / weights.sum(1), abs=0.15)
    assert local_mean(np.array([0.0, 1e6]), np.array([10.0, 30.0]), 2.0).tolist() == [10.0, 30.0]  # far apart
    near = np.exp(-0.5 * (0.5 / 2.0) ** 2)  # a file shorter than the kernel
    assert local_mean(np.array([0.0, 0.5]), np.array([10.0, 30.0]), 2.0) == pytest.approx(
        [(10 + near * 30) / (1 + near), (near * 10 + 30) / (1 + near)]
    )


def test_keep_dynamics_takes_the_level_from_the_markings_and_the_shape_from_the_model(pipe):
    score = marked_score()
    notes = vb.load_notes(score)
    intercept, slope = MARKING_TO_PLAYED
    played = intercept + slope * notes.velocity  # each marking as a pianist plays it
    # Sampled (the same levels both times): an untrained model's medians hardly vary.
    kept = np.asarray(pipe(score, keep_dynamics=True, sample=True, seed=1)["velocities"], dtype=float)
    own = np.asarray(pipe(score, sample=True, seed=1)["velocities"], dtype=float)
    # The model's own shape around each note, moved onto the markings' level (rounding aside)...
    shape = own - local_mean(notes.onset_sec, own, DYNAMICS_SIGMA_S)
    inside = (kept > 1) & (kept < 127)  # not clipped to the MIDI range
    assert np.abs(kept - (played + shape))[inside].max() <= 1.5
    assert shape.std() > 5  # ...which is not nothing
    # ... so each section plays at its marking, away from the change where the two blur.
    change = notes.onset_sec[notes.velocity == 96].min()
    p, f = notes.onset_sec < change - 3 * DYNAMICS_SIGMA_S, notes.onset_sec > change + 3 * DYNAMICS_SIGMA_S
    kept = np.asarray(pipe(score, keep_dynamics=True)["velocities"])  # the default estimate: nothing clipped
    assert kept[p].mean() == pytest.approx(intercept + slope * 49, abs=1)
    assert kept[f].mean() == pytest.approx(intercept + slope * 96, abs=1)
    # A mask still decides which notes change: the others keep their velocity exactly. A passage
    # inside one marking keeps that marking's level (the file has markings, the passage one).
    hidden = notes.onset_sec < change - 3 * DYNAMICS_SIGMA_S
    partly = np.asarray(pipe(score, mask=hidden, keep_dynamics=True)["velocities"])
    assert (partly[~hidden] == notes.velocity[~hidden]).all() and (partly[hidden] != 49).any()
    assert partly[hidden].mean() == pytest.approx(intercept + slope * 49, abs=1)


def test_keep_dynamics_without_markings_is_the_models_own(pipe):
    """A flat export (or a flat selection) has no markings to keep."""
    flat = marked_score()
    for track in flat.tracks:
        for note in track.notes:
            note.velocity = 64
    assert pipe(flat, keep_dynamics=True)["velocities"] == pipe(flat)["velocities"]


def test_a_model_that_reads_markings_plays_them_itself(tmp_path):
    """With the marking field (train.py --markings), `keep_dynamics` shows the model the file's
    velocities as markings and plays its prediction as it is: no fitted line on top. Without
    `keep_dynamics`, or for a flat file, the field holds PAD."""
    tok = vb.VelocityBertTokenizer(markings=True)
    torch.manual_seed(0)
    model = vb.VelocityBertForMaskedVelocity(tiny_config(field_vocab_sizes=tok.field_vocab_sizes)).eval()
    vb.save_model_folder(model, tok, tmp_path / "m")
    pipe = vb.load_pipeline(str(tmp_path / "m"))
    score = marked_score()
    notes = vb.load_notes(score)
    kept = pipe(score, keep_dynamics=True)["velocities"]
    _, read = predict_levels(model, tok, notes, options=DecodingOptions(keep_dynamics=True))
    assert kept == np.clip(np.rint(read), 1, 127).astype(int).tolist()
    _, unread = predict_levels(model, tok, notes)
    assert pipe(score)["velocities"] == np.clip(np.rint(unread), 1, 127).astype(int).tolist() != kept
    for track in score.tracks:
        for note in track.notes:
            note.velocity = 64
    assert pipe(score, keep_dynamics=True)["velocities"] == pipe(score)["velocities"]


def test_note_surprise_is_the_two_sided_tail_of_each_given_level(sure_model_dir):
    """Each note is judged hidden, in rounds that hide every 7th note at once, and scored by how
    far into either tail of the predicted distribution its given level falls."""
    pipe = vb.load_pipeline(str(sure_model_dir))
    levels = np.arange(150) % 32  # every level, at many places in the windows
    notes = vb.load_notes(score_with_slips(150, slips={}))
    notes = replace(notes, velocity=pipe.velocity_tokenizer.level_to_velocity(levels))
    hidden_per_window = []  # per encoder run, the most notes any of its windows hid
    handle = pipe.model.register_forward_hook(
        lambda m, args, kw, out: hidden_per_window.append(int((kw["input_ids"][..., 5] == 3).sum(-1).max())),
        with_kwargs=True,
    )
    try:
        surprise = note_surprise(pipe.model, pipe.velocity_tokenizer, notes)
    finally:
        handle.remove()
    dist = sure_distribution()
    lower, upper = np.cumsum(dist), np.cumsum(dist[::-1])[::-1]  # P(level <= k), P(level >= k)
    expected = np.minimum(1.0, 2 * np.minimum(lower[levels], upper[levels]))
    np.testing.assert_allclose(surprise, expected, rtol=1e-4)
    assert surprise[levels == SURE_LEVEL].min() == 1.0 and surprise[levels == 0].max() < 0.002
    # One encoder run per round (the 4 windows over 150 notes fit one batch); windows of 64 notes
    # hide at most 10 at a time, every 7th.
    assert len(hidden_per_window) == SURPRISE_ROUNDS and max(hidden_per_window) == -(-64 // SURPRISE_ROUNDS)
    only = np.zeros(150, dtype=bool)
    only[:10] = True
    partial = note_surprise(pipe.model, pipe.velocity_tokenizer, notes, only)
    np.testing.assert_allclose(partial[:10], expected[:10], rtol=1e-4)
    assert np.isnan(partial[10:]).all()  # not asked for, not judged


def test_repair_re_predicts_only_the_unlikely_notes(sure_model_dir):
    pipe = vb.load_pipeline(str(sure_model_dir))
    score = score_with_slips()
    steady = int(pipe.velocity_tokenizer.velocities[SURE_LEVEL])
    given = vb.load_notes(score).velocity
    out = np.asarray(pipe(score, repair=0.003)["velocities"])
    changed = np.flatnonzero(out != given)
    assert changed.tolist() == [20, 75, 130]  # the slips, and nothing else
    assert (np.abs(out[changed] - steady) <= 2).all()  # now where the model expects them
    mask = np.ones(len(given), dtype=bool)
    mask[75] = False  # not asked for: kept, slip and all
    out = np.asarray(pipe(score, mask=mask, repair=0.003)["velocities"])
    assert np.flatnonzero(out != given).tolist() == [20, 130]
    # The level next to the expected one (p = 2 x 5% here): kept at 0.003, re-predicted at 0.1.
    near = score_with_slips(slips={40: int(pipe.velocity_tokenizer.velocities[SURE_LEVEL + 1])})
    for repair, off in ((0.003, [40]), (0.1, [])):
        out = np.asarray(pipe(near, repair=repair)["velocities"])
        assert np.flatnonzero(np.abs(out - steady) > 2).tolist() == off


@pytest.mark.parametrize(
    "options, message",
    [
        (dict(repair=0), "repair is a probability between 0 and 1"),
        (dict(repair=1.5), "repair is a probability between 0 and 1"),
        (dict(repair=0.01, keep_dynamics=True), "repair reads the velocities as a performance's"),
        (dict(repair=0.01, velocity_range=(30, 90)), "a dynamic range is for a whole rendition"),
    ],
)
def test_repair_refuses_meaningless_options(options, message):
    with pytest.raises(ValueError, match=message):
        DecodingOptions(**options)

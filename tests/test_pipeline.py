import numpy as np
import pytest
import symusic
from transformers import pipeline

import velocity_bert as vb
from tests.conftest import make_score
from tests.test_modeling import run_without_package
from tests.test_notes import assert_same_but_velocities
from velocity_bert.decoding import interpolated_median


@pytest.fixture(scope="module")
def pipe(tiny_model_dir):
    return vb.load_pipeline(str(tiny_model_dir))


def test_contract_every_velocity(pipe, midi_file):
    out = pipe(str(midi_file))
    notes = vb.load_notes(midi_file)
    assert len(out["velocities"]) == len(notes) and all(1 <= v <= 127 for v in out["velocities"])
    assert_same_but_velocities(symusic.Score(str(midi_file)), out["score"])
    np.testing.assert_array_equal(vb.load_notes(out["score"]).velocity, out["velocities"])


def test_sources_bytes_and_score_agree(pipe, midi_file):
    a = pipe(str(midi_file))["velocities"]
    assert pipe(midi_file.read_bytes())["velocities"] == a
    score = symusic.Score(str(midi_file))
    assert pipe(score)["velocities"] == a
    assert symusic.Score(str(midi_file)) == score  # the caller's Score is not modified


@pytest.mark.parametrize("ttype", ["quarter", "second"])
def test_a_score_in_quarters_or_seconds_comes_back_in_them(ttype, pipe, midi_file):
    expected = pipe(str(midi_file))["velocities"]
    score = symusic.Score(str(midi_file), ttype=ttype)
    out = pipe(score)
    assert out["velocities"] == expected and out["score"].ttype == score.ttype
    assert symusic.Score(str(midi_file), ttype=ttype) == score  # not modified
    for before, after in zip(score.tracks, out["score"].tracks):
        b, a = before.notes.numpy(), after.notes.numpy()
        for k in ("time", "duration", "pitch"):
            np.testing.assert_array_equal(a[k], b[k])  # exact: not converted through ticks and back
    assert vb.load_notes(out["score"]).velocity.tolist() == expected  # each velocity on its own note


def test_mask_keeps_other_notes_exactly(pipe, midi_file):
    notes = vb.load_notes(midi_file)
    mask = np.zeros(len(notes), dtype=bool)
    mask[40:80] = True
    out = np.asarray(pipe(str(midi_file), mask=mask)["velocities"])
    np.testing.assert_array_equal(out[~mask], notes.velocity[~mask])
    with pytest.raises(ValueError, match="mask"):
        pipe(str(midi_file), mask=mask[:-1])


def test_sampling_seeds_and_range(pipe, midi_file):
    a = pipe(str(midi_file), sample=True, seed=1)["velocities"]
    assert pipe(str(midi_file), sample=True, seed=1)["velocities"] == a
    assert pipe(str(midi_file), sample=True, seed=2)["velocities"] != a
    ranged = np.asarray(pipe(str(midi_file), sample=True, seed=1, velocity_range=(40, 90))["velocities"])
    assert np.percentile(ranged, 2) == pytest.approx(40, abs=1) and np.percentile(ranged, 98) == pytest.approx(
        90, abs=1
    )
    assert ranged.min() >= 40 and ranged.max() <= 90  # the notes beyond the percentiles too


def test_constructor_options_hold_when_a_call_sets_others(tiny_model_dir, midi_file):
    pipe = vb.load_pipeline(str(tiny_model_dir), velocity_range=(40, 90), sample=True)
    a = np.asarray(pipe(str(midi_file), seed=1)["velocities"])
    assert a.min() >= 40 and a.max() <= 90 and np.ptp(a) >= 45  # the constructor's range and sampling
    assert pipe(str(midi_file), seed=2)["velocities"] != a.tolist()
    assert pipe(str(midi_file), seed=1, velocity_range=(60, 70))["velocities"] != a.tolist()  # the call's wins


def test_batch_size_batches_windows_for_a_list_of_files(tiny_model_dir, pipe, midi_file):
    long = make_score(700, seed=3)  # many windows
    expected = [pipe(str(midi_file))["velocities"], pipe(long)["velocities"]]
    outs = pipe([str(midi_file), long], batch_size=3)
    assert [o["velocities"] for o in outs] == expected
    batched = vb.load_pipeline(str(tiny_model_dir), batch_size=3)
    assert [o["velocities"] for o in batched([str(midi_file), long])] == expected


def test_low_temperature_samples_the_mode(pipe, midi_file):
    """Sampling sharpens toward the most likely level instead of underflowing to NaN."""
    cold = pipe(str(midi_file), sample=True, seed=1, temperature=1e-4)["velocities"]
    assert cold == pipe(str(midi_file), estimate="mode")["velocities"]


@pytest.mark.parametrize(
    "option, message",
    [
        ({"passes": 0}, "passes"),
        ({"passes": 1.5}, "passes"),
        ({"temperature": 0}, "temperature"),
        ({"temperature": -1.0}, "temperature"),
        ({"estimate": "max"}, "estimate"),
        ({"combine": "sum"}, "combine"),
        ({"overlap": -1}, "overlap"),
        ({"batch_size": 0}, "batch_size"),
        ({"velocity_range": (90, 40)}, "range"),
        ({"velocity_range": (0, 100)}, "range"),
        ({"velocity_range": (30, 128)}, "range"),
    ],
)
def test_bad_option_refused_before_the_file_is_read(option, message, pipe, tmp_path):
    with pytest.raises(ValueError, match=message):
        pipe(str(tmp_path / "not-there.mid"), **option)  # reading it would say "no such file"
    with pytest.raises(ValueError, match=message):
        vb.load_pipeline(str(pipe.model.config._name_or_path), **option)


def test_a_model_neither_folder_nor_repo_is_named(midi_file, tmp_path):
    with pytest.raises(ValueError, match="a file; a model is a folder"):
        vb.load_pipeline(str(midi_file))
    with pytest.raises(ValueError, match="no such model folder"):
        vb.load_pipeline(str(tmp_path / "no" / "such" / "model"))
    with pytest.raises(OSError, match="no such model folder, and not loadable as a Hub repo"):
        vb.load_pipeline("velocity-org/not-in-the-cache")  # tests run with HF_HUB_OFFLINE=1


def test_long_piece_uses_many_windows(pipe):
    score = make_score(700, seed=3)
    out = pipe(score, passes=3)
    assert len(out["velocities"]) == len(vb.load_notes(score))


def test_task_name_with_registered_package(tiny_model_dir, midi_file):
    pipe = pipeline("velocity-prediction", model=str(tiny_model_dir), pipeline_class=vb.VelocityPredictionPipeline)
    assert len(pipe(str(midi_file))["velocities"]) == len(vb.load_notes(midi_file))


def test_pipeline_through_remote_code(tiny_model_dir, midi_file, tmp_path):
    expected = vb.load_pipeline(str(tiny_model_dir))(str(midi_file))["velocities"]
    out = run_without_package(
        f"""
        from transformers import pipeline
        pipe = pipeline("velocity-prediction", model={str(tiny_model_dir)!r}, trust_remote_code=True)
        print(pipe({str(midi_file)!r})["velocities"])
        """,
        tmp_path,
    )
    assert out.strip().splitlines()[-1] == str(expected)


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

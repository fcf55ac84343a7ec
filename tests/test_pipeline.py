import shutil

import numpy as np
import pytest
import symusic
from transformers import pipeline

import velocity_bert as vb
from tests.conftest import make_score
from tests.test_modeling import run_without_package
from tests.test_notes import assert_same_but_velocities


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


def test_midi_is_the_input_file_with_only_velocity_bytes_changed(pipe, tmp_path):
    """`midi` is what to write: for a file (path or bytes), its own bytes but velocities, so the
    channels, system-exclusive and text events that symusic's writer would lose are kept."""
    from tests.test_smf import note_on_velocity_offsets, sequencer_export

    data, _ = sequencer_export()
    (tmp_path / "seq.mid").write_bytes(data)
    for source in (str(tmp_path / "seq.mid"), data):
        out = pipe(source)
        assert len(out["midi"]) == len(data)
        changed = np.flatnonzero(np.frombuffer(out["midi"], np.uint8) != np.frombuffer(data, np.uint8))
        assert np.isin(changed, note_on_velocity_offsets(data)).all()
        assert vb.load_notes(out["midi"]).velocity.tolist() == out["velocities"]
    score_out = pipe(symusic.Score.from_midi(data))  # a Score has no bytes of its own: symusic writes it
    assert vb.load_notes(score_out["midi"]).velocity.tolist() == score_out["velocities"]


def test_a_file_the_scan_cannot_vouch_for_is_rewritten_with_a_warning(pipe, midi_file, monkeypatch):
    from velocity_bert import notes as notes_module
    from velocity_bert.pipeline_velocity_bert import MidiRewrittenWarning

    def refuse(data):
        raise notes_module.SmfLayoutError("a layout we do not know")

    monkeypatch.setattr(notes_module, "note_groups", refuse)
    with pytest.warns(MidiRewrittenWarning, match="rewritten by symusic"):
        out = pipe(str(midi_file))
    assert out["midi"] == out["score"].dumps_midi()
    assert vb.load_notes(out["midi"]).velocity.tolist() == out["velocities"]


def test_dtype_auto_is_bfloat16_only_on_a_cpu_with_bfloat16_instructions(tiny_model_dir, monkeypatch):
    import torch

    for amx, avx512_bf16, expected in (
        (True, False, torch.bfloat16),
        (False, True, torch.bfloat16),
        (True, True, torch.bfloat16),
        (False, False, torch.float32),
    ):
        monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda amx=amx: amx)
        monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda avx=avx512_bf16: avx)
        assert vb.cpu_dtype() == expected
        assert vb.load_pipeline(str(tiny_model_dir)).model.dtype == expected
        assert vb.load_pipeline(str(tiny_model_dir), dtype="float32").model.dtype == torch.float32
        assert vb.load_pipeline(str(tiny_model_dir), dtype=torch.bfloat16).model.dtype == torch.bfloat16
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True)
    monkeypatch.delattr(torch.cpu, "_is_amx_tile_supported")  # a torch without one check uses the other
    assert vb.cpu_dtype() == torch.bfloat16
    monkeypatch.delattr(torch.cpu, "_is_avx512_bf16_supported")  # a torch with neither: float32
    assert vb.cpu_dtype() == torch.float32
    with pytest.raises(ValueError, match="dtype is one of auto, float32, bfloat16"):
        vb.load_pipeline(str(tiny_model_dir), dtype="half")


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
    with pytest.raises(ValueError, match=f"^mask has {len(notes) - 1} entries for {len(notes)} notes$"):
        pipe(str(midi_file), mask=mask[:-1])
    as_ints = np.asarray(pipe(str(midi_file), mask=mask.astype(int).tolist())["velocities"])
    np.testing.assert_array_equal(as_ints, out)  # 0/1 is a mask too
    indices = np.arange(len(notes)) % 7  # the right length, but note numbers, not one bool per note
    with pytest.raises(ValueError, match="one bool per note.*not indices"):
        pipe(str(midi_file), mask=indices)


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


@pytest.mark.parametrize(
    "option, message",
    [
        ({"passes": 0}, "passes"),
        ({"passes": 1.5}, "passes"),
        ({"temperature": 0}, "temperature"),
        ({"temperature": -1.0}, "temperature"),
        ({"seed": -1, "sample": True}, "seed must be a whole number >= 0, not -1"),
        ({"seed": 2.5, "sample": True}, "seed"),
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


@pytest.mark.parametrize(
    "remove, missing",
    [
        (["velocity_tokenizer.json"], "velocity_tokenizer.json"),
        (["model.safetensors"], "model.safetensors"),
        (["model.safetensors", "velocity_tokenizer.json"], "model.safetensors and no velocity_tokenizer.json"),
    ],
)
def test_an_incomplete_model_folder_names_what_it_lacks(remove, missing, tiny_model_dir, tmp_path):
    """Transformers' message for missing weights lists classes it tried, not the file."""
    folder = tmp_path / "model"
    shutil.copytree(tiny_model_dir, folder)
    for name in remove:
        (folder / name).unlink()
    with pytest.raises(ValueError, match=f"^{folder}: not a velocity-bert model folder, it has no {missing}$"):
        vb.load_pipeline(str(folder))


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

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from safetensors import safe_open

import velocity_bert as vb
from tests.conftest import import_script
from velocity_bert.export import export


def test_export_run_folder_keeps_history(tiny_model_dir, midi_file, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(tiny_model_dir, run)  # train.py leaves the best model at the top of the run folder
    for step, loss in ((5, 2.0), (10, 1.5)):
        ckpt = run / f"checkpoint-{step}"
        ckpt.mkdir()
        log = [{"step": s, "eval_loss": loss + 1 - s / 10} for s in range(5, step + 1, 5)] + [
            {"step": step, "loss": 3.0}
        ]
        state = {"global_step": step, "best_metric": loss, "best_model_checkpoint": str(ckpt), "log_history": log}
        (ckpt / "trainer_state.json").write_text(json.dumps(state))
    (run / "run_arguments.json").write_text(json.dumps({"masking": {"mask_ratio": 0.6}}))
    (run / "all_results.json").write_text(json.dumps({"train_runtime": 12.5}))
    previous = tmp_path / "previous.json"
    previous.write_text(json.dumps({"global_step": 1200, "best_metric": 1.99}))

    out = export(run, tmp_path / "bundled", previous_summary=previous)

    summary = json.loads((out / "training_summary.json").read_text())
    assert summary["global_step"] == 10 and summary["best_metric"] == 1.5  # the last checkpoint's state
    assert [e["step"] for e in summary["evaluations"]] == [5, 10]
    assert summary["arguments"]["masking"]["mask_ratio"] == 0.6  # the recipe travels with the weights
    assert summary["final_metrics"]["train_runtime"] == 12.5
    assert summary["initialized_from"] == {"global_step": 1200, "best_metric": 1.99}
    assert "teachers" not in summary  # not distilled
    assert not list(out.glob("*.py")) and (out / "LICENSE_WEIGHTS.md").is_file()
    original = vb.load_pipeline(str(tiny_model_dir))(str(midi_file))["velocities"]
    assert vb.load_pipeline(str(out))(str(midi_file))["velocities"] == original  # same weights, same output
    assert np.asarray(original).size == len(vb.load_notes(midi_file))


def test_run_without_checkpoints_keeps_its_recipe_and_the_previous_history(tiny_model_dir, tmp_path):
    """train.py --save_strategy no (a field added at learning rate 0) leaves no trainer state: what
    ships must still say how it was made and what it started from."""
    run = tmp_path / "run"
    shutil.copytree(tiny_model_dir, run)
    (run / "run_arguments.json").write_text(json.dumps({"data": {"markings": True}}))
    previous = tmp_path / "previous.json"
    previous.write_text(json.dumps({"soup_of": ["a", "b"]}))
    out = export(run, tmp_path / "out", previous_summary=previous)

    summary = json.loads((out / "training_summary.json").read_text())

    assert summary["arguments"] == {"data": {"markings": True}} and "evaluations" not in summary
    assert summary["initialized_from"] == {"soup_of": ["a", "b"]}
    bare = export(tiny_model_dir, tmp_path / "bare", previous_summary=previous)  # a folder that says nothing
    assert json.loads((bare / "training_summary.json").read_text())["initialized_from"] == {"soup_of": ["a", "b"]}
    assert not (export(tiny_model_dir, tmp_path / "none") / "training_summary.json").exists()


def test_distilled_run_keeps_its_teachers_history(tiny_model_dir, tmp_path):
    """A teacher in runs/ is lost with its checkout, and the bundled teacher is the very folder the
    export replaces: both histories must be in the student's summary."""
    bundled = export(tiny_model_dir, tmp_path / "bundled", previous_summary=None)
    (bundled / "training_summary.json").write_text(json.dumps({"global_step": 6250, "best_metric": 1.811}))
    rotary = tmp_path / "rotary"
    (rotary / "checkpoint-1250").mkdir(parents=True)
    state = {"global_step": 1250, "best_metric": 1.807, "log_history": [{"step": 1250, "eval_loss": 1.807}]}
    (rotary / "checkpoint-1250" / "trainer_state.json").write_text(json.dumps(state))
    (rotary / "run_arguments.json").write_text(json.dumps({"model": {"position_embedding_type": "rotary"}}))
    student = tmp_path / "student"
    shutil.copytree(tiny_model_dir, student)
    (student / "trainer_state.json").write_text(json.dumps({"global_step": 3, "log_history": []}))
    teachers = [str(bundled), str(rotary), str(tmp_path / "gone")]
    (student / "run_arguments.json").write_text(json.dumps({"model": {"distill_from": teachers}}))

    out = export(student, bundled)  # over the bundled teacher, as reproduce.sh does

    summary = json.loads((out / "training_summary.json").read_text())
    assert summary["teachers"][str(bundled)] == {"global_step": 6250, "best_metric": 1.811}
    assert summary["teachers"][str(rotary)]["best_metric"] == 1.807
    assert summary["teachers"][str(rotary)]["arguments"]["model"]["position_embedding_type"] == "rotary"
    assert summary["teachers"][str(tmp_path / "gone")] is None  # named, though its history is lost
    again = export(out, tmp_path / "again")  # re-exporting keeps the history read at the first export,
    assert json.loads((again / "training_summary.json").read_text()) == summary  # though bundled/ is the student now


def test_exported_weight_soup_keeps_every_members_history(tiny_model_dir, midi_file, tmp_path, monkeypatch):
    """A soup has no trainer state of its own: what ships must still say which runs it averages and
    how each was trained, since runs/ does not outlive its checkout."""
    bundled = export(tiny_model_dir, tmp_path / "bundled")
    (bundled / "training_summary.json").write_text(json.dumps({"global_step": 6250, "best_metric": 1.793}))
    run = tmp_path / "cont"
    shutil.copytree(tiny_model_dir, run)
    (run / "checkpoint-7").mkdir()
    state = {"global_step": 7, "best_metric": 1.79, "log_history": [{"step": 7, "eval_loss": 1.79}]}
    (run / "checkpoint-7" / "trainer_state.json").write_text(json.dumps(state))
    (run / "run_arguments.json").write_text(json.dumps({"training": {"learning_rate": 5e-5}}))
    with torch.no_grad():
        member = vb.VelocityBertForMaskedVelocity.from_pretrained(run)
        for p in member.parameters():
            p.add_(0.01)
        member.save_pretrained(run / "checkpoint-7")
    vb.VelocityBertTokenizer.from_pretrained(run).save_pretrained(run / "checkpoint-7")
    monkeypatch.setattr(
        sys, "argv", ["model_soup.py", str(bundled), str(run / "checkpoint-7"), "--out", str(tmp_path / "soup")]
    )
    import_script("benchmarks/model_soup.py").main()

    out = export(tmp_path / "soup", tmp_path / "shipped", weights_dtype="float16")

    members = json.loads((out / "training_summary.json").read_text())["soup_of"]
    assert [m["model"] for m in members] == [str(bundled), str(run / "checkpoint-7")]
    assert members[0]["history"] == {"global_step": 6250, "best_metric": 1.793}
    assert members[1]["history"]["best_metric"] == 1.79
    assert members[1]["history"]["arguments"]["training"]["learning_rate"] == 5e-5
    a = vb.VelocityBertForMaskedVelocity.from_pretrained(bundled).state_dict()
    souped = vb.VelocityBertForMaskedVelocity.from_pretrained(out).state_dict()
    name = next(k for k, v in a.items() if v.is_floating_point() and v.numel() > 1)
    torch.testing.assert_close(souped[name], a[name] + 0.005, atol=2e-3, rtol=2e-3)  # the mean, in float16
    assert len(vb.load_pipeline(str(out))(str(midi_file))["velocities"]) == len(vb.load_notes(midi_file))


def test_float16_weights_halve_the_file_and_load_as_float32(tiny_model_dir, midi_file, tmp_path):
    full = export(tiny_model_dir, tmp_path / "full")
    half = export(tiny_model_dir, tmp_path / "half", weights_dtype="float16")

    with safe_open(half / "model.safetensors", "pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.float16}
    assert (half / "model.safetensors").stat().st_size < 0.6 * (full / "model.safetensors").stat().st_size
    model = vb.VelocityBertForMaskedVelocity.from_pretrained(half)  # dtype "auto" reads config.json
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    reference = vb.VelocityBertForMaskedVelocity.from_pretrained(full).eval()
    ids = torch.randint(4, 20, (1, 16, len(reference.config.field_vocab_sizes)))
    with torch.no_grad():
        a, b = reference(input_ids=ids).logits, model.eval()(input_ids=ids).logits
    assert torch.allclose(a, b, atol=1e-2) and not torch.equal(a, b)  # rounded, not reloaded in full


def test_export_refuses_an_unknown_weights_dtype(tiny_model_dir, tmp_path):
    with pytest.raises(ValueError, match="weights_dtype"):
        export(tiny_model_dir, tmp_path / "x", weights_dtype="int8")


def test_bundled_folder_refuses_weights_over_the_package_limit(tiny_model_dir, tmp_path, monkeypatch):
    import velocity_bert.export as export_module

    bundled = tmp_path / "bundled"
    bundled.mkdir()
    (bundled / "config.json").write_text("{}")  # the model already shipped: must survive
    monkeypatch.setattr(export_module, "DEFAULT_MODEL", str(bundled))
    monkeypatch.setattr(export_module, "MAX_BUNDLED_BYTES", 2**20 + 1000)  # the slack alone nearly fills it
    with pytest.raises(ValueError, match="float16"):
        export(tiny_model_dir, bundled)
    assert [f.name for f in bundled.iterdir()] == ["config.json"]
    assert export(tiny_model_dir, tmp_path / "elsewhere").is_dir()  # other folders have no limit


def test_int8_roundtrip_stays_within_half_a_step_of_each_row_scale():
    """benchmarks/int8_roundtrip.py measures what 8-bit storage would cost; its rounding must be
    the storage it claims: per-row symmetric int8, one float16 scale per row, at most half a step
    off, and the byte count of exactly that."""
    roundtrip = import_script("benchmarks/int8_roundtrip.py").int8_roundtrip
    torch.manual_seed(0)
    weight = torch.randn(48, 32) * torch.logspace(-3, 1, 48)[:, None]  # rows of very different size
    weight[5] = 0.0
    back, stored = roundtrip(weight)
    assert stored == 48 * 32 + 2 * 48 and back.dtype == weight.dtype
    step = (weight.abs().amax(dim=1, keepdim=True) / 127).half().float()
    assert torch.all((back - weight).abs() <= step / 2 + 1e-6 * weight.abs().amax(dim=1, keepdim=True))
    assert torch.equal(back[5], weight[5]) and not torch.equal(back, weight)
    assert torch.isfinite(back).all()
    levels = torch.round(back / torch.where(step > 0, step, 1.0))
    assert levels.abs().max() <= 127 and torch.allclose(levels * step, back, atol=1e-6)


def test_export_replaces_only_its_own_folders_and_says_why_in_one_line(tiny_model_dir, tmp_path):
    """`--out` named by mistake must not delete a folder of someone's files; a folder that is not a
    run or checkpoint is one line, not a traceback."""
    mine = tmp_path / "models"
    (mine / "other").mkdir(parents=True)
    (mine / "notes.txt").write_text("keep me")
    with pytest.raises(ValueError, match="holds other files"):
        export(tiny_model_dir, mine)
    assert (mine / "notes.txt").read_text() == "keep me" and (mine / "other").is_dir()
    first = export(tiny_model_dir, tmp_path / "out")
    (first / "stale.json").write_text("{}")
    assert not (export(tiny_model_dir, first) / "stale.json").exists()  # an earlier export is replaced
    empty = tmp_path / "empty"
    empty.mkdir()
    assert export(tiny_model_dir, empty).is_dir()
    done = subprocess.run(
        [sys.executable, "-m", "velocity_bert.export", str(tmp_path / "no_such_run"), "--out", str(tmp_path / "x")],
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr and "not a run's output" in done.stderr
    assert not (tmp_path / "x").exists()

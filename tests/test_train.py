"""A real learning test: train.py on ~20 real performances must learn something."""

import csv
import json
import math
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import symusic
import torch
from safetensors.torch import load_file

from tests.conftest import make_score
from velocity_bert import VelocityBertTokenizer
from velocity_bert.alignment import pairs_path, save_pairs
from velocity_bert.decoding import MARKING_TO_PLAYED
from velocity_bert.masking import MaskingMix
from velocity_bert.notes import load_notes

ROOT = Path(__file__).resolve().parents[1]


def write_midi(path: Path, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    make_score(120, seed=seed).dump_midi(str(path))


def test_train_lowers_loss_and_beats_constant(asap, tmp_path):
    out = tmp_path / "run"
    start = time.time()
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "train.py"),
            "--data_dir",
            str(asap),
            "--output_dir",
            str(out),
            "--cache_dir",
            str(tmp_path / "cache"),
            "--max_train_files",
            "20",
            "--max_eval_files",
            "4",
            "--hidden_size",
            "64",
            "--num_hidden_layers",
            "2",
            "--num_attention_heads",
            "2",
            "--intermediate_size",
            "128",
            "--window_length",
            "128",
            "--max_steps",
            "300",
            "--per_device_train_batch_size",
            "16",
            "--learning_rate",
            "2e-3",
            "--warmup_steps",
            "20",
            "--eval_strategy",
            "steps",
            "--eval_steps",
            "20",
            "--save_steps",
            "150",
            "--logging_steps",
            "50",
            "--report_to",
            "none",
            "--use_cpu",
            "--disable_tqdm",
            "true",
            "--seed",
            "0",
            # Both augmentations on, so their wiring runs end to end; still must learn.
            "--pitch_shift",
            "2",
            "--velocity_shift",
            "1",
            "--velocity_stretch",
            "0.1",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert time.time() - start < 180
    history = json.loads((out / "checkpoint-300" / "trainer_state.json").read_text())["log_history"]
    evals = [h for h in history if "eval_loss" in h]
    first, last = evals[0], evals[-1]
    assert first["step"] == 20 and last["step"] == 300
    assert last["eval_loss"] < first["eval_loss"] and last["eval_loss"] < math.log(32)
    assert last["eval_exact"] > last["eval_baseline_exact"]
    assert last["eval_mae"] < last["eval_baseline_mae"]
    # the output folder is a complete model folder
    for name in ("config.json", "model.safetensors", "velocity_tokenizer.json", "pipeline_velocity_bert.py"):
        assert (out / name).exists(), name
    recipe = json.loads((out / "run_arguments.json").read_text())  # what export.py ships in the summary
    assert recipe["model"]["hidden_size"] == 64 and recipe["training"]["learning_rate"] == 2e-3
    assert recipe["data"]["velocity_shift"] == 1 and recipe["data"]["pitch_shift"] == 2
    assert recipe["masking"]["mask_random"] == MaskingMix.random and "--max_steps" in recipe["command"]
    assert json.loads((out / "all_results.json").read_text())["train_runtime"] > 0
    config = json.loads((out / "config.json").read_text())
    # A new model's defaults are the shipped model's recipe: learned positions, dropout 0.1.
    assert config["position_embedding_type"] == "absolute"
    assert config["hidden_dropout_prob"] == config["attention_probs_dropout_prob"] == 0.1


def test_train_with_random_offsets_and_onset_positions_runs(asap, tmp_path):
    """--random_offsets trains from whole-file rows cut at every draw (velocity_bert.data.RandomWindows),
    here with --tempo_stretch's, --legato's and --score_copies' copies; a rotary_onset model gets its
    onset grid from the tokenizer."""
    out = tmp_path / "run"
    # Note pairs for two of the three train files (any pairs do for the wiring; align_scores.py makes real ones).
    lines = (asap / "splits.csv").read_text().splitlines()
    rows = [r for r in csv.DictReader(lines) if r["split"] == "train"][:2]
    for r in rows:
        n = min(len(load_notes(asap / r["midi_score"])), len(load_notes(asap / r["midi_performance"])))
        save_pairs(pairs_path(tmp_path / "pairs", "train", r["midi_performance"]), np.arange(n), np.arange(n))
    # fmt: off
    args = [
        "--data_dir", str(asap), "--output_dir", str(out), "--cache_dir", str(tmp_path / "cache"),
        "--max_train_files", "3", "--max_eval_files", "2", "--hidden_size", "32", "--num_hidden_layers", "1",
        "--num_attention_heads", "2", "--intermediate_size", "64", "--window_length", "64", "--max_steps", "6",
        "--per_device_train_batch_size", "4", "--eval_strategy", "no", "--save_strategy", "no",
        "--report_to", "none", "--use_cpu", "--disable_tqdm", "true", "--random_offsets", "--pitch_shift", "2",
        "--position_embedding_type", "rotary_onset", "--dropout", "0.05", "--tempo_stretch", "0.1",
        "--legato", "0.3", "--score_copies", str(tmp_path / "pairs"),
    ]
    # fmt: on
    done = subprocess.run([sys.executable, str(ROOT / "train.py"), *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads((out / "run_arguments.json").read_text())["data"]["random_offsets"] is True
    keys = {p.name.split("_")[0] for p in (tmp_path / "cache").glob("windows-*.arrow")}  # shards share a key
    assert len(keys) == 1 + 1 + 4 + 1 + 1  # whole train files, validation windows, 4 tempo copies, legato, scores
    assert "score copies of 2 of 3 train files" in done.stderr
    assert json.loads((out / "all_results.json").read_text())["train_loss"] > 0
    assert (out / "model.safetensors").exists()
    config = json.loads((out / "config.json").read_text())
    assert config["position_embedding_type"] == "rotary_onset" and config["positions_per_bar"] == 32
    # Asking a fine-tune for other positions converts the model and keeps every other weight
    # (learning rate 0): to absolute, a new learned table; back to rotary, the table is dropped.
    weights = {"": load_file(out / "model.safetensors")}
    for positions in ("absolute", "rotary"):
        source, out = out, tmp_path / positions
        # fmt: off
        switch = [
            "--model_name_or_path", str(source), "--output_dir", str(out), "--data_dir", str(asap),
            "--cache_dir", str(tmp_path / "cache"), "--max_train_files", "1", "--max_eval_files", "1",
            "--max_steps", "1", "--learning_rate", "0", "--per_device_train_batch_size", "2",
            "--eval_strategy", "no", "--save_strategy", "no", "--report_to", "none", "--use_cpu",
            "--disable_tqdm", "true", "--position_embedding_type", positions,
            "--distill_from", str(source),  # the path through a teacher, too (rate 0: weights still kept)
            "--attention_dropout", "0",  # alone: CPU SDPA keeps its fused kernel
        ]
        # fmt: on
        done = subprocess.run(
            [sys.executable, str(ROOT / "train.py"), *switch], capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr[-3000:]
        config = json.loads((out / "config.json").read_text())
        assert config["position_embedding_type"] == positions
        assert config["hidden_dropout_prob"] == 0.05  # a fine-tune keeps its model's dropout, not the new default
        assert config["attention_probs_dropout_prob"] == 0.0
        weights[positions] = load_file(out / "model.safetensors")
    table = "velocity_bert.embeddings.position_embeddings.weight"
    assert table in weights["absolute"] and table not in weights[""] and table not in weights["rotary"]
    # The new table comes from _init_weights (normal, std initializer_range), not uninitialized memory.
    assert abs(weights["absolute"][table].std().item() - 0.02) < 0.003
    for key, value in weights[""].items():
        assert torch.equal(value, weights["absolute"][key]) and torch.equal(value, weights["rotary"][key]), key


def test_tempo_factors_and_their_one_line_errors(tmp_path):
    import train

    args = train.DataArguments(data_dir="x", random_offsets=True, tempo_stretch=0.1)
    assert train.tempo_factors(args) == [0.9, 0.95, 1.05, 1.1]
    assert train.tempo_factors(train.DataArguments(data_dir="x")) == []
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "train.py"),
            "--data_dir",
            "x",
            "--output_dir",
            str(tmp_path / "o"),
            "--tempo_stretch",
            "0.1",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "needs --random_offsets" in done.stderr and "Traceback" not in done.stderr
    data = tmp_path / "data"
    for i in range(2):
        write_midi(data / f"p{i}.mid", seed=i)
    for option, says in (
        (["--distill_from", str(tmp_path / "no_model")], "no_model"),
        (["--max_train_files", "-1"], "--max_train_files must be >= 1, not -1"),
        (["--label_sigma", "-1"], "--label_sigma must be between 0 and 8 levels, not -1"),
        (["--attention_dropout", "1"], "--attention_dropout must be in [0, 1), not 1.0"),
        (["--legato", "2"], "--legato must be between 0 and 1, not 2.0"),
        (["--legato", "0.5"], "--legato needs --random_offsets"),
        (["--score_copies", str(tmp_path)], "--score_copies needs --random_offsets"),
        (["--score_copies", str(tmp_path), "--random_offsets"], "need a splits.csv that names each performance"),
        (["--markings"], "--markings needs --score_copies"),
        (["--hide_markings", "2"], "--hide_markings must be between 0 and 1, not 2.0"),
        (["--train_markings_only"], "--train_markings_only needs --markings and --model_name_or_path"),
        (
            ["--train_markings_only", "--markings", "--score_copies", str(tmp_path), "--random_offsets"],
            "--train_markings_only needs --markings and --model_name_or_path",
        ),
        (["--add_layers", "-1"], "--add_layers must be >= 0, not -1"),
        (["--add_layers", "1"], "--add_layers grows a fine-tuned model"),
        (["--train_added_layers_only"], "--train_added_layers_only needs --add_layers"),
    ):
        done = subprocess.run(
            [sys.executable, str(ROOT / "train.py"), "--data_dir", str(data), "--output_dir", str(tmp_path / "o")]
            + option,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 2 and says in done.stderr and "Traceback" not in done.stderr, done.stderr[-2000:]
        assert not (tmp_path / "o").exists()


def fine_tune(model_dir: Path, tmp_path: Path, out: Path, options: list[str], flat=()) -> subprocess.CompletedProcess:
    """train.py from `model_dir` for 2 steps on two aligned train pieces (with --score_copies) and one
    validation piece; the scores have random velocities (markings) except those in `flat`."""
    data = tmp_path / "data"
    rows = ["midi_performance,midi_score,split"]
    for i, split in enumerate(("train", "train", "validation")):
        write_midi(data / f"piece{i}" / "midi_score.mid", seed=i)
        if i in flat:
            score = symusic.Score(str(data / f"piece{i}" / "midi_score.mid"))
            for track in score.tracks:
                for note in track.notes:
                    note.velocity = 64
            score.dump_midi(str(data / f"piece{i}" / "midi_score.mid"))
        write_midi(data / f"piece{i}" / "pianist.mid", seed=10 + i)
        rows.append(f"piece{i}/pianist.mid,piece{i}/midi_score.mid,{split}")
        save_pairs(pairs_path(tmp_path / "pairs", split, f"piece{i}/pianist.mid"), np.arange(60), np.arange(60))
    (data / "splits.csv").write_text("\n".join(rows) + "\n")
    # fmt: off
    args = [
        "--model_name_or_path", str(model_dir), "--score_copies", str(tmp_path / "pairs"),
        "--random_offsets", "--data_dir", str(data), "--output_dir", str(out),
        "--cache_dir", str(tmp_path / "cache"), "--max_steps", "2",
        "--per_device_train_batch_size", "2", "--eval_strategy", "no", "--save_strategy", "no", "--report_to", "none",
        "--use_cpu", "--disable_tqdm", "true", *options,
    ]
    # fmt: on
    done = subprocess.run([sys.executable, str(ROOT / "train.py"), *args], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def marking_start(tok: VelocityBertTokenizer, weights: dict) -> torch.Tensor:
    """The rows train.py --markings starts the marking field's markings at: MARKING_START_SCALE x the
    velocity embedding (in `weights`) of the level a pianist plays each marking at."""
    import train

    intercept, slope = MARKING_TO_PLAYED
    played = tok.velocity_token(tok.velocity_to_level(np.rint(intercept + slope * tok.velocities)))
    return train.MARKING_START_SCALE * weights["velocity_bert.embeddings.fields.5.weight"][played]


def test_markings_add_a_field_to_a_fine_tuned_model_and_keep_every_weight(tiny_model_dir, tmp_path):
    """--markings gives a six-field model the marking field: its tokenizer and config gain it, its new
    embedding starts from the velocity field's with the padding row ("no marking") at zero, and every
    other weight is kept (learning rate 0)."""

    out = tmp_path / "out"
    done = fine_tune(tiny_model_dir, tmp_path, out, ["--markings", "--hide_markings", "0.5", "--learning_rate", "0"])
    assert "adding the marking field" in done.stderr and "score copies of 2 of 2 train files" in done.stderr
    tok = VelocityBertTokenizer.from_pretrained(out)
    assert tok.markings and json.loads((out / "config.json").read_text())["field_vocab_sizes"] == tok.field_vocab_sizes
    before, after = load_file(tiny_model_dir / "model.safetensors"), load_file(out / "model.safetensors")
    new = "velocity_bert.embeddings.fields.6.weight"
    assert set(after) == set(before) | {new}
    for key, value in before.items():
        assert torch.equal(value, after[key]), key
    # Each marking starts as half the velocity embedding of the level a pianist plays it at.
    start = marking_start(tok, before)
    assert torch.allclose(after[new][-len(start) :], start)
    assert not after[new][0].any()  # "no marking" adds nothing


def test_train_markings_only_changes_the_marking_field_alone(tiny_model_dir, tmp_path):
    """--train_markings_only trains the new field on the marked score copies only (a flat score's
    copy has none) and leaves every other weight, and the padding row, as they were: a recording
    plays exactly as before."""
    out = tmp_path / "out"
    done = fine_tune(
        tiny_model_dir, tmp_path, out, ["--markings", "--train_markings_only", "--learning_rate", "0.1"], flat=(1,)
    )
    assert "training the marking field alone, on 1 marked score copy" in done.stderr
    before, after = load_file(tiny_model_dir / "model.safetensors"), load_file(out / "model.safetensors")
    for key, value in before.items():
        assert torch.equal(value, after[key]), key
    marking = after["velocity_bert.embeddings.fields.6.weight"]
    assert not marking[0].any()
    start = marking_start(VelocityBertTokenizer.from_pretrained(out), before)
    assert not torch.allclose(marking[-len(start) :], start)  # it learned


def test_add_layers_grows_the_model_by_blocks_that_start_as_the_identity(tiny_model_dir, tmp_path):
    """--add_layers puts new blocks on top whose output projections start at zero: the grown model
    keeps every weight and predicts exactly what it did; with --train_added_layers_only the new
    blocks learn and nothing else moves."""
    from velocity_bert import VelocityBertForMaskedVelocity

    layers = json.loads((tiny_model_dir / "config.json").read_text())["num_hidden_layers"]
    new = f"velocity_bert.layers.{layers}."
    before = load_file(tiny_model_dir / "model.safetensors")
    grown, trained = tmp_path / "grown", tmp_path / "trained"
    done = fine_tune(tiny_model_dir, tmp_path, grown, ["--add_layers", "1", "--learning_rate", "0"])
    assert f"adding 1 block to the model's {layers}" in done.stderr
    assert json.loads((grown / "config.json").read_text())["num_hidden_layers"] == layers + 1
    after = load_file(grown / "model.safetensors")
    assert {k for k in after if k not in before} == {k for k in after if k.startswith(new)}
    for key, value in before.items():
        assert torch.equal(value, after[key]), key
    for key in ("attention.out.weight", "attention.out.bias", "mlp.2.weight", "mlp.2.bias"):
        assert not after[new + key].any(), key
    assert after[new + "attention.qkv.weight"].any()  # random inputs, so the block can learn
    tok = VelocityBertTokenizer.from_pretrained(grown)
    ids = torch.as_tensor(tok.window(tok.encode(load_notes(make_score(80, seed=5))), 0, 64))[None]
    old_model, new_model = (VelocityBertForMaskedVelocity.from_pretrained(d).eval() for d in (tiny_model_dir, grown))
    with torch.no_grad():
        assert torch.equal(old_model(ids).logits, new_model(ids).logits)

    fine_tune(
        tiny_model_dir, tmp_path, trained, ["--add_layers", "1", "--train_added_layers_only", "--learning_rate", "0.1"]
    )
    after = load_file(trained / "model.safetensors")
    for key, value in before.items():
        assert torch.equal(value, after[key]), key
    assert after[new + "mlp.2.weight"].any() and after[new + "attention.out.weight"].any()  # they learned


def test_help_lists_every_option_of_ours():
    """`python train.py --help` is where a user starts; a stray % in a help text used to crash it."""
    import dataclasses

    import train

    done = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), "--help"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr[-2000:]
    for group in (train.ModelArguments, train.DataArguments, train.MaskingArguments):
        for field in dataclasses.fields(group):
            assert field.metadata.get("help"), f"--{field.name} has no help"
            assert f"--{field.name} " in done.stdout or f"--{field.name}\n" in done.stdout, field.name
    assert "share of sequences with 15% random notes hidden" in " ".join(done.stdout.split())


def test_fine_tune_on_a_flat_folder_of_ones_own_files(tiny_model_dir, tmp_path):
    """Files side by side share one hashed split: train.py holds some out to validate on instead
    of failing, and a folder it cannot train on gets one line, not a traceback. Gradient
    checkpointing on, as someone fine-tuning a bigger model on a small GPU would ask."""
    data = tmp_path / "mine"
    for i in range(4):
        write_midi(data / f"take{i}.mid", seed=i)
    (data / "zz_broken.mid").write_bytes(b"MThd")  # sorts last, so it lands in train
    out = tmp_path / "run"
    common = ["--output_dir", str(out), "--cache_dir", str(tmp_path / "cache"), "--report_to", "none"]
    done = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), "--data_dir", str(data), "--model_name_or_path", str(tiny_model_dir)]
        + common
        + ["--max_steps", "2", "--per_device_train_batch_size", "2", "--num_proc", "1", "--activation_checkpointing"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "4 train files, 1 validation files" in done.stderr
    skipped = f"train: 1 of 4 files skipped (unreadable, missing or no notes): {data / 'zz_broken.mid'}\n"
    assert skipped in done.stderr  # said, not silently dropped
    assert json.loads((out / "eval_results.json").read_text())["eval_count"] >= 1  # hidden notes scored
    for i in range(4):  # nothing readable left to train on: one line, and no run folder
        (data / f"take{i}.mid").write_bytes(b"not MIDI")
    unreadable = tmp_path / "run2"
    done = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), "--data_dir", str(data), "--output_dir", str(unreadable)]
        + common[2:]
        + ["--num_proc", "1"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert "none of the 4 train files could be read into notes" in done.stderr and not unreadable.exists()
    for i in (1, 2, 3):
        (data / f"take{i}.mid").unlink()
    (data / "zz_broken.mid").unlink()
    done = subprocess.run(
        [sys.executable, str(ROOT / "train.py"), "--data_dir", str(data)] + common,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "needs at least 2 MIDI files" in done.stderr and "Traceback" not in done.stderr


def test_readme_fine_tune_block_runs_as_written(tmp_path):
    """The README's stock-Trainer example, verbatim but for fewer steps, on files of one's own."""
    readme = (ROOT / "README.md").read_text()
    code = readme.split("<!-- python: fine-tune -->\n```python\n", 1)[1].split("```", 1)[0]
    assert "max_steps=200" in code
    (tmp_path / "example.py").write_text(code.replace("max_steps=200", "max_steps=2"))
    for i in range(3):
        write_midi(tmp_path / "my_midi" / f"take{i}.mid", seed=i)
    done = subprocess.run([sys.executable, "example.py"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    import velocity_bert as vb

    take = tmp_path / "my_midi" / "take0.mid"
    assert len(vb.load_pipeline(str(tmp_path / "my_model"))(str(take))["velocities"]) == len(vb.load_notes(take))
    trained = load_file(tmp_path / "my_model" / "model.safetensors")
    bundled = load_file(Path(vb.DEFAULT_MODEL) / "model.safetensors")
    assert any(not torch.equal(trained[k].float(), bundled[k].float()) for k in bundled)  # it trained


def test_lora_fine_tune_merges_into_a_model_folder(tiny_model_dir, tmp_path):
    """The README's LoRA recipe: PEFT adapters on the attention, the head trained in full, gradient
    checkpointing on, merged back into a plain model folder that the pipeline loads."""
    peft = pytest.importorskip("peft")
    from transformers import Trainer, TrainingArguments

    import velocity_bert as vb
    from velocity_bert.data import WindowArrays, build_windows
    from velocity_bert.masking import MaskingCollator

    model = vb.VelocityBertForMaskedVelocity.from_pretrained(tiny_model_dir)
    tokenizer = vb.VelocityBertTokenizer.from_pretrained(tiny_model_dir)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    for i in range(2):
        write_midi(tmp_path / "mine" / f"take{i}.mid", seed=i)
    windows = WindowArrays(build_windows(sorted((tmp_path / "mine").glob("*.mid")), tokenizer, 64, overlap=16))
    lora = peft.LoraConfig(r=4, target_modules=["qkv", "out"], modules_to_save=["head"])
    model = peft.get_peft_model(model, lora)
    args = TrainingArguments(
        str(tmp_path / "run"),
        max_steps=3,
        per_device_train_batch_size=2,
        learning_rate=1e-2,
        remove_unused_columns=False,
        activation_checkpointing=True,  # gradient_checkpointing before transformers renamed it
        report_to="none",
        use_cpu=True,
    )
    collator = MaskingCollator(
        velocity_offset=model.config.velocity_token_offset, num_levels=model.config.num_velocity_levels
    )
    Trainer(model=model, args=args, train_dataset=windows, data_collator=collator).train()
    merged = model.merge_and_unload()
    vb.save_model_folder(merged, tokenizer, tmp_path / "merged")
    after = vb.VelocityBertForMaskedVelocity.from_pretrained(tmp_path / "merged").state_dict()
    assert after.keys() == before.keys()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert any(".qkv." in k for k in changed) and any(k.startswith("head.") for k in changed)
    assert not any("embeddings" in k or "norm" in k for k in changed)  # frozen outside the adapters
    out = vb.load_pipeline(str(tmp_path / "merged"))(str(tmp_path / "mine" / "take0.mid"))
    assert len(out["velocities"]) == len(vb.load_notes(tmp_path / "mine" / "take0.mid"))

import json

import velocity_bert as vb
from tests.conftest import make_score, tiny_config
from velocity_bert.analysis import KINDS, analyze, findings, write_outputs


def test_analysis_outputs(tiny_model_dir, tmp_path):
    data = tmp_path / "data"
    for i in range(30):
        (data / f"piece{i}").mkdir(parents=True)
        make_score(150, seed=i, drums=False).dump_midi(str(data / f"piece{i}" / "p.mid"))
    pipe = vb.load_pipeline(str(tiny_model_dir), dtype="float32")  # as `velocity-bert analyze` loads it
    report = analyze(pipe.model, pipe.velocity_tokenizer, data, split="train", files=3)
    layers = pipe.model.config.num_hidden_layers
    assert len(report["lift"]) == layers and len(report["lift"][0]) == len(KINDS)
    assert abs(sum(report["grad_x_input_share"].values()) - 1) < 1e-6
    # attention shares over the exclusive note-distance kinds plus self add up to 1
    notes_kinds = [KINDS.index(k) for k in KINDS if k.endswith("notes")]
    for layer in range(layers):
        total = sum(report["attention_share"][layer][k] for k in notes_kinds) + report["self_attention"][layer]
        assert abs(total - 1) < 1e-4
    out = write_outputs(report, tmp_path / "out")
    assert json.loads((out / "analysis.json").read_text())["queries"] == report["queries"]
    assert (out / "attention_lift.png").stat().st_size > 1000
    text = (out / "analysis.md").read_text()
    assert all(claim in text for claim, _, _ in findings(report))


def test_analysis_of_a_marking_model_covers_the_six_note_fields(tmp_path):
    """A recording holds padding in the marking field: ablating it would cost nothing and make
    "timing matters least" fail for a reason that has nothing to do with timing."""
    data = tmp_path / "data"
    for i in range(3):
        (data / f"piece{i}").mkdir(parents=True)
        make_score(150, seed=i, drums=False).dump_midi(str(data / f"piece{i}" / "p.mid"))
    tok = vb.VelocityBertTokenizer(markings=True)
    model = vb.VelocityBertForMaskedVelocity(tiny_config(field_vocab_sizes=tok.field_vocab_sizes))
    report = analyze(model, tok, data, split="train", files=3)
    assert list(report["ablation_loss_increase"]) == list(vb.VelocityBertTokenizer().fields)
    assert abs(sum(report["grad_x_input_share"].values()) - 1) < 1e-6

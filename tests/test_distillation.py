import pytest
import torch
from transformers import TrainingArguments

from tests.conftest import tiny_config
from velocity_bert import VelocityBertForMaskedVelocity, VelocityBertTokenizer, load_notes
from velocity_bert.distillation import DistillationTrainer, load_teachers
from velocity_bert.masking import MaskingCollator


def test_distillation_mixes_true_levels_and_teachers_mean(tmp_path, midi_file):
    """Training loss: (1 - w) x cross-entropy on the true levels + w x cross-entropy against the
    teachers' mean distribution, on the same hidden notes; evaluation keeps the plain loss."""
    tok = VelocityBertTokenizer()
    config = tiny_config(
        field_vocab_sizes=tok.field_vocab_sizes, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0
    )
    notes = load_notes(midi_file)
    row = {"input_ids": tok.window(tok.encode(notes), 0, 64), "levels": tok.velocity_to_level(notes.velocity)[:64]}
    inputs = MaskingCollator(seed=0)([row, row])
    models = []
    for seed in range(3):
        torch.manual_seed(seed)
        models.append(VelocityBertForMaskedVelocity(config))
    student, teachers = models[0], models[1:]
    with torch.no_grad():  # untrained models are near uniform; sharp teachers tell the two terms apart
        for p in (p for t in teachers for p in t.parameters()):
            p.normal_(0.0, 0.5)
    args = TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to="none")
    trainer = DistillationTrainer(teachers=teachers, distill_weight=0.25, model=student, args=args)
    where = inputs["labels"] != -100
    with torch.no_grad():
        target = torch.stack([t(**inputs).logits[where].softmax(-1) for t in teachers]).mean(0)
        out = student(**inputs)
        soft = -(target * out.logits[where].log_softmax(-1)).sum(-1).mean()
        student.train()
        loss = trainer.compute_loss(student, inputs)
        student.eval()
        plain = trainer.compute_loss(student, inputs)
    assert soft > 0 and abs(soft - out.loss) > 0.01  # the two terms differ, so the mix is seen
    torch.testing.assert_close(loss, 0.75 * out.loss + 0.25 * soft)
    torch.testing.assert_close(plain, out.loss)
    assert not any(p.requires_grad for t in teachers for p in t.parameters())


def test_teachers_must_read_the_models_tokens(tiny_model_dir):
    tok = VelocityBertTokenizer()
    config = tiny_config(field_vocab_sizes=tok.field_vocab_sizes)
    assert len(load_teachers([str(tiny_model_dir)], config, tok)) == 1
    # Same vocabulary sizes, other durations: the teacher would misread the student's ids.
    with pytest.raises(ValueError, match="tokens or levels differ"):
        load_teachers([str(tiny_model_dir)], config, VelocityBertTokenizer(sustain_pedal=True))
    with pytest.raises(ValueError, match="tokens or levels differ"):
        load_teachers([str(tiny_model_dir)], tiny_config(num_velocity_levels=16), tok)
    with pytest.raises(ValueError, match="--distill_from"):
        load_teachers([str(tiny_model_dir / "missing")], config, tok)

import pytest
import torch
from transformers import TrainingArguments

from tests.conftest import tiny_config
from velocity_bert import VelocityBertForMaskedVelocity, VelocityBertTokenizer, load_notes
from velocity_bert.masking import MaskingCollator
from velocity_bert.soft_targets import SoftTargetTrainer, load_teachers, ordinal_targets


def tiny_config_and_batch(midi_file):
    """A tiny model's config without dropout (so train and eval mode give the same logits) and a
    masked batch of two windows of the file."""
    tok = VelocityBertTokenizer()
    config = tiny_config(
        field_vocab_sizes=tok.field_vocab_sizes, hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0
    )
    notes = load_notes(midi_file)
    row = {"input_ids": tok.window(tok.encode(notes), 0, 64), "levels": tok.velocity_to_level(notes.velocity)[:64]}
    return config, MaskingCollator(seed=0)([row, row])


def test_distillation_mixes_true_levels_and_teachers_mean(tmp_path, midi_file):
    """Training loss: (1 - w) x cross-entropy on the true levels + w x cross-entropy against the
    teachers' mean distribution, on the same hidden notes; evaluation keeps the plain loss."""
    config, inputs = tiny_config_and_batch(midi_file)
    models = []
    for seed in range(3):
        torch.manual_seed(seed)
        models.append(VelocityBertForMaskedVelocity(config))
    student, teachers = models[0], models[1:]
    with torch.no_grad():  # untrained models are near uniform; sharp teachers tell the two terms apart
        for p in (p for t in teachers for p in t.parameters()):
            p.normal_(0.0, 0.5)
    args = TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to="none")
    trainer = SoftTargetTrainer(teachers=teachers, distill_weight=0.25, model=student, args=args)
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


def test_ordinal_targets_spread_each_level_over_its_neighbours():
    levels = torch.tensor([0, 15, 31])
    torch.testing.assert_close(ordinal_targets(levels, 32, 0.0), torch.nn.functional.one_hot(levels, 32).float())
    t = ordinal_targets(levels, 32, 1.0)
    torch.testing.assert_close(t.sum(-1), torch.ones(3))
    assert t.argmax(-1).tolist() == [0, 15, 31]
    mid = t[1]
    torch.testing.assert_close(mid[14], mid[16])  # symmetric away from the ends
    assert mid[15] > mid[14] > mid[13] > mid[12] > 0
    assert abs(mid[14] / mid[15] - torch.exp(torch.tensor(-0.5))) < 1e-6  # one sigma away
    assert t[2, 31] > mid[15] and t[2, 31] == t[0, 0]  # cut at the ends, renormalised
    assert ordinal_targets(levels, 32, 0.5)[1, 15] > mid[15]  # narrower: more on the true level


def test_label_sigma_trains_toward_neighbouring_levels(tmp_path, midi_file):
    """Without teachers, the training loss is the cross-entropy against the Gaussian targets;
    evaluation keeps the plain loss; with teachers, the spread true levels take the (1 - w) share."""
    config, inputs = tiny_config_and_batch(midi_file)
    torch.manual_seed(0)
    model, teacher = VelocityBertForMaskedVelocity(config), VelocityBertForMaskedVelocity(config)
    with torch.no_grad():
        for p in model.parameters():  # a sharp model, so the spread targets score differently
            p.normal_(0.0, 0.5)
    args = TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to="none")
    trainer = SoftTargetTrainer(label_sigma=1.5, model=model, args=args)
    where = inputs["labels"] != -100
    with torch.no_grad():
        out = model(**inputs)
        log_probs = out.logits[where].log_softmax(-1)
        spread = -(ordinal_targets(inputs["labels"][where], 32, 1.5) * log_probs).sum(-1).mean()
        model.train()
        loss = trainer.compute_loss(model, inputs)
        mixed = SoftTargetTrainer(teachers=[teacher], distill_weight=0.25, label_sigma=1.5, model=model, args=args)
        mixed_loss = mixed.compute_loss(model, inputs)
        taught = -(teacher(**inputs).logits[where].softmax(-1) * log_probs).sum(-1).mean()
        model.eval()
        plain = trainer.compute_loss(model, inputs)
    assert abs(spread - out.loss) > 0.01
    torch.testing.assert_close(loss, spread)
    torch.testing.assert_close(mixed_loss, 0.75 * spread + 0.25 * taught)
    torch.testing.assert_close(plain, out.loss)


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

"""Training toward teacher models' predictions as well as the true levels (knowledge distillation).

Run 10 and a rotary-position model of its size, their predicted distributions averaged, beat either
alone on validation (BENCHMARKS.md, "A second model?"), but the pair costs twice the work per note
and twice the package size. Distillation (Hinton et al. 2015) tries to put what the pair knows into
one model of the shipped size. Used by train.py's `--distill_from`.
"""

from __future__ import annotations

import torch
from transformers import Trainer

from .configuration_velocity_bert import VelocityBertConfig
from .modeling_velocity_bert import VelocityBertForMaskedVelocity
from .tokenization_velocity_bert import VelocityBertTokenizer


class DistillationTrainer(Trainer):
    """Trainer whose training loss mixes the true levels' cross-entropy with the cross-entropy
    against the teachers' mean distribution on the same hidden notes.
    Evaluation keeps the plain loss, so eval_loss still picks checkpoints as in any other run.
    Hand-written: transformers has no distillation trainer."""

    def __init__(self, *args, teachers: list[torch.nn.Module], distill_weight: float, **kwargs):
        super().__init__(*args, **kwargs)
        self.teachers = [t.to(self.args.device).eval().requires_grad_(False) for t in teachers]
        self.distill_weight = distill_weight

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if not (self.teachers and model.training):
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        outputs = model(**inputs)
        where = inputs["labels"] != -100
        with torch.no_grad():
            target = torch.stack([t(**inputs).logits[where].float().softmax(-1) for t in self.teachers]).mean(0)
        soft = -(target * outputs.logits[where].float().log_softmax(-1)).sum(-1).mean()
        loss = (1 - self.distill_weight) * outputs.loss + self.distill_weight * soft
        return (loss, outputs) if return_outputs else loss


def load_teachers(
    paths: list[str], config: VelocityBertConfig, tokenizer: VelocityBertTokenizer
) -> list[VelocityBertForMaskedVelocity]:
    """The teacher models, or a ValueError naming the one that cannot teach this model: a teacher
    reads the student's ids, so its tokenizer must make the same ones."""
    teachers = []
    for path in paths:
        try:
            teacher = VelocityBertForMaskedVelocity.from_pretrained(path)
            theirs = VelocityBertTokenizer.from_pretrained(path)
        except (OSError, ValueError) as err:
            raise ValueError(f"--distill_from {path}: {str(err).splitlines()[0]}") from None
        if theirs != tokenizer or teacher.config.num_velocity_levels != config.num_velocity_levels:
            raise ValueError(f"--distill_from {path}: its tokens or levels differ from the trained model's")
        teachers.append(teacher)
    return teachers

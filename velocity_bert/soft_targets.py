"""Training toward soft targets instead of one-hot levels: neighbouring levels, teacher models.

Two reasons to want more than the true level's cross-entropy:
- The 32 levels are ordered and 4 velocity units wide, so a guess one level off is nearly right,
  yet plain cross-entropy scores it like a guess 20 levels off. `label_sigma` spreads each true
  level over its neighbours (a Gaussian in levels), as in label distribution learning for ordered
  targets (Gao et al. 2017, "Deep Label Distribution Learning With Label Ambiguity").
- Run 10 and a rotary-position model of its size, their predicted distributions averaged, beat either
  alone on validation (BENCHMARKS.md, "A second model?"), but the pair costs twice the work per note
  and twice the package size. Distillation (Hinton et al. 2015) tries to put what the pair knows into
  one model of the shipped size. Used by train.py's `--distill_from`; run 11, the bundled model's
  ancestor, is run 10 distilled toward itself and a rotary teacher, which kept under half of the
  pair's gain.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from transformers import Trainer

from .configuration_velocity_bert import VelocityBertConfig
from .modeling_velocity_bert import VelocityBertForMaskedVelocity
from .tokenization_velocity_bert import VelocityBertTokenizer


def ordinal_targets(levels: torch.Tensor, num_levels: int, sigma: float) -> torch.Tensor:
    """[n] true levels -> [n, num_levels] distributions: one-hot at sigma 0, else a Gaussian of
    width `sigma` levels around the true level, cut at the scale's ends and renormalised (so a
    note at the loudest level keeps most of its weight there)."""
    if sigma == 0:
        return torch.nn.functional.one_hot(levels, num_levels).float()
    grid = torch.arange(num_levels, device=levels.device, dtype=torch.float32)
    weights = torch.exp(-0.5 * ((grid - levels[:, None].float()) / sigma) ** 2)
    return weights / weights.sum(-1, keepdim=True)


class SoftTargetTrainer(Trainer):
    """Trainer whose training loss is the cross-entropy against the true levels, spread over their
    neighbours when `label_sigma` > 0, mixed with the cross-entropy against the teachers' mean
    distribution on the same hidden notes (weight `distill_weight`) when there are teachers.
    Evaluation keeps the plain loss, so eval_loss still picks checkpoints, and compares runs, as in
    any other run. Hand-written: transformers has neither a distillation nor a soft-label trainer."""

    def __init__(
        self,
        *args,
        teachers: Sequence[torch.nn.Module] = (),
        distill_weight: float = 0.5,
        label_sigma: float = 0.0,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.teachers = [t.to(self.args.device).eval().requires_grad_(False) for t in teachers]
        self.distill_weight = distill_weight
        self.label_sigma = label_sigma

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if not ((self.teachers or self.label_sigma) and model.training):
            return super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
        outputs = model(**inputs)
        labels = inputs["labels"]
        where = labels != -100
        log_probs = outputs.logits[where].float().log_softmax(-1)

        def cross_entropy(target: torch.Tensor) -> torch.Tensor:
            return -(target * log_probs).sum(-1).mean()

        loss = outputs.loss
        if self.label_sigma:
            loss = cross_entropy(ordinal_targets(labels[where], log_probs.shape[-1], self.label_sigma))
        if self.teachers:
            with torch.no_grad():
                target = torch.stack([t(**inputs).logits[where].float().softmax(-1) for t in self.teachers]).mean(0)
            loss = (1 - self.distill_weight) * loss + self.distill_weight * cross_entropy(target)
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

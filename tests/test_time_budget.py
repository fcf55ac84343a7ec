"""benchmarks/gpu/budget_train.py: a run cut to a time budget must equal train.py with that --max_steps."""

import json

import pytest
import torch
from transformers import TrainerControl, TrainerState, TrainingArguments, get_cosine_schedule_with_warmup

from tests.conftest import import_script


@pytest.fixture(scope="module")
def budget_module():
    return import_script("benchmarks/gpu/budget_train.py")


def schedule(total):
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    return get_cosine_schedule_with_warmup(optimizer, num_warmup_steps=10, num_training_steps=total)


def training_args(tmp_path, warmup_steps):
    return TrainingArguments(
        output_dir=str(tmp_path),
        eval_steps=50,
        max_steps=6000,
        warmup_steps=warmup_steps,
        report_to="none",
        use_cpu=True,
    )


def advance(scheduler):
    scheduler.optimizer.step()  # as Trainer does, so torch does not warn about the order
    scheduler.step()


def test_budget_sets_max_steps_and_rebuilds_the_cosine(budget_module, tmp_path, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(budget_module.time, "time", lambda: clock[0])
    # 0.5 s a step, 100 s left at the measurement, 10 s reserved, evaluations 2 s every 50 steps.
    budget = budget_module.TimeBudget(deadline=1000.0 + 20 * 0.5 + 100, measure=(4, 8), reserve_s=10, eval_cost_s=2)
    args = training_args(tmp_path, warmup_steps=10)
    state, control = TrainerState(max_steps=6000), TrainerControl()
    budget.on_train_begin(args, state, control)
    cut = schedule(6000)
    for step in range(1, 9):
        state.global_step = step
        advance(cut)
        budget.on_step_end(args, state, control, lr_scheduler=cut)
        if step < 8:
            clock[0] += 0.5 if step >= 4 else 5.0  # the first steps are slow (start-up), not measured
    # What is left after step 8, less the reserve, over the time a step and its share of evaluations take.
    left = 1000.0 + 20 * 0.5 + 100 - clock[0] - 10
    expected = (8 + int(left / (0.5 + 2 / 50))) // 50 * 50
    assert state.max_steps == args.max_steps == budget.target == expected
    assert json.loads((tmp_path / "budget.json").read_text())["max_steps"] == expected
    assert not control.should_training_stop

    plain = schedule(expected)
    for _ in range(8):
        advance(plain)
    for step in range(9, expected + 1):  # the rest of the run: the same learning rates as a plain run
        state.global_step = step
        advance(cut)
        advance(plain)
        assert cut.get_last_lr() == pytest.approx(plain.get_last_lr())
        budget.on_step_end(args, state, control, lr_scheduler=cut)
        assert control.should_training_stop == (step == expected)
    assert control.should_evaluate and control.should_save  # the last step is evaluated and kept


@pytest.mark.parametrize("warmup_steps", [5, 0.1])  # ends before the measurement; a ratio of the total
def test_budget_refuses_a_schedule_it_cannot_cut_exactly(budget_module, tmp_path, warmup_steps):
    budget = budget_module.TimeBudget(deadline=0.0, measure=(4, 8))
    with pytest.raises(SystemExit, match="warmup_steps"):
        budget.on_train_begin(training_args(tmp_path, warmup_steps), TrainerState(), TrainerControl())

"""train.py with a wall-clock budget: cuts --max_steps so the cosine schedule ends by DEADLINE.

    DEADLINE=$(( $(date +%s) + 400 )) python benchmarks/gpu/budget_train.py TRAIN_PY_ARGS...

A lent GPU comes for minutes, not epochs, and the speed of two runs sharing it is only known once
they run. This times steps MEASURE_FROM..MEASURE_TO (inside warm-up, where the learning rate does
not depend on the total), then sets max_steps so that training, its evaluations and saves end
before DEADLINE (epoch seconds), and rebuilds the cosine with that total. The run is then the same
as plain train.py with that --max_steps, which it writes to budget.json in the output folder.
Hand-written: Trainer has no time budget (max_steps and num_train_epochs only).
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time
from pathlib import Path

from transformers import TrainerCallback

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # train.py at the repository root
import train  # noqa: E402


class TimeBudget(TrainerCallback):
    def __init__(self, deadline: float, measure=(40, 80), reserve_s: float = 25.0, eval_cost_s: float = 4.0):
        self.deadline, self.measure = deadline, measure
        self.reserve_s = reserve_s  # final evaluation, save, best-model reload, last evaluate
        self.eval_cost_s = eval_cost_s  # each periodic evaluation and checkpoint
        self.t0, self.target = None, None

    def on_train_begin(self, args, state, control, **kwargs):
        # Cut after warm-up, the cosine would already have run on the old total; a warm-up ratio
        # would itself change with the total. Either way the run would not equal a plain one.
        if args.warmup_steps < max(1, self.measure[1]):
            raise SystemExit(
                f"budget_train.py needs --warmup_steps of at least {self.measure[1]} steps (a count, not a "
                "ratio): it sets max_steps inside warm-up, where the schedule does not depend on it"
            )

    def on_step_end(self, args, state, control, lr_scheduler=None, **kwargs):
        first, last = self.measure
        if state.global_step == first:
            self.t0 = time.time()
        elif state.global_step == last and self.t0 is not None:
            per_step = (time.time() - self.t0) / (last - first)
            left = self.deadline - time.time() - self.reserve_s
            steps = int(left / (per_step + self.eval_cost_s / args.eval_steps))
            self.target = max(last + 1, min(state.max_steps, last + steps) // 50 * 50)
            schedule = getattr(lr_scheduler, "scheduler", lr_scheduler)  # accelerate may wrap it
            lr_lambda = schedule.lr_lambdas[0]
            if "num_training_steps" not in getattr(lr_lambda, "keywords", {}):
                raise SystemExit("budget_train.py needs a schedule with num_training_steps (linear, cosine)")
            schedule.lr_lambdas[0] = functools.partial(
                lr_lambda.func, *lr_lambda.args, **{**lr_lambda.keywords, "num_training_steps": self.target}
            )
            state.max_steps = args.max_steps = self.target
            budget = {"max_steps": self.target, "s_per_step": per_step, "measured_steps": [first, last]}
            Path(args.output_dir, "budget.json").write_text(json.dumps(budget))
            print(f"[budget] {per_step:.3f} s/step -> max_steps {self.target}", flush=True)
        if self.target is not None and state.global_step >= self.target:
            control.should_evaluate = control.should_save = control.should_training_stop = True
        return control


if __name__ == "__main__":
    env = os.environ
    budget = TimeBudget(
        float(env["DEADLINE"]),
        (int(env.get("MEASURE_FROM", 40)), int(env.get("MEASURE_TO", 80))),
        float(env.get("RESERVE_S", 25)),
        float(env.get("EVAL_COST_S", 4)),
    )
    sys.argv[0] = "train.py"  # run_arguments.json records the train.py command it equals
    train.main(callbacks=[budget])

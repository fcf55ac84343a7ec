"""The per-run validation tables of BENCHMARKS.md ("Training runs"), printed from the Trainer's own
log in a run folder, so they are copied from the run, never typed in.

    python benchmarks/validation_table.py runs/cont4
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from velocity_bert.export import trainer_state_path


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--label", default="run", help="column header, e.g. 'run 4'")
    args = parser.parse_args()
    state = trainer_state_path(args.run_dir)  # the last one holds every evaluation, resumed parts included
    if state is None:
        raise SystemExit(f"error: no trainer_state.json in {args.run_dir}")
    evals = [h for h in json.loads(state.read_text())["log_history"] if "eval_loss" in h]
    print(f"| step ({args.label}) | eval loss | exact | within 1 | MAE (level velocities) | SD of pred. |")
    print("|---|---|---|---|---|---|")
    for h in evals:
        print(
            f"| {h['step']} | {h['eval_loss']:.3f} | {h['eval_exact']:.1%} | {h['eval_within_one']:.1%} "
            f"| {h['eval_mae']:.2f} | {h['eval_pred_sd']:.1f} |"
        )
    if evals:
        print(f"\nconstant (train median level) MAE on these notes: {evals[0]['eval_baseline_mae']:.2f}")


if __name__ == "__main__":
    main()

"""Peak memory and step time of one training step with and without gradient checkpointing
(Trainer's `--activation_checkpointing`, formerly `--gradient_checkpointing`), for a model of the bundled model's size.

    python benchmarks/checkpointing_memory.py [--batch 8] [--steps 3] [--json benchmarks/results/checkpointing.json]

Each setting runs in a fresh process, so the peak resident memory is that setting's alone. The ids
are random (a step costs the same whatever the notes are); 15% of the velocities are hidden, as in
training. On a GPU the peak is torch's allocator's.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path


def one_setting(checkpointing: bool, batch: int, steps: int) -> dict:
    import torch

    import velocity_bert as vb

    config = vb.VelocityBertConfig.from_pretrained(vb.DEFAULT_MODEL)
    torch.manual_seed(0)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = vb.VelocityBertForMaskedVelocity(config).to(device).train()
    if checkpointing:
        (getattr(model, "activation_checkpointing_enable", None) or model.gradient_checkpointing_enable)()
    sizes = torch.tensor(config.field_vocab_sizes)
    ids = 4 + (torch.rand(batch, config.window_length, len(sizes)) * (sizes - 4)).long()
    hidden = torch.rand(batch, config.window_length) < 0.15
    ids[..., config.velocity_field][hidden] = config.mask_token_id
    labels = torch.where(hidden, torch.randint(0, config.num_velocity_levels, hidden.shape), -100)
    ids, labels = ids.to(device), labels.to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    times = []
    for _ in range(steps + 1):  # the first is a warm-up
        start = time.perf_counter()
        model(ids, labels=labels).loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    peak = (
        torch.cuda.max_memory_allocated() / 2**20
        if device == "cuda"
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    )
    return {
        "gradient_checkpointing": checkpointing,
        "device": device,
        "batch": batch,
        "window_length": config.window_length,
        "step_seconds_median": sorted(times[1:])[len(times[1:]) // 2],
        "peak_mib": round(peak),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--json", default=None)
    parser.add_argument("--one", choices=["on", "off"], help=argparse.SUPPRESS)  # the child process
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one_setting(args.one == "on", args.batch, args.steps)))
        return
    rows = []
    for setting in ("off", "on"):
        done = subprocess.run(
            [sys.executable, __file__, "--one", setting, "--batch", str(args.batch), "--steps", str(args.steps)],
            capture_output=True,
            text=True,
            check=True,
        )
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    for row in rows:
        print(
            f"gradient checkpointing {'on ' if row['gradient_checkpointing'] else 'off'}: "
            f"{row['step_seconds_median']:.2f} s per step, peak {row['peak_mib']:,} MiB "
            f"({row['batch']} x {row['window_length']} notes, {row['device']})"
        )
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""How much of the `all` error is the performance's overall loudness, which no note-only model can
know (the piano, the recording, the player's touch), and how much is the shape of the dynamics?

    python benchmarks/level_vs_shape.py [--model DIR] [--split validation] [--files N] [--json F]

Every velocity hidden, default decoding. Reports MAE as predicted; after moving each file's
predictions so their median matches the file's true median (an oracle for the level only: the
shape stays the model's); a constant at each file's true median (level, no shape); and the
train-median constant (neither).
"""

from __future__ import annotations

import argparse
import json

import numpy as np

import velocity_bert as vb
from velocity_bert.data import list_files
from velocity_bert.decoding import predict_velocities
from velocity_bert.evaluation import train_median
from velocity_bert.notes import MidiInputError


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=vb.DEFAULT_MODEL)
    parser.add_argument("--data", default="../shared/data/asap")
    parser.add_argument("--split", default="validation", choices=("validation", "test"))
    parser.add_argument("--files", type=int, default=0, help="first N files of the split (0: all)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    model = vb.VelocityBertForMaskedVelocity.from_pretrained(args.model).eval()
    tokenizer = vb.VelocityBertTokenizer.from_pretrained(args.model)
    constant = train_median(args.data)
    errors = {"model": [], "model, level from the truth": [], "true median of the file": [], "train median": []}
    offsets = []
    for path in list_files(args.data, args.split)[: args.files or None]:
        try:
            notes = vb.load_notes(path)
        except MidiInputError:
            continue
        true = notes.velocity.astype(np.float64)
        pred = predict_velocities(model, tokenizer, notes).astype(np.float64)
        offset = np.median(true) - np.median(pred)
        offsets.append(offset)
        errors["model"].append(np.abs(pred - true))
        errors["model, level from the truth"].append(np.abs(np.clip(np.rint(pred + offset), 1, 127) - true))
        errors["true median of the file"].append(np.abs(np.median(true) - true))
        errors["train median"].append(np.abs(constant - true))
    report = {name: float(np.concatenate(e).mean()) for name, e in errors.items()}
    report["files"] = len(offsets)
    report["level_error_per_file"] = {
        "mean_abs": float(np.mean(np.abs(offsets))),
        "sd": float(np.std(offsets)),
    }
    for name in errors:
        print(f"{name:32s} MAE {report[name]:.2f}")
    level = report["level_error_per_file"]
    print(
        f"files {len(offsets)}; |true - predicted median| per file: mean {level['mean_abs']:.2f}, SD {level['sd']:.2f}"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()

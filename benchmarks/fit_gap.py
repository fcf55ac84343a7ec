"""Is the model short of capacity and training, or of data? The same evaluation on performances it
was trained on and on validation performances it never saw, with the same number of files.

    python benchmarks/fit_gap.py MODEL [--settings random15 all] [--files 110] [--json F]

If the train files score about as well as validation, the model has not even fitted what it saw:
more compute or a larger model is the lever. If they score far better, it has learnt those
performances rather than their rules, and more data is. The train files are spread evenly over
the split (it is sorted by composer and piece), so both sides mix composers; they are still other
pieces than validation's, so the baselines that learn nothing (the median of the 16 nearest visible
notes, the train median) are reported on both sides too: their gap is what the pieces alone make.
"""

from __future__ import annotations

import argparse
import json

import velocity_bert as vb
from velocity_bert.data import list_files
from velocity_bert.evaluation import evaluate


def spread(files: list, count: int) -> list:
    """`count` files evenly spaced over `files`, first and last included when possible."""
    if count >= len(files):
        return list(files)
    step = (len(files) - 1) / max(count - 1, 1)
    return [files[round(i * step)] for i in range(count)]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("--data", default="../shared/data/asap")
    parser.add_argument("--settings", nargs="+", default=["random15", "all"])
    parser.add_argument("--files", type=int, default=0, help="files per split (0: as many as validation has)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    model = vb.VelocityBertForMaskedVelocity.from_pretrained(args.model).eval()
    tokenizer = vb.VelocityBertTokenizer.from_pretrained(args.model)
    validation = list_files(args.data, "validation")
    count = args.files or len(validation)
    chosen = {"train": spread(list_files(args.data, "train"), count), "validation": spread(validation, count)}
    rows = []
    print("| setting | split | system | files | exact | within 1 | MAE | piece avg MAE |")
    print("|---|---|---|---|---|---|---|---|")
    for setting in args.settings:
        for split, files in chosen.items():
            report = evaluate(model, tokenizer, args.data, split, setting, seed=0, files=files, progress=False)
            for system, r in report["results"].items():
                rows.append({"setting": setting, "split": split, "system": system, "files": report["files"], **r})
                print(
                    f"| {setting} | {split} | {system} | {report['files']} | {r['exact']:.1%} | {r['within_one']:.1%} "
                    f"| {r['mae']:.2f} | {r['piece_averaged']['mae']:.2f} |",
                    flush=True,
                )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"model": args.model, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    main()

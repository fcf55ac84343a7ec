"""Accuracy against speed for the decoding options (mask-predict passes, window overlap, how the
windows holding a note combine).

Measured on VALIDATION files, so that choosing the defaults never looks at the test split:

    python benchmarks/decoding_tradeoff.py --files 16 [--model DIR] [--json F]
    python benchmarks/decoding_tradeoff.py --table F.json   # BENCHMARKS.md's table from a saved run

For each setting (every velocity hidden, 5-second spans, or a random 15%) and each (passes, overlap,
combine) triple: the velocity measures on the hidden notes, decoding seconds, notes per second and
x real time (the files' total duration over the decoding time). Files are spread evenly over the split's list so
that several pieces are in.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

import velocity_bert as vb
from velocity_bert.data import list_files
from velocity_bert.decoding import DecodingOptions, predict_velocities
from velocity_bert.evaluation import evaluate

ASAP = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "asap"
# (passes, overlap, how windows combine)
GRID = {
    "all": [
        (4, 256, "mean"),
        (3, 256, "mean"),
        (2, 256, "mean"),
        (1, 256, "mean"),
        (2, 128, "mean"),
        (2, 256, "owner"),
        (1, 384, "mean"),
    ],
    "span": [(1, 256, "mean"), (2, 256, "mean"), (4, 256, "mean"), (1, 256, "owner"), (1, 384, "mean")],
    "random15": [(1, 256, "mean"), (4, 256, "mean"), (1, 128, "mean"), (1, 256, "owner"), (1, 384, "mean")],
}


def print_table(report: dict) -> None:
    print("| setting | passes | overlap | windows combine | exact | within 1 | MAE | SD | seconds | x real time |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in report["rows"]:
        print(
            f"| {r['setting']} | {r['passes']} | {r['overlap']} | {r['combine']} | {r['exact']:.1%} "
            f"| {r['within_one']:.1%} | {r['mae']:.2f} | {r['pred_sd']:.1f} | {r['seconds']:.1f} | {r['x_real_time']:.0f}x |"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=vb.DEFAULT_MODEL)
    parser.add_argument("--data", default=str(ASAP))
    parser.add_argument("--files", type=int, default=16)
    parser.add_argument("--json", default=None)
    parser.add_argument("--table", default=None, help="print the markdown table of a saved --json file and stop")
    args = parser.parse_args()
    if args.table:
        print_table(json.loads(Path(args.table).read_text()))
        return
    pipe = vb.load_pipeline(args.model, dtype="float32")  # the dtype of every row in BENCHMARKS.md
    every = list_files(args.data, "validation")
    files = every[:: max(1, len(every) // args.files)][: args.files]
    pieces = [vb.load_notes(f) for f in files]
    notes = sum(len(n) for n in pieces)
    duration = sum(float(np.max(n.onset_sec + n.duration_sec)) for n in pieces)
    predict_velocities(pipe.model, pipe.velocity_tokenizer, pieces[0], None, DecodingOptions())  # warm-up
    rows = []
    for setting, grid in GRID.items():
        for passes, overlap, combine in grid:
            # evaluate() hides the same notes for every option (seed 0, files in the same order).
            report = evaluate(
                pipe.model,
                pipe.velocity_tokenizer,
                args.data,
                setting=setting,
                options=DecodingOptions(passes=passes, overlap=overlap, combine=combine),
                progress=False,
                files=files,
            )
            m, seconds = report["results"]["velocity_bert"], report["decode_seconds"]
            row = {"setting": setting, "passes": passes, "overlap": overlap, "combine": combine, **m}
            row["seconds"] = round(seconds, 2)
            row["notes_per_s"] = round(notes / seconds)
            row["x_real_time"] = round(duration / seconds, 1)
            rows.append(row)
            print(
                f"{setting:<9} passes {passes} overlap {overlap:>3} {combine:<5}: exact {m['exact']:.1%} within1 "
                f"{m['within_one']:.1%} MAE {m['mae']:.2f} SD {m['pred_sd']:.1f} | {seconds:.1f} s, "
                f"{row['x_real_time']}x real time",
                flush=True,
            )
    report = {"model": str(args.model), "files": [str(f) for f in files], "notes": notes}
    report.update(duration_s=round(duration, 1), rows=rows)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

"""The accuracy table of BENCHMARKS.md, printed from the evaluation JSONs that reproduce.sh writes
(so the table is copied from measurements, never typed in). A JSON measured on other weights than
the bundled model's (a report from before the last export, or one without the weights' digest) is
left out and named on stderr, so the table never mixes two models under one name.

    python benchmarks/accuracy_table.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import velocity_bert as vb
from velocity_bert.evaluation import weights_sha256

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
ROWS = [  # (setting, JSON, label of our row, show the baselines)
    ("random15", Path(vb.DEFAULT_MODEL) / "eval_test_random15.json", "**velocity-bert**", True),
    ("random15", RESULTS / "test_random15_mode.json", "velocity-bert (`--estimate mode`)", False),
    ("random15", RESULTS / "test_random15_mean.json", "velocity-bert (`--estimate mean`)", False),
    ("random15", RESULTS / "test_random15_overlap384.json", "velocity-bert (`--overlap 384`)", False),
    ("span", Path(vb.DEFAULT_MODEL) / "eval_test_span.json", "**velocity-bert**", True),
    ("span", RESULTS / "test_span_mode.json", "velocity-bert (`--estimate mode`)", False),
    ("span", RESULTS / "test_span_mean.json", "velocity-bert (`--estimate mean`)", False),
    ("span", RESULTS / "test_span_overlap384.json", "velocity-bert (`--overlap 384`)", False),
    ("all", Path(vb.DEFAULT_MODEL) / "eval_test_all.json", "**velocity-bert**", True),
    ("all", RESULTS / "test_all_mode.json", "velocity-bert (`--estimate mode`)", False),
    ("all", RESULTS / "test_all_mean.json", "velocity-bert (`--estimate mean`)", False),
    ("all", RESULTS / "test_all_2passes.json", "velocity-bert (`--passes 2`, mask-predict)", False),
    ("all", RESULTS / "test_all_overlap384.json", "velocity-bert (`--overlap 384`)", False),
]
NAMES = {"train_median": "train median", "nearest16_median": "median of 16 nearest visible"}


def row(setting: str, label: str, m: dict, passes: int | str = "", overlap: int | str = "") -> str:
    r = m.get("pearson_r_per_file")
    r = f"{r:.2f}" if isinstance(r, float) else ""
    lo, hi = m["mae_ci95"]
    pa = m["piece_averaged"]
    return (
        f"| {setting} | {label} | {m['exact']:.1%} | {m['within_one']:.1%} | {m['mae']:.2f} ({lo:.2f}-{hi:.2f}) "
        f"| {m['within_6.4']:.1%} | {m['within_12.7']:.1%} | {m['pred_sd']:.1f} | {r} | {pa['exact']:.1%} / {pa['mae']:.2f} "
        f"| {passes} | {overlap} |"
    )


def main():
    print(
        "| setting | system | exact | within 1 | MAE (95% CI) | within 6.4 | within 12.7 | SD of pred. "
        "| r per file | piece avg exact / MAE | passes | overlap |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    bundled = weights_sha256(vb.DEFAULT_MODEL)
    for setting, path, label, baselines in ROWS:
        if not path.exists():
            continue
        report = json.loads(path.read_text())
        if report.get("weights_sha256") != bundled:
            print(
                f"left out {path.relative_to(ROOT)}: measured on other weights than the bundled model's",
                file=sys.stderr,
            )
            continue
        print(row(setting, label, report["results"]["velocity_bert"], report["passes"], report["overlap"]))
        if baselines:
            for name, m in report["results"].items():
                if name != "velocity_bert":
                    print(row(setting, NAMES.get(name, name), m))


if __name__ == "__main__":
    main()

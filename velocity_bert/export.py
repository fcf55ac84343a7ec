"""Turn a training checkpoint into the bundled model folder (weights, config, tokenizer file,
training summary, evaluation JSONs, licence note). Code files are not copied here: the installed
package provides them, and `save_model_folder` / `hub_upload.py` write them into exported folders,
so there is one copy of the code.

    python -m velocity_bert.export runs/base/checkpoint-1400 --summary runs/base/summary.json
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from . import DEFAULT_MODEL, VelocityBertForMaskedVelocity, VelocityBertTokenizer

WEIGHTS_LICENSE = """The weights in this folder were trained on the ASAP dataset (Foscarin et al., ISMIR 2020),
performances from the Piano e-Competition, licensed CC BY-NC-SA 4.0. The weights are therefore
licensed CC BY-NC-SA 4.0 as well: attribution, non-commercial use only, share alike.
https://creativecommons.org/licenses/by-nc-sa/4.0/
"""


def export(checkpoint: str | Path, out: str | Path = DEFAULT_MODEL, extra_files: list[str | Path] = ()) -> Path:
    out = Path(out)
    model = VelocityBertForMaskedVelocity.from_pretrained(checkpoint)
    tokenizer = VelocityBertTokenizer.from_pretrained(checkpoint)
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    model.config.custom_pipelines = {
        "velocity-prediction": {
            "impl": "pipeline_velocity_bert.VelocityPredictionPipeline",
            "pt": ["AutoModelForMaskedLM"],
        }
    }
    model.save_pretrained(out)
    for stray in out.glob("*.py"):  # code comes from the installed package (see module docstring)
        stray.unlink()
    tokenizer.save_pretrained(out)
    (out / "LICENSE_WEIGHTS.md").write_text(WEIGHTS_LICENSE)
    state = Path(checkpoint) / "trainer_state.json"
    if state.exists():
        history = json.loads(state.read_text())
        (out / "training_summary.json").write_text(
            json.dumps(
                {
                    "checkpoint": str(checkpoint),
                    "global_step": history.get("global_step"),
                    "best_metric": history.get("best_metric"),
                    "evaluations": [h for h in history["log_history"] if "eval_loss" in h],
                },
                indent=2,
            )
        )
    for f in extra_files:
        shutil.copy(f, out / Path(f).name)
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("checkpoint")
    parser.add_argument("--out", default=DEFAULT_MODEL)
    parser.add_argument("--extra", nargs="*", default=[], help="files to copy in (evaluation JSONs, notes)")
    args = parser.parse_args()
    print(export(args.checkpoint, args.out, args.extra))

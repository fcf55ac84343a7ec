"""Turn a training checkpoint into the bundled model folder (weights, config, tokenizer file,
training summary, evaluation JSONs, licence note). Code files are not copied here: the installed
package provides them, and `save_model_folder` / `hub_upload.py` write them into exported folders,
so there is one copy of the code.

    python -m velocity_bert.export runs/base              # a run folder: its last checkpoint's history
    python -m velocity_bert.export runs/cont --previous velocity_bert/pretrained/velocity-bert-asap/training_summary.json
    python -m velocity_bert.export runs/big --weights_dtype float16   # half the file; still runs in float32
    python -m velocity_bert.export runs/soup --weights_dtype float16  # a folder with its own training_summary.json
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import torch

from . import DEFAULT_MODEL, VelocityBertForMaskedVelocity, VelocityBertTokenizer
from .model_card import fresh_folder, is_model_folder

WEIGHTS_LICENSE = """The weights in this folder were trained on the ASAP dataset (Foscarin et al., ISMIR 2020),
performances from the Piano e-Competition, licensed CC BY-NC-SA 4.0. The weights are therefore
licensed CC BY-NC-SA 4.0 as well: attribution, non-commercial use only, share alike.
https://creativecommons.org/licenses/by-nc-sa/4.0/
"""
MAX_BUNDLED_BYTES = 25 * 2**20  # what the package may carry
WEIGHTS_DTYPES = {"float32": torch.float32, "float16": torch.float16}


def trainer_state_path(folder: Path) -> Path | None:
    """trainer_state.json of a checkpoint, or of the last checkpoint in a run folder (train.py saves
    the best model at the top of the run folder, without Trainer's state)."""
    if (folder / "trainer_state.json").exists():
        return folder / "trainer_state.json"
    checkpoints = sorted(folder.glob("checkpoint-*/trainer_state.json"), key=lambda p: int(p.parent.name.split("-")[1]))
    return checkpoints[-1] if checkpoints else None


def run_summary(checkpoint: str | Path) -> dict | None:
    """What a run folder or checkpoint says of its own training: the last checkpoint's evaluations,
    and train.py's recipe and Trainer's final metrics when the run wrote them. A run saved without
    checkpoints (--save_strategy no: a model changed in shape only, like --markings at learning
    rate 0) still has its recipe; None only where the folder says nothing of its training."""
    state = trainer_state_path(Path(checkpoint))
    run = Path(checkpoint).parent if Path(checkpoint).name.startswith("checkpoint-") else Path(checkpoint)
    known = {}
    if state is not None:
        history = json.loads(state.read_text())
        known = {
            "global_step": history.get("global_step"),
            "best_model_checkpoint": history.get("best_model_checkpoint"),
            "best_metric": history.get("best_metric"),
            "evaluations": [h for h in history["log_history"] if "eval_loss" in h],
        }
    for key, name in (("arguments", "run_arguments.json"), ("final_metrics", "all_results.json")):
        if (run / name).exists():
            known[key] = json.loads((run / name).read_text())
    return {"checkpoint": str(checkpoint), **known} if known else None


def teacher_summaries(arguments: dict | None) -> dict[str, dict | None]:
    """The history of each model a distilled run learned from (train.py --distill_from), read before
    the export replaces the bundled folder, which may be one of them. A teacher in runs/ does not
    outlive its checkout, so its recipe has to travel with the student or be lost; None where the
    teacher's folder is gone by export time."""
    paths = ((arguments or {}).get("model") or {}).get("distill_from") or []
    return {path: model_history(path) for path in paths}


def model_history(folder: str | Path) -> dict | None:
    """An exported model folder's training summary, else what its run folder says (run_summary)."""
    exported = Path(folder) / "training_summary.json"
    return json.loads(exported.read_text()) if exported.exists() else run_summary(folder)


def export(
    checkpoint: str | Path,
    out: str | Path = DEFAULT_MODEL,
    extra_files: list[str | Path] = (),
    previous_summary: str | Path | None = None,
    weights_dtype: str = "float32",
) -> Path:
    """previous_summary: the training summary of the model this run started from (fine-tuning or
    continued training), kept inside the new summary so the whole history travels with the weights.

    weights_dtype="float16" stores the weights at half the size (what lets a model of up to ~12 M
    parameters fit the 25 MB package) while config.json keeps float32, so `from_pretrained` (dtype
    "auto") casts them back and CPUs, which are slow or unsupported in float16, run in float32."""
    out = Path(out)
    if not is_model_folder(Path(checkpoint)):
        raise ValueError(f"{checkpoint}: not a run's output or checkpoint folder (no velocity-bert config.json)")
    if weights_dtype not in WEIGHTS_DTYPES:
        raise ValueError(f"weights_dtype must be one of {sorted(WEIGHTS_DTYPES)}, not {weights_dtype!r}")
    previous = json.loads(Path(previous_summary).read_text()) if previous_summary else None
    own = Path(checkpoint) / "training_summary.json"
    if own.exists():
        # An exported folder or a weight soup: its summary is already whole. Its teachers were read
        # when it was exported, and their paths may name other models by now (the bundled folder).
        summary = json.loads(own.read_text())
    else:
        summary = run_summary(checkpoint)
        teachers = teacher_summaries(summary.get("arguments")) if summary is not None else {}
        if teachers:
            summary["teachers"] = teachers
    if previous is not None:  # the history before this run is kept even where the run says nothing
        summary = (summary or {"checkpoint": str(checkpoint)}) | {"initialized_from": previous}
    model = VelocityBertForMaskedVelocity.from_pretrained(checkpoint)
    tokenizer = VelocityBertTokenizer.from_pretrained(checkpoint)
    weights = {k: v.to(WEIGHTS_DTYPES[weights_dtype]) for k, v in model.state_dict().items()}
    size = sum(v.numel() * v.element_size() for v in weights.values()) + 2**20  # + tokenizer, JSONs
    if out.resolve() == Path(DEFAULT_MODEL).resolve() and size > MAX_BUNDLED_BYTES:
        raise ValueError(
            f"the model folder would take ~{size / 2**20:.0f} MB, over the 25 MB the package may carry: "
            "export with --weights_dtype float16"
        )
    fresh_folder(out)
    model.config.custom_pipelines = {
        "velocity-prediction": {
            "impl": "pipeline_velocity_bert.VelocityPredictionPipeline",
            "pt": ["AutoModelForMaskedLM"],
        }
    }
    model.save_pretrained(out, state_dict=weights)
    for stray in out.glob("*.py"):  # code comes from the installed package (see module docstring)
        stray.unlink()
    tokenizer.save_pretrained(out)
    (out / "LICENSE_WEIGHTS.md").write_text(WEIGHTS_LICENSE)
    if summary is not None:
        (out / "training_summary.json").write_text(json.dumps(summary, indent=2))
    for f in extra_files:
        shutil.copy(f, out / Path(f).name)
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "checkpoint", help="a training run's output folder (the model it saved at its end) or one of its checkpoints"
    )
    parser.add_argument(
        "--out", default=DEFAULT_MODEL, help="the model folder to write (default: replace the bundled model)"
    )
    parser.add_argument("--extra", nargs="*", default=[], help="files to copy in (evaluation JSONs, notes)")
    parser.add_argument("--previous", default=None, help="training_summary.json of the model the run started from")
    parser.add_argument(
        "--weights_dtype",
        default="float32",
        choices=sorted(WEIGHTS_DTYPES),
        help="how the weights are stored (the model runs in float32 either way)",
    )
    args = parser.parse_args()
    try:
        print(export(args.checkpoint, args.out, args.extra, args.previous, args.weights_dtype))
    except (ValueError, OSError) as e:
        parser.error(str(e))

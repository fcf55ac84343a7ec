"""The Hub repo folder and its model card, shared by `hub_upload.py` and `train.py --push_to_hub`."""

from __future__ import annotations

import importlib.metadata
import json
import shutil
from pathlib import Path

from huggingface_hub import EvalResult, ModelCard, ModelCardData, SpaceCard, SpaceCardData
from packaging.requirements import Requirement
from safetensors.torch import load_file

from .modeling_velocity_bert import VelocityBertForMaskedVelocity
from .pipeline_velocity_bert import TASK, save_model_folder
from .tokenization_velocity_bert import VelocityBertTokenizer

TAGS = ["music", "midi", "piano", "symbolic-music", "velocity", "velocity-bert"]
CARRIED = ("training_summary.json", "LICENSE_WEIGHTS.md")
SETTING_NAMES = {
    "random15": "15% of notes hidden at random",
    "span": "5-second spans hidden (~15% of notes)",
    "all": "every velocity hidden (humanize)",
}
# Published / reference numbers (MAE in velocity units), quoted in the card beside ours.
REFERENCES = """| system | data | setting | exact | within one | MAE |
|---|---|---|---|---|---|
| thesis we start from (BERT, 32 levels) | MAESTRO | random 15% | 33% | 68% | 5.7 |
| He et al. 2025, U-Net velocity colorizer | MAESTRO test | all | | | 11.48 |
| constant 64 | MAESTRO test | all | | | 14.80 |
| LightGBM, 69 hand-made features | ASAP test | random 15% | 22.5% | 59.4% | 6.53 |
| LightGBM on spans | ASAP test | span | 14.4% | 41.4% | 9.48 |
| LightGBM, pitch/duration/timing/chord | ASAP test | all | 13.0% | 37.3% | 10.45 |"""


def evaluation_files(model_dir: str | Path) -> list[Path]:
    return sorted(Path(model_dir).glob("eval_*_*.json"))


def eval_results(reports: list[dict], dataset: str) -> list[EvalResult]:
    results = []
    for report in reports:
        ours = report["results"]["velocity_bert"]
        for metric, value in (("exact", ours["exact"]), ("within_one", ours["within_one"]), ("mae", ours["mae"])):
            results.append(
                EvalResult(
                    task_type="velocity-prediction",
                    task_name=f"Velocity prediction: {SETTING_NAMES.get(report['setting'], report['setting'])}",
                    dataset_type=dataset,
                    dataset_name=f"{dataset.upper()} ({report['setting']})",
                    dataset_config=report["setting"],
                    dataset_split=report["split"],
                    metric_type=metric,
                    metric_name={"exact": "exact-level accuracy", "within_one": "within-one-level accuracy"}.get(
                        metric, "MAE (velocity units)"
                    ),
                    metric_value=round(float(value), 4),
                )
            )
    return results


def results_table(reports: list[dict]) -> str:
    rows = ["| setting | system | exact | within one | MAE (95% CI) | piece-avg MAE |", "|---|---|---|---|---|---|"]
    for report in reports:
        for name, m in report["results"].items():
            ci = m.get("mae_ci95") or [float("nan")] * 2
            rows.append(
                f"| {report['setting']} | {name} | {m['exact']:.1%} | {m['within_one']:.1%} | "
                f"{m['mae']:.2f} ({ci[0]:.2f}-{ci[1]:.2f}) | {m['piece_averaged']['mae']:.2f} |"
            )
    return "\n".join(rows)


def decoding_line(reports: list[dict]) -> str:
    """The decoding settings the reports were measured with, so a reader can reproduce them."""
    settings = sorted({(r.get("passes"), r.get("overlap"), r.get("estimate")) for r in reports}, key=str)
    parts = [
        f"{p} pass{'' if p == 1 else 'es'}, windows overlapping by {o} notes, the {e} of each note's predicted distribution"
        for p, o, e in settings
        if None not in (p, o, e)
    ]
    return f"\nDecoding: {'; '.join(parts)}.\n" if parts else ""


def build_card(
    repo_id: str, reports: list[dict], dataset: str = "asap", space: str | None = None, markings: bool = False
) -> ModelCard:
    """markings: the model reads a seventh note field, the score's dynamics marking (a tokenizer
    made with markings=True); the card says so, since `keep_dynamics` then works differently."""
    data = ModelCardData(
        license="cc-by-nc-sa-4.0",
        library_name="transformers",
        pipeline_tag=None,
        tags=TAGS,
        datasets=[dataset],
        metrics=["accuracy", "mae"],
        model_name=repo_id.split("/")[-1],
        eval_results=eval_results(reports, dataset) or None,
    )
    space_line = f"\nTry it in the browser: https://huggingface.co/spaces/{space}\n" if space else ""
    marking_line = (
        " This model also reads a seventh field, the score's dynamics marking on the same 32 levels:"
        " `keep_dynamics=True` shows it the file's velocities as markings and plays its prediction as it is;"
        " otherwise that field holds padding, which adds nothing."
        if markings
        else ""
    )
    text = f"""---
{data.to_yaml()}
---

# {repo_id.split("/")[-1]}

A BERT-style masked model of piano velocities (the velocity-bert package).
It predicts how hard each key was struck (MIDI velocity, 32 levels) from pitch, timing, duration and
the velocities around it: it humanizes flat MIDI and fills in or repairs velocities.
{space_line}
## Usage

With the velocity-bert package installed (it is not on PyPI: `pip install .` in its source), no remote
code is needed:

```python
import velocity_bert
pipe = velocity_bert.load_pipeline("{repo_id}")
out = pipe("flat.mid")                      # every velocity; or mask=[...] one bool per note
open("humanized.mid", "wb").write(out["midi"])  # the input file, only velocities changed
out = pipe("score.mid", keep_dynamics=True)  # a notation export's p, f, hairpins kept as the level
out = pipe("take.mid", repair=0.003)         # a recording: re-predict only the velocities it finds unlikely
```

Without it, through remote code (pin a revision you have read):

```python
from transformers import AutoModelForMaskedLM, pipeline
model = AutoModelForMaskedLM.from_pretrained("{repo_id}", trust_remote_code=True, revision="COMMIT")
pipe = pipeline("{TASK}", model="{repo_id}", trust_remote_code=True, revision="COMMIT")
```

Fine-tune with `Trainer`: `python train.py --model_name_or_path {repo_id} --data_dir YOUR_MIDI ...`
(see the package README).

## Results

Measured with `velocity-bert evaluate` on the {dataset.upper()} test split (seed 0), through the same
decoding path users get. Note-pooled numbers, bootstrap 95% interval over files, and piece-averaged MAE:

{results_table(reports) if reports else "(no evaluation JSON was found beside the model)"}
{decoding_line(reports)}
Published and reference numbers:

{REFERENCES}

## Training

Masked-velocity pretraining on the ASAP performances (Piano e-Competition, Yamaha Disklavier), train
split of `splits.csv` (split by piece). One compound token per note (MidiTok Octuple vocabulary plus
an inter-onset-interval field); each window hides 15% random notes, contiguous spans, or a random
0-100% share.{marking_line} See `training_summary.json`.

## Limitations

Classical piano only, recorded on one kind of instrument (Disklavier grands); other instruments,
genres and ensembles are out of distribution. It predicts velocities only: timing, pedalling and
articulation are left as they are. Drum tracks are ignored.

## Licence

The weights are trained on data licensed CC BY-NC-SA 4.0 and are released under the same licence:
non-commercial use, share-alike, with attribution to ASAP (Foscarin et al., ISMIR 2020) and the
Piano e-Competition.
"""
    return ModelCard(text)


def is_model_folder(path: Path) -> bool:
    """A folder this package wrote (or any VelocityBert model folder)."""
    try:
        return json.loads((Path(path) / "config.json").read_text()).get("model_type") == "velocity_bert"
    except (OSError, ValueError):
        return False


def is_space_folder(path: Path) -> bool:
    return (Path(path) / "app.py").is_file() and (Path(path) / "velocity_bert").is_dir()


def fresh_folder(path: str | Path, ours=is_model_folder) -> Path:
    """An empty folder at `path`. What is there goes only if it is empty or `ours(path)` (an
    earlier export): an output named by mistake (`--out ~/models`) must not cost anyone a folder."""
    path = Path(path)
    if path.exists():
        if not path.is_dir():
            raise ValueError(f"{path} exists and is not a folder")
        if any(path.iterdir()) and not ours(path):
            raise ValueError(
                f"{path} holds other files: give a new or empty folder (only an earlier export is replaced)"
            )
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def build_repo_folder(model_dir: str | Path, out_dir: str | Path, repo_id: str, space: str | None = None) -> Path:
    """Everything the Hub repo holds: code, config (auto_map, custom_pipelines), weights, the
    MidiTok tokenizer file, evaluation JSONs and the generated card."""
    model_dir = Path(model_dir)
    if not is_model_folder(model_dir):
        raise ValueError(f"{model_dir}: not a velocity-bert model folder (no config.json of one)")
    out_dir = fresh_folder(out_dir)
    model = VelocityBertForMaskedVelocity.from_pretrained(model_dir)
    tokenizer = VelocityBertTokenizer.from_pretrained(model_dir)
    # Upload the weights as the folder stores them: a float16 export (the bundled model) stays half
    # the download instead of being re-saved in the float32 the model was loaded in.
    stored = model_dir / "model.safetensors"
    save_model_folder(model, tokenizer, out_dir, state_dict=load_file(stored) if stored.is_file() else None)
    reports = []
    for path in evaluation_files(model_dir):
        shutil.copy(path, out_dir / path.name)
        reports.append(json.loads(path.read_text()))
    for name in CARRIED:
        if (model_dir / name).exists():
            shutil.copy(model_dir / name, out_dir / name)
    build_card(repo_id, reports, space=space, markings=tokenizer.markings).save(out_dir / "README.md")
    return out_dir


SPACE_APP = '''"""velocity-bert demo Space: humanize MIDI piano files in the browser."""

from velocity_bert.demo import build_demo

demo = build_demo("{model_repo}")

if __name__ == "__main__":
    demo.launch()
'''


def space_requirements() -> list[str]:
    """The package's own requirements plus its demo extra, as installed: velocity-bert is not on
    PyPI, so a Space carries the package's code and installs only what that code needs."""
    wanted = []
    for line in importlib.metadata.requires("velocity-bert") or []:
        req = Requirement(line)
        if req.marker is None or req.marker.evaluate({"extra": "demo"}):
            wanted.append(f"{req.name}{req.specifier}")
    return wanted


def _installed(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def build_space_folder(space_id: str, model_repo: str, out_dir: str | Path) -> Path:
    """A Gradio Space (the Hub has no MIDI widget): app, the package's code and example files (not
    its bundled weights: the app loads `model_repo`), requirements, Debian packages for audio."""
    out_dir = fresh_folder(out_dir, is_space_folder)
    shutil.copytree(
        Path(__file__).parent, out_dir / "velocity_bert", ignore=shutil.ignore_patterns("pretrained", "__pycache__")
    )
    (out_dir / "app.py").write_text(SPACE_APP.format(model_repo=model_repo))
    (out_dir / "requirements.txt").write_text("".join(f"{r}\n" for r in space_requirements()))
    (out_dir / "packages.txt").write_text("fluidsynth\nfluid-soundfont-gm\n")
    data = SpaceCardData(
        title=space_id.split("/")[-1],
        emoji="🎹",
        colorFrom="indigo",
        colorTo="pink",
        sdk="gradio",
        # The Gradio this package was tested with, not whatever is newest when the Space builds.
        sdk_version=_installed("gradio"),
        app_file="app.py",
        pinned=False,
        license="cc-by-nc-sa-4.0",
        models=[model_repo],
    )
    text = (
        f"Humanize MIDI piano files with [{model_repo}](https://huggingface.co/{model_repo}): upload a file, "
        "get it back with predicted velocities, a piano roll and audio."
    )
    SpaceCard(f"---\n{data.to_yaml()}\n---\n\n{text}\n").save(out_dir / "README.md")
    return out_dir

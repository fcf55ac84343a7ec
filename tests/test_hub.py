"""Hub publishing without the Hub: the repo folder, the card, the upload (intercepted at
`HfApi.create_commit`, below huggingface_hub's real `upload_folder`) and loading from a cache laid
out as `snapshot_download` leaves it."""

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from huggingface_hub import CommitOperationAdd, HfApi, ModelCard, SpaceCard
from safetensors import safe_open

import velocity_bert as vb
from tests.conftest import make_score
from tests.test_modeling import run_without_package
from velocity_bert.evaluation import evaluate
from velocity_bert.export import export
from velocity_bert.model_card import build_card, build_repo_folder

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import hub_upload  # noqa: E402

REPO = "velocity-org/velocity-bert-test"
SPACE = "velocity-org/velocity-bert-demo"


@pytest.fixture(scope="module")
def evaluated_model(tiny_model_dir, tmp_path_factory):
    """The tiny model folder plus a real evaluation JSON made on synthesized files."""
    root = tmp_path_factory.mktemp("hub")
    model_dir = root / "model"
    shutil.copytree(tiny_model_dir, model_dir)
    data = root / "data"
    for i in range(40):
        (data / f"piece{i}").mkdir(parents=True)
        make_score(80, seed=i, drums=False).dump_midi(str(data / f"piece{i}" / "p.mid"))
    pipe = vb.load_pipeline(str(model_dir))
    report = evaluate(pipe.model, pipe.velocity_tokenizer, data, split="test", setting="random15", progress=False)
    (model_dir / "eval_test_random15.json").write_text(json.dumps(report))
    return model_dir, report


@pytest.fixture(scope="module")
def dry_run(evaluated_model, tmp_path_factory):
    model_dir, _ = evaluated_model
    out = tmp_path_factory.mktemp("dry") / "repo"
    assert hub_upload.main([str(model_dir), "--repo-id", REPO, "--dry-run", "--out", str(out), "--space", SPACE]) == 0
    return out / "model"


EXPECTED = {
    "README.md",
    "config.json",
    "model.safetensors",
    "velocity_tokenizer.json",
    "eval_test_random15.json",
    "configuration_velocity_bert.py",
    "modeling_velocity_bert.py",
    "pipeline_velocity_bert.py",
    "tokenization_velocity_bert.py",
    "decoding.py",
    "notes.py",
    "smf.py",
}


def test_dry_run_folder(dry_run):
    assert {p.name for p in dry_run.iterdir()} == EXPECTED
    config = json.loads((dry_run / "config.json").read_text())
    assert set(config["auto_map"]) == {"AutoConfig", "AutoModel", "AutoModelForMaskedLM"}
    assert (
        config["custom_pipelines"]["velocity-prediction"]["impl"] == "pipeline_velocity_bert.VelocityPredictionPipeline"
    )


def test_card_parses_and_matches_evaluation(dry_run, evaluated_model):
    _, report = evaluated_model
    card = ModelCard.load(dry_run / "README.md")
    assert card.data.license == "cc-by-nc-sa-4.0" and card.data.library_name == "transformers"
    assert {"music", "midi", "piano", "symbolic-music", "velocity"} <= set(card.data.tags)
    values = {r.metric_type: r.metric_value for r in card.data.eval_results}
    ours = report["results"]["velocity_bert"]
    assert values == {k: round(ours[k], 4) for k in ("exact", "within_one", "mae")}
    assert all(r.dataset_split == "test" and r.task_type == "velocity-prediction" for r in card.data.eval_results)
    assert "11.48" in card.text and "LightGBM" in card.text
    assert "Decoding: 1 pass, windows overlapping by" in card.text and "the median of each note's" in card.text
    assert f"spaces/{SPACE}" in card.text


def test_space_folder(dry_run):
    space = dry_run.parent / "space"
    card = SpaceCard.load(space / "README.md")
    assert card.data.sdk == "gradio" and card.data.app_file == "app.py" and card.data.models == [REPO]
    assert card.data.sdk_version == importlib.metadata.version("gradio")  # the one tested here, not the newest
    assert card.data.license == "cc-by-nc-sa-4.0" and "Humanize MIDI piano files with" in card.text
    assert "fluidsynth" in (space / "packages.txt").read_text()
    requirements = (space / "requirements.txt").read_text().split()
    assert "velocity-bert" not in requirements  # not on PyPI: the Space carries the code instead
    assert {"transformers", "miditok", "gradio"} <= {r.split(">")[0].split("<")[0] for r in requirements}
    assert REPO in (space / "app.py").read_text() and list((space / "velocity_bert" / "examples").glob("*.mid"))
    assert not (space / "velocity_bert" / "pretrained").exists()  # the app loads the model repo


def test_space_app_imports_its_own_copy_of_the_package(dry_run, tiny_model_dir):
    space = dry_run.parent / "space"
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import velocity_bert, velocity_bert.demo as d; print(velocity_bert.__file__); "
            f"d.build_demo({str(tiny_model_dir)!r}); print(len(list(d.EXAMPLES.glob('*.mid'))))",
        ],
        cwd=space,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    where, examples = done.stdout.split()[-2:]
    assert Path(where).resolve().is_relative_to(space.resolve()) and int(examples) >= 1


def test_dry_run_folder_runs_without_package(dry_run, midi_file, tmp_path):
    out = run_without_package(
        f"""
        from transformers import pipeline
        pipe = pipeline("velocity-prediction", model={str(dry_run)!r}, trust_remote_code=True)
        print(len(pipe({str(midi_file)!r})["velocities"]))
        """,
        tmp_path,
    )
    assert int(out.strip().splitlines()[-1]) == len(vb.load_notes(midi_file))


@pytest.fixture
def fake_hub(monkeypatch):
    """Every call that would reach the Hub, recorded: huggingface_hub's own upload_folder runs."""
    calls = {"create_repo": [], "commit": [], "validated": []}

    def create_repo(self, repo_id, **kwargs):
        calls["create_repo"].append((repo_id, kwargs))

    def create_commit(self, repo_id, operations, *, commit_message, **kwargs):
        calls["commit"].append((repo_id, list(operations), commit_message, kwargs))
        return "commit-info"

    def validate_yaml(self, content, **kwargs):  # the Hub's card check, a network call
        calls["validated"].append(content)

    monkeypatch.setattr(HfApi, "create_repo", create_repo)
    monkeypatch.setattr(HfApi, "create_commit", create_commit)
    monkeypatch.setattr(HfApi, "_validate_yaml", validate_yaml)
    # With hf_xet installed, upload_folder streams through its pipelined uploader; take the
    # single-commit path so the whole commit is seen at create_commit.
    monkeypatch.setattr("huggingface_hub.hf_api.is_xet_available", lambda: False)
    return calls


def test_upload_sends_exact_files_and_message(dry_run, fake_hub):
    calls = fake_hub
    assert hub_upload.upload(dry_run, REPO, token="hf_fake", private=True) == "commit-info"
    assert calls["create_repo"] == [(REPO, {"private": True, "exist_ok": True, "repo_type": "model"})]
    [(repo_id, operations, message, kwargs)] = calls["commit"]
    assert repo_id == REPO and message == f"Upload velocity-bert model ({len(EXPECTED)} files)"
    assert kwargs.get("repo_type") in (None, "model")  # huggingface_hub passes None for models
    assert all(isinstance(op, CommitOperationAdd) for op in operations)
    assert {op.path_in_repo for op in operations} == EXPECTED
    sent = {op.path_in_repo: op.path_or_fileobj for op in operations}
    assert calls["validated"] == [(dry_run / "README.md").read_text()]
    assert Path(sent["model.safetensors"]).read_bytes() == (dry_run / "model.safetensors").read_bytes()


def test_command_uploads_the_model_and_its_space(evaluated_model, fake_hub, tmp_path, capsys):
    model_dir, _ = evaluated_model
    argv = [str(model_dir), "--repo-id", REPO, "--space", SPACE, "--token", "hf_fake", "--out", str(tmp_path)]
    assert hub_upload.main(argv) == 0, capsys.readouterr().err
    assert [(repo, kw["repo_type"], kw.get("space_sdk")) for repo, kw in fake_hub["create_repo"]] == [
        (REPO, "model", None),
        (SPACE, "space", "gradio"),
    ]
    (model_repo, model_ops, _, _), (space_repo, space_ops, message, kwargs) = fake_hub["commit"]
    assert model_repo == REPO and {op.path_in_repo for op in model_ops} == EXPECTED
    assert space_repo == SPACE and kwargs["repo_type"] == "space" and message.startswith("Upload velocity-bert space")
    sent = {op.path_in_repo for op in space_ops}
    assert {"README.md", "app.py", "requirements.txt", "packages.txt"} <= sent
    assert any(p.startswith("velocity_bert/examples/") and p.endswith(".mid") for p in sent)


def test_load_by_repo_id_from_cache(dry_run, midi_file, tmp_path):
    """A cache laid out as snapshot_download leaves it: blobs, snapshots/<commit>/, refs/main."""
    cache = tmp_path / "hub"
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = cache / f"models--{REPO.replace('/', '--')}"
    snapshot = repo / "snapshots" / commit
    snapshot.mkdir(parents=True)
    (repo / "blobs").mkdir()
    for f in dry_run.iterdir():
        blob = repo / "blobs" / f"{f.name}.blob"
        shutil.copy(f, blob)
        (snapshot / f.name).symlink_to(Path("../../blobs") / blob.name)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    expected = len(vb.load_notes(midi_file))
    out = run_without_package(
        f"""
        import os
        os.environ["HF_HUB_CACHE"] = {str(cache)!r}
        os.environ["HF_HUB_OFFLINE"] = "1"
        from transformers import AutoModelForMaskedLM, pipeline
        model = AutoModelForMaskedLM.from_pretrained({REPO!r}, trust_remote_code=True)
        pipe = pipeline("velocity-prediction", model={REPO!r}, trust_remote_code=True)
        print(len(pipe({str(midi_file)!r})["velocities"]))
        """,
        tmp_path,
    )
    assert int(out.strip().splitlines()[-1]) == expected


def test_repo_folder_keeps_float16_weights(tiny_model_dir, tmp_path):
    half = export(tiny_model_dir, tmp_path / "half", weights_dtype="float16")
    repo = build_repo_folder(half, tmp_path / "repo", REPO)
    with safe_open(repo / "model.safetensors", "pt") as f:
        assert {f.get_slice(k).get_dtype() for k in f.keys()} == {"F16"}
    assert (repo / "model.safetensors").read_bytes() == (half / "model.safetensors").read_bytes()
    model = vb.VelocityBertForMaskedVelocity.from_pretrained(repo)
    assert {p.dtype for p in model.parameters()} == {torch.float32}


def test_card_names_the_marking_field_only_on_a_model_that_has_it(evaluated_model):
    """keep_dynamics works differently on a marking model: its card has to say what the field is."""
    _, report = evaluated_model
    assert "dynamics marking" in build_card(REPO, [report], markings=True).text
    assert "dynamics marking" not in build_card(REPO, [report]).text


def test_card_promises_no_pypi_package(dry_run):
    """velocity-bert is not on PyPI: the card must not send readers to a page or a `pip install` that fails."""
    card = (dry_run / "README.md").read_text()
    assert "pypi.org" not in card and "pip install velocity-bert" not in card


def test_dry_run_keeps_folders_it_did_not_write(evaluated_model, tmp_path, capsys):
    """--out names a parent of model/ and space/: a model/ of someone else's files stays, in one line;
    a folder that is not a model fails the same way before anything is written."""
    model_dir, _ = evaluated_model
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "thesis.tex").write_text("keep me")
    argv = ["--repo-id", REPO, "--dry-run", "--out", str(tmp_path)]
    assert hub_upload.main([str(model_dir), *argv]) == 2
    assert "holds other files" in capsys.readouterr().err
    assert (tmp_path / "model" / "thesis.tex").read_text() == "keep me"
    assert (
        hub_upload.main([str(tmp_path / "nothing"), "--repo-id", REPO, "--dry-run", "--out", str(tmp_path / "o")]) == 2
    )
    assert "not a velocity-bert model folder" in capsys.readouterr().err and not (tmp_path / "o").exists()
    assert hub_upload.main([str(model_dir), "--repo-id", REPO, "--dry-run", "--out", str(tmp_path / "o")]) == 0
    assert hub_upload.main([str(model_dir), "--repo-id", REPO, "--dry-run", "--out", str(tmp_path / "o")]) == 0  # again

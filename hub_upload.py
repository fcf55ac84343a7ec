"""Publish a model folder to the Hugging Face Hub as a repo that loads with one line.

    python hub_upload.py velocity_bert/pretrained/velocity-bert-asap --repo-id ORG/NAME --dry-run --out hub_repo
    python hub_upload.py ... --space ORG/NAME-demo       # also the Gradio Space, linked from the card
    python hub_upload.py velocity_bert/pretrained/velocity-bert-asap --repo-id ORG/NAME [--private] [--revision R]

The token comes from --token, else HF_TOKEN, else `hf auth login`'s stored token.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from huggingface_hub import HfApi

from velocity_bert.model_card import build_repo_folder, build_space_folder


def upload(
    folder: Path,
    repo_id: str,
    token: str | None = None,
    private: bool = False,
    revision: str | None = None,
    repo_type: str = "model",
) -> str:
    """One commit of the whole folder; repo_type "space" makes a Gradio Space (build_space_folder)."""
    api = HfApi(token=token)
    space = {"space_sdk": "gradio"} if repo_type == "space" else {}
    api.create_repo(repo_id, private=private, exist_ok=True, repo_type=repo_type, **space)
    if revision:
        api.create_branch(repo_id, branch=revision, exist_ok=True, repo_type=repo_type)
    files = [p for p in folder.rglob("*") if p.is_file()]
    info = api.upload_folder(
        folder_path=folder,
        repo_id=repo_id,
        repo_type=repo_type,
        revision=revision,
        commit_message=f"Upload velocity-bert {repo_type} ({len(files)} files)",
    )
    return str(info)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model_dir", help="a model folder (exported, or a training run's output folder)")
    parser.add_argument("--repo-id", required=True, help="ORG/NAME of the model repo (created if missing)")
    parser.add_argument("--private", action="store_true", help="create the repo (and Space) private")
    parser.add_argument("--revision", default=None, help="branch to commit to (created if missing)")
    parser.add_argument("--token", default=None, help="default: HF_TOKEN, else the token `hf auth login` stored")
    parser.add_argument("--space", default=None, help="ORG/NAME of the demo Space to link from the card")
    parser.add_argument("--dry-run", action="store_true", help="write the folder and list it; upload nothing")
    parser.add_argument("--out", default=None, help="where --dry-run writes the folder")
    args = parser.parse_args(argv)
    try:
        out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="velocity-bert-hub-"))
        folders = [
            (build_repo_folder(args.model_dir, out / "model", args.repo_id, space=args.space), args.repo_id, "model")
        ]
        if args.space:
            folders.append((build_space_folder(args.space, args.repo_id, out / "space"), args.space, "space"))
        for folder, repo_id, repo_type in folders:
            files = sorted(p for p in folder.rglob("*") if p.is_file())
            print(f"{folder}: {len(files)} files for the {repo_type} repo {repo_id}")
            for f in files:
                print(f"  {str(f.relative_to(folder)):<34} {f.stat().st_size:>10,d} bytes")
        if args.dry_run:
            print("dry run: nothing uploaded")
            return 0
        for folder, repo_id, repo_type in folders:
            print(upload(folder, repo_id, args.token, args.private, args.revision, repo_type))
        return 0
    except Exception as err:  # one line for the user
        print(f"error: {str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

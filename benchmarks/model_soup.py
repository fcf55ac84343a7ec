"""Average the weights of models fine-tuned from one start ("model soup", Wortsman et al. 2022).

    python benchmarks/model_soup.py velocity_bert/pretrained/velocity-bert-asap runs/gpuH runs/gpuJ --out runs/soup

Continuations of the shipped model that each end level with it on validation may still differ in
what they got right; their average is one model of the same size, so unlike averaging predictions
(compare_on_validation.py) it could ship. The first model's config and tokenizer are kept (dropout
does not matter at inference). The soup is written in float32 with a training_summary.json that
holds every member's history, which `python -m velocity_bert.export SOUP` ships with it; the
members' evaluation JSONs are not copied. Hand-written: transformers has no weight averaging; it is
a mean over state dicts.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from velocity_bert import VelocityBertForMaskedVelocity, VelocityBertTokenizer, save_model_folder
from velocity_bert.export import model_history


def soup(models: list[str]) -> VelocityBertForMaskedVelocity:
    base = VelocityBertForMaskedVelocity.from_pretrained(models[0])
    total = {k: v.detach().double() for k, v in base.state_dict().items()}
    for path in models[1:]:
        state = VelocityBertForMaskedVelocity.from_pretrained(path).state_dict()
        if state.keys() != total.keys():
            raise SystemExit(f"error: {path} has other weights than {models[0]}")
        for k, v in state.items():
            total[k] += v.double()
    dtypes = {k: v.dtype for k, v in base.state_dict().items()}
    base.load_state_dict({k: (v / len(models)).to(dtypes[k]) for k, v in total.items()})
    return base


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", help="model folders (the first gives config and tokenizer)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    if len(args.models) < 2:
        raise SystemExit("error: a soup needs two or more models")
    model = soup(args.models)
    save_model_folder(model, VelocityBertTokenizer.from_pretrained(args.models[0]), args.out)
    # Each member's whole history (recipe, evaluations, what it started from) goes in the soup's
    # training summary, which velocity_bert.export carries into a shipped folder: runs/ does not
    # outlive its checkout.
    summary = {
        "soup_of": [{"model": path, "history": model_history(path)} for path in args.models],
        "method": "mean of the members' weights (benchmarks/model_soup.py)",
    }
    (args.out / "training_summary.json").write_text(json.dumps(summary, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

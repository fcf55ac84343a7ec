"""Models, their average, and point estimates, side by side on VALIDATION (never test), so that
a decoding default or the next training run is chosen without looking at the test split.

    python benchmarks/compare_on_validation.py MODEL [MODEL ...] [--estimates mode median mean]
        [--settings random15 span all] [--overlaps N [N ...]] [--files N] [--transpose S [S ...]] [--json F]

With two or more models it also evaluates their average (the mean of their predicted level
distributions): what a second, differently trained model knows that the first does not, measured
before anyone pays for it on a GPU. The average is not a shipping path (the bundled model is one
folder of at most 25 MB).

--overlaps 256 384 decodes with each window overlap in turn (default: each model's own).

--transpose -3 0 3 also evaluates each model on copies of the input transposed by those semitones,
their distributions averaged (test-time augmentation: the model was trained on transposed windows,
so each copy is a slightly different view of the same dynamics). It costs one encoder run per copy.

Each model's outputs are remembered per input batch within a setting, so the second and later
estimates of one model and overlap reuse the first one's encoder runs (the estimates differ only
after the distributions); their "decoding" column then shows the time of the cached run.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
from types import SimpleNamespace

import torch

import velocity_bert as vb
from velocity_bert.augmentation import PITCH
from velocity_bert.decoding import ESTIMATES, DecodingOptions
from velocity_bert.evaluation import evaluate


class ProbabilityAverage(torch.nn.Module):
    """Looks like one model to the decoder: returns the log of the members' mean softmax, so the
    decoder's own softmax recovers the averaged distribution."""

    def __init__(self, members: list[torch.nn.Module]):
        super().__init__()
        self.members = torch.nn.ModuleList(members)
        self.config = members[0].config

    def forward(self, input_ids, attention_mask):
        probs = [m(input_ids=input_ids, attention_mask=attention_mask).logits.float().softmax(-1) for m in self.members]
        return SimpleNamespace(logits=torch.stack(probs).mean(0).log())


class CachedLogits(torch.nn.Module):
    """Looks like the model it wraps, but answers a batch it has seen before from memory. The
    decoder batches the same windows the same way whatever the point estimate, so with one pass
    the estimates after the first cost no encoder runs and give identical distributions."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model, self.config = model, model.config
        self.memory: dict[tuple, torch.Tensor] = {}
        self.hits = 0

    def forward(self, input_ids, attention_mask):
        digest = hashlib.blake2b(input_ids.cpu().numpy().tobytes() + attention_mask.cpu().numpy().tobytes())
        key = (tuple(input_ids.shape), digest.digest())
        if key in self.memory:
            self.hits += 1
        else:
            self.memory[key] = self.model(input_ids=input_ids, attention_mask=attention_mask).logits.float()
        return SimpleNamespace(logits=self.memory[key])


class Transposed(torch.nn.Module):
    """The model seeing every real note's pitch shifted (clamped to the tokenizer's range); several
    of these under ProbabilityAverage are the transposition average."""

    def __init__(self, model: torch.nn.Module, shift: int, pitch_ids: tuple[int, int]):
        super().__init__()
        self.model, self.shift, self.pitch_ids = model, shift, pitch_ids
        self.config = model.config

    def forward(self, input_ids, attention_mask):
        ids = input_ids.clone()
        shifted = (ids[..., PITCH] + self.shift).clamp(*self.pitch_ids)
        ids[..., PITCH] = torch.where(attention_mask.bool(), shifted, ids[..., PITCH])  # padding stays
        return self.model(input_ids=ids, attention_mask=attention_mask)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+")
    parser.add_argument("--data", default="../shared/data/asap")
    parser.add_argument("--files", type=int, default=0, help="first N validation files (0: all)")
    parser.add_argument("--settings", nargs="+", default=["random15", "all"])
    parser.add_argument("--estimates", nargs="+", default=[DecodingOptions.estimate], choices=ESTIMATES)
    parser.add_argument("--overlaps", nargs="+", type=int, default=[None], help="window overlaps to compare")
    parser.add_argument("--transpose", nargs="+", type=int, default=None, help="also: average over these shifts")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    models = [vb.VelocityBertForMaskedVelocity.from_pretrained(m).eval() for m in args.models]
    tokenizer = vb.VelocityBertTokenizer.from_pretrained(args.models[0])
    if len({m.config.window_length for m in models}) > 1:
        raise SystemExit("the models must share window_length")
    candidates = dict(zip(args.models, models))
    if len(models) > 1:
        candidates[" + ".join(args.models)] = ProbabilityAverage(models)
    if args.transpose:
        shifts = " ".join(f"{t:+d}" for t in args.transpose)
        for name, model in list(candidates.items()):
            copies = [Transposed(model, t, tokenizer.pitch_token_range) for t in args.transpose]
            candidates[f"{name}, transposed {shifts}"] = ProbabilityAverage(copies)
    rows = []
    print("| setting | model | estimate | overlap | exact | within 1 | MAE | SD of pred. | piece avg MAE | decoding |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for setting in args.settings:
        for name, model in candidates.items():
            cached = CachedLogits(model)  # one setting at a time: its masks are its own
            for estimate, overlap in itertools.product(args.estimates, args.overlaps):
                hits = cached.hits
                report = evaluate(
                    cached,
                    tokenizer,
                    args.data,
                    "validation",
                    setting,
                    seed=0,
                    options=DecodingOptions(estimate=estimate, overlap=overlap),
                    max_files=args.files or None,
                    progress=False,
                )
                r = report["results"]["velocity_bert"]
                keys = ("setting", "estimate", "overlap", "files")
                reused = cached.hits > hits
                rows.append({"model": name, **{k: report[k] for k in keys}, **r, "cached": reused})
                print(
                    f"| {setting} | {name} | {estimate} | {report['overlap']} | {r['exact']:.1%} | {r['within_one']:.1%} "
                    f"| {r['mae']:.2f} | {r['pred_sd']:.1f} | {r['piece_averaged']['mae']:.2f} "
                    f"| {report['decode_seconds']:.0f} s{' (cached)' if reused else ''} |",
                    flush=True,
                )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()

"""What the model listens to, per layer: attention by kind of context note (normalised by how common
that kind is), a gradient x input and an ablation check per input field, and how far each layer
looks. `velocity-bert analyze MODEL --data DIR --split test --files 20 --out DIR`."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from .data import list_files
from .notes import MidiInputError, load_notes
from .tokenization_velocity_bert import FIELDS, MASK_ID, PAD_ID, VELOCITY

# Attribute kinds of a context note k, seen from the note q whose velocity is hidden.
PITCH_KINDS = ("same pitch", "same pitch class", "1-2 semitones", "3-12 semitones", ">12 semitones")
VELOCITY_KINDS = ("velocity visible", "velocity hidden")
TIME_KINDS = ("<0.05 s (chord)", "0.05-0.5 s", "0.5-2 s", "2-5 s", ">5 s")
NOTE_KINDS = ("1-2 notes", "3-8 notes", "9-32 notes", "33-128 notes", ">128 notes")
KINDS = PITCH_KINDS + VELOCITY_KINDS + TIME_KINDS + NOTE_KINDS


def _kinds(pitch, onset, visible, q) -> np.ndarray:
    """[len(KINDS), n] membership of every note of the window, for query note q (q itself excluded)."""
    n = len(pitch)
    dp = np.abs(pitch - pitch[q])
    dt = np.abs(onset - onset[q])
    dn = np.abs(np.arange(n) - q)
    rows = [
        dp == 0,
        (dp % 12 == 0) & (dp > 0),
        (dp >= 1) & (dp <= 2),
        (dp >= 3) & (dp <= 12) & (dp % 12 != 0),
        (dp > 12) & (dp % 12 != 0),
        visible,
        ~visible,
        dt < 0.05,
        (dt >= 0.05) & (dt < 0.5),
        (dt >= 0.5) & (dt < 2),
        (dt >= 2) & (dt < 5),
        dt >= 5,
        (dn >= 1) & (dn <= 2),
        (dn >= 3) & (dn <= 8),
        (dn >= 9) & (dn <= 32),
        (dn >= 33) & (dn <= 128),
        dn > 128,
    ]
    m = np.stack(rows)
    m[:, q] = False
    return m


def analyze(
    model, tokenizer, data_dir, split: str = "test", files: int = 20, seed: int = 0, hide: float = 0.15
) -> dict:
    """Attention, gradient x input and ablation over the note's own six fields. A model's marking
    field (if it has one) is left out: a recording holds padding there, so taking it away changes
    nothing and would read as the field that matters least."""
    model = model.eval()
    model.config._attn_implementation = "eager"
    layers, heads = model.config.num_hidden_layers, model.config.num_attention_heads
    length = model.config.window_length
    rng = np.random.default_rng(seed)
    share = np.zeros((layers, heads, len(KINDS)))  # attention mass on each kind
    base = np.zeros(len(KINDS))  # how common each kind is among context notes
    self_mass = np.zeros((layers, heads))
    mean_dist_notes = np.zeros((layers, heads))
    mean_dist_sec = np.zeros((layers, heads))
    grad_x_input = defaultdict(float)
    ablation = defaultdict(float)
    queries = 0
    base_loss, n_windows = 0.0, 0
    paths = list_files(data_dir, split)[:files]
    for path in paths:
        try:
            notes = load_notes(path)
        except MidiInputError:
            continue
        ids = tokenizer.encode(notes)
        levels = tokenizer.velocity_to_level(notes.velocity)
        for start in range(0, len(notes), length):
            stop = min(start + length, len(notes))
            if stop - start < 16:
                continue
            window = tokenizer.window(ids, start, stop)
            hidden = rng.random(stop - start) < hide
            if not hidden.any():
                continue
            window[hidden, VELOCITY] = MASK_ID
            labels = np.where(hidden, levels[start:stop], -100)
            x = torch.from_numpy(window)[None]
            y = torch.from_numpy(labels)[None]
            embeds = []

            def keep(module, inputs, output, embeds=embeds):
                output.retain_grad()
                embeds.append(output)

            hooks = [e.register_forward_hook(keep) for e in model.velocity_bert.embeddings.fields]
            out = model(x, labels=y, output_attentions=True)
            for h in hooks:
                h.remove()
            out.loss.backward()
            model.zero_grad(set_to_none=True)
            base_loss += out.loss.item()
            n_windows += 1
            ctx = torch.from_numpy(~hidden)[None, :, None].float()
            for f, e in zip(FIELDS, embeds):
                grad_x_input[f] += float(((e.grad * e.detach()).sum(-1, keepdim=True).abs() * ctx).sum())
            with torch.no_grad():
                for f_i, f in enumerate(FIELDS):
                    ablated = x.clone()
                    ablated[0, ~torch.from_numpy(hidden), f_i] = PAD_ID  # context loses this attribute
                    ablation[f] += model(ablated, labels=y).loss.item()
            att = np.stack([a[0].detach().float().numpy() for a in out.attentions])  # [L, H, n, n]
            pitch, onset = notes.pitch[start:stop], notes.onset_sec[start:stop]
            visible = ~hidden
            for q in np.flatnonzero(hidden):
                kinds = _kinds(pitch, onset, visible, q)
                row = att[:, :, q, :]  # [L, H, n]
                share += row @ kinds.T.astype(np.float64)
                base += kinds.mean(axis=1) * len(pitch) / max(len(pitch) - 1, 1)
                self_mass += row[:, :, q]
                mean_dist_notes += row @ np.abs(np.arange(len(pitch)) - q)
                mean_dist_sec += row @ np.abs(onset - onset[q])
                queries += 1
    if not queries:
        raise MidiInputError(f"no usable files in the {split} split of {data_dir}")
    share /= queries
    base /= queries
    lift = share / np.maximum(base, 1e-9)
    total_gxi = sum(grad_x_input.values())
    return {
        "files": len(paths),
        "queries": queries,
        "kinds": list(KINDS),
        "base_rate": base.tolist(),
        "attention_share": share.mean(axis=1).tolist(),  # [layer][kind], mean over heads
        "lift": lift.mean(axis=1).tolist(),
        "lift_per_head": lift.tolist(),
        "self_attention": self_mass.mean(axis=1).__truediv__(queries).tolist(),
        "mean_distance_notes": (mean_dist_notes / queries).mean(axis=1).tolist(),
        "mean_distance_seconds": (mean_dist_sec / queries).mean(axis=1).tolist(),
        "grad_x_input_share": {f: v / total_gxi for f, v in grad_x_input.items()},
        "ablation_loss_increase": {f: (ablation[f] - base_loss) / n_windows for f in FIELDS},
        "loss": base_loss / n_windows,
    }


def findings(report: dict) -> list[tuple[str, bool, str]]:
    """The thesis's three findings, each checked with numbers from the report."""
    kinds = report["kinds"]
    lift = np.asarray(report["lift"])
    pitch = [kinds.index(k) for k in ("same pitch", "same pitch class", "1-2 semitones")]
    timing = [kinds.index(k) for k in TIME_KINDS[:2]]
    vis = kinds.index("velocity visible")
    near = [kinds.index(k) for k in NOTE_KINDS[:2]]
    first_pitch, last_pitch = lift[0, pitch].mean(), lift[-1, pitch].mean()
    first_vis, last_vis = lift[0, vis] * lift[0, near].mean(), lift[-1, vis] * lift[-1, near].mean()
    abl = report["ablation_loss_increase"]
    timing_fields = ("position", "bar", "shift")
    least = min(abl, key=abl.get)
    out = [
        (
            "Early layers look mostly at pitch",
            bool(first_pitch > last_pitch and first_pitch > lift[0, timing].mean()),
            f"layer 1 pitch-relation lift {first_pitch:.2f} vs last layer {last_pitch:.2f}; layer 1 timing lift "
            f"{lift[0, timing].mean():.2f}",
        ),
        (
            "Last layers look at the loudness of neighbouring notes",
            bool(last_vis > first_vis and lift[-1, vis] > 1),
            f"visible-velocity lift x near-note lift: last layer {last_vis:.2f} vs layer 1 {first_vis:.2f} "
            f"(visible-velocity lift in the last layer {lift[-1, vis]:.2f})",
        ),
        (
            "Timing matters least",
            least in timing_fields,
            "loss increase when the context loses one field: "
            + ", ".join(f"{f} {v:+.3f}" for f, v in sorted(abl.items(), key=lambda kv: kv[1])),
        ),
    ]
    return out


def write_outputs(report: dict, out_dir: str | Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "analysis.json").write_text(json.dumps(report, indent=2))
    lift = np.asarray(report["lift"])
    fig, ax = plt.subplots(figsize=(12, 1.2 + 0.6 * len(lift)), constrained_layout=True)
    im = ax.imshow(np.log2(np.maximum(lift, 1e-3)), cmap="RdBu_r", vmin=-3, vmax=3, aspect="auto")
    ax.set_xticks(range(len(report["kinds"])), report["kinds"], rotation=45, ha="right")
    ax.set_yticks(range(len(lift)), [f"layer {i + 1}" for i in range(len(lift))])
    for (i, j), v in np.ndenumerate(lift):
        ax.text(j, i, f"{v:.1f}", ha="center", va="center", fontsize=7)
    ax.set_title("Attention from a hidden-velocity note, relative to how common each kind of context is (x)")
    fig.colorbar(im, ax=ax, label="log2 lift")
    fig.savefig(out / "attention_lift.png", dpi=110)
    plt.close(fig)
    abl = report["ablation_loss_increase"]
    gxi = report["grad_x_input_share"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3), constrained_layout=True)
    axes[0].bar(list(abl), list(abl.values()))
    axes[0].set_title("loss increase when context loses a field")
    axes[1].bar(list(gxi), list(gxi.values()))
    axes[1].set_title("gradient x input share (context notes)")
    fig.savefig(out / "attribution.png", dpi=110)
    plt.close(fig)
    lines = [
        "# What the model listens to",
        "",
        f"{report['files']} files, {report['queries']} notes with hidden velocity, mean loss {report['loss']:.3f}.",
        "Lift = attention share on a kind of context note / share of context notes of that kind (1 = no preference).",
        "",
        "| layer | mean distance (notes) | mean distance (s) | self-attention |",
        "|---|---|---|---|",
    ]
    for i, (dn, ds, s) in enumerate(
        zip(report["mean_distance_notes"], report["mean_distance_seconds"], report["self_attention"])
    ):
        lines.append(f"| {i + 1} | {dn:.1f} | {ds:.2f} | {s:.3f} |")
    lines += ["", "## The thesis's findings, checked", ""]
    for claim, holds, evidence in findings(report):
        lines.append(f"- **{claim}**: {'holds' if holds else 'does not hold'} ({evidence}).")
    lines += ["", "![attention lift](attention_lift.png)", "", "![attribution](attribution.png)", ""]
    (out / "analysis.md").write_text("\n".join(lines))
    return out

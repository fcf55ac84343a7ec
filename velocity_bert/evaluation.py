"""`velocity-bert evaluate`: hide velocities the same way for the model and the baselines, predict
through decoding.py (the path users get) and report pooled and piece-averaged measures."""

from __future__ import annotations

import hashlib
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

from .data import ALL, list_files, piece_names
from .decoding import DecodingOptions, predict_velocities, window_overlap
from .metrics import velocity_metrics
from .notes import MidiInputError, Notes, load_notes

SETTINGS = ("random15", "span", "all")
SPAN_SECONDS = 5.0
HIDDEN_SHARE = 0.15
NEIGHBOURS = 16


def hide(notes: Notes, setting: str, rng: np.random.Generator) -> np.ndarray:
    """random15: each note with probability 0.15; span: runs of ~5 s until ~15% of notes are
    hidden; all: every note."""
    n = len(notes)
    if setting == "random15":
        return rng.random(n) < HIDDEN_SHARE
    if setting == "all":
        return np.ones(n, dtype=bool)
    if setting != "span":
        raise ValueError(f"setting must be one of {SETTINGS}")
    hidden = np.zeros(n, dtype=bool)
    onset = notes.onset_sec
    for _ in range(10 * n):
        if hidden.mean() >= HIDDEN_SHARE:
            break
        start = rng.uniform(onset[0], max(onset[-1] - SPAN_SECONDS, onset[0]) + 1e-9)
        hidden |= (onset >= start) & (onset < start + SPAN_SECONDS)
    return hidden


def neighbour_median(notes: Notes, hidden: np.ndarray, k: int = NEIGHBOURS) -> np.ndarray | None:
    """Median velocity of the k visible notes nearest in onset time (None when nothing is visible)."""
    visible = np.flatnonzero(~hidden)
    if len(visible) == 0:
        return None
    t_vis = notes.onset_sec[visible]
    out = []
    for i in np.flatnonzero(hidden):
        pos = np.searchsorted(t_vis, notes.onset_sec[i])
        lo, hi = max(pos - k, 0), min(pos + k, len(visible))
        cand = visible[lo:hi]
        nearest = cand[np.argsort(np.abs(notes.onset_sec[cand] - notes.onset_sec[i]), kind="stable")[:k]]
        out.append(np.median(notes.velocity[nearest]))
    return np.rint(np.asarray(out))


def median_velocity(paths: list[str | Path]) -> float | None:
    """Median velocity over all notes of these files (None if none is usable)."""
    values = []
    for path in paths:
        try:
            values.append(load_notes(path).velocity)
        except MidiInputError:
            continue
    return float(np.median(np.concatenate(values))) if values else None


def train_median(data_dir: str | Path) -> float | None:
    """The constant baseline: median velocity over all notes of the train split."""
    return median_velocity(list_files(data_dir, "train"))


def summarize(per_file: dict[str, list], pieces: list[str], rng: np.random.Generator) -> dict:
    """Pooled measures, piece-averaged measures and a bootstrap 95% interval on MAE over files."""
    pred = [np.asarray(p) for p in per_file["pred"]]
    true = [np.asarray(t) for t in per_file["true"]]
    pooled = velocity_metrics(np.concatenate(pred), np.concatenate(true))
    by_piece = defaultdict(lambda: ([], []))
    for p, t, piece in zip(pred, true, pieces):
        by_piece[piece][0].append(p)
        by_piece[piece][1].append(t)
    piece_metrics = [velocity_metrics(np.concatenate(p), np.concatenate(t)) for p, t in by_piece.values()]
    pooled["piece_averaged"] = {
        k: float(np.mean([m[k] for m in piece_metrics])) for k in ("exact", "within_one", "mae")
    }
    abs_err = [np.abs(p - t) for p, t in zip(pred, true)]
    sums = np.array([e.sum() for e in abs_err])
    counts = np.array([len(e) for e in abs_err])
    boots = []
    for _ in range(1000):
        idx = rng.integers(0, len(sums), len(sums))
        boots.append(sums[idx].sum() / max(counts[idx].sum(), 1))
    pooled["mae_ci95"] = [float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5))]
    # np.ptp, not std: a constant's std can round to a tiny non-zero, and its r means nothing
    rs = [np.corrcoef(p, t)[0, 1] for p, t in zip(pred, true) if len(p) > 2 and np.ptp(p) > 0 and np.ptp(t) > 0]
    pooled["pearson_r_per_file"] = float(np.mean(rs)) if rs else None
    return pooled


def evaluate(
    model,
    tokenizer,
    data_dir: str | Path,
    split: str = "test",
    setting: str = "random15",
    seed: int = 0,
    options: DecodingOptions | None = None,
    max_files: int | None = None,
    progress: bool = True,
    files: list[str | Path] | None = None,
) -> dict:
    """files: evaluate these MIDI files instead of the split's (a subset spread over it, say).
    The report's decode_seconds is the time spent in decoding alone, without reading MIDI."""
    options = options or DecodingOptions()
    files = list(files) if files is not None else list_files(data_dir, split)[:max_files]
    if not files:
        raise MidiInputError(_no_files(data_dir, split))
    rng = np.random.default_rng(seed)
    constant = "train_median"
    median = train_median(data_dir) if split != ALL else None
    if median is None:
        # No train split apart from the evaluated files (`--split all`, or a folder whose hash split
        # put nothing in train): the files' own median, a constant that has seen the answers.
        median, constant = median_velocity(files), "folder_median"
    if median is None:
        raise MidiInputError(_no_files(data_dir, split))
    systems = {"velocity_bert": defaultdict(list), constant: defaultdict(list)}
    if setting != "all":
        systems["nearest16_median"] = defaultdict(list)
    piece = dict(zip(files, piece_names(data_dir, files)))
    pieces, decode_seconds, unreadable = [], 0.0, 0
    iterator = files
    if progress:
        from tqdm.auto import tqdm

        iterator = tqdm(files, desc=f"evaluate {setting}", unit="file")
    for path in iterator:
        try:
            notes = load_notes(path)
        except MidiInputError:  # a corpus's bad file is skipped, and counted in the report
            unreadable += 1
            continue
        hidden = hide(notes, setting, rng)
        if not hidden.any():
            continue
        true = notes.velocity[hidden]
        start = time.perf_counter()
        predicted = predict_velocities(model, tokenizer, notes, hidden, options)[hidden]
        decode_seconds += time.perf_counter() - start
        candidates = {"velocity_bert": predicted, constant: np.full(len(true), median)}
        if "nearest16_median" in systems:
            candidates["nearest16_median"] = neighbour_median(notes, hidden)
        for name, pred in candidates.items():
            systems[name]["pred"].append(pred)
            systems[name]["true"].append(true)
        pieces.append(piece[path])
    if not pieces:
        raise MidiInputError(_no_files(data_dir, split))
    return {
        "split": split,
        "setting": setting,
        "seed": seed,
        "files": len(pieces),
        "pieces": len(set(pieces)),
        "unreadable_files": unreadable,
        f"{constant}_velocity": median,
        "passes": options.passes,
        "overlap": window_overlap(model.config, options),
        "estimate": options.estimate,
        # the weights' (a wrapper around the model, as benchmarks use, has the same parameters)
        "dtype": str(next(model.parameters()).dtype).removeprefix("torch."),
        "decode_seconds": round(decode_seconds, 3),
        "results": {
            name: summarize(per_file, pieces, np.random.default_rng(seed)) for name, per_file in systems.items()
        },
    }


def weights_sha256(model_path: str | Path) -> str | None:
    """The digest of a model's stored weights, which a report keeps so that a table built from
    reports (benchmarks/accuracy_table.py) never mixes numbers of two models under one name: a
    folder's path stays the same when a new model is exported into it. None where there is no
    local model.safetensors (a Hub id not in the cache, a sharded checkpoint)."""
    from transformers.utils import cached_file

    try:
        path = cached_file(str(model_path), "model.safetensors", local_files_only=True)
    except OSError:
        return None
    if path is None:
        return None
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _no_files(data_dir, split: str) -> str:
    hint = "" if split == ALL else " (--split all uses every file)"
    return f"no usable MIDI files in the {split} split of {data_dir}{hint}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def format_table(report: dict) -> str:
    skipped = report.get("unreadable_files")  # absent from reports written before it was counted
    skipped = f"; {_count(skipped, 'unreadable file')} skipped" if skipped else ""
    lines = [
        f"{report['setting']} on {report['split']} ({_count(report['files'], 'file')}, "
        f"{_count(report['pieces'], 'piece')}, seed {report['seed']}{skipped}"
        f"{', ' + report['dtype'] if report.get('dtype', 'float32') != 'float32' else ''})",
        f"{'system':<18}{'exact':>8}{'within1':>9}{'MAE':>7}{'95% CI':>15}{'<=6.4':>7}{'<=12.7':>8}{'SD':>6}"
        f"{'piece exact':>12}{'piece MAE':>10}",
    ]
    for name, m in report["results"].items():
        ci = f"{m['mae_ci95'][0]:.2f}-{m['mae_ci95'][1]:.2f}"
        pa = m["piece_averaged"]
        lines.append(
            f"{name:<18}{m['exact']:>8.1%}{m['within_one']:>9.1%}{m['mae']:>7.2f}{ci:>15}{m['within_6.4']:>7.1%}"
            f"{m['within_12.7']:>8.1%}{m['pred_sd']:>6.1f}{pa['exact']:>12.1%}{pa['mae']:>10.2f}"
        )
    return "\n".join(lines)

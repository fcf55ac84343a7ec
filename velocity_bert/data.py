"""Corpora -> tokenized windows: MAESTRO, a folder with `splits.csv` (ASAP), or any MIDI folder.

Whole pieces are cut into overlapping windows (MidiTok's `DatasetMIDI` keeps only the first
`max_seq_len` tokens of a file), and the windows are cached as Arrow files by `datasets`, built in
parallel with `num_proc`.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path

import datasets
import numpy as np
import torch

from .alignment import copy_markings, load_pairs, pairs_path, score_copy
from .decoding import window_starts
from .notes import MIDI_SUFFIXES, MidiInputError, has_markings, legato, load_notes
from .tokenization_velocity_bert import VelocityBertTokenizer

SPLITS = ("train", "validation", "test")
# For measuring a model on someone's own files: every file, whatever its split.
ALL = "all"


def _hash_split(key: str) -> str:
    """The ASAP rule, applied to a file's folder: 0 -> test, 1 -> validation, else train."""
    bucket = int(hashlib.sha1(key.encode()).hexdigest(), 16) % 10
    return "test" if bucket == 0 else "validation" if bucket == 1 else "train"


def list_files(root: str | Path, split: str) -> list[Path]:
    """The MIDI files of one split (or `ALL` of them), in a stable order.

    A MAESTRO folder (`maestro-v3.0.0.csv`) uses its `split` column; a folder with `splits.csv`
    (columns `midi_performance`, `split`) uses that; any other folder is split by a hash of each
    file's folder, so performances of one piece never straddle splits.
    """
    if split not in (*SPLITS, ALL):
        raise ValueError(f"split must be one of {(*SPLITS, ALL)}, not {split!r}")
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: not a folder")
    maestro = _maestro_rows(root)
    if maestro is not None:
        return [root / r["midi_filename"] for r in maestro if split in (ALL, r["split"])]
    if (root / "splits.csv").is_file():
        with open(root / "splits.csv", newline="") as f:
            return [root / r["midi_performance"] for r in csv.DictReader(f) if split in (ALL, r["split"])]
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in MIDI_SUFFIXES and p.is_file())
    return [p for p in files if split in (ALL, _hash_split(str(p.parent.relative_to(root))))]


def _maestro_rows(root: Path) -> list[dict] | None:
    """The rows of a MAESTRO folder's csv (the newest version's), or None for another folder."""
    found = sorted(root.glob("maestro-v*.csv"))
    if not found:
        return None
    with open(found[-1], newline="") as f:
        return list(csv.DictReader(f))


def piece_names(root: str | Path, files: list[str | Path]) -> list[str]:
    """The piece each file performs, for piece-averaged measures: MAESTRO's composer and title (its
    year folders hold many pieces each), otherwise the file's folder (ASAP gives every piece its
    own; a plain folder is one piece per folder)."""
    root = Path(root)
    maestro = _maestro_rows(root) if root.is_dir() else None
    titles = {}
    if maestro is not None:
        titles = {str(root / r["midi_filename"]): f"{r['canonical_composer']}: {r['canonical_title']}" for r in maestro}
    return [titles.get(str(f), str(Path(f).parent)) for f in files]


def training_files(root: str | Path, validation_share: float = 0.05) -> tuple[list[Path], list[Path]]:
    """Train and validation files. A corpus whose split leaves one of them empty (a flat folder of
    one's own files: they share a folder, so its hash puts them all in one split) holds out
    `validation_share` of its files, spread over them, as `run_mlm.py`'s validation_split_percentage
    does for a dataset without a validation split."""
    if not 0 < validation_share < 1:
        raise ValueError(f"validation_share must be between 0 and 1, not {validation_share}")
    train, validation = list_files(root, "train"), list_files(root, "validation")
    if train and validation:
        return train, validation
    pool = train or list_files(root, ALL)
    if len(pool) < 2:
        raise ValueError(f"{root}: training needs at least 2 MIDI files (one to validate on), found {len(pool)}")
    held = set(np.linspace(0, len(pool) - 1, max(1, round(len(pool) * validation_share))).round().astype(int))
    return [f for i, f in enumerate(pool) if i not in held], [f for i, f in enumerate(pool) if i in held]


def score_copy_sources(
    root: str | Path, files: list[Path], alignments: str | Path, split: str = "train"
) -> dict[str, tuple[str, str]]:
    """Each performance of `files` whose note pairs with its score are cached under `alignments`
    (`alignment.pairs_path`), with that score and those pairs: what `build_windows(score_copies=)`
    reads. The score comes from the `midi_score` column of ASAP's `splits.csv`."""
    root = Path(root)
    if not (root / "splits.csv").is_file():
        raise ValueError(f"{root}: score copies need a splits.csv that names each performance's midi_score (ASAP)")
    with open(root / "splits.csv", newline="") as f:
        rows = {str(root / r["midi_performance"]): r for r in csv.DictReader(f) if r.get("midi_score")}
    sources = {}
    for path in map(str, files):
        if path in rows:
            pairs = pairs_path(alignments, split, rows[path]["midi_performance"])
            if pairs.is_file():
                sources[path] = (str(root / rows[path]["midi_score"]), str(pairs))
    return sources


def _windows_of_files(
    batch: dict,
    tokenizer: VelocityBertTokenizer,
    length: int | None,
    overlap: int,
    time_scale: float,
    as_legato: bool,
    score_copies: dict[str, tuple[str, str]] | None,
) -> dict:
    out = {"input_ids": [], "levels": [], "path": [], "start": []}
    for path in batch["path"]:
        markings = None  # known only for a score copy, and read only by a marking tokenizer
        try:
            if score_copies is not None:
                score_path, pairs = score_copies[path]
                score, (score_index, performance_index) = load_notes(score_path), load_pairs(pairs)
                notes = score_copy(score, load_notes(path), score_index, performance_index)
                if not len(notes):
                    continue  # an alignment that matched nothing gives no copy
                if tokenizer.markings and has_markings(score.velocity):
                    markings = copy_markings(score, score_index)
            else:
                notes = load_notes(path, time_scale=time_scale)
            if as_legato:
                notes = legato(notes)
        except MidiInputError:
            continue  # an unusable file in a corpus is skipped, not fatal
        ids = tokenizer.encode(notes, markings)
        levels = tokenizer.velocity_to_level(notes.velocity)
        if length is None:  # the whole file, bars absolute, cut when drawn (RandomWindows)
            if ids.max() > np.iinfo(np.int16).max:
                continue  # over 32,767 bars would wrap in int16; no real piece comes near
            out["input_ids"].append(ids.astype(np.int16))
            out["levels"].append(levels.astype(np.int8))
            out["path"].append(path)
            out["start"].append(0)
            continue
        for start in window_starts(len(notes), length, overlap):
            stop = min(start + length, len(notes))
            out["input_ids"].append(tokenizer.window(ids, start, stop).astype(np.int16))
            out["levels"].append(levels[start:stop].astype(np.int8))
            out["path"].append(path)
            out["start"].append(start)
    return out


def build_windows(
    files: list[Path],
    tokenizer: VelocityBertTokenizer,
    window_length: int | None = 512,
    overlap: int = 256,
    cache_dir: str | Path | None = None,
    num_proc: int | None = None,
    time_scale: float = 1.0,
    as_legato: bool = False,
    score_copies: dict[str, tuple[str, str]] | None = None,
) -> datasets.Dataset:
    """Tokenized windows of every file, cached under `cache_dir` keyed by files and settings.

    `window_length=None` keeps each file whole (one row, bars absolute), for `RandomWindows`.
    `time_scale` tokenizes each performance as if played that many times as long
    (`load_notes`): the tempo variants `RandomWindows` draws from. `as_legato` holds every note to the
    next chord (`notes.legato`): the articulation-free copy it draws from. `score_copies`
    (`score_copy_sources`) reads each performance as its score's matched notes carrying the
    pianist's velocities (`alignment.score_copy`): score timing with a pianist's answers.
    """
    settings = [
        sorted(map(str, files)),
        tokenizer.field_vocab_sizes,
        list(tokenizer.shift_bins_ms),
        tokenizer.sustain_pedal,
        window_length,
        overlap if window_length else None,  # whole files do not depend on it
    ]
    if time_scale != 1.0:  # only then, so the caches built before the option keep their keys
        settings.append(time_scale)
    if as_legato:
        settings.append("legato")
    if score_copies is not None:  # keyed by the pairs' contents, which a new alignment changes
        digest = hashlib.sha1()
        for path in sorted(score_copies):
            score, pairs = score_copies[path]
            digest.update(f"{path}\0{score}\0".encode() + Path(pairs).read_bytes())
        settings.append(["score copies", digest.hexdigest()])
    key = json.dumps(settings)
    cache_file = None
    if cache_dir is not None:
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
        cache_file = str(Path(cache_dir) / f"windows-{hashlib.sha1(key.encode()).hexdigest()[:16]}.arrow")
    ds = datasets.Dataset.from_dict({"path": [str(p) for p in files]})
    features = datasets.Features(
        {
            "input_ids": datasets.List(datasets.List(datasets.Value("int16"))),
            "levels": datasets.List(datasets.Value("int8")),
            "path": datasets.Value("string"),
            "start": datasets.Value("int32"),
        }
    )
    return ds.map(
        _windows_of_files,
        batched=True,
        batch_size=1,
        remove_columns=["path"],
        fn_kwargs={
            "tokenizer": tokenizer,
            "length": window_length,
            "overlap": overlap,
            "time_scale": time_scale,
            "as_legato": as_legato,
            "score_copies": score_copies,
        },
        features=features,
        num_proc=num_proc if num_proc and num_proc > 1 and len(files) > 1 else None,
        cache_file_name=cache_file,
        load_from_cache_file=cache_file is not None,
        desc="tokenizing",
    )


def unused_files(ds: datasets.Dataset, files: list[Path]) -> list[Path]:
    """The files that gave no window: unreadable, missing (a MAESTRO csv names a file that is not
    there), no notes, drums only. `_windows_of_files` skips them so one bad file cannot stop a run;
    this says which, so a run on half a corpus does not pass unnoticed."""
    used = set(ds.unique("path"))
    return [f for f in files if str(f) not in used]


class WindowArrays(torch.utils.data.Dataset):
    """The windows of a `build_windows` dataset as numpy views, for the training DataLoader.

    `datasets` turns each nested-list row into numpy one value at a time (about 2 ms a window,
    0.24 s per batch of 128): enough to starve a GPU. Flattening the Arrow columns once gives the
    same windows in ~0.1 s for all of ASAP. Hand-written: datasets has no zero-copy path for
    ragged 2-D rows.
    """

    def __init__(self, ds: datasets.Dataset):
        table = ds.select_columns(["input_ids", "levels"]).with_format("arrow")[:]
        ids, levels = (table.column(c).combine_chunks() for c in ("input_ids", "levels"))
        offsets = np.asarray(ids.offsets)
        self.offsets = offsets - offsets[0]  # window i holds notes offsets[i]:offsets[i + 1]
        notes = ids.flatten()  # one list of token fields per note
        self.ids = notes.flatten().to_numpy(zero_copy_only=False).reshape(len(notes), -1)
        self.levels = levels.flatten().to_numpy(zero_copy_only=False)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> dict:
        a, b = self.offsets[i], self.offsets[i + 1]
        return {"input_ids": self.ids[a:b], "levels": self.levels[a:b]}


class RandomWindows(WindowArrays):
    """Training windows whose starts move at random each time they are drawn.

    Fixed windows show a note in the same few contexts every pass, and the 6 x 384 model learns
    them by heart within ~180 passes over ASAP (validation loss rises while train loss falls). In
    the CPU proxy, windows at 8x the offsets held that off without touching any velocity; drawing
    each start anew gives that variety from one row per file, where fixed offsets would make the
    cache 8x larger. With it the bundled model trained ~285 passes and was still improving
    (BENCHMARKS.md, "Run 10").

    `files` comes from `build_windows(..., window_length=None)`. An epoch has as many windows as the
    fixed layout (`length`, `overlap`) has, and window i starts within half a step of that layout's
    i-th start, so every pass still covers each file evenly. Hand-written: MidiTok's and datasets'
    loaders cut fixed windows only.

    `variants`: the same files tokenized at other tempi (`build_windows(..., time_scale=f)`); each
    draw then takes its notes from one of them or the original, at random. A stretch changes the
    notes' timing fields but never which notes there are, so the windows' cuts and labels match.
    `legato`: the same files with every note held to the next chord (`build_windows(...,
    as_legato=True)`), drawn instead with probability `legato_p`.
    """

    def __init__(
        self,
        files: datasets.Dataset,
        tokenizer: VelocityBertTokenizer,
        length: int,
        overlap: int,
        variants: Sequence[datasets.Dataset] = (),
        legato: datasets.Dataset | None = None,
        legato_p: float = 0.0,
    ):
        super().__init__(files)
        self.variant_ids = [self.ids] + [self._same_notes(ds, "a tempo variant") for ds in variants]
        self.legato_ids = None if legato is None else self._same_notes(legato, "the legato copy")
        self.legato_p = legato_p
        self.tokenizer, self.length, self.step = tokenizer, length, length - overlap
        self.index = np.array(
            [(f, s) for f in range(len(self.offsets) - 1) for s in window_starts(self.file_length(f), length, overlap)],
            dtype=np.int64,
        ).reshape(-1, 2)
        self._seed, self._rng = None, None

    def _same_notes(self, ds: datasets.Dataset, what: str) -> np.ndarray:
        other = WindowArrays(ds)
        if not (np.array_equal(other.offsets, self.offsets) and np.array_equal(other.levels, self.levels)):
            raise ValueError(f"{what} holds other notes than the files it varies")
        return other.ids

    def file_length(self, f: int) -> int:
        return int(self.offsets[f + 1] - self.offsets[f])

    def __len__(self) -> int:
        return len(self.index)

    def rng(self) -> np.random.Generator:
        # torch seeds each DataLoader worker (and each epoch's workers) differently, and Trainer
        # seeds torch: a generator keyed on torch's seed differs across workers yet is reproducible.
        seed = torch.initial_seed()
        if seed != self._seed:
            self._seed, self._rng = seed, np.random.default_rng(seed)
        return self._rng

    def __getitem__(self, i: int) -> dict:
        f, nominal = self.index[i]
        a, n = self.offsets[f], self.file_length(f)
        start = 0
        if n > self.length:
            jitter = int(self.rng().integers(-(self.step // 2), self.step - self.step // 2))
            start = min(max(int(nominal) + jitter, 0), n - self.length)
        stop = min(start + self.length, n)
        ids = self.ids
        if len(self.variant_ids) > 1:  # drawn only then, so runs without variants keep their stream
            ids = self.variant_ids[int(self.rng().integers(len(self.variant_ids)))]
        if self.legato_ids is not None and self.rng().random() < self.legato_p:
            ids = self.legato_ids
        return {
            "input_ids": self.tokenizer.window(ids[a : a + n], start, stop),
            "levels": self.levels[a + start : a + stop],
        }

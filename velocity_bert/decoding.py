"""Whole-piece inference: overlapping windows + iterative mask-predict. The ONE inference path,
shared by the pipeline, `velocity-bert humanize` and `velocity-bert evaluate`, so every number we
report is what a user gets."""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import torch

from .notes import Notes, has_markings
from .tokenization_velocity_bert import MASK_ID, PAD_ID, VELOCITY, VelocityBertTokenizer

ESTIMATES = ("median", "mode", "mean")
# `keep_dynamics`, both from ASAP's validation scores with dynamics markings, note by note against
# the performances aligned to them (BENCHMARKS.md, "Keeping a score's dynamics"):
# how a pianist plays a notation program's marking velocities (MuseScore: pp 33, p 49, f 96, ff
# 112), the least-squares line velocity = intercept + slope x marking: pianists compress the
# markings' range about threefold;
MARKING_TO_PLAYED = (37.6, 0.343)
# `note_surprise` hides every 7th note of those it checks at once, in 7 rounds: about the 15% that
# the model is trained and evaluated to fill (random15), so each note is judged from the context
# the model knows best, with its neighbours and the rest of its chord heard.
SURPRISE_ROUNDS = 7
# `repair`'s default significance level, and the share of a pianist's own notes it flags there,
# both from ASAP validation (BENCHMARKS.md, "Repairing misplayed velocities"): with 2% of the notes
# moved by 20-40 units, 0.003 brought the file closest to what was played (MAE over all notes
# 0.60 -> 0.31; 0.001: 0.35, 0.01: 0.34).
REPAIR_ALPHA = 0.003
REPAIR_FALSE_ALARMS = 0.0018
# how far around each note (SD of a Gaussian over onset time, in seconds) the model's own loudness
# is averaged, to be replaced by the markings'.
DYNAMICS_SIGMA_S = 2.0


@dataclass
class DecodingOptions:
    # Mask-predict passes; each fixes a further share of the hidden notes. 1 is the default because
    # on ASAP validation more passes were less accurate in every setting and cost one encoder run
    # each (benchmarks/decoding_tradeoff.py, BENCHMARKS.md).
    passes: int = 1
    sample: bool = False  # sample levels instead of taking the most likely one
    temperature: float = 1.0
    # Point estimate when not sampling: "median" of the predicted distribution (each level's mass
    # spread over the velocities it quantizes), "mode" (the most likely level) or "mean" (expected
    # velocity). The median is the default because for the bundled model it beat the mode on
    # exact level, within one level and MAE in every setting on ASAP validation (BENCHMARKS.md,
    # "Point estimates"); the mode keeps a little more of the spread of dynamics. The median and
    # the mean give any velocity, not only the 32 levels' values.
    estimate: str = "median"
    seed: int | None = None
    batch_size: int = 16
    # Notes shared by neighbouring windows; None uses the model's config.window_overlap (256 of 512
    # for the bundled model: two windows per note). 384 (four windows per note) was more accurate in
    # every setting on ASAP validation and test, but doubles the work and fell under the 100x
    # real-time humanize goal on a slow 2-core machine, so it is an option (BENCHMARKS.md).
    overlap: int | None = None
    # How the windows that hold a note combine: "mean" averages their predicted distributions
    # (free: those windows are computed anyway; on validation it beat "owner", the window where
    # the note sits most centrally, and also beat weighting each window by how central the note is
    # in it, see BENCHMARKS.md: the gain is in the number of views, not in the central ones).
    combine: str = "mean"
    # After prediction: None keeps what the model predicts; (lo, hi) maps the 2nd-98th percentile
    # of the predicted velocities onto lo..hi, every note kept within it (the dynamic range).
    velocity_range: tuple[int, int] | None = None
    # Read the input's velocities as a score's dynamics markings: for a notation export with
    # markings. A model with the marking field (train.py --markings) is shown them as context; for
    # any other, the level comes from them and the model adds its shaping (see `keep_dynamics`).
    keep_dynamics: bool = False
    # Repair: of the notes asked for, predict only those whose given velocity the model finds this
    # unlikely (`note_surprise` below this level); the rest keep theirs. For a recording or a
    # transcription with a few misplayed or mis-transcribed velocities, where they are not known.
    repair: float | None = None

    def __post_init__(self):
        """Refuse meaningless options where they are defined, so the pipeline, the CLI and the demo
        all fail before any work, with the same one-line message."""
        if isinstance(self.passes, bool) or not isinstance(self.passes, Integral) or self.passes < 1:
            raise ValueError(f"passes must be a whole number >= 1, not {self.passes!r}")
        if not (isinstance(self.temperature, Real) and 0 < self.temperature < float("inf")):
            raise ValueError(f"temperature must be a positive number, not {self.temperature!r}")
        if self.estimate not in ESTIMATES:
            raise ValueError(f"estimate must be one of {', '.join(ESTIMATES)}, not {self.estimate!r}")
        if self.combine not in ("mean", "owner"):
            raise ValueError(f"combine must be mean or owner, not {self.combine!r}")
        if self.seed is not None and (
            isinstance(self.seed, bool) or not isinstance(self.seed, Integral) or self.seed < 0
        ):
            raise ValueError(f"seed must be a whole number >= 0, not {self.seed!r}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, not {self.batch_size!r}")
        if self.overlap is not None and self.overlap < 0:
            raise ValueError(f"overlap must be >= 0, not {self.overlap!r}")
        if self.repair is not None:
            if not (isinstance(self.repair, Real) and 0 < self.repair < 1):
                raise ValueError(f"repair is a probability between 0 and 1 (0.01, say), not {self.repair!r}")
            if self.keep_dynamics:
                raise ValueError("repair reads the velocities as a performance's, keep_dynamics as a score's markings")
            if self.velocity_range is not None:
                raise ValueError("repair keeps every velocity but a few: a dynamic range is for a whole rendition")
        if self.velocity_range is not None:
            lo, hi = self.velocity_range
            if not 1 <= lo < hi <= 127:
                raise ValueError(f"the dynamic range needs 1 <= low < high <= 127, not {lo}..{hi}")
            self.velocity_range = (int(lo), int(hi))


def window_overlap(config, options: DecodingOptions) -> int:
    """The overlap decoding uses: the option when set, else the model's."""
    return config.window_overlap if options.overlap is None else options.overlap


def window_starts(n: int, length: int, overlap: int) -> list[int]:
    """Starts of windows of `length` notes, stepping by length - overlap, the last flush with the end."""
    if n <= length:
        return [0]
    step = length - overlap
    starts = list(range(0, n - length + 1, step))
    if starts[-1] + length < n:
        starts.append(n - length)
    return starts


def _owner_windows(n: int, starts: list[int], length: int) -> np.ndarray:
    """For each note, the window in which it sits most centrally (most context on both sides)."""
    best = np.zeros(n, dtype=np.int64)
    margin = np.full(n, -1)
    idx = np.arange(n)
    for w, start in enumerate(starts):
        stop = min(start + length, n)
        inside = (idx >= start) & (idx < stop)
        m = np.minimum(idx - start, stop - 1 - idx)
        better = inside & (m > margin)
        best[better], margin[better] = w, m[better]
    return best


@torch.inference_mode()
def _level_probs(model, windows: list[np.ndarray], batch_size: int) -> list[np.ndarray]:
    device = next(model.parameters()).device
    out = []
    for b in range(0, len(windows), batch_size):
        chunk = windows[b : b + batch_size]
        length = max(len(w) for w in chunk)
        ids = np.full((len(chunk), length, chunk[0].shape[1]), PAD_ID, dtype=np.int64)
        att = np.zeros((len(chunk), length), dtype=np.int64)
        for i, w in enumerate(chunk):
            ids[i, : len(w)], att[i, : len(w)] = w, 1
        ids_t = torch.from_numpy(ids).to(device)
        att_t = torch.from_numpy(att).to(device)
        logits = model(input_ids=ids_t, attention_mask=att_t).logits.float()
        probs = torch.softmax(logits, dim=-1).cpu().numpy()
        out.extend(probs[i, : len(w)] for i, w in enumerate(chunk))
    return out


def _windows(config, n: int, options: DecodingOptions) -> tuple[list[int], np.ndarray]:
    """Where the windows over `n` notes start, and the window each note sits most centrally in."""
    length = config.window_length
    overlap = window_overlap(config, options)
    if not 0 <= overlap < length:
        raise ValueError(f"overlap must be in 0..{length - 1}, not {overlap}")
    starts = window_starts(n, length, overlap)
    return starts, _owner_windows(n, starts, length)


def _hidden_distributions(
    model,
    tokenizer: VelocityBertTokenizer,
    ids: np.ndarray,
    todo_idx: np.ndarray,
    starts: list[int],
    owner: np.ndarray,
    options: DecodingOptions,
) -> np.ndarray:
    """The level distribution of each note at `todo_idx` (sorted), read from `ids` as given (the
    caller has masked what is hidden): only the windows that own one of them run."""
    n, length = len(ids), model.config.window_length
    needed = sorted({int(w) for w in owner[todo_idx]})
    probs_by_window = _level_probs(
        model, [tokenizer.window(ids, starts[w], starts[w] + length) for w in needed], options.batch_size
    )
    if options.combine == "mean":
        # Every computed window that holds a note votes: average the distributions.
        total_p = np.zeros((n, probs_by_window[0].shape[1]))
        count = np.zeros(n)
        for w, p in zip(needed, probs_by_window):
            total_p[starts[w] : starts[w] + len(p)] += p
            count[starts[w] : starts[w] + len(p)] += 1
        return total_p[todo_idx] / count[todo_idx, None]
    # Gather each hidden note's row from its owner window in one indexing step.
    offsets = np.cumsum([0] + [len(p) for p in probs_by_window])[:-1]
    slot = np.searchsorted(needed, owner[todo_idx])
    return np.concatenate(probs_by_window)[offsets[slot] + todo_idx - np.asarray(starts)[owner[todo_idx]]]


def predict_levels(
    model,
    tokenizer: VelocityBertTokenizer,
    notes: Notes,
    hidden: np.ndarray | None = None,
    options: DecodingOptions | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Velocity levels for every note (predicted where `hidden`, default all, else the input's),
    and the velocity estimate of each note (the level's velocity, or the median or mean velocity).

    Mask-predict: each pass predicts all still-hidden notes, then fixes the most confident ones
    (a growing share: k/passes of them after pass k) and shows them as context to the next pass.
    """
    options = options or DecodingOptions()
    config = model.config
    n = len(notes)
    hidden = np.ones(n, dtype=bool) if hidden is None else np.asarray(hidden, dtype=bool).copy()
    if hidden.shape != (n,):
        raise ValueError(f"mask has {hidden.shape[0]} entries for {n} notes")
    ids = tokenizer.encode(notes, markings=notes.velocity if reads_markings(tokenizer, notes, options) else None)
    levels = tokenizer.velocity_to_level(notes.velocity)
    estimate = tokenizer.level_to_velocity(levels).astype(np.float64)
    if not hidden.any():
        return levels, estimate
    starts, owner = _windows(config, n, options)
    rng = np.random.default_rng(options.seed)
    bounds = tokenizer.level_bounds() if options.estimate == "median" else None
    todo = hidden.copy()
    total = int(hidden.sum())
    passes = min(options.passes, total)
    for k in range(1, passes + 1):
        current = ids.copy()
        current[todo, VELOCITY] = MASK_ID
        current[hidden & ~todo, VELOCITY] = tokenizer.velocity_token(levels[hidden & ~todo])
        todo_idx = np.flatnonzero(todo)
        probs = _hidden_distributions(model, tokenizer, current, todo_idx, starts, owner, options)
        if options.sample:
            # In log space, so that a low temperature sharpens toward the mode instead of underflowing.
            logits = np.log(np.maximum(probs, 1e-30)) / options.temperature
            p = np.exp(logits - logits.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            choice = (p.cumsum(axis=1) > rng.random((len(p), 1))).argmax(axis=1)
        elif options.estimate == "median":
            choice = (probs.cumsum(axis=1) >= 0.5).argmax(axis=1)
            continuous = interpolated_median(probs, *bounds)
        elif options.estimate == "mean":
            continuous = probs @ tokenizer.velocities
            choice = tokenizer.velocity_to_level(np.rint(continuous))
        else:
            choice = probs.argmax(axis=1)
        value = tokenizer.level_to_velocity(choice).astype(np.float64)
        if options.estimate in ("mean", "median") and not options.sample:
            value = continuous
        confidence = probs.max(axis=1)
        fix_count = len(todo_idx) if k == passes else int(np.ceil(total * k / passes)) - (total - len(todo_idx))
        fix = todo_idx[np.argsort(-confidence, kind="stable")[: max(fix_count, 0)]]
        levels[fix] = choice[np.searchsorted(todo_idx, fix)]
        estimate[fix] = value[np.searchsorted(todo_idx, fix)]
        todo[fix] = False
    return levels, estimate


def note_surprise(
    model,
    tokenizer: VelocityBertTokenizer,
    notes: Notes,
    candidates: np.ndarray | None = None,
    options: DecodingOptions | None = None,
) -> np.ndarray:
    """How unlikely each note's given velocity is to the model that hears everything else: the
    two-sided tail probability of its level under the distribution predicted with it hidden (NaN
    for notes outside `candidates`, default all).

    Why a tail probability and not a distance in velocity units: the model is sure of some notes
    (a chord's inner voice) and unsure of others (a phrase's first note), and the same 15 units are
    a slip in one place and a choice in the other. Where the model is calibrated, a real pianist's
    notes score p < alpha about alpha of the time, so a threshold is a false-alarm rate a user can
    read (measured on ASAP validation: BENCHMARKS.md, "Repairing misplayed velocities")."""
    options = options or DecodingOptions()
    n = len(notes)
    candidates = np.ones(n, dtype=bool) if candidates is None else np.asarray(candidates, dtype=bool)
    if candidates.shape != (n,):
        raise ValueError(f"mask has {candidates.size} entries for {n} notes")
    surprise = np.full(n, np.nan)
    checked = np.flatnonzero(candidates)
    if not len(checked):
        return surprise
    ids = tokenizer.encode(notes)
    levels = tokenizer.velocity_to_level(notes.velocity)
    starts, owner = _windows(model.config, n, options)
    for r in range(SURPRISE_ROUNDS):
        todo_idx = checked[r::SURPRISE_ROUNDS]
        if not len(todo_idx):
            continue
        current = ids.copy()
        current[todo_idx, VELOCITY] = MASK_ID
        probs = _hidden_distributions(model, tokenizer, current, todo_idx, starts, owner, options)
        rows, given = np.arange(len(todo_idx)), levels[todo_idx]
        at_most = probs.cumsum(axis=1)[rows, given]
        at_least = 1.0 - at_most + probs[rows, given]
        surprise[todo_idx] = np.minimum(1.0, 2.0 * np.minimum(at_most, at_least))
    return surprise


def interpolated_median(probs: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """0.5 quantile of each row's distribution over levels, each level's mass spread evenly over
    its stretch lo..hi of the velocity line. The median level alone is off by up to half a level
    (2 velocity units) wherever the quantile falls inside it: on validation this lowered MAE
    5.85 -> 5.74 (random15) and 9.93 -> 9.87 (all)."""
    cum = probs.cumsum(axis=1)
    k = (cum >= 0.5).argmax(axis=1)
    rows = np.arange(len(probs))
    below = cum[rows, k] - probs[rows, k]
    frac = (0.5 - below) / np.maximum(probs[rows, k], 1e-12)
    return lo[k] + frac * (hi[k] - lo[k])


def fit_range(velocities: np.ndarray, velocity_range: tuple[int, int]) -> np.ndarray:
    """Map the 2nd-98th percentile of `velocities` linearly onto velocity_range, and clip the few
    notes beyond them to it: percentiles, so that one stray note does not squeeze the rest; clipped,
    because a range the user sets is a promise about every note (e.g. a sample library's layers)."""
    lo, hi = velocity_range
    p2, p98 = np.percentile(velocities, [2, 98])
    scale = (hi - lo) / (p98 - p2) if p98 > p2 else 0.0
    return np.clip(
        np.rint(lo + (velocities - p2) * scale if scale else np.full(len(velocities), (lo + hi) / 2)), lo, hi
    ).astype(np.int64)


def local_mean(onsets: np.ndarray, values: np.ndarray, sigma_s: float) -> np.ndarray:
    """Gaussian-weighted mean of `values` around each onset (weights by distance in time, SD
    `sigma_s`). On a grid of sigma/32, so that it stays linear in the notes: a 100,000-note file
    would not fit the note-by-note weight matrix."""
    onsets = np.asarray(onsets, dtype=np.float64)
    if not len(onsets):
        return np.zeros(0)
    step = max(sigma_s / 32, np.ptp(onsets) / 2e6, 1e-4)  # at most about two million cells
    cell = np.rint((onsets - onsets.min()) / step).astype(np.int64)
    radius = int(np.ceil(4 * sigma_s / step))
    kernel = np.exp(-0.5 * (np.arange(-radius, radius + 1) * step / sigma_s) ** 2)
    # "full" and a slice, not "same": numpy's "same" is as long as the kernel when the file is shorter.
    sums = np.convolve(np.bincount(cell, weights=values), kernel)[radius:]
    counts = np.convolve(np.bincount(cell).astype(np.float64), kernel)[radius:]
    return sums[cell] / counts[cell]


def keep_dynamics(
    onsets: np.ndarray,
    given: np.ndarray,
    predicted: np.ndarray,
    sigma_s: float = DYNAMICS_SIGMA_S,
    marking_to_played: tuple[float, float] = MARKING_TO_PLAYED,
) -> np.ndarray:
    """The given velocities, read as a score's dynamics markings, as the level; the model's
    shaping on top: each note's prediction minus the model's own loudness around it (`local_mean`),
    plus the note's marking as a pianist plays it (`marking_to_played`).

    Why: a notation program writes the score's markings into the velocities (MuseScore: p 49,
    f 96, ff 112, hairpins in between), and most of ASAP's score MIDIs carry them. Predicting every
    velocity replaces the composer's dynamics with the model's guess; on ASAP's validation scores
    the markings, scaled to a pianist's range, follow the pianists more closely than the model's
    own levels do, and the model adds what they do not say: which notes of a chord, a beat or a
    phrase stand out."""
    given = np.asarray(given, dtype=np.float64)
    predicted = np.asarray(predicted, dtype=np.float64)
    if not len(predicted):
        return predicted
    intercept, slope = marking_to_played
    return intercept + slope * given + predicted - local_mean(onsets, predicted, sigma_s)


def reads_markings(tokenizer: VelocityBertTokenizer, notes: Notes, options: DecodingOptions) -> bool:
    """Whether the model is shown the file's velocities as its score's markings: only when asked
    (`keep_dynamics`: a recording's velocities are a pianist's, not markings), only by a tokenizer
    with the marking field, and only where they vary."""
    return options.keep_dynamics and tokenizer.markings and has_markings(notes.velocity)


def predict_velocities(
    model,
    tokenizer: VelocityBertTokenizer,
    notes: Notes,
    hidden: np.ndarray | None = None,
    options: DecodingOptions | None = None,
) -> np.ndarray:
    """Velocities (1-127) for every note; notes not hidden keep their input velocity exactly."""
    options = options or DecodingOptions()
    hidden = np.ones(len(notes), dtype=bool) if hidden is None else np.asarray(hidden, dtype=bool)
    if options.repair is not None:
        hidden = hidden & (note_surprise(model, tokenizer, notes, hidden, options) < options.repair)
    _, estimate = predict_levels(model, tokenizer, notes, hidden, options)
    predicted = estimate[hidden]
    # A file whose velocities are all the same has no markings to keep; a passage inside one
    # marking of a marked file has (its level is that marking's). A model that reads the markings
    # has played them already.
    if options.keep_dynamics and has_markings(notes.velocity) and not tokenizer.markings:
        predicted = keep_dynamics(notes.onset_sec[hidden], notes.velocity[hidden], predicted)
    predicted = np.clip(np.rint(predicted), 1, 127).astype(np.int64)
    if options.velocity_range is not None and len(predicted):
        predicted = fit_range(predicted, options.velocity_range)
    velocities = notes.velocity.astype(np.int64).copy()
    velocities[hidden] = predicted
    return velocities

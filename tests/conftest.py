"""Shared fixtures: small MIDI files built with symusic, tiny models, and the ASAP folder when present."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import symusic

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ASAP = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "asap"


def make_score(n_notes: int = 200, seed: int = 0, drums: bool = True, tpq: int = 480) -> symusic.Score:
    """Two piano tracks (melody with some out-of-range and zero-length notes, chords), a drum track,
    tempo and time-signature changes, sustain pedal and other controllers."""
    rng = np.random.default_rng(seed)
    score = symusic.Score(tpq)
    score.tempos.append(symusic.Tempo(0, 100.0))
    score.tempos.append(symusic.Tempo(tpq * 16, 140.0))
    score.time_signatures.append(symusic.TimeSignature(0, 4, 4))
    score.time_signatures.append(symusic.TimeSignature(tpq * 24, 3, 4))
    right = symusic.Track("right", program=0)
    left = symusic.Track("left", program=1)
    t = 0
    for i in range(n_notes):
        t += int(rng.choice([0, tpq // 4, tpq // 2, tpq]))
        pitch = int(rng.integers(55, 90)) if i % 50 else 110  # one pitch above the piano's range
        duration = int(rng.integers(tpq // 8, tpq * 2)) if i % 37 else 0  # some zero-length notes
        right.notes.append(symusic.Note(t, duration, pitch, int(rng.integers(20, 120))))
        if i % 4 == 0:
            for p in (36, 43, 48):
                left.notes.append(symusic.Note(t, tpq, p + int(rng.integers(0, 5)), int(rng.integers(20, 100))))
    for k in range(0, t, tpq * 4):
        left.controls.append(symusic.ControlChange(k, 64, 127))
        left.controls.append(symusic.ControlChange(k + tpq * 3, 64, 0))
        right.controls.append(symusic.ControlChange(k, 7, 100))
    score.tracks.append(right)
    score.tracks.append(left)
    if drums:
        kit = symusic.Track("drums", program=0, is_drum=True)
        for k in range(0, t, tpq):
            kit.notes.append(symusic.Note(k, tpq // 4, 36, 100))
        score.tracks.append(kit)
    return score


def marked_score(change_at: int = 120) -> symusic.Score:
    """A notation export's dynamics: the melody's first `change_at` notes and everything under
    them marked p (49), the rest f (96), as MuseScore writes the markings into the velocities."""
    score = make_score(2 * change_at, seed=5, drums=False)
    change = score.tracks[0].notes[change_at].time
    for track in score.tracks:
        for note in track.notes:
            note.velocity = 49 if note.time < change else 96
    return score


def smf_bytes(tracks: list[list[tuple[int, bytes]]], fmt: int = 1, tpq: int = 480) -> bytes:
    """A Standard MIDI File written byte by byte, for what symusic cannot write (channels, format 0,
    system-exclusive and text events, running status): each track a list of (delta ticks, event
    bytes); the end-of-track event is added."""

    def delta(ticks: int) -> bytes:
        out = [ticks & 0x7F]
        while ticks := ticks >> 7:
            out.insert(0, (ticks & 0x7F) | 0x80)
        return bytes(out)

    chunks = b""
    for events in tracks:
        body = b"".join(delta(t) + e for t, e in events) + delta(0) + b"\xff\x2f\x00"
        chunks += b"MTrk" + len(body).to_bytes(4, "big") + body
    header = fmt.to_bytes(2, "big") + len(tracks).to_bytes(2, "big") + tpq.to_bytes(2, "big")
    return b"MThd" + (6).to_bytes(4, "big") + header + chunks


def import_script(relative_path: str):
    """A script under the repository root (benchmarks/...), imported as a module: they are not part
    of the package, but tests check the pieces of them that numbers in BENCHMARKS.md depend on.
    Its folder goes on sys.path while it loads, as when Python runs it, for the scripts it imports."""
    import importlib.util
    import sys

    path = Path(__file__).resolve().parents[1] / relative_path
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module


def tiny_config(**overrides):
    """A model small enough for unit tests (windows of 64 notes, so long pieces use many)."""
    from velocity_bert import VelocityBertConfig

    sizes = dict(
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=64,
        window_length=64,
        window_overlap=32,
    )
    return VelocityBertConfig(**{**sizes, **overrides})


@pytest.fixture
def midi_file(tmp_path) -> Path:
    path = tmp_path / "piece.mid"
    make_score().dump_midi(str(path))
    return path


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """An untrained tiny model folder, written the way users get one (code files included)."""
    import torch

    import velocity_bert as vb

    torch.manual_seed(0)
    tok = vb.VelocityBertTokenizer()
    config = tiny_config(field_vocab_sizes=tok.field_vocab_sizes)
    path = tmp_path_factory.mktemp("tiny") / "model"
    vb.save_model_folder(vb.VelocityBertForMaskedVelocity(config).eval(), tok, path)
    return path


# The level distribution `sure_model_dir` predicts for every hidden note, whatever it hears: most of
# the mass on level 16 (velocity 67), a little on its neighbours, a trace on every other level.
SURE_LEVEL = 16


def sure_distribution(levels: int = 32) -> np.ndarray:
    dist = np.full(levels, 0.02 / (levels - 3))
    dist[[SURE_LEVEL - 1, SURE_LEVEL, SURE_LEVEL + 1]] = [0.04, 0.9, 0.04]
    return dist


@pytest.fixture(scope="session")
def sure_model_dir(tmp_path_factory) -> Path:
    """A tiny model folder whose head ignores what it hears and always predicts `sure_distribution`:
    what it flags and repairs is then known exactly. Only a hidden note gets the head's prediction
    (any other position's logits are 0, a uniform distribution): a note judged with its own
    velocity visible would never look unlikely."""
    import torch

    import velocity_bert as vb

    tok = vb.VelocityBertTokenizer()
    model = vb.VelocityBertForMaskedVelocity(tiny_config(field_vocab_sizes=tok.field_vocab_sizes)).eval()
    with torch.no_grad():
        model.head.decoder.weight.zero_()
        model.head.decoder.bias.copy_(torch.from_numpy(np.log(sure_distribution())))
    path = tmp_path_factory.mktemp("sure") / "model"
    vb.save_model_folder(model, tok, path)
    return path


def score_with_slips(n_notes: int = 150, slips: dict[int, int] | None = None) -> symusic.Score:
    """One track of `n_notes` notes, every one at level 16's velocity but for `slips` (note index:
    velocity): a performance the sure model finds plausible except where it slipped."""
    import velocity_bert as vb

    steady = int(vb.VelocityBertTokenizer().velocities[SURE_LEVEL])
    slips = {20: 127, 75: 3, 130: 125} if slips is None else slips
    score = symusic.Score(480)
    score.tracks.append(symusic.Track("piano", program=0))
    score.tracks[0].notes.extend(
        symusic.Note(240 * i, 240, 48 + (i * 7) % 36, slips.get(i, steady)) for i in range(n_notes)
    )
    return score


@pytest.fixture(scope="module")
def pipe(tiny_model_dir):
    """The pipeline over the tiny model, loaded once per test module."""
    import velocity_bert as vb

    return vb.load_pipeline(str(tiny_model_dir))


@pytest.fixture(scope="session")
def asap() -> Path:
    if not (ASAP / "splits.csv").is_file():
        pytest.skip("../shared/data/asap is not present")
    return ASAP

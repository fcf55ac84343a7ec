import hashlib

import numpy as np
import pytest
import symusic

import velocity_bert as vb
from tests.conftest import import_script, make_score
from velocity_bert.data import list_files
from velocity_bert.decoding import DecodingOptions
from velocity_bert.evaluation import evaluate, median_velocity, weights_sha256


def test_explicit_files_match_the_split_and_report_decoding_time(tiny_model_dir, tmp_path):
    for i in range(12):
        (tmp_path / f"piece{i}").mkdir()
        make_score(80, seed=i, drums=False).dump_midi(str(tmp_path / f"piece{i}" / "p.mid"))
    pipe = vb.load_pipeline(str(tiny_model_dir))
    args = (pipe.model, pipe.velocity_tokenizer, tmp_path)
    options = DecodingOptions(overlap=16)
    by_split = evaluate(*args, split="train", setting="all", options=options, max_files=3, progress=False)
    files = list_files(tmp_path, "train")[:3]
    by_list = evaluate(*args, setting="all", options=options, files=files, progress=False)
    assert by_list["results"] == by_split["results"] and by_list["files"] == 3
    assert by_list["decode_seconds"] > 0 and by_list["overlap"] == 16 and by_list["passes"] == 1


def test_a_maestro_year_folder_holds_many_pieces(tiny_model_dir, tmp_path):
    """Piece-averaged measures weigh MAESTRO's pieces (composer and title), not its year folders."""
    rows = ["canonical_composer,canonical_title,split,year,midi_filename,audio_filename,duration"]
    (tmp_path / "2018").mkdir()
    for i, title in enumerate(("A", "B", "A", "C")):
        make_score(60 + 30 * i, seed=i, drums=False).dump_midi(str(tmp_path / "2018" / f"{i}.midi"))
        rows.append(f"X,{title},{'train' if i == 3 else 'test'},2018,2018/{i}.midi,{i}.wav,1")
    (tmp_path / "maestro-v3.0.0.csv").write_text("\n".join(rows) + "\n")
    pipe = vb.load_pipeline(str(tiny_model_dir))
    options = DecodingOptions(overlap=16)
    report = evaluate(pipe.model, pipe.velocity_tokenizer, tmp_path, split="test", setting="all", options=options)
    assert report["files"] == 3 and report["pieces"] == 2  # one year folder, two pieces
    # With every velocity hidden, the constant's errors are known: |velocity - train median|.
    median = report["train_median_velocity"]

    def errors(i):
        return np.abs(vb.load_notes(tmp_path / "2018" / f"{i}.midi").velocity - median)

    expected = np.mean([np.concatenate([errors(0), errors(2)]).mean(), errors(1).mean()])  # pieces A and B
    assert report["results"]["train_median"]["piece_averaged"]["mae"] == pytest.approx(expected)


def test_a_flat_folder_of_ones_own_files(tiny_model_dir, tmp_path):
    """Files side by side hash into one split; `all` measures every one of them, against the
    folder's own median (there is no train split apart from them), and a split without files says
    how to get them."""
    for i in range(3):
        make_score(80, seed=i, drums=False).dump_midi(str(tmp_path / f"p{i}.mid"))
    (tmp_path / "broken.mid").write_bytes(b"MThd")
    pipe = vb.load_pipeline(str(tiny_model_dir))
    args = (pipe.model, pipe.velocity_tokenizer, tmp_path)
    report = evaluate(*args, split="all", setting="random15", options=DecodingOptions(overlap=16), progress=False)
    assert report["files"] == 3 and set(report["results"]) == {"velocity_bert", "folder_median", "nearest16_median"}
    files = sorted(tmp_path.glob("p*.mid"))
    median = np.median(np.concatenate([vb.load_notes(f).velocity for f in files]))
    assert report["folder_median_velocity"] == median == median_velocity(files)
    empty = next(s for s in ("train", "validation", "test") if not list_files(tmp_path, s))
    with pytest.raises(vb.MidiInputError, match="--split all uses every file"):
        evaluate(*args, split=empty, progress=False)


def test_cached_encoder_runs_give_the_same_numbers_as_fresh_ones(tiny_model_dir, tmp_path):
    """benchmarks/compare_on_validation.py reuses a model's outputs across point estimates: only
    right if every estimate then reports exactly what an uncached model gives, and if passes > 1
    (whose later inputs depend on the estimate) still runs the encoder where the inputs differ."""
    compare = import_script("benchmarks/compare_on_validation.py")
    for i in range(4):
        make_score(150, seed=i, drums=False).dump_midi(str(tmp_path / f"p{i}.mid"))
    files = sorted(tmp_path.glob("*.mid"))
    pipe = vb.load_pipeline(str(tiny_model_dir))
    cached = compare.CachedLogits(pipe.model)
    for passes in (1, 2):
        for estimate in ("mode", "median", "mean"):
            options = DecodingOptions(estimate=estimate, passes=passes, overlap=16)
            kwargs = dict(setting="random15", options=options, files=files, progress=False)
            fresh = evaluate(pipe.model, pipe.velocity_tokenizer, tmp_path, **kwargs)
            hits = cached.hits
            reused = evaluate(cached, pipe.velocity_tokenizer, tmp_path, **kwargs)
            assert reused["results"] == fresh["results"]
            assert (cached.hits > hits) == (estimate != "mode" or passes > 1)
    assert len(cached.memory) > 0


def test_weights_digest_names_the_file_and_is_none_without_one(tiny_model_dir, tmp_path):
    stored = hashlib.sha256((tiny_model_dir / "model.safetensors").read_bytes()).hexdigest()
    assert weights_sha256(tiny_model_dir) == stored
    assert weights_sha256(tmp_path) is None  # a folder without weights: no digest, no error


def test_score_rendition_cues_keep_each_note_with_its_velocity(tmp_path):
    """benchmarks/score_renditions.py --cues takes a performance's asynchrony and articulation out
    before decoding; its MAE is only meaningful if every velocity still belongs to its own note."""
    bench = import_script("benchmarks/score_renditions.py")
    score = symusic.Score(480)
    track = symusic.Track("piano", program=0)
    # Chords rolled over 0-20 ticks (~0-21 ms at 120 bpm), staccato, one every half beat.
    for c in range(40):
        for j, pitch in enumerate((72, 64, 60)):
            track.notes.append(symusic.Note(c * 240 + 10 * j, 60, pitch, 30 + 2 * c + j))
    score.tracks.append(track)
    score.dump_midi(str(tmp_path / "p.mid"))
    notes = vb.load_notes(tmp_path / "p.mid")
    together, order = bench.together(notes)
    assert len(np.unique(together.onset_tick)) == 40  # each chord struck at once
    assert (together.velocity == notes.velocity[order]).all() and (together.pitch == notes.pitch[order]).all()

    def triples(n):
        return sorted(zip(n.pitch.tolist(), n.velocity.tolist(), n.index.tolist()))

    assert triples(together) == triples(notes)
    assert (np.diff(together.onset_tick) >= 0).all() and (together.pitch[:3] == [60, 64, 72]).all()
    legato = bench.legato(together)
    assert (legato.duration_tick[:-3] == 240).all() and (legato.duration_tick[-3:] == 60).all()
    assert (legato.velocity == together.velocity).all()
    np.testing.assert_allclose(bench.curve(np.arange(8.0), 4), [0.5, 2.5, 4.5, 6.5])

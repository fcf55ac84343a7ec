import numpy as np
import pytest

from tests.conftest import make_score
from velocity_bert import VelocityBertTokenizer, load_notes
from velocity_bert.alignment import copy_markings, pairs_path, save_pairs, score_copy
from velocity_bert.data import (
    RandomWindows,
    WindowArrays,
    build_windows,
    list_files,
    piece_names,
    score_copy_sources,
    training_files,
    unused_files,
)
from velocity_bert.decoding import window_starts
from velocity_bert.notes import legato
from velocity_bert.tokenization_velocity_bert import MARKING, PAD_ID


def write(path, seed=0, n=100):
    path.parent.mkdir(parents=True, exist_ok=True)
    make_score(n, seed=seed).dump_midi(str(path))
    return path


def test_plain_folder_split_by_folder(tmp_path):
    for piece in range(30):
        for perf in range(2):
            write(tmp_path / f"piece{piece}" / f"p{perf}.mid", seed=piece, n=10)
    splits = {s: list_files(tmp_path, s) for s in ("train", "validation", "test")}
    assert sum(map(len, splits.values())) == 60
    folders = {s: {p.parent for p in files} for s, files in splits.items()}
    assert not (folders["train"] & folders["test"]) and not (folders["train"] & folders["validation"])
    assert splits["train"] and splits["test"]
    assert list_files(tmp_path, "all") == sorted(f for files in splits.values() for f in files)


def test_training_files_hold_out_a_share_where_the_split_has_none(tmp_path):
    flat = [write(tmp_path / "flat" / f"take{i:02d}.mid", seed=i, n=10) for i in range(40)]
    train, validation = training_files(tmp_path / "flat", validation_share=0.05)
    assert len(validation) == 2 and sorted(train + validation) == flat and not set(train) & set(validation)
    assert validation == [flat[0], flat[-1]]  # spread over the files, not one end of them
    for piece in range(30):
        write(tmp_path / "pieces" / f"piece{piece}" / "p.mid", seed=piece, n=10)
    both = training_files(tmp_path / "pieces")
    assert both == (list_files(tmp_path / "pieces", "train"), list_files(tmp_path / "pieces", "validation"))
    write(tmp_path / "one" / "a.mid")
    with pytest.raises(ValueError, match="at least 2 MIDI files"):
        training_files(tmp_path / "one")
    with pytest.raises(ValueError, match="between 0 and 1"):
        training_files(tmp_path / "flat", validation_share=1.5)  # would hold out every file


def test_maestro_and_splits_csv(tmp_path):
    maestro = tmp_path / "maestro"
    write(maestro / "2004" / "a.midi")
    write(maestro / "2006" / "b.midi")
    (maestro / "maestro-v3.0.0.csv").write_text(
        "canonical_composer,canonical_title,split,year,midi_filename,audio_filename,duration\n"
        "X,A,train,2004,2004/a.midi,2004/a.wav,1\nY,B,test,2006,2006/b.midi,2006/b.wav,1\n"
    )
    assert list_files(maestro, "train") == [maestro / "2004" / "a.midi"]
    assert list_files(maestro, "test") == [maestro / "2006" / "b.midi"]
    assert list_files(maestro, "all") == [maestro / "2004" / "a.midi", maestro / "2006" / "b.midi"]
    asap_like = tmp_path / "asap"
    write(asap_like / "C" / "perf.mid")
    (asap_like / "splits.csv").write_text("midi_performance,split\nC/perf.mid,validation\n")
    assert list_files(asap_like, "validation") == [asap_like / "C" / "perf.mid"]
    assert list_files(asap_like, "all") == [asap_like / "C" / "perf.mid"]


def test_pieces_are_maestro_titles_or_folders(tmp_path):
    """Piece-averaged measures need the piece: a MAESTRO year folder holds many (the folder would
    make a year one piece); ASAP and plain folders keep one piece per folder."""
    maestro = tmp_path / "maestro"
    files = [write(maestro / "2004" / f"{name}.midi") for name in ("a", "b", "c")]
    (maestro / "maestro-v3.0.0.csv").write_text(
        "canonical_composer,canonical_title,split,year,midi_filename,audio_filename,duration\n"
        "Chopin,Ballade No. 1,test,2004,2004/a.midi,a.wav,1\nLiszt,Mephisto Waltz,test,2004,2004/b.midi,b.wav,1\n"
        "Chopin,Ballade No. 1,test,2004,2004/c.midi,c.wav,1\n"
    )
    assert piece_names(maestro, list_files(maestro, "test")) == [
        "Chopin: Ballade No. 1",
        "Liszt: Mephisto Waltz",
        "Chopin: Ballade No. 1",
    ]
    assert piece_names(tmp_path, files) == [str(maestro / "2004")] * 3  # no csv there: by folder


def test_windows_cover_every_note():
    for n in (1, 63, 64, 65, 200, 1000):
        starts = window_starts(n, 64, 16)
        covered = np.zeros(n, dtype=bool)
        for s in starts:
            covered[s : s + 64] = True
        assert covered.all() and all(s + 64 <= max(n, 64) for s in starts)


def test_build_windows_keeps_whole_pieces_and_caches(tmp_path):
    files = [write(tmp_path / "f" / f"{i}.mid", seed=i, n=150) for i in range(3)]
    files.append(tmp_path / "f" / "broken.mid")
    files[-1].write_bytes(b"not midi")
    tok = VelocityBertTokenizer()
    ds = build_windows(files, tok, window_length=64, overlap=16, cache_dir=tmp_path / "cache")
    for path in files[:3]:
        n = len(load_notes(path))
        rows = [r for r in ds if r["path"] == str(path)]
        covered = np.zeros(n, dtype=bool)
        for r in rows:
            covered[r["start"] : r["start"] + len(r["levels"])] = True
        assert covered.all()
    assert unused_files(ds, files) == [files[-1]]  # skipped, and known to be
    assert list((tmp_path / "cache").glob("windows-*.arrow"))
    again = build_windows(files, tok, window_length=64, overlap=16, cache_dir=tmp_path / "cache")
    assert again.cache_files == ds.cache_files


def test_window_arrays_match_the_dataset_rows(tmp_path):
    files = [write(tmp_path / f"{i}.mid", seed=i, n=90 + 40 * i) for i in range(3)]
    ds = build_windows(files, VelocityBertTokenizer(), window_length=64, overlap=16)
    arrays = WindowArrays(ds)
    assert len(arrays) == len(ds) > 3
    for i, row in enumerate(ds):
        assert arrays[i]["input_ids"].dtype == np.int16
        np.testing.assert_array_equal(arrays[i]["input_ids"], np.asarray(row["input_ids"]))
        np.testing.assert_array_equal(arrays[i]["levels"], np.asarray(row["levels"]))
    assert len(WindowArrays(ds.select(range(2, 4)))) == 2
    np.testing.assert_array_equal(WindowArrays(ds.select(range(2, 4)))[1]["levels"], ds[3]["levels"])


def test_random_windows_are_true_cuts_of_whole_files(tmp_path):
    import torch

    files = [write(tmp_path / f"{i}.mid", seed=i, n=30 + 150 * i) for i in range(3)]
    tok = VelocityBertTokenizer()
    whole = build_windows(files, tok, window_length=None, cache_dir=tmp_path / "cache")
    assert len(whole) == 3 and whole[2]["start"] == 0
    fixed = build_windows(files, tok, window_length=64, overlap=16)
    windows = RandomWindows(whole, tok, length=64, overlap=16)
    assert len(windows) == len(fixed)  # an epoch is as long as with fixed windows
    notes = [load_notes(p) for p in files]
    ids = [tok.encode(n) for n in notes]
    levels = [tok.velocity_to_level(n.velocity) for n in notes]
    torch.manual_seed(0)
    starts = {}
    for _ in range(20):
        for i in range(len(windows)):
            f, nominal = windows.index[i]
            w = windows[i]
            n = len(notes[f])
            assert w["input_ids"].dtype == np.int16 and len(w["input_ids"]) == min(64, n)
            # find where this window was cut; it must be the tokenizer's own window of that span
            start = next(
                s
                for s in range(max(1, n - 63))
                if np.array_equal(levels[f][s : s + 64], w["levels"])
                and np.array_equal(tok.window(ids[f], s, s + 64), w["input_ids"])
            )
            assert abs(start - nominal) <= 24 or start in (0, n - 64)
            starts.setdefault(i, set()).add(start)
    assert len(starts[0]) == 1  # the shortest file fits one window, always whole
    assert all(len(s) > 5 for i, s in starts.items() if windows.index[i][0] == 2)  # starts move


def test_random_windows_draws_follow_torch_seed(tmp_path):
    import torch

    files = [write(tmp_path / "a.mid", seed=1, n=400)]
    tok = VelocityBertTokenizer()
    whole = build_windows(files, tok, window_length=None)

    def draw(seed):
        torch.manual_seed(seed)
        windows = RandomWindows(whole, tok, length=64, overlap=16)
        return [windows[i]["levels"].tobytes() for i in range(len(windows))]

    assert draw(0) == draw(0) and draw(0) != draw(1)


def test_random_windows_draw_tempo_variants(tmp_path):
    """With tempo variants each draw takes one copy's timing fields, cut where the original would be."""
    import pytest
    import torch

    files = [write(tmp_path / f"{i}.mid", seed=i, n=100 + 100 * i) for i in range(2)]
    tok = VelocityBertTokenizer()
    whole = build_windows(files, tok, window_length=None, cache_dir=tmp_path / "cache")
    slow = build_windows(files, tok, window_length=None, cache_dir=tmp_path / "cache", time_scale=1.5)
    assert slow.cache_files != whole.cache_files  # its own cache entry
    copies = [[tok.encode(load_notes(p, time_scale=s)) for p in files] for s in (1.0, 1.5)]
    assert not np.array_equal(copies[0][1], copies[1][1])
    windows = RandomWindows(whole, tok, length=64, overlap=16, variants=[slow])
    torch.manual_seed(0)
    used = set()
    for _ in range(10):
        for i in range(len(windows)):
            f = windows.index[i][0]
            w = windows[i]
            n = len(copies[0][f])
            found = {
                (c, s)
                for c in (0, 1)
                for s in range(max(1, n - 63))
                if np.array_equal(tok.window(copies[c][f], s, s + 64), w["input_ids"])
            }
            assert found, "every draw is a true cut of one copy"
            used.update(c for c, _ in found)
    assert used == {0, 1}
    other = build_windows(files[:1], tok, window_length=None)
    with pytest.raises(ValueError, match="other notes"):
        RandomWindows(whole, tok, length=64, overlap=16, variants=[other])


def test_random_windows_draw_the_legato_copy_with_its_probability(tmp_path):
    """--legato: a draw takes the held-to-the-next-chord copy's fields with probability legato_p,
    cut where the original would be; the copy has its own cache entry."""
    import torch

    files = [write(tmp_path / f"{i}.mid", seed=i, n=300) for i in range(2)]
    tok = VelocityBertTokenizer()
    whole = build_windows(files, tok, window_length=None, cache_dir=tmp_path / "cache")
    held = build_windows(files, tok, window_length=None, cache_dir=tmp_path / "cache", as_legato=True)
    assert held.cache_files != whole.cache_files
    copies = [[tok.encode(f(load_notes(p))) for p in files] for f in (lambda n: n, legato)]
    assert not np.array_equal(copies[0][0], copies[1][0])

    def sources(p):
        torch.manual_seed(0)
        windows = RandomWindows(whole, tok, length=64, overlap=16, legato=held, legato_p=p)
        found = []
        for _ in range(5):
            for i in range(len(windows)):
                f, w = windows.index[i][0], windows[i]
                n = len(copies[0][f])
                cuts = {
                    c
                    for c in (0, 1)
                    for s in range(n - 63)
                    if np.array_equal(tok.window(copies[c][f], s, s + 64), w["input_ids"])
                }
                assert len(cuts) == 1, "every draw is a true cut of exactly one copy"
                found.append(cuts.pop())
        return np.mean(found)

    assert sources(0.0) == 0 and sources(1.0) == 1 and 0.3 < sources(0.5) < 0.7


def test_score_copies_read_each_performance_as_its_score_with_the_pianist_velocities(tmp_path):
    """--score_copies: the windows of a copy are the score's matched notes, tokenized with the
    velocities the pianist played on them; the copies have their own cache entry, keyed by the pairs."""
    score = write(tmp_path / "piece" / "midi_score.mid", seed=1, n=120)
    played = write(tmp_path / "piece" / "pianist.mid", seed=2, n=120)  # any notes: pairs say which match
    unaligned = write(tmp_path / "piece" / "other.mid", seed=3, n=120)
    rows = ["midi_performance,midi_score,split"]
    rows += [f"piece/{p.name},piece/midi_score.mid,train" for p in (played, unaligned)]
    (tmp_path / "splits.csv").write_text("\n".join(rows) + "\n")
    pairs = (np.arange(0, 120, 2), np.arange(1, 121, 2)[::-1])  # every other score note, in any order
    save_pairs(pairs_path(tmp_path / "al", "train", "piece/pianist.mid"), *pairs)
    sources = score_copy_sources(tmp_path, [played, unaligned], tmp_path / "al")
    assert list(sources) == [str(played)]  # the unaligned performance has no copy
    tok = VelocityBertTokenizer()
    copies = build_windows(list(sources), tok, window_length=None, cache_dir=tmp_path / "cache", score_copies=sources)
    plain = build_windows([played], tok, window_length=None, cache_dir=tmp_path / "cache")
    assert copies.cache_files != plain.cache_files
    expected = score_copy(load_notes(score), load_notes(played), *pairs)
    assert len(expected) == 60 and (expected.velocity == load_notes(played).velocity[pairs[1]]).all()
    assert np.array_equal(np.asarray(copies[0]["input_ids"]), tok.encode(expected))
    assert np.array_equal(np.asarray(copies[0]["levels"]), tok.velocity_to_level(expected.velocity))
    save_pairs(pairs_path(tmp_path / "al", "train", "piece/pianist.mid"), pairs[0][:30], pairs[1][:30])
    again = build_windows(list(sources), tok, window_length=None, cache_dir=tmp_path / "cache", score_copies=sources)
    assert again.cache_files != copies.cache_files and len(again[0]["levels"]) == 30  # new pairs, new entry
    save_pairs(pairs_path(tmp_path / "al", "train", "piece/pianist.mid"), np.array([], int), np.array([], int))
    nothing = build_windows(list(sources), tok, window_length=None, score_copies=sources)
    assert len(nothing) == 0  # an alignment that matched nothing gives no copy, and no error
    with pytest.raises(ValueError, match="splits.csv"):
        score_copy_sources(tmp_path / "piece", [played], tmp_path / "al")


def test_score_copies_carry_their_scores_markings_for_a_marking_tokenizer(tmp_path):
    """A marking tokenizer is shown each copied note's own score velocity (its marking) beside the
    pianist's; a flat score (every velocity the same) has no markings, so its copies hold PAD."""
    marked = write(tmp_path / "a" / "midi_score.mid", seed=1, n=80)
    flat = make_score(80, seed=4)
    for track in flat.tracks:
        for note in track.notes:
            note.velocity = 80
    (tmp_path / "b").mkdir()
    flat.dump_midi(str(tmp_path / "b" / "midi_score.mid"))
    rows = ["midi_performance,midi_score,split"]
    performances = []
    for piece in ("a", "b"):
        performances.append(write(tmp_path / piece / "pianist.mid", seed=2, n=80))
        rows.append(f"{piece}/pianist.mid,{piece}/midi_score.mid,train")
        save_pairs(pairs_path(tmp_path / "al", "train", f"{piece}/pianist.mid"), np.arange(50)[::-1], np.arange(50))
    (tmp_path / "splits.csv").write_text("\n".join(rows) + "\n")
    sources = score_copy_sources(tmp_path, performances, tmp_path / "al")
    tok = VelocityBertTokenizer(markings=True)
    copies = build_windows(performances, tok, window_length=None, score_copies=sources)
    by_path = {row["path"]: np.asarray(row["input_ids"]) for row in copies}
    ids_a, ids_b = by_path[str(performances[0])], by_path[str(performances[1])]
    markings = copy_markings(load_notes(marked), np.arange(50))
    assert np.ptp(markings) > 0
    np.testing.assert_array_equal(ids_a[:, MARKING], tok.velocity_token(tok.velocity_to_level(markings)))
    assert (ids_b[:, MARKING] == PAD_ID).all() and len(ids_b) == 50
    # The other columns are what the six-field tokenizer makes of the same copy.
    plain = build_windows(performances[:1], VelocityBertTokenizer(), window_length=None, score_copies=sources)
    np.testing.assert_array_equal(ids_a[:, :MARKING], np.asarray(plain[0]["input_ids"]))

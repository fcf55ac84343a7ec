import numpy as np
import pytest
import symusic

import velocity_bert as vb
from velocity_bert.alignment import load_pairs, match, pairs_path, save_pairs, score_copy


def test_match_pairs_a_rubato_performance_with_its_score_note_by_note(tmp_path):
    """Matching puts pianists' velocities onto score notes; a pair matched wrongly would score a
    rendition (or train the model) against another note's velocity, so every pair must be right."""
    pytest.importorskip("parangonar")
    rng = np.random.default_rng(0)
    written, played = symusic.Score(480), symusic.Score(480)
    written_track, played_track = symusic.Track("piano", program=0), symusic.Track("piano", program=0)
    truth = set()  # ((score onset, pitch), (played onset, pitch)) of every note both hold
    tick = 0.0
    for i, pitch in enumerate(rng.integers(60, 84, 64).tolist()):
        beat_ticks = 480 * (1 + 0.3 * np.sin(i / 6))  # rubato: the beat stretches and shrinks
        chord = (pitch, pitch - 12 - i % 3) if i % 4 == 0 else (pitch,)
        for j, p in enumerate(chord):
            written_track.notes.append(symusic.Note(i * 480, 480, p, 64))
            if i == 20 and j == 0:
                continue  # a note the pianist skipped
            onset = int(tick + 12 * j + rng.integers(0, 8))  # chords rolled upward from the bass
            played_track.notes.append(symusic.Note(onset, int(beat_ticks * 0.8), p, int(rng.integers(30, 100))))
            truth.add(((i * 480, p), (onset, p)))
        if i == 40:
            played_track.notes.append(symusic.Note(int(tick + 100), 60, 98, 50))  # a wrong note
        tick += beat_ticks
    written.tracks.append(written_track)
    played.tracks.append(played_track)
    written.dump_midi(str(tmp_path / "score.mid"))
    played.dump_midi(str(tmp_path / "played.mid"))
    score, performance = vb.load_notes(tmp_path / "score.mid"), vb.load_notes(tmp_path / "played.mid")
    score_index, performance_index = match(score, performance)
    pairs = {
        ((int(score.onset_tick[s]), int(score.pitch[s])), (int(performance.onset_tick[p]), int(performance.pitch[p])))
        for s, p in zip(score_index, performance_index)
    }
    assert pairs <= truth and len(pairs) >= len(truth) - 2


def test_pairs_round_trip_through_their_cache_path(tmp_path):
    path = pairs_path(tmp_path, "train", "Bach/Fugue/bwv_846/Shi05M.mid")
    assert path == tmp_path / "train" / "Bach__Fugue__bwv_846__Shi05M.npz"
    save_pairs(path, np.array([0, 2, 3]), np.array([1, 2, 5]))
    score_index, performance_index = load_pairs(path)
    assert score_index.tolist() == [0, 2, 3] and performance_index.tolist() == [1, 2, 5]
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no partial file left behind


def test_score_copy_keeps_the_score_timing_and_takes_the_pianist_velocities(tmp_path):
    written, played = symusic.Score(480), symusic.Score(480)
    written_track, played_track = symusic.Track("piano", program=0), symusic.Track("piano", program=0)
    for i, pitch in enumerate((60, 62, 64, 65, 67)):
        written_track.notes.append(symusic.Note(i * 480, 480, pitch, 64))
        played_track.notes.append(symusic.Note(i * 500 + 7, 300, pitch, 40 + 10 * i))
    written.tracks.append(written_track)
    played.tracks.append(played_track)
    written.dump_midi(str(tmp_path / "score.mid"))
    played.dump_midi(str(tmp_path / "played.mid"))
    score, performance = vb.load_notes(tmp_path / "score.mid"), vb.load_notes(tmp_path / "played.mid")
    # The pianist's third note was not matched (say, played as an ornament): it is left out.
    copy = score_copy(score, performance, np.array([4, 0, 1, 3]), np.array([4, 0, 1, 3]))
    assert copy.pitch.tolist() == [60, 62, 65, 67]
    assert copy.velocity.tolist() == [40, 50, 70, 80]
    assert copy.onset_tick.tolist() == [0, 480, 1440, 1920] and (copy.duration_tick == 480).all()
    assert (copy.bar_starts == score.bar_starts).all() and len(copy.sustained_duration_tick) == 4

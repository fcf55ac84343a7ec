import hashlib
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import symusic
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import velocity_bert as vb
from tests.conftest import SURE_LEVEL, make_score, marked_score, score_with_slips
from tests.test_notes import assert_same_but_velocities
from velocity_bert.cli import main
from velocity_bert.data import list_files
from velocity_bert.decoding import MARKING_TO_PLAYED, REPAIR_ALPHA


def test_humanize_keeps_every_byte_but_velocities(tiny_model_dir, tmp_path, capsys, monkeypatch):
    """A sequencer's export keeps its channels, system-exclusive and text events: only the note-on
    velocity bytes differ. A file the scan cannot vouch for is still written, with a note saying so."""
    from tests.test_smf import note_on_velocity_offsets, sequencer_export
    from velocity_bert import notes as notes_module

    data, _ = sequencer_export()
    src, out = tmp_path / "seq.mid", tmp_path / "out.mid"
    src.write_bytes(data)
    assert main(["humanize", str(src), "-o", str(out), "--model", str(tiny_model_dir)]) == 0
    written = out.read_bytes()
    changed = np.flatnonzero(np.frombuffer(written, np.uint8) != np.frombuffer(data, np.uint8))
    assert len(written) == len(data) and np.isin(changed, note_on_velocity_offsets(data)).all()
    assert "note:" not in capsys.readouterr().err

    def refuse(data):
        raise notes_module.SmfLayoutError("a layout we do not know")

    monkeypatch.setattr(notes_module, "note_groups", refuse)
    assert main(["humanize", str(src), "-o", str(out), "--model", str(tiny_model_dir)]) == 0
    tip, *err = capsys.readouterr().err.strip().splitlines()
    assert tip.startswith("tip: the input's velocities vary")  # a sequencer's, not a score's: see --keep-dynamics
    assert err[0] == f"note: {out}: " + (
        "this file's layout is not one velocity-bert patches in place: it was rewritten by symusic "
        "(channels renumbered; system-exclusive, text and aftertouch events dropped)"
    )
    assert err[1] == f"{out}: 29 notes humanized"  # the drum note is not one
    assert vb.load_notes(out).velocity.tolist() != vb.load_notes(src).velocity.tolist()


def test_humanize_riff_midi_in_place_and_in_a_folder(tiny_model_dir, tmp_path, capsys):
    """A Windows .rmi comes back a .rmi with only velocity bytes changed (its title chunk kept);
    a folder's .rmi files are found; a .mid name for the result gets the bare MIDI file."""
    from tests.test_smf import INFO, riff_midi, sequencer_export

    data, _ = sequencer_export()
    rmi = riff_midi(data)
    folder = tmp_path / "in"
    folder.mkdir()
    src = folder / "song.RMI"
    src.write_bytes(rmi)
    out = tmp_path / "out.rmi"
    assert main(["humanize", str(src), "-o", str(out), "--model", str(tiny_model_dir)]) == 0
    written = out.read_bytes()
    assert len(written) == len(rmi) and written.endswith(INFO) and written[:12] == rmi[:12]
    assert vb.load_notes(out).velocity.tolist() != vb.load_notes(src).velocity.tolist()
    assert main(["humanize", str(src), "-o", str(tmp_path / "out.mid"), "--model", str(tiny_model_dir)]) == 0
    assert (tmp_path / "out.mid").read_bytes() == written[8 + 12 : 8 + 12 + len(data)]
    assert main(["humanize", str(folder), "-o", str(tmp_path / "outs"), "--model", str(tiny_model_dir)]) == 0
    assert (tmp_path / "outs" / "song.RMI").read_bytes()[:4] == b"RIFF"
    assert "note:" not in capsys.readouterr().err


def test_humanize_file_and_passage(tiny_model_dir, midi_file, tmp_path, capsys):
    out = tmp_path / "out.mid"
    assert (
        main(
            [
                "humanize",
                str(midi_file),
                "-o",
                str(out),
                "--model",
                str(tiny_model_dir),
                "--plot",
                str(tmp_path / "roll.png"),
            ]
        )
        == 0
    )
    assert_same_but_velocities(symusic.Score(str(midi_file)), symusic.Score(str(out)))
    assert (tmp_path / "roll.png").stat().st_size > 1000
    notes = vb.load_notes(midi_file)
    passage = tmp_path / "passage.mid"
    assert (
        main(
            [
                "humanize",
                str(midi_file),
                "-o",
                str(passage),
                "--model",
                str(tiny_model_dir),
                "--from",
                "5",
                "--to",
                "10",
            ]
        )
        == 0
    )
    outside = (notes.onset_sec < 5) | (notes.onset_sec >= 10)
    said = capsys.readouterr().err.strip().splitlines()[-1]
    assert said == f"{passage}: {int((~outside).sum())} of {len(notes)} notes humanized"  # not all of them
    after = vb.load_notes(passage).velocity
    np.testing.assert_array_equal(after[outside], notes.velocity[outside])
    assert (after[~outside] != notes.velocity[~outside]).any()


def test_a_passage_without_notes_says_where_the_notes_are(tiny_model_dir, midi_file, tmp_path, capsys):
    out = tmp_path / "out.mid"
    assert main(["humanize", str(midi_file), "-o", str(out), "--from", "10000", "--model", str(tiny_model_dir)]) == 1
    [line] = capsys.readouterr().err.strip().splitlines()
    assert "no notes start at or after 10000 s (its notes start between " in line and "None" not in line
    assert not out.exists()


@pytest.mark.parametrize("n_notes, said", [(1, "1 note humanized"), (3, "3 notes humanized")])
def test_one_file_reports_its_note_count(n_notes, said, tiny_model_dir, tmp_path, capsys):
    src = tmp_path / "in.mid"
    score = symusic.Score(480)
    score.tracks.append(symusic.Track("piano", program=0))
    score.tracks[0].notes.extend(symusic.Note(480 * i, 240, 60 + i, 64) for i in range(n_notes))
    score.dump_midi(str(src))
    assert main(["humanize", str(src), "-o", str(tmp_path / "out.mid"), "--model", str(tiny_model_dir)]) == 0
    assert capsys.readouterr().err.strip().endswith(f": {said}")


@pytest.mark.parametrize("as_given", ["existing", "trailing_slash"])
def test_one_file_into_a_folder_keeps_its_name(as_given, tiny_model_dir, midi_file, tmp_path):
    """-o and --plot alike: a folder receives the file under its name (the plot under the output's)."""
    out_dir, plot_dir = tmp_path / "out", tmp_path / "plots"
    if as_given == "existing":
        out_dir.mkdir()
        plot_dir.mkdir()
    slash = "/" if as_given == "trailing_slash" else ""
    argv = ["humanize", str(midi_file), "-o", f"{out_dir}{slash}", "--plot", f"{plot_dir}{slash}"]
    assert main([*argv, "--model", str(tiny_model_dir)]) == 0
    assert out_dir.is_dir() and [p.name for p in out_dir.iterdir()] == [midi_file.name]
    assert_same_but_velocities(symusic.Score(str(midi_file)), symusic.Score(str(out_dir / midi_file.name)))
    assert [p.name for p in plot_dir.iterdir()] == [f"{midi_file.stem}.png"]


def test_folder_mode(tiny_model_dir, tmp_path, capsys):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    make_score(60, seed=1).dump_midi(str(src / "a.mid"))
    make_score(60, seed=2).dump_midi(str(src / "sub" / "b.mid"))
    (src / "bad.mid").write_bytes(b"nope")
    (src / "sub" / "a.mid").write_bytes((src / "a.mid").read_bytes())  # the same name in another folder
    rolls = tmp_path / "rolls"
    code = main(
        ["humanize", str(src), "-o", str(tmp_path / "out"), "--model", str(tiny_model_dir), "--plot", str(rolls)]
    )
    assert code == 1  # one bad file: reported, the others done
    said = capsys.readouterr().err.strip().splitlines()
    assert said[-1] == f"3 of 4 files humanized into {tmp_path / 'out'}; 1 failed (above)"
    assert sum(line.startswith(f"error: {src / 'bad.mid'}: ") for line in said) == 1
    assert sorted(p.relative_to(rolls).as_posix() for p in rolls.rglob("*")) == [
        "a.png",
        "sub",
        "sub/a.png",
        "sub/b.png",
    ]
    assert (tmp_path / "out" / "a.mid").exists() and (tmp_path / "out" / "sub" / "b.mid").exists()
    assert not (tmp_path / "out" / "bad.mid").exists()
    (src / "bad.mid").unlink()
    assert main(["humanize", str(src), "-o", str(src) + "/", "--model", str(tiny_model_dir)]) == 2
    assert "is the input folder: give another one" in capsys.readouterr().err
    for _ in range(2):  # an output folder inside the input folder: its results are not inputs next time
        assert main(["humanize", str(src), "-o", str(src / "out"), "--model", str(tiny_model_dir)]) == 0
    assert sorted(p.relative_to(src / "out").as_posix() for p in (src / "out").rglob("*.mid")) == [
        "a.mid",
        "sub/a.mid",
        "sub/b.mid",
    ]


def test_keep_dynamics_follows_the_files_markings(tiny_model_dir, tmp_path, capsys):
    src, out = tmp_path / "marked.mid", tmp_path / "out.mid"
    marked_score().dump_midi(str(src))
    assert main(["humanize", str(src), "-o", str(out), "--keep-dynamics", "--model", str(tiny_model_dir)]) == 0
    given, played = vb.load_notes(src).velocity, vb.load_notes(out).velocity
    assert (played != given).any() and "tip:" not in capsys.readouterr().err
    intercept, slope = MARKING_TO_PLAYED
    for level in (49, 96):  # each section near its marking as a pianist plays it (the change blurs a little)
        assert abs(np.median(played[given == level]) - (intercept + slope * level)) <= 3
    # Without the option, a file whose velocities vary gets a tip; a flat one does not.
    assert main(["humanize", str(src), "-o", str(out), "--model", str(tiny_model_dir)]) == 0
    assert (
        "tip: the input's velocities vary (49-96); if they are a score's dynamics markings" in capsys.readouterr().err
    )
    flat = marked_score()
    for track in flat.tracks:
        for note in track.notes:
            note.velocity = 64
    flat.dump_midi(str(src))
    assert main(["humanize", str(src), "-o", str(out), "--model", str(tiny_model_dir)]) == 0
    assert "tip:" not in capsys.readouterr().err


def test_bad_option_fails_before_the_model_loads(midi_file, tmp_path, capsys):
    out = tmp_path / "out.mid"
    code = main(["humanize", str(midi_file), "-o", str(out), "--range", "100", "30", "--model", str(tmp_path / "none")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err == "error: the dynamic range needs 1 <= low < high <= 127, not 100..30"
    for passage, said in (
        (["--from", "30", "--to", "10"], "the passage must start before it ends, not from 30 s to 10 s"),
        (["--from", "nan"], "the passage's start must be a number of seconds, not nan"),
        (["--to", "NaN"], "the passage's end must be a number of seconds, not nan"),
        (["--temperature", "2"], "--temperature shapes sampled renditions: it needs --seed"),
        (["--seed", "-1"], "seed must be a whole number >= 0, not -1"),
    ):
        code = main(["humanize", str(midi_file), "-o", str(out), *passage, "--model", str(tmp_path / "none")])
        assert code == 2 and capsys.readouterr().err.strip() == f"error: {said}"
    assert not out.exists()


def test_evaluate_a_flat_folder_and_write_json_into_a_new_folder(tiny_model_dir, tmp_path, capsys):
    data = tmp_path / "mine"
    data.mkdir()
    for i in range(3):
        make_score(80, seed=i, drums=False).dump_midi(str(data / f"take{i}.mid"))
    (data / "broken.mid").write_bytes(b"MThd")  # skipped, and the table says so
    report = tmp_path / "reports" / "new" / "r.json"
    argv = ["evaluate", str(tiny_model_dir), "--data", str(data), "--split", "all", "--overlap", "16"]
    assert main(argv + ["--json", str(report), "--dtype", "float32"]) == 0
    table = capsys.readouterr().out
    assert "random15 on all (3 files, 1 piece, seed 0; 1 unreadable file skipped)" in table
    assert json.loads(report.read_text())["dtype"] == "float32"
    assert main(argv + ["--json", str(report), "--dtype", "bfloat16"]) == 0  # said, as numbers may move
    assert "random15 on all (3 files, 1 piece, seed 0; 1 unreadable file skipped, bfloat16)" in capsys.readouterr().out
    assert json.loads(report.read_text())["dtype"] == "bfloat16"
    assert "folder_median" in table
    written = json.loads(report.read_text())
    assert (
        written["files"] == 3
        and written["unreadable_files"] == 1
        and set(written["results"]) == {"velocity_bert", "folder_median", "nearest16_median"}
    )
    # which weights were measured, so that reports from before a new export are told apart
    assert written["weights_sha256"] == hashlib.sha256((tiny_model_dir / "model.safetensors").read_bytes()).hexdigest()
    capsys.readouterr()
    empty = next(s for s in ("train", "validation", "test") if not list_files(data, s))
    assert main([*argv[:4], "--split", empty]) == 2
    said = capsys.readouterr().err  # one line, no progress bar over no files before it
    assert said == f"error: no usable MIDI files in the {empty} split of {data} (--split all uses every file)\n"


BAD_INPUTS = {
    "text.mid": b"this is not midi",
    "empty.mid": b"",
    "truncated.mid": None,  # filled in below
}


@pytest.mark.parametrize("kind", ["text", "empty", "truncated", "drums", "no_notes", "tempo", "missing"])
def test_bad_input_one_line_no_output(kind, tiny_model_dir, midi_file, tmp_path):
    bad = tmp_path / f"{kind}.mid"
    if kind == "text":
        bad.write_bytes(b"this is not midi")
    elif kind == "empty":
        bad.write_bytes(b"")
    elif kind == "truncated":
        bad.write_bytes(midi_file.read_bytes()[:200])
    elif kind == "drums":
        s = make_score(30)
        s.tracks = [t for t in s.tracks if t.is_drum]
        s.dump_midi(str(bad))
    elif kind == "no_notes":
        symusic.Score(480).dump_midi(str(bad))
    elif kind == "tempo":
        s = make_score(30)
        s.tempos = [symusic.Tempo(0, mspq=1)]
        s.dump_midi(str(bad))
    out = tmp_path / "out.mid"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "velocity_bert",  # __main__.py: the same main() as the velocity-bert script
            "humanize",
            str(bad),
            "-o",
            str(out),
            "--model",
            str(tiny_model_dir),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode != 0
    lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), done.stderr
    assert lines[0].count(str(bad)) == 1, lines[0]  # the file is named, once
    assert "Traceback" not in done.stderr
    assert not out.exists() and list(tmp_path.iterdir()) == [bad] or not out.exists()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=400), cut=st.integers(0, 2000), flip=st.integers(0, 2000))
def test_fuzz_reader_never_crashes(data, cut, flip, midi_file):
    """Random bytes, and a real file truncated and with one byte changed: either notes or MidiInputError."""
    real = bytearray(midi_file.read_bytes())
    real[flip % len(real)] ^= 0xFF
    for blob in (data, b"MThd" + data, bytes(real[: max(cut, 14)])):
        try:
            notes = vb.load_notes(blob)
            assert len(notes) > 0
        except vb.MidiInputError:
            pass


def test_version(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.strip() == f"velocity-bert {vb.__version__}"
    import importlib.metadata

    assert importlib.metadata.version("velocity-bert") == vb.__version__  # pyproject reads the same one


def test_demo_fails_in_one_line_before_serving(tmp_path, monkeypatch, capsys):
    """A bad --model stops the demo before a server starts (not at the first click in the browser),
    and without Gradio the message says which extra to install."""
    launched = []
    monkeypatch.setattr("gradio.Blocks.launch", lambda *a, **k: launched.append(1))
    assert main(["demo", "--model", str(tmp_path / "nothing")]) == 2
    assert "no such model folder" in capsys.readouterr().err and not launched
    monkeypatch.setitem(sys.modules, "gradio", None)
    assert main(["demo"]) == 2
    assert "pip install 'gradio>=5'" in capsys.readouterr().err and not launched


def test_tracks_by_index_or_name(tiny_model_dir, midi_file, tmp_path, capsys):
    """--tracks humanizes only those tracks; the rest keep their velocities exactly. A track that is
    not there is one line listing the tracks that are."""
    notes = vb.load_notes(midi_file)
    assert notes.track_names[:2] == ("right", "left")
    for pick in (["1"], ["LEFT"]):
        out = tmp_path / f"{pick[0]}.mid"
        assert (
            main(["humanize", str(midi_file), "-o", str(out), "--tracks", *pick, "--model", str(tiny_model_dir)]) == 0
        )
        after = vb.load_notes(out)
        left = notes.track == 1
        assert np.array_equal(after.velocity[~left], notes.velocity[~left])
        assert not np.array_equal(after.velocity[left], notes.velocity[left])
    capsys.readouterr()
    argv = ["humanize", str(midi_file), "-o", str(tmp_path / "x.mid"), "--model", str(tiny_model_dir)]
    assert main([*argv, "--tracks", "drums"]) == 1
    [said] = capsys.readouterr().err.strip().splitlines()
    expected = f"the tracks with notes: 0 'right' ({int((notes.track == 0).sum())} notes), 1 'left' ("
    assert said.startswith("error: ") and "no notes in a track 'drums'" in said and expected in said
    assert not (tmp_path / "x.mid").exists()
    late = float(notes.onset_sec[notes.track == 1].max()) + 0.001
    assert main([*argv, "--tracks", "1", "--from", str(late)]) == 1
    assert "no notes of the chosen tracks start in the chosen time range" in capsys.readouterr().err


def test_humanize_through_a_pipe(tiny_model_dir, midi_file, tmp_path):
    """`velocity-bert humanize - -o - < in.mid > out.mid`: stdout carries the MIDI file and nothing
    else (messages go to stderr), the same file as writing to a path; a failure writes nothing."""
    common = ["--model", str(tiny_model_dir), "--plot", str(tmp_path / "rolls") + "/"]
    cli = [sys.executable, "-m", "velocity_bert", "humanize"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    piped = subprocess.run(
        [*cli, "-", "-o", "-", *common], input=midi_file.read_bytes(), capture_output=True, env=env, timeout=300
    )
    assert piped.returncode == 0, piped.stderr.decode()[-2000:]
    n = len(vb.load_notes(midi_file))
    assert piped.stderr.decode().strip().splitlines()[-1] == f"stdout: {n} notes humanized"
    assert main(["humanize", str(midi_file), "-o", str(tmp_path / "file.mid"), *common[:2]]) == 0
    assert piped.stdout == (tmp_path / "file.mid").read_bytes()
    assert (tmp_path / "rolls" / "stdin.png").stat().st_size > 1000
    bad = subprocess.run([*cli, "-", "-o", "-", *common], input=b"junk", capture_output=True, env=env, timeout=300)
    assert bad.returncode == 1 and bad.stdout == b"" and "error: stdin: not a MIDI file" in bad.stderr.decode()


def test_no_midi_to_a_terminal_and_no_folder_to_stdout(midi_file, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    assert main(["humanize", str(midi_file), "-o", "-", "--model", str(tmp_path / "none")]) == 2
    assert "not writing MIDI to a terminal" in capsys.readouterr().err
    assert main(["humanize", str(tmp_path), "-o", "-", "--model", str(tmp_path / "none")]) == 2
    assert "a folder's results go to a folder, not to stdout" in capsys.readouterr().err


def test_info_lists_what_tracks_takes(midi_file, tmp_path, capsys):
    notes = vb.load_notes(midi_file)
    assert main(["info", str(midi_file)]) == 0
    head, columns, *rows = capsys.readouterr().out.strip().splitlines()
    assert head.startswith(f"{midi_file}: {len(notes)} notes, ") and columns.split()[:3] == ["track", "name", "notes"]
    drums = sum(len(t.notes) for t in symusic.Score(str(midi_file)).tracks if t.is_drum)
    assert head.endswith(f" s ({drums} drum notes left untouched)")
    for row, i in zip(rows, (0, 1), strict=True):  # the drum track is left out
        index, name, count, mean, sd, low, high = row.split()
        v = notes.velocity[notes.track == i]
        assert (int(index), name, int(count)) == (i, notes.track_names[i], len(v))
        assert (float(mean), float(sd), int(low), int(high)) == (
            round(v.mean(), 1),
            round(v.std(), 1),
            v.min(),
            v.max(),
        )
    make_score(drums=False).dump_midi(str(tmp_path / "piano.mid"))
    assert main(["info", str(tmp_path / "piano.mid")]) == 0
    assert capsys.readouterr().out.splitlines()[0].endswith(" s")  # no drums, no word of them
    assert main(["info", str(tmp_path / "nothing.mid")]) == 2
    assert capsys.readouterr().err.strip() == f"error: {tmp_path / 'nothing.mid'}: no such file"


def test_every_option_says_what_it_does():
    """`velocity-bert CMD --help` explains every option, not just lists it, and renders (argparse
    expands % in help texts: a bare one crashed `humanize --help`)."""
    import argparse

    from velocity_bert.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for name, parser in sub.choices.items():
        for action in parser._actions:
            assert action.help, f"{name} {'/'.join(action.option_strings) or action.dest} has no help"
        page = parser.format_help()
        assert all(f"--{o.lstrip('-')}" in page for a in parser._actions for o in a.option_strings)


@pytest.mark.parametrize("command", ["evaluate", "analyze"])
def test_a_file_count_must_be_positive(command, tmp_path, capsys):
    """`--files -1` used to slice off the last file of the split instead of being refused."""
    argv = [command, "--data", str(tmp_path)] + (["--out", str(tmp_path / "o")] if command == "analyze" else [])
    for bad in ("0", "-1", "two"):
        with pytest.raises(SystemExit) as done:
            main([*argv, "--files", bad])
        assert done.value.code == 2 and "argument --files" in capsys.readouterr().err


def test_repair_lists_the_notes_it_changed_and_keeps_the_rest(sure_model_dir, tmp_path, capsys):
    src, out = tmp_path / "take.mid", tmp_path / "fixed.mid"
    score_with_slips().dump_midi(str(src))
    assert main(["humanize", str(src), "-o", str(out), "--repair", "--model", str(sure_model_dir)]) == 0
    *listed, said = capsys.readouterr().err.strip().splitlines()  # no --keep-dynamics tip: a recording
    assert said == f"{out}: 3 of 150 notes repaired (velocity unlikely at p < {REPAIR_ALPHA:g})"
    steady = int(vb.VelocityBertTokenizer().velocities[SURE_LEVEL])
    before, after = vb.load_notes(src), vb.load_notes(out)
    assert [line.split()[:3] for line in listed] == [["5.00", "s", "G#5"], ["18.75", "s", "A4"], ["32.50", "s", "A#3"]]
    assert [line.split(": ")[1] for line in listed] == [
        f"{before.velocity[i]} -> {after.velocity[i]}" for i in (20, 75, 130)
    ]
    assert np.flatnonzero(after.velocity != before.velocity).tolist() == [20, 75, 130]
    assert (np.abs(after.velocity[[20, 75, 130]] - steady) <= 2).all()
    # More notes than it lists: the rest are counted.
    score_with_slips(slips={i: 127 for i in range(0, 150, 5)}).dump_midi(str(src))
    assert (
        main(["humanize", str(src), "-o", str(out), "--repair-p", "0.01", "--repair", "--model", str(sure_model_dir)])
        == 0
    )
    *listed, said = capsys.readouterr().err.strip().splitlines()
    assert said == f"{out}: 30 of 150 notes repaired (velocity unlikely at p < 0.01)"
    assert len(listed) == 21 and listed[-1] == "  ... and 10 more"
    # A folder's files are counted, not listed.
    folder = tmp_path / "takes"
    folder.mkdir()
    src.rename(folder / src.name)
    assert (
        main(["humanize", str(folder), "-o", str(tmp_path / "fixed"), "--repair", "--model", str(sure_model_dir)]) == 0
    )
    assert capsys.readouterr().err.strip().splitlines()[-1] == f"1 of 1 files repaired into {tmp_path / 'fixed'}"


@pytest.mark.parametrize(
    "options, message",
    [
        (
            ["--repair-p", "0.01"],
            "error: --repair-p says how unlikely a velocity --repair re-predicts: it needs --repair",
        ),
        (
            ["--repair", "--keep-dynamics"],
            "error: repair reads the velocities as a performance's, keep_dynamics as a score's markings",
        ),
        (["--repair", "--repair-p", "5"], "error: repair is a probability between 0 and 1 (0.01, say), not 5.0"),
    ],
)
def test_repair_refuses_what_it_cannot_mean(options, message, sure_model_dir, midi_file, tmp_path, capsys):
    out = tmp_path / "out.mid"
    assert main(["humanize", str(midi_file), "-o", str(out), *options, "--model", str(sure_model_dir)]) == 2
    assert capsys.readouterr().err.strip() == message
    assert not out.exists()

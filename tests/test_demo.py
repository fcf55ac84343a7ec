"""The Gradio demo, through gradio_client and in a real headless browser (Debian's chromium)."""

import os
import shutil
import socket
from pathlib import Path

import numpy as np
import pytest
import symusic

gr = pytest.importorskip("gradio")
from gradio_client import Client, handle_file  # noqa: E402

import velocity_bert as vb  # noqa: E402
from tests.test_notes import assert_same_but_velocities  # noqa: E402
from velocity_bert.demo import build_demo, track_choices  # noqa: E402

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(tiny_model_dir):
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    demo = build_demo(str(tiny_model_dir))
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True)
    yield url
    demo.close()


def call(url, path, **kw):
    args = (
        dict(mode="Everything", start=0, end=30, seed=0, keep=True, low=30, high=100, tracks=[], keep_dynamics=False)
        | kw
    )
    return Client(url, verbose=False).predict(handle_file(str(path)), *args.values(), api_name="/humanize")


def test_client_humanizes_real_midi(app_url, midi_file):
    message, midi_out, roll, curve, _, _ = call(app_url, midi_file, seed=3)
    assert "notes" in message and midi_out and Path(roll).stat().st_size > 1000 and Path(curve).exists()
    before, after = symusic.Score(str(midi_file)), symusic.Score(midi_out)
    assert_same_but_velocities(before, after)
    assert (vb.load_notes(midi_out).velocity != vb.load_notes(midi_file).velocity).any()
    # The file's velocities as the level (`humanize --keep-dynamics`): another result.
    _, kept, *_ = call(app_url, midi_file, seed=3, keep_dynamics=True)
    assert vb.load_notes(kept).velocity.tolist() != vb.load_notes(midi_out).velocity.tolist()


def test_bad_file_gives_message_and_app_keeps_serving(app_url, midi_file, tmp_path):
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"certainly not a MIDI file")
    message, midi_out, *_ = call(app_url, bad)
    assert message.startswith("Cannot use this file") and midi_out is None
    message, midi_out, *_ = call(app_url, midi_file)
    assert midi_out is not None


def test_only_the_tracks_picked(app_url, midi_file, tmp_path):
    """The picker offers each track with notes once a file is loaded; an API client may name tracks
    directly, as `--tracks` does. The other tracks keep their velocities exactly."""
    notes = vb.load_notes(midi_file)
    left = notes.track == 1
    assert track_choices(str(midi_file)) == [
        (f"0: right ({int((~left).sum())} notes)", "0"),
        (f"1: left ({int(left.sum())} notes)", "1"),
    ]
    bad = tmp_path / "bad.mid"
    bad.write_bytes(b"junk")
    assert track_choices(str(bad)) == [] and track_choices(None) == []
    for pick in (["1"], ["Left"]):
        message, midi_out, *_ = call(app_url, midi_file, tracks=pick)
        assert message.startswith(f"{len(notes)} notes, {int(left.sum())} of them humanized, ")
        after = vb.load_notes(midi_out)
        assert np.array_equal(after.velocity[~left], notes.velocity[~left]), message
        assert not np.array_equal(after.velocity[left], notes.velocity[left])
    message, midi_out, *_ = call(app_url, midi_file, tracks=["drums"])
    assert midi_out is None and message.startswith("Cannot humanize with these settings: no notes in a track 'drums'")
    late = float(notes.onset_sec[left].max()) + 0.001  # right-hand notes only, after it
    message, midi_out, *_ = call(app_url, midi_file, tracks=["1"], mode="A passage", start=late, end=late + 60)
    assert midi_out is None and message == (
        "Cannot humanize with these settings: no notes of the chosen tracks start in the chosen time range"
    )
    message, midi_out, *_ = call(app_url, midi_file, mode="A passage", start=500, end=600)
    t = notes.onset_sec
    assert midi_out is None and message == (
        "Cannot humanize with these settings: no notes start at or after 500 s and before 600 s "
        f"(its notes start between {t[0]:.1f} and {t[-1]:.1f} s)"
    )


def test_repair_mode_changes_only_the_unlikely_velocities(sure_model_dir, tmp_path, monkeypatch):
    """The third choice is `humanize --repair`: the sure model re-predicts the three slips alone."""
    from tests.conftest import score_with_slips
    from velocity_bert import demo

    monkeypatch.setattr(demo, "render_audio", lambda *args: None)  # not what this test is about
    src = tmp_path / "take.mid"
    score_with_slips().dump_midi(str(src))
    message, midi_out, *_ = demo.humanize(str(src), demo.MODES[2], 0, 30, 0, True, 30, 100, model=str(sure_model_dir))
    assert message.startswith("150 notes, 150 of them checked, 3 velocities unlikely at p < 0.003 repaired; ")
    before, after = vb.load_notes(src).velocity, vb.load_notes(midi_out).velocity
    assert np.flatnonzero(after != before).tolist() == [20, 75, 130]
    message, midi_out, *_ = demo.humanize(
        str(src), demo.MODES[2], 0, 30, 0, False, 30, 100, model=str(sure_model_dir)
    )  # a dynamic range set as well
    assert midi_out is None and message == (
        "Cannot humanize with these settings: repair keeps every velocity but a few: a dynamic range is for a whole rendition"
    )


def test_audio_that_cannot_be_rendered_in_time_is_left_out(midi_file, tmp_path, monkeypatch):
    """fluidsynth on an hour-long file may run out of time: the demo still answers, without audio."""
    import subprocess

    from velocity_bert import demo

    def too_slow(*args, **kwargs):
        raise subprocess.TimeoutExpired(args[0], 300)

    monkeypatch.setattr(demo, "soundfont", lambda: "/some.sf2")
    monkeypatch.setattr(demo.subprocess, "run", too_slow)
    assert demo.render_audio(midi_file, tmp_path / "x.wav") is None


def test_old_request_files_are_removed(tmp_path, monkeypatch):
    """A long-running Space keeps each request's files for an hour, then frees the disk."""
    from velocity_bert import demo

    monkeypatch.setattr(demo, "WORK_DIR", tmp_path / "work")
    first = demo.request_folder()
    (first / "after.wav").write_bytes(b"x" * 1000)
    second = demo.request_folder(now=first.stat().st_mtime + demo.KEEP_SECONDS - 1)
    assert first.is_dir() and second.is_dir() and first != second  # both still young
    third = demo.request_folder(now=first.stat().st_mtime + demo.KEEP_SECONDS + 1)
    assert not first.exists() and third.is_dir()


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_in_headless_browser(app_url, midi_file):
    sync_api = pytest.importorskip("playwright.sync_api")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                # networking limited to this machine's loopback
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                "--proxy-server=http://127.0.0.1:9",
                "--proxy-bypass-list=127.0.0.1",
            ],
        )
        page = browser.new_page()
        page.goto(app_url, wait_until="domcontentloaded")
        page.locator("input[type=file]").first.set_input_files(str(midi_file))
        page.get_by_label("only these tracks (none: all)").click()  # filled from the uploaded file
        page.get_by_role("option", name="1: left").click()
        page.get_by_role("button", name="Humanize").click()
        page.locator("#piano-roll img").wait_for(timeout=120_000)
        link = page.locator("a[download*=humanized]").first  # the output, not the uploaded input
        link.wait_for(timeout=60_000)
        assert link.get_attribute("download").endswith("_humanized.mid")
        with page.expect_download() as download:
            link.click()
        got = vb.load_notes(download.value.path())
        notes, left = vb.load_notes(midi_file), vb.load_notes(midi_file).track == 1
        assert np.array_equal(got.velocity[~left], notes.velocity[~left])  # only the left hand changed
        assert not np.array_equal(got.velocity[left], notes.velocity[left])
        page.screenshot(path=str(ARTIFACTS / "demo.png"), full_page=True)
        browser.close()
    assert (ARTIFACTS / "demo.png").stat().st_size > 10_000

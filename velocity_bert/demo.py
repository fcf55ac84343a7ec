"""The browser demo (Gradio): the Hub has no MIDI widget, so a Space is how people try the model.
`velocity-bert demo` runs it locally; `app.py` is the Space's entry point."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from functools import lru_cache
from pathlib import Path

import numpy as np

from . import DEFAULT_MODEL, MidiInputError, load_notes, load_pipeline
from .decoding import REPAIR_ALPHA
from .notes import save_midi, selection_mask, tracks_with_notes
from .plotting import piano_roll, velocity_curve

# Package data, so a plain `pip install` and a Space (which carries the package) both have them.
EXAMPLES = Path(__file__).resolve().parent / "examples"
# Each request's files (MIDI, images, audio: ~20 MB for a long piece) live here for an hour, the
# time a visitor needs to download them; Gradio's own copies are deleted on the same schedule.
WORK_DIR = Path(tempfile.gettempdir()) / "velocity-bert-demo"
KEEP_SECONDS = 3600
SOUNDFONTS = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/default-GM.sf2")


@lru_cache(maxsize=2)
def cached_pipeline(model: str):
    """The model loads once per process."""
    return load_pipeline(model)


def request_folder(now: float | None = None) -> Path:
    """A new folder for one request's files, after removing those older than KEEP_SECONDS, so a
    long-running Space does not fill its disk."""
    now = time.time() if now is None else now
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    for old in WORK_DIR.iterdir():
        try:
            if now - old.stat().st_mtime > KEEP_SECONDS:
                shutil.rmtree(old, ignore_errors=True)
        except FileNotFoundError:  # another request removed it first
            pass
    return Path(tempfile.mkdtemp(prefix="request-", dir=WORK_DIR))


def soundfont() -> str | None:
    return next((s for s in SOUNDFONTS if Path(s).exists()), None) if shutil.which("fluidsynth") else None


def render_audio(midi_path: Path, wav_path: Path) -> Path | None:
    """Synthesize with fluidsynth and a General MIDI soundfont when both are installed."""
    sf2 = soundfont()
    if sf2 is None:
        return None
    try:
        done = subprocess.run(
            ["fluidsynth", "-ni", "-g", "0.8", "-r", "22050", "-F", str(wav_path), sf2, str(midi_path)],
            capture_output=True,
            timeout=300,
        )
    except (subprocess.TimeoutExpired, OSError):  # an hour-long file: the MIDI and plots still come back
        return None
    return wav_path if done.returncode == 0 and wav_path.exists() else None


# What the "Humanize" choice offers: every note, the notes of a passage, or (`humanize --repair`)
# only the notes whose recorded velocity the model finds unlikely.
MODES = ("Everything", "A passage", "Only unlikely velocities (repair a recording)")


def humanize(
    midi_file,
    mode: str,
    start: float,
    end: float,
    seed: float,
    keep_range: bool,
    low: float,
    high: float,
    tracks: list[str] | None = None,
    keep_dynamics: bool = False,
    model: str = DEFAULT_MODEL,
):
    """Returns (message, midi, piano roll, curve, audio before, audio after). `tracks`: indices or
    names, as `humanize --tracks` takes them; none: every track. `keep_dynamics`: as
    `humanize --keep-dynamics`; the third of MODES as `humanize --repair`."""
    empty = (None, None, None, None, None)
    if midi_file is None:
        return ("Upload a MIDI file or pick an example.", *empty)
    src = _uploaded(midi_file)
    out_dir = request_folder()
    try:
        notes = load_notes(src)
        passage = (start, end) if mode == MODES[1] else (None, None)
        mask = selection_mask(notes, *passage, tracks)
        options = {"repair": REPAIR_ALPHA} if mode == MODES[2] else {}
        if seed:
            options.update(sample=True, seed=int(seed))
        if not keep_range:
            options["velocity_range"] = (int(low), int(high))
        if keep_dynamics:
            options["keep_dynamics"] = True
        out = cached_pipeline(model)(str(src), mask=mask, **options)
        midi_out = out_dir / f"{src.stem}_humanized{'.rmi' if src.suffix.lower() == '.rmi' else '.mid'}"
        save_midi(out["midi"], midi_out)
        after = np.asarray(out["velocities"])
        piano_roll(notes, notes.velocity, after, out_dir / "piano_roll.png")
        velocity_curve(notes, notes.velocity, after, out_dir / "velocity_curve.png")
        audio_before = render_audio(src, out_dir / "before.wav")
        audio_after = render_audio(midi_out, out_dir / "after.wav")
        changed = int((after != notes.velocity).sum())
        asked = len(notes) if mask is None else int(mask.sum())
        if "repair" in options:
            what = f"{asked} of them checked, {changed} velocities unlikely at p < {REPAIR_ALPHA:g} repaired"
        else:
            what = f"{asked} of them humanized, {changed} velocities changed"
        message = (
            f"{len(notes)} notes, {what}; mean {after.mean():.0f}, SD {after.std():.1f} "
            f"(before: mean {notes.velocity.mean():.0f}, SD {notes.velocity.std():.1f})."
        )
        if audio_after is None:
            message += " Audio needs fluidsynth and a General MIDI soundfont on the server."
        return (
            message,
            str(midi_out),
            str(out_dir / "piano_roll.png"),
            str(out_dir / "velocity_curve.png"),
            str(audio_before) if audio_before else None,
            str(audio_after) if audio_after else None,
        )
    except MidiInputError as err:
        return (f"Cannot use this file: {err}", *empty)
    except ValueError as err:  # a range with low >= high, a track not there, a passage without notes
        return (f"Cannot humanize with these settings: {err}", *empty)


def _uploaded(midi_file) -> Path:
    """Gradio passes a path (type="filepath") or, in older releases, a tempfile wrapper."""
    return Path(midi_file if isinstance(midi_file, str) else midi_file.name)


def track_choices(midi_file) -> list[tuple[str, str]]:
    """(label, value) per track with notes, for the picker; none for a file that cannot be read
    (humanizing it then says why)."""
    if midi_file is None:
        return []
    try:
        notes = load_notes(_uploaded(midi_file))
    except MidiInputError:
        return []
    return [(f"{i}: {name or 'unnamed'} ({n} notes)", str(i)) for i, name, n in tracks_with_notes(notes)]


def build_demo(model: str = DEFAULT_MODEL):
    try:
        import gradio as gr
    except ImportError:
        raise ImportError("the demo needs Gradio, the package's demo extra: pip install 'gradio>=5'") from None

    examples = sorted(str(p) for p in EXAMPLES.glob("*.mid"))
    cache = (KEEP_SECONDS, KEEP_SECONDS)  # every hour, files older than an hour
    with gr.Blocks(title="velocity-bert: human dynamics for MIDI", delete_cache=cache) as demo:
        gr.Markdown(
            "# velocity-bert\nUpload a MIDI piano file (for example a flat export from a notation program). "
            "The model predicts how hard each key is struck. Nothing but velocities changes; drum tracks are left alone."
        )
        with gr.Row():
            with gr.Column():
                midi = gr.File(label="MIDI file", file_types=[".mid", ".midi", ".rmi"], type="filepath")
                mode = gr.Radio(list(MODES), value=MODES[0], label="Humanize")
                with gr.Row():
                    start = gr.Number(0, label="from (s)")
                    end = gr.Number(30, label="to (s)")
                # Custom values, so an API client can name tracks without first loading the file
                # into this session (the choices are filled per session, on upload).
                tracks = gr.Dropdown(
                    [], value=[], multiselect=True, allow_custom_value=True, label="only these tracks (none: all)"
                )
                seed = gr.Number(0, precision=0, label="seed (0: the best estimate; other: another rendition)")
                keep_dynamics = gr.Checkbox(
                    False, label="keep the file's dynamics (a score's p, f, hairpins), played as a pianist would"
                )
                keep = gr.Checkbox(True, label="keep the model's dynamic range")
                with gr.Row():
                    low = gr.Slider(1, 127, 30, step=1, label="softest")
                    high = gr.Slider(1, 127, 100, step=1, label="loudest")
                button = gr.Button("Humanize", variant="primary")
                if examples:
                    gr.Examples(examples, inputs=midi, label="Examples")
            with gr.Column():
                message = gr.Markdown(elem_id="message")
                midi_out = gr.File(label="Humanized MIDI")
                roll = gr.Image(label="Piano roll, coloured by velocity", type="filepath", elem_id="piano-roll")
                curve = gr.Image(label="Velocity over time", type="filepath")
                audio_before = gr.Audio(label="Before", type="filepath")
                audio_after = gr.Audio(label="After", type="filepath")
        midi.change(lambda f: gr.Dropdown(choices=track_choices(f), value=[]), inputs=midi, outputs=tracks)
        button.click(
            lambda *args: humanize(*args, model=model),
            inputs=[midi, mode, start, end, seed, keep, low, high, tracks, keep_dynamics],
            outputs=[message, midi_out, roll, curve, audio_before, audio_after],
            api_name="humanize",
        )
    return demo

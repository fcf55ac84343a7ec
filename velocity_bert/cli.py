"""`velocity-bert` command line: humanize, info, evaluate, analyze, demo. Reads and writes files;
never sees a tensor (the pipeline and decoding do the work)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from functools import partial
from pathlib import Path

import numpy as np

from . import DTYPES
from .decoding import ESTIMATES, REPAIR_ALPHA, REPAIR_FALSE_ALARMS, DecodingOptions
from .notes import MIDI_SUFFIXES, check_passage, has_markings

STDIO = "-"  # `humanize - -o -`: MIDI through a pipe
REPAIRS_LISTED = 20  # `humanize --repair` names this many of the notes it changed, then counts the rest

PASSES_HELP = "mask-predict passes (default 1: more were less accurate on validation)"
OVERLAP_HELP = "notes shared by neighbouring windows (default: the model's window_overlap)"
# data.SPLITS plus data.ALL, spelled out so that the CLI starts without importing `datasets` (0.5 s).
SPLIT_CHOICES = ("train", "validation", "test", "all")
DATA_HELP = "a MAESTRO folder (its csv), a folder with splits.csv, or any folder of MIDI files"
DTYPE_HELP = (
    "weights and arithmetic: auto (default) is bfloat16 on a CPU with AMX or AVX512-BF16, where it is "
    "~2-3x faster at the same accuracy, and float32 elsewhere (bfloat16 is emulated, and slower, without them)"
)
ESTIMATE_HELP = "median (default, most accurate on validation); mode: most likely level (more dynamic range); mean"


def _load(model_path: str, dtype: str = "auto"):
    """Pipeline with this package's code (no remote code needed); quiet unless it fails."""
    from transformers.utils import logging

    import velocity_bert

    logging.set_verbosity_error()
    logging.disable_progress_bar()
    path = model_path or velocity_bert.DEFAULT_MODEL
    return velocity_bert.load_pipeline(path, dtype=dtype)


def add_decoding_arguments(parser: argparse.ArgumentParser) -> None:
    """The decoding flags humanize, evaluate and the benchmarks share, so each means the same everywhere."""
    parser.add_argument("--passes", type=int, default=None, help=PASSES_HELP)
    parser.add_argument("--overlap", type=int, default=None, help=OVERLAP_HELP)
    parser.add_argument("--estimate", default=None, choices=ESTIMATES, help=ESTIMATE_HELP)


def decoding_options(args) -> dict:
    """`add_decoding_arguments`' flags as DecodingOptions fields; unset ones keep its defaults."""
    opts = {"passes": args.passes, "overlap": args.overlap, "estimate": args.estimate}
    return {k: v for k, v in opts.items() if v is not None}


def _options(args) -> dict:
    opts = decoding_options(args)
    if args.seed is not None:  # a seed asks for one of many renditions: sample
        opts.update(sample=True, seed=args.seed, temperature=1.0 if args.temperature is None else args.temperature)
    elif args.temperature is not None:
        raise ValueError("--temperature shapes sampled renditions: it needs --seed")
    if args.range:
        opts["velocity_range"] = tuple(args.range)
    if args.keep_dynamics:
        opts["keep_dynamics"] = True
    if args.repair_p is not None and not args.repair:
        raise ValueError("--repair-p says how unlikely a velocity --repair re-predicts: it needs --repair")
    if args.repair:
        opts["repair"] = REPAIR_ALPHA if args.repair_p is None else args.repair_p
    return opts


def _humanize_file(pipe, source: Path | bytes, dst: Path | None, plot: Path | None, args, say, tip=False) -> str:
    """`source`: a path or the bytes read from stdin; `dst` None: write to stdout; `say` prints a
    line beside the progress bar; `tip`: say when --keep-dynamics could matter (one file, not a
    folder's hundreds, which also get no list of repaired notes). Returns what was done: how many
    notes were humanized, of how many when --from, --to or --tracks chose some, or repaired."""
    from .notes import load_notes, save_midi, selection_mask
    from .pipeline_velocity_bert import MidiRewrittenWarning
    from .plotting import piano_roll

    options = _options(args)
    notes = load_notes(source)
    mask = selection_mask(notes, args.start, args.end, args.tracks)
    if tip and mask is None and not (args.keep_dynamics or args.repair) and has_markings(notes.velocity):
        say(
            f"tip: the input's velocities vary ({notes.velocity.min()}-{notes.velocity.max()}); if they are a "
            "score's dynamics markings, --keep-dynamics plays them instead of replacing them"
        )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", MidiRewrittenWarning)
        out = pipe(source if isinstance(source, bytes) else str(source), mask=mask, **options)
    for w in caught:
        if issubclass(w.category, MidiRewrittenWarning):
            say(f"note: {dst or 'stdout'}: {w.message}")
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    if dst is None:
        sys.stdout.buffer.write(out["midi"])
        sys.stdout.flush()
    else:
        save_midi(out["midi"], dst)
    if plot:
        plot.parent.mkdir(parents=True, exist_ok=True)
        piano_roll(out["notes"], out["notes"].velocity, np.asarray(out["velocities"]), plot)
    if "repair" in options:
        changed = np.flatnonzero(np.asarray(out["velocities"]) != notes.velocity)
        if tip:
            for i in changed[:REPAIRS_LISTED]:
                say(
                    f"  {notes.onset_sec[i]:9.2f} s  {note_name(notes.pitch[i]):<4} track {notes.track[i]}: "
                    f"{notes.velocity[i]} -> {out['velocities'][i]}"
                )
            if len(changed) > REPAIRS_LISTED:
                say(f"  ... and {len(changed) - REPAIRS_LISTED} more")
        return (
            f"{len(changed)} of {_count(len(notes), 'note')} repaired (velocity unlikely at p < {options['repair']:g})"
        )
    chosen = _count(len(notes), "note") if mask is None else f"{int(mask.sum())} of {_count(len(notes), 'note')}"
    return f"{chosen} humanized"


def _into(given: str, name: str) -> Path:
    """Like `cp`: an existing folder, or a name ending in a separator, receives `name`; otherwise
    `given` is the file itself."""
    path = Path(given)
    return path / name if path.is_dir() or given.endswith(("/", os.sep)) else path


def cmd_humanize(args) -> int:
    src = Path(args.input)
    if src.is_dir():
        if args.output == STDIO:
            raise ValueError("a folder's results go to a folder, not to stdout")
        out_dir = Path(args.output)
        if out_dir.resolve() == src.resolve():
            raise ValueError(f"-o {args.output} is the input folder: give another one, the inputs are not overwritten")
        # An output folder inside the input folder holds earlier results, not inputs.
        inputs = sorted(
            p
            for p in src.rglob("*")
            if p.suffix.lower() in MIDI_SUFFIXES and p.is_file() and out_dir.resolve() not in p.resolve().parents
        )
        if out_dir.exists() and not out_dir.is_dir():
            raise ValueError(f"{out_dir} exists and is not a folder")
        # A folder's plots mirror its outputs (a/x.mid and b/x.mid must not share x.png).
        plots = Path(args.plot) if args.plot else None
        jobs = [
            (p, p, out_dir / p.relative_to(src), plots and plots / p.relative_to(src).with_suffix(".png"))
            for p in inputs
        ]
        if not jobs:
            raise ValueError(f"no MIDI files in {src}")
    else:
        if args.output == STDIO and sys.stdout.isatty():
            raise ValueError("not writing MIDI to a terminal: redirect it (> out.mid) or give -o FILE")
        if args.input == STDIO:
            label, source, name = "stdin", sys.stdin.buffer.read(), "stdin.mid"
        elif not src.exists():
            raise FileNotFoundError(f"{src}: no such file")
        else:
            label, source, name = src, src, src.name
        out = None if args.output == STDIO else _into(args.output, name)
        plot = _into(args.plot, Path(out.name if out else name).with_suffix(".png").name) if args.plot else None
        jobs = [(label, source, out, plot)]
    DecodingOptions(**_options(args))  # a bad option fails here, before the model loads
    check_passage(args.start, args.end)  # --from, --to
    pipe = _load(args.model, args.dtype)
    failed = 0
    iterator, say = jobs, partial(print, file=sys.stderr)
    if len(jobs) > 1:
        from tqdm.auto import tqdm

        iterator = tqdm(jobs, unit="file", desc="humanize")
        say = partial(tqdm.write, file=sys.stderr)  # its own line, not glued to the bar
    for label, source, d, plot in iterator:
        if d is not None:
            d.parent.mkdir(parents=True, exist_ok=True)
        try:
            done = _humanize_file(pipe, source, d, plot, args, say, tip=len(jobs) == 1)
            if len(jobs) == 1:
                print(f"{d or 'stdout'}: {done}", file=sys.stderr)
        except Exception as err:  # one line per bad file; the others still run
            failed += 1
            say(f"error: {label}: {_one_line(err)}")
    if src.is_dir():  # after the bar: what a run over hundreds of files came to
        done = len(jobs) - failed
        tail = f"; {failed} failed (above)" if failed else ""
        verb = "repaired" if args.repair else "humanized"
        print(f"{done} of {len(jobs)} files {verb} into {args.output}{tail}", file=sys.stderr)
    return 1 if failed else 0


def cmd_evaluate(args) -> int:
    import velocity_bert

    from .evaluation import evaluate, format_table, weights_sha256

    options = DecodingOptions(**decoding_options(args))
    if args.json:  # before the evaluation, not after it: a missing folder must not cost the run
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    weights = weights_sha256(args.model or velocity_bert.DEFAULT_MODEL)  # of what is loaded next
    pipe = _load(args.model, args.dtype)
    report = evaluate(
        pipe.model,
        pipe.velocity_tokenizer,
        args.data,
        split=args.split,
        setting=args.setting,
        seed=args.seed,
        options=options,
        max_files=args.files,
    )
    report["weights_sha256"] = weights
    print(format_table(report))
    if args.json:
        tmp = f"{args.json}.tmp{os.getpid()}"
        with open(tmp, "w") as f:
            json.dump(report, f, indent=2)
        os.replace(tmp, args.json)
    return 0


def cmd_info(args) -> int:
    """What humanize would see in a file: its length and, per track with notes, the index and name
    that --tracks takes and how its velocities spread (an SD of 0 is a flat export)."""
    from .notes import MidiInputError, load_notes, read_score, tracks_with_notes

    label = "stdin" if args.input == STDIO else args.input
    try:
        score = read_score(sys.stdin.buffer.read() if args.input == STDIO else args.input)
        notes = load_notes(score)
    except MidiInputError as err:
        raise MidiInputError(f"{label}: {err}") from None
    end = float(np.max(notes.onset_sec + notes.duration_sec))
    drums = sum(len(t.notes) for t in score.tracks if t.is_drum)
    left_out = f" ({_count(drums, 'drum note')} left untouched)" if drums else ""
    print(f"{label}: {_count(len(notes), 'note')}, {end:.1f} s{left_out}")
    print(f"{'track':>5}  {'name':<24}{'notes':>7}{'velocity mean':>15}{'SD':>6}{'min':>5}{'max':>5}")
    for i, name, _ in tracks_with_notes(notes):
        v = notes.velocity[notes.track == i]
        print(f"{i:>5}  {name[:23]:<24}{len(v):>7}{v.mean():>15.1f}{v.std():>6.1f}{v.min():>5}{v.max():>5}")
    return 0


def note_name(pitch: int) -> str:
    """C4 = 60, as MIDI tools and notation programs name it. Hand-written: neither symusic nor
    MidiTok names pitches."""
    return f"{('C', 'C#', 'D', 'D#', 'E', 'F', 'F#', 'G', 'G#', 'A', 'A#', 'B')[pitch % 12]}{pitch // 12 - 1}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def cmd_analyze(args) -> int:
    from .analysis import analyze, findings, write_outputs

    pipe = _load(args.model, "float32")  # attention maps and probes read the same on every CPU
    report = analyze(pipe.model, pipe.velocity_tokenizer, args.data, args.split, args.files, args.seed)
    out = write_outputs(report, args.out)
    for claim, holds, evidence in findings(report):
        print(f"{claim}: {'holds' if holds else 'does not hold'} ({evidence})")
    print(f"wrote {out}/analysis.md, analysis.json and figures", file=sys.stderr)
    return 0


def cmd_demo(args) -> int:
    import velocity_bert

    from .demo import build_demo, cached_pipeline

    model = args.model or velocity_bert.DEFAULT_MODEL
    demo = build_demo(model)  # without Gradio, fails here
    cached_pipeline(model)  # a bad --model fails here, not at the first click in the browser
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=args.port, prevent_thread_lock=True, quiet=True)
    print(f"velocity-bert demo running at {url} (Ctrl+C to stop)", flush=True)
    demo.block_thread()
    return 0


def _one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


def _positive(text: str) -> int:
    """A count of files: `--files -1` would otherwise slice off the last file, 0 report none."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"a whole number >= 1, not {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(prog="velocity-bert", description="Human dynamics for MIDI piano files.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    h = sub.add_parser("humanize", help="predict velocities for a MIDI file or a folder of them")
    h.add_argument("input", help="a MIDI file, a folder (then -o is a folder), or - for stdin")
    h.add_argument(
        "-o", "--output", required=True, help="output file, a folder to write INPUT's name into, or - for stdout"
    )
    h.add_argument("--from", dest="start", type=float, default=None, help="only notes starting at/after SEC")
    h.add_argument("--to", dest="end", type=float, default=None, help="only notes starting before SEC")
    h.add_argument(
        "--tracks",
        nargs="+",
        default=None,
        metavar="TRACK",
        help="only these tracks, by index or name (the others keep their velocities and are heard as context)",
    )
    h.add_argument("--model", default=None, help="model folder or Hub repo id (default: the bundled model)")
    h.add_argument(
        "--seed",
        type=int,
        default=None,
        help="sample a rendition with this seed (default: the best estimate, see --estimate)",
    )
    h.add_argument(
        "--temperature",
        type=float,
        default=None,
        help="with --seed: below 1 nearer the most likely level, above 1 freer (default 1)",
    )
    add_decoding_arguments(h)
    h.add_argument("--dtype", default="auto", choices=DTYPES, help=DTYPE_HELP)
    h.add_argument("--range", type=int, nargs=2, metavar=("LO", "HI"), help="set the dynamic range of the result")
    h.add_argument(
        "--keep-dynamics",
        action="store_true",
        help="read the input's velocities as a score's dynamics markings (p, f, hairpins) and play them as a "
        "pianist would: a model with the marking field (the bundled one) reads them as context; another "
        "plays them at a pianist's scale with its shaping on top (default: predict every velocity afresh)",
    )
    h.add_argument(
        "--repair",
        action="store_true",
        help="for a recording or a transcription: re-predict only the notes whose velocity the model finds "
        "unlikely, list them, and keep every other velocity",
    )
    h.add_argument(
        "--repair-p",
        type=float,
        default=None,
        metavar="P",
        help=f"with --repair: how unlikely (default {REPAIR_ALPHA:g}, which flags about {100 * REPAIR_FALSE_ALARMS:.1f}%% "
        "of a pianist's own notes; higher finds more slips, and more false alarms)",
    )
    h.add_argument(
        "--plot",
        default=None,
        help="piano roll coloured by velocity, before and after: PNG, or .svg/.pdf/.jpg by the name (for a folder: a folder of PNGs)",
    )
    h.set_defaults(func=cmd_humanize)

    i = sub.add_parser("info", help="a file's notes, length and tracks (index and name, for --tracks)")
    i.add_argument("input", help="a MIDI file, or - for stdin")
    i.set_defaults(func=cmd_info)

    e = sub.add_parser("evaluate", help="measure a model against baselines on a split")
    e.add_argument("model", nargs="?", default=None, help="model folder or repo id (default: the bundled model)")
    e.add_argument("--data", required=True, help=DATA_HELP)
    e.add_argument(
        "--split", default="test", choices=SPLIT_CHOICES, help="default test; all: every file (your own folder, say)"
    )
    e.add_argument(
        "--setting",
        default="random15",
        choices=("random15", "span", "all"),
        help="what is hidden: 15%% of notes at random, ~5 s spans, or every velocity (default random15)",
    )
    e.add_argument("--seed", type=int, default=0, help="which notes are hidden (default 0, as in BENCHMARKS.md)")
    add_decoding_arguments(e)
    e.add_argument("--files", type=_positive, default=None, help="only the first N files")
    e.add_argument("--dtype", default="auto", choices=DTYPES, help=DTYPE_HELP)
    e.add_argument("--json", default=None, help="also write the whole report here (per system, piece-averaged too)")
    e.set_defaults(func=cmd_evaluate)

    a = sub.add_parser("analyze", help="per-layer analysis of what the model attends to")
    a.add_argument("model", nargs="?", default=None, help="model folder or repo id (default: the bundled model)")
    a.add_argument("--data", required=True, help=DATA_HELP)
    a.add_argument("--split", default="test", choices=SPLIT_CHOICES, help="default test")
    a.add_argument("--files", type=_positive, default=20, help="the first N files of the split (default 20)")
    a.add_argument("--seed", type=int, default=0, help="which notes are hidden (default 0)")
    a.add_argument("--out", required=True, help="folder for analysis.md, analysis.json and the figures")
    a.set_defaults(func=cmd_analyze)

    d = sub.add_parser("demo", help="start the browser demo on 127.0.0.1")
    d.add_argument("--model", default=None, help="model folder or Hub repo id (default: the bundled model)")
    d.add_argument("--port", type=int, default=7860, help="default 7860")
    d.set_defaults(func=cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `velocity-bert info x.mid | head -1`: the reader left; say nothing
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # Python's own recipe
        return 1
    except Exception as err:  # a user sees one line, never a traceback
        print(f"error: {_one_line(err)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

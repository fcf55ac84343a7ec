"""Hold some marked train scores out of the score copies, to judge a marking field on scores it has
not seen but played by the pianists it learned from (BENCHMARKS.md, "Held-out train scores").

    python benchmarks/hold_out_scores.py [--every 5] [--alignments cache/alignments]
        [--out cache/alignments_holdout] [--list runs/heldout_scores.txt]

Every `--every`-th of the train split's marked scores (sorted by path; `notes.has_markings`) is held
out: its path goes to `--list` (what `score_renditions.py --split train --scores` reads), and the
note pairs of every other train performance are linked into `--out` (what `train.py --score_copies`
reads), so no pair is copied.
"""

from __future__ import annotations

import argparse
import os
from collections import defaultdict
from functools import cache
from pathlib import Path

import velocity_bert as vb
from velocity_bert.alignment import pairs_path
from velocity_bert.data import list_files, score_copy_sources
from velocity_bert.notes import has_markings


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="../shared/data/asap")
    parser.add_argument("--every", type=int, default=5, help="hold out every N-th marked train score")
    parser.add_argument("--alignments", default="cache/alignments", help="align_scores.py's --out")
    parser.add_argument("--out", default="cache/alignments_holdout")
    parser.add_argument("--list", default="runs/heldout_scores.txt")
    args = parser.parse_args()
    root = Path(args.data)
    # performance -> (score, pairs), as train.py --score_copies reads them
    sources = score_copy_sources(root, list_files(root, "train"), args.alignments)
    by_score = defaultdict(list)
    for performance, (score, pairs) in sources.items():
        by_score[score].append((performance, pairs))
    is_marked = cache(lambda score: has_markings(vb.load_notes(score).velocity))
    marked = [score for score in sorted(by_score) if is_marked(score)]
    held = set(marked[:: args.every])
    Path(args.list).parent.mkdir(parents=True, exist_ok=True)
    Path(args.list).write_text("".join(f"{Path(score).relative_to(root).as_posix()}\n" for score in sorted(held)))
    kept = [item for score, items in by_score.items() if score not in held for item in items]
    for performance, pairs in kept:
        target = pairs_path(args.out, "train", Path(performance).relative_to(root).as_posix())
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            os.symlink(Path(pairs).resolve(), target)
    held_performances = sum(len(by_score[score]) for score in held)
    print(
        f"{len(marked)} of {len(by_score)} aligned train scores marked; {len(held)} held out ({held_performances} "
        f"performances) -> {args.list}; {len(kept)} pairs linked into {args.out}"
    )


if __name__ == "__main__":
    main()

"""Piano rolls coloured by velocity, before and after (for `humanize --plot` and the demo)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .notes import Notes


def _save(fig, path: str | os.PathLike) -> None:
    """Written beside the target and renamed, so a failed run leaves no half image; the format
    follows the name (.svg, .pdf, .jpg...), PNG when the name has none matplotlib knows."""
    import matplotlib.pyplot as plt

    suffix = Path(path).suffix.lower().lstrip(".")
    fmt = suffix if suffix in fig.canvas.get_supported_filetypes() else "png"
    tmp = f"{path}.tmp{os.getpid()}.{fmt}"
    try:
        fig.savefig(tmp, dpi=100, format=fmt)
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        Path(tmp).unlink(missing_ok=True)


def piano_roll(notes: Notes, before: np.ndarray, after: np.ndarray, path: str | os.PathLike) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.collections import PolyCollection

    fig, axes = plt.subplots(2, 1, figsize=(12, 6), sharex=True, sharey=True, constrained_layout=True)
    cmap, norm = plt.get_cmap("magma"), plt.Normalize(1, 127)
    for ax, velocities, title in ((axes[0], before, "before"), (axes[1], after, "after")):
        x0, x1 = notes.onset_sec, notes.onset_sec + np.maximum(notes.duration_sec, 0.02)
        y0, y1 = notes.pitch - 0.4, notes.pitch + 0.4
        boxes = np.stack([np.c_[x0, y0], np.c_[x1, y0], np.c_[x1, y1], np.c_[x0, y1]], axis=1)
        ax.add_collection(PolyCollection(boxes, facecolors=cmap(norm(velocities)), edgecolors="none"))
        ax.set_title(f"{title}: velocity mean {np.mean(velocities):.0f}, SD {np.std(velocities):.1f}")
        ax.set_ylabel("pitch")
        ax.set_facecolor("#dddddd")
    axes[0].set_xlim(0, float(np.max(notes.onset_sec + notes.duration_sec)) + 0.1)
    axes[0].set_ylim(notes.pitch.min() - 2, notes.pitch.max() + 2)
    axes[1].set_xlabel("seconds")
    fig.colorbar(plt.cm.ScalarMappable(norm=norm, cmap=cmap), ax=axes, label="velocity")
    _save(fig, path)


def velocity_curve(
    notes: Notes, before: np.ndarray, after: np.ndarray, path: str | os.PathLike, window_s: float = 2.0
) -> None:
    """Mean velocity over a sliding window of `window_s` seconds, before and after."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = notes.onset_sec
    grid = np.linspace(t.min(), t.max(), min(400, max(len(t), 2)))
    fig, ax = plt.subplots(figsize=(12, 3), constrained_layout=True)
    for velocities, label in ((before, "before"), (after, "after")):
        v = np.asarray(velocities, dtype=float)
        curve = [
            v[np.abs(t - g) <= window_s / 2].mean() if np.any(np.abs(t - g) <= window_s / 2) else np.nan for g in grid
        ]
        ax.plot(grid, curve, label=label)
    ax.set_xlabel("seconds")
    ax.set_ylabel(f"mean velocity ({window_s:g} s window)")
    ax.set_ylim(0, 127)
    ax.legend()
    _save(fig, path)

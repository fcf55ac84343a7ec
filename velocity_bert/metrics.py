"""Velocity measures: one implementation used by Trainer, `velocity-bert evaluate` and the
`evaluate` module in `metrics/velocity_accuracy/`."""

from __future__ import annotations

import numpy as np

# MidiTok's 32 levels: np.linspace(0, 127, 33, dtype=int)[1:] = 3, 7, ..., 127.
LEVELS = np.linspace(0, 127, 33, dtype=np.intc)[1:].astype(np.int64)


def velocity_to_level(velocity: np.ndarray, levels: np.ndarray = LEVELS) -> np.ndarray:
    """Nearest level index, ties up (MidiTok's rule)."""
    v = np.asarray(velocity, dtype=np.float64)
    idx = np.clip(np.searchsorted(levels, v), 1, len(levels) - 1)
    lower_closer = (v - levels[idx - 1]) < (levels[idx] - v)
    return np.where(v <= levels[0], 0, np.where(v >= levels[-1], len(levels) - 1, idx - lower_closer))


def velocity_metrics(predicted: np.ndarray, reference: np.ndarray, levels: np.ndarray = LEVELS) -> dict:
    """predicted / reference: velocities (1-127). Level accuracies compare quantized levels; MAE and
    the within-6.4 / within-12.7 shares (He et al. 2025) compare raw velocities."""
    predicted = np.asarray(predicted, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    if predicted.shape != reference.shape or predicted.size == 0:
        raise ValueError("need equally shaped, non-empty predictions and references")
    dl = np.abs(velocity_to_level(predicted, levels) - velocity_to_level(reference, levels))
    err = np.abs(predicted - reference)
    return {
        "exact": float(np.mean(dl == 0)),
        "within_one": float(np.mean(dl <= 1)),
        "mae": float(err.mean()),
        "within_6.4": float(np.mean(err <= 6.4)),
        "within_12.7": float(np.mean(err <= 12.7)),
        "pred_sd": float(predicted.std()),
        "ref_sd": float(reference.std()),
        "count": int(predicted.size),
    }


def level_metrics(pred_levels: np.ndarray, true_levels: np.ndarray, levels: np.ndarray = LEVELS) -> dict:
    """For Trainer, which sees levels only: MAE is then between level velocities."""
    keep = true_levels != -100
    return velocity_metrics(levels[pred_levels[keep]], levels[true_levels[keep]], levels)

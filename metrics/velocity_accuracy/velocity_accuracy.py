"""`evaluate` module for velocity prediction, a thin wrapper of `velocity_bert.metrics`.

Load it by path (the Hub's metric scripts are unreachable offline):
`evaluate.load("metrics/velocity_accuracy")`.
"""

import datasets
import evaluate

from velocity_bert.metrics import velocity_metrics

_DESCRIPTION = """Exact-level accuracy, within-one-level accuracy (MidiTok's 32 levels), MAE in
velocity units and the shares within 6.4 / 12.7 units, between predicted and reference velocities."""
_KWARGS_DESCRIPTION = """
Args:
    predictions: predicted MIDI velocities (1-127).
    references: reference MIDI velocities (1-127).
Returns: exact, within_one, mae, within_6.4, within_12.7, pred_sd, ref_sd, count.
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class VelocityAccuracy(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="",
            inputs_description=_KWARGS_DESCRIPTION,
            features=datasets.Features(
                {"predictions": datasets.Value("float64"), "references": datasets.Value("float64")}
            ),
        )

    def _compute(self, predictions, references):
        return velocity_metrics(predictions, references)

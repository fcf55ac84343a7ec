from pathlib import Path

import evaluate
import numpy as np
import pytest

from velocity_bert.metrics import level_metrics, velocity_metrics

MODULE = str(Path(__file__).resolve().parents[1] / "metrics" / "velocity_accuracy")


def test_measures_by_hand():
    m = velocity_metrics([60, 70, 3, 127], [62, 90, 5, 120])
    # levels: 60->59(14), 62->63(15); 70->71(17), 90->91(22); 3->0, 5->7(1); 127->31, 120->119(29)
    assert m["exact"] == 0.0 and m["within_one"] == 0.5
    assert m["mae"] == pytest.approx((2 + 20 + 2 + 7) / 4)
    assert m["within_6.4"] == 0.5 and m["within_12.7"] == 0.75


def test_level_metrics_ignore_unlabelled():
    m = level_metrics(np.array([[3, 4, 5]]), np.array([[3, -100, 6]]))
    assert m["count"] == 2 and m["exact"] == 0.5 and m["within_one"] == 1.0 and m["mae"] == 2.0


def test_evaluate_module_loads_by_path_offline():
    metric = evaluate.load(MODULE)
    out = metric.compute(predictions=[60, 70, 3, 127], references=[62, 90, 5, 120])
    assert out == {k: v for k, v in velocity_metrics([60, 70, 3, 127], [62, 90, 5, 120]).items() if k in out}

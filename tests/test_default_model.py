"""The bundled model loads after a plain install, without remote code, and humanizes the example."""

from pathlib import Path

import numpy as np
from transformers import AutoModelForMaskedLM

import velocity_bert as vb

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "maple_leaf_rag_flat.mid"


def test_default_model_folder():
    folder = Path(vb.DEFAULT_MODEL)
    for name in ("config.json", "model.safetensors", "velocity_tokenizer.json", "LICENSE_WEIGHTS.md"):
        assert (folder / name).is_file(), name
    assert sum(f.stat().st_size for f in folder.iterdir()) < 25 * 2**20
    model = AutoModelForMaskedLM.from_pretrained(vb.DEFAULT_MODEL)
    assert isinstance(model, vb.VelocityBertForMaskedVelocity)


def test_default_model_humanizes_flat_example():
    out = vb.load_pipeline()(str(EXAMPLE))
    velocities = np.asarray(out["velocities"])
    assert len(velocities) == len(vb.load_notes(EXAMPLE))
    assert velocities.std() > 3  # a flat file comes back with dynamics

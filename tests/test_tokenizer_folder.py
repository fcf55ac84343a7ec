import json
from pathlib import Path

from velocity_bert.configuration_velocity_bert import DEFAULT_FIELD_VOCAB_SIZES
from velocity_bert.tokenization_velocity_bert import VelocityBertTokenizer

FOLDER = Path(__file__).resolve().parents[1] / "tokenizer"


def test_checked_in_tokenizer_matches_code_and_config(tmp_path):
    shipped = VelocityBertTokenizer.from_pretrained(FOLDER)
    fresh = VelocityBertTokenizer()
    assert shipped.field_vocab_sizes == fresh.field_vocab_sizes == DEFAULT_FIELD_VOCAB_SIZES
    a = json.loads((FOLDER / "velocity_tokenizer.json").read_text())
    b = json.loads(fresh.save_pretrained(tmp_path).read_text())
    assert a["config"] == b["config"] and a["velocity_bert"]["shift_bins_ms"] == b["velocity_bert"]["shift_bins_ms"]

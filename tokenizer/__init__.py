"""The note tokenizer lives in `velocity_bert/tokenization_velocity_bert.py`, so that a model folder
from the Hub carries it as remote code; this re-export keeps the design card's `tokenizer/` room."""

from velocity_bert.tokenization_velocity_bert import FIELDS, TOKENIZER_FILE, VelocityBertTokenizer

__all__ = ["FIELDS", "TOKENIZER_FILE", "VelocityBertTokenizer"]

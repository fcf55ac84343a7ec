"""VelocityBertConfig: the defaults are the size we ship (see BENCHMARKS.md for why)."""

from __future__ import annotations

from huggingface_hub.dataclasses import strict
from transformers import PreTrainedConfig

# Must match tokenization_velocity_bert.FIELDS / field_vocab_sizes of the default tokenizer.
DEFAULT_FIELD_VOCAB_SIZES = [155, 36, 132, 68, 20, 36]
POSITION_EMBEDDING_TYPES = ("absolute", "rotary", "rotary_onset")


@strict
class VelocityBertConfig(PreTrainedConfig):
    r"""
    A BERT encoder over one compound token per note.

    Args:
        field_vocab_sizes: vocabulary size of each note field (pitch, position, bar, duration,
            shift, velocity), summed as embeddings: one position per note.
        velocity_field: index of the velocity field in `field_vocab_sizes`.
        num_velocity_levels: classes of the prediction head (MidiTok's 32 levels).
        velocity_token_offset: id of level 0 in the velocity field (MidiTok puts 4 specials first).
        mask_token_id: id meaning "velocity hidden" in the velocity field.
        window_length / window_overlap: how whole pieces are cut for inference (notes).
        hidden_dropout_prob / attention_probs_dropout_prob: 0 by default, as in ModernBERT, so a
            bare config runs SDPA's fused path on the CPU (attention dropout sends it to the unfused
            math path, ~1.75x slower to train). `train.py` gives new models 0.1, the shipped
            model's: at full size a run without dropout overfitted after 1,250 GPU steps
            (BENCHMARKS.md, "Rotary positions at full size"). Folders saved with other values keep them.
        position_embedding_type: "absolute" (a learned embedding per note index, BERT's),
            "rotary" (RoPE on queries and keys by note index, ModernBERT's) or "rotary_onset" (RoPE
            by onset on the bar/position grid, so the notes of a chord share one position and a
            rest counts as the time it lasts). Rotary attention sees how far apart two notes are
            rather than where each sits in the window, which is what decides how much a
            neighbour's loudness tells. Folders saved before this option are absolute.
        rope_theta: base of the rotary frequencies.
        bar_field / position_field / grid_token_offset / positions_per_bar: where the onset grid is
            in the note fields, for "rotary_onset": onset = bar * positions_per_bar + position,
            with both ids counted from grid_token_offset (MidiTok's specials come first).
    """

    model_type = "velocity_bert"

    field_vocab_sizes: list[int] | None = None
    velocity_field: int = 5
    num_velocity_levels: int = 32
    velocity_token_offset: int = 4
    mask_token_id: int = 3
    hidden_size: int = 256
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    intermediate_size: int = 1024
    hidden_act: str = "gelu"
    hidden_dropout_prob: float | int = 0.0
    attention_probs_dropout_prob: float | int = 0.0
    max_position_embeddings: int = 512
    position_embedding_type: str = "absolute"
    rope_theta: float | int = 10000.0
    bar_field: int = 2
    position_field: int = 1
    grid_token_offset: int = 4
    positions_per_bar: int = 32
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-12
    pad_token_id: int | None = 0
    window_length: int = 512
    window_overlap: int = 256
    tie_word_embeddings: bool = False

    def __post_init__(self, **kwargs):
        if self.field_vocab_sizes is None:
            self.field_vocab_sizes = list(DEFAULT_FIELD_VOCAB_SIZES)
        super().__post_init__(**kwargs)

    def validate_architecture(self):
        if self.hidden_size % self.num_attention_heads:
            raise ValueError("hidden_size must be a multiple of num_attention_heads")
        if not 0 <= self.velocity_field < len(self.field_vocab_sizes):
            raise ValueError("velocity_field out of range")
        if self.window_length > self.max_position_embeddings or self.window_overlap >= self.window_length:
            raise ValueError("need window_overlap < window_length <= max_position_embeddings")
        if self.position_embedding_type not in POSITION_EMBEDDING_TYPES:
            raise ValueError(f"position_embedding_type must be one of {', '.join(POSITION_EMBEDDING_TYPES)}")
        if self.position_embedding_type != "absolute" and (self.hidden_size // self.num_attention_heads) % 2:
            raise ValueError("rotary positions need an even head size")


__all__ = ["VelocityBertConfig"]

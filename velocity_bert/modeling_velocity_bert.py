"""VelocityBert: a BERT-style encoder over one compound token per note, predicting velocity levels."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from transformers import PreTrainedModel
from transformers import initialization as init
from transformers.activations import ACT2FN
from transformers.masking_utils import create_bidirectional_mask
from transformers.modeling_layers import GradientCheckpointingLayer
from transformers.modeling_outputs import BaseModelOutput, MaskedLMOutput
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS
from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

from .configuration_velocity_bert import VelocityBertConfig


class VelocityBertEmbeddings(nn.Module):
    """Sum of one embedding per note field plus, for absolute positions, a learned one per note
    index in the window (rotary positions enter in attention instead)."""

    def __init__(self, config: VelocityBertConfig):
        super().__init__()
        self.fields = nn.ModuleList(
            nn.Embedding(size, config.hidden_size, padding_idx=config.pad_token_id) for size in config.field_vocab_sizes
        )
        if config.position_embedding_type == "absolute":
            self.position_embeddings = nn.Embedding(config.max_position_embeddings, config.hidden_size)
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def forward(self, input_ids: torch.LongTensor) -> torch.Tensor:
        hidden = 0
        if hasattr(self, "position_embeddings"):
            hidden = self.position_embeddings(torch.arange(input_ids.shape[1], device=input_ids.device))[None]
        for i, embedding in enumerate(self.fields):
            hidden = hidden + embedding(input_ids[..., i])
        return self.dropout(self.LayerNorm(hidden))

    @torch.no_grad()
    def start_field_as(self, field: int, source: int, rows: torch.Tensor, scale: float) -> None:
        """Set field `field`'s last len(`rows`) rows (its ids after the specials) to `scale` x field
        `source`'s `rows`. Why: a new field whose values mean what an old field's do starts from that
        meaning rather than from noise (a score's marking read as the velocity a pianist gives it)."""
        target = self.fields[field].weight
        target[-len(rows) :] = scale * self.fields[source].weight[torch.as_tensor(rows)]


class VelocityBertRotaryEmbedding(nn.Module):
    """cos and sin of RoPE (Llama's and ModernBERT's default rope) at each note's position: its
    index in the window, or for "rotary_onset" its onset on the window's bar/position grid.

    Computed in every forward rather than kept as a buffer: the frequencies are a few hundred
    numbers, and nothing can then go stale in a checkpoint or stay uninitialized when Transformers
    builds the model on the meta device."""

    def __init__(self, config: VelocityBertConfig):
        super().__init__()
        self.config = config
        self.head_dim = config.hidden_size // config.num_attention_heads

    def positions(self, input_ids: torch.LongTensor) -> torch.Tensor:
        """[1 or batch, notes] positions; padding's are meaningless (it is masked out)."""
        c = self.config
        if c.position_embedding_type == "rotary_onset":
            bar = input_ids[..., c.bar_field] - c.grid_token_offset
            return (bar * c.positions_per_bar + input_ids[..., c.position_field] - c.grid_token_offset).float()
        return torch.arange(input_ids.shape[1], device=input_ids.device, dtype=torch.float)[None]

    def forward(self, input_ids: torch.LongTensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
        exponent = torch.arange(0, self.head_dim, 2, device=input_ids.device, dtype=torch.float) / self.head_dim
        freqs = self.positions(input_ids)[..., None] / self.config.rope_theta**exponent
        angles = torch.cat((freqs, freqs), dim=-1)
        return angles.cos().to(dtype), angles.sin().to(dtype)


def eager_attention_forward(
    module: nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float,
    dropout: float = 0.0,
    **kwargs,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The path that materialises attention maps (for analysis); SDPA is the default."""
    weights = torch.matmul(query, key.transpose(2, 3)) * scaling
    if attention_mask is not None:
        weights = weights + attention_mask
    weights = nn.functional.softmax(weights, dim=-1, dtype=torch.float32).to(query.dtype)
    weights = nn.functional.dropout(weights, p=dropout, training=module.training)
    output = torch.matmul(weights, value).transpose(1, 2).contiguous()
    return output, weights


class VelocityBertAttention(nn.Module):
    def __init__(self, config: VelocityBertConfig):
        super().__init__()
        self.config = config
        self.head_dim = config.hidden_size // config.num_attention_heads
        self.scaling = self.head_dim**-0.5
        self.is_causal = False
        self.qkv = nn.Linear(config.hidden_size, 3 * config.hidden_size)
        self.out = nn.Linear(config.hidden_size, config.hidden_size)

    def forward(
        self,
        hidden_states: torch.Tensor,
        attention_mask: torch.Tensor | None,
        position_embeddings: tuple[torch.Tensor, torch.Tensor] | None = None,
        **kwargs,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        shape = (*hidden_states.shape[:-1], 3, -1, self.head_dim)
        query, key, value = self.qkv(hidden_states).view(shape).permute(2, 0, 3, 1, 4).unbind(0)
        if position_embeddings is not None:
            query, key = apply_rotary_pos_emb(query, key, *position_embeddings)
        attention_interface: Callable = ALL_ATTENTION_FUNCTIONS.get_interface(
            self.config._attn_implementation, eager_attention_forward
        )
        output, weights = attention_interface(
            self,
            query,
            key,
            value,
            attention_mask,
            dropout=self.config.attention_probs_dropout_prob if self.training else 0.0,
            scaling=self.scaling,
            **kwargs,
        )
        return self.out(output.reshape(*hidden_states.shape[:-1], -1)), weights


class VelocityBertLayer(GradientCheckpointingLayer):
    """Pre-norm block: stable at the high learning rates that short CPU runs need. Hidden states
    go in positionally so that Trainer's `activation_checkpointing=True` can recompute the block in backward."""

    def __init__(self, config: VelocityBertConfig):
        super().__init__()
        self.attn_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.attention = VelocityBertAttention(config)
        self.mlp_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.mlp = nn.Sequential(
            nn.Linear(config.hidden_size, config.intermediate_size),
            ACT2FN[config.hidden_act],
            nn.Linear(config.intermediate_size, config.hidden_size),
        )
        self.dropout = nn.Dropout(config.hidden_dropout_prob)

    def start_as_identity(self) -> None:
        """Zero the two projections that write into the residual stream: in a pre-norm block that
        makes the block add nothing, so a model grown by such blocks plays exactly as before until
        they are trained (train.py --add_layers). Their inputs stay random, so gradients reach them."""
        with torch.no_grad():  # torch's own zeros_: transformers' skips weights already loaded
            for projection in (self.attention.out, self.mlp[-1]):
                projection.weight.zero_()
                projection.bias.zero_()

    def forward(
        self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None, **kwargs
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        attn, weights = self.attention(self.attn_norm(hidden_states), attention_mask, **kwargs)
        hidden_states = hidden_states + self.dropout(attn)
        hidden_states = hidden_states + self.dropout(self.mlp(self.mlp_norm(hidden_states)))
        return hidden_states, weights


class VelocityBertPreTrainedModel(PreTrainedModel):
    config_class = VelocityBertConfig
    config: VelocityBertConfig
    base_model_prefix = "velocity_bert"
    main_input_name = "input_ids"
    supports_gradient_checkpointing = True
    _supports_sdpa = True
    _supports_flash_attn = True
    _supports_attention_backend = True
    _no_split_modules = ["VelocityBertLayer"]
    # The module that turns a note's fields into its hidden state: what gradient checkpointing and
    # adapters (PEFT) hook to make the input require grad; there is no single token embedding.
    _input_embed_layer = "embeddings"

    # Every saved folder maps all three Auto classes to our code, so it loads with
    # trust_remote_code=True where this package is not installed (register_for_auto_class keeps
    # only one class per model, hence the explicit map).
    AUTO_MAP = {
        "AutoConfig": "configuration_velocity_bert.VelocityBertConfig",
        "AutoModel": "modeling_velocity_bert.VelocityBertModel",
        "AutoModelForMaskedLM": "modeling_velocity_bert.VelocityBertForMaskedVelocity",
    }

    def _init_weights(self, module: nn.Module) -> None:
        """BERT's scheme, spelled out so that a change in the library's generic fallback cannot
        change how our models start; padding rows stay zero so padded notes add nothing."""
        std = self.config.initializer_range
        if isinstance(module, nn.Linear):
            init.normal_(module.weight, mean=0.0, std=std)
            if module.bias is not None:
                init.zeros_(module.bias)
        elif isinstance(module, nn.Embedding):
            init.normal_(module.weight, mean=0.0, std=std)
            if module.padding_idx is not None and not getattr(module.weight, "_is_hf_initialized", False):
                init.zeros_(module.weight[module.padding_idx])
        elif isinstance(module, nn.LayerNorm):
            init.ones_(module.weight)
            init.zeros_(module.bias)

    def save_pretrained(self, save_directory, *args, **kwargs):
        self.config.auto_map = {**(getattr(self.config, "auto_map", None) or {}), **self.AUTO_MAP}
        return super().save_pretrained(save_directory, *args, **kwargs)


class VelocityBertModel(VelocityBertPreTrainedModel):
    def __init__(self, config: VelocityBertConfig):
        super().__init__(config)
        self.embeddings = VelocityBertEmbeddings(config)
        if config.position_embedding_type != "absolute":
            self.rotary_emb = VelocityBertRotaryEmbedding(config)
        self.layers = nn.ModuleList(VelocityBertLayer(config) for _ in range(config.num_hidden_layers))
        self.final_norm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.post_init()

    def forward(
        self,
        input_ids: torch.LongTensor,
        attention_mask: torch.Tensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> BaseModelOutput | tuple:
        """input_ids: [batch, notes, fields]; attention_mask: [batch, notes], 1 for real notes."""
        output_attentions = output_attentions if output_attentions is not None else self.config.output_attentions
        output_hidden_states = (
            output_hidden_states if output_hidden_states is not None else self.config.output_hidden_states
        )
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        hidden = self.embeddings(input_ids)
        mask = create_bidirectional_mask(config=self.config, inputs_embeds=hidden, attention_mask=attention_mask)
        all_hidden = (hidden,) if output_hidden_states else None
        all_attn = () if output_attentions else None
        if hasattr(self, "rotary_emb"):
            kwargs["position_embeddings"] = self.rotary_emb(input_ids, hidden.dtype)
        for layer in self.layers:
            hidden, weights = layer(hidden, mask, **kwargs)
            if output_hidden_states:
                all_hidden += (hidden,)
            if output_attentions:
                all_attn += (weights,)
        hidden = self.final_norm(hidden)
        if not return_dict:
            return tuple(v for v in (hidden, all_hidden, all_attn) if v is not None)
        return BaseModelOutput(last_hidden_state=hidden, hidden_states=all_hidden, attentions=all_attn)


class VelocityBertVelocityHead(nn.Module):
    def __init__(self, config: VelocityBertConfig):
        super().__init__()
        self.dense = nn.Linear(config.hidden_size, config.hidden_size)
        self.act = ACT2FN[config.hidden_act]
        self.LayerNorm = nn.LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.decoder = nn.Linear(config.hidden_size, config.num_velocity_levels)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.LayerNorm(self.act(self.dense(hidden))))


class VelocityBertForMaskedVelocity(VelocityBertPreTrainedModel):
    """Predicts a velocity level (0..num_velocity_levels-1) for notes whose velocity is hidden.

    The head runs only where a prediction is wanted: where `labels` != -100 when labels are given,
    else where the velocity field holds MASK (else everywhere). Other positions of `logits` are 0.
    """

    # Our loss is a mean over predicted notes; stop Trainer from rescaling it by num_items_in_batch.
    accepts_loss_kwargs = False

    def __init__(self, config: VelocityBertConfig):
        super().__init__(config)
        self.velocity_bert = VelocityBertModel(config)
        self.head = VelocityBertVelocityHead(config)
        self.post_init()

    def forward(
        self,
        input_ids: torch.LongTensor,
        attention_mask: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        output_attentions: bool | None = None,
        output_hidden_states: bool | None = None,
        return_dict: bool | None = None,
        **kwargs,
    ) -> MaskedLMOutput | tuple:
        """labels: [batch, notes] velocity levels, -100 where no loss is wanted."""
        return_dict = return_dict if return_dict is not None else self.config.return_dict
        outputs = self.velocity_bert(
            input_ids,
            attention_mask=attention_mask,
            output_attentions=output_attentions,
            output_hidden_states=output_hidden_states,
            return_dict=True,
            **kwargs,
        )
        hidden = outputs.last_hidden_state
        if labels is not None:
            where = labels != -100
        else:
            where = input_ids[..., self.config.velocity_field] == self.config.mask_token_id
            if attention_mask is not None:
                where &= attention_mask.bool()
            if not where.any():
                where = torch.ones_like(where) if attention_mask is None else attention_mask.bool()
        selected = self.head(hidden[where])
        logits = selected.new_zeros(*where.shape, self.config.num_velocity_levels)
        logits[where] = selected
        loss = nn.functional.cross_entropy(selected.float(), labels[where]) if labels is not None else None
        if not return_dict:
            out = (logits, outputs.hidden_states, outputs.attentions)
            out = tuple(v for v in out if v is not None)
            return (loss, *out) if loss is not None else out
        return MaskedLMOutput(
            loss=loss, logits=logits, hidden_states=outputs.hidden_states, attentions=outputs.attentions
        )


VelocityBertConfig.register_for_auto_class()
VelocityBertModel.register_for_auto_class("AutoModel")
VelocityBertForMaskedVelocity.register_for_auto_class("AutoModelForMaskedLM")

__all__ = ["VelocityBertForMaskedVelocity", "VelocityBertModel", "VelocityBertPreTrainedModel"]

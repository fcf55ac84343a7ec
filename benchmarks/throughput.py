"""Training throughput of VelocityBert next to a stock BertForMaskedLM of the same size, on the same
batches in the same run, plus the time to tokenize a corpus.

    python benchmarks/throughput.py --data ../shared/data/asap --steps 10 [--bf16] [--threads 2] [--hidden_dropout 0.1] [--attention_dropout 0]

Both models get the same dropouts (the config's defaults unless given): on the CPU,
attention dropout sends torch's SDPA to its math path instead of the fused kernel, so unequal
dropouts would measure that, not the models.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from transformers import BertConfig, BertForMaskedLM

from velocity_bert import VelocityBertConfig, VelocityBertForMaskedVelocity, VelocityBertTokenizer
from velocity_bert.data import build_windows, list_files
from velocity_bert.masking import MaskingCollator


def train_speed(model, batches, to_inputs, bf16: bool) -> float:
    """Tokens per second over all but the first (warm-up) batch."""
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    model.train()
    tokens, elapsed = 0, 0.0
    for i, batch in enumerate(batches):
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = model(**to_inputs(batch)).loss
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if i:
            elapsed += time.perf_counter() - start
            tokens += int(batch["attention_mask"].sum())
    return tokens / elapsed


def bert_inputs(batch, offsets):
    """Stock BERT sees one id per note (the pitch field) and the same labels at the same
    positions: the same sequence length and the same encoder work, with its full-vocabulary MLM
    head over every position (the stock equivalent)."""
    ids = batch["input_ids"][..., 0] + offsets
    return {"input_ids": ids, "attention_mask": batch["attention_mask"], "labels": batch["labels"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", default="../shared/data/asap")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch_size", type=int, default=8)
    parser.add_argument("--length", type=int, default=512)
    parser.add_argument("--bf16", action="store_true")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--hidden_dropout", type=float, default=None, help="both models (default: our config's)")
    parser.add_argument("--attention_dropout", type=float, default=None, help="both models (default: our config's)")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    tokenizer = VelocityBertTokenizer()
    files = [f for split in ("train", "validation", "test") for f in list_files(args.data, split)]
    start = time.perf_counter()
    windows = build_windows(files, tokenizer, args.length, 0, cache_dir=None, num_proc=1)
    tokenize_s = time.perf_counter() - start
    notes = sum(len(x) for x in windows["levels"])  # windows do not overlap here: every note once

    collator = MaskingCollator(seed=0)
    rows = windows.select(range(args.batch_size * (args.steps + 1)))
    batches = [collator([rows[i] for i in range(b, b + args.batch_size)]) for b in range(0, len(rows), args.batch_size)]
    batches = [b for b in batches if len(b["input_ids"]) == args.batch_size]

    dropout = {"hidden_dropout_prob": args.hidden_dropout, "attention_probs_dropout_prob": args.attention_dropout}
    dropout = {k: v for k, v in dropout.items() if v is not None}
    config = VelocityBertConfig(field_vocab_sizes=tokenizer.field_vocab_sizes, **dropout)
    torch.manual_seed(0)
    ours = VelocityBertForMaskedVelocity(config)
    bert = BertForMaskedLM(
        BertConfig(
            vocab_size=sum(tokenizer.field_vocab_sizes),
            hidden_size=config.hidden_size,
            num_hidden_layers=config.num_hidden_layers,
            num_attention_heads=config.num_attention_heads,
            intermediate_size=config.intermediate_size,
            max_position_embeddings=config.max_position_embeddings,
            hidden_dropout_prob=config.hidden_dropout_prob,
            attention_probs_dropout_prob=config.attention_probs_dropout_prob,
        )
    )
    result = {
        "threads": torch.get_num_threads(),
        "bf16": args.bf16,
        "hidden_dropout": config.hidden_dropout_prob,
        "attention_dropout": config.attention_probs_dropout_prob,
        "batch_size": args.batch_size,
        "length": args.length,
        "tokenize_files": len(files),
        "tokenize_notes": notes,
        "tokenize_seconds": round(tokenize_s, 2),
    }
    # Alternate the two models so neither benefits from a warmer machine.
    speeds = {"velocity_bert": [], "bert": []}
    for _ in range(2):
        speeds["velocity_bert"].append(train_speed(ours, batches, lambda b: b, args.bf16))
        speeds["bert"].append(train_speed(bert, batches, lambda b: bert_inputs(b, 0), args.bf16))
    for name, values in speeds.items():
        result[f"{name}_tokens_per_s"] = round(float(np.mean(values)))
    result["ratio"] = round(result["velocity_bert_tokens_per_s"] / result["bert_tokens_per_s"], 3)
    result["notes_per_s"] = result["velocity_bert_tokens_per_s"]  # one token per note
    print(json.dumps(result, indent=2))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)


if __name__ == "__main__":
    main()

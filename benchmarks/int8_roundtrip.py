"""Would 8-bit weight storage cost accuracy? Measured before anyone builds it.

The package may carry 25 MB, about 13 M parameters in float16; a model larger than 7 x 384 would
have to store its weights in 8 bits and widen them again on load. This writes MODEL with every 2-D
weight (linear layers, embeddings) rounded through symmetric int8 with one float16 scale per output
row, stored back in float32, so the usual evaluation scripts measure what that storage would cost:

    python benchmarks/int8_roundtrip.py velocity_bert/pretrained/velocity-bert-asap --out /tmp/int8
    python benchmarks/compare_on_validation.py velocity_bert/pretrained/velocity-bert-asap /tmp/int8 --settings random15 all

It also prints the bytes the weights would take stored that way. Weight-only and dequantized on
load, so the model then runs at float32 speed; unlike torch's dynamic quantization, which also
quantizes activations and changed the most likely level of 6% of notes (BENCHMARKS.md).
"""

from __future__ import annotations

import argparse

import torch

import velocity_bert as vb


def int8_roundtrip(weight: torch.Tensor) -> tuple[torch.Tensor, int]:
    """The weight as it would come back from int8 rows with float16 scales, and its stored bytes."""
    w = weight.float()
    scale = (w.abs().amax(dim=1, keepdim=True) / 127.0).half().float()
    scale = torch.where(scale > 0, scale, 1.0)  # an all-zero row (or one below float16's range) stores zeros
    q = torch.clamp(torch.round(w / scale), -127, 127)
    return (q * scale).to(weight.dtype), q.numel() + 2 * scale.numel()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    model = vb.VelocityBertForMaskedVelocity.from_pretrained(args.model).eval()
    tokenizer = vb.VelocityBertTokenizer.from_pretrained(args.model)
    state = model.state_dict()
    int8_bytes = float16_bytes = 0
    changed = 0
    for name, tensor in state.items():
        if tensor.dim() == 2 and tensor.is_floating_point():
            state[name], stored = int8_roundtrip(tensor)
            int8_bytes += stored
            changed += 1
        else:
            int8_bytes += 2 * tensor.numel()  # biases, norms: float16 as now
        float16_bytes += 2 * tensor.numel()
    model.load_state_dict(state)
    vb.save_model_folder(model, tokenizer, args.out)
    print(
        f"{changed} weight matrices through int8; weights {float16_bytes / 1e6:.1f} MB in float16 -> "
        f"{int8_bytes / 1e6:.1f} MB in int8 ({sum(t.numel() for t in state.values()) / 1e6:.1f} M values); "
        f"written in float32 to {args.out}"
    )


if __name__ == "__main__":
    main()

import json
import os
import subprocess
import sys
import textwrap

import pytest
import torch
from huggingface_hub.errors import StrictDataclassClassValidationError
from transformers import AutoConfig, AutoModel, AutoModelForMaskedLM

import velocity_bert as vb
from tests.conftest import tiny_config


def batch(config, b=2, n=20, seed=0):
    g = torch.Generator().manual_seed(seed)
    sizes = torch.tensor(config.field_vocab_sizes)
    ids = 4 + (torch.rand(b, n, len(sizes), generator=g) * (sizes - 4)).long()
    ids[:, ::3, config.velocity_field] = config.mask_token_id
    mask = torch.ones(b, n, dtype=torch.long)
    if b > 1:
        mask[1, 15:] = 0
    return ids, mask


def test_auto_classes_build_the_model():
    config = AutoConfig.for_model("velocity_bert", hidden_size=32, num_attention_heads=2)
    assert isinstance(config, vb.VelocityBertConfig)
    assert isinstance(AutoModelForMaskedLM.from_config(config), vb.VelocityBertForMaskedVelocity)
    assert isinstance(AutoModel.from_config(config), vb.VelocityBertModel)


def test_fresh_weights_follow_bert_init():
    config = tiny_config(initializer_range=0.05)
    model = vb.VelocityBertForMaskedVelocity(config)
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    weights = torch.cat([m.weight.flatten() for m in linears])
    assert abs(weights.std().item() - 0.05) < 0.005 and all(not m.bias.any() for m in linears)
    for embedding in model.velocity_bert.embeddings.fields:
        assert not embedding.weight[config.pad_token_id].any() and embedding.weight.std() > 0.03
    norms = [m for m in model.modules() if isinstance(m, torch.nn.LayerNorm)]
    assert all(bool((m.weight == 1).all() and not m.bias.any()) for m in norms)


def test_head_only_where_hidden_and_loss():
    config = tiny_config()
    model = vb.VelocityBertForMaskedVelocity(config).eval()
    ids, mask = batch(config)
    out = model(ids, attention_mask=mask)
    where = (ids[..., config.velocity_field] == config.mask_token_id) & mask.bool()
    assert out.logits.shape == (2, 20, 32)
    assert torch.all(out.logits[~where] == 0) and torch.all(out.logits[where].abs().sum(-1) > 0)
    labels = torch.full((2, 20), -100)
    labels[0, 3] = 7
    out = model(ids, attention_mask=mask, labels=labels)
    assert out.loss.ndim == 0 and out.loss > 0
    out.loss.backward()


def test_default_model_trains_without_dropout_and_dropout_stays_available():
    config = tiny_config()
    model = vb.VelocityBertForMaskedVelocity(config)
    ids, mask = batch(config)
    a = model.train()(ids, attention_mask=mask).logits
    torch.testing.assert_close(a, model.eval()(ids, attention_mask=mask).logits)
    noisy = vb.VelocityBertForMaskedVelocity(tiny_config(hidden_dropout_prob=0.5, attention_probs_dropout_prob=0.5))
    assert not torch.allclose(noisy.train()(ids, attention_mask=mask).logits, noisy(ids, attention_mask=mask).logits)


@pytest.mark.parametrize("positions", ["absolute", "rotary", "rotary_onset"])
def test_padding_does_not_change_predictions(positions):
    config = tiny_config(position_embedding_type=positions)
    model = vb.VelocityBertForMaskedVelocity(config).eval()
    ids, _ = batch(config, b=1, n=15)
    padded = torch.cat([ids, torch.zeros(1, 5, ids.shape[-1], dtype=torch.long)], 1)
    mask = torch.cat([torch.ones(1, 15), torch.zeros(1, 5)], 1).long()
    a = model(ids).logits
    b = model(padded, attention_mask=mask).logits[:, :15]
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def test_rotary_positions_are_relative():
    """Rotary models see only how far apart notes are: notes shifted right behind masked padding
    get the same predictions. A learned embedding per index sees where each note sits."""
    ids, _ = batch(tiny_config(), b=1, n=15)
    shifted = torch.cat([torch.zeros(1, 5, ids.shape[-1], dtype=torch.long), ids], 1)
    mask = torch.cat([torch.zeros(1, 5), torch.ones(1, 15)], 1).long()
    for positions, same in (("rotary", True), ("rotary_onset", True), ("absolute", False)):
        config = tiny_config(position_embedding_type=positions, initializer_range=0.5)
        model = vb.VelocityBertForMaskedVelocity(config).eval()
        assert any("position_embeddings" in name for name, _ in model.named_parameters()) is not same
        a, b = model(ids).logits, model(shifted, attention_mask=mask).logits[:, 5:]
        # cos/sin of positions 5.. and 0.. round differently in float32: up to 4e-5 apart over 200
        # inits this large (1e-5 failed for ~3% of them), where learned positions differ by > 5
        assert torch.allclose(a, b, atol=1e-3, rtol=1e-3) is same
    with pytest.raises(StrictDataclassClassValidationError, match="absolute, rotary, rotary_onset"):
        tiny_config(position_embedding_type="learned")


def test_rotary_onset_positions_come_from_the_grid():
    """Notes at one onset (a chord) are one position to rotary_onset, so reordering them only
    reorders the predictions; by index, order matters."""
    config = tiny_config()
    ids, _ = batch(config, b=1, n=12)
    ids[..., config.bar_field], ids[..., config.position_field] = 6, 9
    perm = torch.randperm(12, generator=torch.Generator().manual_seed(1))
    for positions, same in (("rotary_onset", True), ("rotary", False)):
        # Large weights, so that attention is sharp enough for positions to show in the output.
        config = tiny_config(position_embedding_type=positions, initializer_range=0.5)
        model = vb.VelocityBertForMaskedVelocity(config).eval()
        a, b = model(ids).logits[:, perm], model(ids[:, perm]).logits
        assert torch.allclose(a, b, atol=1e-5, rtol=1e-4) is same


@pytest.mark.parametrize("positions", ["absolute", "rotary", "rotary_onset"])
def test_save_load_identical_and_eager_attention(tmp_path, positions):
    config = tiny_config(position_embedding_type=positions)
    model = vb.VelocityBertForMaskedVelocity(config).eval()
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").exists() and not list(tmp_path.glob("*.bin"))
    auto_map = json.loads((tmp_path / "config.json").read_text())["auto_map"]
    assert set(auto_map) == {"AutoConfig", "AutoModel", "AutoModelForMaskedLM"}
    ids, mask = batch(config)
    loaded = AutoModelForMaskedLM.from_pretrained(tmp_path, attn_implementation="eager").eval()
    out = loaded(ids, attention_mask=mask, output_attentions=True, output_hidden_states=True)
    torch.testing.assert_close(out.logits, model(ids, attention_mask=mask).logits, atol=1e-5, rtol=1e-4)
    assert len(out.attentions) == 2 and out.attentions[0].shape == (2, 2, 20, 20)
    assert torch.allclose(out.attentions[0].sum(-1), torch.ones(2, 2, 20))
    assert out.attentions[0][1, :, :, 15:].abs().max() == 0  # padding gets no attention
    assert len(out.hidden_states) == 3


def test_loss_not_rescaled_by_trainer():
    assert vb.VelocityBertForMaskedVelocity.accepts_loss_kwargs is False


@pytest.mark.parametrize("positions", ["absolute", "rotary"])
def test_gradient_checkpointing_gives_the_same_gradients(positions):
    """Trainer's activation_checkpointing=True recomputes each block in backward: same loss, same gradients
    (dropout on, so the recompute must replay the same dropout masks)."""
    config = tiny_config(position_embedding_type=positions, hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)
    ids, mask = batch(config)
    labels = torch.full((2, 20), -100)
    labels[:, ::3] = 5
    grads = []
    for checkpointing in (False, True):
        torch.manual_seed(0)
        model = vb.VelocityBertForMaskedVelocity(config).train()
        if checkpointing:  # transformers 5.x renamed it; >=5.0 is all we require
            (getattr(model, "activation_checkpointing_enable", None) or model.gradient_checkpointing_enable)()
            assert all(layer.gradient_checkpointing for layer in model.velocity_bert.layers)
            assert model.get_input_embeddings() is model.velocity_bert.embeddings  # what it hooks
        torch.manual_seed(1)
        model(ids, attention_mask=mask, labels=labels).loss.backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
    assert grads[0].keys() == grads[1].keys() and len(grads[0]) > 10
    for name, grad in grads[0].items():
        torch.testing.assert_close(grads[1][name], grad, msg=name)


BLOCKED = textwrap.dedent(
    """
    import importlib.abc, sys
    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "velocity_bert" or name.startswith("velocity_bert."):
                raise ImportError("velocity_bert is blocked in this test")
    sys.meta_path.insert(0, Block())
    try:
        import velocity_bert
        raise SystemExit("velocity_bert should not be importable here")
    except ImportError:
        pass
    """
)


def run_without_package(code: str, cwd) -> str:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": "", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-c", BLOCKED + textwrap.dedent(code)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_folder_loads_with_remote_code_only(tiny_model_dir, tmp_path):
    model = vb.VelocityBertForMaskedVelocity.from_pretrained(tiny_model_dir).eval()
    ids, mask = batch(model.config)
    torch.save({"ids": ids, "mask": mask, "logits": model(ids, attention_mask=mask).logits}, tmp_path / "ref.pt")
    out = run_without_package(
        f"""
        import torch
        from transformers import AutoModelForMaskedLM
        ref = torch.load({str(tmp_path / "ref.pt")!r})
        model = AutoModelForMaskedLM.from_pretrained({str(tiny_model_dir)!r}, trust_remote_code=True).eval()
        assert type(model).__module__.startswith("transformers_modules"), type(model).__module__
        torch.testing.assert_close(model(ref["ids"], attention_mask=ref["mask"]).logits, ref["logits"])
        print("ok")
        """,
        tmp_path,
    )
    assert out.strip().endswith("ok")

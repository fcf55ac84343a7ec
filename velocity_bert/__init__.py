"""velocity-bert: a BERT-style masked model of piano velocities, for Transformers."""

import os
from pathlib import Path

import torch
from huggingface_hub.errors import HFValidationError
from huggingface_hub.utils import validate_repo_id
from transformers import AutoConfig, AutoModel, AutoModelForMaskedLM
from transformers import pipeline as _hf_pipeline
from transformers.pipelines import PIPELINE_REGISTRY

from .configuration_velocity_bert import VelocityBertConfig
from .modeling_velocity_bert import VelocityBertForMaskedVelocity, VelocityBertModel
from .notes import MidiInputError, Notes, load_notes, patch_velocities, save_midi, save_score, write_velocities
from .pipeline_velocity_bert import TASK, VelocityPredictionPipeline, save_model_folder
from .tokenization_velocity_bert import TOKENIZER_FILE, VelocityBertTokenizer

__version__ = "0.1.0"

# What a model folder holds; the weights may also be sharded or in PyTorch's format.
MODEL_FILES = ("config.json", "model.safetensors", TOKENIZER_FILE)
OTHER_WEIGHTS = ("model.safetensors.index.json", "pytorch_model.bin")
# The bundled default model folder (weights trained on ASAP: CC BY-NC-SA 4.0).
DEFAULT_MODEL = str(Path(__file__).parent / "pretrained" / "velocity-bert-asap")

AutoConfig.register("velocity_bert", VelocityBertConfig, exist_ok=True)
AutoModel.register(VelocityBertConfig, VelocityBertModel, exist_ok=True)
AutoModelForMaskedLM.register(VelocityBertConfig, VelocityBertForMaskedVelocity, exist_ok=True)
PIPELINE_REGISTRY.register_pipeline(TASK, pipeline_class=VelocityPredictionPipeline, pt_model=AutoModelForMaskedLM)


DTYPES = ("auto", "float32", "bfloat16")  # what `load_pipeline(dtype=...)` and the CLI's --dtype take


def cpu_dtype() -> torch.dtype:
    """The fastest dtype for decoding on this CPU at the same accuracy: bfloat16 where the CPU has
    bfloat16 instructions (AMX tiles or AVX512-BF16), float32 elsewhere. On a Xeon with AMX, bfloat16
    decoded the validation split 2.8-3.4x faster with every number within 0.0012 of MAE; on an AMD
    EPYC with AVX512-BF16 and no AMX, 1.7-2.0x faster with pooled MAE within 0.0005; on an AVX2-only CPU torch
    emulates bfloat16 and it ran 6.2x slower (BENCHMARKS.md, "bfloat16 on a CPU with AMX" and the subsection after it)."""
    # torch's own CPUID checks (private; a torch without them gets float32)
    checks = (getattr(torch.cpu, name, None) for name in ("_is_amx_tile_supported", "_is_avx512_bf16_supported"))
    return torch.bfloat16 if any(check is not None and check() for check in checks) else torch.float32


def load_pipeline(
    model: str = DEFAULT_MODEL, dtype: str | torch.dtype = "auto", **kwargs
) -> VelocityPredictionPipeline:
    """`pipeline("velocity-prediction", model=...)` with this package's code, so no
    trust_remote_code is needed (a folder's custom_pipelines entry would otherwise ask for it).

    `dtype="auto"`: on the CPU, cpu_dtype() (bfloat16 with AMX or AVX512-BF16, else float32); on another device,
    what Transformers loads by default (the config's float32). A model that is neither a folder nor a Hub repo id gets a message
    that says so: Transformers would complain about repo-id characters or a config that is not JSON."""
    if isinstance(dtype, str) and dtype not in DTYPES:
        raise ValueError(f"dtype is one of {', '.join(DTYPES)} or a torch.dtype, not {dtype!r}")
    if dtype != "auto":
        kwargs["dtype"] = getattr(torch, dtype) if isinstance(dtype, str) else dtype
    elif str(kwargs.get("device", "cpu")) in ("None", "cpu", "-1"):
        kwargs["dtype"] = cpu_dtype()
    name = os.fspath(model)
    local = Path(name).expanduser()
    if local.exists() and not local.is_dir():
        raise ValueError(f"{name}: a file; a model is a folder ({', '.join(MODEL_FILES)})")
    if local.is_dir():  # say which file is missing: Transformers' own message hides it in a list
        missing = [f for f in MODEL_FILES if not (local / f).is_file()]
        if "model.safetensors" in missing and any((local / f).is_file() for f in OTHER_WEIGHTS):
            missing.remove("model.safetensors")
        if missing:
            raise ValueError(f"{name}: not a velocity-bert model folder, it has no {' and no '.join(missing)}")
    if not local.exists():
        try:
            validate_repo_id(name)
        except HFValidationError:
            raise ValueError(f"{name}: no such model folder") from None
        try:
            return _hf_pipeline(TASK, model=name, pipeline_class=VelocityPredictionPipeline, **kwargs)
        except OSError as err:
            raise OSError(f"{name}: no such model folder, and not loadable as a Hub repo: {err}") from err
    return _hf_pipeline(TASK, model=str(local), pipeline_class=VelocityPredictionPipeline, **kwargs)


__all__ = [
    "DEFAULT_MODEL",
    "DTYPES",
    "MidiInputError",
    "Notes",
    "VelocityBertConfig",
    "VelocityBertForMaskedVelocity",
    "VelocityBertModel",
    "VelocityBertTokenizer",
    "VelocityPredictionPipeline",
    "cpu_dtype",
    "load_notes",
    "load_pipeline",
    "patch_velocities",
    "save_midi",
    "save_model_folder",
    "save_score",
    "write_velocities",
]

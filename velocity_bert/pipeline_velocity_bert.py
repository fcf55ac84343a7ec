"""The `velocity-prediction` pipeline: MIDI in, the same MIDI with predicted velocities out.

Thin by design: notes.py reads and writes MIDI, decoding.py predicts. Contract (other tools rely
on it): `pipe(source, mask=None)` with `source` a path, bytes or symusic Score and `mask` None
(predict every velocity) or one bool per canonical note (True = hide and predict); returns a dict
with `velocities` (canonical order; notes not asked for keep their input velocity exactly),
`notes`, `score` (the input with only velocities changed) and `midi` (the bytes of the file to
write: for a path or bytes, the input's own bytes with only those velocity bytes changed).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from symusic import Score
from transformers import Pipeline

from .decoding import DecodingOptions, predict_velocities
from .notes import load_notes, midi_bytes, patch_velocities, read_score, write_velocities
from .tokenization_velocity_bert import VelocityBertTokenizer

TASK = "velocity-prediction"


class MidiRewrittenWarning(UserWarning):
    """The result's `midi` was rebuilt by symusic, not patched in place (see notes.patch_velocities)."""


class VelocityPredictionPipeline(Pipeline):
    # MidiTok's tokenizer is not a Hugging Face tokenizer: the pipeline loads it itself.
    _load_tokenizer = False
    _load_processor = False
    _load_feature_extractor = False
    _load_image_processor = False

    def __init__(self, *args, velocity_tokenizer: VelocityBertTokenizer | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        if velocity_tokenizer is None:
            # From a Hub repo, take the tokenizer from the same commit as the weights.
            revision = getattr(self.model.config, "_commit_hash", None)
            velocity_tokenizer = VelocityBertTokenizer.from_pretrained(
                self.model.config._name_or_path, **({"revision": revision} if revision else {})
            )
        self.velocity_tokenizer = velocity_tokenizer
        if self._batch_size is not None:  # pipeline(..., batch_size=N): see __call__
            self._forward_params = {**self._forward_params, "batch_size": self._batch_size}
            DecodingOptions(**self._forward_params)
            self._batch_size = None

    def __call__(self, inputs, *args, batch_size: int | None = None, **kwargs):
        """A file is already many windows, and those are what batch: `batch_size` is how many go
        through the encoder at once (DecodingOptions.batch_size), not how many files; Pipeline's own
        file batching needs a padding tokenizer, which a MIDI file does not have."""
        if batch_size is not None:
            kwargs["windows_per_batch"] = batch_size
        return super().__call__(inputs, *args, **kwargs)

    def _sanitize_parameters(
        self,
        mask=None,
        passes: int | None = None,
        overlap: int | None = None,
        combine: str | None = None,
        sample: bool | None = None,
        temperature: float | None = None,
        seed: int | None = None,
        velocity_range: tuple[int, int] | None = None,
        estimate: str | None = None,
        keep_dynamics: bool | None = None,
        repair: float | None = None,
        windows_per_batch: int | None = None,
        **kwargs,
    ):
        preprocess = {"mask": mask} if mask is not None else {}
        options = {
            k: v
            for k, v in dict(
                passes=passes,
                overlap=overlap,
                combine=combine,
                sample=sample,
                temperature=temperature,
                seed=seed,
                velocity_range=velocity_range,
                estimate=estimate,
                keep_dynamics=keep_dynamics,
                repair=repair,
                batch_size=windows_per_batch,
            ).items()
            if v is not None
        }
        DecodingOptions(**options)  # refuse a bad option now, before the file is read
        # One forward parameter per option: Pipeline merges the call's over the constructor's key by
        # key, so `pipeline(..., velocity_range=(30, 100))` still holds when a call sets only a seed.
        return preprocess, options, {}

    def preprocess(self, source, mask=None) -> dict:
        score = read_score(source)  # parse once; notes and the written result share it
        notes = load_notes(score)
        hidden = np.ones(len(notes), dtype=bool) if mask is None else np.asarray(mask)
        # Only booleans (or 0/1): a list of note indices, [3, 10, 12], must not pass as one.
        if hidden.dtype != bool and not (hidden.dtype.kind in "iuf" and np.isin(hidden, (0, 1)).all()):
            raise ValueError("mask is one bool per note, in load_notes' order (True: predict it), not indices")
        if hidden.shape != (len(notes),):
            raise ValueError(f"mask has {hidden.size} entries for {len(notes)} notes")
        hidden = hidden.astype(bool)
        # A caller's Score is written back in its own time unit (ticks, quarters or seconds); a
        # file's own bytes are kept, to change nothing in them but velocities.
        data = bytes(source) if isinstance(source, (bytes, bytearray)) else None
        if isinstance(source, (str, os.PathLike)):
            data = Path(source).read_bytes()
        return {
            "source": source if isinstance(source, Score) else score,
            "data": data,
            "notes": notes,
            "hidden": hidden,
        }

    def _forward(self, inputs: dict, **options) -> dict:
        velocities = predict_velocities(
            self.model, self.velocity_tokenizer, inputs["notes"], inputs["hidden"], DecodingOptions(**options)
        )
        return {**inputs, "velocities": velocities}

    def postprocess(self, outputs: dict) -> dict:
        notes, velocities, data = outputs["notes"], outputs["velocities"], outputs["data"]
        score = write_velocities(outputs["source"], notes, velocities)
        # For a file, `source` is already symusic's reading of `data`: the check need not parse it again.
        midi = None if data is None else patch_velocities(data, notes, velocities, outputs["source"])
        if midi is None:
            if data is not None:
                warnings.warn(
                    "this file's layout is not one velocity-bert patches in place: it was rewritten by symusic "
                    "(channels renumbered; system-exclusive, text and aftertouch events dropped)",
                    MidiRewrittenWarning,
                    stacklevel=2,
                )
            midi = midi_bytes(score, container=data)
        return {"velocities": velocities.tolist(), "notes": notes, "score": score, "midi": midi}

    def save_pretrained(self, save_directory, **kwargs):
        """A complete model folder: config with auto_map and custom_pipelines, weights, all code
        files, and the MidiTok tokenizer file."""
        super().save_pretrained(save_directory, **kwargs)
        self.velocity_tokenizer.save_pretrained(save_directory)


def save_model_folder(model, tokenizer: VelocityBertTokenizer, save_directory, state_dict=None) -> None:
    """Write `model` as a folder that loads with or without this package installed. `state_dict`:
    the tensors to write instead of the model's own, e.g. its weights as stored in float16 (the model
    itself is loaded in float32, the dtype its config names)."""
    kwargs = {} if state_dict is None else {"state_dict": state_dict}
    VelocityPredictionPipeline(model=model, velocity_tokenizer=tokenizer).save_pretrained(save_directory, **kwargs)

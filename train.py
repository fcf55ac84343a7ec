"""Pretrain or fine-tune VelocityBert with the standard Trainer.

python train.py --data_dir ../shared/data/asap --output_dir runs/base --max_steps 20000
accelerate launch train.py ...        # or: torchrun --nproc_per_node 8 train.py ...
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
from torch.utils.data import ConcatDataset
from transformers import HfArgumentParser, TrainingArguments

from velocity_bert import VelocityBertConfig, VelocityBertForMaskedVelocity, VelocityBertTokenizer, save_model_folder
from velocity_bert.augmentation import Compose, HideMarkings, Loudness, StrikeTogether, Transpose
from velocity_bert.configuration_velocity_bert import POSITION_EMBEDDING_TYPES
from velocity_bert.data import (
    RandomWindows,
    WindowArrays,
    build_windows,
    score_copy_sources,
    training_files,
    unused_files,
)
from velocity_bert.decoding import MARKING_TO_PLAYED
from velocity_bert.masking import MaskingCollator, MaskingMix, apply_mask, choose_hidden
from velocity_bert.metrics import level_metrics
from velocity_bert.soft_targets import SoftTargetTrainer, load_teachers
from velocity_bert.tokenization_velocity_bert import MARKING, PAD_ID, VELOCITY

NEW_MODEL_DROPOUT = 0.1  # ModelArguments says why
# --markings on a model without the field: each marking's embedding starts as this share of the
# velocity embedding of the level a pianist plays it at (decoding.MARKING_TO_PLAYED), so the
# model starts out reading a marking as a hint of that loudness. Untrained, that way run 14 played
# ASAP's marked validation scores closer to the pianists than `keep_dynamics` did (BENCHMARKS.md,
# "Reading the markings").
MARKING_START_SCALE = 0.5


@dataclass
class ModelArguments:
    model_name_or_path: str | None = field(default=None, metadata={"help": "fine-tune from this model"})
    # A new model's size; the bundled one is 384 / 6 / 6 / 1536 (a GPU's run; 4 x 256 trains on a CPU).
    hidden_size: int = field(default=256, metadata={"help": "a new model's width"})
    num_hidden_layers: int = field(default=4, metadata={"help": "a new model's blocks"})
    num_attention_heads: int = field(default=4, metadata={"help": "a new model's heads per block"})
    intermediate_size: int = field(default=1024, metadata={"help": "a new model's feed-forward width"})
    # None: run 10's recipe for a new model (the shipped one: dropout 0.1, and the config's default
    # positions, a learned embedding per note index), the model's own when fine-tuning. Rotary
    # positions without dropout learned far faster, in the CPU proxy and at full size, but at full
    # size they overfitted after 1,250 GPU steps and were 0.4-0.5 worse on validation `all` MAE,
    # the humanizing setting, than learned positions with dropout (BENCHMARKS.md, "Rotary
    # positions at full size"); both stay options.
    dropout: float | None = field(
        default=None, metadata={"help": "every dropout (default: 0.1, or the fine-tuned model's own)"}
    )
    # Attention dropout sends torch's CPU SDPA from its fused kernel to the math path: at the bundled
    # size on an AMX CPU in bf16, hidden dropout alone trains 2.9x faster than both (BENCHMARKS.md,
    # "Training throughput"), which is what makes a CPU continuation with dropout worth running.
    attention_dropout: float | None = field(
        default=None, metadata={"help": "attention dropout alone (default: --dropout's)"}
    )
    window_length: int = field(default=512, metadata={"help": "notes per window, for a new model"})
    position_embedding_type: str | None = field(
        default=None,
        metadata={
            "help": "default: absolute, or the fine-tuned model's own; another type converts it",
            "choices": POSITION_EMBEDDING_TYPES,
        },
    )
    sustain_pedal: bool = field(default=False, metadata={"help": "durations as sounding under the sustain pedal"})
    # A score's markings as context (tokenization_velocity_bert.MARKING): what `humanize
    # --keep-dynamics` otherwise maps by one fitted line (decoding.keep_dynamics).
    markings: bool = field(
        default=False,
        metadata={
            "help": "a seventh note field, the score's dynamics marking (from --score_copies of marked scores); "
            "a model without it gains it, each marking starting as the velocity a pianist plays it at"
        },
    )
    # Recordings and unmarked scores hold padding in the marking field, whose row stays zero: trained
    # alone, the field cannot change how they play. Session 43's 350 CPU steps of the whole model with
    # the field lost its gain on marked scores and cost recordings 0.11 (BENCHMARKS.md).
    train_markings_only: bool = field(
        default=False,
        metadata={
            "help": "with --markings: train the marking field alone, on the score copies that have markings "
            "(every other weight frozen, so input without markings plays exactly as before; --hide_markings "
            "does not apply: a window without markings teaches the field nothing)"
        },
    )
    # Even ASAP's train performances stay under 33% exact level (BENCHMARKS.md, fit_gap.py): the
    # model is short of fit. Blocks added on top start as the identity (a pre-norm block with its
    # output projections zeroed), so training starts from the fine-tuned model's accuracy and only
    # adds capacity; trained alone, they cost a backward pass through themselves only.
    add_layers: int = field(
        default=0,
        metadata={
            "help": "with --model_name_or_path: grow the model by this many blocks on top, each starting "
            "as the identity (it plays exactly as before until trained)"
        },
    )
    train_added_layers_only: bool = field(
        default=False, metadata={"help": "with --add_layers: train the new blocks alone, every other weight frozen"}
    )
    # Run 10 and a rotary-position model of its size, averaged, beat either alone on validation by
    # 0.7 points of exact level (BENCHMARKS.md, "A second model?"), but cost twice the work per note;
    # distillation tries to put what the pair knows into one model.
    distill_from: list[str] = field(
        default_factory=list,
        metadata={"help": "teacher models: also learn their mean predicted distribution of each hidden velocity"},
    )
    distill_weight: float = field(
        default=0.5, metadata={"help": "the teachers' share of the training loss (the rest: the true levels)"}
    )
    # Levels are ordered: one level off is nearly right (velocity_bert/soft_targets.py says more).
    label_sigma: float = field(
        default=0.0,
        metadata={"help": "train toward a Gaussian of this many levels around each true level (0: one-hot)"},
    )


@dataclass
class DataArguments:
    data_dir: str = field(metadata={"help": "MAESTRO folder, folder with splits.csv, or any MIDI folder"})
    cache_dir: str = field(default="cache", metadata={"help": "where tokenized windows are cached (Arrow files)"})
    train_overlap: int | None = field(
        default=None, metadata={"help": "notes shared by consecutive train windows (default: a quarter window)"}
    )
    random_offsets: bool = field(
        default=False, metadata={"help": "start each train window at a new random note every time it is drawn"}
    )
    num_proc: int = field(default=2, metadata={"help": "processes that tokenize the corpus"})
    validation_share: float = field(
        default=0.05, metadata={"help": "files held out to validate on when the corpus has no validation split"}
    )
    max_train_files: int | None = field(default=None, metadata={"help": "only the first N train files"})
    max_eval_files: int | None = field(default=None, metadata={"help": "only the first N validation files"})
    eval_seed: int = field(default=0, metadata={"help": "which 15%% of validation notes evaluation hides"})
    pitch_shift: int = field(
        default=0, metadata={"help": "transpose each training window by up to this many semitones (0: off)"}
    )
    velocity_shift: int = field(
        default=0, metadata={"help": "move half the training windows' velocities by up to this many levels"}
    )
    velocity_stretch: float = field(
        default=0.0, metadata={"help": "and scale their spread by a factor within 1 +- this"}
    )
    velocity_min_visible: float = field(
        default=0.0, metadata={"help": "but only windows with at least this share of velocities visible"}
    )
    strike_together: float = field(
        default=0.0,
        metadata={
            "help": "share of training windows whose chords (onsets within 20 ms) are struck at once and in "
            "pitch order, as in a flat score (0: off)"
        },
    )
    legato: float = field(
        default=0.0,
        metadata={
            "help": "share of training windows drawn from a copy with every note held to the next chord, "
            "no articulation, as in a flat score (one more tokenized copy; needs --random_offsets; 0: off)"
        },
    )
    score_copies: str | None = field(
        default=None,
        metadata={
            "help": "a folder of score-performance note pairs (benchmarks/align_scores.py --split train --out DIR): "
            "also train on each aligned performance's velocities on its score's notes, score timing and bars, as "
            "a user's flat score has them (ASAP; drawn as often as the performances; needs --random_offsets)"
        },
    )
    hide_markings: float = field(
        default=0.25,
        metadata={"help": "with --markings: share of training windows whose markings are hidden, as in a flat score"},
    )
    tempo_stretch: float = field(
        default=0.0,
        metadata={
            "help": "also train on each performance played up to this much slower or faster (0.1: 4 more "
            "tokenized copies at 0.9, 0.95, 1.05 and 1.1 times its length; needs --random_offsets)"
        },
    )


@dataclass
class MaskingArguments:
    mask_random: float = field(
        default=MaskingMix.random, metadata={"help": "share of sequences with 15%% random notes hidden"}
    )
    mask_span: float = field(default=MaskingMix.span, metadata={"help": "share with contiguous spans hidden"})
    mask_ratio: float = field(
        default=MaskingMix.ratio, metadata={"help": "share with a uniform 0-100%% of notes hidden"}
    )
    mask_all: float = field(default=MaskingMix.all, metadata={"help": "share with every note hidden"})


def fixed_eval_masking(ds, config: VelocityBertConfig, seed: int):
    """Hide 15% of notes once, so every evaluation scores the same notes. Every hidden velocity
    becomes MASK: BERT's 10% "unchanged" would show the answer and inflate the scores."""
    rng = np.random.default_rng(seed)
    mix = MaskingMix(random=1.0, span=0.0, ratio=0.0)

    def mask(row):
        ids, levels = np.asarray(row["input_ids"]), np.asarray(row["levels"])
        hidden, _ = choose_hidden(len(ids), mix, rng)
        ids, labels = apply_mask(
            ids, levels, hidden, "all", rng, config.velocity_token_offset, config.num_velocity_levels
        )
        return {"input_ids": ids, "labels": labels}

    return ds.map(mask, desc="masking eval")


TEMPO_COPIES = 4  # how many stretched copies --tempo_stretch adds, evenly spread over its range


def tempo_factors(data_args: DataArguments) -> list[float]:
    """The time scales of --tempo_stretch's copies: a fixed few, each tokenized once and cached, where
    a new factor at every draw would mean tokenizing during training."""
    stretch = data_args.tempo_stretch
    if not stretch:
        return []
    if not 0 < stretch < 1:
        raise ValueError(f"--tempo_stretch must be between 0 and 1, not {stretch}")
    if not data_args.random_offsets:
        raise ValueError("--tempo_stretch needs --random_offsets (its copies are drawn from whole files)")
    half = TEMPO_COPIES // 2
    return [round(1 + stretch * k / half, 6) for k in range(-half, half + 1) if k]


def tokenized_splits(data_args: DataArguments, config: VelocityBertConfig, tokenizer) -> dict:
    """The train and validation windows, built (or read from the cache) with the arguments that key
    the cache; benchmarks/gpu/pretokenize.py calls this too, so the windows it builds are found.
    --tempo_stretch adds whole train files at each of `tempo_factors`, as "train@FACTOR"; --legato
    adds them held to the next chord, as "train:legato"; --score_copies the aligned ones as their
    scores' notes with the pianists' velocities, as "train:score_copies"."""
    factors = tempo_factors(data_args)
    train_files, validation_files = training_files(data_args.data_dir, data_args.validation_share)
    print(f"{len(train_files)} train files, {len(validation_files)} validation files", file=sys.stderr)
    splits = {}
    for split, files, length, overlap in (
        (
            "train",
            train_files[: data_args.max_train_files],
            None if data_args.random_offsets else config.window_length,
            train_window_overlap(data_args, config),
        ),
        ("validation", validation_files[: data_args.max_eval_files], config.window_length, config.window_overlap),
    ):
        splits[split] = build_windows(files, tokenizer, length, overlap, data_args.cache_dir, data_args.num_proc)
        unused = unused_files(splits[split], files)
        if len(unused) == len(files):
            raise ValueError(f"none of the {len(files)} {split} files could be read into notes")
        if unused:
            names = ", ".join(str(f) for f in unused[:3]) + (", ..." if len(unused) > 3 else "")
            print(
                f"{split}: {len(unused)} of {len(files)} files skipped (unreadable, missing or no notes): {names}",
                file=sys.stderr,
            )
        if split == "train":
            for f in factors:
                splits[f"train@{f:g}"] = build_windows(
                    files, tokenizer, length, overlap, data_args.cache_dir, data_args.num_proc, time_scale=f
                )
            if data_args.legato:
                splits["train:legato"] = build_windows(
                    files, tokenizer, length, overlap, data_args.cache_dir, data_args.num_proc, as_legato=True
                )
            if data_args.score_copies:
                sources = score_copy_sources(data_args.data_dir, files, data_args.score_copies)
                if not sources:
                    raise ValueError(
                        f"--score_copies: no train performance has note pairs under {data_args.score_copies} "
                        "(python benchmarks/align_scores.py --split train --out DIR makes them)"
                    )
                print(f"score copies of {len(sources)} of {len(files)} train files", file=sys.stderr)
                splits["train:score_copies"] = build_windows(
                    list(sources),
                    tokenizer,
                    length,
                    overlap,
                    data_args.cache_dir,
                    data_args.num_proc,
                    score_copies=sources,
                )
    return splits


def train_window_overlap(data_args: DataArguments, config: VelocityBertConfig) -> int:
    return data_args.train_overlap or config.window_length // 4


def compute_metrics(prediction, baseline_level: int) -> dict:
    preds, labels = np.asarray(prediction.predictions), np.asarray(prediction.label_ids)
    metrics = level_metrics(preds, labels)
    constant = level_metrics(np.where(labels == -100, -100, baseline_level), labels)
    metrics.update({f"baseline_{k}": constant[k] for k in ("exact", "within_one", "mae")})
    return metrics


def save_run_arguments(output_dir: str, model_args, data_args, mask_args, training_args) -> None:
    """The recipe, next to the checkpoints, so export.py can put it in the shipped training summary
    (Trainer's training_args.bin is a pickle and lacks our own arguments)."""
    arguments = {
        "command": sys.argv,
        "model": asdict(model_args),
        "data": asdict(data_args),
        "masking": asdict(mask_args),
        "training": json.loads(training_args.to_json_string()),
    }
    Path(output_dir).mkdir(parents=True, exist_ok=True)
    (Path(output_dir) / "run_arguments.json").write_text(json.dumps(arguments, indent=2))


def main(callbacks: list | None = None):
    """`callbacks`: extra TrainerCallbacks for wrappers such as benchmarks/gpu/budget_train.py."""
    parser = HfArgumentParser((ModelArguments, DataArguments, MaskingArguments, TrainingArguments))
    model_args, data_args, mask_args, training_args = parser.parse_args_into_dataclasses()
    try:
        tempo_factors(data_args)
        training_files(data_args.data_dir, data_args.validation_share)  # a corpus we cannot train on
        for flag in ("max_train_files", "max_eval_files"):  # -1 would slice off the last file
            if getattr(data_args, flag) is not None and getattr(data_args, flag) < 1:
                raise ValueError(f"--{flag} must be >= 1, not {getattr(data_args, flag)}")
        if not 0 <= model_args.distill_weight <= 1:
            raise ValueError(f"--distill_weight must be between 0 and 1, not {model_args.distill_weight}")
        for flag in ("dropout", "attention_dropout"):
            p = getattr(model_args, flag)
            if p is not None and not 0 <= p < 1:
                raise ValueError(f"--{flag} must be in [0, 1), not {p}")
        if not 0 <= data_args.legato <= 1:
            raise ValueError(f"--legato must be between 0 and 1, not {data_args.legato}")
        if data_args.legato and not data_args.random_offsets:
            raise ValueError("--legato needs --random_offsets (its copy is drawn from whole files)")
        if data_args.score_copies and not data_args.random_offsets:
            raise ValueError("--score_copies needs --random_offsets (the copies are drawn from whole files)")
        if not 0 <= data_args.hide_markings <= 1:
            raise ValueError(f"--hide_markings must be between 0 and 1, not {data_args.hide_markings}")
        if model_args.markings and not data_args.score_copies:
            raise ValueError("--markings needs --score_copies (only a score copy knows its notes' markings)")
        if model_args.train_markings_only and not (model_args.markings and model_args.model_name_or_path):
            raise ValueError(
                "--train_markings_only needs --markings and --model_name_or_path (a new model's other weights "
                "would stay random)"
            )
        if model_args.add_layers < 0:
            raise ValueError(f"--add_layers must be >= 0, not {model_args.add_layers}")
        if model_args.add_layers and not model_args.model_name_or_path:
            raise ValueError("--add_layers grows a fine-tuned model (a new one takes --num_hidden_layers)")
        if model_args.train_added_layers_only and not model_args.add_layers:
            raise ValueError("--train_added_layers_only needs --add_layers")
        if model_args.train_added_layers_only and model_args.train_markings_only:
            raise ValueError("--train_added_layers_only and --train_markings_only each freeze what the other trains")
        if not 0 <= model_args.label_sigma <= 8:
            raise ValueError(f"--label_sigma must be between 0 and 8 levels, not {model_args.label_sigma}")
    except (ValueError, FileNotFoundError) as err:
        parser.error(str(err))
    d = model_args.dropout
    if d is None and not model_args.model_name_or_path:
        d = NEW_MODEL_DROPOUT
    # d None: the fine-tuned model's own
    dropout = {} if d is None else {"hidden_dropout_prob": d, "attention_probs_dropout_prob": d}
    if model_args.attention_dropout is not None:
        dropout["attention_probs_dropout_prob"] = model_args.attention_dropout
    if model_args.model_name_or_path:
        tokenizer = VelocityBertTokenizer.from_pretrained(model_args.model_name_or_path)
        converted = {}  # config overrides that convert the model: other positions, the marking field
        own_config = VelocityBertConfig.from_pretrained(model_args.model_name_or_path)
        own = own_config.position_embedding_type
        if model_args.position_embedding_type not in (None, own):
            print(f"converting the model from {own} to {model_args.position_embedding_type} positions", file=sys.stderr)
            # A switch converts the model: a learned table is dropped, or a new one starts from
            # scratch; every other weight is kept. Run 10 converted to rotary started 0.18 of
            # validation loss behind and ended 0.03 behind run 10 taken through the same 300 CPU
            # steps (BENCHMARKS.md, "Converting run 10 to rotary positions").
            converted = {"position_embedding_type": model_args.position_embedding_type, **tokenizer.onset_grid}
        if model_args.markings and not tokenizer.markings:
            print("adding the marking field to the model", file=sys.stderr)
            # Its padding row ("no marking") stays zero, so the model plays unmarked input as
            # before; the rest start from the velocity field (MARKING_START_SCALE); every other
            # weight is kept.
            tokenizer = VelocityBertTokenizer(
                miditok_tokenizer=tokenizer.miditok,
                shift_bins_ms=tokenizer.shift_bins_ms,
                sustain_pedal=tokenizer.sustain_pedal,
                markings=True,
            )
            converted["field_vocab_sizes"] = tokenizer.field_vocab_sizes
        own_layers = own_config.num_hidden_layers
        if n := model_args.add_layers:
            print(f"adding {n} block{'s' if n > 1 else ''} to the model's {own_layers}", file=sys.stderr)
            converted["num_hidden_layers"] = own_layers + n
        model = VelocityBertForMaskedVelocity.from_pretrained(model_args.model_name_or_path, **dropout, **converted)
        for layer in model.base_model.layers[own_layers:]:
            layer.start_as_identity()
        if "field_vocab_sizes" in converted:
            intercept, slope = MARKING_TO_PLAYED
            played = tokenizer.velocity_to_level(np.rint(intercept + slope * tokenizer.velocities))
            model.get_input_embeddings().start_field_as(
                MARKING, VELOCITY, tokenizer.velocity_token(played), MARKING_START_SCALE
            )
    else:
        tokenizer = VelocityBertTokenizer(sustain_pedal=model_args.sustain_pedal, markings=model_args.markings)
        config = VelocityBertConfig(
            field_vocab_sizes=tokenizer.field_vocab_sizes,
            num_velocity_levels=tokenizer.num_velocities,
            hidden_size=model_args.hidden_size,
            num_hidden_layers=model_args.num_hidden_layers,
            num_attention_heads=model_args.num_attention_heads,
            intermediate_size=model_args.intermediate_size,
            **dropout,
            position_embedding_type=model_args.position_embedding_type or VelocityBertConfig.position_embedding_type,
            **tokenizer.onset_grid,
            max_position_embeddings=model_args.window_length,
            window_length=model_args.window_length,
            window_overlap=model_args.window_length // 2,
        )
        model = VelocityBertForMaskedVelocity(config)
    if model_args.train_markings_only:
        model.requires_grad_(False)
        model.get_input_embeddings().fields[MARKING].requires_grad_(True)
    if model_args.train_added_layers_only:
        model.requires_grad_(False)
        model.base_model.layers[-model_args.add_layers :].requires_grad_(True)
    try:
        teachers = load_teachers(model_args.distill_from, model.config, tokenizer)
    except ValueError as err:
        parser.error(str(err))
    config = model.config

    with training_args.main_process_first(desc="tokenizing"):
        try:
            tokenized = tokenized_splits(data_args, config, tokenizer)
        except ValueError as err:  # a corpus of unreadable files: one line, and no run folder
            parser.error(str(err))
        splits = {k: ds.remove_columns(["path", "start"]) for k, ds in tokenized.items()}
        eval_ds = fixed_eval_masking(splits["validation"], config, data_args.eval_seed).remove_columns("levels")
        if model_args.train_markings_only:  # the only windows that reach the field
            marked = splits["train:score_copies"].filter(
                lambda row: bool(np.any(np.asarray(row["input_ids"])[:, MARKING] != PAD_ID)), desc="marked copies"
            )
            if not len(marked):
                parser.error("--train_markings_only: none of the score copies has markings")
            noun = "copy" if len(marked) == 1 else "copies"
            print(f"training the marking field alone, on {len(marked)} marked score {noun}", file=sys.stderr)
            splits["train:score_copies"] = marked
    if training_args.should_save:  # the main process only, once the arguments are known to work
        save_run_arguments(training_args.output_dir, model_args, data_args, mask_args, training_args)

    if data_args.random_offsets:  # whole files, cut anew at every draw
        variants = [ds for k, ds in splits.items() if k.startswith("train@")]
        train_ds = RandomWindows(
            splits["train"],
            tokenizer,
            config.window_length,
            train_window_overlap(data_args, config),
            variants,
            legato=splits.get("train:legato"),
            legato_p=data_args.legato,
        )
    else:
        train_ds = WindowArrays(splits["train"])
    # The constant baseline every run must beat: the train split's median level.
    baseline = int(np.median(train_ds.levels))
    if "train:score_copies" in splits:  # other notes than the performances': windows of their own
        copies = RandomWindows(
            splits["train:score_copies"], tokenizer, config.window_length, train_window_overlap(data_args, config)
        )
        train_ds = copies if model_args.train_markings_only else ConcatDataset([train_ds, copies])
    mix = MaskingMix(
        random=mask_args.mask_random, span=mask_args.mask_span, ratio=mask_args.mask_ratio, all=mask_args.mask_all
    )
    augment = []
    if data_args.pitch_shift:
        augment.append(Transpose(data_args.pitch_shift, tokenizer.pitch_token_range))
    if data_args.velocity_shift or data_args.velocity_stretch:
        levels = (config.velocity_token_offset, config.velocity_token_offset + config.num_velocity_levels - 1)
        augment.append(
            Loudness(
                data_args.velocity_shift, data_args.velocity_stretch, levels, min_visible=data_args.velocity_min_visible
            )
        )
    if data_args.strike_together:
        augment.append(StrikeTogether(tokenizer.shift_ids_within(20), p=data_args.strike_together))
    if tokenizer.markings and data_args.hide_markings and not model_args.train_markings_only:
        augment.append(HideMarkings(data_args.hide_markings))
    collator = MaskingCollator(
        mix,
        config.velocity_token_offset,
        config.num_velocity_levels,
        seed=training_args.seed,
        augment=Compose(augment) if augment else None,
    )
    training_args.remove_unused_columns = False
    # We push once at the end, with hub_upload.py's layout and card, not Trainer's checkpoints.
    push_to_hub, training_args.push_to_hub = training_args.push_to_hub, False
    trainer = SoftTargetTrainer(
        teachers=teachers,
        distill_weight=model_args.distill_weight,
        label_sigma=model_args.label_sigma,
        model=model,
        args=training_args,
        train_dataset=train_ds,
        eval_dataset=eval_ds,
        data_collator=collator,
        processing_class=tokenizer,
        preprocess_logits_for_metrics=lambda logits, labels: logits.argmax(-1),
        compute_metrics=lambda p: compute_metrics(p, baseline),
        callbacks=callbacks,
    )
    trained = trainer.train(resume_from_checkpoint=training_args.resume_from_checkpoint)
    trainer.save_metrics("train", trained.metrics)  # train_runtime etc., for the shipped summary
    if trainer.is_world_process_zero():
        save_model_folder(trainer.model, tokenizer, training_args.output_dir)
    metrics = trainer.evaluate()
    trainer.log_metrics("eval", metrics)
    trainer.save_metrics("eval", metrics)
    if push_to_hub and trainer.is_world_process_zero():
        # The same repo layout and card as hub_upload.py (Trainer's own push would miss the
        # pipeline code and the card's model-index).
        from hub_upload import upload
        from velocity_bert.model_card import build_repo_folder

        repo_id = training_args.hub_model_id or Path(training_args.output_dir).name
        folder = build_repo_folder(training_args.output_dir, Path(training_args.output_dir) / "hub_repo", repo_id)
        print(upload(folder, repo_id, training_args.hub_token, training_args.hub_private_repo or False))


if __name__ == "__main__":
    main()

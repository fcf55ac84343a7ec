"""Build train.py's window caches for the usual recipes before side_by_side.sh starts its runs.

Runs side by side would otherwise each tokenize the same files into the same cache files at once.
Through train.py's own function and defaults (cache_dir, num_proc, 30 validation files), so the
cache keys match what the runs ask for: fixed train windows, whole train files (--random_offsets),
and --tempo_stretch 0.1's copies. A recipe outside these tokenizes in its own run (seconds).
"""

import train
from velocity_bert import DEFAULT_MODEL, VelocityBertConfig, VelocityBertTokenizer

tokenizer, config = (
    VelocityBertTokenizer.from_pretrained(DEFAULT_MODEL),
    VelocityBertConfig.from_pretrained(DEFAULT_MODEL),
)
for random_offsets, tempo_stretch in ((False, 0.0), (True, 0.0), (True, 0.1)):
    data_args = train.DataArguments(
        data_dir="../shared/data/asap", max_eval_files=30, random_offsets=random_offsets, tempo_stretch=tempo_stretch
    )
    splits = train.tokenized_splits(data_args, config, tokenizer)
    print(random_offsets, tempo_stretch, {k: len(ds) for k, ds in splits.items()})

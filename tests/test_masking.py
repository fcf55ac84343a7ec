import numpy as np
import pytest

from velocity_bert.masking import MaskingCollator, MaskingMix, choose_hidden
from velocity_bert.tokenization_velocity_bert import FIELDS, MASK_ID

V = FIELDS.index("velocity")


def features(n_rows=4, n=200, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n_rows):
        levels = rng.integers(0, 32, n - 10 * i)
        ids = rng.integers(4, 20, (len(levels), len(FIELDS)))
        ids[:, V] = levels + 4
        rows.append({"input_ids": ids, "levels": levels})
    return rows


def test_random_mode_rates():
    rng = np.random.default_rng(0)
    mix = MaskingMix(random=1, span=0, ratio=0)
    shares = [choose_hidden(1000, mix, rng)[0].mean() for _ in range(50)]
    assert abs(np.mean(shares) - 0.15) < 0.01


def test_span_mode_is_contiguous():
    rng = np.random.default_rng(0)
    hidden, mode = choose_hidden(1000, MaskingMix(random=0, span=1, ratio=0), rng)
    assert mode == "span" and 0.15 <= hidden.mean() < 0.3
    runs = np.flatnonzero(np.diff(hidden.astype(int)) == 1)
    assert len(runs) < 40  # a few runs, not scattered notes


def test_ratio_mode_reaches_everything():
    rng = np.random.default_rng(0)
    shares = [choose_hidden(500, MaskingMix(random=0, span=0, ratio=1), rng)[0].mean() for _ in range(200)]
    assert min(shares) < 0.1 and max(shares) > 0.95


def test_all_mode_hides_every_note_and_mixes_by_share():
    rng = np.random.default_rng(0)
    hidden, mode = choose_hidden(300, MaskingMix(random=0, span=0, ratio=0, all=1), rng)
    assert mode == "all" and hidden.all()
    modes = [choose_hidden(50, MaskingMix(random=0.5, span=0, ratio=0, all=0.5), rng)[1] for _ in range(400)]
    assert 0.4 < modes.count("all") / len(modes) < 0.6 and set(modes) == {"all", "random"}
    rows = features()
    out = MaskingCollator(MaskingMix(random=0, span=0, ratio=0, all=1), seed=0)(rows)
    real = out["attention_mask"].bool()
    assert (out["input_ids"][..., V][real] == MASK_ID).all() and (out["labels"][real] >= 0).all()


def test_collator_pads_masks_and_labels():
    rows = features()
    out = MaskingCollator(MaskingMix(random=1, span=0, ratio=0), seed=0)(rows)
    assert out["input_ids"].shape == (4, 200, len(FIELDS))
    assert out["attention_mask"].sum(1).tolist() == [200, 190, 180, 170]
    labels = out["labels"].numpy()
    ids = out["input_ids"].numpy()
    for i, row in enumerate(rows):
        hidden = labels[i] != -100
        n = len(row["levels"])
        assert not hidden[n:].any() and hidden.any()
        np.testing.assert_array_equal(labels[i][hidden], row["levels"][hidden[:n]])
        # 80/10/10: most hidden velocities become MASK, visible ones are untouched
        assert (ids[i, :n][hidden[:n], V] == MASK_ID).mean() > 0.6
        np.testing.assert_array_equal(ids[i, :n][~hidden[:n]], row["input_ids"][~hidden[:n]])
    assert (
        ids[..., :V]
        == np.pad(np.stack([np.pad(r["input_ids"], ((0, 200 - len(r["input_ids"])), (0, 0))) for r in rows]), 0)[
            ..., :V
        ]
    ).all()


def test_fixed_labels_are_kept():
    rows = features(2)
    for r in rows:
        r["labels"] = np.where(np.arange(len(r["levels"])) % 2 == 0, r["levels"], -100)
    out = MaskingCollator(seed=0)(rows)
    assert (out["labels"][0, :200:2] >= 0).all() and (out["labels"][0, 1::2] == -100).all()


@pytest.mark.parametrize("seed", [0, 1])
def test_seeded_collator_is_reproducible(seed):
    a = MaskingCollator(seed=seed)(features())
    b = MaskingCollator(seed=seed)(features())
    assert all((a[k] == b[k]).all() for k in a)


@pytest.mark.parametrize("seed", [0, None])
def test_dataloader_workers_hide_different_notes(seed):
    """Each worker holds a copy of the collator: the same window must not get the same mask in
    every worker's first batch."""
    import torch

    row = features(1)[0]
    loader = torch.utils.data.DataLoader(
        [row] * 4, batch_size=1, num_workers=2, collate_fn=MaskingCollator(seed=seed), multiprocessing_context="fork"
    )
    first, second = list(loader)[:2]  # batch 0 from worker 0, batch 1 from worker 1
    assert not torch.equal(first["labels"], second["labels"])

"""The serving index without a server: partial-sort top-k, fusion, basket completion, filters, cache round trip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from kgrec.kg.errors import UnknownEntityError
from kgrec.serving.index import Neighbours, ServingIndex, csr, z_score


def small_index(n: int = 6) -> ServingIndex:
    """Six products on a line (vector i = [i]), two users; P0 and P5 are bought together."""
    item = np.arange(n, dtype=np.float32).reshape(-1, 1)
    hist_ptr, hist_idx = csr([[0], [1, 2]])
    nb_ptr, nb_idx = csr([[5], [], [], [], [], [0]])
    cats = ["A", "A > B", "C"]
    cat_ptr, cat_idx = csr([[0, 1], [0, 1], [0], [2], [2], [0]])
    dir_ptr, dir_idx = csr([[1], [1], [0], [2], [2], [0]])
    return ServingIndex(
        model="test", checkpoint="x", product_ids=[f"P{i}" for i in range(n)], titles=[f"T{i}" for i in range(n)],
        prices=np.array([1.0, 2.0, 3.0, np.nan, 5.0, 6.0]), in_stock=np.array([True] * 5 + [False]),
        item_emb=item, known_item=np.ones(n, bool), text=np.zeros((n, 0), np.float32), user_ids=["U0", "U1"],
        user_emb=np.ones((2, 1), np.float32), hist_indptr=hist_ptr, hist_indices=hist_idx, basis=np.diff(hist_ptr),
        ease=None, trend_term=np.zeros(n, np.float32), gnn_weight=1.0, fuse_weight=0.0, fused=False,
        neighbours=Neighbours(nb_ptr, nb_idx, np.array([0.9, 0.8], np.float32), np.array([7.0, 7.0], np.float32),
                              np.array([12, 12])),
        category_names=cats, cat_indptr=cat_ptr, cat_indices=cat_idx, direct_indptr=dir_ptr, direct_indices=dir_idx,
        newest_order=0, order_count=0, fingerprint={"users": 2},
    )  # fmt: skip


def test_top_is_a_partial_sort_with_masks_and_row_ties() -> None:
    rng = np.random.default_rng(0)
    scores = rng.normal(size=1000).astype(np.float32)
    top = ServingIndex.top(scores, 20, exclude=[int(np.argmax(scores))])
    expected = [i for i in np.argsort(-scores, kind="stable") if i != np.argmax(scores)][:20]
    assert [r for r, _ in top] == expected
    assert [r for r, _ in ServingIndex.top(np.zeros(4, np.float32), 3)] == [0, 1, 2]  # ties: lower row first
    allowed = np.array([False, True, False, True])
    assert [r for r, _ in ServingIndex.top(np.arange(4.0), 5, allowed=allowed)] == [3, 1]


def test_user_scores_mask_history_and_fuse() -> None:
    index = small_index()
    u1 = index.user("U1")
    assert [r for r, _ in index.top(index.user_scores(u1), 3, index.history(u1))] == [5, 4, 3]
    fused = index.evolve(fused=True, trend_term=np.array([0, 0, 0, 0, 0, -10], np.float32))
    assert [r for r, _ in fused.top(fused.user_scores(u1), 2, fused.history(u1))] == [4, 3]
    assert z_score(np.array([1.0, 2.0, 3.0])).tolist() == pytest.approx([-1.0, 0.0, 1.0])
    with pytest.raises(UnknownEntityError, match="basket"):
        index.user("nobody")


def test_completion_uses_neighbour_lists_and_filters() -> None:
    index = small_index()
    found = index.complete([0], 2)
    assert found[0][0] == 5 and found[0][3] == 0  # P5: bought with P0 (and the model's best)
    in_stock = index.complete([0], 3, index.in_stock)
    assert 5 not in [r for r, *_ in in_stock]
    assert index.in_category("A").tolist() == [True, True, True, False, False, True]  # A and A > B
    assert index.in_category("A > B").tolist() == [True, True, False, False, False, False]


def test_cache_round_trip(tmp_path: Path) -> None:
    index = small_index()
    path = index.save(tmp_path / "x.serving.npz")
    loaded = ServingIndex.load(path)
    assert loaded is not None and loaded.product_ids == index.product_ids and loaded.titles == index.titles
    assert np.array_equal(loaded.item_emb, index.item_emb) and loaded.ease is None
    assert np.array_equal(loaded.neighbours.indices, index.neighbours.indices) and loaded.fingerprint == {"users": 2}
    assert loaded.in_stock.dtype == bool and np.isnan(loaded.prices[3])
    assert ServingIndex.load(tmp_path / "missing.npz") is None


def test_new_products_take_their_neighbours_embedding() -> None:
    index = small_index()
    derived = index.derive_embedding(None, [2], [4])  # category C members (3, 4) and partner 4
    assert derived.tolist() == pytest.approx([(3.5 + 4.0) / 2])

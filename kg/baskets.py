r"""Basket matrices: the 0/1 baskets×products matrix :math:`X` and its co-occurrence :math:`X^\top X`.

The one home of this math: the graph's BOUGHT_WITH statistics (:mod:`kgrec.kg.copurchase`), the
training co-purchase edges, the item-item baselines and the basket task all build on it
(:mod:`kgrec.gnn.graph_ops` re-exports it for the models). scipy only, no torch.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp


def binary_matrix(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    """0/1 float32 CSR matrix with a one at every ``(rows[k], cols[k])`` (repeats count once)."""
    x = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=shape)
    x.sum_duplicates()
    x.data[:] = 1.0
    return x


def basket_matrix(baskets: Sequence[Sequence[int]], num_products: int) -> sp.csr_matrix:
    """Binarised ``[len(baskets), num_products]`` baskets×products matrix."""
    lengths = np.fromiter((len(b) for b in baskets), dtype=np.int64, count=len(baskets))
    rows = np.repeat(np.arange(len(baskets)), lengths)
    cols = np.fromiter((i for b in baskets for i in b), dtype=np.int64, count=int(lengths.sum()))
    return binary_matrix(rows, cols, (len(baskets), num_products))


def cooccurrence(x: sp.csr_matrix) -> tuple[sp.csr_matrix, np.ndarray]:
    r"""``(together, counts)``: :math:`X^\top X` with a zero diagonal (baskets holding both) and the
    diagonal itself (baskets holding each product)."""
    together = (x.T @ x).tocsr()
    counts = np.asarray(together.diagonal()).copy()
    together.setdiag(0)
    together.eliminate_zeros()
    return together, counts


def top_k_per_row(matrix: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """The ``k`` largest entries of each row (ties: lower column first); the rest dropped."""
    coo = matrix.tocoo()
    order = np.lexsort((coo.col, -coo.data, coo.row))
    row, col, val = coo.row[order], coo.col[order], coo.data[order]
    starts = np.searchsorted(row, np.arange(matrix.shape[0]))
    keep = np.arange(len(row)) - starts[row] < k
    return sp.csr_matrix((val[keep], (row[keep], col[keep])), shape=matrix.shape)

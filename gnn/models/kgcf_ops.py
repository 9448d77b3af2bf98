"""Sparse building blocks of :mod:`gnn.models.kgcf`: normalised adjacency, symmetric SpMM, InfoNCE."""

from __future__ import annotations

import warnings
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor


def sym_norm_adjacency(row: Tensor, col: Tensor, weight: Tensor, num_nodes: int) -> Tensor:
    """:math:`D^{-1/2} A D^{-1/2}` of the symmetrised weighted graph (duplicates keep the max weight)."""
    row, col = torch.cat([row, col]).long(), torch.cat([col, row]).long()
    weight = torch.cat([weight, weight]).float()
    key, inv = torch.unique(row * num_nodes + col, return_inverse=True)
    w = torch.zeros(key.numel()).scatter_reduce(0, inv, weight, "amax", include_self=False)
    row, col = key // num_nodes, key % num_nodes
    deg = torch.zeros(num_nodes).index_add_(0, row, w)
    dinv = deg.pow(-0.5)
    dinv[torch.isinf(dinv)] = 0.0
    with warnings.catch_warnings():  # "sparse CSR support is in beta"
        warnings.simplefilter("ignore", UserWarning)
        adj = torch.sparse_coo_tensor(torch.stack([row, col]), dinv[row] * w * dinv[col], (num_nodes, num_nodes))
        return adj.coalesce().to_sparse_csr()


class SymSpMM(torch.autograd.Function):
    """``adj @ x`` for a SYMMETRIC sparse ``adj``: the backward is ``adj @ grad`` (no CSR transpose)."""

    @staticmethod
    def forward(ctx: Any, adj: Tensor, x: Tensor) -> Tensor:
        ctx.adj = adj
        return torch.sparse.mm(adj, x)

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[None, Tensor]:
        return None, torch.sparse.mm(ctx.adj, grad)


def subsample(nodes: Tensor, n: int) -> Tensor:
    """At most ``n`` of ``nodes``, drawn at random."""
    return nodes if nodes.numel() <= n else nodes[torch.randperm(nodes.numel(), device=nodes.device)[:n]]


def info_nce(a: Tensor, b: Tensor, tau: float) -> Tensor:
    """InfoNCE between two views (row k of ``a`` matches row k of ``b``; the other rows are negatives)."""
    a, b = F.normalize(a, dim=1), F.normalize(b, dim=1)
    logits = a @ b.t() / tau
    return F.cross_entropy(logits, torch.arange(a.size(0), device=a.device))

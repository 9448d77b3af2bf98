"""Sparse building blocks of :mod:`gnn.models.kgcf`: normalised adjacency, symmetric SpMM, InfoNCE."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from kgrec.gnn.graph_ops import normalized_adjacency


def sym_norm_adjacency(row: Tensor, col: Tensor, weight: Tensor, num_nodes: int) -> Tensor:
    """:math:`D^{-1/2} A D^{-1/2}` of the symmetrised weighted graph (duplicates keep the max weight)."""
    edge_index = torch.stack([torch.cat([row, col]), torch.cat([col, row])]).long()
    return normalized_adjacency(edge_index, num_nodes, torch.cat([weight, weight]).float(), reduce="max")


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

"""Full-ranking evaluation of any :class:`~kgrec.gnn.contract.RecModel` on a :class:`LinkSplit`.

Protocol (``docs/evaluation.md``): every user with at least one target in the evaluated split
is scored against ALL items with ``model.score_all(users)`` in batches; the user's training
positives are masked to ``-inf`` (for ``test`` also the validation positives), then top-K
metrics of :mod:`gnn.metrics` are accumulated. Use ``evaluate(model, split, "valid")`` for model
selection / early stopping and ``"test"`` only once, for the chosen model.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from kgrec.gnn.contract import Interactions, LinkSplit, RecModel
from kgrec.gnn.metrics import DEFAULT_KS, MetricsError, RankingAccumulator


@dataclass(frozen=True)
class RankingReport:
    """The metrics of one model on one split: ``metrics['recall@20']`` etc."""

    metrics: dict[str, float]
    num_users: int
    eval_s: float
    split: str = "test"

    def __getitem__(self, name: str) -> float:
        return self.metrics[name]

    def summary(self, names: Sequence[str] = ("recall@20", "ndcg@20", "mrr")) -> str:
        """A one-line human summary, e.g. for training logs."""
        parts = [f"{n}={self.metrics[n]:.4f}" for n in names if n in self.metrics]
        return f"[{self.split}] " + " ".join(parts) + f" ({self.num_users} users, {self.eval_s:.1f}s)"


@dataclass(frozen=True)
class ComparisonTable:
    """Side-by-side reports of several models on the same split."""

    reports: dict[str, RankingReport] = field(default_factory=dict)

    def rows(self, metrics: Sequence[str] | None = None) -> list[tuple[str, str, float]]:
        """``(model, metric, value)`` rows; ``eval_s`` included."""
        out: list[tuple[str, str, float]] = []
        for model, report in self.reports.items():
            names = metrics or list(report.metrics)
            out += [(model, n, report.metrics[n]) for n in names if n in report.metrics]
            out.append((model, "eval_s", report.eval_s))
        return out

    def to_markdown(self, metrics: Sequence[str] = ("recall@20", "ndcg@20", "precision@20", "hit@20", "mrr")) -> str:
        head = "| model | " + " | ".join(metrics) + " | eval_s |"
        sep = "|---" * (len(metrics) + 2) + "|"
        lines = [head, sep]
        for model, r in self.reports.items():
            vals = " | ".join(f"{r.metrics.get(m, float('nan')):.4f}" for m in metrics)
            lines.append(f"| {model} | {vals} | {r.eval_s:.1f} |")
        return "\n".join(lines)


class ExclusionIndex:
    """The items to mask per user, as CSR (``rowptr``, ``col``) over the user id space."""

    def __init__(self, num_users: int, parts: Sequence[Interactions]) -> None:
        if parts:
            ei = torch.cat([p.edge_index for p in parts], dim=1).long().cpu()
        else:
            ei = torch.empty(2, 0, dtype=torch.long)
        order = torch.argsort(ei[0], stable=True)
        self.col = ei[1, order]
        counts = torch.bincount(ei[0], minlength=num_users)
        self.rowptr = torch.zeros(num_users + 1, dtype=torch.long)
        self.rowptr[1:] = torch.cumsum(counts, 0)

    def rows(self, users: Tensor) -> tuple[Tensor, Tensor]:
        """COO ``(row within users, item)`` of every pair to exclude for these users."""
        return csr_gather(self.rowptr, self.col, users)


def csr_gather(rowptr: Tensor, col: Tensor, users: Tensor) -> tuple[Tensor, Tensor]:
    """The CSR rows ``users`` as COO ``(position in users, column)``."""
    start, end = rowptr[users], rowptr[users + 1]
    counts = end - start
    local = torch.repeat_interleave(torch.arange(users.numel()), counts)
    offsets = torch.arange(int(counts.sum())) - torch.repeat_interleave(torch.cumsum(counts, 0) - counts, counts)
    return local, col[torch.repeat_interleave(start, counts) + offsets]


@torch.no_grad()
def evaluate_ranking(
    model: RecModel,
    targets: Interactions,
    exclude: Sequence[Interactions],
    ks: Sequence[int] = DEFAULT_KS,
    batch_size: int = 1024,
    split: str = "test",
    device: torch.device | str | None = None,
) -> RankingReport:
    """Rank all items for every user in ``targets``, masking the pairs in ``exclude``.

    A cut-off above the catalogue is lowered to its size (a 24-product shop reports ``recall@24``, not an error)."""
    if targets.num_items <= 0:
        raise MetricsError("the split has no items; check the export")
    ks = sorted({min(k, targets.num_items) for k in ks})
    start_time = time.perf_counter()
    was_training = model.training
    model.eval()
    acc = RankingAccumulator(targets.num_items, ks)
    mask = ExclusionIndex(targets.num_users, exclude)
    tgt = ExclusionIndex(targets.num_users, [targets])
    users = targets.users().cpu()
    dev = torch.device(device) if device is not None else _model_device(model)
    try:
        for chunk in users.split(batch_size):
            scores = model.score_all(chunk.to(dev)).float()
            if scores.shape != (chunk.numel(), targets.num_items):
                raise MetricsError(
                    f"{type(model).__name__}.score_all returned {tuple(scores.shape)}, expected "
                    f"({chunk.numel()}, {targets.num_items})"
                )
            m_rows, m_items = mask.rows(chunk)
            scores[m_rows.to(scores.device), m_items.to(scores.device)] = float("-inf")
            t_rows, t_items = tgt.rows(chunk)
            acc.update(scores, t_rows.to(scores.device), t_items.to(scores.device))
    finally:
        model.train(was_training)
    return RankingReport(acc.compute(), acc.num_users, time.perf_counter() - start_time, split)


def evaluate(
    model: RecModel,
    split: LinkSplit,
    on: str = "valid",
    ks: Sequence[int] = DEFAULT_KS,
    batch_size: int = 1024,
    device: torch.device | str | None = None,
) -> RankingReport:
    """Evaluate on ``valid`` (train masked) or ``test`` (train and valid masked)."""
    if on == "valid":
        return evaluate_ranking(model, split.valid, [split.train], ks, batch_size, "valid", device)
    if on == "test":
        return evaluate_ranking(model, split.test, [split.train, split.valid], ks, batch_size, "test", device)
    raise MetricsError(f"unknown split {on!r}; use 'valid' or 'test'")


def evaluate_models(
    models: dict[str, RecModel],
    split: LinkSplit,
    on: str = "test",
    ks: Sequence[int] = DEFAULT_KS,
    batch_size: int = 1024,
) -> ComparisonTable:
    """Evaluate several (already fitted/trained) models on the same split."""
    return ComparisonTable({name: evaluate(m, split, on, ks, batch_size) for name, m in models.items()})


def _model_device(model: RecModel) -> torch.device:
    for tensor in (*model.parameters(), *model.buffers()):
        return tensor.device
    return torch.device("cpu")

"""Shared by the Online Retail ranking benchmarks: refit-after-selection runs, cold subsets, paired bootstrap.

Protocol (docs/evaluation.md): every configuration is scored on the validation split of the
training data; the chosen one is refitted on train+valid (:func:`kgrec.gnn.data.refit_data`;
trainable models for the best validation epoch count) and tested once. ``test-cold`` rows
restrict the test targets to products never bought in train+valid (full ranking, and
``cold_only_*`` ranking only those cold products); per-user test metrics feed a paired
bootstrap of the difference between two models.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
from torch import Tensor

from bench.common import Result
from kgrec.gnn.contract import Interactions, LinkSplit, RecModel
from kgrec.gnn.data import PreparedData
from kgrec.gnn.evaluate import ExclusionIndex, RankingReport, evaluate, evaluate_ranking
from kgrec.gnn.registry import model_for_data
from kgrec.gnn.train import TrainConfig, set_seed, train_model

REPORTED = ("recall@20", "ndcg@20", "precision@20", "hit@20", "mrr")
K = 20


def rows(model: str, report: RankingReport, split: str | None = None, prefix: str = "") -> list[Result]:
    """The reported metrics of ``report`` (and its evaluation seconds) as result rows."""
    split = split or report.split
    out = [Result(model, split, prefix + m, report[m]) for m in REPORTED if m in report.metrics]
    return [*out, Result(model, split, prefix + "users", float(report.num_users))]


class _OnlyItems(RecModel):
    """``model`` ranking only the items in ``keep`` (the others scored ``-inf``), ties broken at random.

    A model that cannot score cold products gives them all the same score; ``torch.topk`` would
    then order the tie by memory layout, which here favoured the test targets (every such model
    scored cold-only Recall@20 0.977). Scores are replaced by their rank with ties ordered by one
    seeded random permutation of the items: a tie ranks like a coin toss, never in the model's favour.
    """

    trainable = False

    def __init__(self, model: RecModel, keep: Tensor, seed: int = 0) -> None:
        super().__init__()
        self.inner, self.keep = model, keep
        self.tie_order = torch.randperm(keep.numel(), generator=torch.Generator().manual_seed(seed))

    def score(self, users: Tensor, items: Tensor) -> Tensor:  # pragma: no cover - ranking only
        return self.inner.score(users, items)

    def score_all(self, users: Tensor) -> Tensor:
        scores = self.inner.score_all(users).float().cpu()
        order = self.tie_order
        # stable sort of the randomly permuted columns: equal scores keep the random order
        by_score = order[torch.argsort(scores[:, order], dim=1, stable=True)]
        ranks = torch.empty_like(scores)
        ranks.scatter_(1, by_score, torch.arange(scores.size(1), dtype=scores.dtype).expand_as(scores).contiguous())
        return ranks.masked_fill(~self.keep, float("-inf")).to(users.device)


def cold_items(split: LinkSplit) -> Tensor:
    """Bool per product: never bought in the (refit) training interactions."""
    cold = torch.ones(split.train.num_items, dtype=torch.bool)
    cold[split.train.edge_index[1]] = False
    return cold


def cold_rows(model: RecModel, name: str, split: LinkSplit) -> list[Result]:
    """``test-cold`` rows: test targets on cold products, ranked among all products and among cold ones only."""
    cold = cold_items(split)
    ei = split.test.edge_index
    targets = Interactions(split.test.num_users, split.test.num_items, ei[:, cold[ei[1]]])
    if targets.num_edges == 0:
        return []
    full = evaluate_ranking(model, targets, [split.train, split.valid], ks=(K,), split="test-cold")
    only = evaluate_ranking(_OnlyItems(model, cold), targets, [split.train, split.valid], ks=(K,), split="test-cold")
    return (
        [Result(name, "test-cold", m, full[m]) for m in (f"recall@{K}", f"ndcg@{K}")]
        + rows(name, only, prefix="cold_only_")[:2]
        + [Result(name, "test-cold", "users", float(full.num_users))]
    )


@torch.no_grad()
def per_user(model: RecModel, split: LinkSplit) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(users, recall@20, ndcg@20) per test user, with the same masking as ``evaluate(.., "test")``."""
    model.eval()
    mask, tgt = (
        ExclusionIndex(split.test.num_users, [split.train, split.valid]),
        ExclusionIndex(split.test.num_users, [split.test]),
    )
    users = split.test.users()
    disc = 1.0 / torch.log2(torch.arange(2, K + 2).float())
    rec, ndcg = [], []
    for chunk in users.split(1024):
        s = model.score_all(chunk).float()
        r, c = mask.rows(chunk)
        s[r, c] = float("-inf")
        hit = torch.zeros_like(s, dtype=torch.bool)
        tr, tc = tgt.rows(chunk)
        hit[tr, tc] = True
        h = hit.gather(1, s.topk(K, dim=1).indices).float()
        n = hit.sum(1).float()
        rec.append(h.sum(1) / n)
        ndcg.append((h * disc).sum(1) / torch.cumsum(disc, 0)[n.clamp(max=K).long() - 1])
    return users.numpy(), torch.cat(rec).numpy(), torch.cat(ndcg).numpy()


def bootstrap_rows(
    name: str, ours: tuple[np.ndarray, ...], theirs: tuple[np.ndarray, ...], n: int = 10_000, seed: int = 0
) -> list[Result]:
    """Paired bootstrap over test users of (ours − theirs): mean and 95% interval per metric."""
    if not np.array_equal(ours[0], theirs[0]):
        raise ValueError("the two models were evaluated on different users")
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, ours[0].size, (n, ours[0].size))
    out = []
    for metric, a, b in ((f"recall@{K}", ours[1], theirs[1]), (f"ndcg@{K}", ours[2], theirs[2])):
        d = a - b
        lo, hi = np.percentile(d[idx].mean(1), [2.5, 97.5])
        out += [
            Result(name, "test", f"delta_{metric}", float(d.mean())),
            Result(name, "test", f"delta_{metric}_lo", float(lo)),
            Result(name, "test", f"delta_{metric}_hi", float(hi)),
            Result(name, "test", f"ratio_{metric}", float(a.mean() / max(b.mean(), 1e-12))),
        ]
    return out


@dataclass
class Tested:
    """A refitted model's test outputs: result rows and per-user metrics (for the bootstrap)."""

    results: list[Result] = field(default_factory=list)
    per_user: dict[str, tuple[np.ndarray, ...]] = field(default_factory=dict)


def test_once(model: RecModel, name: str, refit: PreparedData, out: Tested) -> None:
    """Test ``model`` (refitted) once: test rows, cold rows and per-user metrics into ``out``."""
    report = evaluate(model, refit.split, "test", ks=(K,))
    out.results += [*rows(name, report), Result(name, "test", "eval_s", report.eval_s)]
    out.results += cold_rows(model, name, refit.split)
    out.per_user[name] = per_user(model, refit.split)


def train_kgcf(
    prepared: PreparedData,
    refit: PreparedData,
    config: Any,
    schedule: TrainConfig,
    views: dict[str, dict[str, float]],
    label: str,
    out: Tested,
    pick: Callable[[dict[str, RankingReport]], dict[str, str]] | None = None,
) -> dict[str, RankingReport]:
    """KGCF trained on train (early stopping on its GNN part), each view scored on valid; refit, test.

    ``views``: name → KGCF config overrides for scoring (fusion weights), each written as a valid
    row. ``pick(valid reports)`` maps the result name to test under → the view chosen on valid
    (default: every view under its own name). Training rows go under ``label``.
    """
    set_seed(schedule.seed)
    model = model_for_data("kgcf", prepared, config)
    hist = train_model(model, prepared.split, schedule)
    valid: dict[str, RankingReport] = {}
    for name, overrides in views.items():
        model.config = replace(config, **overrides)
        valid[name] = evaluate(model, prepared.split, "valid", ks=(K,))
        out.results += rows(name, valid[name])
    out.results += [
        Result(label, "valid", "best_epoch", float(hist.best_epoch)),
        Result(label, "valid", "epochs", float(len(hist.history))),
        Result(label, "valid", "epoch_s", hist.epoch_seconds),
        Result(label, "valid", "epoch_cpu_s", hist.epoch_cpu_seconds),
    ]
    set_seed(schedule.seed)
    final = model_for_data("kgcf", refit, config)
    again = train_model(final, refit.split, replace(schedule, epochs=max(hist.best_epoch, 1), patience=10**6))
    out.results += [Result(label, "test", "epochs", float(len(again.history)))]
    out.results += [Result(label, "test", "epoch_s", again.epoch_seconds)]
    out.results += [Result(label, "test", "epoch_cpu_s", again.epoch_cpu_seconds)]
    for name, view in (pick(valid) if pick else {v: v for v in views}).items():
        final.config = replace(config, **views[view])
        test_once(final, name, refit, out)
    final.config = config
    return valid

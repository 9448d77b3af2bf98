"""Basket completion on UCI Online Retail: hide one item of each later basket, rank all products.

Protocol: invoices cleaned by the ingest reader (``ingest.sources.online_retail.clean_lines``: no
missing customers, cancellations, non-sale invoices, non-product codes, non-positive quantities or
negative prices; repeated lines merged) sorted by time; the last ``test_share`` of invoices is the test period. Each
test basket with at least 2 products known from training hides one of them (seeded) and ranks
every training product given the rest (basket items masked). HitRate@10 and MRR (full ranking,
``gnn.metrics``). The ``copurchase_gcn`` epoch count is chosen on the last ``valid_share`` of the
training period (the model is then refitted on the whole training period for that many epochs).

    .venv/bin/python -m bench.basket_online_retail                            # the reported run
    .venv/bin/python -m bench.basket_online_retail --max-epochs 1 --out /tmp  # smoke run

Models: ``copurchase_gcn`` (bench.models.copurchase_gcn.CoPurchaseGNN: LightGCN over the training
co-purchase graph with MiniLM text features, trained by ``gnn.train.run_training``), ``lift`` (sum of lift(a, j) over basket items a, pairs in >= 2
training baskets), ``confidence`` (sum of confidence a→j), ``text`` (mean cosine of MiniLM
vectors) and ``popularity``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from bench.common import CACHE, RESULTS, SHARED_DATA, Result, run, write_results
from bench.models.copurchase_gcn import CoPurchaseConfig, CoPurchaseCounts, CoPurchaseGNN, train_copurchase
from kgrec.gnn.graph_ops import basket_matrix, cooccurrence
from kgrec.gnn.metrics import RankingAccumulator
from kgrec.gnn.train import TrainConfig, Validation

CSV = SHARED_DATA / "online-retail" / "online_retail.csv.gz"
BasketScorer = Callable[[list[list[int]]], torch.Tensor]


@dataclass(frozen=True)
class BasketSplit:
    """Baskets as lists of product indices; ``titles[i]`` is product ``i``'s description."""

    products: list[str]
    titles: list[str]
    train: list[list[int]]
    test_context: list[list[int]]
    test_target: list[int]


def load_invoices(path: Path = CSV) -> pd.DataFrame:
    """Clean invoice lines via the ingest reader (ingest.sources.online_retail): one row per
    (invoice, product) with the invoice time."""
    from kgrec.ingest.sources.online_retail import clean_lines, read_raw

    lines, _ = clean_lines(read_raw(path.parent))
    return lines.assign(InvoiceDate=pd.to_datetime(lines["InvoiceDate"]))


def split_baskets(df: pd.DataFrame, test_share: float, seed: int) -> BasketSplit:
    """Temporal split by invoice time; test baskets hide one known item (seeded)."""
    times = df.groupby("InvoiceNo")["InvoiceDate"].min().sort_values(kind="stable")
    cut = int(len(times) * (1 - test_share))
    train_ids, test_ids = set(times.index[:cut]), list(times.index[cut:])
    train_df = df[df["InvoiceNo"].isin(train_ids)]
    products = sorted(train_df["StockCode"].unique())
    index = {p: i for i, p in enumerate(products)}
    titles_map = train_df.groupby("StockCode")["Description"].agg(
        lambda s: str(s.dropna().iloc[0]) if s.notna().any() else ""
    )
    grouped = df.groupby("InvoiceNo")["StockCode"].agg(list)
    train = [[index[p] for p in grouped[i]] for i in times.index[:cut]]
    rng = np.random.default_rng(seed)
    contexts, targets = [], []
    for invoice in test_ids:
        known = [index[p] for p in grouped[invoice] if p in index]
        if len(known) < 2:
            continue
        hide = int(rng.integers(len(known)))
        targets.append(known[hide])
        contexts.append(known[:hide] + known[hide + 1 :])
    return BasketSplit(products, [titles_map[p] for p in products], train, contexts, targets)


def pair_scores(train: list[list[int]], n: int, min_orders: int = 2) -> dict[str, np.ndarray]:
    """Dense ``[n, n]`` lift and confidence (a→j) from training baskets, kg.copurchase formulas."""
    together_sp, per = cooccurrence(basket_matrix(train, n))
    together = together_sp.toarray()
    together[together < min_orders] = 0
    per = per.clip(min=1)
    lift = together * len(train) / np.outer(per, per)
    conf = together / per[:, None]
    return {
        "lift": lift.astype(np.float32),
        "confidence": conf.astype(np.float32),
        "popularity": per.astype(np.float32),
    }


def text_vectors(titles: list[str]) -> np.ndarray:
    """MiniLM vectors of cleaned titles (kg.embeddings), cached under .kgrec/bench-cache."""
    from kgrec.kg.embeddings import TextEncoder, clean_text, text_hash

    texts = [clean_text(t) or "product" for t in titles]
    path = CACHE / f"online-retail-text-{text_hash(chr(10).join(texts))}.npy"
    if path.exists():
        return np.load(path)
    vectors = TextEncoder(device="cpu").encode(texts)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, vectors)
    return vectors


def evaluate(
    score_fn: BasketScorer, contexts: list[list[int]], targets: list[int], n: int, batch: int = 512
) -> dict[str, float]:
    """HitRate@10 and full-ranking MRR; basket items are masked before ranking."""
    acc = RankingAccumulator(n, ks=(10,))
    for start in range(0, len(contexts), batch):
        ctx, tgt = contexts[start : start + batch], targets[start : start + batch]
        scores = torch.as_tensor(score_fn(ctx), dtype=torch.float32).clone()
        rows = np.repeat(np.arange(len(ctx)), [len(c) for c in ctx])
        scores[torch.from_numpy(rows), torch.tensor([i for c in ctx for i in c])] = float("-inf")
        acc.update(scores, torch.arange(len(ctx)), torch.tensor(tgt))
    out = acc.compute()
    return {"hit@10": out["hit@10"], "mrr": out["mrr"]}


def matrix_scorer(matrix: np.ndarray) -> BasketScorer:
    """Score = sum over basket items a of ``matrix[a, j]``."""
    m = torch.from_numpy(matrix)
    return lambda ctx: torch.stack([m[torch.tensor(c)].sum(0) for c in ctx])


def hide_one(baskets: Sequence[list[int]], seed: int) -> tuple[list[list[int]], list[int]]:
    """Each basket of 2+ items with one seeded random item held out: (contexts, targets)."""
    rng = np.random.default_rng(seed)
    contexts, targets = [], []
    for b in baskets:
        if len(b) >= 2:
            k = int(rng.integers(len(b)))
            targets.append(b[k])
            contexts.append(b[:k] + b[k + 1 :])
    return contexts, targets


def train_gnn(
    split: BasketSplit, text: np.ndarray, config: CoPurchaseConfig, schedule: TrainConfig, valid_share: float
) -> tuple[CoPurchaseGNN, int, float]:
    """Pick the epoch count on a temporal validation slice (MRR), then refit on all training baskets."""
    n = len(split.products)
    cut = int(len(split.train) * (1 - valid_share))
    fit, valid = split.train[:cut], split.train[cut:]
    v_ctx, v_tgt = hide_one(valid, config.seed + 1)
    text_t = torch.from_numpy(text)
    model = CoPurchaseGNN(CoPurchaseCounts.from_baskets(fit, n), text_t, config)
    check = Validation(lambda: evaluate(model.score_baskets, v_ctx, v_tgt, n), "mrr")
    chosen = train_copurchase(model, fit, schedule, check)
    print(f"best epoch {chosen.best_epoch} (valid mrr {chosen.best_valid:.4f}); refitting on all training baskets")
    final = CoPurchaseGNN(CoPurchaseCounts.from_baskets(split.train, n), text_t, config)
    train_copurchase(final, split.train, replace(schedule, epochs=chosen.best_epoch))
    return final, chosen.best_epoch, chosen.epoch_seconds


def main(
    test_share: float = 0.1,
    valid_share: float = 0.1,
    max_epochs: int = 12,
    patience: int = 3,
    dim: int = 64,
    layers: int = 2,
    neighbours: int = 64,
    lr: float = 0.02,
    batch_size: int = 512,
    evidence: bool = True,
    seed: int = 42,
    threads: int = 1,
    out: Path = RESULTS,
) -> None:
    """Run every model and write <out>/basket-online-retail.json."""
    config_record = dict(locals())
    torch.set_num_threads(threads)
    split = split_baskets(load_invoices(), test_share, seed)
    n = len(split.products)
    print(
        f"Online Retail: {n} training products, {len(split.train)} training baskets, "
        f"{len(split.test_target)} test baskets with a hidden known item"
    )
    text = text_vectors(split.titles)
    pairs = pair_scores(split.train, n)
    text_t = torch.from_numpy(text)
    scorers: dict[str, BasketScorer] = {
        "lift": matrix_scorer(pairs["lift"]),
        "confidence": matrix_scorer(pairs["confidence"]),
        "text": lambda ctx: torch.stack([text_t[torch.tensor(c)].mean(0) for c in ctx]) @ text_t.T,
        "popularity": lambda ctx: torch.from_numpy(pairs["popularity"]).expand(len(ctx), -1),
    }
    config = CoPurchaseConfig(dim=dim, layers=layers, neighbours=neighbours, evidence=evidence, seed=seed)
    schedule = TrainConfig(
        epochs=max_epochs,
        batch_size=batch_size,
        lr=lr,
        weight_decay=0.0,
        patience=patience,
        seed=seed,
        device="cpu",
        progress=False,
        verbose=True,
    )
    t0 = time.time()
    model, epochs, epoch_s = train_gnn(split, text, config, schedule, valid_share)
    name = CoPurchaseGNN.name
    scorers = {name: model.score_baskets, **scorers}
    results = [
        Result(name, "train", "epochs", epochs),
        Result(name, "train", "epoch_s", epoch_s),
        Result(name, "train", "train_s", time.time() - t0),
    ]
    for model_name, fn in scorers.items():
        m = evaluate(fn, split.test_context, split.test_target, n)
        results = [Result(model_name, "test", k, v) for k, v in m.items()] + results
    results.sort(key=lambda r: (r.split != "test", list(scorers).index(r.model) if r.model in scorers else 0))
    write_results(
        "basket-online-retail",
        "online-retail",
        results,
        seeds=[seed],
        threads=threads,
        config=config_record,
        out_dir=out,
    )


if __name__ == "__main__":
    run(main)

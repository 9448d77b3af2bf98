r"""Bundles for people: complete a basket and compose a bundle (recommending existing bundles
lives in ``gnn.bundle_recs``).

**Basket completion** ranks candidates :math:`c \notin S` for a basket :math:`S` by fusing
min-max-normalised components, each kept as evidence for the explanation:

.. math:: s(c) = w_m\,\tilde m(c) + w_g\,\tilde g(c) + w_a\,\tilde a(c) + w_t\,\tilde t(c)

* :math:`m(c) = \frac{1}{|S|}\sum_{a \in S} f(a, c)` — a trained model's ``score_products``;
* :math:`g(c) = \frac{1}{|S|}\sum_{a \in S} \mathrm{conf}(a \to c)` over BOUGHT_WITH (lift and
  orders reported as evidence);
* :math:`a(c)` — shared categories (weight 1) and shared attributes (weight ½) with basket items;
* :math:`t(c) = \max_{a \in S}\cos(e_a, e_c)` of the Product.embedding text vectors.

Candidates come from BOUGHT_WITH neighbours, the text vector index and the model's top list;
filters: price ceiling, category (or a sub-category), ``in_stock = false`` excluded.

**Composing** (``compose_bundle``) is greedy: repeatedly add the candidate maximising
:math:`\alpha\,\text{user}(c) + \beta\,\text{compat}(c, B) + \gamma\,[\text{new category}]`,
skipping near-duplicates (text cosine > ``duplicate_cosine`` or the same product-type attribute
as a chosen item) and anything over the remaining budget. ``user(c)`` is the completion score of
``c`` given the user's purchases; ``compat(c, B)`` the completion score given the chosen items.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch
from torch import Tensor

from kgrec.kg.connection import GraphConnection
from kgrec.kg.errors import KgrecError, UnknownEntityError
from kgrec.queries.runner import run


class BundleError(KgrecError):
    """A basket, bundle or composition request cannot be served (empty basket, bad size...)."""


class ProductScorer(Protocol):
    """Anything with a product↔product head (KGCF, HeteroSAGE)."""

    def score_products(self, anchor_items: Tensor, candidate_items: Tensor) -> Tensor: ...


@dataclass(frozen=True)
class FusionWeights:
    """Weights of the normalised components of the completion score."""

    model: float = 1.0
    copurchase: float = 1.0
    attributes: float = 0.3
    text: float = 0.5


@dataclass(frozen=True)
class Evidence:
    """One reason: ``kind`` in {bought_with, category, attribute, text, model}."""

    kind: str
    basket_item: str | None
    value: float
    detail: str

    def sentence(self, titles: Mapping[str, str | None]) -> str:
        other = titles.get(self.basket_item or "") or self.basket_item
        return {
            "bought_with": f"often bought with {other} ({self.detail})",
            "category": f"same category as {other} ({self.detail})",
            "attribute": f"shares {self.detail} with {other}",
            "text": f"similar to {other} (text cosine {self.value:.2f})",
            "model": f"the GNN rates it compatible with your basket ({self.detail})",
        }.get(self.kind, self.detail)


@dataclass(frozen=True)
class Suggestion:
    """A product proposed for a basket, its score, score parts and evidence."""

    product_id: str
    title: str | None
    price: float | None
    score: float
    components: dict[str, float]
    evidence: list[Evidence]
    reasons: list[str]


@dataclass(frozen=True)
class BasketCompletion:
    basket: list[str]
    suggestions: list[Suggestion]


@dataclass(frozen=True)
class ModelLink:
    """A trained product scorer and the product id → index map it was trained with."""

    model: ProductScorer
    product_index: Mapping[str, int]


@dataclass
class _Pool:
    """Candidate products with their raw components and evidence (internal)."""

    parts: dict[str, dict[str, float]] = field(default_factory=lambda: defaultdict(dict))
    evidence: dict[str, list[Evidence]] = field(default_factory=lambda: defaultdict(list))

    def add(self, pid: str, part: str, value: float, ev: Evidence | None = None) -> None:
        self.parts[pid][part] = self.parts[pid].get(part, 0.0) + value
        if ev is not None:
            self.evidence[pid].append(ev)


def product_details(conn: GraphConnection, ids: Sequence[str]) -> dict[str, dict]:
    """id → {title, price, in_stock, vector, cats, attrs} for the products that exist."""
    out = {}
    for r in run(conn, "product_facts", product_ids=list(ids)):
        out[r["product_id"]] = {
            "title": r["title"],
            "price": r["price"],
            "in_stock": r["in_stock"],
            "vector": r["vector"],
            "cats": r["categories"],
            "attrs": {(a, v) for a, v in r["attributes"] if a is not None},
        }
    return out


def require_products(conn: GraphConnection, ids: Sequence[str]) -> None:
    missing = [r["product_id"] for r in run(conn, "products_exist", product_ids=list(ids)) if not r["found"]]
    if missing:
        raise UnknownEntityError(f"unknown product id(s) {missing}: check `kgrec stats` or the ids in your basket")


def _normalise(values: dict[str, float]) -> dict[str, float]:
    if not values:
        return {}
    lo, hi = min(values.values()), max(values.values())
    return {k: (v - lo) / (hi - lo) if hi > lo else (1.0 if hi > 0 else 0.0) for k, v in values.items()}


def _cos(a: Sequence[float] | None, b: Sequence[float] | None) -> float:
    if not a or not b or len(a) != len(b):
        return 0.0
    x, y = np.asarray(a, dtype=np.float32), np.asarray(b, dtype=np.float32)
    return float(x @ y) / max(float(np.linalg.norm(x) * np.linalg.norm(y)), 1e-12)


def _model_part(pool: _Pool, link: ModelLink, basket: Sequence[str], top: int) -> None:
    anchors = [link.product_index[p] for p in basket if p in link.product_index]
    if not anchors:
        return
    ids = list(link.product_index)
    cand = torch.tensor([link.product_index[p] for p in ids])
    scores = link.model.score_products(torch.tensor(anchors), cand).mean(0)
    chosen = set(basket)
    order = [i for i in torch.argsort(scores, descending=True).tolist() if ids[i] not in chosen][:top]
    for rank, i in enumerate(order, 1):
        pool.add(
            ids[i], "model", float(scores[i]), Evidence("model", None, float(scores[i]), f"rank {rank} of {len(ids)}")
        )


def complete_basket(
    conn: GraphConnection,
    basket: Sequence[str],
    k: int = 10,
    *,
    max_price: float | None = None,
    category: str | None = None,
    in_stock_only: bool = True,
    model: ModelLink | None = None,
    weights: FusionWeights = FusionWeights(),
    pool_size: int = 200,
) -> BasketCompletion:
    """Top ``k`` products to add to ``basket`` (product ids), with evidence per suggestion."""
    basket = list(dict.fromkeys(basket))
    if not basket or k <= 0:
        raise BundleError("give at least one product id and k >= 1 to complete a basket")
    require_products(conn, basket)
    pool = _Pool()
    n = len(basket)
    for r in run(conn, "basket_bought_with", product_ids=basket, limit=pool_size * n):
        conf, lift = float(r["confidence"] or 0.0), float(r["lift"] or 0.0)
        pool.add(
            r["product_id"],
            "copurchase",
            conf / n,
            Evidence("bought_with", r["basket_item"], conf, f"lift {lift:.1f}, {r['orders']} orders"),
        )
    if [r["state"] for r in run(conn, "vector_index_state")] == ["ONLINE"]:
        for r in run(conn, "basket_text_neighbours", product_ids=basket, per_item=pool_size // n + 1):
            pool.parts[r["product_id"]].setdefault("text", 0.0)
    if model is not None:
        _model_part(pool, model, basket, pool_size)
    for pid in basket:
        pool.parts.pop(pid, None)
    details = product_details(conn, basket + list(pool.parts))
    allowed = _filter(conn, details, list(pool.parts), max_price, category, in_stock_only)
    for c in allowed:
        d = details[c]
        for a in basket:
            b = details.get(a)
            if b is None:
                continue
            for cat in sorted(set(d["cats"]) & set(b["cats"])):
                pool.add(c, "attributes", 1.0, Evidence("category", a, 1.0, cat))
            for name, value in sorted(d["attrs"] & b["attrs"]):
                pool.add(c, "attributes", 0.5, Evidence("attribute", a, 0.5, f"{name} = {value}"))
        sims = [(_cos(d["vector"], details[a]["vector"]), a) for a in basket if a in details]
        best = max(sims, default=(0.0, None))
        if best[0] > 0:
            pool.parts[c]["text"] = best[0]
            pool.evidence[c].append(Evidence("text", best[1], best[0], "text"))
    normed = {
        part: _normalise({c: pool.parts[c].get(part, 0.0) for c in allowed})
        for part in ("model", "copurchase", "attributes", "text")
    }
    w = {
        "model": weights.model if model else 0.0,
        "copurchase": weights.copurchase,
        "attributes": weights.attributes,
        "text": weights.text,
    }
    scored = sorted(((sum(w[p] * normed[p][c] for p in w), c) for c in allowed), key=lambda x: (-x[0], x[1]))
    titles = {pid: d["title"] for pid, d in details.items()}
    out = []
    for score, c in scored[:k]:
        ev = sorted(pool.evidence[c], key=lambda e: -_strength(e))
        out.append(
            Suggestion(
                c,
                details[c]["title"],
                details[c]["price"],
                round(score, 6),
                {p: round(normed[p][c], 4) for p in w if w[p]},
                ev,
                [e.sentence(titles) for e in ev[:3]],
            )
        )
    return BasketCompletion(basket, out)


def _strength(e: Evidence) -> float:
    return {"bought_with": 3.0, "model": 2.5, "category": 1.0, "attribute": 0.8, "text": 0.5}[e.kind] + e.value


def _filter(
    conn: GraphConnection,
    details: Mapping[str, dict],
    cands: Sequence[str],
    max_price: float | None,
    category: str | None,
    in_stock_only: bool,
) -> list[str]:
    keep = [c for c in cands if c in details]
    if max_price is not None:
        keep = [c for c in keep if details[c]["price"] is not None and details[c]["price"] <= max_price]
    if in_stock_only:
        keep = [c for c in keep if details[c]["in_stock"] is not False]
    if category is not None:
        inside = {r["product_id"] for r in run(conn, "products_in_category", product_ids=keep, category=category)}
        keep = [c for c in keep if c in inside]
    return sorted(keep)


def user_products(conn: GraphConnection, user_id: str, limit: int = 20) -> list[str]:
    """The user's most purchased products; raises UnknownEntityError for an unknown user."""
    rows = run(conn, "user_top_products", user_id=user_id, limit=limit)
    if not rows:
        raise UnknownEntityError(f"unknown user id {user_id!r}: check the id (see `kgrec stats`)")
    return [r["product_id"] for r in rows if r["product_id"] is not None]


@dataclass(frozen=True)
class ComposedItem:
    product_id: str
    title: str | None
    price: float | None
    score: float
    reasons: list[str]


@dataclass(frozen=True)
class ComposedBundle:
    """A bundle built for ``user_id``: its items in the order chosen, total score and price."""

    user_id: str
    anchor_product: str | None
    items: list[ComposedItem]
    total_score: float
    total_price: float | None


@dataclass(frozen=True)
class ComposeWeights:
    """α (user affinity), β (compatibility with chosen items), γ (new-category bonus)."""

    user: float = 1.0
    compat: float = 1.0
    diversity: float = 0.2


def _as_map(c: BasketCompletion) -> dict[str, Suggestion]:
    return {s.product_id: s for s in c.suggestions}


def _duplicate(c: dict, chosen: Sequence[dict], cosine: float, type_attribute: str) -> bool:
    types = {v for n, v in c["attrs"] if n == type_attribute}
    return any(
        _cos(c["vector"], d["vector"]) > cosine or types & {v for n, v in d["attrs"] if n == type_attribute}
        for d in chosen
    )


def compose_bundle(
    conn: GraphConnection,
    user_id: str,
    *,
    anchor_product: str | None = None,
    size: int = 3,
    budget: float | None = None,
    model: ModelLink | None = None,
    weights: ComposeWeights = ComposeWeights(),
    duplicate_cosine: float = 0.9,
    type_attribute: str = "type",
    pool: int = 100,
) -> ComposedBundle:
    """Greedy bundle of ``size`` products for ``user_id`` within ``budget``.

    ``anchor_product``: a product id the bundle is built around (it is the first item); without
    one, the bundle starts from the user's purchases.
    """
    if size < 1 or (budget is not None and budget <= 0):
        raise BundleError(f"size must be >= 1 and budget positive, got size={size}, budget={budget}")
    bought = user_products(conn, user_id)
    if anchor_product is None and not bought:
        raise BundleError(f"user {user_id!r} has no purchases: give an anchor product to build the bundle around")
    if anchor_product is not None:
        require_products(conn, [anchor_product])

    def completion(basket: list[str]) -> dict[str, Suggestion]:
        return _as_map(complete_basket(conn, basket, pool, max_price=budget, model=model)) if basket else {}

    affinity = completion(bought)
    chosen: list[str] = [anchor_product] if anchor_product else []
    details = product_details(conn, chosen)
    items: list[ComposedItem] = []
    if anchor_product:
        price = details[anchor_product]["price"]
        if budget is not None and (price is None or price > budget):
            raise BundleError(f"the anchor product {anchor_product} costs {price}, over the budget {budget}")
        items.append(
            ComposedItem(anchor_product, details[anchor_product]["title"], price, 0.0, ["your starting product"])
        )
    while len(chosen) < size:
        compat = completion(chosen)
        cands = (set(affinity) | set(compat)) - set(chosen) - set(bought)
        details.update(product_details(conn, [c for c in cands if c not in details]))
        spent = sum(details[c]["price"] or 0.0 for c in chosen)
        cats = {cat for c in chosen for cat in details[c]["cats"]}
        best: tuple[float, str] | None = None
        for c in sorted(cands):
            d = details.get(c)
            if d is None or _duplicate(d, [details[x] for x in chosen], duplicate_cosine, type_attribute):
                continue
            if budget is not None and (d["price"] is None or spent + d["price"] > budget):
                continue
            value = (
                weights.user * (affinity[c].score if c in affinity else 0.0)
                + weights.compat * (compat[c].score if c in compat else 0.0)
                + weights.diversity * float(bool(set(d["cats"]) - cats))
            )
            if best is None or value > best[0]:
                best = (value, c)
        if best is None:
            break
        value, c = best
        reasons = list(compat[c].reasons[:2]) if c in compat else []
        if c in affinity:
            mine = [e for e in affinity[c].evidence if e.basket_item in bought]
            titles = {p: d["title"] for p, d in details.items()}
            reasons += [
                f"matches your purchases of {titles.get(e.basket_item or '') or e.basket_item}" for e in mine[:1]
            ] or ["you may like it (" + ", ".join(affinity[c].reasons[:1]) + ")"]
        if set(details[c]["cats"]) - cats and chosen:
            reasons.append("adds a new category: " + ", ".join(sorted(set(details[c]["cats"]) - cats)))
        chosen.append(c)
        items.append(ComposedItem(c, details[c]["title"], details[c]["price"], round(value, 6), reasons))
    prices = [i.price for i in items]
    total_price = None if any(p is None for p in prices) else round(sum(prices), 2)  # type: ignore[arg-type]
    return ComposedBundle(user_id, anchor_product, items, round(sum(i.score for i in items), 6), total_price)


@dataclass(frozen=True)
class SessionBundle:
    """A bundle composed around a session: the session's products first, then those added, in the order chosen."""

    basket: list[str]
    items: list[ComposedItem]
    added: int
    total_score: float
    total_price: float | None


def compose_for_session(
    conn: GraphConnection,
    product_ids: Sequence[str],
    *,
    size: int = 3,
    budget: float | None = None,
    model: ModelLink | None = None,
    diversity: float = ComposeWeights().diversity,
    duplicate_cosine: float = 0.9,
    type_attribute: str = "type",
    pool: int = 100,
) -> SessionBundle:
    """Add up to ``size`` products to a session's (no user needed), greedily, as ``compose_bundle`` does
    with the session as the user: each step takes the best completion score given everything chosen so
    far (+ ``diversity`` for a new category), skipping near-duplicates and whatever would take the
    bundle (the session's products included) over ``budget``."""
    basket = list(dict.fromkeys(product_ids))
    if not basket or size < 1 or (budget is not None and budget <= 0):
        raise BundleError(
            f"give at least one product id, size >= 1 and a positive budget (size={size}, budget={budget})"
        )
    require_products(conn, basket)
    details = product_details(conn, basket)
    chosen = list(basket)
    items = [ComposedItem(p, details[p]["title"], details[p]["price"], 0.0, ["in your session"]) for p in basket]
    while len(chosen) < len(basket) + size:
        left = None if budget is None else budget - sum(details[c]["price"] or 0.0 for c in chosen)
        if left is not None and left <= 0:
            break
        compat = _as_map(complete_basket(conn, chosen, pool, max_price=left, model=model))
        cands = sorted(set(compat) - set(chosen))
        details.update(product_details(conn, [c for c in cands if c not in details]))
        cats = {cat for c in chosen for cat in details[c]["cats"]}
        best: tuple[float, str] | None = None
        for c in cands:
            d = details.get(c)
            if d is None or _duplicate(d, [details[x] for x in chosen], duplicate_cosine, type_attribute):
                continue
            value = compat[c].score + diversity * float(bool(set(d["cats"]) - cats))
            if best is None or value > best[0]:
                best = (value, c)
        if best is None:
            break
        value, c = best
        reasons = list(compat[c].reasons[:2])
        if set(details[c]["cats"]) - cats:
            reasons.append("adds a new category: " + ", ".join(sorted(set(details[c]["cats"]) - cats)))
        chosen.append(c)
        items.append(ComposedItem(c, details[c]["title"], details[c]["price"], round(value, 6), reasons))
    prices = [i.price for i in items]
    total_price = None if any(p is None for p in prices) else round(sum(prices), 2)  # type: ignore[arg-type]
    return SessionBundle(basket, items, len(items) - len(basket), round(sum(i.score for i in items), 6), total_price)

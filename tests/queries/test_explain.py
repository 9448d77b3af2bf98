"""Explanations on the hand-built shop graph: the right reasons, ranked, with their paths."""

from __future__ import annotations

import pytest

from kgrec.kg.connection import GraphConnection
from kgrec.kg.errors import UnknownEntityError
from kgrec.queries.explain import PathNode, Reason, copurchase_strength, explain, explain_basket, rank_reasons
from kgrec.queries.runner import QueryParameterError

pytestmark = pytest.mark.neo4j


def test_copurchase_reason_leads_with_the_right_lift(shop: GraphConnection) -> None:
    result = explain(shop, "U1", "P2", limit=5)
    top = result.reasons[0]
    assert top.kind == "copurchase"
    assert top.text == (
        "You bought WHITE HANGING HEART T-LIGHT HOLDER, which is often bought with "
        "RED HANGING HEART T-LIGHT HOLDER (lift 12.3, in 41 orders)"
    )
    assert top.path == (PathNode("User", "U1"), PathNode("Product", "P1"), PathNode("Product", "P2"))
    assert top.evidence["lift"] == 12.3 and top.strength == copurchase_strength(12.3, 41)
    kinds = [r.kind for r in result.reasons]
    assert len(kinds) == len(set(kinds)) == 5  # five different kinds before any repeats
    assert [r.strength for r in result.reasons] == sorted((r.strength for r in result.reasons), reverse=True)
    assert result.summary == top.text and result.product_title == "RED HANGING HEART T-LIGHT HOLDER"


def test_similar_users_reason_counts_customers(shop: GraphConnection) -> None:
    reasons = {r.kind: r for r in explain(shop, "U1", "P2", limit=10).reasons}
    similar = reasons["similar_users"]
    assert similar.text.startswith("Customers who bought 2 of your products also bought it (3 customers")
    assert similar.path[0] == PathNode("User", "U1") and similar.path[-1] == PathNode("Product", "P2")
    assert similar.path[2] == PathNode("User", "U2")  # the most similar customer
    assert "Home > Candles" in reasons["category"].text


def test_bundle_reason_when_no_purchase_path(shop: GraphConnection) -> None:
    result = explain(shop, "U1", "P6")
    assert [r.kind for r in result.reasons] == ["bundle"]
    assert "Heart set" in result.reasons[0].text and "WHITE HANGING HEART" in result.reasons[0].text


def test_popularity_fallback_without_paths(shop: GraphConnection) -> None:
    result = explain(shop, "U5", "P2")  # U5 bought nothing
    assert [r.kind for r in result.reasons] == ["popularity"]
    assert result.reasons[0].text == "Popular: bought by 4 customers (#1 of 6 products)"
    model_only = explain(shop, "U5", "P6")  # nobody bought P6 either
    assert model_only.reasons[0].kind == "model" and model_only.reasons[0].strength == 0.0


def test_unknown_ids_raise(shop: GraphConnection) -> None:
    with pytest.raises(UnknownEntityError, match="NOPE"):
        explain(shop, "U1", "NOPE")
    with pytest.raises(UnknownEntityError, match="GHOST"):
        explain(shop, "GHOST", "P2")


def test_explain_basket(shop: GraphConnection) -> None:
    result = explain_basket(shop, ["P1", "P3"], "P2")
    assert [r.kind for r in result.reasons] == ["copurchase", "bundle", "category"]
    assert result.reasons[0].text.startswith("Your basket has WHITE HANGING HEART T-LIGHT HOLDER, which is often")
    assert result.basket == ("P1", "P3")
    assert explain_basket(shop, ["P5"], "P6").reasons[0].kind == "model"
    with pytest.raises(QueryParameterError, match="empty"):
        explain_basket(shop, [], "P2")


def test_strength_and_ranking_rules() -> None:
    assert copurchase_strength(1.0, 100) == 0.0  # independent products: no reason
    assert copurchase_strength(12.3, 41) > copurchase_strength(12.3, 2) > copurchase_strength(2.0, 2)
    a = Reason("copurchase", "a", 0.8, ())
    b = Reason("copurchase", "b", 0.7, ())
    c = Reason("category", "c", 0.2, ())
    assert rank_reasons([a, b, c], 2) == [a, c]
    assert rank_reasons([c, b, a], 3) == [a, c, b]

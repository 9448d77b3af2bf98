"""Composing a bundle around a session's products (no user), on the hand-built shop."""

from __future__ import annotations

import pytest

from kgrec.gnn.bundles import BundleError, compose_for_session
from kgrec.kg.connection import GraphConnection
from kgrec.kg.errors import UnknownEntityError

pytestmark = pytest.mark.neo4j


def test_compose_around_a_session(shop: GraphConnection) -> None:
    done = compose_for_session(shop, ["P1"], size=1)
    assert [i.product_id for i in done.items] == ["P1", "P2"] and done.added == 1  # P2: bought with P1 (lift 12.3)
    assert done.items[0].reasons == ["in your session"] and done.total_price == 5.5
    assert "often bought with" in done.items[1].reasons[0]
    poor = compose_for_session(shop, ["P1"], size=2, budget=3.0)  # P1 costs 2.55: nothing else fits
    assert poor.added == 0 and [i.product_id for i in poor.items] == ["P1"]
    with pytest.raises(BundleError):
        compose_for_session(shop, ["P1"], size=0)
    with pytest.raises(UnknownEntityError):
        compose_for_session(shop, ["NOPE"])

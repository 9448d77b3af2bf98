"""A real, model-free serving index for tests: every product's vector is its number of buyers.

Scores are then ``buyers`` for every user (a popularity recommender) and ``buyers × buyers(basket)``
for a basket, so expected rankings follow from the graph by hand; everything else (purchases,
co-purchase lists, facts) is read from the graph as for a trained model.
"""

from __future__ import annotations

import numpy as np

from kgrec.kg.connection import GraphConnection
from kgrec.kg.export import export_graph
from kgrec.serving import Serving
from kgrec.serving.build import ModelParts, assemble, fingerprint
from kgrec.serving.path_index import build_path_index


def popularity_serving(conn: GraphConnection, path_index: bool = False) -> Serving:
    """A loaded :class:`Serving` over ``conn`` whose model is product popularity (page explanations
    from the in-memory path index when ``path_index``)."""
    stamp = fingerprint(conn)
    snap = export_graph(conn)
    bought = snap.edge(("user", "PURCHASED", "product"))
    purchased = [np.unique(bought[1][bought[0] == u]) for u in range(snap.num("user"))]
    buyers = np.bincount(bought[1], minlength=snap.num("product")).astype(np.float32)
    parts = ModelParts(
        "popularity",
        buyers.reshape(-1, 1),
        np.ones(snap.num("product"), bool),
        np.ones((snap.num("user"), 1), np.float32),
        np.ones(snap.num("user"), bool),
    )
    serving = Serving(lambda: conn, None, path_index=path_index)
    serving.index = assemble(conn, snap, purchased, parts, "popularity", stamp)
    if path_index:
        serving.paths = build_path_index(conn).warm()
    return serving

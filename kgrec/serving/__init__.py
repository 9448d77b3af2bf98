"""The serving layer: one typed interface (:class:`Serving`) behind the CLI, the Python API and the HTTP API.

* :mod:`kgrec.serving.index` — the numpy serving index (embeddings, histories, EASE, co-purchase
  lists, product facts) and its scoring: one matrix-vector product and a partial sort;
* :mod:`kgrec.serving.build` — checkpoint + graph → index (torch; the only slow path);
* :mod:`kgrec.serving.refresh` — keep the index in step with the graph, incrementally;
* :mod:`kgrec.serving.service` — :class:`Serving`: recommend, baskets, bundles, explanations, write-back;
* :mod:`kgrec.serving.types` — the typed answers.

Python use::

    from kgrec.config import Settings
    from kgrec.kg.connection import GraphConnection
    from kgrec.serving import Serving

    with GraphConnection(Settings().credentials()) as conn:
        serving = Serving(lambda: conn, checkpoint)
        serving.load()                       # cached next to the checkpoint, refreshed from the graph
        page = serving.recommend("17288", k=5)
        reasons = serving.explain_page(page)
"""

from kgrec.serving.service import BundlePage, Serving, ServingNotReadyError, cache_path
from kgrec.serving.types import Ranked, RefreshReport, ScoredProduct, WriteBackSummary

__all__ = [
    "BundlePage",
    "Ranked",
    "RefreshReport",
    "ScoredProduct",
    "Serving",
    "ServingNotReadyError",
    "WriteBackSummary",
    "cache_path",
]

"""kgrec: knowledge-graph-enhanced product and bundle recommendation (the facade package)."""

from kgrec.kg.errors import KgrecError

__all__ = ["KgrecError"]
__version__ = "0.1.0"

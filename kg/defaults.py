"""Defaults of the graph layer that the command line shows in its help without loading that layer.

:mod:`kgrec.kg.copurchase` (numpy, pandas, scipy, the driver) uses them; ``kgrec ingest --help``
reads them from here.
"""

from __future__ import annotations

#: Fewest orders two products must share to be linked by BOUGHT_WITH.
DEFAULT_MIN_ORDERS = 2

"""Where a Neo4j server is and how to log in: a plain dataclass without the driver.

Kept apart from ``kg/connection.py`` (which imports the neo4j driver, and through it pandas) so that
``kgrec.config`` and the command line can name a server without paying for the driver at start-up.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Neo4jCredentials:
    """Where the server is and how to log in (the URI comes from ``Settings`` or a ``LocalNeo4j``)."""

    uri: str
    user: str = "neo4j"
    password: str = field(default="", repr=False)
    database: str = "neo4j"

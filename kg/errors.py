"""The one exception hierarchy of kgrec. Every message tells the user what to do next."""

from __future__ import annotations


class KgrecError(Exception):
    """Root of every error kgrec raises on purpose."""


class ConfigurationError(KgrecError):
    """A setting is missing or invalid."""


class Neo4jUnavailableError(KgrecError):
    """The Neo4j server cannot be reached or started."""


class ConnectionLostError(Neo4jUnavailableError):
    """The server stopped answering in the middle of a command (killed, restarted, out of memory)."""


class NotConnectedError(KgrecError):
    """A graph operation was attempted before ``connect()``."""


class SchemaError(KgrecError):
    """A label, relationship type or property is not part of the fixed schema."""


class IngestError(KgrecError):
    """An input cannot be ingested at all (missing file, wrong header); fix the input and rerun."""


class ModelError(KgrecError):
    """A model or checkpoint cannot be trained, loaded or used."""


class UnknownEntityError(KgrecError):
    """An id (user, product, bundle) is not in the graph or the model's id map."""

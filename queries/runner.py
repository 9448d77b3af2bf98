"""Named, parameterised Cypher: load ``queries/*.cypher`` once, check parameters, run them read-only.

Each file starts with a header the runner parses::

    // name: bought_with
    // purpose: co-purchase neighbours of a product        (may repeat: lines are joined)
    // parameters: $product_id: str, $limit: int = 10, $user_id: str? = null
    // constants: $fulltext_index                          (filled in from kg.schema, never by callers)
    // returns: product_id, title, lift, ...

Types are ``str``, ``int``, ``float``, ``bool`` and ``list[str]``; ``?`` allows null; ``= x`` gives
a default (JSON literal, or a bare word for a string). Labels and relationship types in the text
are checked against ``kg.schema`` when the file is loaded.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from kgrec.kg.connection import GraphConnection
from kgrec.kg.cypher import check_vocabulary
from kgrec.kg.errors import KgrecError
from kgrec.kg.schema import PRODUCT_FULLTEXT_INDEX, PRODUCT_VECTOR_INDEX


class QueryError(KgrecError):
    """A named query cannot be found, loaded or called as written."""


class QueryNotFoundError(QueryError):
    """No ``.cypher`` file has this name."""


class QueryParameterError(QueryError):
    """Parameters given to a named query do not match its header (missing, extra, wrong type)."""


#: Values the runner supplies itself for ``// constants:`` names (index names from kg.schema).
CONSTANTS: dict[str, Any] = {
    "fulltext_index": PRODUCT_FULLTEXT_INDEX,
    "vector_index": PRODUCT_VECTOR_INDEX,
}

_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (float, int),
    "bool": (bool,),
    "list[str]": (list, tuple),
}
_PARAM_RE = re.compile(r"^\$(\w+)\s*:\s*([\w\[\]]+)(\?)?\s*(?:=\s*(.+))?$")
_USE_RE = re.compile(r"\$([A-Za-z_]\w*)")
_NO_DEFAULT = object()


@dataclass(frozen=True)
class Parameter:
    """One declared ``$parameter`` of a named query."""

    name: str
    type: str
    nullable: bool = False
    default: Any = _NO_DEFAULT

    @property
    def required(self) -> bool:
        return self.default is _NO_DEFAULT

    def describe(self) -> str:
        text = f"${self.name}: {self.type}{'?' if self.nullable else ''}"
        return text if self.required else f"{text} = {json.dumps(self.default)}"


@dataclass(frozen=True)
class NamedQuery:
    """A parsed ``.cypher`` file."""

    name: str
    purpose: str
    parameters: tuple[Parameter, ...]
    constants: tuple[str, ...]
    returns: str
    cypher: str
    filename: str

    def parameter(self, name: str) -> Parameter | None:
        return next((p for p in self.parameters if p.name == name), None)

    def signature(self) -> str:
        return ", ".join(p.describe() for p in self.parameters)


def _default_value(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text.strip()


def _parse_parameters(text: str, filename: str) -> tuple[Parameter, ...]:
    params = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        match = _PARAM_RE.match(item)
        if not match or match.group(2) not in _TYPES:
            raise QueryError(
                f"{filename}: cannot read parameter {item!r}; write `$name: type` or `$name: type = default` "
                f"with type one of {', '.join(_TYPES)}"
            )
        name, type_, nullable, default = match.groups()
        params.append(
            Parameter(name, type_, bool(nullable), _NO_DEFAULT if default is None else _default_value(default))
        )
    return tuple(params)


def parse_query(text: str, filename: str) -> NamedQuery:
    """Parse one file: header comment, then Cypher; checks names, parameters and vocabulary."""
    header: dict[str, list[str]] = {}
    body: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not body and stripped.startswith("//"):
            key, _, value = stripped[2:].partition(":")
            header.setdefault(key.strip().lower(), []).append(value.strip())
        elif body or stripped:
            body.append(line)
    for required in ("name", "purpose", "parameters", "returns"):
        if required not in header:
            raise QueryError(f"{filename}: header lacks `// {required}:`")
    name = header["name"][0]
    if f"{name}.cypher" != filename:
        raise QueryError(f"{filename}: `// name: {name}` must match the file name")
    params = _parse_parameters(",".join(header["parameters"]), filename)
    constants = tuple(c.strip().lstrip("$") for c in ",".join(header.get("constants", [])).split(",") if c.strip())
    cypher = "\n".join(body).strip()
    code = "\n".join(re.sub(r"//.*$", "", line) for line in body)
    used = set(_USE_RE.findall(code))
    declared = {p.name for p in params} | set(constants)
    if used != declared:
        raise QueryError(
            f"{filename}: header and text disagree: undeclared {sorted(used - declared)}, "
            f"unused {sorted(declared - used)}"
        )
    unknown = set(constants) - set(CONSTANTS)
    if unknown:
        raise QueryError(f"{filename}: unknown constants {sorted(unknown)}; known: {sorted(CONSTANTS)}")
    check_vocabulary(code, filename)
    purpose, returns = " ".join(header["purpose"]), " ".join(header["returns"])
    return NamedQuery(name, purpose, params, constants, returns, cypher, filename)


@cache
def load_queries() -> dict[str, NamedQuery]:
    """Every ``.cypher`` file of the ``queries`` package, parsed once (works from an installed wheel)."""
    try:
        entries: Iterable[Any] = list(resources.files("kgrec.queries").iterdir())
    except (NotADirectoryError, TypeError):  # a namespace mapping of an editable install: read beside us
        entries = list(Path(__file__).resolve().parent.iterdir())
    found = {}
    for entry in sorted(entries, key=lambda e: e.name):
        if entry.name.endswith(".cypher"):
            query = parse_query(entry.read_text(encoding="utf-8"), entry.name)
            found[query.name] = query
    return found


def list_queries() -> list[NamedQuery]:
    """All named queries, sorted by name (for ``kgrec query --list``)."""
    return list(load_queries().values())


def get_query(name: str) -> NamedQuery:
    """The named query; raises QueryNotFoundError listing the known names."""
    try:
        return load_queries()[name]
    except KeyError:
        raise QueryNotFoundError(
            f"no query named {name!r}; known queries: {', '.join(load_queries())} (see `kgrec query --list`)"
        ) from None


def _check_type(query: NamedQuery, param: Parameter, value: Any) -> Any:
    if value is None:
        if param.nullable:
            return None
        raise QueryParameterError(f"query {query.name!r}: ${param.name} must not be null")
    ok = isinstance(value, _TYPES[param.type]) and not (param.type in ("int", "float") and isinstance(value, bool))
    if ok and param.type == "list[str]":
        ok = all(isinstance(v, str) for v in value)
        value = list(value)
    if not ok:
        raise QueryParameterError(
            f"query {query.name!r}: ${param.name} must be {param.type}, got {type(value).__name__} {value!r}"
        )
    return float(value) if param.type == "float" else value


def bind(query: NamedQuery, params: Mapping[str, Any]) -> dict[str, Any]:
    """Check ``params`` against the header; fill defaults and constants. Raises QueryParameterError."""
    declared = {p.name for p in query.parameters}
    extra = sorted(set(params) - declared)
    missing = sorted(p.name for p in query.parameters if p.required and p.name not in params)
    if extra or missing:
        problems = []
        if missing:
            problems.append("missing " + ", ".join(f"${m}" for m in missing))
        if extra:
            problems.append("unknown " + ", ".join(f"${e}" for e in extra))
        raise QueryParameterError(
            f"query {query.name!r}: {'; '.join(problems)}; it takes ({query.signature() or 'no parameters'})"
        )
    bound = {p.name: _check_type(query, p, params[p.name]) if p.name in params else p.default for p in query.parameters}
    bound.update({name: CONSTANTS[name] for name in query.constants})
    return bound


def parse_cli_params(query: NamedQuery, pairs: Iterable[str]) -> dict[str, Any]:
    """``["limit=5", "product_ids=a,b"]`` → typed values, by the declared types."""
    values: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip().lstrip("$")
        param = query.parameter(key)
        if not sep or param is None:
            raise QueryParameterError(
                f"query {query.name!r}: cannot use {pair!r}; write key=value with key one of "
                f"({query.signature() or 'no parameters'})"
            )
        try:
            if text == "null" and param.nullable:
                values[key] = None
            elif param.type == "int":
                values[key] = int(text)
            elif param.type == "float":
                values[key] = float(text)
            elif param.type == "bool":
                values[key] = {"true": True, "false": False}[text.lower()]
            elif param.type == "list[str]":
                values[key] = [v.strip() for v in text.split(",") if v.strip()]
            else:
                values[key] = text
        except (ValueError, KeyError):
            raise QueryParameterError(f"query {query.name!r}: ${key} must be {param.type}, got {text!r}") from None
    return values


def plain(value: Any) -> Any:
    """Driver values → JSON-ready Python (temporal values become ISO strings)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if hasattr(value, "iso_format"):
        return value.iso_format()
    return value


def run(conn: GraphConnection, name: str, /, **params: Any) -> list[dict[str, Any]]:
    """Run the named query in a read transaction; rows as plain dicts."""
    query = get_query(name)
    return [plain(row) for row in conn.read(query.cypher, bind(query, params))]


def run_one(conn: GraphConnection, name: str, /, **params: Any) -> dict[str, Any] | None:
    """The first row of the named query, or None when it returns nothing."""
    rows = run(conn, name, **params)
    return rows[0] if rows else None

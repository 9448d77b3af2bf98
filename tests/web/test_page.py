"""The explorer page's own copy of the schema matches kg.schema, and it loads nothing from elsewhere."""

from __future__ import annotations

import json
import re

from kgrec.api import WEB_DIR
from kgrec.kg.schema import RELATIONS, Label

PAGE = (WEB_DIR / "index.html").read_text(encoding="utf-8")


def page_constant(name: str) -> str:
    return PAGE.split(f"const {name} = ", 1)[1].split(";", 1)[0]


def test_relations_mirror_the_schema_in_its_order() -> None:
    mirrored = [tuple(r) for r in json.loads(page_constant("RELATIONS"))]
    schema = [(s.value, r.value, t.value) for s, r, t in RELATIONS]
    assert mirrored == schema  # the first match wins, so the order matters (PURCHASED before RECOMMENDED)


def test_every_label_has_a_colour_and_nothing_is_fetched_from_elsewhere() -> None:
    colours = dict(re.findall(r'(\w+):"(#[0-9a-f]{6})"', page_constant("COLORS")))
    assert set(colours) == {label.value for label in Label}
    assert set(re.findall(r"https?://[^\s\"'`]+", PAGE)) == {"http://www.w3.org/2000/svg"}  # a namespace, not a fetch

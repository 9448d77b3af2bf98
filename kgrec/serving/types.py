"""What the serving layer answers: plain, typed dataclasses (no torch), shared by CLI, Python and HTTP."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ScoredProduct:
    """One product in a ranked answer: its rank (1 = best), model score and the model's own reasons."""

    product_id: str
    score: float
    rank: int
    title: str | None = None
    price: float | None = None
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class Ranked:
    """A ranked answer (recommendations, similar products, basket completion).

    ``note`` says why the list is empty or short and what to do; ``None`` when nothing needs saying.
    """

    items: list[ScoredProduct]
    user_id: str | None = None
    basket: tuple[str, ...] = ()
    note: str | None = None

    @property
    def product_ids(self) -> list[str]:
        return [i.product_id for i in self.items]


@dataclass(frozen=True)
class RefreshReport:
    """What a refresh of the serving index did: ``kind`` is unchanged, incremental or rebuilt."""

    kind: str
    new_orders: int = 0
    new_order_lines: int = 0
    new_users: int = 0
    new_products: int = 0
    seconds: float = 0.0
    reason: str = ""


@dataclass(frozen=True)
class WriteBackSummary:
    """RECOMMENDED edges written: users, edges, the model name and the time stamp stored on them."""

    users: int
    relationships: int
    model: str
    at: str
    skipped: list[str] = field(default_factory=list)  # users with nothing to recommend

"""``kgrec basket complete`` and ``kgrec bundles recommend|compose|mine``: thin calls into the serving layer."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from kgrec.cli.common import console, open_graph

if TYPE_CHECKING:
    from kgrec.gnn.bundles import ComposedItem

basket_app = typer.Typer(help="Complete a basket with products bought together.", no_args_is_help=True)
bundles_app = typer.Typer(help="Recommend, compose and mine product bundles.", no_args_is_help=True)


_GNN_HELP = "use the newest trained GNN checkpoint (its serving cache), if any; else graph evidence only"


def _price(p: float | None) -> str:
    return "" if p is None else f"{p:.2f}"


@basket_app.command("complete")
def basket_complete(
    product_ids: Annotated[list[str], typer.Argument(help="product ids already in the basket")],
    k: Annotated[int, typer.Option("-k", help="how many suggestions", min=1, max=100)] = 10,
    max_price: Annotated[float | None, typer.Option("--max-price", help="price ceiling")] = None,
    category: Annotated[str | None, typer.Option(help="only this category path (or below)")] = None,
    include_out_of_stock: Annotated[bool, typer.Option(help="also products with in_stock = false")] = False,
    gnn: Annotated[bool, typer.Option(help=_GNN_HELP)] = True,
    checkpoint: Annotated[Path | None, typer.Option(help="default: newest kgcf checkpoint")] = None,
) -> None:
    """Products likely bought with the basket, with the evidence for each."""
    from kgrec.cli.serve import open_serving

    with open_graph() as (settings, conn):
        serving = open_serving(settings, conn, checkpoint, use_model=gnn)
        page = serving.complete_basket(product_ids, k, max_price, category, not include_out_of_stock)
    table = Table(title=f"to add to {', '.join(page.basket)}")
    for column in ("#", "product", "score", "price", "title", "why"):
        table.add_column(column, justify="right" if column in ("#", "score", "price") else "left")
    for s in page.items:
        table.add_row(str(s.rank), s.product_id, f"{s.score:.3f}", _price(s.price), escape(s.title or ""),
                      escape("; ".join(s.reasons)))  # fmt: skip
    console.print(table)
    if page.note:
        console.print(f"[yellow]{escape(page.note)}[/yellow]")


@bundles_app.command("recommend")
def bundles_recommend(
    user_id: Annotated[str | None, typer.Argument(help="a User id of the graph (omit with --basket)")] = None,
    basket: Annotated[
        str | None, typer.Option("--basket", help="comma-separated product ids of a session (a visitor, no user)")
    ] = None,
    k: Annotated[int, typer.Option("-k", min=1, max=50)] = 10,
    epochs: Annotated[int, typer.Option(help="train the bundle GNN on the graph first (0: item overlap)")] = 0,
    compose: Annotated[
        int,
        typer.Option(help="with --basket: also compose a bundle adding this many products (0: none)", min=0, max=20),
    ] = 0,
) -> None:
    """Bundles for a user, or for a session's products with --basket: the bundle GNN when --epochs > 0,
    else item overlap + popularity."""
    from kgrec.serving import Serving

    products = [b.strip() for b in (basket or "").split(",") if b.strip()]
    if not user_id and not products:
        raise typer.BadParameter("name a user, or pass --basket with product ids", param_hint="USER_ID")
    with open_graph() as (settings, conn):
        serving = Serving(lambda: conn, None, settings.device, bundle_epochs=epochs, seed=settings.seed)
        if epochs > 0:
            with console.status(f"training the bundle GNN for {epochs} epochs…"):
                serving.bundle_model()
        if products:
            session = serving.recommend_bundles_for_session(products, k, use_model=epochs > 0, compose_size=compose)
            items, how, note, who = session.items, session.how, session.note, "session " + ", ".join(session.basket)
            composed = session.composed
        else:
            assert user_id is not None
            page = serving.recommend_bundles(user_id, k, use_model=epochs > 0)
            items, how, note, who, composed = page.items, page.how, page.note, user_id, None
    if note:
        console.print(f"[yellow]no bundles for {escape(who)}: {escape(note)}[/yellow]")
    else:
        table = Table(title=f"bundles for {who} ({how})")
        for column in ("#", "bundle", "score", "items", "title", "why"):
            table.add_column(column, justify="right" if column in ("#", "score", "items") else "left")
        for i, r in enumerate(items, 1):
            table.add_row(str(i), r.bundle_id, f"{r.score:.3f}", str(len(r.items)), escape(r.title or ""),
                          escape("; ".join(r.reasons)))  # fmt: skip
        console.print(table)
    if composed is not None:
        _composed_table(f"composed around the session (score {composed.total_score:.3f})", composed.items)


def _composed_table(title: str, items: list[ComposedItem]) -> None:
    table = Table(title=title)
    for column in ("#", "product", "price", "title", "why"):
        table.add_column(column, justify="right" if column in ("#", "price") else "left")
    for i, item in enumerate(items, 1):
        table.add_row(
            str(i), item.product_id, _price(item.price), escape(item.title or ""), escape("; ".join(item.reasons))
        )
    console.print(table)


@bundles_app.command("compose")
def bundles_compose(
    user_id: str,
    anchor_product: Annotated[
        str | None, typer.Option("--anchor-product", help="product id to build the bundle around (its first item)")
    ] = None,
    size: Annotated[int, typer.Option(help="number of products (the anchor product included)", min=2, max=20)] = 3,
    budget: Annotated[float | None, typer.Option(help="ceiling on the sum of prices")] = None,
    gnn: Annotated[bool, typer.Option(help=_GNN_HELP)] = True,
    checkpoint: Annotated[Path | None, typer.Option(help="default: newest kgcf checkpoint")] = None,
) -> None:
    """Build a coherent bundle of complementary products for a user."""
    from kgrec.cli.serve import open_serving

    with open_graph() as (settings, conn):
        bundle = open_serving(settings, conn, checkpoint, use_model=gnn).compose_bundle(
            user_id, anchor_product, size, budget
        )
    total = "" if bundle.total_price is None else f", total price {bundle.total_price:.2f}"
    table = Table(title=f"bundle for {user_id} (score {bundle.total_score:.3f}{total})")
    for column in ("#", "product", "price", "title", "why"):
        table.add_column(column, justify="right" if column in ("#", "price") else "left")
    for i, item in enumerate(bundle.items, 1):
        table.add_row(
            str(i), item.product_id, _price(item.price), escape(item.title or ""), escape("; ".join(item.reasons))
        )
    console.print(table)
    if len(bundle.items) < size:
        console.print(
            f"[yellow]only {len(bundle.items)} of {size} products fit: raise --budget or choose another anchor[/yellow]"
        )


@bundles_app.command("mine")
def bundles_mine(
    min_orders: Annotated[int, typer.Option(help="baskets an itemset must appear in")] = 5,
    min_lift: Annotated[float, typer.Option(help="minimum lift of an itemset")] = 2.0,
    max_size: Annotated[int, typer.Option(help="2 (pairs) or 3 (pairs and triples)")] = 3,
    max_bundles: Annotated[int, typer.Option(help="keep the best this many")] = 1_000,
) -> None:
    """Mine frequent pairs/triples from orders into Bundle nodes (source 'mined'); idempotent."""
    from kgrec.kg.bundle_mining import mine_bundles

    with open_graph() as (settings, conn), console.status("mining baskets…"):
        s = mine_bundles(conn, min_orders, min_lift, max_size, max_bundles, settings.write_batch_size)
    console.print(
        f"{s.baskets:,} baskets → {s.pairs:,} pairs and {s.triples:,} triples; "
        f"{s.bundles_written:,} mined bundles written, {s.bundles_removed:,} stale removed"
    )


def register(app: typer.Typer) -> None:
    """Add this family's commands to the main app."""
    app.add_typer(basket_app, name="basket")
    app.add_typer(bundles_app, name="bundles")

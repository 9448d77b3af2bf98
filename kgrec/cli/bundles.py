"""``kgrec basket complete`` and ``kgrec bundles recommend|compose|mine``: thin calls into gnn.bundles."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from kgrec.cli.common import console, newest_checkpoint, open_graph
from kgrec.config import Settings
from kgrec.kg.connection import GraphConnection

if TYPE_CHECKING:
    from kgrec.gnn.bundles import ModelLink

basket_app = typer.Typer(help="Complete a basket with products bought together.", no_args_is_help=True)
bundles_app = typer.Typer(help="Recommend, compose and mine product bundles.", no_args_is_help=True)


def _gnn_link(conn: GraphConnection, settings: Settings, use: bool) -> ModelLink | None:
    """The co-purchase head of the newest HeteroSAGE checkpoint, when asked for and present."""
    if not use:
        return None
    from kgrec.gnn.bundles import ModelLink
    from kgrec.gnn.recommender import Recommender

    path = newest_checkpoint(settings, "kgcf")
    if path is None:
        console.print("[yellow]no kgcf checkpoint (kgrec train): graph evidence and text only[/yellow]")
        return None
    rec = Recommender.load(path, settings.device).refresh(conn)
    return ModelLink(rec.model, rec.snapshot.index["product"])  # type: ignore[union-attr]


_GNN_HELP = "fuse the co-purchase head of the newest trained GNN checkpoint, if any"


def _price(p: float | None) -> str:
    return "" if p is None else f"{p:.2f}"


@basket_app.command("complete")
def basket_complete(
    product_ids: Annotated[list[str], typer.Argument(help="product ids already in the basket")],
    k: Annotated[int, typer.Option("-k", help="how many suggestions")] = 10,
    max_price: Annotated[float | None, typer.Option("--max-price", help="price ceiling")] = None,
    category: Annotated[str | None, typer.Option(help="only this category path (or below)")] = None,
    include_out_of_stock: Annotated[bool, typer.Option(help="also products with in_stock = false")] = False,
    gnn: Annotated[bool, typer.Option(help=_GNN_HELP)] = True,
) -> None:
    """Products likely bought with the basket, with the evidence for each."""
    from kgrec.gnn.bundles import complete_basket

    with open_graph() as (settings, conn):
        result = complete_basket(
            conn,
            product_ids,
            k,
            max_price=max_price,
            category=category,
            in_stock_only=not include_out_of_stock,
            model=_gnn_link(conn, settings, gnn),
        )
    table = Table(title=f"to add to {', '.join(result.basket)}")
    for column in ("#", "product", "score", "price", "title", "why"):
        table.add_column(column, justify="right" if column in ("#", "score", "price") else "left")
    for i, s in enumerate(result.suggestions, 1):
        table.add_row(str(i), s.product_id, f"{s.score:.3f}", _price(s.price), s.title or "", "; ".join(s.reasons))
    console.print(table)


@bundles_app.command("recommend")
def bundles_recommend(
    user_id: str,
    k: Annotated[int, typer.Option("-k")] = 10,
    epochs: Annotated[int, typer.Option(help="train the bundle GNN on the graph first (0: item overlap)")] = 0,
) -> None:
    """Bundles for a user: the bundle GNN when --epochs > 0, else item overlap + popularity."""
    from kgrec.gnn.bundle_recs import fit_bundle_model, recommend_bundles
    from kgrec.gnn.models.bundle_gnn import BundleModelConfig

    with open_graph() as (settings, conn):
        link = None
        if epochs > 0:
            with console.status(f"training the bundle GNN for {epochs} epochs…"):
                link = fit_bundle_model(conn, epochs=epochs, config=BundleModelConfig(seed=settings.seed))
        recs = recommend_bundles(conn, user_id, k, link)
    table = Table(title=f"bundles for {user_id}")
    for column in ("#", "bundle", "score", "items", "title", "why"):
        table.add_column(column, justify="right" if column in ("#", "score", "items") else "left")
    for i, r in enumerate(recs, 1):
        table.add_row(str(i), r.bundle_id, f"{r.score:.3f}", str(len(r.items)), r.title or "", "; ".join(r.reasons))
    console.print(table)


@bundles_app.command("compose")
def bundles_compose(
    user_id: str,
    anchor_product: Annotated[
        str | None, typer.Option("--anchor-product", help="product id to build the bundle around (its first item)")
    ] = None,
    size: Annotated[int, typer.Option(help="number of products (the anchor product included)")] = 3,
    budget: Annotated[float | None, typer.Option(help="ceiling on the sum of prices")] = None,
    gnn: Annotated[bool, typer.Option(help=_GNN_HELP)] = True,
) -> None:
    """Build a coherent bundle of complementary products for a user."""
    from kgrec.gnn.bundles import compose_bundle

    with open_graph() as (settings, conn):
        bundle = compose_bundle(
            conn, user_id, anchor_product=anchor_product, size=size, budget=budget, model=_gnn_link(conn, settings, gnn)
        )
    total = "" if bundle.total_price is None else f", total price {bundle.total_price:.2f}"
    table = Table(title=f"bundle for {user_id} (score {bundle.total_score:.3f}{total})")
    for column in ("#", "product", "price", "title", "why"):
        table.add_column(column, justify="right" if column in ("#", "price") else "left")
    for i, item in enumerate(bundle.items, 1):
        table.add_row(str(i), item.product_id, _price(item.price), item.title or "", "; ".join(item.reasons))
    console.print(table)


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

"""MovieLens 100K → canonical tables (movies, users with demographic attributes, ratings).

Movies keep their title and release year; their genres become categories ``Movies > <Genre>``.
Users get attributes ``age_band``, ``gender`` and ``occupation`` (zip code as a property).
Ratings become ``rating`` interactions with a ``split`` column from the canonical ``u1`` split
(``train`` = u1.base, ``test`` = u1.test), so benchmarks can use the official partition.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from kgrec.ingest.canonical import CanonicalTables, as_text

GENRE_ROOT = "Movies"
#: Age bands of MovieLens-1M, applied to the exact ages of 100K.
AGE_BANDS = (
    (18, "under-18"),
    (25, "18-24"),
    (35, "25-34"),
    (45, "35-44"),
    (50, "45-49"),
    (56, "50-55"),
    (200, "56-plus"),
)
SPLIT = "u1"


def age_band(ages: pd.Series) -> pd.Series:
    bounds = [b for b, _ in AGE_BANDS]
    names = np.array([n for _, n in AGE_BANDS], dtype=object)
    return pd.Series(names[np.searchsorted(bounds, ages.to_numpy(), side="right")], index=ages.index)


def read_movies(folder: Path) -> pd.DataFrame:
    genres = pd.read_csv(folder / "u.genre", sep="|", header=None, names=["genre", "i"], encoding="latin-1")
    names = list(genres["genre"])
    movies = pd.read_csv(
        folder / "u.item",
        sep="|",
        header=None,
        encoding="latin-1",
        dtype=str,
        keep_default_na=False,
        names=["movie", "title", "release", "video", "imdb_url", *names],
    )
    flags = (movies[names].apply(pd.to_numeric, errors="coerce").fillna(0) > 0).to_numpy()  # a bad flag = not set
    paths = [GENRE_ROOT + " > " + g if g != "unknown" else GENRE_ROOT for g in names]
    category = ["|".join(p for p, on in zip(paths, row, strict=True) if on) for row in flags]
    release = pd.to_datetime(movies["release"], format="%d-%b-%Y", errors="coerce")
    return pd.DataFrame(
        {
            "product_id": movies["movie"],
            "title": movies["title"].str.strip(),
            "description": "",
            "category": category,
            "price": "",
            "release_year": release.dt.year.astype("Int64"),
            "imdb_url": movies["imdb_url"],
        }
    )


def read_users(folder: Path) -> pd.DataFrame:
    users = pd.read_csv(
        folder / "u.user",
        sep="|",
        header=None,
        dtype={"user_id": str, "zip": str},
        names=["user_id", "age", "gender", "occupation", "zip"],
    )
    return pd.DataFrame(
        {
            "user_id": users["user_id"],
            "age": users["age"],
            "zip": users["zip"],
            "attr:age_band": age_band(users["age"]),
            "attr:gender": users["gender"],
            "attr:occupation": users["occupation"],
        }
    )


def read_ratings(folder: Path, split: str = SPLIT) -> pd.DataFrame:
    parts = []
    for part, name in (("base", "train"), ("test", "test")):
        frame = pd.read_csv(
            folder / f"{split}.{part}",
            sep="\t",
            header=None,
            dtype=str,
            names=["user_id", "product_id", "rating", "ts"],
        )
        parts.append(frame.assign(split=name))
    ratings = pd.concat(parts, ignore_index=True)
    # a missing or non-numeric time stays empty (the rating is kept untimed; a missing rating is quarantined)
    seconds = pd.to_numeric(ratings["ts"], errors="coerce")
    stamp = pd.to_datetime(seconds, unit="s", utc=True).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return pd.DataFrame(
        {
            "user_id": ratings["user_id"],
            "product_id": ratings["product_id"],
            "type": "rating",
            "timestamp": stamp,
            "rating": ratings["rating"],
            "split": ratings["split"],
        }
    )


def read_movielens(folder: Path, split: str = SPLIT) -> CanonicalTables:
    """Read the ml-100k folder; ``split`` names the canonical partition kept in ``split`` (u1..u5)."""
    folder = Path(folder)
    return CanonicalTables(
        products=as_text(read_movies(folder)),
        users=as_text(read_users(folder)),
        interactions=as_text(read_ratings(folder, split)),
    )

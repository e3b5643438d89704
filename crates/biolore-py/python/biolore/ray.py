"""biolore on Ray Data: callable classes for ``Dataset.map_batches`` with an actor pool.

>>> import ray
>>> from biolore.ray import Embed
>>> ds = ray.data.from_items([{"text": "heart attack"}])
>>> ds = ds.map_batches(Embed, fn_constructor_kwargs={"model": "/models/all-MiniLM-L6-v2"},
...                     batch_format="pyarrow", concurrency=2)

Each actor loads the model once, in its own process.
"""

from __future__ import annotations

from typing import Any

from . import Encoder, Linker


class Embed:
    """Adds ``column`` (``list<float32>``) with the vectors of ``field`` to each Arrow batch."""

    def __init__(
        self,
        model: str,
        field: str = "text",
        column: str = "embedding",
        threads: int | None = None,
        nulls: str = "error",
        batch_size: int = 32,
    ) -> None:
        self.encoder = Encoder(model, threads=threads, batch_size=batch_size)
        self.field, self.column, self.nulls = field, column, nulls

    def __call__(self, batch: Any) -> Any:
        return self.encoder.embed_arrow(batch, field=self.field, column=self.column, nulls=self.nulls)


class Link:
    """Adds ``column`` (``list<struct<id, name, matched, score>>``) linking ``field``."""

    def __init__(
        self,
        index: str,
        field: str = "mention",
        column: str = "candidates",
        k: int = 5,
        threads: int | None = None,
    ) -> None:
        self.linker = Linker(index, threads=threads)
        self.field, self.column, self.k = field, column, k

    def __call__(self, batch: Any) -> Any:
        return self.linker.link_arrow(batch, field=self.field, column=self.column, k=self.k)

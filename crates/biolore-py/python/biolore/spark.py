"""biolore on Spark: embed and link DataFrame columns with ``mapInArrow``, or a pandas UDF.

Each Python worker process loads the model once (and keeps it while Spark reuses the worker);
its threads default to the task's ``spark.task.cpus``. Model and index folders must be readable
on every executor: shared storage, or shipped with ``--archives models.tar.gz#models``.

>>> from biolore.spark import embed_dataframe, link_dataframe
>>> out = embed_dataframe(df, "/models/all-MiniLM-L6-v2", input_col="text")
>>> linked = link_dataframe(df, "/indexes/medic.all-MiniLM-L6-v2", input_col="mention", k=5)
"""


from typing import Any, Iterator

from . import CANDIDATES_TYPE, Encoder, Linker
from ._cache import cached


def task_cpus(default: int | None = None) -> int | None:
    """``spark.task.cpus`` of the running task (``default`` outside a task)."""
    try:
        from pyspark import TaskContext

        ctx = TaskContext.get()
        if ctx is not None:
            return int(ctx.cpus())
    except Exception:  # noqa: BLE001 - outside Spark, or an older pyspark
        pass
    return default


def _embedding_type() -> Any:
    from pyspark.sql.types import ArrayType, FloatType

    return ArrayType(FloatType(), containsNull=False)


def embed_dataframe(
    df: Any,
    model: str,
    input_col: str = "text",
    output_col: str = "embedding",
    threads: int | None = None,
    nulls: str = "error",
    batch_size: int = 32,
) -> Any:
    """``df`` with ``output_col`` (``array<float>``) holding the vectors of ``input_col``.

    Null texts fail the task with a message naming the row (``nulls="error"``) or get a null
    vector (``nulls="null"``). Batching is deterministic, so a retried partition's vectors are
    identical.
    """
    from pyspark.sql.types import StructField, StructType

    schema = StructType(df.schema.fields + [StructField(output_col, _embedding_type(), True)])

    def embed_batches(batches: Iterator[Any]) -> Iterator[Any]:
        encoder = cached(Encoder, model, "cpu", "float32", threads or task_cpus(), batch_size, 8192)
        for batch in batches:
            yield encoder.embed_arrow(batch, field=input_col, column=output_col, nulls=nulls)

    return df.mapInArrow(embed_batches, schema)


def link_dataframe(
    df: Any,
    index: str,
    input_col: str = "mention",
    output_col: str = "candidates",
    k: int = 5,
    threads: int | None = None,
) -> Any:
    """``df`` with ``output_col`` holding the ``k`` best concepts of ``input_col``:
    ``array<struct<id, name, matched, score>>`` (null mentions get nulls)."""
    from pyspark.sql.types import (
        ArrayType,
        FloatType,
        StringType,
        StructField,
        StructType,
    )

    item = StructType(
        [
            StructField("id", StringType(), True),
            StructField("name", StringType(), True),
            StructField("matched", StringType(), True),
            StructField("score", FloatType(), True),
        ]
    )
    schema = StructType(df.schema.fields + [StructField(output_col, ArrayType(item), True)])
    assert CANDIDATES_TYPE is not None, "pyarrow is needed"

    def link_batches(batches: Iterator[Any]) -> Iterator[Any]:
        linker = cached(Linker, index, None, "cpu", threads or task_cpus(), False, 32, 8192)
        for batch in batches:
            yield linker.link_arrow(batch, field=input_col, column=output_col, k=k)

    return df.mapInArrow(link_batches, schema)


def embed_udf(model: str, threads: int | None = None, batch_size: int = 32) -> Any:
    """A pandas UDF ``Series[str] → Series[list[float]]`` for ``df.select(udf("text"))``."""
    import pandas as pd
    from pyspark.sql.functions import pandas_udf

    @pandas_udf(_embedding_type())  # type: ignore[misc]
    def embed(texts: pd.Series) -> pd.Series:
        encoder = cached(Encoder, model, "cpu", "float32", threads or task_cpus(), batch_size, 8192)
        if texts.isna().any():
            row = int(texts.isna().to_numpy().nonzero()[0][0])
            raise ValueError(f"null text at row {row} of this batch")
        vectors = encoder.embed(texts.tolist())
        return pd.Series(list(vectors))

    return embed

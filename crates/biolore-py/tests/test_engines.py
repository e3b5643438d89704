"""biolore inside Spark (local[2], mapInArrow and a pandas UDF) and Ray Data (map_batches with an
actor pool): vectors equal `biolore embed` on the same rows, links equal the package's."""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import pytest

import biolore
from conftest import MINILM, ROOT, run

ROWS = 300


def engine(name: str, hint: str):
    """The engine's module; skipped when absent, unless scripts/test-python.sh installed it."""
    if os.environ.get("BIOLORE_ENGINE_TESTS") == "1":
        import importlib

        return importlib.import_module(name)
    return pytest.importorskip(name, reason=hint)


def names() -> list[str]:
    """Distinct disease names from the committed dictionary."""
    path = ROOT / "fixtures" / "ncbi-disease" / "disease-dictionary.txt"
    seen: list[str] = []
    for line in path.read_text().splitlines():
        for name in line.split("||", 1)[-1].split("|"):
            if name and name not in seen:
                seen.append(name)
        if len(seen) >= ROWS:
            break
    return seen[:ROWS]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[list[str], np.ndarray]:
    texts = names()
    src = tmp_path_factory.mktemp("ref") / "names.jsonl"
    src.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    out = run("embed", "--model", str(MINILM), "--jsonl", "--input", str(src), "--field", "text")
    vectors = np.array([json.loads(l)["embedding"] for l in out.splitlines()], dtype=np.float32)
    return texts, vectors


@pytest.fixture(scope="module")
def spark():
    engine("pyspark", "pip install pyspark (scripts/test-python.sh installs it)")
    from pyspark.sql import SparkSession

    # Workers run this interpreter (where the wheel is installed), as PYSPARK_PYTHON tells a cluster.
    os.environ["PYSPARK_PYTHON"] = sys.executable
    session = (
        SparkSession.builder.master("local[2,3]")  # 2 cores; a task may fail 3 times
        .appName("biolore-test")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .getOrCreate()
    )
    yield session
    session.stop()


def test_spark_map_in_arrow_and_pandas_udf(spark, reference, disease_index) -> None:
    from biolore.spark import embed_dataframe, embed_udf, link_dataframe

    texts, expected = reference
    df = spark.createDataFrame([(i, t) for i, t in enumerate(texts)], "id long, text string").repartition(2)
    assert df.rdd.getNumPartitions() == 2
    out = embed_dataframe(df, str(MINILM), input_col="text").orderBy("id").collect()
    got = np.array([r["embedding"] for r in out], dtype=np.float32)
    assert [r["text"] for r in out] == texts
    assert np.abs(got - expected).max() < 1e-6
    udf_rows = df.select("id", embed_udf(str(MINILM))("text").alias("v")).orderBy("id").collect()
    assert np.abs(np.array([r["v"] for r in udf_rows], dtype=np.float32) - expected).max() < 1e-6
    # A null text fails the task with a message naming the row, or passes through as null.
    with_null = spark.createDataFrame([(0, "stroke"), (1, None)], "id long, text string")
    with pytest.raises(Exception, match=r"null at row \d+ of this batch \(id=1\)"):
        embed_dataframe(with_null, str(MINILM)).collect()
    kept = embed_dataframe(with_null, str(MINILM), nulls="null").orderBy("id").collect()
    assert kept[1]["embedding"] is None and len(kept[0]["embedding"]) == 384
    _, index = disease_index
    mentions = spark.createDataFrame([(i, t) for i, t in enumerate(texts[:40])], "id long, mention string")
    linked = link_dataframe(mentions.repartition(2), str(index), k=3).orderBy("id").collect()
    local = biolore.Linker(str(index)).link(texts[:40], k=3)
    assert [r["candidates"][0]["id"] for r in linked] == [c[0]["id"] for c in local]


def test_spark_retries_a_worker_that_died_with_identical_vectors(spark, reference) -> None:
    from pyspark import TaskContext

    from biolore import Encoder
    from biolore._cache import cached

    texts, expected = reference
    model = str(MINILM)

    def embed_or_die(batches):
        ctx = TaskContext.get()
        encoder = cached(Encoder, model, "cpu", "float32", 1, 32, 8192)
        for i, batch in enumerate(batches):
            if ctx.partitionId() == 0 and ctx.attemptNumber() == 0 and i == 0:
                encoder.embed(batch.column("text").to_pylist())  # mid-partition, then the worker dies
                os._exit(1)
            yield encoder.embed_arrow(batch)

    from pyspark.sql.types import ArrayType, FloatType, StructField, StructType

    df = spark.createDataFrame([(i, t) for i, t in enumerate(texts)], "id long, text string").repartition(2)
    schema = StructType(df.schema.fields + [StructField("embedding", ArrayType(FloatType()), True)])
    rows = df.mapInArrow(embed_or_die, schema).orderBy("id").collect()
    got = np.array([r["embedding"] for r in rows], dtype=np.float32)
    assert np.abs(got - expected).max() < 1e-6


def test_ray_data_map_batches(reference) -> None:
    ray = engine("ray", "pip install 'ray[data]' (scripts/test-python.sh installs it)")
    from biolore.ray import Embed

    texts, expected = reference
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    try:
        ds = ray.data.from_items([{"id": i, "text": t} for i, t in enumerate(texts)], override_num_blocks=4)
        ds = ds.map_batches(
            Embed,
            fn_constructor_kwargs={"model": str(MINILM), "threads": 1},
            batch_format="pyarrow",
            batch_size=64,
            concurrency=2,
            num_cpus=1,
        )
        rows = sorted(ds.take_all(), key=lambda r: r["id"])
    finally:
        ray.shutdown()
    got = np.array([r["embedding"] for r in rows], dtype=np.float32)
    assert [r["text"] for r in rows] == texts
    assert np.abs(got - expected).max() < 1e-6

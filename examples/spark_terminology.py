#!/usr/bin/env python3
"""Embed a terminology-sized name list on Spark into Parquet, then build a biolore index from it.

The cluster recipe at laptop scale: names of a KB → Parquet → Spark workers embed them with the
biolore Python package (mapInArrow, one model load per worker process) → Parquet parts →
`biolore index build --vectors` → an index served from one machine (`biolore link`, `serve`).

The KB is synthetic (the committed NCBI-disease dictionary's names, repeated with a numbered
variant until there are --names distinct names; 1,000,000 by default) so that the example needs
nothing beyond the checkout. With a real terminology, replace steps 1–2 by `biolore kb import`.

usage: python examples/spark_terminology.py WORKDIR [--names N] [--partitions 1,2]
needs: the wheel (scripts/build-wheel.sh), pyspark 4 and pandas < 3, Java 17+, the binary
(cargo build --release) and models/all-MiniLM-L6-v2 (scripts/setup.sh all-MiniLM-L6-v2).
Prints one JSON object: names, seconds and names/s for each partition count, the import time,
and the extrapolation to 16 M names (UMLS-sized) on N such machines.
"""

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(os.environ.get("BIOLORE_BIN", ROOT / "target" / "release" / "biolore"))
MODEL = Path(os.environ.get("BIOLORE_MODELS", ROOT / "models")) / "all-MiniLM-L6-v2"


def biolore(*args: str) -> None:
    subprocess.run([str(BIN), *args], check=True, cwd=ROOT)


def synthetic_dictionary(path: Path, n: int) -> None:
    """A BioSyn dictionary (`id||name`) of n distinct names."""
    source = ROOT / "fixtures" / "ncbi-disease" / "disease-dictionary.txt"
    base: list[str] = []
    for line in source.read_text().splitlines():
        for name in line.split("||", 1)[-1].split("|"):
            if name and name not in base:
                base.append(name)
    with path.open("w") as out:
        for i in range(n):
            name = base[i % len(base)]
            round_ = i // len(base)
            out.write(f"SYN:{i}||{name if round_ == 0 else f'{name}, variant {round_}'}\n")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--names", type=int, default=1_000_000)
    parser.add_argument("--partitions", default="1,2")
    args = parser.parse_args()
    work: Path = args.workdir
    work.mkdir(parents=True, exist_ok=True)

    # 1–2. The KB and the names its index will hold, as Parquet (what workers read).
    synthetic_dictionary(work / "dictionary.txt", args.names)
    biolore("kb", "import", "--format", "biosyn", str(work / "dictionary.txt"), "--out", str(work / "kb.kb"))
    biolore("index", "names", "--kb", str(work / "kb.kb"), "--output", str(work / "names.parquet"))

    os.environ["PYSPARK_PYTHON"] = sys.executable
    from pyspark.sql import SparkSession

    from biolore.spark import embed_dataframe

    cores = os.cpu_count() or 1
    spark = (
        SparkSession.builder.master(f"local[{cores}]")
        .appName("biolore-terminology")
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    report: dict = {"names": args.names, "cores": cores, "model": MODEL.name, "runs": []}
    vectors = None
    for partitions in [int(p) for p in args.partitions.split(",")]:
        # 3. Spark embeds: each task one partition, threads = spark.task.cpus (1 here).
        df = spark.read.parquet(str(work / "names.parquet")).repartition(partitions)
        df.count()  # read and shuffled before the clock starts
        vectors = work / f"vectors-{partitions}"
        start = time.perf_counter()
        embed_dataframe(df, str(MODEL), input_col="text").write.mode("overwrite").parquet(str(vectors))
        seconds = time.perf_counter() - start
        report["runs"].append(
            {"partitions": partitions, "seconds": round(seconds, 1), "names_per_s": round(args.names / seconds, 1)}
        )
        print(json.dumps(report["runs"][-1]), file=sys.stderr)
    spark.stop()

    # 4. One machine builds the index from the parts and serves it.
    start = time.perf_counter()
    biolore("index", "build", "--kb", str(work / "kb.kb"), "--model", str(MODEL),
            "--vectors", str(vectors), "--out", str(work / "index"))
    report["import_seconds"] = round(time.perf_counter() - start, 1)
    biolore("link", "--index", str(work / "index"), "-k", "3", "heart attack")

    best = max(r["names_per_s"] for r in report["runs"])
    report["extrapolation_16M_names_hours"] = {
        f"{machines}_machines": round(16_000_000 / (best * machines) / 3600, 1) for machines in (1, 8, 32, 128)
    }
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())

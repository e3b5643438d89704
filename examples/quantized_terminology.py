#!/usr/bin/env python3
"""A terminology-scale index, float32 against int8: size, build time and search latency.

UMLS has about 16 M names; at 768 float32 dimensions their vectors take 49 GB. This example
makes a synthetic KB of --names names from an existing float32 index (its names repeated as
", variant k", each copy's vector the original plus seeded noise, renormalised), imports the
vectors twice — `index build --vectors … --precision f32` and `--precision int8` — and, with
--bench, measures single-mention latency on each with `biolore bench --link-index`.

Embedding 2 M names would take hours on a small machine; importing precomputed vectors
measures what the index itself costs (writing, quantizing, the files' size). The names/s of
embedding are `index build`'s own figure (README, Performance).

usage: python examples/quantized_terminology.py WORKDIR --base-index INDEX [--names 2000000]
       [--bench]
needs: numpy and pyarrow, the binary (cargo build --release), the base index's model.
Prints one JSON object.
"""

import argparse
import json
import os
import subprocess
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(os.environ.get("BIOLORE_BIN", ROOT / "target" / "release" / "biolore"))
VARIANT = ", variant "


def biolore(*args: str, capture: bool = False) -> str:
    done = subprocess.run(
        [str(BIN), *args], check=True, cwd=ROOT, text=True, capture_output=capture
    )
    return done.stdout if capture else ""


def folder_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.iterdir() if f.is_file()) / 1e6


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--base-index", type=Path, required=True)
    parser.add_argument("--names", type=int, default=2_000_000)
    parser.add_argument("--noise", type=float, default=0.05)
    parser.add_argument("--bench", action="store_true")
    args = parser.parse_args()
    work: Path = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    manifest = json.loads((args.base_index / "manifest.json").read_text())
    if manifest.get("precision", "f32") != "f32":
        raise SystemExit("--base-index must be a float32 index")
    dim, rows = manifest["dim"], manifest["names"]
    base = np.memmap(args.base_index / "vectors.f32", dtype="<f4", mode="r", shape=(rows, dim))

    # The base index's names in row order (as `index names` lists them).
    biolore("index", "names", "--kb", str(args.base_index / "kb.bin"), "--output", str(work / "base-names.txt"))
    base_names = (work / "base-names.txt").read_text().splitlines()
    if len(base_names) != rows:
        raise SystemExit(f"{len(base_names)} names listed, {rows} in the index")

    # 1. The synthetic dictionary: base names, then ", variant k" copies; 5 names per concept.
    with (work / "dictionary.txt").open("w") as out:
        for i in range(0, args.names, 5):
            names = []
            for j in range(i, min(i + 5, args.names)):
                name, copy = base_names[j % rows], j // rows
                names.append(name if copy == 0 else f"{name}{VARIANT}{copy}")
            out.write(f"SYN:{i // 5}||{'|'.join(names)}\n")
    biolore("kb", "import", "--format", "biosyn", str(work / "dictionary.txt"), "--out", str(work / "kb.kb"))
    biolore("index", "names", "--kb", str(work / "kb.kb"), "--output", str(work / "names.txt"))
    names = (work / "names.txt").read_text().splitlines()

    # 2. Their vectors: the base name's vector plus noise seeded by the copy, renormalised.
    row_of = {n: r for r, n in enumerate(base_names)}
    schema = pa.schema([("text", pa.string()), ("embedding", pa.list_(pa.float32()))])
    started = time.time()
    with pq.ParquetWriter(work / "vectors.parquet", schema) as writer:
        for first in range(0, len(names), 50_000):
            texts = names[first : first + 50_000]
            source = np.empty(len(texts), dtype=np.int64)
            copies = np.zeros(len(texts), dtype=np.float32)
            for k, text in enumerate(texts):
                head, _, copy = text.rpartition(VARIANT)
                if head and copy.isdigit() and head in row_of:
                    source[k], copies[k] = row_of[head], 1.0
                else:
                    source[k] = row_of[text]
            # Seeded by the batch: the same files on every run.
            rng = np.random.default_rng(first)
            noise = rng.standard_normal((len(texts), dim), dtype=np.float32)
            vectors = base[source] + args.noise * copies[:, None] * noise
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            flat = pa.array(vectors.reshape(-1), type=pa.float32())
            offsets = pa.array(np.arange(0, (len(texts) + 1) * dim, dim, dtype=np.int32))
            embedding = pa.ListArray.from_arrays(offsets, flat)
            writer.write_table(pa.table({"text": texts, "embedding": embedding}, schema=schema))
    report: dict = {
        "names": len(names),
        "dim": dim,
        "model": manifest["model"],
        "vectors_parquet_seconds": round(time.time() - started, 1),
    }

    # 3. The same vectors imported as float32 and as int8.
    for precision in ["f32", "int8"]:
        out = work / f"index-{precision}"
        if out.exists():
            subprocess.run(["rm", "-rf", str(out)], check=True)
        started = time.time()
        biolore(
            "index", "build", "--kb", str(work / "kb.kb"), "--model", manifest["model_path"],
            "--vectors", str(work / "vectors.parquet"), "--out", str(out),
            "--precision", precision,
        )
        entry = {"build_seconds": round(time.time() - started, 1), "index_mb": round(folder_mb(out), 1)}
        vector_file = out / ("vectors.f32" if precision == "f32" else "vectors.i8")
        entry["vectors_mb"] = round(vector_file.stat().st_size / 1e6, 1)
        if args.bench:
            line = biolore("bench", "--link-index", str(out), "--limit", "300", "--json", capture=True)
            bench = json.loads(line.strip().splitlines()[-1])
            entry["single_mention_p50_ms"] = round(bench["latency_p50_ms"], 1)
            entry["single_mention_p99_ms"] = round(bench["latency_p99_ms"], 1)
            entry["batch_mentions_per_s"] = round(bench["batch_mentions_per_s"], 1)
        report[precision] = entry
    # 4. At UMLS size: bytes per name scale linearly.
    per_name_f32 = report["f32"]["vectors_mb"] * 1e6 / len(names)
    per_name_int8 = report["int8"]["vectors_mb"] * 1e6 / len(names)
    report["umls_16m_vectors_gb"] = {
        "f32": round(16e6 * per_name_f32 / 1e9, 1),
        "int8": round(16e6 * per_name_int8 / 1e9, 1),
        "f32_at_768": round(16e6 * 768 * 4 / 1e9, 1),
        "int8_at_768": round(16e6 * 768 / 1e9, 1),
    }
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

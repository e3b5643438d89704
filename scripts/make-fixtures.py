#!/usr/bin/env python3
"""Regenerates the NCBI-disease-derived test fixtures under fixtures/ncbi-disease/.

Reads the NCBI-disease corpus (public domain, NLM) from ../shared/data/ncbi-disease (or the
folder given as the first argument) and writes:

* disease-dictionary.txt — a BioSyn-format dictionary (`ID||name|synonym|...`) whose names are
  the training set's annotated mentions of each concept (the most frequent mention first). It
  stands in for MEDIC in the tests: MEDIC is CTD's and may not be redistributed.
* NCBItrainset_first40.txt — the first 40 training abstracts (for --add-mentions tests).

The dev excerpt NCBIdevelopset_first50.txt is cut the same way (first 50 abstracts).
"""
import collections
import pathlib
import sys

root = pathlib.Path(__file__).resolve().parent.parent
src = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else root.parent / "shared/data/ncbi-disease"
out = root / "fixtures/ncbi-disease"
train = (src / "NCBItrainset_corpus.txt").read_text()

names = collections.defaultdict(collections.Counter)
for line in train.splitlines():
    f = line.split("\t")
    if len(f) < 6 or "|" in f[5] or "+" in f[5] or f[5].strip() in ("", "-1"):
        continue
    names[f[5].strip()][f[3].strip().lower()] += 1

lines = []
for cid in sorted(names):
    ranked = [n for n, _ in sorted(names[cid].items(), key=lambda kv: (-kv[1], kv[0]))]
    lines.append(f"{cid}||" + "|".join(ranked))
(out / "disease-dictionary.txt").write_text("\n".join(lines) + "\n")

blocks = [b for b in train.split("\n\n") if b.strip()]
(out / "NCBItrainset_first40.txt").write_text("\n\n".join(blocks[:40]) + "\n")
print(f"{len(lines)} concepts, {sum(len(v) for v in names.values())} names")

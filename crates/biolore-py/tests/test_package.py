"""The Python package against the CLI: same vectors, same candidates, clear errors, fork safety."""

from __future__ import annotations

import json
import multiprocessing as mp
import pickle
import threading

import numpy as np
import pytest

import biolore
from conftest import MINILM, run

TEXTS = ["heart attack", "myocardial infarction", "Type 2 diabetes mellitus", "a" * 3000]


@pytest.fixture(scope="module")
def encoder() -> biolore.Encoder:
    return biolore.Encoder(str(MINILM), threads=2)


def cli_vectors(texts: list[str], tmp_path) -> np.ndarray:
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    out = run("embed", "--model", str(MINILM), "--jsonl", "--input", str(src), "--field", "text")
    return np.array([json.loads(line)["embedding"] for line in out.splitlines()], dtype=np.float32)


def test_embed_equals_the_cli(encoder: biolore.Encoder, tmp_path) -> None:
    vectors = encoder.embed(TEXTS)
    assert vectors.shape == (len(TEXTS), 384) and vectors.dtype == np.float32
    assert encoder.dim == 384
    cli = cli_vectors(TEXTS, tmp_path)
    # The CLI writes decimal floats: equal to their printed precision.
    assert np.abs(vectors - cli).max() < 1e-6
    sim = float(vectors[0] @ vectors[1])
    assert sim > float(vectors[0] @ vectors[2])


def test_an_installed_name_and_order_independence(encoder: biolore.Encoder) -> None:
    by_name = biolore.Encoder("all-MiniLM-L6-v2", threads=1)
    a = by_name.embed(["heart attack", "stroke"])
    b = encoder.embed(["stroke", "heart attack"])
    assert np.array_equal(a[0], b[1]) and np.array_equal(a[1], b[0])
    assert encoder.embed([]).shape == (0, 384)


def test_bad_input_is_a_python_exception_naming_it(encoder: biolore.Encoder) -> None:
    with pytest.raises(TypeError, match="not a single string"):
        encoder.embed("heart attack")
    with pytest.raises(TypeError, match=r"texts\[1\] is None"):
        encoder.embed(["a", None])
    with pytest.raises(TypeError, match=r"texts\[0\] is a int"):
        encoder.embed([3])
    with pytest.raises(biolore.BioloreError, match="no-such-model"):
        biolore.Encoder("no-such-model-anywhere/no-such-model")
    with pytest.raises(ValueError, match="int8"):
        biolore.Encoder(str(MINILM), precision="int4")
    with pytest.raises(ValueError, match="threads"):
        biolore.Encoder(str(MINILM), threads=0)
    with pytest.raises(biolore.BioloreError, match="cuda|device"):
        biolore.Encoder(str(MINILM), device="tpu")


def test_int8_encoder_keeps_the_float32_vectors(encoder: biolore.Encoder) -> None:
    texts = ["heart attack", "Patient denies chest pain or shortness of breath."]
    want = encoder.embed(texts)
    got = biolore.Encoder(str(MINILM), precision="int8").embed(texts)
    assert got.shape == want.shape and got.dtype == want.dtype
    cosines = (got * want).sum(axis=1)  # both L2-normalised
    assert cosines.min() >= 0.999, cosines


def test_embed_arrow_keeps_columns_and_handles_nulls(encoder: biolore.Encoder) -> None:
    import pyarrow as pa  # installed by scripts/test-python.sh: missing fails, never skips
    batch = pa.RecordBatch.from_pydict({"id": [1, 2], "text": ["heart attack", "stroke"]})
    out = encoder.embed_arrow(batch)
    assert out.schema.names == ["id", "text", "embedding"]
    assert out.schema.field("embedding").type == pa.list_(pa.float32())
    got = np.array(out.column("embedding").to_pylist(), dtype=np.float32)
    assert np.array_equal(got, encoder.embed(["heart attack", "stroke"]))
    with_null = pa.table({"text": ["stroke", None, "heart attack"]})
    with pytest.raises(ValueError, match="null at row 1 of this batch"):
        encoder.embed_arrow(with_null)
    table = encoder.embed_arrow(with_null, nulls="null")
    column = table.column("embedding").to_pylist()
    assert column[1] is None and len(column[0]) == 384 and column[0] != column[2]
    array = encoder.embed_arrow(pa.array(["stroke"]))
    assert len(array) == 1 and len(array[0]) == 384
    with pytest.raises(KeyError, match="no column 'txt'"):
        encoder.embed_arrow(batch, field="txt")


def _child_embeds(encoder: biolore.Encoder, queue) -> None:
    queue.put(encoder.embed(["heart attack"]).tolist())


def test_safe_after_fork_and_in_threads(encoder: biolore.Encoder) -> None:
    before = encoder.embed(["heart attack"])  # the parent's pool exists now
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_child_embeds, args=(encoder, queue))
    child.start()
    got = np.array(queue.get(timeout=120), dtype=np.float32)
    child.join(timeout=60)
    assert child.exitcode == 0
    assert np.array_equal(got, before)
    # Two Python threads at once (the GIL is released while the model runs).
    results: list[np.ndarray] = []
    workers = [threading.Thread(target=lambda: results.append(encoder.embed(TEXTS))) for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert len(results) == 2 and np.array_equal(results[0], results[1])


def test_pickling_reloads_by_arguments(encoder: biolore.Encoder) -> None:
    clone = pickle.loads(pickle.dumps(encoder))
    assert clone.model_path == encoder.model_path
    assert np.array_equal(clone.embed(["stroke"]), encoder.embed(["stroke"]))


def test_linker_and_knowledge_base_match_the_cli(disease_index, tmp_path) -> None:
    kb_path, index = disease_index
    linker = biolore.Linker(str(index))
    assert linker.concepts > 100 and linker.names >= linker.concepts
    mentions = ["colorectal cancer", "ataxia telangiectasia", "breast and ovarian cancer"]
    ranked = linker.link(mentions, k=3)
    assert [len(r) for r in ranked] == [3, 3, 3]
    top = ranked[0][0]
    assert set(top) == {"id", "name", "matched", "score"} and 0 < top["score"] <= 1.0001
    assert ranked[0][0]["score"] >= ranked[0][1]["score"]
    src = tmp_path / "mentions.jsonl"
    src.write_text("".join(json.dumps({"mention": m}) + "\n" for m in mentions))
    cli = [json.loads(l) for l in run("link", "--index", str(index), "--input", str(src), "--top-k", "3").splitlines()]
    assert [c["candidates"][0]["id"] for c in cli] == [r[0]["id"] for r in ranked]
    kb = biolore.KnowledgeBase.load(str(kb_path))
    assert len(kb) == linker.concepts
    concept = kb[top["id"]]
    assert concept["name"] == top["name"] and top["id"] in kb
    assert kb.names(top["id"])[0] == concept["name"]
    assert kb.get("NO:SUCH") is None
    with pytest.raises(KeyError):
        kb["NO:SUCH"]
    with pytest.raises(biolore.BioloreError, match="missing.kb"):
        biolore.KnowledgeBase.load(str(tmp_path / "missing.kb"))
    with pytest.raises(biolore.BioloreError):
        biolore.Linker(str(tmp_path / "no-index"))


def test_linker_contexts_and_the_hybrid_linker_match_the_cli(disease_index, smollm2, tmp_path) -> None:
    _, index = disease_index
    mentions = ["WD", "breast cancer"]
    contexts = ["Wilson disease (WD) is a copper disorder.", None]
    src = tmp_path / "mentions.jsonl"
    src.write_text(
        "".join(
            json.dumps({"mention": m} if c is None else {"mention": m, "context": c}) + "\n"
            for m, c in zip(mentions, contexts)
        )
    )

    def cli(*extra: str) -> list[list[str]]:
        out = run("link", "--index", str(index), "--format", "jsonl", "--input", str(src),
                  "--top-k", "3", *extra)
        return [[c["id"] for c in json.loads(l)["candidates"]] for l in out.splitlines()]

    dense = biolore.Linker(str(index))
    assert dense.kind == "dense"
    ranked = dense.link(mentions, k=3, contexts=contexts)
    assert [[c["id"] for c in r] for r in ranked] == cli()
    assert ranked[0][0]["id"] == "MESH:D006527", "WD expanded from its context"
    with pytest.raises(ValueError, match="1 contexts for 2 mentions"):
        dense.link(mentions, contexts=["x"])
    with pytest.raises(TypeError, match="not a string"):
        dense.link(mentions, contexts="ab")

    hybrid = biolore.Linker(str(index), linker="hybrid", generator=str(smollm2))
    assert hybrid.kind == "hybrid" and "hybrid" in repr(hybrid)
    got = hybrid.link(mentions, k=3, contexts=contexts)
    want = cli("--linker", "hybrid", "--generator", str(smollm2))
    assert [[c["id"] for c in r] for r in got] == want
    with pytest.raises(biolore.BioloreError):
        biolore.Linker(str(index), linker="generative")  # no generator
    with pytest.raises(ValueError, match="dense"):
        biolore.Linker(str(index), linker="sparse")


def test_extractor_matches_the_cli(ade_student, tmp_path) -> None:
    sentences = [
        "A 45-year-old man developed rhabdomyolysis while taking simvastatin.",
        "Blood cultures were negative and the fever resolved.",
        # Two sentences in one text: split as `biolore extract` splits a line.
        "Blood cultures were negative. Hepatitis was attributed to isoniazid in this patient.",
    ]
    extractor = biolore.Extractor(str(ade_student))
    got = extractor.extract(sentences)
    assert len(got) == 3
    src = tmp_path / "sentences.txt"
    src.write_text("\n".join(sentences) + "\n")
    cli = [json.loads(l) for l in run("extract", "--model", str(ade_student), "--input", str(src)).splitlines()]
    for mine, theirs, text in zip(got, cli, sentences):
        assert [(r["drug"]["start"], r["drug"]["end"], r["effect"]["start"], r["effect"]["end"]) for r in mine] == [
            (r["drug"]["start"], r["drug"]["end"], r["effect"]["start"], r["effect"]["end"]) for r in theirs["relations"]
        ]
        for r in mine:
            assert text[r["drug"]["start"]:r["drug"]["end"]] == r["drug"]["text"]
            assert 0 < r["score"] <= 1
    assert any(got), "the student finds the fixture's kind of relation"
    clone = pickle.loads(pickle.dumps(extractor))
    assert clone.extract(sentences[:1]) == got[:1]
    with pytest.raises(TypeError, match=r"texts\[1\]"):
        extractor.extract(["fine", None])
    with pytest.raises(biolore.BioloreError):
        biolore.Extractor(str(tmp_path / "no-student"))


def test_generator_matches_the_cli(smollm2) -> None:
    generator = biolore.Generator(str(smollm2))
    text = generator.generate("Name one symptom of influenza.", max_tokens=12)
    cli = json.loads(run("generate", "--model", str(smollm2), "--max-tokens", "12", "--json",
                         "Name one symptom of influenza."))
    assert text == cli["text"] and text.strip()
    raw = generator.generate("The capital of France is", max_tokens=4, raw=True)
    cli_raw = json.loads(run("generate", "--model", str(smollm2), "--max-tokens", "4", "--raw",
                             "--json", "The capital of France is"))
    assert raw == cli_raw["text"] and raw != text, "raw skips the chat template"
    with pytest.raises(ValueError):
        generator.generate("x", max_tokens=0)
    with pytest.raises(biolore.BioloreError, match="no decoder"):
        biolore.Generator("no-such-decoder.gguf")

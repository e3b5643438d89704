"""biolore: biomedical concept and sentence embeddings and entity linking from one native library.

>>> import biolore
>>> encoder = biolore.Encoder("all-MiniLM-L6-v2")          # a folder, an installed name or a hub id
>>> encoder.embed(["heart attack"]).shape                   # numpy float32 [n, dim]
(1, 384)
>>> linker = biolore.Linker("data/indexes/hpo.all-MiniLM-L6-v2")
>>> linker.link(["heart attack"], k=3)[0][0]["id"]
>>> biolore.Extractor("runs/ade-student").extract(["Rhabdomyolysis after simvastatin."])
>>> biolore.Generator("SmolLM2-135M-Instruct.Q4_1.gguf").generate("What is a fever?")

Compute releases the GIL and runs on a thread pool built lazily in the process that uses it
(safe in the forked workers of Spark and Ray); ``threads`` sizes it (default: every core the
process may use). Library errors raise :class:`BioloreError` with the library's message.
"""

from __future__ import annotations

from typing import Any, Iterable, Sequence

import numpy as np

from . import _native
from ._native import BioloreError, KnowledgeBase

__all__ = [
    "Encoder",
    "Linker",
    "KnowledgeBase",
    "Extractor",
    "Generator",
    "BioloreError",
    "__version__",
]
__version__: str = _native.__version__

_NULLS = ("error", "null")


class Encoder:
    """A sentence encoder: texts → float32 vectors, as ``biolore embed`` computes them.

    ``model`` is a model folder, a name installed under ``BIOLORE_MODELS`` (``./models`` by
    default) or a Hugging Face hub id. ``precision`` is ``"float32"`` or ``"int8"`` (dense layers
    quantized at load on the CPU: about twice as fast with AVX-512 VNNI, vectors within cosine
    0.999 of float32). ``threads`` sizes this encoder's worker pool (default: the usable cores).
    """

    def __init__(
        self,
        model: str,
        device: str = "cpu",
        precision: str = "float32",
        threads: int | None = None,
        batch_size: int = 32,
        max_batch_tokens: int = 8192,
    ) -> None:
        self._args = (str(model), device, precision, threads, batch_size, max_batch_tokens)
        self._native = _native.Encoder(*self._args)

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled by its arguments: the receiving process loads the model itself.
        return (Encoder, self._args)

    def __repr__(self) -> str:
        return repr(self._native)

    @property
    def dim(self) -> int:
        """Dimension of the vectors."""
        return self._native.dim

    @property
    def model_path(self) -> str:
        """The model folder in use."""
        return self._native.model_path

    @property
    def threads(self) -> int:
        """Worker threads of this encoder."""
        return self._native.threads

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of ``texts`` as a float32 array ``[len(texts), dim]``."""
        return self._native.embed(texts)

    def embed_arrow(
        self,
        data: Any,
        field: str = "text",
        column: str = "embedding",
        nulls: str = "error",
    ) -> Any:
        """Embeds an Arrow column (needs ``pyarrow``).

        ``data`` is a ``pyarrow`` string array (plain or chunked): the result is a
        ``list<float32>`` array of the same length. Or ``data`` is a ``RecordBatch`` or ``Table``:
        the result is the same with a ``column`` of vectors added after the input columns, the
        texts read from ``field``. Null texts raise a ``ValueError`` naming the row
        (``nulls="error"``) or get a null vector (``nulls="null"``).
        """
        import pyarrow as pa

        if nulls not in _NULLS:
            raise ValueError(f"nulls must be one of {_NULLS}, not {nulls!r}")
        if isinstance(data, (pa.RecordBatch, pa.Table)):
            if field not in data.schema.names:
                raise KeyError(
                    f"no column {field!r} (columns: {', '.join(data.schema.names)})"
                )
            if column in data.schema.names:
                raise ValueError(f"the input already has a column {column!r}")
            vectors = self._embed_array(data.column(field), field, nulls, data)
            return data.append_column(pa.field(column, vectors.type), vectors)
        return self._embed_array(data, field, nulls)

    def _embed_array(self, array: Any, field: str, nulls: str, batch: Any = None) -> Any:
        import pyarrow as pa

        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
        if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
            raise TypeError(f"column {field!r} is {array.type}, not a string column")
        values = array.to_pylist()
        missing = [i for i, v in enumerate(values) if v is None]
        if missing and nulls == "error":
            raise ValueError(
                f"column {field!r} is null at row {missing[0]} of this batch"
                f"{_row_key(batch, field, missing[0])} ({len(missing)} null rows); "
                "pass nulls='null' to give them null vectors"
            )
        texts = [v for v in values if v is not None]
        dim = self.dim
        flat = self._native.embed(texts).reshape(-1)
        lengths = np.array([0 if v is None else dim for v in values], dtype=np.int32)
        offsets = np.zeros(len(values) + 1, dtype=np.int32)
        np.cumsum(lengths, out=offsets[1:])
        mask = pa.array([v is None for v in values], type=pa.bool_()) if missing else None
        return pa.ListArray.from_arrays(
            pa.array(offsets), pa.array(flat, type=pa.float32()), mask=mask
        )


def _row_key(batch: Any, field: str, row: int) -> str:
    """`` (id=…)``: the row's first other column, to find it in a batch of a larger table."""
    if batch is None:
        return ""
    for name in batch.schema.names:
        if name != field:
            return f" ({name}={batch.column(name)[row].as_py()!r})"
    return ""


class Linker:
    """A linker over an index folder built by ``biolore index build``.

    ``model`` defaults to the index's model; ``approximate`` searches the index's HNSW graph.
    ``linker`` is ``"dense"`` (nearest names), ``"generative"`` (``generator`` writes the concept
    name under a prefix trie of the KB's names, as ANGEL does) or ``"hybrid"`` (the generator
    re-scores the dense top ``hybrid_depth``; ``hybrid_weight`` is its share). ``generator`` is a
    folder from ``biolore train link-generative`` / ``train link-dpo``, a GGUF file or a name
    under ``BIOLORE_MODELS``.
    """

    def __init__(
        self,
        index: str,
        model: str | None = None,
        device: str = "cpu",
        threads: int | None = None,
        approximate: bool = False,
        batch_size: int = 32,
        max_batch_tokens: int = 8192,
        linker: str = "dense",
        generator: str | None = None,
        beams: int = 5,
        hybrid_depth: int = 10,
        hybrid_weight: float = 0.5,
    ) -> None:
        self._args = (
            str(index),
            model,
            device,
            threads,
            approximate,
            batch_size,
            max_batch_tokens,
            linker,
            None if generator is None else str(generator),
            beams,
            hybrid_depth,
            hybrid_weight,
        )
        self._native = _native.Linker(*self._args)

    @property
    def kind(self) -> str:
        """Which linker ranks: ``dense``, ``generative`` or ``hybrid``."""
        return self._native.kind

    def __reduce__(self) -> tuple[Any, ...]:
        return (Linker, self._args)

    def __repr__(self) -> str:
        return repr(self._native)

    @property
    def concepts(self) -> int:
        """Concepts the index holds."""
        return self._native.concepts

    @property
    def names(self) -> int:
        """Names the index holds."""
        return self._native.names

    @property
    def index_path(self) -> str:
        """The index folder."""
        return self._native.index_path

    def link(
        self,
        mentions: Iterable[str],
        k: int = 5,
        contexts: Iterable[str | None] | None = None,
    ) -> list[list[dict[str, Any]]]:
        """The ``k`` best concepts per mention, best first: dicts with ``id``, ``name``,
        ``matched`` (the closest name) and ``score``. ``contexts`` (a text or ``None`` per
        mention: the sentence or document it came from) expands abbreviations defined there and
        is what a generative linker reads around the mention, as ``biolore link`` does with a
        JSONL ``context`` field."""
        if isinstance(contexts, str):
            raise TypeError("contexts must be a list (one text or None per mention), not a string")
        return self._native.link(mentions, k, None if contexts is None else list(contexts))

    def link_arrow(
        self,
        data: Any,
        field: str = "mention",
        column: str = "candidates",
        k: int = 5,
        context_field: str = "context",
    ) -> Any:
        """Links an Arrow ``RecordBatch``/``Table``'s ``field`` column; adds ``column`` as
        ``list<struct<id, name, matched, score>>`` (null mentions get null candidates). A
        ``context_field`` column, when there is one, gives each mention its context, as
        ``biolore link --context-field`` reads it from Parquet."""
        import pyarrow as pa

        if field not in data.schema.names:
            raise KeyError(f"no column {field!r} (columns: {', '.join(data.schema.names)})")
        values = data.column(field).to_pylist()
        present = [v for v in values if v is not None]
        contexts = None
        if context_field in data.schema.names:
            all_contexts = data.column(context_field).to_pylist()
            contexts = [c for v, c in zip(values, all_contexts) if v is not None]
        ranked = iter(self.link(present, k, contexts))
        rows = [None if v is None else next(ranked) for v in values]
        vectors = pa.array(rows, type=CANDIDATES_TYPE)
        return data.append_column(pa.field(column, vectors.type), vectors)


class Extractor:
    """Adverse drug events (drug, effect) in sentences, with a student trained by
    ``biolore train extractor`` — the relations ``biolore extract`` finds."""

    def __init__(
        self,
        model: str,
        device: str = "cpu",
        threads: int | None = None,
        batch_size: int = 32,
    ) -> None:
        self._args = (str(model), device, threads, batch_size)
        self._native = _native.Extractor(*self._args)

    def __reduce__(self) -> tuple[Any, ...]:
        return (Extractor, self._args)

    def __repr__(self) -> str:
        return repr(self._native)

    @property
    def model_path(self) -> str:
        """The extractor's folder."""
        return self._native.model_path

    def extract(self, texts: Sequence[str]) -> list[list[dict[str, Any]]]:
        """The relations of each text (split into sentences, as ``biolore extract`` reads a line):
        dicts with ``drug`` and ``effect`` (each ``text``, ``start``, ``end`` in characters of
        the text) and ``score`` (confidence)."""
        return self._native.extract(texts)


class Generator:
    """A decoder (a GGUF file or a Hugging Face folder: SmolLM2, Qwen2.5, or what ``biolore
    train lm`` / ``train link-generative`` write), generating greedily as ``biolore generate``.

    ``quantized=False`` dequantizes a GGUF file to float32 (as training does)."""

    def __init__(
        self,
        model: str,
        device: str = "cpu",
        quantized: bool = True,
        threads: int | None = None,
    ) -> None:
        self._args = (str(model), device, quantized, threads)
        self._native = _native.Generator(*self._args)

    def __reduce__(self) -> tuple[Any, ...]:
        return (Generator, self._args)

    def __repr__(self) -> str:
        return repr(self._native)

    @property
    def model_path(self) -> str:
        """The decoder's file or folder."""
        return self._native.model_path

    def generate(
        self,
        text: str,
        max_tokens: int = 128,
        system: str | None = None,
        raw: bool = False,
    ) -> str:
        """The text generated for ``text``: a user message under the model's chat template
        (after ``system``, if given), or with ``raw=True`` the prompt as it is."""
        return self._native.generate(text, max_tokens, system, raw)


def _candidates_type() -> Any:
    try:
        import pyarrow as pa
    except ImportError:  # pyarrow is optional
        return None
    return pa.list_(
        pa.struct(
            [
                ("id", pa.string()),
                ("name", pa.string()),
                ("matched", pa.string()),
                ("score", pa.float32()),
            ]
        )
    )


CANDIDATES_TYPE = _candidates_type()
"""Arrow type of linked candidates (as ``biolore link`` writes them to Parquet)."""

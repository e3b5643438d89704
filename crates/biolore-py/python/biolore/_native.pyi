"""Type stubs of the native module (see ``biolore/__init__.py`` for the documented API)."""

from os import PathLike
from typing import Any, Sequence

import numpy as np

__version__: str

class BioloreError(Exception):
    """An error from the biolore library."""

class Encoder:
    def __init__(
        self,
        model: str,
        device: str = "cpu",
        precision: str = "float32",
        threads: int | None = None,
        batch_size: int = 32,
        max_batch_tokens: int = 8192,
    ) -> None: ...
    def embed(self, texts: Sequence[str]) -> np.ndarray: ...
    @property
    def dim(self) -> int: ...
    @property
    def model_path(self) -> str: ...
    @property
    def threads(self) -> int: ...

class Linker:
    def __init__(
        self,
        index: str | PathLike[str],
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
    ) -> None: ...
    def link(
        self,
        mentions: Sequence[str],
        k: int = 5,
        contexts: Sequence[str | None] | None = None,
    ) -> list[list[dict[str, Any]]]: ...
    @property
    def kind(self) -> str: ...
    @property
    def names(self) -> int: ...
    @property
    def concepts(self) -> int: ...
    @property
    def index_path(self) -> str: ...

class KnowledgeBase:
    @staticmethod
    def load(path: str | PathLike[str]) -> KnowledgeBase: ...
    def get(self, id: str, default: Any = None) -> dict[str, Any] | Any: ...
    def __getitem__(self, id: str) -> dict[str, Any]: ...
    def __contains__(self, id: str) -> bool: ...
    def __len__(self) -> int: ...
    def ids(self) -> list[str]: ...
    def names(self, id: str) -> list[str]: ...
    @property
    def source(self) -> str: ...

class Extractor:
    def __init__(
        self,
        model: str | PathLike[str],
        device: str = "cpu",
        threads: int | None = None,
        batch_size: int = 32,
    ) -> None: ...
    def extract(self, texts: Sequence[str]) -> list[list[dict[str, Any]]]: ...
    @property
    def model_path(self) -> str: ...

class Generator:
    def __init__(
        self,
        model: str,
        device: str = "cpu",
        quantized: bool = True,
        threads: int | None = None,
    ) -> None: ...
    def generate(
        self,
        text: str,
        max_tokens: int = 128,
        system: str | None = None,
        raw: bool = False,
    ) -> str: ...
    @property
    def model_path(self) -> str: ...

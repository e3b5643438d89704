"""One model per worker process: engines call the same function for every partition or batch,
and the encoder or linker it needs is loaded once per process and kept."""

from __future__ import annotations

import os
import threading
from typing import Any

_lock = threading.Lock()
_loaded: dict[tuple[Any, ...], Any] = {}


def cached(kind: type, *args: Any) -> Any:
    """``kind(*args)``, built once per (process, arguments)."""
    key = (os.getpid(), kind.__name__, args)
    with _lock:
        obj = _loaded.get(key)
        if obj is None:
            obj = kind(*args)
            _loaded[key] = obj
        return obj

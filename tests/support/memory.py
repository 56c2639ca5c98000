"""Peak Python allocation of one call (tracemalloc), for tests that bound memory, never time."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def python_peak(call: Callable[[], T]) -> tuple[T, int]:
    """``call()``'s result and the most bytes Python had allocated at once during it."""
    tracemalloc.start()
    try:
        result = call()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return result, peak

"""The C allocator's setting for large blocks, once per process (issue 15: memory flat).

glibc serves a block over its mmap threshold with a mapping of its own, returned to the system
when freed; but the threshold follows the largest block freed so far (up to 32 MiB). After one
large message, every later copy of a large message (its bytes, its ciphertext, SQLite's record
buffer) came from the heap instead, where freed memory stays with the process and scatters:
``fetch --once`` of one 24 MB message peaked 29 MiB higher than with the threshold held. Holding
it at 1 MiB keeps every such block a mapping of its own; smaller blocks are unchanged.

Anything but glibc (musl, macOS) is left as it is.
"""

from __future__ import annotations

import ctypes
import logging

log = logging.getLogger(__name__)

_M_MMAP_THRESHOLD = -3  # <malloc.h>
MMAP_THRESHOLD = 1 << 20


def map_large_blocks_apart(threshold: int = MMAP_THRESHOLD) -> bool:
    """Fix glibc's mmap threshold at ``threshold`` bytes; False where there is no glibc."""
    try:
        # the C library is already loaded into every CPython: its symbols are the process's own,
        # no search for the library file (find_library runs ldconfig) at every start
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    done = bool(mallopt(_M_MMAP_THRESHOLD, threshold))
    if not done:
        log.debug("mallopt refused the mmap threshold")
    return done

"""Keep umap-learn's compiled numba functions on disk between runs.

umap-learn compiles most of its numba functions without ``cache=True``, so
every new process spends several seconds compiling the same machine code
(about 3.5 s of a 4.7 s topic fit of the bundled 350 papers; see
``benchmarks/bench_cold_start.py``). numba's dispatchers can switch their
on-disk cache on after the fact (``Dispatcher.enable_caching``, what
``cache=True`` calls); we do that once, before the first fit, for the
functions of the umap modules we run. The cache lives where numba puts any
cache: ``__pycache__`` beside umap's sources, or ``$NUMBA_CACHE_DIR``.
"""

from __future__ import annotations

import importlib

# The umap-learn modules whose functions a fit compiles.
UMAP_MODULES = ("umap.umap_", "umap.layouts", "umap.utils", "umap.distances", "umap.sparse")

_enabled = False


def enable_umap_cache() -> int:
    """Switch numba's on-disk cache on for umap-learn's uncached functions.

    Idempotent; returns how many functions it switched on (0 after the first call).
    """
    global _enabled
    if _enabled:
        return 0
    from numba.core.caching import NullCache
    from numba.core.dispatcher import Dispatcher

    count = 0
    for name in UMAP_MODULES:
        module = importlib.import_module(name)
        for value in vars(module).values():
            if isinstance(value, Dispatcher) and isinstance(value._cache, NullCache) \
                    and value.py_func.__module__ == name:
                value.enable_caching()
                count += 1
    _enabled = True
    return count


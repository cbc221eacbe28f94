"""Run a small piece of work on one CPU thread.

For one query (a few texts to embed, a few vectors to search), waking an
OpenMP thread pool costs more than the work, and on a busy machine every
parallel operation waits for a free core: a text query took 0.5 s instead of
15 ms on this project's shared 2-core machine.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator


@contextmanager
def one_thread(library: str, active: bool = True) -> Iterator[None]:
    """Inside the block ``library`` ("torch" or "faiss") uses one CPU thread (when ``active``)."""
    if not active:
        yield
        return
    if library == "torch":
        import torch

        get, put = torch.get_num_threads, torch.set_num_threads
    elif library == "faiss":
        import faiss

        get, put = faiss.omp_get_max_threads, faiss.omp_set_num_threads
    else:
        raise ValueError(f"unknown library {library!r}")
    previous = get()
    put(1)
    try:
        yield
    finally:
        put(previous)

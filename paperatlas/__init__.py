"""paperatlas: embed, cluster, search and map a corpus of paper abstracts.

Importing this package is cheap: heavy libraries (torch, faiss, umap) load
inside the functions that need them.
"""

from __future__ import annotations

from paperatlas._version import __version__
from paperatlas.corpus import Corpus, Paper, read_corpus
from paperatlas.errors import InputError, PaperatlasError
from paperatlas.progress import in_kernel, settle_tqdm

if in_kernel():  # Jupyter: no "IProgress not found" warning from the libraries loaded later
    settle_tqdm()

__all__ = ["Corpus", "InputError", "Paper", "PaperatlasError", "__version__", "list_topic_papers", "read_corpus"]


def __getattr__(name: str):
    """Public names whose modules load on first use (they import numpy)."""
    if name == "list_topic_papers":
        from paperatlas.topic_papers import list_topic_papers

        return list_topic_papers
    raise AttributeError(f"module 'paperatlas' has no attribute {name!r}")

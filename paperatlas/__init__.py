"""paperatlas: embed, cluster, search and map a corpus of paper abstracts.

Importing this package is cheap: heavy libraries (torch, faiss, umap) load
inside the functions that need them.
"""

from __future__ import annotations

from paperatlas._version import __version__
from paperatlas.corpus import Corpus, Paper, read_corpus
from paperatlas.errors import InputError, PaperatlasError

__all__ = ["Corpus", "InputError", "Paper", "PaperatlasError", "__version__", "read_corpus"]

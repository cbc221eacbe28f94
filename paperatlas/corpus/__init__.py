"""Papers, corpora and the readers that make them from input files."""

from __future__ import annotations

from paperatlas.corpus.model import Corpus, Paper, content_hash, normalise_title
from paperatlas.corpus.read import FORMATS, ReadReport, read_corpus, read_papers
from paperatlas.corpus.records import FieldNames

__all__ = [
    "FORMATS",
    "Corpus",
    "FieldNames",
    "Paper",
    "ReadReport",
    "content_hash",
    "normalise_title",
    "read_corpus",
    "read_papers",
]

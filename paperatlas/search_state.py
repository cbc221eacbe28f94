"""What every query needs, computed when papers come or go and saved with the atlas.

The term statistics behind a hit's "why" and the normalised title of each
paper (for title queries) are built by ``Atlas.build``, updated by ``add`` and
``remove``, written by :mod:`paperatlas.store` and read back lazily on the
first query that needs them. The query embedder is loaded on the first text
query. Nothing here is rebuilt from the corpus in a new process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Sequence

import numpy as np

from paperatlas.corpus.model import normalise_title
from paperatlas.embed.base import Embedder, ModelInfo, check_embedder
from paperatlas.embed.sentence import open_embedder
from paperatlas.why import TermStats

if TYPE_CHECKING:
    from paperatlas.lexical import LexicalIndex
    from paperatlas.corpus.model import Corpus, Paper

TERM_SAMPLE = 50_000
"""Above this many papers the term statistics behind "why" come from a seeded sample of this size."""


class SearchState:
    """Term statistics, title keys and the query embedder of one atlas.

    ``terms``, ``title_keys`` and ``lexical`` may be given as loaders (called once, on first use).
    """

    def __init__(
        self,
        terms: TermStats | Callable[[], TermStats],
        title_keys: Sequence[str] | Callable[[], Sequence[str]],
        lexical: LexicalIndex | Callable[[], LexicalIndex],
    ) -> None:
        self._terms = terms
        self._title_keys = title_keys
        self._lexical = lexical
        self._title_rows: dict[str, int] | None = None
        self._embedder: Embedder | None = None

    @classmethod
    def of_corpus(cls, corpus: Corpus) -> SearchState:
        """Term statistics of the corpus (of a seeded sample of ``TERM_SAMPLE`` papers when it is
        larger: document frequencies of a sample rank terms alike) and every paper's title key."""
        texts = corpus.lazy_texts()
        if len(corpus) > TERM_SAMPLE:
            rows = np.sort(np.random.default_rng(0).choice(len(corpus), TERM_SAMPLE, replace=False))
            texts = [texts[int(row)] for row in rows]
        if corpus.arrow_table is not None:
            from paperatlas.corpus.columnar import title_keys

            keys = title_keys(corpus.arrow_table.column("title"))
        else:
            keys = [normalise_title(t) for t in corpus.column("title")]
        return cls(TermStats.of_texts(texts), keys, lexical_of(corpus))

    @property
    def terms(self) -> TermStats:
        if callable(self._terms):
            self._terms = self._terms()
        return self._terms

    @property
    def title_keys(self) -> list[str]:
        """The normalised title of each paper, in row order."""
        if callable(self._title_keys):
            self._title_keys = self._title_keys()
        return list(self._title_keys)

    @property
    def lexical(self) -> LexicalIndex:
        """The BM25 index over titles and abstracts (built or read on first use)."""
        if callable(self._lexical):
            self._lexical = self._lexical()
        return self._lexical

    def title_rows(self) -> dict[str, int]:
        """Normalised title → row (the first paper wins)."""
        if self._title_rows is None:
            rows: dict[str, int] = {}
            for row, key in enumerate(self.title_keys):
                rows.setdefault(key, row)
            self._title_rows = rows
        return self._title_rows

    # the query embedder ---------------------------------------------------------

    def use_embedder(self, embedder: Embedder, model: ModelInfo) -> None:
        """Embed queries with ``embedder``: the atlas's model, or one of its dimension for external vectors."""
        self._embedder = check_embedder(embedder, model)

    def keep_embedder(self, embedder: Embedder) -> None:
        """Embed queries with the embedder that made the atlas's vectors (nothing to check, nothing loaded)."""
        self._embedder = embedder

    def embedder(self, model: ModelInfo) -> Embedder:
        """The embedder of ``model`` (loaded on first use)."""
        if self._embedder is None:
            self._embedder = open_embedder(model)
        return self._embedder

    def has_embedder(self) -> bool:
        return self._embedder is not None

    # changes (each returns a new state that keeps the embedder) -------------------

    def added(self, papers: Sequence[Paper], corpus: Corpus) -> SearchState:
        """The state with ``papers`` appended to a corpus, ``corpus`` being the corpus after it. Term
        statistics counted on a sample (see ``TERM_SAMPLE``) count the new papers at the same rate,
        so the sample stays a uniform one. The BM25 index takes the new papers in place (see
        ``LexicalIndex.appended``) until the corpus outgrows its last full build by
        ``lexical.REBUILD_GROWTH``; then, or when it was never built, it is built over ``corpus``
        on first use."""
        corpus_size = len(corpus) - len(papers)
        terms = self._copied_terms()
        texts = [paper.text for paper in papers]
        if corpus_size and terms.documents < corpus_size:
            rate = terms.documents / corpus_size
            picked = np.random.default_rng(corpus_size).random(len(texts)) < rate
            texts = [text for text, keep in zip(texts, picked) if keep]
        terms.count(texts, +1)
        state = self._successor(terms, self.title_keys + [normalise_title(p.title) for p in papers], corpus)
        current = self._built_lexical(corpus_size)
        if current is not None and current.can_append(len(corpus)):
            state._lexical = current.appended([paper.text for paper in papers])
        return state

    def without(self, keep: np.ndarray, removed: Sequence[Paper], corpus: Corpus) -> SearchState:
        """The state without the papers where ``keep`` is false (``corpus`` is what remains).
        Sampled term statistics are left as they are: which removed papers were in the sample
        is not known. The BM25 index drops the papers in place (see ``LexicalIndex.without``)
        while the corpus stays above its last full build divided by ``lexical.REBUILD_GROWTH``;
        then, or when it was never built, it is built over ``corpus`` on first use."""
        terms = self._copied_terms()
        if terms.documents >= len(keep):
            terms.count([paper.text for paper in removed], -1)
        keys = [key for key, kept in zip(self.title_keys, keep) if kept]
        state = self._successor(terms, keys, corpus)
        current = self._built_lexical(len(keep))
        if current is not None and current.can_remove(len(corpus)):
            state._lexical = current.without(keep, [paper.text for paper in removed])
        return state

    def _built_lexical(self, documents: int) -> LexicalIndex | None:
        """The BM25 index when it is built or saved (not yet to be built) and holds ``documents``
        papers: one that a change may update in place rather than rebuild."""
        if isinstance(self._lexical, LexicalBuild):
            return None
        current = self.lexical
        return current if current.documents == documents else None

    def _copied_terms(self) -> TermStats:
        terms = self.terms
        return TermStats(terms.analyzer, terms.document_frequency.copy(), terms.documents)

    def _successor(self, terms: TermStats, keys: list[str], corpus: Corpus) -> SearchState:
        state = SearchState(terms, keys, lexical_of(corpus))
        state._embedder = self._embedder
        return state


LEXICAL_PROGRESS = 100_000
"""Building the BM25 index of more papers than this shows a progress bar."""


class LexicalBuild:
    """A loader that builds the BM25 index of every paper of a corpus (title and abstract)."""

    def __init__(self, corpus: Corpus) -> None:
        self.corpus = corpus

    def __call__(self) -> LexicalIndex:
        from paperatlas.lexical import LexicalIndex

        return LexicalIndex.build(self.corpus.lazy_texts(), progress=len(self.corpus) > LEXICAL_PROGRESS)


def lexical_of(corpus: Corpus) -> Callable[[], LexicalIndex]:
    """A loader that builds the BM25 index of every paper of ``corpus`` on first use."""
    return LexicalBuild(corpus)

"""Refitting an atlas from its inputs: the saved papers the inputs lack.

A refit (``paperatlas build INPUTS -o ATLAS --refit``, :meth:`paperatlas.atlas.Atlas.refit`)
fits topics on the papers of the inputs. Papers of the saved atlas that the inputs lack
(papers added with ``paperatlas add``, say) would silently leave it, so they are refused
unless the caller lets them go (``--drop-missing``, ``drop_missing=True``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from paperatlas.errors import PaperatlasError
from paperatlas.text_table import cut, plural

if TYPE_CHECKING:
    from paperatlas.corpus.model import Corpus
    from paperatlas.store import SavedTopics

SHOWN = 3
"""Papers named in a message; the rest are counted."""


def describe_papers(papers: Sequence[tuple[str, str]], shown: int = SHOWN) -> str:
    """``t-1 "Title one", t-2 "Title two" and 3 more``: a few ``(id, title)`` pairs, the rest counted."""
    def one(paper_id: str, title: str) -> str:
        title = cut(" ".join(title.split()), 60)
        return f'{paper_id} "{title}"' if title else paper_id

    text = ", ".join(one(*paper) for paper in papers[:shown])
    return text + (f" and {len(papers) - shown} more" if len(papers) > shown else "")


class MissingPapersError(PaperatlasError):
    """Papers of the saved atlas are not in the inputs of a refit.

    Attributes:
        papers: their ``(id, title)`` pairs.
    """

    def __init__(self, papers: Sequence[tuple[str, str]], where: str = "the atlas") -> None:
        self.papers = list(papers)
        verb = "is" if len(self.papers) == 1 else "are"
        super().__init__(
            f"{plural(len(self.papers), 'paper')} of {where} {verb} not in the inputs (added with "
            f"'paperatlas add'?): {describe_papers(self.papers)}; add their files to the inputs, "
            f"or let them leave the atlas with --drop-missing"
        )


def papers_missing(saved: SavedTopics, corpus: Corpus) -> list[tuple[str, str]]:
    """``(id, title)`` of each saved paper whose id is neither an id nor an alias in ``corpus``."""
    return [(paper_id, title) for paper_id, title in zip(saved.ids, saved.titles) if paper_id not in corpus]


def check_missing(saved: SavedTopics, corpus: Corpus, *, drop_missing: bool,
                  where: str = "the atlas") -> list[tuple[str, str]]:
    """The saved papers that leave in a refit on ``corpus`` (``where`` names the saved atlas in the error).

    Raises:
        MissingPapersError: when there are some and ``drop_missing`` is false.
    """
    missing = papers_missing(saved, corpus)
    if missing and not drop_missing:
        raise MissingPapersError(missing, where)
    return missing

"""Merge records of the same paper, never two papers, and keep every id as an alias.

Records are compared only when their titles share a key (:func:`normalise_title`),
so the cost grows with the number of same-title records, not with the corpus: k
records with one title and ids cost up to k²/2 comparisons of about 50 µs (a few
thousand same-title pairs take a fraction of a second; 350 records under one title
about 3 s).

Within such a group two records are the same paper when

1. they share an id (or one's id is the other's alias): always merged;
2. their abstracts agree: :func:`abstract_similarity` at least
   :data:`AGREEMENT` (0.5). The similarity is the Jaccard index of the sets of
   character 4-grams of both abstracts after folding case, accents and
   ligatures, dropping a leading "Abstract"/"Summary" label and removing every
   character that is not a letter or digit (so spacing, hyphenation and
   punctuation do not count). A copy with 5% of its characters garbled by
   OCR-like noise scores about 0.7; the two most alike different papers of the
   bundled corpus score 0.29. An empty abstract is no evidence either way:
   such a record joins the group's first paper;
3. one has no id of its own (its id is derived from its title, as on Daily
   Papers pages): it joins the group's one paper with an id, or, when several
   same-title papers have ids, the one whose abstract agrees best (or none).

Records without ids that share a title are therefore always one paper. Records
with ids, the same title and unrelated abstracts (two papers called "Hybrid
Monte Carlo") stay two papers with their own ids. The merged record keeps the
richest record's id (:func:`merge`); every other input id becomes an alias.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Iterable, Sequence

from paperatlas.corpus.model import Paper, normalise_title, title_id
from paperatlas.errors import PaperatlasError

_FILLABLE = ("date", "upvotes", "byline", "url", "arxiv_id")

AGREEMENT = 0.5
"""Abstracts at least this similar (:func:`abstract_similarity`) are the same paper's."""
GRAM = 4
"""Length of the character n-grams compared."""

SAME_ID, SAME_ABSTRACT, NO_ID = "same id", "same title, abstracts agree", "same title, no id of its own"
"""The rules that merge records (named in :class:`Merge`)."""

_LABEL = re.compile(r"^\W*(?:abstract|summary)(?![^\W_])", re.IGNORECASE)
_NOT_ALNUM = re.compile(r"[\W_]+", re.UNICODE)


def abstract_key(abstract: str) -> str:
    """An abstract folded for comparison: case, accents and ligatures folded, a leading
    "Abstract"/"Summary" label dropped, only letters and digits kept."""
    if abstract.isascii():
        text = abstract.lower()
    else:
        text = unicodedata.normalize("NFKD", abstract)
        text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    return _NOT_ALNUM.sub("", _LABEL.sub("", text, count=1))


def _grams(key: str) -> frozenset[str]:
    return frozenset(key[i:i + GRAM] for i in range(max(1, len(key) - GRAM + 1)))


def abstract_similarity(a: str, b: str) -> float:
    """Jaccard index of the character 4-grams of two abstracts' :func:`abstract_key`; 1.0 when
    either is empty."""
    ka, kb = abstract_key(a), abstract_key(b)
    if not ka or not kb or ka == kb:
        return 1.0
    return _jaccard(_grams(ka), _grams(kb))


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    shared = len(a & b)
    return shared / (len(a) + len(b) - shared)


@dataclass(frozen=True)
class Merge:
    """Records merged into one paper: its id and title, the input ids it answers to, the rules."""

    id: str
    title: str
    aliases: tuple[str, ...]
    records: int
    rules: tuple[str, ...]

    def describe(self) -> str:
        """One line for ``ingest --verbose``."""
        aliases = f"; aliases {', '.join(self.aliases)}" if self.aliases else ""
        return f"merged {self.records} records into {self.id} {self.title[:70]!r} ({'; '.join(self.rules)}{aliases})"


def merge(group: list[Paper]) -> Paper:
    """The richest record of a group, its gaps filled from the others, sources united, and
    every other id and alias of the group kept as an alias."""
    base = max(group, key=lambda paper: paper.richness())
    changes: dict[str, object] = {}
    for name in _FILLABLE:
        if getattr(base, name) is None:
            for other in group:
                if getattr(other, name) is not None:
                    changes[name] = getattr(other, name)
                    break
    sources = list(dict.fromkeys(source for paper in group for source in paper.sources))
    metadata = {}
    for paper in group:
        for key, value in paper.metadata.items():
            metadata.setdefault(key, value)
    metadata.update(base.metadata)
    names = dict.fromkeys(name for paper in group for name in (paper.id, *paper.aliases))
    names.pop(base.id, None)
    return base.with_changes(sources=tuple(sources), metadata=metadata, aliases=tuple(names), **changes)


def same_paper_groups(names: Sequence[Sequence[str]], abstracts: Sequence[str],
                      derived: Sequence[bool]) -> list[tuple[list[int], tuple[str, ...]]]:
    """Split records that share a title key into papers (the rules of this module).

    ``names[i]`` are record i's id and aliases, ``derived[i]`` whether its id was derived from its
    title. Returns ``(records, rules that joined them)`` per paper, in first-seen order.
    """
    n = len(names)
    parent = list(range(n))
    rules: dict[int, set[str]] = {}

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(i: int, j: int, rule: str) -> None:
        a, b = sorted((find(i), find(j)))
        if a != b:
            parent[b] = a
            rules.setdefault(a, set()).update(rules.pop(b, set()))
        rules.setdefault(a, set()).add(rule)

    owner: dict[str, int] = {}
    for i, record_names in enumerate(names):
        for name in record_names:
            if name in owner:
                union(owner[name], i, SAME_ID)
            else:
                owner[name] = i
    keys = [abstract_key(text) for text in abstracts]
    grams: dict[int, frozenset[str]] = {}

    def similarity(i: int, j: int) -> float:
        if not keys[i] or not keys[j] or keys[i] == keys[j]:
            return 1.0
        gi = grams[i] if i in grams else grams.setdefault(i, _grams(keys[i]))
        gj = grams[j] if j in grams else grams.setdefault(j, _grams(keys[j]))
        return _jaccard(gi, gj)

    with_id = [i for i in range(n) if not derived[i]]
    with_text = [i for i in with_id if keys[i]]
    for position, i in enumerate(with_text):
        for j in with_text[:position]:
            if find(i) != find(j) and similarity(i, j) >= AGREEMENT:
                union(j, i, SAME_ABSTRACT)
    for i in with_id:  # an empty abstract is no evidence either way: the record joins the first paper
        if not keys[i] and find(i) == i and with_id[0] != i:
            union(with_id[0], i, SAME_ABSTRACT)
    without_id = [i for i in range(n) if derived[i]]
    if without_id:
        papers = list(dict.fromkeys(find(i) for i in with_id if find(i) != find(without_id[0])))
        if len(papers) == 1:
            union(papers[0], without_id[0], NO_ID)
        elif papers:
            members = {paper: [i for i in with_id if find(i) == paper] for paper in papers}
            best = max(papers, key=lambda paper: max(similarity(i, j) for i in members[paper] for j in without_id))
            if max(similarity(i, j) for i in members[best] for j in without_id) >= AGREEMENT:
                union(best, without_id[0], NO_ID)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    return [(members, tuple(sorted(rules.get(root, ())))) for root, members in groups.items()]


def is_derived_id(paper_id: str, title_key: str) -> bool:
    """Whether ``paper_id`` was derived from a title of this key (:func:`title_id`), not given by the input."""
    return paper_id.startswith("t-") and paper_id == title_id(title_key)


def id_clash(paper_id: str, first_title: str, second_title: str) -> PaperatlasError:
    """The error for an id (or alias) given to records of two different titles."""
    return PaperatlasError(
        f"paper id {paper_id!r} is used by two different titles: "
        f"{first_title[:60]!r} and {second_title[:60]!r}; choose another id field "
        f"with --id-field, or --id-field '' to derive ids from titles"
    )


def dedupe_with_merges(papers: Iterable[Paper]) -> tuple[list[Paper], list[Merge]]:
    """Papers with records of the same paper merged (first-seen order), and the merges."""
    papers = list(papers)
    keys = [normalise_title(paper.title) for paper in papers]
    key_of: dict[str, int] = {}
    for row, paper in enumerate(papers):
        for name in (paper.id, *paper.aliases):
            seen = key_of.setdefault(name, row)
            if keys[seen] != keys[row]:
                raise id_clash(name, papers[seen].title, paper.title)
    groups: dict[str, list[int]] = {}
    for row, key in enumerate(keys):
        groups.setdefault(key, []).append(row)
    slot: dict[int, Paper] = {}
    merges: list[Merge] = []
    for key, rows in groups.items():
        if len(rows) == 1:
            slot[rows[0]] = papers[rows[0]]
            continue
        found = same_paper_groups([(papers[r].id, *papers[r].aliases) for r in rows],
                                  [papers[r].abstract for r in rows],
                                  [is_derived_id(papers[r].id, key) for r in rows])
        for members, rules in found:
            records = [papers[rows[i]] for i in members]
            merged = merge(records) if len(records) > 1 else records[0]
            slot[rows[members[0]]] = merged
            if len(records) > 1:
                merges.append(Merge(merged.id, merged.title, merged.aliases, len(records), rules))
    return [slot[row] for row in sorted(slot)], merges


def dedupe(papers: Iterable[Paper]) -> tuple[list[Paper], int]:
    """Papers with records of the same paper merged (first-seen order) and how many were merged away."""
    papers = list(papers)
    unique, _ = dedupe_with_merges(papers)
    return unique, len(papers) - len(unique)

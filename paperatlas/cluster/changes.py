"""What changed between two topic labellings of (mostly) the same papers.

``compare_topics`` matches old topics to new ones by the papers they share and
classifies every topic of either side (noise is not a topic):

* **kept**: more than ``KEEP_SHARE`` (half) of the old topic's shared papers are in one
  new topic, and they make up more than half of it;
* **split**: one old topic whose papers went to two or more new topics, each made mostly
  (more than ``KEEP_SHARE``) of the old topic's papers and holding at least ``PART_SHARE``
  (a fifth) of them;
* **merged**: two or more old topics that each sent more than half of their papers into
  one new topic, each making up at least ``PART_SHARE`` of it;
* **new** / **gone**: a new (old) topic in none of the above.

Splits are found first, then merges among the topics not split, then kept pairs among
the rest, so each topic appears once. Papers shared by both sides that moved from one
topic to a topic that does not continue it are counted as moved (a few are kept as
examples); papers that became noise, or left noise for a topic, are counted apart.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from paperatlas.cluster.density import NOISE
from paperatlas.errors import PaperatlasError
from paperatlas.text_table import cut

if TYPE_CHECKING:
    import pandas as pd

KEEP_SHARE = 0.5
"""A kept topic: more than this share of the old topic's shared papers, making up more than this share of the new one."""
PART_SHARE = 0.2
"""A part of a split (merge): at least this share of the old (new) topic's shared papers."""
KINDS = ("kept", "split", "merged", "new", "gone")
EXAMPLES = 5
"""Moved papers kept as examples."""


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun if n == 1 else noun + 's'}"


@dataclass(frozen=True)
class TopicRef:
    """A topic on one side: its id, name and size (papers of that side's whole atlas)."""

    id: int
    name: str
    size: int

    def __str__(self) -> str:
        return f"[{self.id}] {self.name}"


@dataclass(frozen=True)
class TopicChange:
    """One kept, split, merged, new or gone topic.

    Attributes:
        kind: one of ``KINDS``.
        old: the old topics involved (one, several for ``merged``, none for ``new``).
        new: the new topics involved (one, several for ``split``, none for ``gone``).
        shared: papers shared by each pair, aligned with the side that has several
            topics (``new`` for split, ``old`` for merged; one number for kept, none otherwise).
    """

    kind: str
    old: tuple[TopicRef, ...]
    new: tuple[TopicRef, ...]
    shared: tuple[int, ...] = ()

    def pairs(self) -> list[tuple[TopicRef | None, TopicRef | None, int | None]]:
        """``(old, new, shared papers)`` for each link of the change (one side None for new/gone)."""
        if self.kind == "new":
            return [(None, self.new[0], None)]
        if self.kind == "gone":
            return [(self.old[0], None, None)]
        if self.kind == "merged":
            return [(old, self.new[0], n) for old, n in zip(self.old, self.shared)]
        return [(self.old[0], new, n) for new, n in zip(self.new, self.shared)]

    def describe(self) -> str:
        """One line, e.g. ``[3] reward modeling: 97 → 56 papers`` (a kept topic whose id and name stay)."""
        if self.kind == "kept":
            (old,), (new,) = self.old, self.new
            renamed = "" if (old.id, old.name) == (new.id, new.name) else f" → {new}"
            sizes = _plural(new.size, "paper") if old.size == new.size else f"{old.size} → {_plural(new.size, 'paper')}"
            return f"{old}{renamed}: {sizes}"
        if self.kind == "split":
            parts = ", ".join(f"{new} ({n} of its papers)" for new, n in zip(self.new, self.shared))
            return f"{self.old[0]} ({_plural(self.old[0].size, 'paper')}) → {parts}"
        if self.kind == "merged":
            parts = " + ".join(f"{old} ({n})" for old, n in zip(self.old, self.shared))
            return f"{parts} → {self.new[0]} ({_plural(self.new[0].size, 'paper')})"
        topic = (self.new or self.old)[0]
        return f"{topic} ({_plural(topic.size, 'paper')})"


@dataclass(frozen=True)
class MovedPaper:
    """A paper that moved from one topic to a topic that does not continue it."""

    id: str
    title: str
    old: TopicRef
    new: TopicRef


@dataclass(frozen=True)
class TopicChanges:
    """What changed between two labellings, at one layer (see the module's rules).

    Attributes:
        layer: the layer compared.
        changes: every topic's change, kept first, then split, merged, new, gone
            (largest first within each kind).
        shared: papers on both sides.
        dropped: ids of papers only on the old side (they left).
        joined: ids of papers only on the new side.
        moved: shared papers that moved between topics that do not continue each other.
        to_noise: shared papers that had a topic and are noise now.
        from_noise: shared papers that were noise and have a topic now.
        examples: a few moved papers, one per most common (old, new) pair.
    """

    layer: int
    changes: tuple[TopicChange, ...]
    shared: int
    dropped: tuple[str, ...] = ()
    joined: tuple[str, ...] = ()
    moved: int = 0
    to_noise: int = 0
    from_noise: int = 0
    examples: tuple[MovedPaper, ...] = ()

    def of_kind(self, kind: str) -> tuple[TopicChange, ...]:
        if kind not in KINDS:
            raise PaperatlasError(f"unknown kind of change {kind!r}; expected one of {', '.join(KINDS)}")
        return tuple(change for change in self.changes if change.kind == kind)

    @property
    def kept(self) -> tuple[TopicChange, ...]:
        return self.of_kind("kept")

    @property
    def split(self) -> tuple[TopicChange, ...]:
        return self.of_kind("split")

    @property
    def merged(self) -> tuple[TopicChange, ...]:
        return self.of_kind("merged")

    @property
    def new(self) -> tuple[TopicChange, ...]:
        return self.of_kind("new")

    @property
    def gone(self) -> tuple[TopicChange, ...]:
        return self.of_kind("gone")

    def counts(self) -> dict[str, int]:
        """Topics per kind of change."""
        return {kind: len(self.of_kind(kind)) for kind in KINDS}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the counts, every change, the paper counts and the examples."""
        return {
            "layer": self.layer,
            "counts": self.counts(),
            "changes": [asdict(change) for change in self.changes],
            "papers": {"shared": self.shared, "dropped": len(self.dropped), "joined": len(self.joined),
                       "moved": self.moved, "to_noise": self.to_noise, "from_noise": self.from_noise},
            "dropped": list(self.dropped),
            "joined": list(self.joined),
            "examples": [asdict(paper) for paper in self.examples],
        }

    def to_frame(self) -> pd.DataFrame:
        """One row per link of a change: kind, old_id, old_name, old_size, new_id, new_name,
        new_size, shared (a split has one row per new part, a merge one per old source)."""
        import pandas as pd

        rows = []
        for change in self.changes:
            for old, new, shared in change.pairs():
                rows.append({
                    "kind": change.kind,
                    "old_id": None if old is None else old.id,
                    "old_name": None if old is None else old.name,
                    "old_size": None if old is None else old.size,
                    "new_id": None if new is None else new.id,
                    "new_name": None if new is None else new.name,
                    "new_size": None if new is None else new.size,
                    "shared": shared,
                })
        frame = pd.DataFrame(rows, columns=["kind", "old_id", "old_name", "old_size", "new_id", "new_name",
                                            "new_size", "shared"])
        for column in ("old_id", "old_size", "new_id", "new_size", "shared"):
            frame[column] = frame[column].astype("Int64")
        return frame

    def render(self, limit: int = 20) -> str:
        """The report as text: a summary line, each kind's topics (at most ``limit`` lines each),
        the moved papers with a few examples."""
        counts = self.counts()
        papers = f"{_plural(self.shared, 'paper')} in both"
        if self.dropped:
            papers += f", {len(self.dropped)} left"
        if self.joined:
            papers += f", {len(self.joined)} joined"
        lines = ["topic changes at layer " + str(self.layer) + ": "
                 + ", ".join(f"{n} {kind}" for kind, n in counts.items()) + f" ({papers})"]
        for kind in KINDS:
            changes = self.of_kind(kind)
            if not changes:
                continue
            lines.append(f"{kind}:")
            lines.extend(f"  {change.describe()}" for change in changes[:limit])
            if len(changes) > limit:
                lines.append(f"  ... and {len(changes) - limit} more")
        moved = f"{_plural(self.moved, 'paper')} moved topic"
        lines.append(moved + (", e.g.:" if self.examples else ""))
        lines.extend(f"  {paper.id}{'  ' + cut(' '.join(paper.title.split()), 60) if paper.title else ''}: {paper.old} → {paper.new}"
                     for paper in self.examples)
        if self.to_noise or self.from_noise:
            lines.append(f"{_plural(self.to_noise, 'paper')} became noise; "
                         f"{_plural(self.from_noise, 'paper')} left noise for a topic")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.render()


def _layer(labels: Any, layer: int) -> np.ndarray:
    array = np.asarray(labels, dtype=np.int64)
    if array.ndim == 2:
        if not 0 <= layer < array.shape[1]:
            raise PaperatlasError(f"no layer {layer}: the labels have layers 0 to {array.shape[1] - 1}")
        array = array[:, layer]
    if array.ndim != 1:
        raise PaperatlasError(f"labels must be 1-D (papers) or 2-D (papers, layers), got shape {array.shape}")
    return array


def _counts(labels: np.ndarray, topics: np.ndarray) -> np.ndarray:
    """Papers of each of ``topics`` (sorted ids) in ``labels``, as floats."""
    found = labels[np.isin(labels, topics)]
    return np.bincount(np.searchsorted(topics, found), minlength=len(topics)).astype(np.float64)


def compare_topics(
    old_labels: Any,
    new_labels: Any,
    *,
    old_ids: Sequence[str] | None = None,
    new_ids: Sequence[str] | None = None,
    old_names: Mapping[int, str] | None = None,
    new_names: Mapping[int, str] | None = None,
    titles: Sequence[str] | None = None,
    layer: int = 0,
    examples: int = EXAMPLES,
) -> TopicChanges:
    """Classify every topic of two labellings as kept, split, merged, new or gone.

    Args:
        old_labels, new_labels: topic per paper (-1 noise), 1-D or ``(papers, layers)``
            (then ``layer`` is compared).
        old_ids, new_ids: the papers' ids; the sides are compared over the ids they share.
            Without ids both sides must be the same papers in the same order.
        old_names, new_names: topic names (default ``topic <id>``).
        titles: the new side's titles, for the moved examples (default: the ids).
        layer: which layer of 2-D labels to compare (recorded in the report).
        examples: how many moved papers to keep as examples.

    Sizes are counted over each side's whole labelling; overlaps over the shared papers.
    """
    old, new = _layer(old_labels, layer), _layer(new_labels, layer)
    if (old_ids is None) != (new_ids is None):
        raise PaperatlasError("give the ids of both sides, or of neither")
    if old_ids is None:
        if len(old) != len(new):
            raise PaperatlasError(f"without ids both sides must be the same papers: {len(old)} and {len(new)} labels")
        old_ids = new_ids = [str(i) for i in range(len(new))]
        old_rows = new_rows = np.arange(len(new))
        dropped: tuple[str, ...] = ()
        joined: tuple[str, ...] = ()
    else:
        if len(old_ids) != len(old) or len(new_ids) != len(new):
            raise PaperatlasError(f"{len(old_ids)} old ids for {len(old)} labels, {len(new_ids)} new ids for {len(new)}")
        row_of = {paper_id: row for row, paper_id in enumerate(new_ids)}
        pairs = [(row, row_of[paper_id]) for row, paper_id in enumerate(old_ids) if paper_id in row_of]
        old_rows = np.array([p[0] for p in pairs], dtype=np.int64)
        new_rows = np.array([p[1] for p in pairs], dtype=np.int64)
        old_set = set(old_ids)
        dropped = tuple(paper_id for paper_id in old_ids if paper_id not in row_of)
        joined = tuple(paper_id for paper_id in new_ids if paper_id not in old_set)
    old_shared, new_shared = old[old_rows], new[new_rows]

    def refs(labels: np.ndarray, names: Mapping[int, str] | None) -> dict[int, TopicRef]:
        topics, sizes = np.unique(labels[labels != NOISE], return_counts=True)
        return {int(t): TopicRef(int(t), (names or {}).get(int(t), f"topic {int(t)}"), int(s))
                for t, s in zip(topics, sizes)}

    old_refs, new_refs = refs(old, old_names), refs(new, new_names)
    o_ids, n_ids = np.array(sorted(old_refs), dtype=np.int64), np.array(sorted(new_refs), dtype=np.int64)
    table = np.zeros((len(o_ids), len(n_ids)), dtype=np.int64)
    both = (old_shared != NOISE) & (new_shared != NOISE)
    if both.any():
        np.add.at(table, (np.searchsorted(o_ids, old_shared[both]), np.searchsorted(n_ids, new_shared[both])), 1)
    old_total = _counts(old_shared, o_ids)
    new_total = _counts(new_shared, n_ids)
    with np.errstate(divide="ignore", invalid="ignore"):
        of_old = np.nan_to_num(table / old_total[:, None])  # share of the old topic's papers in each new one
        of_new = np.nan_to_num(table / new_total[None, :])  # share of the new topic made of each old one

    changes: list[TopicChange] = []
    used_old: set[int] = set()
    used_new: set[int] = set()
    links: set[tuple[int, int]] = set()

    def add(kind: str, olds: list[int], news: list[int], shared: list[int]) -> None:
        used_old.update(olds)
        used_new.update(news)
        links.update((int(o_ids[o]), int(n_ids[n])) for o in olds for n in news)
        changes.append(TopicChange(kind, tuple(old_refs[int(o_ids[o])] for o in olds),
                                   tuple(new_refs[int(n_ids[n])] for n in news), tuple(shared)))

    for o in range(len(o_ids)):
        parts = [int(n) for n in np.flatnonzero((of_new[o] > KEEP_SHARE) & (of_old[o] >= PART_SHARE))
                 if n not in used_new]
        if len(parts) >= 2:
            parts.sort(key=lambda n: -table[o, n])
            add("split", [o], parts, [int(table[o, n]) for n in parts])
    for n in range(len(n_ids)):
        if n in used_new:
            continue
        sources = [int(o) for o in np.flatnonzero((of_old[:, n] > KEEP_SHARE) & (of_new[:, n] >= PART_SHARE))
                   if o not in used_old]
        if len(sources) >= 2:
            sources.sort(key=lambda o: -table[o, n])
            add("merged", sources, [n], [int(table[o, n]) for o in sources])
    for o, n in zip(*np.nonzero((of_old > KEEP_SHARE) & (of_new > KEEP_SHARE))):
        if o not in used_old and n not in used_new:
            add("kept", [int(o)], [int(n)], [int(table[o, n])])
    for n in range(len(n_ids)):
        if n not in used_new:
            add("new", [], [n], [])
    for o in range(len(o_ids)):
        if o not in used_old:
            add("gone", [o], [], [])

    def size(change: TopicChange) -> int:
        return max(ref.size for ref in change.old + change.new)

    changes.sort(key=lambda c: (KINDS.index(c.kind), -size(c), (c.old or c.new)[0].id))

    linked = np.zeros(table.shape, dtype=bool)
    for o, n in links:
        linked[np.searchsorted(o_ids, o), np.searchsorted(n_ids, n)] = True
    moved_rows = np.flatnonzero(both)
    if moved_rows.size:
        o_at, n_at = np.searchsorted(o_ids, old_shared[moved_rows]), np.searchsorted(n_ids, new_shared[moved_rows])
        moved_rows = moved_rows[~linked[o_at, n_at]]
    moved_table = np.where(linked, 0, table)  # moved papers per (old, new) pair
    picked = []
    for flat in np.argsort(-moved_table, axis=None, kind="stable")[:examples]:
        o, n = np.unravel_index(flat, table.shape)
        if moved_table[o, n] == 0:
            break
        picked.append(int(moved_rows[np.flatnonzero((old_shared[moved_rows] == o_ids[o])
                                                    & (new_shared[moved_rows] == n_ids[n]))[0]]))
    example_papers = tuple(
        MovedPaper(
            id=str(new_ids[new_rows[i]]),
            title=str(titles[new_rows[i]]) if titles is not None else "",
            old=old_refs[int(old_shared[i])],
            new=new_refs[int(new_shared[i])],
        )
        for i in picked
    )
    return TopicChanges(
        layer=layer,
        changes=tuple(changes),
        shared=len(old_rows),
        dropped=dropped,
        joined=joined,
        moved=len(moved_rows),
        to_noise=int(np.sum((old_shared != NOISE) & (new_shared == NOISE))),
        from_noise=int(np.sum((old_shared == NOISE) & (new_shared != NOISE))),
        examples=example_papers,
    )

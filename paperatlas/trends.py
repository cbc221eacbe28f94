"""Papers per month and topic for people and programs: :func:`trend_report` (the ``trends``
command's JSON and the agent tool ``topic_trends``) and its table. Counting is
:func:`paperatlas.export.tables.topic_trends` (a DataFrame)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from paperatlas.text_table import cut, plural, terminal_width

if TYPE_CHECKING:
    from paperatlas.atlas import Atlas

ZERO = "·"
"""What the table shows for no papers (a sparse table reads better without zeros)."""
NOISE_HEADING = "noise"
MIN_COLUMN = 3
"""Narrowest column of a topic's counts (ids and counts line up down the table)."""


def trend_report(atlas: Atlas, topic: int | str | None = None, layer: int = 0) -> dict[str, Any]:
    """Papers per month of one topic or of every topic, with the papers that have no date counted apart.

    Args:
        topic: the topic's id or its name, as listed by list_topics; -1 for the papers in no topic
            (noise). Leave it out for every topic of the layer.
        layer: the topic layer: 0 for fine topics, 1 and up for coarser themes.

    Returns:
        ``{"layer", "papers", "undated", "months", "topics"}``: ``months`` lists the months
        (YYYY-MM) that have papers, oldest first; each topic has topic_id, topic (its name; None
        for noise), papers, undated and by_month (month to papers, months without papers left out).
    """
    import pandas as pd

    from paperatlas.export.tables import UNDATED, topic_trends
    from paperatlas.topic_papers import resolve_topic

    topics = atlas.require_topics()
    frame = topic_trends(atlas, layer)
    names = topics.names_at(layer)
    ids = list(names) + [-1] * (frame.shape[1] - len(names))  # the frame's columns: topics, then noise
    chosen = ids if topic is None else [resolve_topic(atlas, topic, layer)]
    records = []
    for topic_id in chosen:
        column = (frame.iloc[:, ids.index(topic_id)] if topic_id in ids
                  else pd.Series(0, index=frame.index))  # noise asked for where no paper is noise
        dated = column.drop(UNDATED)
        records.append({
            "topic_id": int(topic_id),
            "topic": names.get(topic_id),
            "papers": int(column.sum()),
            "undated": int(column[UNDATED]),
            "by_month": {month: int(n) for month, n in dated.items() if n},
        })
    months = sorted({month for record in records for month in record["by_month"]})
    return {
        "layer": int(layer),
        "papers": sum(record["papers"] for record in records),
        "undated": sum(record["undated"] for record in records),
        "months": months,
        "topics": records,
    }


def format_trends(report: dict[str, Any], width: int | None = None) -> str:
    """``report`` (of :func:`trend_report`) as text that fits ``width`` (default: the terminal's):
    months as rows, then ``undated`` and ``total``; a column per topic id, then ``all``; a key of the
    topic names below. Topic columns that do not fit go to a further block under the first."""
    width = terminal_width() if width is None else width
    records = report["topics"]
    rows = [*report["months"], "undated", "total"]

    def counts(record: dict[str, Any]) -> list[int]:
        return [record["by_month"].get(m, 0) for m in report["months"]] + [record["undated"], record["papers"]]

    columns = [(NOISE_HEADING if r["topic_id"] == -1 else str(r["topic_id"]), counts(r)) for r in records]
    if len(columns) > 1:
        columns.append(("all", [sum(values) for values in zip(*(c for _, c in columns))]))
    label_width = max(len(row) for row in rows)

    def cell(value: int) -> str:
        return str(value) if value else ZERO

    def natural(heading: str, values: list[int]) -> int:
        return max(len(heading), *(len(cell(v)) for v in values))

    topic_width = max([MIN_COLUMN] + [natural(h, v) for h, v in columns if h not in (NOISE_HEADING, "all")])
    sized = [(h, v, natural(h, v) if h in (NOISE_HEADING, "all") else topic_width) for h, v in columns]
    blocks: list[list[tuple[str, list[int], int]]] = [[]]
    used = label_width
    for column in sized:
        if blocks[-1] and used + 1 + column[2] > width:
            blocks.append([])
            used = label_width
        blocks[-1].append(column)
        used += 1 + column[2]
    which = "" if len(records) != 1 else ("noise, " if records[0]["topic_id"] == -1
                                          else f"topic {records[0]['topic_id']}, ")
    lines = [f"papers per month ({which}layer {report['layer']}): {plural(report['papers'], 'paper')}, "
             f"{report['undated']} undated"]
    for block in blocks:
        lines.append("")
        lines.append(" ".join(["month".ljust(label_width)] + [h.rjust(w) for h, _, w in block]))
        for i, row in enumerate(rows):
            lines.append(" ".join([row.ljust(label_width)] + [cell(values[i]).rjust(w) for _, values, w in block]))
    lines.append("")
    id_width = max(len(heading) for heading, _ in columns)
    for record, (heading, _) in zip(records, columns):
        name = record["topic"] if record["topic"] is not None else "papers in no topic"
        lines.append(cut(f"{heading.rjust(id_width)}  {name} ({plural(record['papers'], 'paper')}, "
                         f"{record['undated']} undated)", width))
    return "\n".join(lines)

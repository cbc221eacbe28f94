"""The map's data as compact binary blocks, and the small JSON that describes them.

Coordinates travel as uint16 pairs (quantised over the map's extent), topic ids
as int16 or int32 per layer, dates as int32 day numbers, neighbours as int32
rows, and ids, titles and abstracts as UTF-8 text joined by a record separator.
Each block is gzip-compressed; the page inflates it with ``DecompressionStream``.
Abstracts are included while their compressed size stays within a budget;
above it the page says how to read them (``paperatlas serve``).
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from paperatlas.errors import PaperatlasError
from paperatlas.export.map_colours import NOISE_COLOUR, topic_colours
from paperatlas.export.map_topics import map_layers

if TYPE_CHECKING:
    from paperatlas.export.map_data import MapData

FORMAT_VERSION = 2
SEPARATOR = "\x1e"
"""Record separator between texts in a text block (removed from the texts themselves)."""
NO_DATE = np.iinfo(np.int32).min
ABSTRACT_BUDGET_MB = 8.0
"""Default most compressed megabytes of abstracts a map file carries (all or none)."""
_QUANT = 65535


@dataclass(frozen=True)
class MapPayload:
    """What the page draws: ``meta`` (JSON-able) and named gzip-compressed ``blocks``."""

    meta: dict[str, Any]
    blocks: dict[str, bytes]


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=6, mtime=0)


def _gzip_within(data: bytes, limit: int, chunk: int = 1 << 20) -> bytes | None:
    """``data`` gzip-compressed as ``_gzip`` does, or None as soon as the output passes ``limit`` bytes.

    Stops early, so a million abstracts far over the budget cost a few seconds, not a minute.
    """
    import zlib

    packer = zlib.compressobj(6, zlib.DEFLATED, 31)  # 31: a gzip container
    parts, size = [], 0
    for start in range(0, len(data), chunk):
        part = packer.compress(data[start : start + chunk])
        size += len(part)
        parts.append(part)
        if size > limit:
            return None
    parts.append(packer.flush())
    return None if size + len(parts[-1]) > limit else b"".join(parts)


def _text_block(values: Any) -> bytes:
    return SEPARATOR.join(str(v).replace(SEPARATOR, " ") for v in values).encode("utf-8")


def _day_numbers(dates: Any) -> np.ndarray:
    import pandas as pd

    parsed = pd.to_datetime(pd.Series(list(dates), dtype=object), errors="coerce", utc=True, format="mixed")
    days = np.full(len(parsed), NO_DATE, dtype=np.int64)
    known = parsed.notna().to_numpy()
    if known.any():
        epoch = pd.Timestamp("1970-01-01", tz="UTC")
        days[known] = ((parsed[known] - epoch) // pd.Timedelta(days=1)).to_numpy(dtype=np.int64)
    return days.astype(np.int32)


def _quantised(values: np.ndarray) -> tuple[np.ndarray, float, float]:
    low, high = float(values.min()), float(values.max())
    span = high - low or 1.0
    return np.rint((values - low) / span * _QUANT).astype(np.uint16), low, span


def build_payload(
    data: MapData,
    *,
    title: str = "paperatlas topic map",
    max_labels: int = 20,
    abstract_budget_mb: float = ABSTRACT_BUDGET_MB,
) -> MapPayload:
    """Encode ``data`` for the HTML map (see the module docstring for the blocks).

    Args:
        data: The map's papers and topics.
        title: The page title.
        max_labels: Most topic labels on screen at once.
        abstract_budget_mb: Abstracts are included when all of them compress
            to at most this many megabytes; 0 leaves them out.

    Returns:
        The payload; ``meta["abstracts"]`` says whether abstracts are included and why not.
    """
    if abstract_budget_mb < 0:
        raise PaperatlasError(f"abstract_budget_mb must not be negative, got {abstract_budget_mb}")
    n = len(data)
    layers = map_layers(data)
    colours = topic_colours(layers[0])
    fine_ids = [t.topic_id for t in layers[0].topics]
    x, x0, xspan = _quantised(np.asarray(data.coords[:, 0], dtype=float))
    y, y0, yspan = _quantised(np.asarray(data.coords[:, 1], dtype=float))
    blocks: dict[str, bytes] = {"xy": _gzip(np.stack([x, y], axis=1).astype("<u2").tobytes())}
    label_dtypes = []
    for k, layer in enumerate(layers):
        wide = layer.labels.size and int(np.abs(layer.labels).max()) > 32000
        dtype = "<i4" if wide else "<i2"
        label_dtypes.append("int32" if wide else "int16")
        blocks[f"l{k}"] = _gzip(np.asarray(layer.labels).astype(dtype).tobytes())
    blocks["dates"] = _gzip(_day_numbers(data.dates).astype("<i4").tobytes())
    blocks["ids"] = _gzip(_text_block(data.ids))
    blocks["titles"] = _gzip(_text_block(data.titles))
    width = max((len(r) for r in data.neighbours), default=0)
    if width:
        rows = np.full((n, width), -1, dtype=np.int32)
        for i, row in enumerate(data.neighbours):
            rows[i, : len(row)] = row
        blocks["nb"] = _gzip(rows.astype("<i4").tobytes())
    abstracts: dict[str, Any] = {"included": False, "budget_mb": abstract_budget_mb}
    if abstract_budget_mb > 0 and any(data.abstracts):
        raw = _text_block(data.abstracts)
        abstracts["raw_mb"] = round(len(raw) / 1e6, 3)
        packed = _gzip_within(raw, int(abstract_budget_mb * 1e6))
        if packed is not None:
            blocks["abstracts"] = packed
            abstracts["included"] = True
            abstracts["compressed_mb"] = round(len(packed) / 1e6, 3)
    meta = {
        "version": FORMAT_VERSION,
        "title": title,
        "n": n,
        "extent": {"x0": x0, "xspan": xspan, "y0": y0, "yspan": yspan, "steps": _QUANT},
        "labelTypes": label_dtypes,
        "neighbours": width,
        "abstracts": abstracts,
        "maxLabels": int(max_labels),
        "noiseColour": NOISE_COLOUR,
        "colourSlots": [NOISE_COLOUR] + [colours[t] for t in fine_ids],
        "fineTopics": fine_ids,
        "layers": [
            {
                "layer": layer.layer,
                "topics": [
                    {
                        "id": t.topic_id,
                        "name": t.name,
                        "size": t.size,
                        "keyterms": list(t.keyterms),
                        "x": round(t.x, 5),
                        "y": round(t.y, 5),
                        "colour": colours.get(t.topic_id) if layer.layer == 0 else None,
                    }
                    for t in layer.topics
                ],
            }
            for layer in layers
        ],
    }
    return MapPayload(meta=meta, blocks=blocks)

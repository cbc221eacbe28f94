"""Topic colours that stay apart: a many-colour palette, and neighbouring topics far apart in it.

Cycling a 24-colour list by size rank gives two touching topics the same colour
once a map has more than 24 topics. Here the palette is picked greedily for
distance in CIELAB (Glasbey's method, no greys: grey is noise), and each topic,
largest first, takes the palette colour farthest from the colours its nearest
topics on the map already have.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from paperatlas.export.map_topics import MapLayer

NOISE_COLOUR = "#b4b4b4"
PALETTE_SIZE = 32
MAP_NEIGHBOURS = 6
"""Topics whose centres are among each other's 6 nearest count as neighbours."""


def _lab(rgb: np.ndarray) -> np.ndarray:
    """CIELAB (D65) of sRGB colours given as ``(n, 3)`` floats in [0, 1]."""
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    xyz = linear @ np.array(
        [[0.4124, 0.2126, 0.0193], [0.3576, 0.7152, 0.1192], [0.1805, 0.0722, 0.9505]]
    )
    xyz /= np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], axis=1)


def _hex(rgb: np.ndarray) -> str:
    return "#" + "".join(f"{int(round(v * 255)):02x}" for v in rgb)


@lru_cache(maxsize=1)
def palette() -> tuple[str, ...]:
    """``PALETTE_SIZE`` colours, each as far in CIELAB from the earlier ones as the sRGB grid allows.

    Lightness 30-78 (readable on white, not black), chroma at least 30 (no greys).
    """
    steps = np.linspace(0, 1, 18)
    grid = np.stack(np.meshgrid(steps, steps, steps, indexing="ij"), axis=-1).reshape(-1, 3)
    lab = _lab(grid)
    chroma = np.hypot(lab[:, 1], lab[:, 2])
    keep = (lab[:, 0] >= 30) & (lab[:, 0] <= 78) & (chroma >= 30)
    grid, lab = grid[keep], lab[keep]
    start = int(np.argmin(np.linalg.norm(lab - _lab(np.array([[0.12, 0.47, 0.71]])), axis=1)))
    chosen = [start]
    nearest = np.linalg.norm(lab - lab[start], axis=1)
    while len(chosen) < PALETTE_SIZE:
        pick = int(np.argmax(nearest))
        chosen.append(pick)
        nearest = np.minimum(nearest, np.linalg.norm(lab - lab[pick], axis=1))
    return tuple(_hex(grid[i]) for i in chosen)


def colour_distance(first: str, second: str) -> float:
    """CIELAB distance (ΔE 1976) between two ``#rrggbb`` colours."""
    rgb = np.array([[int(c[i : i + 2], 16) / 255 for i in (1, 3, 5)] for c in (first, second)])
    a, b = _lab(rgb)
    return float(np.linalg.norm(a - b))


def neighbour_pairs(layer: MapLayer, k: int = MAP_NEIGHBOURS) -> list[tuple[int, int]]:
    """Pairs of topic ids of ``layer`` where one centre is among the other's ``k`` nearest."""
    ids = [t.topic_id for t in layer.topics]
    if len(ids) < 2:
        return []
    from scipy.spatial import cKDTree

    centres = np.array([[t.x, t.y] for t in layer.topics])
    span = np.ptp(centres, axis=0)
    centres = centres / np.where(span > 0, span, 1.0)
    _, near = cKDTree(centres).query(centres, k=min(k, len(ids) - 1) + 1)
    pairs: set[tuple[int, int]] = set()
    for i, row in enumerate(near):
        for j in row[1:]:
            pairs.add((min(ids[i], ids[int(j)]), max(ids[i], ids[int(j)])))
    return sorted(pairs)


def topic_colours(layer: MapLayer) -> dict[int, str]:
    """A colour per topic of ``layer``, neighbours on the map far apart; noise is ``NOISE_COLOUR``.

    Topics are coloured largest first; each takes a palette colour whose
    smallest distance to its already-coloured neighbours is largest, counting
    any distance of at least the palette's own closest pair as equal (ties: the
    least used colour, then palette order), so adjacent topics differ clearly
    however many topics there are, and the whole palette is used.
    """
    colours_hex = palette()
    rgb = np.array([[int(c[i : i + 2], 16) / 255 for i in (1, 3, 5)] for c in colours_hex])
    lab = _lab(rgb)
    between = np.linalg.norm(lab[:, None, :] - lab[None, :, :], axis=2)
    enough = between[np.triu_indices(len(colours_hex), 1)].min()
    touching: dict[int, list[int]] = {t.topic_id: [] for t in layer.topics}
    for a, b in neighbour_pairs(layer):
        touching[a].append(b)
        touching[b].append(a)
    chosen: dict[int, int] = {}
    used = np.zeros(len(colours_hex), dtype=int)
    for topic in layer.topics:
        taken = [chosen[n] for n in touching[topic.topic_id] if n in chosen]
        score = between[:, taken].min(axis=1) if taken else np.full(len(colours_hex), np.inf)
        score = np.minimum(score, enough)  # far enough is enough: then spread use over the palette
        best = max(range(len(colours_hex)), key=lambda c: (score[c], -used[c], -c))
        chosen[topic.topic_id] = best
        used[best] += 1
    result = {tid: colours_hex[c] for tid, c in chosen.items()}
    result[-1] = NOISE_COLOUR
    return result

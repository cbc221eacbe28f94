"""Topic colours that stay apart: a many-colour palette, and neighbouring topics far apart in it.

Distances are CIEDE2000 (ΔE00), the CIE's perceptual colour difference: plain
CIELAB distance (ΔE76) overstates differences among saturated colours, which is
how an orange and a yellow-orange once counted as far apart. The palette is
picked greedily for distance (Glasbey's method), starting far from the white
background and the grey of noise. A map with at most ``PALETTE_SIZE`` topics
gives each topic its own colour from the start of the palette (the most
distinct ones); a larger map gives each topic, largest first, the colour
farthest from the colours its nearest topics on the map already have.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING, Sequence

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


def delta_e(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """CIEDE2000 colour difference of CIELAB colours (``(..., 3)`` arrays, broadcast)."""
    l1, a1, b1 = np.moveaxis(np.asarray(first, dtype=float), -1, 0)
    l2, a2, b2 = np.moveaxis(np.asarray(second, dtype=float), -1, 0)
    c_mean = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2
    g = 0.5 * (1 - np.sqrt(c_mean**7 / (c_mean**7 + 25.0**7)))
    a1, a2 = (1 + g) * a1, (1 + g) * a2
    c1, c2 = np.hypot(a1, b1), np.hypot(a2, b2)
    h1, h2 = np.degrees(np.arctan2(b1, a1)) % 360, np.degrees(np.arctan2(b2, a2)) % 360
    grey = c1 * c2 == 0
    dh = h2 - h1
    dh = np.where(grey, 0.0, np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh)))
    d_hue = 2 * np.sqrt(c1 * c2) * np.sin(np.radians(dh) / 2)
    l_mean, c_mean = (l1 + l2) / 2, (c1 + c2) / 2
    h_sum = h1 + h2
    h_mean = np.where(grey, h_sum, np.where(np.abs(h1 - h2) <= 180, h_sum / 2,
                                            np.where(h_sum < 360, (h_sum + 360) / 2, (h_sum - 360) / 2)))
    t = (1 - 0.17 * np.cos(np.radians(h_mean - 30)) + 0.24 * np.cos(np.radians(2 * h_mean))
         + 0.32 * np.cos(np.radians(3 * h_mean + 6)) - 0.20 * np.cos(np.radians(4 * h_mean - 63)))
    rotation = -np.sin(np.radians(60 * np.exp(-(((h_mean - 275) / 25) ** 2)))) * 2 * np.sqrt(
        c_mean**7 / (c_mean**7 + 25.0**7))
    s_l = 1 + 0.015 * (l_mean - 50) ** 2 / np.sqrt(20 + (l_mean - 50) ** 2)
    s_c, s_h = 1 + 0.045 * c_mean, 1 + 0.015 * c_mean * t
    dl, dc, dhue = (l2 - l1) / s_l, (c2 - c1) / s_c, d_hue / s_h
    return np.sqrt(dl**2 + dc**2 + dhue**2 + rotation * dc * dhue)


def _hex(rgb: np.ndarray) -> str:
    return "#" + "".join(f"{int(round(v * 255)):02x}" for v in rgb)


def _lab_of_hex(colours: Sequence[str]) -> np.ndarray:
    return _lab(np.array([[int(c[i : i + 2], 16) / 255 for i in (1, 3, 5)] for c in colours]))


@lru_cache(maxsize=1)
def palette() -> tuple[str, ...]:
    """``PALETTE_SIZE`` colours, each as far (ΔE00) from the earlier ones, the white background
    and the noise grey as the sRGB grid allows: any first ``n`` are the most distinct ``n``.

    Lightness 30-78 (readable on white, not black), chroma at least 30 (no greys).
    """
    steps = np.linspace(0, 1, 18)
    grid = np.stack(np.meshgrid(steps, steps, steps, indexing="ij"), axis=-1).reshape(-1, 3)
    lab = _lab(grid)
    chroma = np.hypot(lab[:, 1], lab[:, 2])
    keep = (lab[:, 0] >= 30) & (lab[:, 0] <= 78) & (chroma >= 30)
    grid, lab = grid[keep], lab[keep]
    nearest = np.full(len(lab), np.inf)
    for lab_colour in _lab_of_hex(("#ffffff", NOISE_COLOUR)):
        nearest = np.minimum(nearest, delta_e(lab, lab_colour))
    start = int(np.argmin(np.linalg.norm(lab - _lab(np.array([[0.12, 0.47, 0.71]])), axis=1)))
    chosen = [start]
    nearest = np.minimum(nearest, delta_e(lab, lab[start]))
    while len(chosen) < PALETTE_SIZE:
        pick = int(np.argmax(nearest))
        chosen.append(pick)
        nearest = np.minimum(nearest, delta_e(lab, lab[pick]))
    return tuple(_hex(grid[i]) for i in chosen)


def colour_distance(first: str, second: str) -> float:
    """CIEDE2000 difference (ΔE00) between two ``#rrggbb`` colours."""
    a, b = _lab_of_hex((first, second))
    return float(delta_e(a, b))


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
    """A colour per topic of ``layer``; noise is ``NOISE_COLOUR``.

    Topics are coloured largest first. Up to ``PALETTE_SIZE`` topics use the
    palette's first colours, one each (so any two differ by at least the
    smallest ΔE00 among those), the most distinct from the colours already on
    neighbouring topics first. More topics share colours: each takes the one
    whose smallest distance to its already-coloured neighbours is largest,
    counting any distance of at least the palette's own closest pair as equal
    (ties: the least used colour, then palette order), so adjacent topics
    differ clearly however many topics there are, and the whole palette is used.
    """
    colours_hex = palette()
    count = len(colours_hex) if len(layer.topics) > len(colours_hex) else len(layer.topics)
    lab = _lab_of_hex(colours_hex[:count])
    between = delta_e(lab[:, None, :], lab[None, :, :])
    enough = between[np.triu_indices(count, 1)].min() if count > 1 else np.inf
    touching: dict[int, list[int]] = {t.topic_id: [] for t in layer.topics}
    for a, b in neighbour_pairs(layer):
        touching[a].append(b)
        touching[b].append(a)
    chosen: dict[int, int] = {}
    used = np.zeros(count, dtype=int)
    once = len(layer.topics) <= len(colours_hex)
    for topic in layer.topics:
        taken = [chosen[n] for n in touching[topic.topic_id] if n in chosen]
        score = between[:, taken].min(axis=1) if taken else np.full(count, np.inf)
        score = np.minimum(score, enough)  # far enough is enough: then spread use over the palette
        free = [c for c in range(count) if not (once and used[c])]
        best = max(free, key=lambda c: (score[c], -used[c], -c))
        chosen[topic.topic_id] = best
        used[best] += 1
    result = {tid: colours_hex[c] for tid, c in chosen.items()}
    result[-1] = NOISE_COLOUR
    return result

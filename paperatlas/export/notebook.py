"""Show the interactive map inside Jupyter: written to a file, shown in an iframe that points at it."""

from __future__ import annotations

import html
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from paperatlas.atlas import Atlas

DEFAULT_MAP_FILE = "paperatlas_map.html"


@dataclass(frozen=True)
class MapFile:
    """A written map file; in Jupyter it shows as the map in an iframe (``src`` = the file) and a link."""

    path: Path
    height: int = 720

    @property
    def src(self) -> str:
        """The file as Jupyter serves it: relative to the kernel's folder (the notebook's) where possible."""
        try:
            return Path(os.path.relpath(self.path, Path.cwd())).as_posix()
        except ValueError:  # another drive on Windows
            return self.path.as_uri()

    def __repr__(self) -> str:
        return f"MapFile({str(self.path)!r}, {self.path.stat().st_size / 1e6:.1f} MB)"

    def _repr_html_(self) -> str:
        src = html.escape(self.src, quote=True)
        size = self.path.stat().st_size / 1e6
        return (
            f'<iframe src="{src}" style="width:100%;height:{int(self.height)}px;border:0" '
            f'sandbox="allow-scripts" title="paperatlas topic map"></iframe>'
            f'<p><a href="{src}" target="_blank" rel="noopener">{html.escape(self.path.name)}</a> '
            f"({size:.1f} MB, works offline: open it in a browser)</p>"
        )


def map_widget(atlas: Atlas, path: str | Path = DEFAULT_MAP_FILE, height: int = 720) -> MapFile:
    """Write the atlas's interactive map to ``path`` and return it for display in Jupyter.

    The page is the file ``paperatlas map`` writes (self-contained, offline). The
    notebook keeps only an iframe pointing at it, not the page, so it stays a few
    kilobytes; write it under the notebook's folder so Jupyter can serve it.
    """
    from paperatlas.export.html_map import write_html_map
    from paperatlas.export.map_data import MapData

    written = write_html_map(MapData.from_atlas(atlas), path)
    return MapFile(path=Path(written).resolve(), height=height)

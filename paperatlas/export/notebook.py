"""Show the interactive map inside Jupyter."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from paperatlas.atlas import Atlas


def map_widget(atlas: Atlas, height: int = 720):
    """The atlas's interactive map as an inline, sandboxed iframe (``IPython.display.HTML``).

    The page is the same self-contained file ``paperatlas map`` writes, so it
    works offline; it is embedded with ``srcdoc``, nothing is fetched.
    """
    from IPython.display import HTML

    from paperatlas.export.html_map import render_html_map
    from paperatlas.export.map_data import MapData

    page = render_html_map(MapData.from_atlas(atlas))
    return HTML(
        f'<iframe srcdoc="{html.escape(page, quote=True)}" style="width:100%;height:{int(height)}px;border:0" '
        'sandbox="allow-scripts"></iframe>'
    )

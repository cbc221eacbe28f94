"""Every ``_repr_html_`` (what Jupyter shows) escapes every text it shows: hostile titles, ids,
topic names, key terms, why terms, dates and query descriptions stay text, checked by parsing the
HTML and by rendering each repr in headless Chromium (no script may run)."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from paperatlas.atlas import Atlas
from paperatlas.cluster.topic_model import TopicModel
from paperatlas.corpus import Corpus, Paper
from paperatlas.embed import FakeEmbedder
from paperatlas.export.notebook import MapFile
from paperatlas.search import SearchResults
from tests.browser import OfflineBrowser, find_chromium

PAYLOADS = (
    "<img src=x onerror=\"document.title='pwned';window.pwned=1\">",
    "</script><script>document.title='pwned';window.pwned=1</script>",
    "\"><svg onload=\"document.title='pwned';window.pwned=1\">",
    "'><img src=y onerror='window.pwned=1'>",
    "</td></tr></table><iframe srcdoc=\"<script>parent.pwned=1</script>\"></iframe>",
)
ALLOWED_TAGS = {"p", "b", "table", "thead", "tbody", "tr", "th", "td", "caption", "iframe", "a"}
ALLOWED_ATTRIBUTES = {"border", "class", "style", "src", "sandbox", "title", "href", "target", "rel"}


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, [name for name, _ in attrs]))


def _hostile_atlas() -> Atlas:
    papers = [Paper(id=f"p{i}{PAYLOADS[i % len(PAYLOADS)]}", title=f"Diffusion models {i} {PAYLOADS[i % len(PAYLOADS)]}",
                    abstract=f"diffusion models sample images step {i} with guidance and noise",
                    date="2024-01-0" + str(1 + i % 9)) for i in range(20)]
    return Atlas.build(Corpus(papers), FakeEmbedder(model_id=PAYLOADS[0]), cache=None)  # shown by the atlas repr


def _hostile_topics(n: int) -> TopicModel:
    labels = np.stack([np.arange(n) % 3, np.zeros(n, np.int64)], axis=1).astype(np.int64)
    table = pd.DataFrame(
        [{"layer": layer, "topic_id": t, "size": 1, "parent": -1, "name": f"topic {PAYLOADS[t]}",
          "keyterms": [PAYLOADS[(t + 1) % len(PAYLOADS)], "plain"], "keyterm_scores": [1.0, 0.5], "exemplars": [0]}
         for layer, count in ((0, 3), (1, 1)) for t in range(count)]
    )
    return TopicModel(labels=labels, probabilities=np.ones(n, np.float32), coords=np.zeros((n, 2)), table=table)


def _reprs(tmp_path: Path) -> dict[str, str]:
    atlas = _hostile_atlas()
    first = atlas.corpus[0]
    shown = {
        "text query": atlas.similar(PAYLOADS[0], k=3, by="text")._repr_html_(),
        "id query": atlas.similar(first.id, k=3, by="id")._repr_html_(),
        "id list query": atlas.similar([first.id, atlas.corpus[1].id], k=30)._repr_html_(),  # note: fewer than k
        "title query": atlas.similar(first.title, k=3, by="title")._repr_html_(),
        "atlas": atlas._repr_html_(),
        "topics": _hostile_topics(20)._repr_html_(),
    }
    hit = {"id": PAYLOADS[1], "title": PAYLOADS[2], "score": 0.5, "topic_id": 0, "topic": PAYLOADS[3],
           "date": PAYLOADS[4], "url": PAYLOADS[0], "why": [PAYLOADS[0], PAYLOADS[3]], "snippet": PAYLOADS[2]}
    shown["built results"] = SearchResults([hit], {"description": PAYLOADS[4], "k": 5})._repr_html_()
    page = tmp_path / f"map {PAYLOADS[2]}.html".replace("/", "_")
    page.write_text("<p>map</p>")
    shown["map file"] = MapFile(page, height=200)._repr_html_()
    return shown


def test_every_repr_html_shows_hostile_text_as_text(tmp_path: Path) -> None:
    for name, html in _reprs(tmp_path).items():
        parser = _Tags()
        parser.feed(html)
        for tag, attributes in parser.tags:
            assert tag in ALLOWED_TAGS, (name, tag)
            assert set(attributes) <= ALLOWED_ATTRIBUTES, (name, tag, attributes)
        assert "<img" not in html and "<script" not in html and "<svg" not in html, name
        assert "&lt;" in html, name  # the payloads are shown, escaped


def test_no_repr_html_runs_a_script_in_chromium(tmp_path: Path) -> None:
    executable = find_chromium()
    if executable is None:
        pytest.skip("no Chromium browser installed (apt-get install chromium, or set PAPERATLAS_CHROMIUM)")
    reprs = _reprs(tmp_path)
    browser = OfflineBrowser(executable)
    try:
        for name, html in reprs.items():
            path = tmp_path / f"{name.replace(' ', '_')}.html"
            path.write_text(f"<!doctype html><html><head><meta charset='utf-8'><title>clean</title></head>"
                            f"<body>{html}</body></html>", encoding="utf-8")
            page = browser.open(path, ready="document.readyState === 'complete'")
            page.wait_for_timeout(300)  # let any onerror/onload handler fire
            assert page.title() == "clean", name
            assert page.evaluate("window.pwned === undefined"), name
            assert page.evaluate("document.querySelectorAll('img, svg, script').length") == 0, name
            text = page.evaluate("document.body.innerText")
            assert "onerror" in text or "onload" in text or "script" in text, name  # the payload is visible text
            page.close()
    finally:
        browser.close()

"""Tests of paperatlas.export: the offline HTML topic map (in headless Chromium) and the PNG map."""

from __future__ import annotations

import os
import re
import time
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from paperatlas.errors import PaperatlasError
from paperatlas import export
from paperatlas.export import MapData, PngMap
from tests.browser import OfflineBrowser, find_chromium

SUBJECTS = (
    ("reward models", "preference optimisation"),
    ("diffusion models", "image editing"),
    ("graph neural networks", "molecule generation"),
    ("speech recognition", "text to speech"),
    ("retrieval augmented generation", "long context"),
    ("robot manipulation", "world models"),
)
THEMES = ("Alignment", "Image generation", "Graphs and molecules", "Speech", "Retrieval and context", "Robotics")
URL_ABSTRACT = "Code and data: https://github.com/example/paper-5 (this URL is text, never fetched)."


def write_html_map(papers: pd.DataFrame, topics: pd.DataFrame | None, path, **options) -> Path:
    return export.write_html_map(MapData.from_frames(papers, topics), path, **options)


def write_png_map(papers: pd.DataFrame, topics: pd.DataFrame | None, path, **options) -> PngMap:
    return export.write_png_map(MapData.from_frames(papers, topics), path, **options)


def render_html_map(papers: pd.DataFrame, topics: pd.DataFrame | None) -> str:
    return export.render_html_map(MapData.from_frames(papers, topics))


def nearest(x: np.ndarray, y: np.ndarray, k: int = 5) -> np.ndarray:
    """Row i: the k nearest other points of point i (chunked, fine for 10,000 points)."""
    points = np.column_stack([x, y])
    out = np.empty((len(points), k), dtype=np.int64)
    for start in range(0, len(points), 1000):
        block = points[start : start + 1000]
        d = ((block[:, None, :] - points[None, :, :]) ** 2).sum(-1)
        d[np.arange(len(block)), np.arange(start, start + len(block))] = np.inf
        part = np.argpartition(d, k, axis=1)[:, :k]
        order = np.take_along_axis(d, part, axis=1).argsort(axis=1)
        out[start : start + len(block)] = np.take_along_axis(part, order, axis=1)
    return out


def make_map_frames(n: int = 343, seed: int = 7, noise_share: float = 0.08) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Synthetic ``papers`` and ``topics`` frames: 6 blobs (themes, layer 1) of 2 fine topics each, plus noise.

    Paper i is titled "Paper i about <subject>"; paper 17 is about reward models.
    """
    rng = np.random.default_rng(seed)
    angles = np.arange(6) * np.pi / 3
    blob_centres = np.column_stack([10 * np.cos(angles), 10 * np.sin(angles)])
    blob = rng.integers(0, 6, n)
    sub = rng.integers(0, 2, n)
    blob[17], sub[17] = 0, 0
    fine = blob * 2 + sub
    direction = np.column_stack([np.cos(angles + 1.0), np.sin(angles + 1.0)])
    xy = blob_centres[blob] + (sub[:, None] * 2 - 1) * 1.6 * direction[blob] + rng.normal(0, 0.55, (n, 2))
    is_noise = rng.random(n) < noise_share
    is_noise[17] = False
    xy[is_noise] = rng.uniform(-13, 13, (is_noise.sum(), 2))
    fine = np.where(is_noise, -1, fine)
    theme = np.where(is_noise, -1, blob)
    subject = [SUBJECTS[b][s] for b, s in zip(blob, sub)]
    fine_names = {2 * b + s: SUBJECTS[b][s] for b in range(6) for s in range(2)}
    neighbours = nearest(xy[:, 0], xy[:, 1])
    ids = [f"2401.{i:05d}" for i in range(n)]
    papers = pd.DataFrame(
        {
            "id": ids,
            "title": [f"Paper {i} about {s}" + (" </script><i>not markup</i> & $x$" if i == 9 else "")
                      for i, s in enumerate(subject)],
            "date": [None if i % 10 == 3 else f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}" for i in range(n)],
            "topic_id": fine,
            "topic_name": [fine_names[t] if t >= 0 else "" for t in fine],
            "x": xy[:, 0],
            "y": xy[:, 1],
            "abstract": [
                URL_ABSTRACT if i == 5 else f"Abstract of paper {i}. We study {s} <with markup & symbols>."
                for i, s in enumerate(subject)
            ],
            "layer_1": theme,
            "neighbours": [[ids[j] for j in row] for row in neighbours],
        }
    )
    rows = []
    for t, name in fine_names.items():
        rows.append({"layer": 0, "topic_id": t, "name": name, "size": int((fine == t).sum()),
                     "keyterms": name.split() + ["synthetic"]})
    for b, name in enumerate(THEMES):
        rows.append({"layer": 1, "topic_id": b, "name": name, "size": int((theme == b).sum()),
                     "keyterms": [name.lower()]})
    return papers, pd.DataFrame(rows)


@pytest.fixture(scope="module")
def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    return make_map_frames()


@pytest.fixture(scope="module")
def big_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    return make_map_frames(10_000, seed=3)


@pytest.fixture(scope="module")
def map_html(frames: tuple[pd.DataFrame, pd.DataFrame], tmp_path_factory: pytest.TempPathFactory) -> Path:
    papers, topics = frames
    # 8 labels at most: the 12 fine topics are too many at full view, so the 6 themes show
    return write_html_map(papers, topics, tmp_path_factory.mktemp("map") / "map.html", max_labels=8)


@pytest.fixture(scope="module")
def big_map_html(big_frames: tuple[pd.DataFrame, pd.DataFrame], tmp_path_factory: pytest.TempPathFactory) -> Path:
    papers, topics = big_frames
    return write_html_map(papers, topics, tmp_path_factory.mktemp("bigmap") / "map.html")


@pytest.fixture(scope="module")
def browser() -> OfflineBrowser:
    executable = find_chromium()
    if executable is None:
        pytest.skip("no Chromium browser installed (apt-get install chromium, or set PAPERATLAS_CHROMIUM)")
    try:
        import playwright  # noqa: F401
    except ImportError:
        pytest.fail("Playwright for Python is missing: pip install -e '.[dev]' (its browsers are not needed)")
    instance = OfflineBrowser(executable)
    yield instance
    instance.close()


# ---------------------------------------------------------------- static HTML


class _Markup(HTMLParser):
    """Collects the document's tags, attributes and style text (script bodies are raw text, not markup)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.styles: list[str] = []
        self.scripts: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k: v or "" for k, v in attrs}
        self.tags.append((tag, attributes))
        if "style" in attributes:
            self.styles.append(attributes["style"])
        self._in = tag if tag in ("style", "script") else None

    def handle_endtag(self, tag: str) -> None:
        self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "style":
            self.styles.append(data)
        elif self._in == "script":
            self.scripts.append(data)


REMOTE = r"(?:https?:)?//"


def test_html_map_is_one_self_contained_file(map_html: Path, frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    assert map_html.is_file()
    assert [p.name for p in map_html.parent.iterdir()] == ["map.html"]  # no sibling files
    text = map_html.read_text(encoding="utf-8")
    markup = _Markup()
    markup.feed(text)
    tags = [tag for tag, _ in markup.tags]
    # everything inline: no external scripts, stylesheets, images, frames or fonts
    assert all("src" not in attrs for tag, attrs in markup.tags if tag == "script")
    assert not {"link", "img", "iframe", "object", "embed", "base", "source", "video", "audio"} & set(tags)
    assert "plotly.js v" in text and "window.paperatlas" in text
    assert "@font-face" not in text
    papers, _ = frames
    assert text.count('"2401.00017"') >= 1 and len(papers) == 343


def test_html_has_no_remote_resource_references(map_html: Path) -> None:
    """The file holds no http(s) resource reference.

    A resource reference is what the HTML parser or CSS engine resolves and
    fetches on its own: (1) an attribute of any element (``src``, ``href``,
    ``srcset``, ``poster``, ``data``, ``action``, ``content``... all of them are
    checked) whose value is a remote URL (``http:``, ``https:`` or
    protocol-relative ``//``), (2) a CSS ``url()`` or ``@import``. Script bodies
    are not markup: the page's own script names no URL at all, the paper data
    is inert JSON (``type="application/json"``; an abstract holding a URL is
    shown as text), and the inlined plotly.js bundle holds URL strings only
    for features this page never uses (map tiles, map icons and topojson for
    map/geo traces, attribution and logo links, licence comments). That no
    request happens at run time is guaranteed by the page's
    Content-Security-Policy and checked in the browser, where every request
    is recorded.
    """
    text = map_html.read_text(encoding="utf-8")
    markup = _Markup()
    markup.feed(text)
    for tag, attributes in markup.tags:
        for name, value in attributes.items():
            assert not re.match(r"\s*" + REMOTE, value, re.IGNORECASE), (tag, name, value)
            if tag == "meta" and name == "content":
                assert not re.search(r"url\s*=|https?:", value, re.IGNORECASE), value
    assert markup.styles, "the page's style sheet was not found"
    for style in markup.styles:
        assert not re.search(r"url\(|@import|https?:", style, re.IGNORECASE), style
    scripts = [attrs for tag, attrs in markup.tags if tag == "script"]
    assert len(scripts) == 4 and all("src" not in attrs for attrs in scripts)
    assert [a.get("type") for a in scripts] == ["application/json", None, None, None]
    # the page's own script names no URL at all
    own = re.search(r'<script id="paperatlas-js">(.*?)</script>', text, re.DOTALL).group(1)
    assert "http" not in own.lower() and "://" not in own
    assert "https://github.com/example/paper-5" in text  # abstract text in the JSON, inert
    # nothing in any script can end its element early and turn into markup
    for body in markup.scripts:
        assert "</script" not in body.lower()


def test_html_forbids_network_by_content_security_policy(map_html: Path) -> None:
    text = map_html.read_text(encoding="utf-8")
    policy = re.search(r'<meta http-equiv="Content-Security-Policy" content="([^"]+)">', text).group(1)
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'none'" and directives["connect-src"] == "'none'"
    for directive in ("script-src", "style-src", "img-src", "font-src"):
        assert "http" not in directives[directive] and "*" not in directives[directive]
    # the policy comes before any script
    assert text.index("Content-Security-Policy") < text.index("<script")


def test_html_map_file_sizes(
    map_html: Path, big_map_html: Path, record_property: pytest.RecordProperty, capsys: pytest.CaptureFixture[str]
) -> None:
    small, big = map_html.stat().st_size, big_map_html.stat().st_size
    record_property("html_bytes_343", small)
    record_property("html_bytes_10000", big)
    with capsys.disabled():
        print(f"\nHTML map size: 343 papers {small:,} bytes; 10,000 papers {big:,} bytes")
    assert 4_000_000 < small < 6_500_000  # mostly plotly.js (~4.8 MB)
    assert small < big < small + 10_000 * 400


def test_html_map_rejects_bad_input(frames: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path) -> None:
    papers, topics = frames
    with pytest.raises(PaperatlasError, match="lack column.*x"):
        write_html_map(papers.drop(columns=["x"]), topics, tmp_path / "a.html")
    with pytest.raises(PaperatlasError, match="no papers"):
        write_html_map(papers.iloc[:0], topics, tmp_path / "a.html")
    with pytest.raises(PaperatlasError, match="duplicate paper id"):
        write_html_map(pd.concat([papers, papers.iloc[:1]]), topics, tmp_path / "a.html")
    broken = papers.copy()
    broken.loc[3, "y"] = np.nan
    with pytest.raises(PaperatlasError, match="'y' has missing"):
        write_html_map(broken, topics, tmp_path / "a.html")
    with pytest.raises(PaperatlasError, match="topics lack column"):
        write_html_map(papers, topics.drop(columns=["name"]), tmp_path / "a.html")
    with pytest.raises(PaperatlasError, match="it is a folder"):
        write_html_map(papers, topics, tmp_path)
    (tmp_path / "file").write_text("x")
    with pytest.raises(PaperatlasError, match="cannot write"):
        write_html_map(papers, topics, tmp_path / "file" / "map.html")
    assert not (tmp_path / "a.html").exists()


def test_html_map_minimal_columns(tmp_path: Path) -> None:
    papers = pd.DataFrame({"id": [1, 2, 3], "title": ["a", "b", "c"], "topic_id": [0, 0, -1],
                           "x": [0.0, 1.0, 2.0], "y": [0.0, 1.0, 0.5]})
    text = render_html_map(papers, None)
    assert '"Topic 0"' in text and '"nb":[[],[],[]]' in text
    assert write_html_map(papers, None, tmp_path / "deep" / "m.html").is_file()
    # loose cell types: missing neighbours, numpy arrays of int ids, timestamps
    papers["neighbours"] = [None, np.array([1, 3, 99]), pd.NA]
    papers["date"] = [pd.Timestamp("2024-05-06 10:00"), None, "2023"]
    text = render_html_map(papers, None)
    assert '"nb":[[],[0,2],[]]' in text and '"dates":["2024-05-06","","2023"]' in text


# ---------------------------------------------------------------- in the browser


def test_map_draws_every_paper_offline(browser: OfflineBrowser, map_html: Path, tmp_path: Path) -> None:
    page = browser.open(map_html)
    try:
        assert page.evaluate("window.paperatlas.renderer()") == "scattergl"
        assert page.evaluate("window.paperatlas.pointCount()") == 343
        assert page.locator("canvas").count() > 0  # the WebGL layer exists
        # zoomed out: the 6 coarse themes are labelled
        assert page.evaluate("window.paperatlas.labelLayer()") == 1
        assert sorted(page.evaluate("window.paperatlas.labels()")) == sorted(THEMES)
        page.screenshot(path=str(tmp_path / "map.png"))
        assert browser.log.problems() == []
        assert all(url.startswith("file:") for url in browser.log.requests), browser.log.requests
    finally:
        page.close()


def test_map_svg_fallback_draws_every_paper(browser: OfflineBrowser, map_html: Path) -> None:
    page = browser.open(map_html, "svg")
    try:
        assert page.evaluate("window.paperatlas.renderer()") == "scatter"
        assert page.locator("#pa-map .scatterlayer path.point").count() >= 343
        assert page.evaluate("window.paperatlas.pointCount()") == 343
        assert browser.log.problems() == []
    finally:
        page.close()


def test_zooming_in_shows_fine_topic_names(browser: OfflineBrowser, map_html: Path, tmp_path: Path) -> None:
    page = browser.open(map_html)
    try:
        # blob 0 (Alignment) is centred at (10, 0)
        page.evaluate("window.paperatlas.zoom(6, 14, -4, 4)")
        page.wait_for_function("window.paperatlas.labelLayer() === 0")
        labels = page.evaluate("window.paperatlas.labels()")
        assert "reward models" in labels and "preference optimisation" in labels
        assert "Alignment" not in labels
        page.screenshot(path=str(tmp_path / "zoomed.png"))
        page.evaluate("window.paperatlas.resetZoom()")
        page.wait_for_function("window.paperatlas.labelLayer() === 1")
        assert browser.log.problems() == []
    finally:
        page.close()


def test_search_highlights_matching_titles(browser: OfflineBrowser, map_html: Path, tmp_path: Path) -> None:
    page = browser.open(map_html)
    try:
        page.locator("#pa-search").press_sequentially("PAPER 17 ABOUT reward")
        page.wait_for_function("window.paperatlas.highlighted().length === 1")
        assert page.evaluate("window.paperatlas.highlighted()") == ["2401.00017"]
        assert page.locator("#pa-count").inner_text() == "1 match"
        # a broader query: every "diffusion models" paper and nothing else
        page.locator("#pa-search").fill("diffusion MODELS")
        page.wait_for_function("window.paperatlas.query() === 'diffusion models'")
        page.wait_for_function("window.paperatlas.highlighted().length > 1")
        highlighted = set(page.evaluate("window.paperatlas.highlighted()"))
        papers, _ = make_map_frames()
        expected = set(papers.loc[papers["title"].str.contains("diffusion models"), "id"])
        assert highlighted == expected and "2401.00017" not in highlighted
        assert page.locator("#pa-count").inner_text() == f"{len(expected)} matches"
        page.screenshot(path=str(tmp_path / "search.png"))
        page.locator("#pa-search").fill("")
        page.wait_for_function("window.paperatlas.highlighted().length === 0")
        assert page.locator("#pa-count").inner_text() == ""
        assert browser.log.problems() == []
    finally:
        page.close()


def test_click_opens_panel_with_abstract_and_neighbours(
    browser: OfflineBrowser, map_html: Path, frames: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path
) -> None:
    papers, _ = frames
    # the most isolated paper, so a click at its pixel cannot pick another one
    xy = papers[["x", "y"]].to_numpy()
    d = np.sqrt(((xy[:, None] - xy[None]) ** 2).sum(-1))
    np.fill_diagonal(d, np.inf)
    target = papers.iloc[int(d.min(axis=1).argmax())]
    page = browser.open(map_html)
    try:
        assert page.locator("#pa-panel").is_hidden()
        point = page.evaluate("id => window.paperatlas.pixelOf(id)", target["id"])
        page.mouse.move(point["x"], point["y"])
        # hover: title, topic and date
        hover = page.locator("#pa-map .hoverlayer .hovertext")
        hover.wait_for(state="visible")
        topic = target["topic_name"] or "no topic (noise)"
        lines = hover.evaluate("el => Array.from(el.querySelectorAll('tspan.line')).map(t => t.textContent)")
        assert lines == [p for p in (target["title"], topic, target["date"]) if p]
        page.mouse.click(point["x"], point["y"])
        page.wait_for_function("window.paperatlas.selected() !== null")
        assert page.evaluate("window.paperatlas.selected()") == target["id"]
        panel = page.locator("#pa-panel")
        assert panel.is_visible()
        assert page.locator("#pa-paper-title").inner_text() == target["title"]
        assert page.locator("#pa-paper-abstract").inner_text() == target["abstract"]
        neighbour_titles = papers.set_index("id").loc[target["neighbours"], "title"].tolist()
        buttons = page.locator("#pa-neighbours button.pa-nb")
        assert buttons.all_inner_texts() == neighbour_titles
        page.screenshot(path=str(tmp_path / "panel.png"))
        # a neighbour's title jumps to that paper
        buttons.nth(0).click()
        first = papers.set_index("id").loc[target["neighbours"][0]]
        page.wait_for_function("id => window.paperatlas.selected() === id", arg=target["neighbours"][0])
        assert page.locator("#pa-paper-title").inner_text() == first["title"]
        assert page.locator("#pa-paper-abstract").inner_text() == first["abstract"]
        # markup in data is shown as text, not parsed
        page.evaluate("window.paperatlas.select('2401.00017')")
        page.wait_for_function("window.paperatlas.selected() === '2401.00017'")
        assert "<with markup & symbols>" in page.locator("#pa-paper-abstract").inner_text()
        page.evaluate("window.paperatlas.select('2401.00009')")
        page.wait_for_function("window.paperatlas.selected() === '2401.00009'")
        assert page.locator("#pa-paper-title").inner_text().endswith("</script><i>not markup</i> & $x$")
        page.locator("#pa-close").click()
        assert panel.is_hidden()
        assert browser.log.problems() == []
    finally:
        page.close()


def test_network_is_cut_and_the_page_policy_blocks_fetches(browser: OfflineBrowser, map_html: Path) -> None:
    """Even script that tries to load remote URLs gets nothing: the page's CSP refuses them."""
    page = browser.open(map_html)
    try:
        attempts = """async () => {
            const refused = [];
            document.addEventListener("securitypolicyviolation", e => refused.push(e.blockedURI));
            try { await fetch("https://example.com/data.json"); } catch (e) { refused.push("fetch failed"); }
            const image = new Image(); image.src = "https://example.com/tile.png";
            const script = document.createElement("script"); script.src = "https://example.com/x.js";
            document.head.appendChild(script);
            await new Promise(resolve => setTimeout(resolve, 300));
            return refused.sort();
        }"""
        assert page.evaluate(attempts) == [
            "fetch failed", "https://example.com/data.json", "https://example.com/tile.png", "https://example.com/x.js",
        ]
        assert browser.log.blocked == []  # refused by the page itself, before reaching the network
        page.goto("about:blank")  # no policy here: the test's network block catches the request
        assert page.evaluate("fetch('https://example.com/y').then(() => 'loaded', () => 'failed')") == "failed"
        assert browser.log.blocked == ["https://example.com/y"]
    finally:
        page.close()


def test_big_map_draws_ten_thousand_points(browser: OfflineBrowser, big_map_html: Path, tmp_path: Path) -> None:
    started = time.perf_counter()
    page = browser.open(big_map_html)
    try:
        loaded = time.perf_counter() - started
        assert page.evaluate("window.paperatlas.pointCount()") == 10_000
        page.evaluate("window.paperatlas.search('paper 1234 about')")
        page.wait_for_function("window.paperatlas.highlighted().length === 1")
        shot = tmp_path / "big.png"
        page.screenshot(path=str(shot))
        colours = _distinct_colours(shot)
        assert colours > 12, colours  # many topic colours on screen
        # the points are painted on the WebGL canvas: hiding it blanks thousands of pixels
        page.add_style_tag(content="#pa-map canvas { visibility: hidden !important; }")
        page.screenshot(path=str(tmp_path / "no-canvas.png"))
        changed = _changed_pixels(shot, tmp_path / "no-canvas.png")
        assert changed > 20_000, changed
        assert browser.log.problems() == []
        assert loaded < 20
    finally:
        page.close()


def _changed_pixels(a: Path, b: Path) -> int:
    import matplotlib.image as mpimg

    return int((np.abs(mpimg.imread(a)[..., :3] - mpimg.imread(b)[..., :3]).sum(-1) > 0.1).sum())


def _distinct_colours(png: Path) -> int:
    import matplotlib.image as mpimg

    image = (mpimg.imread(png)[..., :3] * 255).astype(np.uint8)
    body = image[80:-20:3, 20:-20:3].reshape(-1, 3)
    common = np.unique(body // 16, axis=0, return_counts=True)
    return int((common[1] > 20).sum())


# ---------------------------------------------------------------- PNG


def _png_size(path: os.PathLike[str] | str) -> tuple[int, int]:
    import matplotlib.image as mpimg

    height, width = mpimg.imread(os.fspath(path)).shape[:2]
    return width, height


def test_png_map_size_and_labels(frames: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path) -> None:
    papers, topics = frames
    result = write_png_map(papers, topics, tmp_path / "out" / "map.png")
    assert isinstance(result, PngMap) and result.path == tmp_path / "out" / "map.png"
    assert _png_size(result) == (1600, 1200) == (result.width, result.height)
    # 12 fine topics fit under the default label limit: all named, none dropped
    assert sorted(label.text for label in result.labels) == sorted(n for pair in SUBJECTS for n in pair)
    assert result.dropped == ()
    boxes = [label.box for label in result.labels]
    for i, a in enumerate(boxes):
        assert 0 <= a[0] < a[2] <= 1600 and 0 <= a[1] < a[3] <= 1200
        for b in boxes[i + 1 :]:
            assert not (a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]), (a, b)


def test_png_map_other_sizes_and_layers(
    frames: tuple[pd.DataFrame, pd.DataFrame], big_frames: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path
) -> None:
    papers, topics = frames
    result = write_png_map(papers, topics, tmp_path / "hi.png", width=2000, height=1500, dpi=150, layer=1)
    assert _png_size(result) == (2000, 1500)
    assert sorted(label.text for label in result.labels) == sorted(THEMES)
    odd = papers.assign(topic_name=papers["topic_name"].replace("reward models", "costs from $5 to $10 </b>"))
    assert "costs from $5 to $10 </b>" in [label.text for label in write_png_map(odd, topics, tmp_path / "odd.png").labels]
    big = write_png_map(*big_frames, tmp_path / "big.png", width=1777, height=1333, dpi=133, max_labels=5)
    assert _png_size(big) == (1777, 1333)
    # 12 topics > 5, so the 6 themes are labelled; the smallest theme's label is left out
    assert {label.layer for label in big.labels} == {1}
    assert len(big.labels) == 5 and len(big.dropped) == 1


def test_png_map_rejects_bad_input(frames: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path) -> None:
    papers, topics = frames
    with pytest.raises(PaperatlasError, match="lack column"):
        write_png_map(papers.drop(columns=["title"]), topics, tmp_path / "m.png")
    with pytest.raises(PaperatlasError, match="width"):
        write_png_map(papers, topics, tmp_path / "m.png", width=0)
    with pytest.raises(PaperatlasError, match="no layer 3"):
        write_png_map(papers, topics, tmp_path / "m.png", layer=3)
    (tmp_path / "file").write_text("x")
    with pytest.raises(PaperatlasError, match="cannot write"):
        write_png_map(papers, topics, tmp_path / "file" / "m.png")

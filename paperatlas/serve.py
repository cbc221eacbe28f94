"""``paperatlas serve``: the map as a local web app, with live semantic search over a JSON API.

The page is the static map (same renderer and data blocks) and, served, it also
asks the server for what a file cannot hold: free-text search through the
atlas's model and index, a clicked paper's similar papers from the real index
with their "why" terms, and abstracts on demand. The API (all ``GET``, JSON):

* ``/api/similar?q=TEXT&k=10``: papers similar to free text;
* ``/api/similar?id=ID&k=10``: papers similar to a paper of the atlas (either also takes
  ``mode=hybrid|dense|lexical`` and ``min_score=S``, a cosine floor from -1 to 1, see
  :func:`paperatlas.search.find_similar_papers`; ``note`` says when fewer than k passed);
* ``/api/paper/{id}``: one paper with its abstract, topic path and key terms;
* ``/api/topics?layer=N``: the topics of one layer, largest first.

Read-only (other methods get 405), bound to 127.0.0.1 unless told otherwise;
a bad parameter gets a 4xx answer ``{"error": ..., "parameter": ...}`` and the
server keeps serving. The limits of :mod:`paperatlas.limits` hold (``q`` at most
10,000 characters, an id 200: 400 beyond; a URL over 1 MB: 414); requests run side
by side, text queries on their own workers, so id and topic requests never queue
behind an embedding. The atlas and its model load once, at start. Built on
Starlette and uvicorn (the ``serve`` extra).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from paperatlas.errors import PaperatlasError
from paperatlas.limits import MAX_ARGUMENT_BYTES, MAX_ID_CHARS, MAX_QUERY_CHARS, cut_message, echo
from paperatlas.server_threads import share_between_threads

if TYPE_CHECKING:
    from paperatlas.atlas import Atlas
    from paperatlas.embed import Embedder

MISSING_EXTRA = "paperatlas serve needs the 'serve' extra: pip install 'paperatlas[serve]'"
MAX_K = 200
WORKER_THREADS = 8
"""Requests answered at once; :data:`TEXT_WORKER_THREADS` of them for text queries."""
TEXT_WORKER_THREADS = 2
SERVER_OPTIONS = {"h11_max_incomplete_event_size": MAX_ARGUMENT_BYTES + 65_536}
"""uvicorn settings: a request line may carry up to 1 MB (a 10,000-character query, URL-encoded),
so a long query gets the API's error, not a reset connection."""
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")

logger = logging.getLogger("paperatlas.serve")


class ApiError(PaperatlasError):
    """A request the API refuses: HTTP ``status``, naming the ``parameter`` at fault."""

    def __init__(self, message: str, parameter: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.parameter = parameter
        self.status = status


def _require_serve() -> None:
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise PaperatlasError(MISSING_EXTRA) from None


def _whole(params: Any, name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(f"{name} must be a whole number, got {echo(raw, 40)}", name) from None
    if not low <= value <= high:
        raise ApiError(f"{name} must be from {low} to {high}, got {value}", name)
    return value


def _check_id(paper_id: str) -> None:
    if len(paper_id) > MAX_ID_CHARS:
        raise ApiError(f"id is {len(paper_id):,} characters long; ids are at most {MAX_ID_CHARS}", "id")


def _score(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ApiError(f"min_score must be a number, got {raw[:40]!r}", "min_score") from None
    if not -1.0 <= value <= 1.0:
        raise ApiError(f"min_score must be from -1 to 1, got {value}", "min_score")
    return value


class AtlasApi:
    """The API's answers for one loaded atlas, as plain JSON-able values (no HTTP here).

    Safe to call from several threads (:func:`paperatlas.server_threads.share_between_threads`):
    the atlas is only read, and text embedding takes its own lock.
    """

    def __init__(self, atlas: Atlas) -> None:
        self.atlas = atlas
        self._embedder = share_between_threads(atlas)
        topics = atlas.topics  # read-only here: the names per layer are looked up once
        self._names = [topics.names_at(layer) for layer in range(topics.n_layers)] if topics is not None else []

    def warm(self) -> None:
        """Load what queries need now, not on the first request: the model (when the atlas names one)
        and the lexical index."""
        try:
            self._embedder.load()
        except PaperatlasError as error:  # e.g. vectors from elsewhere, no model named
            logger.warning("text queries are off: %s", error)

    def similar(self, params: Any) -> dict[str, Any]:
        from paperatlas.search import DEFAULT_MODE, SEARCH_MODES
        from paperatlas.tool import call_tool

        text, paper_id = params.get("q"), params.get("id")
        if (text is None) == (paper_id is None):
            raise ApiError("give exactly one of q (free text) or id (a paper id)", "q" if text is None else "id")
        k = _whole(params, "k", 10, 1, MAX_K)
        mode = params.get("mode", DEFAULT_MODE)
        if mode not in SEARCH_MODES:
            raise ApiError(f"mode must be one of {', '.join(SEARCH_MODES)}, not {mode[:40]!r}", "mode")
        if paper_id is not None:
            _check_id(paper_id)
            if paper_id not in self.atlas.corpus:
                raise ApiError(f"unknown paper id {echo(paper_id)}", "id", 404)
            arguments = {"query": paper_id, "k": k, "by": "id", "mode": mode}
        else:
            if not text.strip():
                raise ApiError("q must not be empty", "q")
            if len(text) > MAX_QUERY_CHARS:
                raise ApiError(f"q is {len(text):,} characters long; at most {MAX_QUERY_CHARS:,} are taken "
                               "(the model reads only the first few hundred words)", "q")
            arguments = {"query": text, "k": k, "by": "text", "mode": mode}
        if params.get("min_score") is not None:
            arguments["min_score"] = _score(params.get("min_score"))
        try:
            found = call_tool(self.atlas, "find_similar_papers", arguments)
        except PaperatlasError as error:
            raise ApiError(str(error), "id" if paper_id is not None else "q") from None
        return {"query": text if paper_id is None else paper_id, "by": arguments["by"], "k": k, "mode": mode,
                "note": found["note"], "results": found["results"]}

    def paper(self, paper_id: str) -> dict[str, Any]:
        from paperatlas.tool import get_paper

        _check_id(paper_id)
        if paper_id not in self.atlas.corpus:
            raise ApiError(f"unknown paper id {echo(paper_id)}", "id", 404)
        record = get_paper(self.atlas, paper_id)
        if self._names:
            labels = self.atlas.topics.labels[self.atlas.corpus.row(paper_id)]
            record["topic_path"] = [
                {"layer": layer, "topic_id": int(tid), "name": names.get(int(tid)) if tid >= 0 else None}
                for layer, (tid, names) in enumerate(zip(labels, self._names))
            ]
        return record

    def topics(self, params: Any) -> dict[str, Any]:
        from paperatlas.tool import list_topics

        if not self._names:
            raise ApiError("this atlas has no topics", "layer", 404)
        layers = len(self._names)
        layer = _whole(params, "layer", 0, 0, layers - 1)
        return {"layer": layer, "layers": layers, "topics": list_topics(self.atlas, layer)}


def create_app(atlas: Atlas, *, title: str = "paperatlas topic map"):
    """The Starlette app serving ``atlas``: the map page at ``/`` and the JSON API under ``/api/``."""
    _require_serve()
    import anyio
    import anyio.to_thread
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.requests import Request
    from starlette.responses import HTMLResponse, JSONResponse
    from starlette.routing import Route

    from paperatlas.export.html_map import SERVED_CONTENT_SECURITY_POLICY, render_html_map
    from paperatlas.export.map_data import MapData

    api = AtlasApi(atlas)
    api.warm()
    page = render_html_map(MapData.from_atlas(atlas), title=title, served=True)  # abstracts within the budget
    headers = {"Content-Security-Policy": SERVED_CONTENT_SECURITY_POLICY, "X-Content-Type-Options": "nosniff",
               "Cache-Control": "no-store"}

    workers = anyio.CapacityLimiter(WORKER_THREADS - TEXT_WORKER_THREADS)
    text_workers = anyio.CapacityLimiter(TEXT_WORKER_THREADS)  # text queries wait here, not in front of the rest

    async def answer(request: Request, function, *args: Any, lane: Any = workers) -> JSONResponse:
        try:
            if len(request.url.path) + len(request.url.query) > MAX_ARGUMENT_BYTES:
                raise ApiError(f"the request is over {MAX_ARGUMENT_BYTES:,} characters long", None, 414)
            value = await anyio.to_thread.run_sync(function, *args, limiter=lane)
            return JSONResponse(value, headers={"Cache-Control": "no-store"})
        except ApiError as error:
            return JSONResponse({"error": cut_message(str(error)), "parameter": error.parameter},
                                status_code=error.status)
        except PaperatlasError as error:
            return JSONResponse({"error": cut_message(str(error)), "parameter": None}, status_code=400)

    async def index(request: Request) -> HTMLResponse:
        return HTMLResponse(page, headers=headers)

    async def similar(request: Request) -> JSONResponse:
        lane = text_workers if request.query_params.get("q") is not None else workers
        return await answer(request, api.similar, request.query_params, lane=lane)

    async def paper(request: Request) -> JSONResponse:
        return await answer(request, api.paper, request.path_params["paper_id"])

    async def topics(request: Request) -> JSONResponse:
        return await answer(request, api.topics, request.query_params)

    async def http_error(request: Request, error: HTTPException) -> JSONResponse:
        message = {404: "no such page", 405: "read-only: only GET is served"}.get(error.status_code, str(error.detail))
        return JSONResponse({"error": message, "parameter": None}, status_code=error.status_code,
                            headers=getattr(error, "headers", None))

    async def server_error(request: Request, error: Exception) -> JSONResponse:
        logger.exception("error answering %s", request.url.path)
        return JSONResponse({"error": f"internal error: {type(error).__name__}", "parameter": None}, status_code=500)

    routes = [
        Route("/", index, methods=["GET"]),
        Route("/api/similar", similar, methods=["GET"]),
        Route("/api/paper/{paper_id:path}", paper, methods=["GET"]),
        Route("/api/topics", topics, methods=["GET"]),
    ]
    return Starlette(routes=routes, exception_handlers={HTTPException: http_error, Exception: server_error})


def serve(
    atlas_path: str | Path,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    embedder: Embedder | None = None,
) -> None:
    """Load the atlas (and its model) once and serve the map and API until interrupted.

    ``host`` is 127.0.0.1 by default: only this machine can connect. Another
    address (``0.0.0.0``) serves the network, read-only; a warning says so.
    """
    _require_serve()
    import uvicorn

    from paperatlas.atlas import Atlas

    atlas = Atlas.load(atlas_path)
    if embedder is not None:
        atlas.use_embedder(embedder)
    app = create_app(atlas, title=f"paperatlas: {Path(atlas_path).name}")
    if host not in LOCAL_HOSTS:
        logger.warning("serving on %s: other machines can reach this atlas (read-only)", host)
    uvicorn.run(app, host=host, port=port, log_level="warning", **SERVER_OPTIONS)

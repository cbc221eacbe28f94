"""An MCP server for one atlas: ``find_similar_papers``, ``get_paper``, ``list_topics``,
``list_topic_papers`` and ``topic_trends`` over stdio.

Run it with ``paperatlas mcp ATLAS`` and point an MCP client (Claude Desktop, an
IDE, an agent framework) at that command. The tools are the ones in
:mod:`paperatlas.tool`: their names, descriptions and input schemas come from
:func:`paperatlas.tool.tool_schema`, and calls go through
:func:`paperatlas.tool.call_tool`, so the MCP server, the OpenAI/Anthropic tool
definitions and the library cannot drift apart.

A result comes back as JSON text content, and as structured content
``{"result": ...}`` (the SDK's convention for results that are not objects).
Bad arguments and library errors come back as tool errors (``isError``) with
the message, so the calling model can correct itself; the server keeps serving.
Arguments over the limits of :mod:`paperatlas.limits` (text 10,000 characters,
100 ids, ids 200 characters, k 1,000, 1 MB of JSON) are refused before any work.
Calls run side by side on worker threads (:mod:`paperatlas.server_threads`): an id,
title or topic call does not wait behind a text query being embedded.

Built on the low-level server of the official MCP Python SDK (``mcp`` 2.x, the
optional ``mcp`` extra). Only the protocol goes to stdout; logs go to stderr.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from paperatlas._version import __version__
from paperatlas.errors import PaperatlasError
from paperatlas.limits import MAX_ID_CHARS, cut_message, echo
from paperatlas.server_threads import share_between_threads
from paperatlas.tool import TOOL_NAMES, call_tool, tool_schema

if TYPE_CHECKING:
    from paperatlas.atlas import Atlas
    from paperatlas.embed import Embedder

SERVER_NAME = "paperatlas"
WORKER_THREADS = 8
"""Calls answered at once (more wait for a free worker)."""
TEXT_WORKER_THREADS = 2
"""Of those, text queries (which embed their text, one at a time): the rest never wait behind them."""
MISSING_EXTRA = "the MCP server needs the 'mcp' extra: pip install 'paperatlas[mcp]'"

logger = logging.getLogger("paperatlas.mcp")


def _require_mcp() -> None:
    """Import the SDK pieces this module uses, or explain how to install them."""
    try:
        import mcp.server  # noqa: F401
        import mcp.server.stdio  # noqa: F401
        import mcp.types  # noqa: F401
    except ImportError:
        raise PaperatlasError(MISSING_EXTRA) from None


def _instructions(atlas: Atlas) -> str:
    return (
        f"A paper atlas of {len(atlas)} research papers. Use find_similar_papers to search it by free "
        "text, a title, or paper ids; get_paper for one paper's abstract; list_topics for its topics; "
        "list_topic_papers for the papers of one topic; topic_trends for papers per month and topic."
    )


def _result_text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def may_embed(atlas: Atlas, name: str, arguments: Any) -> bool:
    """Whether a call may embed text (a slow step): a find_similar_papers string query that is no paper id."""
    if name != "find_similar_papers" or not isinstance(arguments, dict):
        return False
    query = arguments.get("query")
    return (isinstance(query, str) and arguments.get("by") != "id"
            and (len(query) > MAX_ID_CHARS or query not in atlas.corpus))


def build_server(atlas: Atlas):
    """A low-level ``mcp.server.Server`` that serves ``atlas``'s tools (not yet running)."""
    _require_mcp()
    import anyio
    import anyio.to_thread
    import mcp.types as types
    from mcp.server import Server

    tools = []
    for name in TOOL_NAMES:
        schema = tool_schema(name)
        tools.append(
            types.Tool(
                name=schema["name"],
                description=schema["description"],
                input_schema=schema["parameters"],
                annotations=types.ToolAnnotations(
                    read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False
                ),
            )
        )
    # Calls run side by side (read-only atlas); text embedding takes its own lock.
    share_between_threads(atlas)
    workers = anyio.CapacityLimiter(WORKER_THREADS - TEXT_WORKER_THREADS)
    text_workers = anyio.CapacityLimiter(TEXT_WORKER_THREADS)

    def run(name: str, arguments: Any) -> Any:
        return call_tool(atlas, name, arguments)  # checks limits and schema first

    def error_result(message: str):
        text = cut_message(message)
        return types.CallToolResult(content=[types.TextContent(type="text", text=text)], is_error=True)

    async def on_list_tools(ctx: Any, params: Any) -> Any:
        return types.ListToolsResult(tools=list(tools))

    async def on_call_tool(ctx: Any, params: Any) -> Any:
        name = params.name
        try:
            # Off the event loop, so a slow first query (model loading) does not stall the transport.
            lane = text_workers if may_embed(atlas, name, params.arguments) else workers
            value = await anyio.to_thread.run_sync(run, name, params.arguments, limiter=lane)
            text = _result_text(value)
        except PaperatlasError as exc:
            logger.info("tool %s failed: %s", echo(name, 60), cut_message(str(exc), 300))
            return error_result(str(exc))
        except Exception as exc:  # a bug, not the caller's fault: report it and keep serving
            logger.exception("tool %s raised an unexpected error", echo(name, 60))
            return error_result(f"internal error in {echo(name, 60)}: {type(exc).__name__}: {exc}")
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=text)],
            structured_content={"result": value},
        )

    return Server(
        SERVER_NAME,
        version=__version__,
        instructions=_instructions(atlas),
        on_list_tools=on_list_tools,
        on_call_tool=on_call_tool,
    )


async def run_stdio(server: Any) -> None:
    """Serve ``server`` over this process's stdin/stdout until the client closes stdin."""
    _require_mcp()
    from mcp.server.stdio import stdio_server

    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of the record (never to stdout)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def _log_to_stderr() -> None:
    if not logger.handlers:
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("paperatlas mcp: %(levelname)s: %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False


def serve(atlas_path: str | Path, embedder: Embedder | None = None) -> None:
    """Load the atlas at ``atlas_path`` once and serve its tools over stdio (blocks until stdin closes).

    ``embedder`` replaces the atlas's own model for text queries (it must be the
    same model, see :meth:`Atlas.use_embedder`); by default the atlas's model is
    loaded on the first text query, not at startup.
    """
    _require_mcp()
    import anyio

    from paperatlas.atlas import Atlas

    _log_to_stderr()
    with contextlib.redirect_stdout(sys.stderr):  # stdout belongs to the protocol
        atlas = Atlas.load(atlas_path)
        if embedder is not None:
            atlas.use_embedder(embedder)
        server = build_server(atlas)
    logger.info("serving %d papers from %s over stdio", len(atlas), atlas_path)
    anyio.run(run_stdio, server)

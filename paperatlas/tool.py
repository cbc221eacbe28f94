"""The agent-facing tools: JSON-schema definitions derived from the library functions, and a dispatcher.

Each tool's parameters come from its Python signature (types, defaults) and its
docstring's ``Args:`` section (descriptions), so the schema and the function
cannot drift. :func:`tool_definitions` gives OpenAI- or Anthropic-style
definitions; :func:`dispatch` validates arguments against the schema, calls the
function and returns JSON.
"""

from __future__ import annotations

import inspect
import json
import re
import types
import typing
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Callable

from paperatlas.errors import PaperatlasError

if TYPE_CHECKING:
    from paperatlas.atlas import Atlas


class ToolArgumentError(PaperatlasError):
    """Tool arguments that do not match the tool's schema."""


def get_paper(atlas: Atlas, paper_id: str) -> dict[str, Any]:
    """One paper with its abstract and topic.

    Args:
        paper_id: the paper's id, as returned by find_similar_papers or list_topics, or one of its aliases.
    """
    if not isinstance(paper_id, str):
        raise ToolArgumentError(f"paper_id must be a string, not {type(paper_id).__name__}")
    if paper_id not in atlas.corpus:
        from paperatlas.limits import echo

        raise PaperatlasError(f"unknown paper id {echo(paper_id)}")
    row = atlas.corpus.row(paper_id)
    paper = atlas.corpus[row]
    from paperatlas.export.tables import jsonable
    from paperatlas.search import paper_topics

    labels, names = paper_topics(atlas, 0)
    topic_id = int(labels[row]) if labels is not None else None
    record = {
        "id": paper.id,
        "title": paper.title,
        "abstract": paper.abstract,
        "date": paper.date,
        "url": paper.link,
        "byline": paper.byline,
        "upvotes": paper.upvotes,
        "topic_id": topic_id,
        "topic": names.get(topic_id) if topic_id is not None else None,
        "aliases": list(paper.aliases),
    }
    record["metadata"] = {key: jsonable(value) for key, value in paper.metadata.items()}
    return record


def list_topics(atlas: Atlas, layer: int = 0) -> list[dict[str, Any]]:
    """The atlas's topics at one layer of the hierarchy, largest first.

    Args:
        layer: 0 for fine topics, 1 and up for coarser themes.
    """
    if atlas.topics is None:
        raise PaperatlasError("this atlas has no topics; build it with topics first")
    return atlas.topics.topic_records(layer, atlas.corpus)


def _library_function(name: str) -> Callable[..., Any]:
    if name == "find_similar_papers":
        from paperatlas.search import find_similar_papers

        return find_similar_papers
    if name == "list_topic_papers":
        from paperatlas.topic_papers import list_topic_papers

        return list_topic_papers
    if name == "topic_trends":
        from paperatlas.trends import trend_report

        return trend_report
    return {"get_paper": get_paper, "list_topics": list_topics}[name]


TOOL_NAMES = ("find_similar_papers", "get_paper", "list_topics", "list_topic_papers", "topic_trends")
_ENUMS = {("find_similar_papers", "by"): ("auto", "text", "id", "title"),
          ("find_similar_papers", "mode"): ("dense", "lexical", "hybrid")}
_MINIMUM = {"k": 1, "layer": 0, "min_score": -1, "limit": 1}
_MAXIMUM = {"min_score": 1}
_DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"


def _docstring_parts(function: Callable[..., Any]) -> tuple[str, dict[str, str]]:
    """The summary paragraph and the ``Args:`` descriptions of a Google-style docstring."""
    doc = inspect.getdoc(function) or ""
    summary = doc.split("\n\n", 1)[0].replace("\n", " ").strip()
    args: dict[str, str] = {}
    match = re.search(r"^Args:\n(.*?)(?:\n\S|\Z)", doc, flags=re.S | re.M)
    if match:
        current = None
        for line in match.group(1).splitlines():
            entry = re.match(r"^\s{4}([\w, ]+):\s*(.*)$", line)
            if entry:
                names = [n.strip() for n in entry.group(1).split(",")]
                for name in names:
                    args[name] = entry.group(2).strip()
                current = names
            elif current and line.strip():
                for name in current:
                    args[name] += " " + line.strip()
    return summary, args


def _json_type(annotation: Any, name: str) -> dict[str, Any]:
    """JSON schema for a Python annotation (str, int, bool, Sequence[str], unions, None)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(annotation) if a is not type(None)]
        schemas = [_json_type(a, name) for a in options]
        return schemas[0] if len(schemas) == 1 else {"anyOf": schemas}
    if annotation is str:
        schema: dict[str, Any] = {"type": "string"}
        if name.startswith("date_"):
            schema["pattern"] = _DATE_PATTERN
        return schema
    if annotation is bool:
        return {"type": "boolean"}
    if annotation in (int, float):
        schema = {"type": "integer" if annotation is int else "number"}
        if name in _MINIMUM:
            schema["minimum"] = _MINIMUM[name]
        if name in _MAXIMUM:
            schema["maximum"] = _MAXIMUM[name]
        return schema
    if origin in (Sequence, list, tuple, typing.Sequence):
        (item,) = typing.get_args(annotation)[:1] or (str,)
        return {"type": "array", "items": _json_type(item, name)}
    raise TypeError(f"no JSON schema for parameter {name!r} of type {annotation!r}")


def tool_schema(name: str) -> dict[str, Any]:
    """``{"name", "description", "parameters"}`` for one tool, from its signature and docstring."""
    from paperatlas.atlas import Atlas

    function = _library_function(name)
    hints = typing.get_type_hints(function, localns={"Atlas": Atlas})
    summary, described = _docstring_parts(function)
    properties: dict[str, Any] = {}
    required: list[str] = []
    for parameter in list(inspect.signature(function).parameters.values())[1:]:  # skip the atlas
        schema = _json_type(hints[parameter.name], parameter.name)
        if (name, parameter.name) in _ENUMS:
            schema = {"type": "string", "enum": list(_ENUMS[(name, parameter.name)])}
        if parameter.name == "query":
            schema = {"anyOf": [{"type": "string", "minLength": 1},
                                {"type": "array", "items": {"type": "string"}, "minItems": 1}]}
        if parameter.default is inspect.Parameter.empty:
            required.append(parameter.name)
        elif parameter.default not in (None, ()):
            schema["default"] = parameter.default
        schema["description"] = described.get(parameter.name, "")
        properties[parameter.name] = schema
    return {
        "name": name,
        "description": summary,
        "parameters": {"type": "object", "properties": properties, "required": required,
                       "additionalProperties": False},
    }


def tool_definitions(style: str = "openai") -> list[dict[str, Any]]:
    """Every tool, shaped for OpenAI (``{"type": "function", "function": ...}``) or Anthropic (``input_schema``)."""
    schemas = [tool_schema(name) for name in TOOL_NAMES]
    if style == "openai":
        return [{"type": "function", "function": schema} for schema in schemas]
    if style == "anthropic":
        return [{"name": s["name"], "description": s["description"], "input_schema": s["parameters"]} for s in schemas]
    raise ValueError(f"unknown style {style!r}; use 'openai' or 'anthropic'")


def validate_arguments(name: str, arguments: Any) -> dict[str, Any]:
    """Parsed, schema-checked arguments (a dict or a JSON object string)."""
    import jsonschema

    from paperatlas.limits import ECHO_CHARS, check_argument_text, check_call, echo

    if name not in TOOL_NAMES:
        raise ToolArgumentError(f"unknown tool {echo(name)}; tools: {', '.join(TOOL_NAMES)}")
    if isinstance(arguments, str):
        check_argument_text(arguments)
        try:
            arguments = json.loads(arguments or "{}")
        except json.JSONDecodeError as exc:
            raise ToolArgumentError(f"arguments are not valid JSON ({exc.msg})") from None
    if arguments is None:
        arguments = {}
    check_call(name, arguments)  # sizes first (paperatlas.limits), so nothing large is worked on
    try:
        jsonschema.validate(arguments, tool_schema(name)["parameters"])
    except jsonschema.ValidationError as exc:
        where = "/".join(str(part) for part in exc.absolute_path) or "arguments"
        message = (exc.message if len(exc.message) <= 2 * ECHO_CHARS  # else it repeats a long input: cut it
                   else f"{echo(exc.instance)} does not match {exc.validator} {echo(exc.validator_value, 60)}")
        raise ToolArgumentError(f"invalid arguments for {name}: {where}: {message}") from None
    return dict(arguments)


def call_tool(atlas: Atlas, name: str, arguments: Any) -> Any:
    """Validate and call one tool; returns its JSON-ready result or raises PaperatlasError."""
    arguments = validate_arguments(name, arguments)
    result = _library_function(name)(atlas, **arguments)
    return result.to_json() if name == "find_similar_papers" else result


def dispatch(atlas: Atlas, name: str, arguments: Any) -> str:
    """Run a tool call from an LLM and return JSON: the result, or ``{"error": ...}``."""
    try:
        return json.dumps({"result": call_tool(atlas, name, arguments)}, ensure_ascii=False)
    except PaperatlasError as exc:
        return json.dumps({"error": str(exc)}, ensure_ascii=False)

"""Exceptions raised by paperatlas; the CLI prints them as one line."""

from __future__ import annotations

from pathlib import Path


class PaperatlasError(Exception):
    """Base class of every error paperatlas raises on purpose."""


class InputError(PaperatlasError):
    """An input file could not be read or holds no usable papers.

    The message names the file and, where there is one, the line.
    """

    def __init__(self, path: str | Path, message: str, line: int | None = None) -> None:
        self.path = str(path)
        self.line = line
        self.reason = message
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {message}")

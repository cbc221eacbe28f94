"""The ``paperatlas`` command: parse arguments, call the library, print.

Library errors become one line on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from typing import Any, Callable

import click

from paperatlas._version import __version__
from paperatlas.errors import PaperatlasError

EXIT_ERROR = 1


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_ERROR)


def handle_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn library errors into one clear line and exit status 1."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except PaperatlasError as exc:
            _fail(str(exc))
        except KeyboardInterrupt:
            _fail("interrupted")

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="paperatlas")
def main() -> None:
    """Turn paper abstracts into a searchable, clustered map of a research field."""


def field_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options that say how to read input files."""
    from paperatlas.corpus.read import FORMATS

    options = [
        click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
                     help="Reader to use (default: chosen by file suffix)."),
        click.option("--title-field", default="title", show_default=True,
                     help="Input field holding the title (JSONL/CSV/Parquet)."),
        click.option("--abstract-field", default="abstract", show_default=True,
                     help="Input field holding the abstract (JSONL/CSV/Parquet)."),
        click.option("--id-field", default="id", show_default=True,
                     help="Input field holding a paper id (JSONL/CSV/Parquet)."),
        click.option("--date-field", default="date", show_default=True,
                     help="Input field holding a date (JSONL/CSV/Parquet)."),
        click.option("--page-year", type=int, default=None,
                     help="Year of year-less dates on Daily Papers pages "
                          "(default: one more than the page's latest explicit year)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def read_inputs(paths: tuple[str, ...], fmt: str | None, title_field: str, abstract_field: str,
                id_field: str, date_field: str, page_year: int | None):
    """Read inputs with the CLI's field options and report counts on stderr."""
    from paperatlas.corpus import FieldNames, read_papers

    fields = FieldNames(title=title_field, abstract=abstract_field, id=id_field, date=date_field)
    corpus, report = read_papers(paths, format=fmt, fields=fields, page_year=page_year)
    for line in report.skipped[:20]:
        click.echo(f"skipped {line}", err=True)
    if len(report.skipped) > 20:
        click.echo(f"... and {len(report.skipped) - 20} more skipped entries", err=True)
    for name in report.ignored_files:
        click.echo(f"ignored {name} (unknown file type)", err=True)
    click.echo(report.summary(), err=True)
    return corpus


def write_table(frame, out: Path) -> None:
    """Write a DataFrame as JSONL, CSV, Parquet or JSON, chosen by suffix."""
    from paperatlas.tables import write_frame

    write_frame(frame, out)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Output file: .jsonl, .csv, .parquet or .json.")
@field_options
@handle_errors
def ingest(paths: tuple[str, ...], out: Path, **read_options: Any) -> None:
    """Read papers from PATHS (files or folders, mixed formats), dedupe, write OUT."""
    from paperatlas.tables import write_papers

    corpus = read_inputs(paths, **read_options)
    write_papers(corpus, out)
    click.echo(f"wrote {len(corpus)} papers to {out}", err=True)


if __name__ == "__main__":  # pragma: no cover
    main()

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
                id_field: str, date_field: str, page_year: int | None, verbose: bool = False):
    """Read inputs with the CLI's field options and report counts on stderr (``verbose``: every merge)."""
    from paperatlas.corpus import FieldNames, read_papers

    fields = FieldNames(title=title_field, abstract=abstract_field, id=id_field, date=date_field)
    corpus, report = read_papers(paths, format=fmt, fields=fields, page_year=page_year)
    for line in report.skipped[:20]:
        click.echo(f"skipped {line}", err=True)
    if len(report.skipped) > 20:
        click.echo(f"... and {len(report.skipped) - 20} more skipped entries", err=True)
    for name in report.ignored_files:
        click.echo(f"ignored {name} (unknown file type)", err=True)
    for merge in report.merges if verbose else ():
        click.echo(merge.describe(), err=True)
    click.echo(report.summary(), err=True)
    _note_renames(corpus.metadata_columns())
    return corpus


def _note_renames(columns: list[str]) -> None:
    """Say once on stderr which input columns are named like computed ones (exported as ``input_<name>``)."""
    from paperatlas.export.tables import describe_renames, input_renames

    renames = input_renames(columns)
    if renames:
        click.echo("note: " + describe_renames(renames), err=True)


def write_table(frame, out: Path) -> None:
    """Write a DataFrame as JSONL, CSV, Parquet or JSON, chosen by suffix."""
    from paperatlas.export.tables import write_frame

    write_frame(frame, out)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Output file: .jsonl, .csv, .parquet or .json.")
@click.option("-v", "--verbose", is_flag=True, help="List every merge of records of the same paper.")
@field_options
@handle_errors
def ingest(paths: tuple[str, ...], out: Path, **read_options: Any) -> None:
    """Read papers from PATHS (files or folders, mixed formats), dedupe, write OUT."""
    from paperatlas.export.tables import write_papers

    corpus = read_inputs(paths, **read_options)
    write_papers(corpus, out)
    click.echo(f"wrote {len(corpus)} papers to {out}", err=True)


def topic_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Options of the topic stage (defaults scale with the corpus)."""
    options = [
        click.option("--min-cluster-size", type=click.IntRange(min=2), default=None,
                     help="Smallest topic (default scales with the corpus)."),
        click.option("--min-samples", type=click.IntRange(min=1), default=None, help="HDBSCAN min_samples."),
        click.option("--n-neighbors", type=click.IntRange(min=2), default=None, help="UMAP neighbours."),
        click.option("--layers", "n_layers", type=click.IntRange(min=1), default=None,
                     help="Topic layers, the fine one included (default: themes 3, 6, 12, 24, 48, 144, ... "
                          "below the fine topic count)."),
        click.option("--n-topics", "n_topics", type=click.IntRange(min=1), default=None,
                     help="Add a layer of about this many topics (the nearest count nesting allows is reported)."),
        click.option("--themes", type=click.Choice(["regions", "ward", "average"]), default="regions",
                     show_default=True,
                     help="Coarse layers: regions of the map (cover every paper) or merges of whole topics."),
        click.option("--reassign-noise", type=click.FloatRange(-1, 1), default=None,
                     help="Opt in: noise papers join the nearest topic with at least this cosine similarity."),
        click.option("--random-state", type=int, default=42, show_default=True, help="Seed of UMAP."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def topic_settings(options: dict[str, Any]):
    """TopicSettings from the CLI's topic options (removed from ``options``)."""
    from paperatlas.cluster import TopicSettings

    values = {
        "min_cluster_size": options.pop("min_cluster_size"),
        "min_samples": options.pop("min_samples"),
        "n_neighbors": options.pop("n_neighbors"),
        "reassign_threshold": options.pop("reassign_noise"),
        "themes": options.pop("themes"),
        "random_state": options.pop("random_state"),
    }
    for name in ("n_layers", "n_topics"):
        value = options.pop(name)
        if value is not None:
            values[name] = value
    return TopicSettings(**values)


def load_named(path: Path | None) -> list:
    if path is None:
        return []
    from paperatlas.cluster import load_named_topics

    return load_named_topics(path)


def load_vectors(path: Path):
    """A precomputed ``.npy`` array of vectors (no pickle), memory-mapped: read as it is used."""
    import numpy as np

    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as exc:
        raise PaperatlasError(f"{path}: not a numeric .npy array ({exc})") from None


def load_atlas(path: str):
    """Load and verify an atlas folder."""
    from paperatlas.atlas import Atlas

    return Atlas.load(path)


def hold_for_writing(path: str | Path) -> None:
    """Hold the writer lock of the atlas at ``path`` until the command ends, so that what it reads
    and what it saves are one update (another writer waits, up to PAPERATLAS_LOCK_TIMEOUT)."""
    from paperatlas.atlas_saves import writing

    click.get_current_context().with_resource(writing(path))


def print_json(value: Any) -> None:
    """Print ``value`` as strict JSON: NaN or infinity (which JSON has no spelling for) is an error."""
    import json

    try:
        text = json.dumps(value, indent=2, ensure_ascii=False, default=str, allow_nan=False)
    except ValueError:
        raise PaperatlasError("the result holds NaN or infinity, which JSON cannot carry; "
                              "`paperatlas verify` checks the atlas") from None
    click.echo(text)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("-o", "--out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Atlas folder to write (replaced atomically if it exists).")
@click.option("--model", default=None,
              help="sentence-transformers model name or local folder (default: the bundled "
                   "all-MiniLM-L6-v2); with --embeddings, the model that made them (checked on a sample).")
@click.option("--device", default="auto", show_default=True,
              help="auto (CUDA when available), cpu, cuda, cuda:N, mps.")
@click.option("--batch-size", default=None, type=click.IntRange(min=1),
              help="Texts per forward pass  [default: 32 on the CPU, 512 on a GPU]")
@click.option("--backend", type=click.Choice(["torch", "onnx", "onnx-int8"]), default="torch", show_default=True,
              help="torch, or ONNX Runtime on the CPU in fp32 (onnx) or int8 (onnx-int8), exported once into "
                   "the cache folder; recorded in the atlas, so queries and add embed the same way.")
@click.option("--embeddings", "embeddings_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Precomputed embeddings (.npy, one row a paper in input order) "
                                 "instead of a model.")
@click.option("--index", "index_kind", type=click.Choice(["auto", "exact", "ivf", "hnsw"]), default="auto",
              show_default=True, help="exact search, ivf (compact codes re-ranked exactly), hnsw (a graph "
                                      "holding a second copy of the vectors), or auto (ivf above 50,000 papers).")
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Embedding cache folder (default: $PAPERATLAS_CACHE_DIR or ~/.cache/paperatlas).")
@click.option("--no-cache", is_flag=True, help="Do not read or write the embedding cache.")
@click.option("--topics", "topics_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="TOML file of named topics (name + description) that guide topic names.")
@click.option("--no-topics", is_flag=True, help="Embed and index only; fit no topics.")
@click.option("--refit", is_flag=True,
              help="If OUT is an atlas already, refit its topics, keep their ids where topics persist, "
                   "and report what changed.")
@click.option("--drop-missing", is_flag=True,
              help="With --refit: let papers of OUT that PATHS lack (added with 'add', say) leave the atlas.")
@click.option("--ray", "use_ray", is_flag=True,
              help="Embed on Ray Data, fill the index and assign topics in Ray tasks: the cluster at "
                   "$RAY_ADDRESS, else a Ray started here (needs the 'ray' extra).")
@click.option("--ray-actors", type=click.IntRange(min=1), default=None,
              help="With --ray: embedding actors [default: one per GPU, else one per 4 CPUs].")
@click.option("--ray-cpus-per-actor", type=click.FloatRange(min=0, min_open=True), default=None,
              help="With --ray: CPUs (torch threads) of a CPU actor [default: 4, or all CPUs if fewer].")
@click.option("--ray-work", default=None,
              help="With --ray: folder or URI (s3://...) every node sees, for the papers to embed and the "
                   "shards written [default: ray-work in the cache folder; a cluster of several machines "
                   "needs one].")
@topic_options
@field_options
@handle_errors
def build(paths: tuple[str, ...], out: Path, model: str | None, device: str, batch_size: int | None,
          backend: str, embeddings_path: Path | None, index_kind: str, cache_dir: Path | None, no_cache: bool,
          topics_file: Path | None, no_topics: bool, refit: bool, drop_missing: bool, use_ray: bool,
          ray_actors: int | None, ray_cpus_per_actor: float | None, ray_work: str | None, **options: Any) -> None:
    """Embed, index and cluster the papers in PATHS into the atlas folder OUT."""
    from contextlib import ExitStack

    ray_settings = None
    if use_ray:
        from paperatlas.distributed.session import RaySettings, require_ray

        require_ray()
        ray_settings = RaySettings(actors=ray_actors, cpus_per_actor=ray_cpus_per_actor, work_dir=ray_work)
        ray_settings.check()
    elif ray_actors is not None or ray_cpus_per_actor is not None or ray_work is not None:
        raise click.UsageError("--ray-actors, --ray-cpus-per-actor and --ray-work go with --ray")
    with ExitStack() as stack:
        if ray_settings is not None:
            from paperatlas.distributed.session import ray_session

            stack.enter_context(ray_session())  # one Ray for embedding, index and topics
        _build(paths, out, model, device, batch_size, backend, embeddings_path, index_kind, cache_dir, no_cache,
               topics_file, no_topics, refit, drop_missing, ray_settings or False, options)


def _build(paths, out, model, device, batch_size, backend, embeddings_path, index_kind, cache_dir, no_cache,
           topics_file, no_topics, refit, drop_missing, ray, options) -> None:
    from paperatlas.atlas import Atlas
    from paperatlas.embed import EmbeddingCache, SentenceTransformerEmbedder

    import time

    hold_for_writing(out)
    started = time.perf_counter()
    settings = topic_settings(options)
    corpus = read_inputs(paths, **options)
    read_seconds = time.perf_counter() - started
    embeddings = embedder = None
    if embeddings_path is not None:
        embeddings = load_vectors(embeddings_path)
    if embeddings_path is None or model is not None:
        embedder = _test_embedder() or SentenceTransformerEmbedder(model, device=device, batch_size=batch_size,
                                                                   backend=backend, export_dir=cache_dir)
    named = load_named(topics_file)
    if refit:
        from paperatlas.store import MANIFEST

        if no_topics:
            raise click.UsageError("--refit and --no-topics exclude each other")
        if not (out / MANIFEST).exists():
            raise PaperatlasError(f"--refit needs an existing atlas at {out}")
        from paperatlas.refit import check_missing, describe_papers
        from paperatlas.store import read_saved_topics
        from paperatlas.text_table import plural

        previous = read_saved_topics(out)
        leaving = check_missing(previous, corpus, drop_missing=drop_missing, where=f"the atlas at {out}")
        if leaving:
            click.echo(f"--drop-missing: {plural(len(leaving), 'paper')} not in the inputs leave {out}: "
                       f"{describe_papers(leaving)}", err=True)
    elif drop_missing:
        raise click.UsageError("--drop-missing goes with --refit")
    cache = None if no_cache else EmbeddingCache(cache_dir)
    atlas = Atlas.build(corpus, embedder, embeddings=embeddings, index=index_kind, cache=cache,
                        show_progress=True, ray=ray)
    if embeddings is not None and embedder is not None:
        click.echo(f"checked the vectors against {embedder.model_id}: text queries and add will embed with it",
                   err=True)
    elif embedder is not None:
        resumed = f", {atlas.last_resumed} from the shards of an interrupted Ray run" if atlas.last_resumed else ""
        click.echo(f"embedded {atlas.last_embedded} texts{resumed}; "
                   f"{len(atlas) - atlas.last_embedded - atlas.last_resumed} came from the cache", err=True)
    if atlas.last_cut:
        from paperatlas.embed.cut import MAX_TEXT_CHARS
        from paperatlas.text_table import plural

        click.echo(f"cut {plural(atlas.last_cut, 'text')} to their first {MAX_TEXT_CHARS:,} characters before "
                   "embedding (the model reads fewer)", err=True)
    if refit:
        topics = atlas.refit(previous, settings, named, drop_missing=drop_missing, cache=cache, show_progress=True,
                             ray=ray)
        click.echo(atlas.last_changes.render(), err=True)
    elif not no_topics:
        topics = atlas.fit_topics(settings, named, cache=cache, show_progress=True, ray=ray)
    if not no_topics:
        counts = ", ".join(f"layer {layer}: {topics.n_topics(layer)}" for layer in range(topics.n_layers))
        click.echo(f"topics: {counts}; noise {topics.noise_share(0):.1%}", err=True)
        if settings.n_topics is not None:
            layer = topics.layer_nearest(settings.n_topics)
            found = topics.n_topics(layer)
            note = "" if found == settings.n_topics else " (the nearest count the hierarchy allows)"
            click.echo(f"--n-topics {settings.n_topics}: layer {layer} has {found} topics{note}", err=True)
    stages = dict(read=read_seconds, **atlas.timings)
    if not no_topics:
        stages["topics"] = time.perf_counter() - started - sum(stages.values())
    saving = time.perf_counter()
    atlas.save(out)
    stages["save"] = time.perf_counter() - saving
    click.echo(f"wrote atlas of {len(atlas)} papers to {out}", err=True)
    click.echo("took " + ", ".join(f"{stage} {seconds:.1f} s" for stage, seconds in stages.items()), err=True)
    if not no_topics and topics.timings:
        click.echo("topic steps: " + ", ".join(f"{step} {seconds:.1f} s" for step, seconds in topics.timings.items()),
                   err=True)


@main.command()
@click.argument("atlas_path", metavar="ATLAS", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handle_errors
def info(atlas_path: str, as_json: bool) -> None:
    """Verify an atlas folder and summarise it: papers, model, index, topics, dates, files, checks."""
    from paperatlas.atlas_saves import read_snapshot
    from paperatlas.summary import atlas_summary, format_summary

    # the atlas and its manifest of one save, should a writer swap the folder in between
    summary = read_snapshot(atlas_path, lambda folder: atlas_summary(load_atlas(str(folder)), atlas_path))
    if as_json:
        print_json(summary)
        return
    click.echo(format_summary(summary, atlas_path))


@main.command()
@click.argument("atlas_path", metavar="ATLAS", type=click.Path(file_okay=False, path_type=Path))
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--cache-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Embedding cache folder (default: $PAPERATLAS_CACHE_DIR or ~/.cache/paperatlas).")
@click.option("--embeddings", "embeddings_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=None, help="Precomputed vectors of the papers in PATHS (.npy, one row a paper in input order).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: each new paper's topic.")
@field_options
@handle_errors
def add(atlas_path: Path, paths: tuple[str, ...], cache_dir: Path | None, embeddings_path: Path | None,
        as_json: bool, **read_options: Any) -> None:
    """Add the papers in PATHS to ATLAS without refitting: only new papers are embedded (or their
    --embeddings rows taken), and each joins the topic its nearest papers vote for. Prints each
    new paper's topic."""
    from paperatlas.embed import EmbeddingCache
    from paperatlas.export.paper_topics import paper_topics
    from paperatlas.export.tables import frame_records
    from paperatlas.text_table import plural

    hold_for_writing(atlas_path)
    atlas = load_atlas(str(atlas_path))
    if test_embedder := _test_embedder():
        atlas.use_embedder(test_embedder)
    corpus = read_inputs(paths, **read_options)
    embeddings = load_vectors(embeddings_path) if embeddings_path is not None else None
    added = atlas.add(corpus, embeddings=embeddings, cache=EmbeddingCache(cache_dir), show_progress=True)
    if added:
        atlas.save(atlas_path)
    had = len(corpus) - len(added)
    click.echo(f"added {plural(len(added), 'paper')} ({had} {'was' if had == 1 else 'were'} already in the atlas); "
               f"embedded {atlas.last_embedded}; the atlas holds {len(atlas)}", err=True)
    records = frame_records(paper_topics(atlas, added))
    if as_json:
        print_json({"added": records, "already_in_atlas": had, "embedded": atlas.last_embedded,
                    "papers": len(atlas)})
    elif records:
        from paperatlas.text_table import Column, format_table

        click.echo(format_table(records, [
            Column("id", "id", min_width=None), Column("title", "title", min_width=20),
            Column("topic_id", "topic", min_width=None, align=">"), Column("topic_name", "topic name", min_width=16),
        ]))


@main.command()
@click.argument("atlas_path", metavar="ATLAS", type=click.Path())
@click.option("--layer", default=0, show_default=True, type=click.IntRange(min=0), help="0 = fine topics.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handle_errors
def topics(atlas_path: str, layer: int, as_json: bool) -> None:
    """List ATLAS's topics: id, name, key terms, size, exemplar titles, parent."""
    from paperatlas.tool import list_topics

    atlas = load_atlas(atlas_path)
    records = list_topics(atlas, layer)
    if as_json:
        print_json(records)
        return
    noise = atlas.require_topics().noise_share(layer)
    click.echo(f"{len(records)} topics at layer {layer}; {noise:.1%} of papers are noise")
    for record in records:
        click.echo(f"\n[{record['topic_id']}] {record['name']}  ({record['size']} papers, parent {record['parent']})")
        click.echo(f"    key terms: {', '.join(record['keyterms'][:8])}")
        for exemplar in record["exemplars"][:3]:
            click.echo(f"    - {exemplar['title']}")


@main.command()
@click.argument("atlas_path", metavar="ATLAS", type=click.Path())
@click.option("--topic", required=True, help="The topic: its id or its name (-1: papers in no topic).")
@click.option("--layer", default=0, show_default=True, type=click.IntRange(min=0), help="0 = fine topics.")
@click.option("--limit", default=None, type=click.IntRange(min=1), help="At most this many papers (default: all).")
@click.option("--snippets", is_flag=True, help="Show the start of each paper's abstract under its row.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handle_errors
def papers(atlas_path: str, topic: str, layer: int, limit: int | None, snippets: bool, as_json: bool) -> None:
    """List the papers of one topic of ATLAS, closest to the topic's centre first."""
    from paperatlas.text_table import Column, format_table, snippet_lines, terminal_width
    from paperatlas.topic_papers import list_topic_papers

    report = list_topic_papers(load_atlas(atlas_path), topic, layer=layer, limit=limit)
    if as_json:
        print_json(report)
        return
    name = report["topic"] if report["topic"] is not None else "papers in no topic"
    shown = f"{report['returned']} of {report['size']}" if report["returned"] < report["size"] else str(report["size"])
    click.echo(f"{name} (topic {report['topic_id']}, layer {layer}): {shown} "
               f"{'paper' if report['size'] == 1 else 'papers'}, closest to the topic's centre first")
    width = terminal_width()
    columns = [Column("closeness", "closeness", min_width=None, align=">", show="{:.3f}".format),
               Column("id", "id", min_width=None), Column("date", "date", min_width=None),
               Column("title", "title", min_width=20)]

    below = snippet_lines(width) if snippets else None
    click.echo(format_table(report["papers"], columns, width=width, below=below))


@main.command()
@click.argument("atlas_path", metavar="ATLAS", type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet", "json", "jsonl"]), default=None,
              help="Table format (default: from OUT's suffix).")
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False, path_type=Path))
@handle_errors
def export(atlas_path: str, fmt: str | None, out: Path) -> None:
    """Write ATLAS's paper table: id, title, date, topic_id, topic_name, x, y, layer_<n> and
    layer_<n>_name per layer, the other paper fields, metadata, abstract."""
    atlas = load_atlas(atlas_path)
    if fmt is not None and out.suffix.lower() != f".{fmt}":
        raise PaperatlasError(f"{out}: the file name should end in .{fmt} for --format {fmt}")
    from paperatlas.export.tables import paper_table

    _note_renames(atlas.corpus.metadata_columns())
    write_table(paper_table(atlas), out)
    click.echo(f"wrote {len(atlas)} papers to {out}", err=True)


@main.command()
@click.argument("atlas_path", metavar="ATLAS", type=click.Path())
@click.option("--topic", default=None, help="Only this topic (id or name; -1: papers in no topic).")
@click.option("--layer", default=0, show_default=True, type=click.IntRange(min=0), help="0 = fine topics.")
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write the table of every topic (.csv/.parquet/.json/.jsonl) instead of printing it.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handle_errors
def trends(atlas_path: str, topic: str | None, layer: int, out: Path | None, as_json: bool) -> None:
    """Papers per month and topic: months as rows (undated papers in a row of their own), topic ids
    as columns, the topic names below."""
    from paperatlas.trends import format_trends, trend_report

    atlas = load_atlas(atlas_path)
    if out is not None:
        if topic is not None or as_json:
            raise click.UsageError("-o writes the table of every topic; leave out --topic and --json")
        from paperatlas.export.tables import topic_trends

        write_table(topic_trends(atlas, layer).reset_index(), out)
        click.echo(f"wrote papers per month and topic to {out}", err=True)
        return
    report = trend_report(atlas, topic, layer)
    if as_json:
        print_json(report)
    else:
        click.echo(format_trends(report))


@main.command()
@click.argument("atlas_path", metavar="ATLAS", type=click.Path())
@click.option("--labels-from", "column", required=True,
              help="Column holding the true label: a metadata column, byline, upvotes, date or sources.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handle_errors
def evaluate(atlas_path: str, column: str, as_json: bool) -> None:
    """Score ATLAS's topics against a label column: per layer topics, noise, V-measure, NMI, ARI;
    and the same-label precision@10 of nearest neighbours."""
    from paperatlas.evaluation import evaluate_atlas

    report = evaluate_atlas(load_atlas(atlas_path), column)
    if as_json:
        print_json(report)
        return
    from paperatlas.text_table import plural

    click.echo(f"{plural(report['papers'], 'paper')} with a value in {column}, {plural(report['labels'], 'label')}; "
               f"neighbour precision@10 {report['precision_at_10']:.3f}")
    click.echo("layer  topics  noise   V-measure  NMI     ARI")
    for row in report["layers"]:
        click.echo(f"{row['layer']:>5}  {row['topics']:>6}  {row['noise_share']:.3f}   {row['v_measure']:.3f}      "
                   f"{row['nmi']:.3f}   {row['ari']:.3f}")


@main.command("map")
@click.argument("atlas_path", metavar="ATLAS", type=click.Path())
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Interactive HTML map (one self-contained file).")
@click.option("--png", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Static PNG map.")
@click.option("--width", default=1600, show_default=True, type=click.IntRange(min=400))
@click.option("--height", default=1200, show_default=True, type=click.IntRange(min=300))
@click.option("--abstract-budget", default=8.0,  # = map_payload.ABSTRACT_BUDGET_MB (tested)
              show_default=True, type=click.FloatRange(min=0),
              help="Include abstracts in the HTML when they compress to at most this many MB (0: never).")
@handle_errors
def map_command(atlas_path: str, out: Path | None, png: Path | None, width: int, height: int,
                abstract_budget: float) -> None:
    """Write ATLAS's topic map: an offline interactive HTML page and/or a PNG."""
    from paperatlas.export import MapData, write_html_map, write_png_map
    from paperatlas.export.map_data import MAP_NEIGHBOURS

    if out is None and png is None:
        raise click.UsageError("give -o map.html, --png map.png, or both")
    data = MapData.from_atlas(load_atlas(atlas_path), neighbours=MAP_NEIGHBOURS if out is not None else 0,
                              progress=True)
    if out is not None:
        write_html_map(data, out, abstract_budget_mb=abstract_budget)
        click.echo(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)", err=True)
    if png is not None:
        write_png_map(data, png, width=width, height=height)
        click.echo(f"wrote {png} ({width}x{height})", err=True)


NOISE_MARK = "(noise)"


def _hits_table(results: list[dict[str, Any]], snippets: bool) -> str:
    """Search hits as a table for people: id, score, title, topic ("(noise)" for noise papers),
    date, why; fitted to the terminal, with the abstract snippet under each row if asked."""
    from paperatlas.text_table import Column, format_table, snippet_lines, terminal_width

    width = terminal_width()
    topic_cells = _topic_cells(results)
    with_topics = any(hit.get("topic_id") is not None for hit in results)
    columns = [
        Column("id", "id", min_width=None),
        Column("score", "score", min_width=None, align=">", show="{:.3f}".format),
        Column("title", "title", min_width=24, want=48),
        *([Column("topic_id", "topic", max_width=28, min_width=20, show=lambda topic_id: topic_cells.get(topic_id, ""))]
          if with_topics else []),
        Column("date", "date", min_width=None),
        Column("why", "why", max_width=40, min_width=16, optional=True, words=True),
    ]

    return format_table(results, columns, width=width, below=snippet_lines(width) if snippets else None)


def _topic_cells(results: list[dict[str, Any]]) -> dict[Any, str]:
    """Topic id → the text of its cell: its name, or the noise mark."""
    cells = {hit.get("topic_id"): hit.get("topic") or "" for hit in results}
    return {**cells, -1: NOISE_MARK}


@main.command()
@click.argument("atlas_path", metavar="ATLAS", type=click.Path())
@click.argument("query", required=False)
@click.option("--id", "paper_ids", multiple=True, help="Paper id to start from (repeat for 'more like these').")
@click.option("--title", "by_title", is_flag=True, help="QUERY is a title (exact or close match).")
@click.option("--not", "negative", multiple=True, help="Paper id to steer away from (repeatable).")
@click.option("-k", default=10, show_default=True, type=int, help="How many papers.")
@click.option("--topic", default=None, help="Only papers of this topic (id or name).")
@click.option("--layer", default=0, show_default=True, type=click.IntRange(min=0), help="Topic layer for --topic.")
@click.option("--since", "date_from", default=None, help="Only papers dated on or after YYYY-MM-DD.")
@click.option("--until", "date_to", default=None, help="Only papers dated on or before YYYY-MM-DD.")
@click.option("--include-query", is_flag=True, help="Keep the query papers in the results.")
@click.option("--mode", type=click.Choice(["hybrid", "dense", "lexical"]), default="hybrid", show_default=True,
              help="Ranking: vectors and BM25 fused, vectors only, or BM25 only.")
@click.option("--min-score", type=click.FloatRange(-1, 1), default=None,
              help="Only papers with at least this score (cosine similarity to the query).")
@click.option("--snippets", is_flag=True, help="Show the start of each paper's abstract under its row.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for programs.")
@handle_errors
def similar(atlas_path: str, query: str | None, paper_ids: tuple[str, ...], by_title: bool,
            negative: tuple[str, ...], k: int, topic: str | None, layer: int, date_from: str | None,
            date_to: str | None, include_query: bool, mode: str, min_score: float | None, snippets: bool,
            as_json: bool) -> None:
    """Find papers similar to QUERY (free text or a title) or to --id papers."""
    from paperatlas.search import find_similar_papers
    from paperatlas.text_table import plural

    if query is None and not paper_ids:
        raise click.UsageError("give a QUERY or one or more --id")
    if query is not None and paper_ids:
        raise click.UsageError("give a QUERY or --id papers, not both")
    if by_title and paper_ids:
        raise click.UsageError("--title reads QUERY as a title; it does not go with --id")
    atlas = load_atlas(atlas_path)
    target = list(paper_ids) if paper_ids else query
    by = "id" if paper_ids else ("title" if by_title else "auto")
    topic_value: int | str | None = int(topic) if topic is not None and topic.lstrip("-").isdigit() else topic
    results = find_similar_papers(
        atlas, target, k, by=by, negative=list(negative), topic=topic_value, layer=layer,
        date_from=date_from, date_to=date_to, exclude_query=False if include_query else None, mode=mode,
        min_score=min_score,
    )
    if as_json:
        print_json(results.to_json())
        return
    note = f" ({results.note})" if results.note else ""
    click.echo(f"{plural(len(results), 'paper')} like {results.query['description']}{note}")
    if results:
        click.echo(_hits_table(list(results), snippets))


@main.command()
@click.argument("atlas_path", metavar="ATLAS", type=click.Path(file_okay=False, path_type=Path))
@handle_errors
def upgrade(atlas_path: Path) -> None:
    """Rewrite ATLAS in the current format (an older one is migrated when it is loaded)."""
    from paperatlas.store import FORMAT_VERSION

    hold_for_writing(atlas_path)
    atlas = load_atlas(str(atlas_path))
    atlas.save(atlas_path)
    click.echo(f"wrote {atlas_path} as atlas format {FORMAT_VERSION}", err=True)


@main.command()
@click.argument("atlas_path", metavar="ATLAS", type=click.Path(file_okay=False, path_type=Path))
@handle_errors
def verify(atlas_path: Path) -> None:
    """Check every byte of ATLAS against its manifest (a load checks sizes and sampled blocks)."""
    from paperatlas.atlas_saves import read_snapshot
    from paperatlas.store import verify_atlas

    manifest = read_snapshot(atlas_path, verify_atlas)
    total = sum(entry.get("bytes", 0) for entry in manifest.get("files", {}).values())
    click.echo(f"{atlas_path}: all {len(manifest.get('files', {}))} files match the manifest "
               f"({total / 1e6:,.1f} MB); {manifest['corpus']['papers']} papers match the corpus hash", err=True)


def _test_embedder():
    """FakeEmbedder when PAPERATLAS_FAKE_EMBEDDER=1 (tests of the servers, build and add), else None: the atlas's own
    model (or, in build, the one --model names)."""
    import os

    if os.environ.get("PAPERATLAS_FAKE_EMBEDDER") != "1":
        return None
    from paperatlas.embed import FakeEmbedder

    return FakeEmbedder()


@main.command("serve")
@click.argument("atlas_path", metavar="ATLAS", type=click.Path())
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; the default lets only this machine connect.")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(1, 65535))
@handle_errors
def serve_command(atlas_path: str, host: str, port: int) -> None:
    """Serve ATLAS's map with live semantic search at http://HOST:PORT/ (needs the 'serve' extra).

    Read-only. The JSON API: /api/similar?q=TEXT&k=10, /api/similar?id=ID&k=10,
    /api/paper/ID, /api/topics?layer=N. Stop with Ctrl-C.
    \f
    For tests only: PAPERATLAS_FAKE_EMBEDDER=1 as for ``mcp``.
    """
    from paperatlas.serve import serve

    embedder = _test_embedder()
    click.echo(f"serving {atlas_path} at http://{'[' + host + ']' if ':' in host else host}:{port}/ (Ctrl-C stops)",
               err=True)
    serve(atlas_path, host=host, port=port, embedder=embedder)


@main.command("mcp")
@click.argument("atlas_path", metavar="ATLAS", type=click.Path())
@handle_errors
def mcp_command(atlas_path: str) -> None:
    """Serve ATLAS's search tools to MCP clients over stdio (needs the 'mcp' extra).

    The tools are find_similar_papers, get_paper, list_topics, list_topic_papers and
    topic_trends. Register the
    command with your MCP client, e.g. {"command": "paperatlas", "args": ["mcp", "/path/to/atlas"]}.
    \f
    For tests only: with PAPERATLAS_FAKE_EMBEDDER=1 in the environment, text
    queries use paperatlas.embed.FakeEmbedder instead of loading the real model;
    the atlas must then have been built with FakeEmbedder ("fake-hashing-384").
    """
    from paperatlas.mcp_server import serve

    serve(atlas_path, embedder=_test_embedder())


if __name__ == "__main__":  # pragma: no cover
    main()

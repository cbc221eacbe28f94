"""The atlas folder on disk: every reader and writer of it, one codec per artefact.

``manifest.json`` holds the format name and version, library versions, the
model, and each file's sha256. The artefacts:

* papers — ``papers.parquet`` (nested or mixed metadata as JSON text), read
  into a :class:`Corpus` that makes Paper objects on demand;
* vectors — ``embeddings.npy`` (float32 unit rows, memory-mapped on load);
* index — ``index.faiss`` (FAISS's own format);
* topics — ``topics.parquet`` (one row per layer and topic) and
  ``assignments.parquet`` (labels per layer, membership, map position);
* search state — ``search_terms.npy`` (hashed document frequencies) and
  ``search_titles.parquet`` (normalised titles), read on first use.

A save writes a sibling temporary folder, then swaps it in with renames, so a
crash or Ctrl-C leaves the previous atlas intact. Loading verifies the format
version and every file's sha256 before anything is read. Format 1 atlases
(before the search state was saved) are migrated on load.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import sys
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator

import numpy as np

from paperatlas.errors import PaperatlasError

if TYPE_CHECKING:
    from paperatlas.cluster.topic_model import TopicModel
    from paperatlas.corpus.model import Corpus
    from paperatlas.embed.base import ModelInfo
    from paperatlas.index import PaperIndex
    from paperatlas.search_state import SearchState

FORMAT_NAME = "paperatlas-atlas"
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)
"""Format 1 lacks the saved search state (and names exemplars by id); it is migrated on load."""
MANIFEST = "manifest.json"
Writers = dict[str, Callable[[Path], None]]


class AtlasFormatError(PaperatlasError):
    """An atlas folder is missing, corrupted, or of an unknown format."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def library_versions() -> dict[str, str]:
    """Versions of the libraries whose formats or numbers an atlas depends on."""
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in ("numpy", "pandas", "pyarrow", "faiss-cpu", "sentence-transformers", "torch", "umap-learn", "hdbscan", "scikit-learn"):
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


@contextmanager
def _deferred_interrupt() -> Iterator[None]:
    """Hold Ctrl-C until the block ends (only possible in the main thread)."""
    received: list[int] = []
    try:
        previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    except ValueError:  # not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received:
            raise KeyboardInterrupt


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atlas_folder(path: str | Path, writers: dict[str, Callable[[Path], None]], manifest: dict[str, Any]) -> None:
    """Write files (name → writer of that path) and the manifest, replacing ``path`` atomically."""
    target = Path(path)
    if target.exists() and not target.is_dir():
        raise PaperatlasError(f"{target} exists and is not a folder")
    if target.exists() and any(target.iterdir()) and not (target / MANIFEST).exists():
        raise PaperatlasError(f"{target} is a folder that is not an atlas; refusing to replace it")
    target.parent.mkdir(parents=True, exist_ok=True)
    token = uuid.uuid4().hex[:8]
    staging = target.parent / f".{target.name}.saving-{token}"
    retired = target.parent / f".{target.name}.old-{token}"
    staging.mkdir()
    try:
        files = {}
        for name, write in writers.items():
            write(staging / name)
            files[name] = {"sha256": sha256_file(staging / name), "bytes": (staging / name).stat().st_size}
        body = dict(manifest, format=FORMAT_NAME, format_version=FORMAT_VERSION, files=files)
        with open(staging / MANIFEST, "w", encoding="utf-8") as handle:
            json.dump(body, handle, indent=2, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        _fsync_folder(staging)
        with _deferred_interrupt():
            if target.exists():
                os.rename(target, retired)
            os.rename(staging, target)
            _fsync_folder(target.parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if retired.exists() and not target.exists():
            os.rename(retired, target)
        raise
    shutil.rmtree(retired, ignore_errors=True)
    for leftover in target.parent.glob(f".{target.name}.saving-*"):
        shutil.rmtree(leftover, ignore_errors=True)  # from saves that were killed


def read_manifest(path: str | Path, verify: bool = True) -> dict[str, Any]:
    """The manifest of an atlas folder, after checking its format and (by default) checksums."""
    folder = Path(path)
    if not folder.is_dir():
        retired = sorted(folder.parent.glob(f".{folder.name}.old-*"))
        hint = f" (a save was interrupted; the previous atlas is in {retired[0]})" if retired else ""
        raise AtlasFormatError(f"{folder}: no atlas folder here{hint}")
    manifest_path = folder / MANIFEST
    if not manifest_path.exists():
        raise AtlasFormatError(f"{folder}: not an atlas ({MANIFEST} is missing)")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise AtlasFormatError(f"{manifest_path}: corrupted manifest ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise AtlasFormatError(f"{manifest_path}: not a paperatlas manifest")
    version = manifest.get("format_version")
    if version not in READABLE_VERSIONS:
        raise AtlasFormatError(
            f"{manifest_path}: atlas format version {version!r} is not supported "
            f"(this paperatlas reads versions {', '.join(map(str, READABLE_VERSIONS))}); "
            "rebuild the atlas with `paperatlas build`"
        )
    if verify:
        for name in manifest.get("files", {}):
            _verify(folder, manifest, name)
    return manifest


# papers ----------------------------------------------------------------------

PAPERS = "papers.parquet"


def corpus_hash(corpus: Corpus) -> str:
    """A hash of the papers' ids and texts, in order."""
    digest = hashlib.sha256()
    for paper_id, content in zip(corpus.ids, corpus.column("content_hash")):
        digest.update(f"{paper_id}\t{content}\n".encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def _needs_json(values: list[Any]) -> bool:
    present = [v for v in values if v is not None and not (isinstance(v, float) and v != v)]
    if any(isinstance(v, (list, tuple, dict)) for v in present):
        return True
    return len({type(v) for v in present}) > 1


def papers_writers(corpus: Corpus) -> tuple[Writers, dict[str, Any]]:
    """The papers file and its manifest entry (which metadata columns hold JSON text)."""
    if corpus.arrow_table is not None:  # read from an atlas and unchanged: write it back as it is
        import pyarrow.parquet as pq

        table = corpus.arrow_table
        return {PAPERS: lambda p: pq.write_table(table, p)}, _papers_entry(corpus, corpus.json_columns)
    from paperatlas.corpus.model import PAPER_COLUMNS

    frame = corpus.to_frame()
    json_columns = []
    for column in frame.columns:
        if column not in PAPER_COLUMNS and _needs_json(values := frame[column].tolist()):
            json_columns.append(column)
            frame[column] = [None if v is None else json.dumps(v, ensure_ascii=False) for v in values]
    return {PAPERS: lambda p: frame.to_parquet(p, index=False)}, _papers_entry(corpus, json_columns)


def _papers_entry(corpus: Corpus, json_columns) -> dict[str, Any]:
    return {"papers": len(corpus), "content_hash": corpus_hash(corpus), "json_columns": list(json_columns)}


def read_papers(folder: Path, manifest: dict[str, Any]) -> Corpus:
    import pyarrow.parquet as pq

    from paperatlas.corpus.model import Corpus

    json_columns = manifest["corpus"].get("json_columns", manifest.get("json_columns", []))
    corpus = Corpus.from_arrow(pq.read_table(folder / PAPERS), json_columns)
    if len(corpus) != int(manifest["corpus"]["papers"]) or corpus_hash(corpus) != manifest["corpus"]["content_hash"]:
        raise AtlasFormatError(f"{folder}: papers do not match the manifest's corpus hash")
    return corpus


# vectors and index -------------------------------------------------------------

VECTORS = "embeddings.npy"
INDEX = "index.faiss"


def vectors_writers(vectors: np.ndarray, index: PaperIndex) -> Writers:
    return {
        VECTORS: lambda p: np.save(p, np.asarray(vectors, dtype=np.float32), allow_pickle=False),
        INDEX: index.save,
    }


def read_vectors(folder: Path, model: ModelInfo, n: int) -> tuple[np.ndarray, PaperIndex]:
    """The vectors (memory-mapped, read-only) and the index, checked against the model and paper count."""
    from paperatlas.index import PaperIndex

    vectors = np.load(folder / VECTORS, mmap_mode="r", allow_pickle=False)
    if vectors.dtype != np.float32 or vectors.ndim != 2 or vectors.shape != (n, model.dimension):
        raise AtlasFormatError(
            f"{folder}: embeddings of shape {vectors.shape} do not match {n} papers of the manifest's "
            f"{model.dimension}-d model {model.id!r}"
        )
    index = PaperIndex.load(folder / INDEX)
    if index.dimension != model.dimension or len(index) != n:
        raise AtlasFormatError(
            f"{folder}: the index holds {len(index)} vectors of dimension {index.dimension}; "
            f"expected {n} of {model.dimension}"
        )
    return vectors, index


# topics ----------------------------------------------------------------------------

TOPICS, ASSIGNMENTS = "topics.parquet", "assignments.parquet"


def topics_writers(topics: TopicModel) -> tuple[Writers, dict[str, Any]]:
    import dataclasses

    import pandas as pd

    from paperatlas.cluster.topic_model import TOPIC_COLUMNS

    assignments = pd.DataFrame({f"layer_{layer}": topics.labels[:, layer] for layer in range(topics.n_layers)})
    assignments["probability"] = topics.probabilities
    coords = topics.coords if topics.coords is not None else np.full((len(topics), 2), np.nan, np.float32)
    assignments["x"], assignments["y"] = coords[:, 0], coords[:, 1]
    table = topics.table[list(TOPIC_COLUMNS)].copy()
    table["exemplars"] = [[int(r) for r in rows] for rows in table["exemplars"]]
    entry = {
        "layers": topics.n_layers,
        "settings": json.loads(json.dumps(dataclasses.asdict(topics.settings), default=list)),
        "named_topics": [{"name": t.name, "description": t.description} for t in topics.named],
        "exemplars": "rows",
        "map": topics.coords is not None,
    }
    return {
        TOPICS: lambda p: table.to_parquet(p, index=False),
        ASSIGNMENTS: lambda p: assignments.to_parquet(p, index=False),
    }, entry


def read_topics(folder: Path, entry: dict[str, Any], corpus: Corpus) -> TopicModel:
    import pandas as pd

    from paperatlas.cluster.naming import NamedTopic
    from paperatlas.cluster.settings import TopicSettings
    from paperatlas.cluster.topic_model import TopicModel

    table = pd.read_parquet(folder / TOPICS)
    assignments = pd.read_parquet(folder / ASSIGNMENTS)
    layers = int(entry["layers"])
    if len(assignments) != len(corpus):
        raise AtlasFormatError(f"{folder}: {ASSIGNMENTS} has {len(assignments)} rows for {len(corpus)} papers")
    if entry.get("exemplars") == "rows":
        table["exemplars"] = table["exemplars"].map(lambda rows: [int(r) for r in rows])
    else:  # format 1: exemplars by paper id, and an id column in the assignments
        if list(assignments["id"]) != corpus.ids:
            raise AtlasFormatError(f"{folder}: {ASSIGNMENTS} does not list the atlas's papers in order")
        row_of = {paper_id: row for row, paper_id in enumerate(corpus.ids)}
        table["exemplars"] = table["exemplars"].map(lambda ids: [row_of[i] for i in ids if i in row_of])
    for column in ("keyterms", "keyterm_scores"):
        table[column] = table[column].map(list)
    return TopicModel(
        labels=assignments[[f"layer_{i}" for i in range(layers)]].to_numpy(np.int64),
        probabilities=assignments["probability"].to_numpy(np.float32),
        coords=assignments[["x", "y"]].to_numpy(np.float32) if entry.get("map", True) else None,
        table=table,
        settings=TopicSettings.from_plain(entry.get("settings", {})),
        named=tuple(NamedTopic(t["name"], t["description"]) for t in entry.get("named_topics", [])),
    )


def read_topic_labels(path: str | Path) -> tuple[list[str], np.ndarray]:
    """``(ids, labels (n, layers))`` of a saved atlas's topics: all a refit needs of it."""
    import pyarrow.parquet as pq

    folder = Path(path)
    manifest = read_manifest(folder, verify=False)
    if not manifest.get("topics"):
        raise AtlasFormatError(f"{folder}: the atlas has no topics to keep ids from")
    for name in (PAPERS, ASSIGNMENTS):
        _verify(folder, manifest, name)
    ids = pq.read_table(folder / PAPERS, columns=["id"]).column("id").to_pylist()
    layers = int(manifest["topics"]["layers"])
    table = pq.read_table(folder / ASSIGNMENTS, columns=[f"layer_{i}" for i in range(layers)])
    labels = np.stack([table.column(i).to_numpy() for i in range(layers)], axis=1).astype(np.int64)
    return ids, labels


# search state ----------------------------------------------------------------------

SEARCH_TERMS, SEARCH_TITLES = "search_terms.npy", "search_titles.parquet"


def search_writers(state: SearchState) -> tuple[Writers, dict[str, Any]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    terms = state.terms
    titles = pa.table({"title_key": pa.array(state.title_keys, pa.string())})
    entry = {"documents": terms.documents, "buckets": int(terms.document_frequency.size),
             "analyzer": terms.analyzer.to_json()}
    return {
        SEARCH_TERMS: lambda p: np.save(p, terms.document_frequency.astype(np.int32), allow_pickle=False),
        SEARCH_TITLES: lambda p: pq.write_table(titles, p),
    }, entry


def read_search_state(folder: Path, manifest: dict[str, Any], n: int) -> SearchState:
    """The saved search state; its files are read (and their checksums checked again, in case
    the folder was replaced since it was loaded) on the first query that needs them."""
    entry = manifest["search"]
    from paperatlas.search_state import SearchState
    from paperatlas.why import N_BUCKETS, TermAnalyzer, TermStats

    def terms() -> TermStats:
        frequency = np.load(_verify(folder, manifest, SEARCH_TERMS), allow_pickle=False)
        if frequency.shape != (N_BUCKETS,) or int(entry["buckets"]) != N_BUCKETS:
            raise AtlasFormatError(f"{folder}: {SEARCH_TERMS} has shape {frequency.shape}, expected ({N_BUCKETS},)")
        return TermStats(TermAnalyzer.from_json(entry["analyzer"]), frequency.astype(np.int32), int(entry["documents"]))

    def titles() -> list[str]:
        import pyarrow.parquet as pq

        keys = pq.read_table(_verify(folder, manifest, SEARCH_TITLES)).column("title_key").to_pylist()
        if len(keys) != n:
            raise AtlasFormatError(f"{folder}: {SEARCH_TITLES} has {len(keys)} titles for {n} papers")
        return keys

    return SearchState(terms, titles)


# the whole folder --------------------------------------------------------------------


@dataclass
class AtlasParts:
    """What an atlas folder holds, as read by :func:`read_atlas`."""

    corpus: Corpus
    vectors: np.ndarray
    index: PaperIndex
    model: ModelInfo
    topics: TopicModel | None
    search_state: SearchState


def write_atlas(path: str | Path, parts: AtlasParts) -> None:
    """Write an atlas folder atomically: every artefact through its codec, then the manifest."""
    from paperatlas._version import __version__

    writers, corpus_entry = papers_writers(parts.corpus)
    writers.update(vectors_writers(parts.vectors, parts.index))
    search_files, search_entry = search_writers(parts.search_state)
    writers.update(search_files)
    topics_entry = None
    if parts.topics is not None:
        topic_files, topics_entry = topics_writers(parts.topics)
        writers.update(topic_files)
    manifest = {
        "paperatlas_version": __version__,
        "libraries": library_versions(),
        "model": {"id": parts.model.id, "dimension": parts.model.dimension, "external": parts.model.external},
        "index": {"kind": parts.index.kind, "metric": "inner_product"},
        "corpus": corpus_entry,
        "topics": topics_entry,
        "search": search_entry,
    }
    write_atlas_folder(path, writers, manifest)


def read_atlas(path: str | Path) -> AtlasParts:
    """Read and verify an atlas folder (format, checksums, shapes, model); migrate format 1."""
    from paperatlas.embed.base import ModelInfo

    folder = Path(path)
    manifest = read_manifest(folder)
    try:
        model = ModelInfo(
            str(manifest["model"]["id"]),
            int(manifest["model"]["dimension"]),
            bool(manifest["model"].get("external", False)),
        )
        corpus = read_papers(folder, manifest)
        vectors, index = read_vectors(folder, model, len(corpus))
        topics = read_topics(folder, manifest["topics"], corpus) if manifest.get("topics") else None
    except (KeyError, TypeError, ValueError, OSError) as exc:
        raise AtlasFormatError(f"{folder}: unreadable atlas ({type(exc).__name__}: {exc})") from None
    if manifest.get("search") is None:
        state = _migrated_search_state(folder, corpus, manifest)
    else:
        state = read_search_state(folder, manifest, len(corpus))
    return AtlasParts(corpus, vectors, index, model, topics, state)


def _migrated_search_state(folder: Path, corpus: Corpus, manifest: dict[str, Any]) -> SearchState:
    from paperatlas.search_state import SearchState

    start = time.perf_counter()
    state = SearchState.of_corpus(corpus)
    print(
        f"paperatlas: {folder} is atlas format {manifest.get('format_version')}; computed its search state "
        f"in {time.perf_counter() - start:.1f} s; `paperatlas upgrade {folder}` saves it as format {FORMAT_VERSION}",
        file=sys.stderr,
    )
    return state


def _verify(folder: Path, manifest: dict[str, Any], name: str) -> Path:
    entry = manifest.get("files", {}).get(name)
    file = folder / name
    if entry is None or not file.exists():
        raise AtlasFormatError(f"{file}: missing from the atlas")
    if sha256_file(file) != entry.get("sha256"):
        raise AtlasFormatError(f"{file}: corrupted (checksum does not match the manifest)")
    return file

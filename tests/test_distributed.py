"""Building on Ray (``--ray``): embedding on Ray Data with shards, the IVF index filled in Ray
tasks, topics assigned in Ray tasks, faults (a killed actor, an interrupted driver), the CLI.

Ray runs locally (``ray.init(num_cpus=2)``) once for this module."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ray", reason="the ray extra is not installed")

from click.testing import CliRunner  # noqa: E402

from paperatlas.atlas import Atlas  # noqa: E402
from paperatlas.cli import main  # noqa: E402
from paperatlas.distributed import RaySettings  # noqa: E402
from paperatlas.distributed.shards import WorkFolder, run_key, write_shard  # noqa: E402
from paperatlas.embed import EmbeddingCache, FakeEmbedder  # noqa: E402
from paperatlas.errors import PaperatlasError  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def ray_local():
    import logging

    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR,
             runtime_env={"env_vars": {"PYTHONPATH": str(REPO)}})  # the actors import the embedders below
    yield ray
    ray.shutdown()


@pytest.fixture()
def small_corpus(bundled_corpus):
    return bundled_corpus.subset(np.arange(len(bundled_corpus)) < 120)


class KillingEmbedder(FakeEmbedder):
    """Kills its own process (SIGKILL, as an OOM killer would) on the first batch after ``marker`` appears."""

    def __init__(self, marker: str) -> None:
        super().__init__()
        self.marker = marker

    def encode(self, texts, *, show_progress_bar=False):
        try:
            os.unlink(self.marker)  # only one process can claim the marker
        except FileNotFoundError:
            return super().encode(texts)
        os.kill(os.getpid(), signal.SIGKILL)


class FailingEmbedder(FakeEmbedder):
    """Embeds ``good`` batches (counted in ``log``, across processes), then raises: a driver that stops."""

    def __init__(self, log: str, good: int) -> None:
        super().__init__()
        self.log, self.good = log, good

    def encode(self, texts, *, show_progress_bar=False):
        done = len(Path(self.log).read_text().splitlines()) if Path(self.log).exists() else 0
        if done >= self.good:
            raise RuntimeError("the machine went away")
        with open(self.log, "a") as out:
            out.write(f"{len(texts)}\n")
        return super().encode(texts)


class LoggingEmbedder(FakeEmbedder):
    """Appends every text it embeds to ``log`` (the texts that reached an actor)."""

    def __init__(self, log: str) -> None:
        super().__init__()
        self.log = log

    def encode(self, texts, *, show_progress_bar=False):
        with open(self.log, "a") as out:
            out.writelines(text.replace("\n", " ") + "\n" for text in texts)
        return super().encode(texts)


class SlowEmbedder(FakeEmbedder):
    """A second a batch: a driver can be killed while its actors work."""

    def encode(self, texts, *, show_progress_bar=False):
        import time

        time.sleep(1.0)
        return super().encode(texts)


DRIVER = """
import logging, sys
import numpy as np
import ray
ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR,
         runtime_env={"env_vars": {"PYTHONPATH": sys.argv[2]}})
sys.path.insert(0, sys.argv[2])
from paperatlas import read_corpus
from paperatlas.atlas import Atlas
from paperatlas.distributed import RaySettings
from tests.test_distributed import SlowEmbedder
corpus = read_corpus(sys.argv[2] + "/data/papers.jsonl")
corpus = corpus.subset(np.arange(len(corpus)) < 120)
Atlas.build(corpus, SlowEmbedder(), cache=None, index="exact", ray=RaySettings(batch_size=20, work_dir=sys.argv[1]))
"""


def _work_root(tmp_path: Path) -> str:
    return str(tmp_path / "ray-work")


def test_ray_build_equals_a_local_build(ray_local, small_corpus, tmp_path):
    local = Atlas.build(small_corpus, FakeEmbedder(), cache=None, index="ivf")
    cache = EmbeddingCache(tmp_path / "cache")
    built = Atlas.build(small_corpus, FakeEmbedder(), cache=cache, index="ivf",
                        ray=RaySettings(batch_size=25, work_dir=_work_root(tmp_path)))
    assert np.array_equal(built.corpus.ids, local.corpus.ids)
    assert built.embeddings.dtype == local.embeddings.dtype == np.float16  # the rows beside an ivf index
    # float32 vectors within 1e-6 may round to neighbouring float16 values: one step is under 1e-4 here
    assert np.abs(built.embeddings.astype(np.float32) - local.embeddings.astype(np.float32)).max() < 1e-4
    assert built.last_embedded == len(small_corpus) and built.last_resumed == 0
    assert cache.count(FakeEmbedder().model_id) == len(small_corpus)  # the shards went into the cache
    assert not any((tmp_path / "ray-work").iterdir())  # and the work folder is gone
    query = local.embeddings[:5]
    assert np.array_equal(built.index.search(query, 10)[1], local.index.search(query, 10)[1])


def test_cached_papers_never_reach_the_actors(ray_local, small_corpus, tmp_path):
    cache = EmbeddingCache(tmp_path / "cache")
    half = small_corpus.subset(np.arange(len(small_corpus)) < 60)
    Atlas.build(half, FakeEmbedder(), cache=cache, index="exact")  # cached locally
    log = tmp_path / "texts.log"
    built = Atlas.build(small_corpus, LoggingEmbedder(str(log)), cache=cache, index="exact",
                        ray=RaySettings(batch_size=16, work_dir=_work_root(tmp_path)))
    assert built.last_embedded == len(small_corpus) - 60
    seen = log.read_text().splitlines()
    assert len(seen) == len(small_corpus) - 60
    assert not set(seen) & {text.replace("\n", " ") for text in half.texts()}
    again = Atlas.build(small_corpus, LoggingEmbedder(str(log)), cache=cache, index="exact",
                        ray=RaySettings(work_dir=_work_root(tmp_path)))
    assert again.last_embedded == 0 and len(log.read_text().splitlines()) == len(seen)  # nothing embedded twice


def test_killed_actor_loses_and_duplicates_no_paper(ray_local, small_corpus, tmp_path):
    clean = Atlas.build(small_corpus, FakeEmbedder(), cache=None, index="exact")
    marker = tmp_path / "kill-me"
    marker.touch()
    built = Atlas.build(small_corpus, KillingEmbedder(str(marker)), cache=None, index="exact",
                        ray=RaySettings(batch_size=20, work_dir=_work_root(tmp_path)))
    assert not marker.exists()  # an actor did die mid-run
    assert len(built) == len(clean) and len(set(built.corpus.ids)) == len(built)
    assert np.abs(built.embeddings - clean.embeddings).max() < 1e-6


def test_interrupted_driver_resumes_from_the_written_shards(ray_local, small_corpus, tmp_path):
    log = tmp_path / "batches.log"
    settings = RaySettings(batch_size=20, actors=1, work_dir=_work_root(tmp_path))
    with pytest.raises(PaperatlasError, match="resumes from them"):
        Atlas.build(small_corpus, FailingEmbedder(str(log), good=3), cache=None, index="exact", ray=settings)
    key = run_key(FakeEmbedder().model_id, list(dict.fromkeys(small_corpus.column("content_hash"))))
    written, _ = WorkFolder.open(_work_root(tmp_path), key).read_shards(FakeEmbedder().model_id, 384)
    assert len(written) == 60  # three batches of 20 were kept
    resumed = Atlas.build(small_corpus, FakeEmbedder(), cache=None, index="exact", ray=settings)
    assert resumed.last_resumed == 60 and resumed.last_embedded == len(small_corpus) - 60
    clean = Atlas.build(small_corpus, FakeEmbedder(), cache=None, index="exact")
    assert np.abs(resumed.embeddings - clean.embeddings).max() < 1e-6


def test_killed_driver_resumes_from_the_written_shards(ray_local, small_corpus, tmp_path):
    import subprocess
    import sys
    import time

    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    key = run_key(FakeEmbedder().model_id, list(dict.fromkeys(small_corpus.column("content_hash"))))
    shards = tmp_path / "ray-work" / key / "shards"
    driver = subprocess.Popen([sys.executable, str(script), _work_root(tmp_path), str(REPO)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(shards.glob("shard-*.parquet"))) < 2:
        assert driver.poll() is None, "the driver ended before it could be killed"
        time.sleep(0.1)
    driver.kill()  # SIGKILL: no clean-up of any kind
    driver.wait()
    written = len(list(shards.glob("shard-*.parquet")))
    assert 2 <= written < 6
    resumed = Atlas.build(small_corpus, FakeEmbedder(), cache=None, index="exact",
                          ray=RaySettings(batch_size=20, work_dir=_work_root(tmp_path)))
    assert resumed.last_resumed >= 20 * written - 20  # a shard may land between the count and the kill
    assert resumed.last_resumed + resumed.last_embedded == len(small_corpus)
    clean = Atlas.build(small_corpus, FakeEmbedder(), cache=None, index="exact")
    assert np.abs(resumed.embeddings - clean.embeddings).max() < 1e-6


def test_a_broken_or_foreign_shard_is_embedded_again(tmp_path):
    folder = WorkFolder.open(str(tmp_path), "run")
    folder.write_todo(["a", "b"], ["h1", "h2"], ["one", "two"])
    write_shard(folder.shards, "fake-hashing-384", ["a"], ["h1"], np.eye(2, 384, dtype=np.float32)[:1])
    write_shard(folder.shards, "another-model", ["b"], ["h2"], np.eye(2, 384, dtype=np.float32)[1:])
    (tmp_path / "run" / "shards" / "shard-cut-short.parquet").write_bytes(b"PAR1 half a file")
    found, skipped = folder.read_shards("fake-hashing-384", 384)
    assert set(found) == {"h1"} and skipped == 2
    assert not list((tmp_path / "run" / "shards").glob(".*.tmp"))  # written under a temporary name, renamed


def test_run_key_depends_on_the_model_and_the_papers_only():
    assert run_key("m", ["b", "a"]) == run_key("m", ["a", "b"])
    assert run_key("m", ["a"]) != run_key("m", ["a", "b"]) != run_key("n", ["a", "b"])


def test_index_filled_in_ray_tasks_is_the_local_index(ray_local):
    import faiss

    from paperatlas.distributed.index import build_index_on_ray
    from paperatlas.index import PaperIndex

    vectors = np.random.default_rng(1).standard_normal((3000, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    merged = build_index_on_ray(ray_local, vectors, "ivf", RaySettings(tasks=3))
    local = PaperIndex.build(vectors, "ivf")
    assert merged.kind == "ivf" and len(merged) == 3000
    ours, theirs = merged._structure.invlists, local._structure.invlists
    for number in range(local._structure.nlist):  # every list holds the same rows in the same order
        assert np.array_equal(faiss.rev_swig_ptr(ours.get_ids(number), ours.list_size(number)),
                              faiss.rev_swig_ptr(theirs.get_ids(number), theirs.list_size(number)))
    scores, rows = merged.search(vectors, 10)
    local_scores, local_rows = local.search(vectors, 10)
    assert np.array_equal(rows, local_rows) and np.array_equal(scores, local_scores)


def test_topic_votes_in_ray_tasks_equal_local_votes(ray_local):
    from paperatlas.cluster import TopicSettings
    from paperatlas.cluster.topics import fit_atlas_topics
    from paperatlas.distributed.votes import ray_vote_rest
    from paperatlas.index import PaperIndex
    from tests.test_cluster_topics import blobs

    x, _, texts = blobs(n_blobs=5, per_blob=80, seed=4)
    settings = TopicSettings(fit_sample=150, random_state=0)
    local = fit_atlas_topics(x, texts, PaperIndex.build(x), settings)
    spread = fit_atlas_topics(x, texts, PaperIndex.build(x), settings,
                              assign_rest=ray_vote_rest(ray_local, RaySettings(tasks=2)))
    assert np.array_equal(spread.labels, local.labels)
    assert np.allclose(spread.coords, local.coords)
    assert "assign" in spread.timings


def test_real_model_on_ray_matches_a_local_build(ray_local, bundled_corpus, real_atlas, real_embedder, tmp_path):
    from paperatlas.embed import SentenceTransformerEmbedder

    built = Atlas.build(bundled_corpus, SentenceTransformerEmbedder(device="cpu"), cache=None,
                        ray=RaySettings(work_dir=_work_root(tmp_path)))
    assert built.model.id == real_atlas.model.id and list(built.corpus.ids) == list(real_atlas.corpus.ids)
    cosines = np.sum(built.embeddings * np.asarray(real_atlas.embeddings), axis=1)
    assert cosines.mean() >= 0.9999 and cosines.min() >= 0.999


def test_cli_build_on_ray(ray_local, tmp_path, monkeypatch):
    monkeypatch.setenv("PAPERATLAS_FAKE_EMBEDDER", "1")
    out = tmp_path / "atlas"
    result = CliRunner().invoke(main, ["build", str(REPO / "data" / "papers.jsonl"), "-o", str(out), "--ray",
                                       "--ray-work", _work_root(tmp_path), "--cache-dir", str(tmp_path / "c")])
    assert result.exit_code == 0, result.output
    assert "embedded 350 texts" in result.output and "topics: layer 0" in result.output
    atlas = Atlas.load(out)
    assert len(atlas) == 350 and atlas.topics is not None
    refit = CliRunner().invoke(main, ["build", str(REPO / "data" / "papers.jsonl"), "-o", str(out), "--ray",
                                      "--refit", "--cache-dir", str(tmp_path / "c")])
    assert refit.exit_code == 0, refit.output
    assert "topics: layer 0" in refit.output and Atlas.load(out).topics is not None
    again = CliRunner().invoke(main, ["build", str(REPO / "data" / "papers.jsonl"), "-o", str(out), "--ray",
                                      "--no-topics", "--cache-dir", str(tmp_path / "c")])
    assert again.exit_code == 0 and "embedded 0 texts; 350 came from the cache" in again.output


def test_ray_options_need_ray(tmp_path):
    result = CliRunner().invoke(main, ["build", str(REPO / "data" / "papers.jsonl"), "-o", str(tmp_path / "a"),
                                       "--ray-actors", "2"])
    assert result.exit_code != 0 and "go with --ray" in result.output


def test_without_the_extra_ray_says_how_to_install_it(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    result = CliRunner().invoke(main, ["build", str(REPO / "data" / "papers.jsonl"), "-o", str(tmp_path / "a"),
                                       "--ray"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == "error: Ray is not installed: pip install 'paperatlas[ray]'"
    assert not (tmp_path / "a").exists()


def test_a_cluster_of_several_machines_needs_a_shared_work_folder(monkeypatch):
    from paperatlas.distributed import embed

    monkeypatch.setattr(embed, "cluster_resources", lambda ray: (8.0, 0.0, 3))
    with pytest.raises(PaperatlasError, match="has 3 machines: give a work folder"):
        embed.work_folder(None, RaySettings(), "key")
    assert embed.work_folder(None, RaySettings(work_dir="/shared/work"), "key").uri == "/shared/work/key"


def test_actor_layout(monkeypatch):
    from paperatlas.distributed import embed

    monkeypatch.setattr(embed, "cluster_resources", lambda ray: (16.0, 4.0, 2))
    assert embed.actor_layout(None, RaySettings()) == embed.ActorLayout(4, 1.0, 1.0, 1)
    monkeypatch.setattr(embed, "cluster_resources", lambda ray: (16.0, 0.0, 2))
    assert embed.actor_layout(None, RaySettings()) == embed.ActorLayout(4, 4.0, 0.0, 4)
    assert embed.actor_layout(None, RaySettings(actors=2, cpus_per_actor=8)) == embed.ActorLayout(2, 8.0, 0.0, 8)


@pytest.mark.parametrize("bad", [dict(actors=0), dict(batch_size=0), dict(cpus_per_actor=0), dict(tasks=-1)])
def test_bad_ray_settings_are_refused(bad, small_corpus):
    with pytest.raises(PaperatlasError, match="Ray"):
        Atlas.build(small_corpus, FakeEmbedder(), cache=None, ray=RaySettings(**bad))

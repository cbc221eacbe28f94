"""Saving under a writer lock: recovery after a crash between the renames of a save, two writers
(processes) that lose no update, and readers that load while a writer saves."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from paperatlas import store
from paperatlas.atlas import Atlas
from paperatlas.atlas_lock import AtlasBusyError, lock_file, locked
from paperatlas.atlas_saves import writing
from paperatlas.corpus import Corpus, Paper
from paperatlas.embed import FakeEmbedder

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(os.name == "nt", reason="the tests use POSIX signals and fcntl locks")


def corpus(n: int, prefix: str = "p") -> Corpus:
    topics = ["reward models", "image diffusion", "human values"]
    return Corpus(Paper(id=f"{prefix}{i}", title=f"Title {prefix}{i} on {topics[i % 3]}",
                        abstract=f"An abstract {prefix}{i} about {topics[i % 3]}.") for i in range(n))


def build(n: int, prefix: str = "p") -> Atlas:
    return Atlas.build(corpus(n, prefix), FakeEmbedder(), cache=None)


@pytest.fixture()
def saved(tmp_path) -> Path:
    build(30).save(tmp_path / "atlas")
    return tmp_path / "atlas"


def env(**extra: str) -> dict[str, str]:
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    return dict(os.environ, PYTHONPATH=path, PAPERATLAS_FAKE_EMBEDDER="1", **extra)


def write_jsonl(path: Path, papers: Corpus) -> Path:
    path.write_text("".join(json.dumps({"id": p.id, "title": p.title, "abstract": p.abstract}) + "\n"
                            for p in papers), encoding="utf-8")
    return path


# --- 15: a crash between the two renames ---------------------------------------------------------


def test_a_save_failing_between_its_renames_is_restored_by_the_next_load(saved, monkeypatch, capsys):
    real_rename, calls = os.rename, []

    def rename_then_fail(source, destination):
        calls.append(source)
        if len(calls) > 1:  # the folder is retired; the new one never arrives (nor does the old come back)
            raise OSError(5, "simulated failure")
        real_rename(source, destination)

    smaller = Atlas.load(saved)
    smaller.remove(smaller.corpus.ids[:10])
    with monkeypatch.context() as patch:
        patch.setattr(os, "rename", rename_then_fail)
        with pytest.raises(OSError, match="simulated"):
            smaller.save(saved)
    assert not saved.exists() and list(saved.parent.glob(".atlas.old-*"))
    capsys.readouterr()
    assert len(Atlas.load(saved)) == 30  # the previous atlas, restored
    assert f"a save of {saved} was interrupted; restored the previous atlas" in capsys.readouterr().err
    assert saved.is_dir()
    Atlas.load(saved)
    assert "restored" not in capsys.readouterr().err  # said once
    smaller.save(saved)  # the next save clears what the failed one left behind
    assert [p.name for p in saved.parent.glob(".atlas.*")] == [".atlas.lock"]
    assert len(Atlas.load(saved)) == 20


CRASH_BETWEEN_RENAMES = textwrap.dedent(
    """
    import os, sys
    from tests.test_atlas_lock import build

    real_rename, calls = os.rename, []

    def rename_then_die(source, destination):
        calls.append(source)
        if len(calls) == int(sys.argv[2]):
            os._exit(9)  # killed: no handler runs
        real_rename(source, destination)

    os.rename = rename_then_die
    build(25, "q").save(sys.argv[1])
    """
)


@pytest.mark.parametrize("existing", [True, False], ids=["over-an-atlas", "first-save"])
def test_a_process_killed_between_the_renames_leaves_a_recoverable_atlas(tmp_path, existing):
    target = tmp_path / "atlas"
    if existing:
        build(30).save(target)
    # over an atlas, die at the second rename (the old one is retired); a first save has one rename
    die_at = "2" if existing else "1"
    run = subprocess.run([sys.executable, "-c", CRASH_BETWEEN_RENAMES, str(target), die_at], env=env(),
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 9, run.stderr
    assert not target.exists()
    load = subprocess.run([sys.executable, "-m", "paperatlas", "info", str(target), "--json"], env=env(),
                          capture_output=True, text=True, timeout=120, check=False)
    assert load.returncode == 0, load.stderr
    assert json.loads(load.stdout)["papers"] == (30 if existing else 25)  # the previous atlas, else the new one
    restored = "the previous atlas" if existing else "the atlas that save had written"
    assert f"a save of {target} was interrupted; restored {restored}" in load.stderr
    assert load.stderr.count("restored") == 1
    build(20).save(target)
    assert [p.name for p in tmp_path.glob(".atlas.*")] == [".atlas.lock"]


# --- 16: one writer at a time ----------------------------------------------------------------------


HOLD_LOCK = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from paperatlas.atlas_saves import writing

    target = Path(sys.argv[1])
    with writing(target):
        live = target.parent / f".{target.name}.saving-live"
        live.mkdir()
        (live / "part").write_text("being written")
        print("holding", flush=True)
        sys.stdin.readline()
    """
)


def test_a_save_waits_for_another_writer_and_never_deletes_its_folder(saved, monkeypatch):
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(saved)], env=env(), text=True,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline() == "holding\n"
        monkeypatch.setenv("PAPERATLAS_LOCK_TIMEOUT", "0.5")
        started = time.monotonic()
        with pytest.raises(AtlasBusyError, match=rf"atlas .*atlas is being written by another process "
                                                  rf"\(pid {holder.pid}\); waited 0.5 s"):
            build(12).save(saved)
        assert time.monotonic() - started >= 0.5
        assert (saved.parent / ".atlas.saving-live" / "part").exists()  # the live writer's folder stays
        assert len(Atlas.load(saved)) == 30  # a reader does not wait for the writer
        holder.stdin.write("\n")
        holder.stdin.flush()
        holder.wait(timeout=30)
    finally:
        if holder.poll() is None:
            holder.kill()
    build(12).save(saved)  # the writer is gone: its leftovers are removed
    assert [p.name for p in saved.parent.glob(".atlas.*")] == [".atlas.lock"]
    assert len(Atlas.load(saved)) == 12


def test_a_second_cli_writer_stops_with_one_clear_line(saved, tmp_path):
    papers = write_jsonl(tmp_path / "new.jsonl", corpus(3, "n"))
    with locked(saved):
        run = subprocess.run([sys.executable, "-m", "paperatlas", "add", str(saved), str(papers)],
                             env=env(PAPERATLAS_LOCK_TIMEOUT="0.3"), capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode != 0
    assert f"is being written by another process (pid {os.getpid()})" in run.stderr
    assert "Traceback" not in run.stderr and len(run.stderr.strip().splitlines()) <= 2  # the wait note + the error


def test_locks_are_reentrant_within_a_thread_and_released_after(saved):
    with writing(saved):
        with writing(saved):
            build(5).save(saved)  # the save takes the lock again
        assert len(Atlas.load(saved)) == 5
    assert lock_file(saved) == saved.parent / ".atlas.lock"
    with locked(saved, timeout=0):  # released: free at once
        pass


def test_two_processes_adding_at_once_lose_no_paper(saved, tmp_path):
    files = [write_jsonl(tmp_path / f"{prefix}.jsonl", corpus(5, prefix)) for prefix in ("a", "b")]
    processes = [subprocess.Popen([sys.executable, "-m", "paperatlas", "add", str(saved), str(file)], env=env(),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for file in files]
    outputs = [process.communicate(timeout=300) for process in processes]
    for process, (_, err) in zip(processes, outputs):
        assert process.returncode == 0, err
        assert "Traceback" not in err
    atlas = Atlas.load(saved)
    assert len(atlas) == 40
    assert {f"{prefix}{i}" for prefix in "ab" for i in range(5)} <= set(atlas.corpus.ids)
    holds = sorted(int(err.rsplit("the atlas holds ", 1)[1].split()[0]) for _, err in outputs)
    assert holds == [35, 40]  # each add saw the other's papers or none: one after the other


def test_two_builds_into_one_folder_run_one_after_the_other(tmp_path):
    inputs = [write_jsonl(tmp_path / f"{prefix}.jsonl", corpus(n, prefix)) for prefix, n in (("a", 20), ("b", 24))]
    out = tmp_path / "out"
    processes = [subprocess.Popen([sys.executable, "-m", "paperatlas", "build", str(file), "-o", str(out),
                                   "--no-topics", "--no-cache"], env=env(),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for file in inputs]
    outputs = [process.communicate(timeout=300) for process in processes]
    for process, (_, err) in zip(processes, outputs):
        assert process.returncode == 0, err
        assert "Traceback" not in err
    assert len(Atlas.load(out)) in (20, 24)
    assert [p.name for p in tmp_path.glob(".out.*")] == [".out.lock"]


# --- 17: readers during saves --------------------------------------------------------------------


def test_a_load_retries_when_the_folder_is_swapped_under_it(saved, monkeypatch):
    newer = build(37)
    real_read_papers, calls = store.read_papers, []

    def read_then_swap(folder, manifest):
        papers = real_read_papers(folder, manifest)
        if not calls:
            calls.append(folder)
            newer.save(folder)  # another writer swaps the folder in mid-read
        return papers

    monkeypatch.setattr(store, "read_papers", read_then_swap)
    atlas = Atlas.load(saved)
    assert calls and len(atlas) == 37
    assert_consistent(atlas)


def assert_consistent(atlas: Atlas) -> None:
    """Papers, vectors and index of one save: each paper's vector is its text's embedding."""
    n = len(atlas)
    assert n in (30, 37)
    vectors = atlas.embeddings
    assert vectors.shape[0] == n == len(atlas.index)
    rows = [0, n // 2, n - 1]
    expected = FakeEmbedder().encode([atlas.corpus[row].text for row in rows])
    np.testing.assert_allclose(vectors[rows], expected, atol=1e-5)


SAVE_REPEATEDLY = textwrap.dedent(
    """
    import sys
    from tests.test_atlas_lock import build

    atlases = [build(30), build(37)]
    print("ready", flush=True)
    for round in range(int(sys.argv[2])):
        atlases[round % 2].save(sys.argv[1])
    """
)


def test_readers_see_the_old_atlas_or_the_new_one_while_a_writer_saves(saved):
    writer = subprocess.Popen([sys.executable, "-c", SAVE_REPEATEDLY, str(saved), "40"], env=env(), text=True,
                              stdout=subprocess.PIPE)
    loads, errors, sizes = 0, [], set()
    try:
        assert writer.stdout.readline() == "ready\n"
        while writer.poll() is None:
            try:
                atlas = Atlas.load(saved)
                assert_consistent(atlas)
                sizes.add(len(atlas))
            except Exception as exc:  # noqa: BLE001 - every failure counts
                errors.append(f"{type(exc).__name__}: {exc}")
            loads += 1
        assert writer.wait(timeout=120) == 0
    finally:
        if writer.poll() is None:
            writer.kill()
    assert errors == [], f"{len(errors)} of {loads} loads failed: {errors[:3]}"
    assert loads >= 10 and sizes <= {30, 37}


def test_threads_of_one_process_save_one_after_the_other(saved):
    import threading

    atlases, errors = [build(30), build(37)], []

    def save_often(atlas: Atlas) -> None:
        try:
            for _ in range(5):
                atlas.save(saved)
        except Exception as exc:  # noqa: BLE001 - every failure counts
            errors.append(exc)

    threads = [threading.Thread(target=save_often, args=(atlas,)) for atlas in atlases]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert_consistent(Atlas.load(saved))
    assert [p.name for p in saved.parent.glob(".atlas.*")] == [".atlas.lock"]


def test_a_writer_that_cannot_create_the_lock_file_gets_one_clear_line(tmp_path):
    from click.testing import CliRunner

    from paperatlas.cli import main

    papers = write_jsonl(tmp_path / "in.jsonl", corpus(5))
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = CliRunner().invoke(main, ["build", str(papers), "-o", str(blocker / "sub" / "atlas"), "--no-topics"],
                                env={"PAPERATLAS_FAKE_EMBEDDER": "1"})
    assert result.exit_code != 0 and isinstance(result.exception, SystemExit)  # a clean exit, no crash
    assert "cannot write atlas" in result.output and "lock file" in result.output
    assert "Traceback" not in result.output

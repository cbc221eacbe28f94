"""Tests of paperatlas.threads: small work runs on one CPU thread, and the setting is restored."""

from __future__ import annotations

import pytest

from paperatlas.threads import one_thread


@pytest.mark.parametrize("library", ["torch", "faiss"])
def test_one_thread_inside_and_restored_after(library):
    module = pytest.importorskip(library)
    get = module.get_num_threads if library == "torch" else module.omp_get_max_threads
    before = get()
    with one_thread(library):
        assert get() == 1
    assert get() == before
    with one_thread(library, active=False):
        assert get() == before
    with pytest.raises(RuntimeError), one_thread(library):
        raise RuntimeError("the work failed")
    assert get() == before


def test_unknown_library_is_refused():
    with pytest.raises(ValueError), one_thread("numpy"):
        pass

"""No progress noise where no long work runs: text queries print no bar, and Jupyter gets no TqdmWarning."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

FAKE_KERNEL = """
import sys, types, warnings
# what tqdm.autonotebook looks at to decide it runs in a Jupyter kernel (ipywidgets is not installed)
sys.modules["ipykernel"] = types.ModuleType("ipykernel")
sys.modules["ipykernel.zmqshell"] = types.ModuleType("ipykernel.zmqshell")
ipython = types.ModuleType("IPython")
ipython.get_ipython = lambda: type("ZMQInteractiveShell", (), {})()
sys.modules["IPython"] = ipython
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    if sys.argv[1] == "paperatlas":
        import paperatlas
    from tqdm.auto import tqdm  # as sentence-transformers, transformers and umap do
print([f"{w.category.__name__}: {w.message}" for w in caught])
print(warnings.filters[0][0])
"""


def _fake_kernel(first: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", FAKE_KERNEL, first], capture_output=True, text=True, cwd=REPO,
                          check=True)
    return done.stdout.splitlines()


def test_importing_paperatlas_in_a_kernel_settles_tqdm_without_a_warning() -> None:
    caught, first_filter = _fake_kernel("paperatlas")
    assert caught == "[]"
    assert first_filter == "always"  # the user's warning filters are left as they were
    caught, _ = _fake_kernel("nothing")  # without paperatlas the libraries' import warns
    assert "TqdmWarning: IProgress not found" in caught


def test_settle_tqdm_is_cheap_and_idempotent() -> None:
    from paperatlas.progress import settle_tqdm

    settle_tqdm()
    settle_tqdm()
    assert "tqdm.autonotebook" in sys.modules


@pytest.mark.slow
def test_cli_text_query_prints_no_progress_bar(real_atlas_path: Path) -> None:
    """A text query loads the model: no "Loading weights" bar, nothing but JSON on stdout."""
    for extra in (["--json"], []):
        done = subprocess.run(
            [sys.executable, "-m", "paperatlas", "similar", str(real_atlas_path), "reward hacking", "-k", "3", *extra],
            capture_output=True, text=True, cwd=REPO, timeout=300,
        )
        assert done.returncode == 0, done.stderr
        assert "Loading weights" not in done.stderr + done.stdout
        assert "it/s]" not in done.stderr and "%|" not in done.stderr  # no tqdm bar of any kind
        if extra:
            assert json.loads(done.stdout)["results"]

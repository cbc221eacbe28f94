"""No "IProgress not found" warning in Jupyter: progress bars stay plain ``tqdm`` on stderr.

The libraries paperatlas loads (sentence-transformers, transformers, umap)
import ``tqdm.auto`` when they are imported. In a Jupyter kernel without
ipywidgets that import warns ``TqdmWarning: IProgress not found`` and then uses
the plain text bar anyway. :func:`settle_tqdm` makes that choice once, first,
with the warning filtered inside a ``catch_warnings`` block (the user's own
warning filters are left as they were); later imports reuse the settled module.
"""

from __future__ import annotations

import sys


def in_kernel() -> bool:
    """Whether this process is a Jupyter (IPython) kernel."""
    return "ipykernel" in sys.modules


def settle_tqdm() -> None:
    """Import ``tqdm.autonotebook`` now, without its warning when ipywidgets is missing.

    It then picks the notebook widget where ipywidgets is installed and the
    plain bar otherwise, as before, only silently. Cheap after the first call.
    """
    if "tqdm.autonotebook" in sys.modules:
        return
    import warnings

    from tqdm.std import TqdmWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TqdmWarning)
        import tqdm.autonotebook  # noqa: F401


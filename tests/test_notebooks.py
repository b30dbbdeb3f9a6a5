"""Execute every notebook in notebooks/ top to bottom; a failing cell fails the test.

The kernel is this interpreter (``sys.executable``), whatever ``python3`` kernelspecs the machine
has: a ``python3`` kernelspec pointing at it is written to a temporary directory and handed to the
kernel manager, so a fresh clone with a fresh ``.venv`` needs nothing installed beyond the dev
extra (nbclient, nbformat, ipykernel).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
CELL_TIMEOUT = 120  # seconds per cell


@pytest.fixture(scope="module")
def kernel_dirs(tmp_path_factory) -> list[str]:
    """A directory holding a ``python3`` kernelspec that runs this interpreter."""
    root = tmp_path_factory.mktemp("kernels")
    spec_dir = root / "python3"
    spec_dir.mkdir()
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (apga-sim tests)",
        "language": "python",
        "metadata": {"debugger": False},
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    return [str(root)]


def test_notebooks_exist():
    names = [p.name for p in NOTEBOOKS]
    assert names == ["01_quickstart.ipynb", "02_trace_analysis.ipynb", "03_time_complexity.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None, (
                f"{path.name}: clear the outputs before committing"
            )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path, kernel_dirs):
    nb = nbformat.read(path, as_version=4)
    ksm = KernelSpecManager(kernel_dirs=kernel_dirs)
    assert ksm.get_kernel_spec("python3").argv[0] == sys.executable
    km = KernelManager(kernel_name="python3", kernel_spec_manager=ksm)
    client = NotebookClient(
        nb,
        km=km,
        kernel_name="python3",
        timeout=CELL_TIMEOUT,
        resources={"metadata": {"path": str(NOTEBOOK_DIR)}},  # cwd of the kernel
    )
    client.execute()  # raises CellExecutionError on the first failing cell
    errors = [
        out
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.outputs
        if out.output_type == "error"
    ]
    assert not errors

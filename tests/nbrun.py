"""Run one notebook top to bottom through a Jupyter kernel (nbclient + this venv's ipykernel), and name the failing cell.

    python tests/nbrun.py nbs/00_core.ipynb [--flags cuda slow] [--cell-timeout 300]

What an attendee's Jupyter does (a real kernel: display, widgets, `%` magics, progress bars), with
nbdev-test's rules: cells with a skip flag (pyproject's `tst_flags`: `#| cuda`, `#| slow`) or
`#| eval: false` are left out (nbdev's own predicate decides), and each cell gets at most
`--cell-timeout` seconds: a cell that hangs fails with `CellTimeoutError`, its id and its source.
The kernel runs in the notebook's folder, with this process's environment (tests give it smoke mode).
One addition: a first cell, not in the notebook, makes the closing `nbdev_export()` a no-op (the package
was exported before the tests, and a test must not rewrite `boatclf/` while other tests import it) and
checks that the kernel is this venv's Python. Exits 0 on success, 1 after printing the failing cell.
tools/outputs.py uses `execute` to store a notebook's outputs.
"""
import argparse, os, re, sys, time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbdev.config import get_config
from nbdev.process import NBProcessor
from nbdev.test import _skip_cell

ROOT = Path(__file__).resolve().parents[1]
CELL_TIMEOUT = 300   # seconds; the slowest smoke-mode cell (a training run) takes about 40
SETUP = f"""import sys, nbdev
nbdev.nbdev_export = lambda *a, **k: None
assert sys.prefix == {sys.prefix!r}, 'this kernel is not the venv ' + {sys.prefix!r} + ': ' + sys.executable
"""


class CellFailed(Exception):
    "A cell raised or ran out of time: the message names the notebook, the cell and its source."


def skipped_ids(fn: Path, flags: list[str]) -> set:
    "Ids of the code cells of `fn` that nbdev-test leaves out (a flag in `flags`, `#| eval: false`, `skip_exec`)."
    nb = NBProcessor(fn, rm_directives=False, process=True).nb
    skip = _skip_cell(nb, flags)
    return {c.id for c in nb.cells if c.cell_type == 'code' and skip(c)}


def _plain(text: str) -> str: return re.sub(r'\x1b\[[0-9;]*m', '', text)


def execute(fn: Path, flags: list[str], cell_timeout: int = CELL_TIMEOUT, setup: str = '', times=None):
    "Run the notebook `fn` in a fresh kernel (skipping `flags` cells) and return it with its outputs; raise `CellFailed`."
    nb = nbformat.read(fn, as_version=4)
    skip = skipped_ids(fn, flags)
    for c in nb.cells:
        if c.cell_type == 'code': c.outputs = []   # a skipped cell keeps no output from an older run
    client = NotebookClient(nb, timeout=cell_timeout, kernel_name='python3', allow_errors=False, record_timing=False,
                            shutdown_kernel='immediate', resources={'metadata': {'path': str(fn.parent)}})
    first = nbformat.v4.new_code_cell(SETUP + setup)
    # the kernel draws figures inline, as in Jupyter, even where the caller set MPLBACKEND=Agg for itself
    env = {k: v for k, v in os.environ.items() if k != 'MPLBACKEND'}
    with client.setup_kernel(env=env):
        for i, cell in [(-1, first)] + list(enumerate(nb.cells)):
            if cell.cell_type != 'code' or cell.get('id') in skip: continue
            t0 = time.time()
            try: client.execute_cell(cell, max(i, 0), store_history=i >= 0)
            except Exception as e:
                raise CellFailed(f'{fn.name}: cell {i} (id {cell.get("id", "nbrun setup")}) failed with {type(e).__name__}:\n'
                                 f'----- the cell -----\n{cell.source}\n----- what it said -----\n{_plain(str(e))[-5000:]}') from None
            if times is not None and time.time() - t0 > times: print(f'{fn.name}:{cell.id}: {time.time() - t0:.1f}s', flush=True)
    return nb


def run_notebook(fn: Path, flags: list[str], cell_timeout: int = CELL_TIMEOUT) -> int:
    "Run `fn`; return 0 on success, 1 after printing the failing cell to stderr."
    t0 = time.time()
    try: execute(fn, flags, cell_timeout, times=float(os.environ['NBRUN_TIMES']) if os.environ.get('NBRUN_TIMES') else None)
    except CellFailed as e:
        print(e, file=sys.stderr)
        print(f'FAILED {fn.name} in {time.time() - t0:.1f}s', flush=True)
        return 1
    print(f'ok {fn.name} in {time.time() - t0:.1f}s', flush=True)
    return 0


if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('notebook', type=Path)
    p.add_argument('--flags', nargs='*', help='skip cells with these flags (default: tst_flags from pyproject.toml)')
    p.add_argument('--cell-timeout', type=int, default=CELL_TIMEOUT, help='seconds a cell may run before it fails')
    a = p.parse_args()
    fn = a.notebook.resolve()
    flags = a.flags if a.flags is not None else get_config(ROOT).tst_flags.split()
    rc = run_notebook(fn, flags, a.cell_timeout)
    sys.stdout.flush(); sys.stderr.flush()
    os._exit(rc)

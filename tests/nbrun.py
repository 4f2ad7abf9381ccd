"""Run one notebook top to bottom with nbdev's own test runner (`nbdev.test.test_nb`), and name the failing cell.

    python tests/nbrun.py nbs/00_core.ipynb [--flags cuda slow] [--cell-timeout 300]

What nbdev-test does, for one notebook: cells with a skip flag (pyproject's `tst_flags`: `#| cuda`,
`#| slow`) or `#| eval: false` are left out, and each cell gets at most `--cell-timeout` seconds
(test_nb's `cell_timeout`): a cell that hangs fails with `TimeoutError`, its number and its source.
One difference: the notebook's closing `nbdev_export()` is made a no-op here, because the package was
exported before the tests (`make test` does it) and a test must not rewrite `boatclf/` while other
tests import it. Exits 0 on success, 1 after printing the failing cell.
"""
import argparse, os, sys
from pathlib import Path

import nbdev
from nbdev.config import get_config
from nbdev.test import test_nb

ROOT = Path(__file__).resolve().parents[1]
CELL_TIMEOUT = 300   # seconds; the slowest smoke-mode cell (a training run) takes about 40


def run_notebook(fn: Path, flags: list[str], cell_timeout: int = CELL_TIMEOUT) -> int:
    "Run `fn` with nbdev's `test_nb`; return 0 on success, 1 (test_nb has printed the failing cell) on error."
    nbdev.nbdev_export = lambda *a, **k: None   # see the module docstring
    ok, secs = test_nb(fn, skip_flags=flags, cell_timeout=cell_timeout, basepath=ROOT, profile=False,
                       cell_timing_min=float(os.environ['NBRUN_TIMES']) if os.environ.get('NBRUN_TIMES') else None)
    print(f"{'ok' if ok else 'FAILED'} {fn.name} in {secs:.1f}s", flush=True)
    return 0 if ok else 1


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
    os._exit(rc)   # a timed-out cell's thread may still be running: do not wait for it

"""Run one notebook top to bottom, the way nbdev's test runner does, and name the failing cell.

    python tests/nbrun.py nbs/00_core.ipynb [--flags cuda slow]

Cells marked with a skip flag (`#| cuda`, `#| slow`: pyproject's `tst_flags`), with
`#| eval: false`, or calling `nbdev_export()` are not run. On the first error it prints
the notebook, the cell number, the cell's source and the error, and exits with status 1.
"""
import argparse, os, sys, time, traceback
from pathlib import Path

from execnb.shell import CaptureShell
from nbdev.config import get_config
from nbdev.process import NBProcessor


def _skip(cell, flags):
    if cell.cell_type != 'code': return True
    if 'nbdev_export' + '(' in cell.source: return True
    directives = getattr(cell, 'directives_', None) or {}
    if str((directives.get('eval:') or [''])[0]).lower() == 'false': return True
    return bool(flags & set(directives))


def run_notebook(fn: Path, flags: set[str]) -> int:
    "Run `fn`; return 0 on success, 1 (after printing the failing cell) on error."
    os.environ['IN_TEST'] = '1'
    nb = NBProcessor(fn, rm_directives=False, process=True).nb
    shell = CaptureShell(fn)
    os.chdir(fn.parent)
    t0 = time.time()
    for i, cell in enumerate(nb.cells):
        if _skip(cell, flags): continue
        t = time.time()
        shell.cell(cell)
        if shell.exc is not None:
            err = ''.join(traceback.format_exception(shell.exc)).rstrip()
            src = cell.source.rstrip()
            print(f'FAILED {fn.name}, cell {i} (the {i + 1}th cell of the notebook):\n'
                  f'----- cell source -----\n{src}\n----- error -----\n{err}', flush=True)
            return 1
        if os.environ.get('NBRUN_TIMES'): print(f'{fn.name} cell {i}: {time.time() - t:.1f}s', flush=True)
    print(f'ok {fn.name} in {time.time() - t0:.1f}s', flush=True)
    return 0


if __name__ == '__main__':
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('notebook', type=Path)
    p.add_argument('--flags', nargs='*', help='skip cells with these flags (default: tst_flags from pyproject.toml)')
    a = p.parse_args()
    fn = a.notebook.resolve()
    flags = set(a.flags if a.flags is not None else get_config(fn.parent).tst_flags.split())
    sys.exit(run_notebook(fn, flags))

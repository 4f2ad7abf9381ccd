"""Every notebook in nbs/ is a test: executed top to bottom, offline, in smoke mode."""
import subprocess, sys

import pytest

from conftest import NBS, ROOT, smoke_env

NOTEBOOKS = sorted(p for p in NBS.glob('*.ipynb') if not p.name.startswith('_'))


@pytest.mark.parametrize('nb', NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(nb, tmp_path):
    "Run `nb` in its own process and its own BOATCLF_HOME, so notebooks share no state."
    r = subprocess.run([sys.executable, str(ROOT / 'tests' / 'nbrun.py'), str(nb)],
                       env=smoke_env(tmp_path / 'home'), capture_output=True, text=True, timeout=900)
    if r.returncode != 0:
        out = (r.stdout + r.stderr)[-6000:]
        pytest.fail(f'notebook {nb.name} failed:\n{out}', pytrace=False)


def test_notebooks_found():
    test_names = {p.name for p in NOTEBOOKS}
    assert {'index.ipynb', '00_core.ipynb'} <= test_names

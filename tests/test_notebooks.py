"""Every notebook in nbs/ is a test: executed top to bottom through a Jupyter kernel (tests/nbrun.py: nbclient and
this venv's ipykernel, nbdev-test's skip flags), offline, in smoke mode."""
import json, re, subprocess, sys, textwrap, time, tomllib

import pytest

from conftest import NBS, ROOT, smoke_env

NOTEBOOKS = sorted(p for p in NBS.glob('*.ipynb') if not p.name.startswith('_'))
NBRUN = str(ROOT / 'tests' / 'nbrun.py')


def run_nb(nb, home, *args, timeout=900):
    return subprocess.run([sys.executable, NBRUN, str(nb), *args], env=smoke_env(home), capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize('nb', NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(nb, tmp_path):
    "Run `nb` in its own process and its own BOATCLF_HOME, so notebooks share no state."
    r = run_nb(nb, tmp_path / 'home')
    if r.returncode != 0: pytest.fail(f'notebook {nb.name} failed:\n{(r.stdout + r.stderr)[-6000:]}', pytrace=False)


# Two notebooks that draw boats with different settings (01a: 300-800 px; 02: 300-600 px, both with no-boat
# scenes), one BOATCLF_HOME, both orders: each notebook asserts that the drawings it gets are the ones its
# settings draw, so a cache folder that one notebook filled can never hand the other the wrong pictures.
SHARED = ['01a_synth.ipynb', '02_datablock.ipynb']

@pytest.mark.parametrize('order', [SHARED, SHARED[::-1]], ids=['01a-then-02', '02-then-01a'])
def test_notebooks_share_a_home(order, tmp_path):
    for name in order:
        r = run_nb(NBS / name, tmp_path / 'home')
        assert r.returncode == 0, f'{name} after {order[0]} in the same home:\n{(r.stdout + r.stderr)[-4000:]}'
    folders = sorted(p.name for p in (tmp_path / 'home' / 'data').iterdir())
    assert len(folders) == 2 and all(f.startswith('synthetic-v') for f in folders), folders


def _nb(path, sources):
    cells = [dict(cell_type='code', execution_count=None, id=f'c{i}', metadata={}, outputs=[], source=s) for i, s in enumerate(sources)]
    path.write_text(json.dumps(dict(cells=cells, metadata=dict(kernelspec=dict(name='python3', display_name='Python 3', language='python')),
                                    nbformat=4, nbformat_minor=5)))
    return path


def test_runner_skips_flagged_cells_and_names_a_hung_cell(tmp_path):
    "tst_flags cells are left out; a cell over the time limit fails the notebook, named with its source, in about the limit."
    nb = _nb(tmp_path / 'hang.ipynb', ['x = 1', "#| slow\nraise ValueError('a skipped cell ran')",
                                       'import time\ntime.sleep(120)  # the hung cell'])
    t0 = time.time()
    r = run_nb(nb, tmp_path / 'home', '--cell-timeout', '3', timeout=60)
    assert r.returncode == 1 and time.time() - t0 < 45, (r.returncode, time.time() - t0)
    assert 'TimeoutError' in r.stderr and 'time.sleep(120)  # the hung cell' in r.stderr, r.stderr
    assert 'a skipped cell ran' not in r.stdout + r.stderr
    # a real Jupyter kernel (execnb's shell is not one), with this venv's Python, that draws figures inline
    ok = run_nb(_nb(tmp_path / 'ok.ipynb', ['x = 1', "#| slow\nraise ValueError('a skipped cell ran')",
                                            "assert type(get_ipython()).__name__ == 'ZMQInteractiveShell', type(get_ipython())",
                                            "import matplotlib; assert 'inline' in matplotlib.get_backend(), matplotlib.get_backend()"]),
                tmp_path / 'home', timeout=60)
    assert ok.returncode == 0, ok.stdout + ok.stderr


def test_notebooks_found():
    names = {p.name for p in NOTEBOOKS}
    assert {'index.ipynb', '00_core.ipynb', '01a_synth.ipynb', '02_datablock.ipynb'} <= names


# Colab and Kaggle: the cell right after `#| default_exp` (index.ipynb: its first code cell, hidden from the README)
# installs boatclf from the repository the README's Colab links open, and only where it cannot be imported.
REPO = tomllib.loads((ROOT / 'pyproject.toml').read_text())['project']['urls']['Repository']


def install_source(extra: str | None = None, module: str | None = None) -> str:
    "The install cell; with `extra`, it installs boatclf[extra] too unless `module` (what the extra brings) already imports."
    if extra is None:
        return textwrap.dedent(f"""\
            # On Colab or Kaggle, the first time: install boatclf (see the README: how long it takes, what to do if it fails).
            # Where boatclf is already installed (your laptop after `make demo`, the tests) this cell does nothing.
            try: import boatclf
            except ImportError:
                %pip install -q "boatclf @ git+{REPO}"
            """).strip()
    return textwrap.dedent(f"""\
        # On Colab or Kaggle, the first time: install boatclf and its [{extra}] extra (see the README: how long it takes, what to do if it fails).
        # Where both are already installed (your laptop after `make demo`, the tests) this cell does nothing.
        try: import boatclf, {module}
        except ImportError:
            %pip install -q "boatclf[{extra}] @ git+{REPO}"
        """).strip()


INSTALL = install_source()
EXTRAS = {'06c_app.ipynb': ('app', 'gradio')}   # a notebook that needs an extra installs it (Colab has boatclf from another notebook, not Gradio)


def install_cell(nb: dict) -> str:
    "The source of the cell that should install boatclf: right after `#| default_exp`, else the first code cell."
    code = [''.join(c['source']) for c in nb['cells'] if c['cell_type'] == 'code']
    if code[0].startswith('#| default_exp'):
        assert nb['cells'][0]['cell_type'] == 'code' and ''.join(nb['cells'][0]['source']) == code[0]
        return ''.join(nb['cells'][1]['source'])
    return code[0]


@pytest.mark.parametrize('nb', NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_installs_boatclf_first(nb):
    src, want = install_cell(json.loads(nb.read_text())), install_source(*EXTRAS.get(nb.name, ()))
    assert src.removeprefix('#| hide\n') == want, f'{nb.name}: the cell after `#| default_exp` must be\n{want}\nnot\n{src}'
    assert '#| export' not in src


def test_install_cell_installs_only_when_boatclf_is_missing():
    "Run the cell in an IPython shell, with `%pip` recording what it is asked: nothing while boatclf imports, then the URL."
    code = f"""if 1:
        import sys
        from IPython.core.interactiveshell import InteractiveShell
        sh, asked = InteractiveShell.instance(), []
        sh.register_magic_function(lambda line: asked.append(line), 'line', 'pip')
        assert sh.run_cell({INSTALL!r}).success and asked == [], asked
        sys.modules['boatclf'] = None   # now `import boatclf` raises ImportError, as on a fresh Colab
        assert sh.run_cell({INSTALL!r}).success
        print(asked)"""
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str([f'install -q "boatclf @ git+{REPO}"']), r.stdout
    app = install_source('app', 'gradio')   # the web-app notebook: boatclf alone (from another notebook) is not enough
    code = f"""if 1:
        import sys
        from IPython.core.interactiveshell import InteractiveShell
        sh, asked = InteractiveShell.instance(), []
        sh.register_magic_function(lambda line: asked.append(line), 'line', 'pip')
        sys.modules['gradio'] = None
        assert sh.run_cell({app!r}).success
        print(asked)"""
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == str([f'install -q "boatclf[app] @ git+{REPO}"']), r.stdout + r.stderr
    links = set(re.findall(r'colab\.research\.google\.com/github/([\w-]+/[\w-]+)/', (ROOT / 'README.md').read_text()))
    assert links == {REPO.removeprefix('https://github.com/')}, (links, REPO)

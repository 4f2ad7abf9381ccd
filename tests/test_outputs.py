"""Outputs stored in a notebook describe its current code: a notebook that carries outputs carries the hash of the
code cells that made them (tools/outputs.py, `make outputs`), within the size budget, with no widget state and no
absolute paths. A notebook with no outputs passes: it describes nothing."""
import base64, copy, io, json, subprocess, sys
from pathlib import Path

import pytest

from conftest import NBS, ROOT

sys.path.insert(0, str(ROOT / 'tools'))
from outputs import BUDGET, code_hash, tidy_outputs  # noqa: E402

NOTEBOOKS = sorted(p for p in NBS.glob('*.ipynb') if not p.name.startswith('_'))


def outputs_problem(nb: dict, size: int) -> str | None:
    "What is wrong with the outputs stored in `nb` (a notebook of `size` bytes), or None."
    code = [c for c in nb['cells'] if c['cell_type'] == 'code']
    if not any(c.get('outputs') for c in code): return None
    stored = nb['metadata'].get('boatclf', {}).get('code_sha256')
    if stored is None: return 'it has outputs but no code hash: they were not made by `make outputs`'
    if stored != code_hash(nb): return 'a code cell changed since its outputs were made'
    if size > BUDGET: return f'{size:,} bytes, over the budget of {BUDGET:,}'
    outs = json.dumps([c.get('outputs', []) for c in code])
    for path in {str(ROOT), str(Path.home())}:
        if path in outs: return f'its outputs show the absolute path {path}'
    if 'application/vnd.jupyter.widget' in outs or 'widgets' in nb['metadata']: return 'it stores widget state'
    return None


@pytest.mark.parametrize('nb', NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_stored_outputs_match_the_code(nb):
    text = nb.read_text()
    why = outputs_problem(json.loads(text), len(text.encode()))
    assert why is None, (f'{nb.name}: {why}. Refresh them: make outputs NB=nbs/{nb.name} (cpu mode, a few minutes), '
                         f'or clear them: .venv/bin/nbdev-clean --clear_all --fname nbs/{nb.name}')


def _png(w=300, h=200) -> str:
    import matplotlib; matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(w / 72, h / 72), dpi=72)
    ax.imshow([[i * j for i in range(50)] for j in range(40)]); buf = io.BytesIO(); fig.savefig(buf, format='png'); plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def test_the_check_catches_stale_big_or_leaky_outputs():
    "Edit a code cell after its outputs were made, go over the budget, leave a path or widget state: each is caught."
    nb = json.loads((NBS / '00_core.ipynb').read_text())
    for c in nb['cells']:
        if c['cell_type'] == 'code': c['outputs'] = []
    nb['metadata'].pop('boatclf', None)
    cell = next(c for c in nb['cells'] if c['cell_type'] == 'code' and 'export' not in ''.join(c['source']))
    cell['outputs'] = [dict(output_type='stream', name='stdout', text=['cpu\n'])]
    assert outputs_problem(nb, 1000) == 'it has outputs but no code hash: they were not made by `make outputs`'
    nb['metadata']['boatclf'] = dict(code_sha256=code_hash(nb), mode='cpu')
    assert outputs_problem(nb, 1000) is None
    edited = copy.deepcopy(nb)
    c = next(c for c in edited['cells'] if c['cell_type'] == 'code')
    c['source'] = ''.join(c['source']) + '\n# one more line'
    assert outputs_problem(edited, 1000) == 'a code cell changed since its outputs were made'
    assert 'over the budget' in outputs_problem(nb, BUDGET + 1)
    cell['outputs'][0]['text'] = [f'{ROOT}/nbs/models\n']
    assert 'absolute path' in outputs_problem(nb, 1000)
    cell['outputs'] = [dict(output_type='display_data', metadata={}, data={'application/vnd.jupyter.widget-view+json': {}})]
    assert 'widget state' in outputs_problem(nb, 1000)


def test_tidy_outputs_shrinks_figures_and_scrubs_paths():
    png = _png()
    home = '/tmp/boatclf-outputs-abc'
    from outputs import scrubber
    outs = tidy_outputs([dict(output_type='display_data', metadata={}, data={'image/png': png, 'text/plain': ['<Figure>']}),
                         dict(output_type='display_data', metadata={}, data={'application/vnd.jupyter.widget-view+json': {'model_id': 'x'}}),
                         dict(output_type='stream', name='stderr', text=[f'{sys.prefix}/x.py: warn\n', f'{home}/data\n', f'{ROOT}/nbs\n', f'{Path.home()}/a\n'])],
                        scrubber(home))
    assert len(outs) == 2, outs   # the widget output had nothing else to show
    assert len(outs[0]['data']['image/png']) <= len(png)
    assert outs[1]['text'] == '.venv/x.py: warn\n~/.boatclf/data\n./nbs\n~/a\n', outs[1]['text']


def test_make_outputs_runs_a_notebook_in_a_kernel(tmp_path):
    "tools/outputs.py on a small notebook: cpu mode, its own BOATCLF_HOME (shown as ~/.boatclf), an inline PNG, flagged cells left out."
    nb = dict(nbformat=4, nbformat_minor=5, metadata=dict(kernelspec=dict(name='python3', display_name='python3', language='python')),
              cells=[dict(cell_type='code', execution_count=None, id=f'c{i}', metadata={}, outputs=[], source=s) for i, s in enumerate([
                  "import os\nprint(os.environ['BOATCLF_MODE'], os.environ['BOATCLF_HOME'])",
                  "import matplotlib.pyplot as plt\nplt.plot([1, 3, 2]); plt.show()",
                  "#| slow\nprint('a skipped cell ran')"])])
    fn = tmp_path / 'small.ipynb'
    fn.write_text(json.dumps(nb))
    r = subprocess.run([sys.executable, str(ROOT / 'tools' / 'outputs.py'), str(fn)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    done = json.loads(fn.read_text())
    outs = [c['outputs'] for c in done['cells']]
    assert outs[0][0]['text'] == ['cpu ~/.boatclf\n'], outs[0]
    assert 'image/png' in outs[1][-1]['data'] and outs[2] == [], outs
    assert outputs_problem(done, len(fn.read_text().encode())) is None

"""A mistake is answered before anything heavy loads: each bad-input error of the CLI, run in a fresh Python, exits 2 with
one line and has not imported fastai (nor, where no device question is asked, PyTorch). How long that takes is measured
by bench/startup.py, not here (this machine is shared)."""
import json, subprocess, sys

import pytest

from conftest import smoke_env, assert_user_error

PROBE = """
import sys
from boatclf.cli import main
try: rc = main(sys.argv[1:])
except SystemExit as e: rc = e.code
sys.stdout.write('\\n' + __import__('json').dumps({'rc': rc, 'heavy': sorted(m for m in ('torch', 'fastai', 'timm', 'gradio') if m in sys.modules)}))
"""


def run_fresh(tmp_path, *args):
    "Run `boatclf ARGS` in a fresh Python: what it printed, and which heavy modules were imported by the time it returned."
    r = subprocess.run([sys.executable, '-c', PROBE, *map(str, args)], capture_output=True, text=True, env=smoke_env(tmp_path/'home'), timeout=120)
    *out, probe = r.stdout.split('\n')
    info = json.loads(probe)
    return subprocess.CompletedProcess(r.args, info['rc'], '\n'.join(out), r.stderr), info['heavy']


@pytest.fixture
def places(tmp_path):
    (tmp_path/'empty').mkdir()
    (tmp_path/'pickled').mkdir(); (tmp_path/'pickled'/'model.pkl').write_bytes(b'\x80\x04K\x01.')
    (tmp_path/'bad-json').mkdir(); (tmp_path/'bad-json'/'model.json').write_text('{"format_version": 1, "arch": "os.system"}')
    (tmp_path/'photo.jpg').write_bytes(b'\xff\xd8\xff')
    (tmp_path/'project').mkdir(); (tmp_path/'project'/'metrics.json').write_text('{}'); (tmp_path/'project'/'confusion.png').write_bytes(b'mine')
    (tmp_path/'gone').symlink_to(tmp_path/'nothing-here')
    return tmp_path


CASES = [  # (arguments, words the error must contain, may PyTorch be loaded: only to find the training device)
    (['train', '--epochs', '0'], 'epochs 0 is out of range', True),
    (['train', '--data', '{t}/nowhere'], 'does not exist', True),
    (['train', '--data', '{t}/empty'], 'has no class folders', True),
    (['train', '--precision', 'fp16'], 'fp16 needs a CUDA GPU', True),
    (['train', '--processes', '99'], 'out of range', True),
    (['train', '--out', '{t}/photo.jpg'], 'is a file, not a folder', True),
    (['train', '--size', '96,64'], 'do not grow', False),
    (['train', '--lr', '1e10'], 'at most 10', True),
    (['train', '--out', '{t}/project'], 'already holds a model', True),
    (['train', '--out', '{t}/project', '--overwrite'], 'no model that boatclf wrote', True),   # someone's metrics.json and plots
    (['train', '--out', '{t}/gone'], 'a link to nothing', True),
    (['predict', '{t}/nowhere', '{t}/photo.jpg'], 'No model at', False),
    (['predict', '{t}/pickled', '{t}/photo.jpg'], 'is a pickle', False),
    (['predict', '{t}/bad-json', '{t}/photo.jpg'], "arch is 'os.system'", False),
    (['predict', '{t}/bad-json', '{t}/photo.jpg', '--threshold', '2'], 'between 0 and 1', False),
    (['predict', '{t}/bad-json', '{t}/nothing.jpg'], 'does not exist', False),
    (['evaluate', '{t}/empty', '{t}/empty'], 'No model in', False),
    (['review', '{t}/pickled', '{t}/empty'], 'is a pickle', False),
    (['apply', '{t}/empty', '{t}/none.csv'], 'does not exist', False),
    (['app', '{t}/nowhere'], 'No model at', False),
]


@pytest.mark.parametrize('args, words, torch_ok', CASES, ids=[' '.join(a).replace('{t}/', '') for a, _, _ in CASES])
def test_a_mistake_is_answered_before_fastai_loads(places, args, words, torch_ok):
    r, heavy = run_fresh(places, *[a.format(t=places) for a in args])
    assert_user_error(r, words)
    assert heavy == (['torch'] if torch_ok and 'torch' in heavy else []), f'imported {heavy} before answering'


def test_help_loads_nothing_heavy(tmp_path):
    r, heavy = run_fresh(tmp_path, '--help')
    assert r.returncode == 0 and 'train' in r.stdout and heavy == []

"""`boatclf train / predict / evaluate / synth` end to end, and every bad input: exit 2, one line, no traceback."""
import json, subprocess

import pytest
from PIL import Image

from conftest import smoke_env


def run(cmd, args, home, timeout=600):
    return subprocess.run(cmd + [str(a) for a in args], env=smoke_env(home), capture_output=True, text=True, timeout=timeout)


def assert_user_error(r, *words):
    "Exit status 2, one line on stderr that contains `words`, and no traceback."
    assert r.returncode == 2, f'status {r.returncode}\n{r.stdout}\n{r.stderr}'
    err = r.stderr.strip()
    assert 'Traceback' not in err and len(err.splitlines()) == 1, err
    for w in words: assert w in err, err


@pytest.fixture(scope='module')
def trained(tmp_path_factory, boatclf_cmd_module):
    "A smoke-mode model trained with `boatclf train --data` on a folder written by `boatclf synth`."
    root = tmp_path_factory.mktemp('cli')
    r = run(boatclf_cmd_module, ['synth', '--dest', root/'boats', '--per-class', 16, '--seed', 1], root/'home')
    assert r.returncode == 0, r.stderr
    r = run(boatclf_cmd_module, ['train', '--data', root/'boats', '--out', root/'model'], root/'home')
    assert r.returncode == 0, r.stdout + r.stderr
    return root


@pytest.fixture(scope='module')
def boatclf_cmd_module():
    import sys
    from pathlib import Path
    return [str(Path(sys.executable).parent / 'boatclf')]


def test_train_writes_model_metrics_and_plots(trained):
    files = sorted(p.name for p in (trained/'model').iterdir())
    assert files == ['confusion.png', 'losses.png', 'metrics.json', 'model.pkl']
    m = json.loads((trained/'model'/'metrics.json').read_text())
    for k in ('error_rate', 'train_loss', 'valid_loss', 'arch', 'loss', 'epochs', 'size', 'seconds', 'device', 'data_source'):
        assert k in m
    assert m['arch'] == 'efficientnet_lite0' and m['loss'] == 'ce' and m['device'] == 'cpu'
    assert 0 <= m['error_rate'] <= 1
    for png in ('confusion.png', 'losses.png'):
        with Image.open(trained/'model'/png) as im: assert im.format == 'PNG' and im.width > 100


def test_predict_json(trained, boatclf_cmd_module):
    imgs = sorted((trained/'boats'/'kayak').glob('*.jpg'))[:2]
    r = run(boatclf_cmd_module, ['predict', trained/'model'/'model.pkl', *imgs, '--json'], trained/'home')
    assert r.returncode == 0, r.stderr
    rows = [json.loads(l) for l in r.stdout.splitlines()]
    assert [row['image'] for row in rows] == [str(p) for p in imgs]
    for row in rows:
        assert set(row['probs']) == {'canoe', 'kayak', 'sailboat'}
        assert abs(sum(row['probs'].values()) - 1) < 1e-3
        assert len(row['labels']) == 1 and row['labels'][0] == max(row['probs'], key=row['probs'].get)


def test_evaluate_json(trained, boatclf_cmd_module):
    r = run(boatclf_cmd_module, ['synth', '--dest', trained/'fresh', '--per-class', 4, '--seed', 99], trained/'home')
    assert r.returncode == 0, r.stderr
    r = run(boatclf_cmd_module, ['evaluate', trained/'model', trained/'fresh', '--json'], trained/'home')
    assert r.returncode == 0, r.stderr
    ev = json.loads(r.stdout)
    assert ev['images'] == 12 and sum(map(sum, ev['confusion'])) == 12
    assert set(ev['per_class']) == {'canoe', 'kayak', 'sailboat'}


def _jpeg(fn, color=(200, 30, 30)):
    fn.parent.mkdir(parents=True, exist_ok=True)
    Image.new('RGB', (96, 80), color).save(fn)


def test_train_missing_folder(tmp_path, boatclf_cmd):
    assert_user_error(run(boatclf_cmd, ['train', '--data', tmp_path/'nowhere', '--out', tmp_path/'m'], tmp_path), 'does not exist')


def test_train_empty_folder(tmp_path, boatclf_cmd):
    (tmp_path/'empty').mkdir()
    assert_user_error(run(boatclf_cmd, ['train', '--data', tmp_path/'empty', '--out', tmp_path/'m'], tmp_path), 'no class folders')


def test_train_one_class(tmp_path, boatclf_cmd):
    for i in range(5): _jpeg(tmp_path/'data'/'canoe'/f'{i}.jpg')
    assert_user_error(run(boatclf_cmd, ['train', '--data', tmp_path/'data', '--out', tmp_path/'m'], tmp_path), 'only one class')


def test_train_corrupt_image(tmp_path, boatclf_cmd):
    for c, col in (('canoe', (200, 0, 0)), ('kayak', (0, 200, 0))):
        for i in range(6): _jpeg(tmp_path/'data'/c/f'{i}.jpg', col)
    good = (tmp_path/'data'/'kayak'/'0.jpg').read_bytes()
    (tmp_path/'data'/'kayak'/'broken.jpg').write_bytes(good[:len(good) // 3])
    r = run(boatclf_cmd, ['train', '--data', tmp_path/'data', '--out', tmp_path/'m'], tmp_path)
    assert_user_error(r, 'not readable images', 'boatclf clean')
    assert (tmp_path/'data'/'kayak'/'broken.jpg').exists(), 'training must never remove a user file'


def test_predict_unreadable_image(trained, tmp_path, boatclf_cmd):
    bad = tmp_path/'photo.jpg'; bad.write_text('<html>not an image</html>')
    assert_user_error(run(boatclf_cmd, ['predict', trained/'model'/'model.pkl', bad], tmp_path), 'not a readable image')
    assert_user_error(run(boatclf_cmd, ['predict', trained/'model'/'model.pkl', tmp_path/'missing.jpg'], tmp_path), 'does not exist')


def test_predict_with_a_file_that_is_not_a_model(tmp_path, boatclf_cmd):
    fake = tmp_path/'model.pkl'; fake.write_bytes(b'\x80\x04not a pickle at all')
    img = tmp_path/'boat.jpg'; _jpeg(img)
    assert_user_error(run(boatclf_cmd, ['predict', fake, img], tmp_path), 'not a boatclf model')
    assert_user_error(run(boatclf_cmd, ['evaluate', tmp_path/'nope.pkl', tmp_path], tmp_path), 'No model')


def test_usage_errors_exit_2(tmp_path, boatclf_cmd):
    r = run(boatclf_cmd, ['train', '--epochs', 'many'], tmp_path)
    assert r.returncode == 2 and 'Traceback' not in r.stderr
    r = run(boatclf_cmd, ['--help'], tmp_path)
    assert r.returncode == 0 and 'doctor' in r.stdout and 'train' in r.stdout

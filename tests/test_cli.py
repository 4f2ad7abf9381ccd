"""`boatclf train / predict / evaluate / synth` end to end, and every bad input: exit 2, one line, no traceback.

Most bad arguments are tried through `boatclf.cli.main` in this process (the real command's code, without
the 4-second start-up of a new Python with torch and fastai); a few through the real `boatclf` command."""
import hashlib, json, os, subprocess, sys
from pathlib import Path

import pytest
from PIL import Image

from conftest import smoke_env, assert_user_error

BOATCLF = [str(Path(sys.executable).parent / 'boatclf')]


def run(cmd, args, home, timeout=600):
    return subprocess.run(cmd + [str(a) for a in args], env=smoke_env(home), capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    "A smoke-mode model trained with `boatclf train --data` on a folder written by `boatclf synth`."
    root = tmp_path_factory.mktemp('cli')
    r = run(BOATCLF, ['synth', '--dest', root/'boats', '--per-class', 16, '--seed', 1], root/'home')
    assert r.returncode == 0, r.stderr
    r = run(BOATCLF, ['train', '--data', root/'boats', '--out', root/'model'], root/'home')
    assert r.returncode == 0, r.stdout + r.stderr
    return root


def _jpeg(fn, color=(200, 30, 30), size=(96, 80)):
    fn.parent.mkdir(parents=True, exist_ok=True)
    Image.new('RGB', size, color).save(fn)


def _dataset(root, per_class=6, classes=('canoe', 'kayak')):
    for c, col in zip(classes, ((200, 0, 0), (0, 200, 0), (0, 0, 200))):
        for i in range(per_class): _jpeg(root/c/f'{i}.jpg', col)
    return root


# ---- train, predict, evaluate: the good path ----

def test_train_writes_model_metrics_and_plots(trained):
    files = sorted(p.name for p in (trained/'model').iterdir())   # also: no temporary file left behind
    assert files == ['confusion.png', 'examples', 'losses.png', 'metrics.json', 'model-card.md', 'model.json', 'model.pkl', 'model.safetensors']
    examples = sorted(p.name for p in (trained/'model'/'examples').iterdir())
    assert examples and all(n.split('_')[0] in ('canoe', 'kayak', 'sailboat') and n.endswith('.jpg') for n in examples), examples
    card = (trained/'model'/'model-card.md').read_text()
    assert 'Error rate' in card and '| canoe |' in card and 'Trained on drawn boats' not in card   # its data were a folder given with --data
    m = json.loads((trained/'model'/'metrics.json').read_text())
    for k in ('error_rate', 'train_loss', 'valid_loss', 'arch', 'loss', 'epochs', 'freeze_epochs', 'size', 'seconds', 'device', 'data_source'):
        assert k in m
    assert m['arch'] == 'efficientnet_lite0' and m['loss'] == 'ce' and m['device'] == 'cpu'
    wrong = m['error_rate'] * m['n_valid']   # an error rate is a count of mistakes over the validation photos
    assert abs(wrong - round(wrong)) < 0.01 and 0 <= round(wrong) <= m['n_valid'], m
    info = json.loads((trained/'model'/'model.json').read_text())
    assert (info['arch'], info['classes'], info['loss'], info['multi_label'], info['threshold']) == \
        ('efficientnet_lite0', ['canoe', 'kayak', 'sailboat'], 'ce', False, None)
    assert (info['size'], info['presize'], info['resize_method'], info['mean'], info['std']) == (64, 96, 'squish', [.5] * 3, [.5] * 3)
    assert info['weights_sha256'] == hashlib.sha256((trained/'model'/'model.safetensors').read_bytes()).hexdigest()
    assert set(info['versions']) == {'boatclf', 'fastai', 'torch', 'timm'}
    for png in ('confusion.png', 'losses.png'):
        with Image.open(trained/'model'/png) as im: assert im.format == 'PNG' and im.width > 100


def test_predict_json(trained):
    imgs = sorted((trained/'boats'/'kayak').glob('*.jpg'))[:2]
    r = run(BOATCLF, ['predict', trained/'model', *imgs, '--json'], trained/'home')
    assert r.returncode == 0, r.stderr
    rows = [json.loads(l) for l in r.stdout.splitlines()]      # stdout: JSON lines only
    assert [row['image'] for row in rows] == [str(p) for p in imgs]
    for row in rows:
        assert set(row['probs']) == {'canoe', 'kayak', 'sailboat'}
        assert abs(sum(row['probs'].values()) - 1) < 1e-3
        assert len(row['labels']) == 1 and row['labels'][0] == max(row['probs'], key=row['probs'].get)
    assert 'model.safetensors + model.json' in r.stderr and 'nothing unpickled' in r.stderr, r.stderr


def test_predict_reads_a_folder_as_its_images(trained, cli):
    r = cli('predict', trained/'model', trained/'boats'/'canoe', '--json')
    assert r.returncode == 0, r.stderr
    assert [json.loads(l)['image'] for l in r.stdout.splitlines()] == [str(p) for p in sorted((trained/'boats'/'canoe').glob('*.jpg'))]


def test_evaluate_json(trained):
    r = run(BOATCLF, ['synth', '--dest', trained/'fresh', '--per-class', 4, '--seed', 99], trained/'home')
    assert r.returncode == 0, r.stderr
    r = run(BOATCLF, ['evaluate', trained/'model', trained/'fresh', '--json'], trained/'home')
    assert r.returncode == 0, r.stderr
    ev = json.loads(r.stdout)
    assert ev['images'] == 12 and set(ev['per_class']) == {'canoe', 'kayak', 'sailboat'}
    # evaluate must agree with predict, photo by photo: each row of the confusion matrix is what predict says of that class
    r = run(BOATCLF, ['predict', trained/'model', trained/'fresh', '--json'], trained/'home')
    assert r.returncode == 0, r.stderr
    rows = [json.loads(l) for l in r.stdout.splitlines()]
    labels = ev['labels']
    expected = [[0] * len(labels) for _ in labels]
    for row in rows: expected[labels.index(Path(row['image']).parent.name)][labels.index(row['labels'][0])] += 1
    assert ev['confusion'] == expected, (ev['confusion'], expected)
    assert ev['accuracy'] == round(sum(expected[i][i] for i in range(len(labels))) / 12, 4)


def test_evaluate_counts_images_in_sub_folders_for_their_top_folder(trained, cli, tmp_path):
    for c in ('canoe', 'kayak', 'sailboat'):
        for i, f in enumerate(sorted((trained/'boats'/c).glob('*.jpg'))[:2]):
            (tmp_path/'eval'/c/'deeper'/'still').mkdir(parents=True, exist_ok=True)
            (tmp_path/'eval'/c/('deeper/still' if i else '')/f.name).write_bytes(f.read_bytes())
    r = cli('evaluate', trained/'model', tmp_path/'eval', '--json')
    assert r.returncode == 0, r.stderr
    ev = json.loads(r.stdout)
    assert ev['images'] == 6 and [sum(row) for row in ev['confusion']] == [2, 2, 2]


# ---- training data: labels from the top folder, enough photos ----

@pytest.mark.parametrize('multi_label', [False, True])
def test_images_in_sub_folders_belong_to_the_top_folder(tmp_path, multi_label):
    from boatclf.core import get_settings
    from boatclf.datablock import boat_dls
    _dataset(tmp_path, per_class=5)
    for c in ('canoe', 'kayak'):
        for i in range(3): _jpeg(tmp_path/c/'kayak'/'lake'/f'sub{i}.jpg')   # a sub-folder named like another class
    dls = boat_dls(tmp_path, get_settings('smoke', home=tmp_path/'home'), multi_label=multi_label)
    items = list(dls.train_ds.items) + list(dls.valid_ds.items)
    labels = [y for _, y in dls.train_ds] + [y for _, y in dls.valid_ds]
    assert len(items) == 16
    for f, y in zip(items, labels):
        want = f.relative_to(tmp_path).parts[0]
        got = [dls.vocab[i] for i, v in enumerate(y) if v] if multi_label else dls.vocab[int(y)]
        assert got == ([want] if multi_label else want), (f, got)


def test_train_too_few_images_for_validation(tmp_path, cli):
    _dataset(tmp_path/'data', per_class=6)
    for f in sorted((tmp_path/'data'/'kayak').glob('*.jpg'))[3:]: f.unlink()
    r = cli('train', '--data', tmp_path/'data', '--out', tmp_path/'m')
    assert_user_error(r, 'kayak has 3', 'at least 5')
    assert not (tmp_path/'m').exists()


# ---- train: arguments checked before any work ----

@pytest.mark.parametrize('args, words', [
    (['--epochs', 0], 'epochs 0 is out of range'), (['--epochs', 101], 'from 1 to 100'),
    (['--freeze-epochs', -1], 'freeze epochs -1'), (['--freeze-epochs', 11], 'from 0 to 10'),
    (['--size', 16], 'size 16 is out of range'), (['--size', 5000], 'from 32 to 1024'),
    (['--lr', 0], 'learning rate 0.0'), (['--lr', -1], 'learning rate -1.0'), (['--lr', 'nan'], 'learning rate nan'),
    (['--lr', 'inf'], 'learning rate inf'), (['--epochs', 'many'], "invalid int value: 'many'"),
    (['--loss', 'mse'], "invalid choice: 'mse'"), (['--synthetic'], 'either --data DIR or --synthetic'),
])
def test_train_bad_arguments_fail_fast(tmp_path, cli, args, words):
    _dataset(tmp_path/'data')
    r = cli('train', '--data', tmp_path/'data', '--out', tmp_path/'m', *args)
    assert_user_error(r, words)
    assert not (tmp_path/'m').exists() and r.seconds < 30


def test_train_out_is_a_file_or_inside_the_data(tmp_path, cli):
    _dataset(tmp_path/'data')
    (tmp_path/'notes.txt').write_text('mine')
    assert_user_error(cli('train', '--data', tmp_path/'data', '--out', tmp_path/'notes.txt'), 'notes.txt is a file')
    assert_user_error(cli('train', '--data', tmp_path/'data', '--out', tmp_path/'notes.txt'/'model'), 'notes.txt is a file')
    assert_user_error(cli('train', '--data', tmp_path/'data', '--out', tmp_path/'data'/'model'), 'inside the data folder')
    assert_user_error(cli('train', '--data', tmp_path/'data', '--out', tmp_path/'data'/'canoe'), 'inside the data folder')
    assert (tmp_path/'notes.txt').read_text() == 'mine' and not (tmp_path/'data'/'model').exists()
    assert sorted(p.name for p in (tmp_path/'data'/'canoe').iterdir()) == [f'{i}.jpg' for i in range(6)]


def test_train_never_overwrites_a_model_unasked(trained, cli):
    before = {p.name: p.stat().st_mtime_ns for p in (trained/'model').iterdir()}
    r = cli('train', '--data', trained/'boats', '--out', trained/'model')
    assert_user_error(r, 'already holds a model', '--overwrite')
    assert {p.name: p.stat().st_mtime_ns for p in (trained/'model').iterdir()} == before


def test_train_overwrite_freeze_epochs_and_lr(tmp_path, cli):
    _dataset(tmp_path/'data', per_class=5)
    (tmp_path/'m').mkdir(); (tmp_path/'m'/'metrics.json').write_text('{"old": true}')
    args = ['train', '--data', tmp_path/'data', '--out', tmp_path/'m', '--size', 32, '--epochs', 1, '--freeze-epochs', 0, '--lr', 0.003]
    assert_user_error(cli(*args), 'already holds a model (metrics.json)')
    assert_user_error(cli(*args, '--overwrite'), 'no model that boatclf wrote')   # someone's metrics.json, not a model: kept
    assert json.loads((tmp_path/'m'/'metrics.json').read_text()) == {'old': True}
    (tmp_path/'m'/'metrics.json').unlink()
    assert cli(*args).returncode == 0                                             # a model boatclf wrote...
    assert_user_error(cli(*args), 'already holds a model')
    r = cli(*args[:-1], 0.005, '--overwrite')                                      # ...which --overwrite replaces
    assert r.returncode == 0, r.stdout + r.stderr
    m = json.loads((tmp_path/'m'/'metrics.json').read_text())
    assert (m['freeze_epochs'], m['epochs'], m['lr'], m['size']) == (0, 1, 0.005, 32)
    assert sorted(p.name for p in (tmp_path/'m').iterdir()) == \
        ['confusion.png', 'examples', 'losses.png', 'metrics.json', 'model-card.md', 'model.json', 'model.pkl', 'model.safetensors']


def test_train_bad_argument_real_command(tmp_path):
    r = run(BOATCLF, ['train', '--synthetic', '--epochs', 0, '--out', tmp_path/'m'], tmp_path, timeout=60)
    assert_user_error(r, 'epochs 0 is out of range')
    assert not (tmp_path/'m').exists() and not (tmp_path/'data').exists()   # nothing drawn, nothing trained


def test_train_missing_folder(tmp_path):
    assert_user_error(run(BOATCLF, ['train', '--data', tmp_path/'nowhere', '--out', tmp_path/'m'], tmp_path), 'does not exist')


def test_train_empty_folder(tmp_path, cli):
    (tmp_path/'empty').mkdir()
    assert_user_error(cli('train', '--data', tmp_path/'empty', '--out', tmp_path/'m'), 'no class folders')


def test_train_one_class(tmp_path, cli):
    for i in range(5): _jpeg(tmp_path/'data'/'canoe'/f'{i}.jpg')
    assert_user_error(cli('train', '--data', tmp_path/'data', '--out', tmp_path/'m'), 'only one class')


def test_train_class_folder_name_that_cannot_be_a_class(tmp_path, cli):
    _dataset(tmp_path/'data', classes=('canoe', 'kayak (old)'))
    assert_user_error(cli('train', '--data', tmp_path/'data', '--out', tmp_path/'m'), 'kayak (old) cannot be a class')


def test_train_corrupt_image(tmp_path, cli):
    _dataset(tmp_path/'data')
    good = (tmp_path/'data'/'kayak'/'0.jpg').read_bytes()
    (tmp_path/'data'/'kayak'/'broken.jpg').write_bytes(good[:len(good) // 3])
    assert_user_error(cli('train', '--data', tmp_path/'data', '--out', tmp_path/'m'), 'not readable images', 'boatclf clean')
    assert (tmp_path/'data'/'kayak'/'broken.jpg').exists(), 'training must never remove a user file'


@pytest.mark.parametrize('kind', ['fifo', 'dev-zero'])
def test_train_never_reads_a_pipe_or_a_device(tmp_path, cli, kind):
    "A named pipe or a link to /dev/zero called .jpg in a class folder: one line, before training; never read (it would hang)."
    _dataset(tmp_path/'data')
    odd = tmp_path/'data'/'canoe'/'odd.jpg'
    os.mkfifo(odd) if kind == 'fifo' else odd.symlink_to('/dev/zero')
    assert_user_error(cli('train', '--data', tmp_path/'data', '--out', tmp_path/'m'), 'not a regular file', 'boatclf clean')
    assert not (tmp_path/'m').exists()

# ---- predict and evaluate: bad arguments ----

@pytest.mark.parametrize('t', [0, 1, 1.5, -0.1, 'nan'])
def test_predict_threshold_must_be_a_probability(trained, cli, t):
    r = cli('predict', trained/'model', trained/'boats'/'canoe'/'canoe_0000.jpg', '--threshold', t)
    assert_user_error(r, 'between 0 and 1')
    assert r.stdout == '' and 'loaded' not in r.stderr   # refused before the model was loaded


def test_predict_unreadable_or_missing_image(trained, tmp_path, cli):
    bad = tmp_path/'photo.jpg'; bad.write_text('<html>not an image</html>')
    assert_user_error(run(BOATCLF, ['predict', trained/'model', bad], tmp_path), 'not a readable image')
    r = cli('predict', trained/'model', trained/'boats'/'canoe'/'canoe_0000.jpg', tmp_path/'missing.jpg')
    assert_user_error(r, 'missing.jpg does not exist')
    assert 'loaded' not in r.stderr
    (tmp_path/'empty').mkdir()
    assert_user_error(cli('predict', trained/'model', tmp_path/'empty'), 'has no images')


def test_predict_answers_for_the_readable_images_and_names_the_unreadable_one(trained, tmp_path, cli):
    good = trained/'boats'/'canoe'/'canoe_0000.jpg'
    bad = tmp_path/'photo.jpg'; bad.write_text('<html>not an image</html>')
    r = cli('predict', trained/'model', good, bad, good, '--json')
    rows = [json.loads(l) for l in r.stdout.splitlines()]
    assert r.returncode == 2 and [sorted(x) for x in rows] == [['image', 'labels', 'probs'], ['error', 'image'], ['image', 'labels', 'probs']], r.stdout
    assert 'not a readable image' in rows[1]['error'] and rows[0] == rows[2]
    last = r.stderr.strip().splitlines()[-1]
    assert '1 of 3 images could not be read' in last and 'Traceback' not in r.stderr, r.stderr
    r = cli('predict', trained/'model', good, bad)
    assert r.returncode == 2 and 'photo.jpg: cannot read it' in r.stdout and 'canoe_0000.jpg: ' in r.stdout, r.stdout


def test_predict_a_broken_link_in_a_folder_gets_its_own_error(trained, tmp_path, cli):
    "A dangling or looping link found in a folder is one unreadable photo; the same link typed by hand is refused before loading."
    (tmp_path/'photos').mkdir()
    for i, f in enumerate(sorted((trained/'boats'/'canoe').glob('*.jpg'))[:2]): (tmp_path/'photos'/f'{i}.jpg').write_bytes(f.read_bytes())
    (tmp_path/'photos'/'gone.jpg').symlink_to('nowhere')
    (tmp_path/'photos'/'loop.jpg').symlink_to('loop.jpg')
    r = cli('predict', trained/'model', tmp_path/'photos', '--json')
    rows = [json.loads(l) for l in r.stdout.splitlines()]
    assert [Path(x['image']).name for x in rows] == ['0.jpg', '1.jpg', 'gone.jpg', 'loop.jpg'], r.stdout + r.stderr
    assert [sorted(x) for x in rows] == [['image', 'labels', 'probs']] * 2 + [['error', 'image']] * 2, r.stdout
    assert r.returncode == 2 and '2 of 4 images could not be read' in r.stderr.strip().splitlines()[-1], r.stderr
    r = cli('predict', trained/'model', tmp_path/'photos'/'gone.jpg')
    assert_user_error(r, 'gone.jpg does not exist')
    assert 'loaded' not in r.stderr


def test_predict_json_never_prints_nan(trained, tmp_path, cli):
    "Finite weights and a temperature in range can still make NaN probabilities: refused in one line, nothing printed (NaN is not JSON)."
    import hashlib
    from safetensors.torch import load, save
    model = tmp_path/'model'; model.mkdir()
    w = load((trained/'model'/'model.safetensors').read_bytes())
    w['1.6.weight'][:] = 0; w['1.6.bias'][:] = 1    # the head's last batch norm gives ones, whatever the photo
    w['1.8.weight'][:] = 0; w['1.8.weight'][:2, 0] = 3e38   # outputs (3e38, 3e38, 0): finite, until divided by the temperature
    (model/'model.safetensors').write_bytes(save(w))
    info = json.loads((trained/'model'/'model.json').read_text())
    info.update(temperature=0.01, weights_sha256=hashlib.sha256((model/'model.safetensors').read_bytes()).hexdigest())
    (model/'model.json').write_text(json.dumps(info))
    r = cli('predict', model, trained/'boats'/'canoe'/'canoe_0000.jpg', '--json')
    assert_user_error(r, 'NaN or infinity')
    assert r.stdout == ''


def test_evaluate_scores_the_readable_photos_and_names_the_unreadable_ones(trained, tmp_path, cli):
    for c in ('canoe', 'kayak', 'sailboat'):
        (tmp_path/'eval'/c).mkdir(parents=True)
        for f in sorted((trained/'boats'/c).glob('*.jpg'))[:2]: (tmp_path/'eval'/c/f.name).write_bytes(f.read_bytes())
    r = cli('evaluate', trained/'model', tmp_path/'eval', '--json')
    assert r.returncode == 0, r.stderr
    clean = json.loads(r.stdout)
    (tmp_path/'eval'/'canoe'/'zz_cut.jpg').write_bytes((trained/'boats'/'canoe'/'canoe_0000.jpg').read_bytes()[:3000])   # a download cut short
    r = cli('evaluate', trained/'model', tmp_path/'eval', '--json')
    assert r.returncode == 0, r.stderr
    ev = json.loads(r.stdout)
    assert (ev.pop('unreadable'), ev.pop('unreadable_images')) == (1, ['canoe/zz_cut.jpg'])
    assert ev == clean and ev['images'] == 6   # the readable photos scored as before
    r = cli('evaluate', trained/'model', tmp_path/'eval')
    assert r.returncode == 0 and 'left out 1 that could not be read (first: canoe/zz_cut.jpg)' in r.stdout, r.stdout
    for f in (tmp_path/'eval').rglob('*.jpg'): f.write_bytes(b'not a photo')
    assert_user_error(cli('evaluate', trained/'model', tmp_path/'eval'), 'None of the 7 images', 'could be read')


def test_predict_a_pipe_is_refused_not_read(trained, tmp_path, cli):
    os.mkfifo(tmp_path/'pipe.jpg')   # reading it would wait forever for a writer
    r = cli('predict', trained/'model', tmp_path/'pipe.jpg')
    assert_user_error(r, 'not a regular file')
    assert r.seconds < 30


def test_predict_with_a_file_that_is_not_a_model(tmp_path, cli):
    fake = tmp_path/'model.pkl'; fake.write_bytes(b'\x80\x04not a pickle at all')
    img = tmp_path/'boat.jpg'; _jpeg(img)
    assert_user_error(cli('predict', fake, img), 'is a pickle', '--trust-pickle')
    assert_user_error(cli('predict', fake, img, '--trust-pickle'), 'not a boatclf model')
    (tmp_path/'notes.txt').write_text('hello')
    assert_user_error(cli('predict', tmp_path/'notes.txt', img), 'not a boatclf model')
    assert_user_error(cli('evaluate', tmp_path/'nope.pkl', tmp_path), 'No model')
    assert_user_error(cli('evaluate', tmp_path, tmp_path/'nowhere'), 'is not a folder')


# ---- synth: arguments checked before drawing ----

@pytest.mark.parametrize('args, words', [
    (['--seed', -1], 'seed -1 is out of range'), (['--seed', 2**32], 'seed 4294967296 is out of range'),
    (['--per-class', 0], 'ask for at least 1'), (['--per-class', 10001], 'at most 10,000'),
])
def test_synth_bad_arguments(tmp_path, cli, args, words):
    r = cli('synth', '--dest', tmp_path/'boats', *args)
    assert_user_error(r, words)
    assert not (tmp_path/'boats').exists()


def test_synth_dest_is_a_file(tmp_path, cli):
    (tmp_path/'boats').write_text('mine')
    assert_user_error(cli('synth', '--dest', tmp_path/'boats', '--per-class', 1), 'boats is a file')
    assert_user_error(cli('synth', '--dest', tmp_path/'boats'/'inner', '--per-class', 1), 'boats is a file')
    (tmp_path/'d').mkdir(); (tmp_path/'d'/'kayak').write_text('mine')
    assert_user_error(cli('synth', '--dest', tmp_path/'d', '--per-class', 1), 'kayak is a file')
    assert (tmp_path/'boats').read_text() == 'mine' and not (tmp_path/'d'/'canoe').exists()


def test_synth_bad_argument_real_command(tmp_path):
    assert_user_error(run(BOATCLF, ['synth', '--dest', tmp_path/'b', '--seed', -5], tmp_path, timeout=60), 'seed -5')


def test_usage_errors_exit_2(tmp_path):
    r = run(BOATCLF, ['train', '--epochs', 'many'], tmp_path)
    assert r.returncode == 2 and 'Traceback' not in r.stderr
    r = run(BOATCLF, ['--help'], tmp_path)
    assert r.returncode == 0 and 'doctor' in r.stdout and 'train' in r.stdout


def test_a_file_name_with_a_newline_still_gives_one_line(trained, cli, tmp_path):
    "File names may hold newlines (and other control characters): the error names the file on one line, escaped."
    assert_user_error(cli('predict', trained/'model', tmp_path/'no\nsuch.jpg'), 'no\\nsuch.jpg', 'does not exist')
    assert_user_error(cli('predict', tmp_path/'no\nmodel', trained/'boats'), 'No model')
    assert_user_error(cli('clean', tmp_path/'a\rb'), 'a\\rb')


def test_synth_with_wrong_labels_on_purpose(tmp_path, cli):
    import csv
    r = cli('synth', '--dest', tmp_path/'noisy', '--per-class', 10, '--mislabel', 0.2, '--seed', 3)
    assert r.returncode == 0 and '20% of them under a wrong class' in r.stdout, r.stdout + r.stderr
    rows = list(csv.DictReader(open(tmp_path/'noisy'/'labels.csv')))
    files = sorted(f.relative_to(tmp_path/'noisy').as_posix() for f in (tmp_path/'noisy').rglob('*.jpg'))
    assert sorted(r['file'] for r in rows) == files and len(files) == 30
    assert sum(r['folder'] != r['true_class'] for r in rows) == 6
    assert all(r['file'].startswith(r['folder'] + '/' + r['folder'] + '_') for r in rows)   # the name gives nothing away
    assert_user_error(cli('synth', '--dest', tmp_path/'noisy', '--mislabel', 0.2), 'is not an empty folder')
    assert_user_error(cli('synth', '--dest', tmp_path/'n2', '--mislabel', 0.7), 'from 0 to 0.5')
    assert_user_error(cli('synth', '--mislabel', 0.1), 'needs --dest')
    assert not (tmp_path/'n2').exists()

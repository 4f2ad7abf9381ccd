"""`fine_tune` by hand (05_train, Step 5) and training precision (Step 6): the manual sequence gives the learning rates
`fine_tune` gives, group by group, batch by batch; `boatclf train --precision bf16` really trains in bf16 on a CPU and says
so in metrics.json; fp16 without CUDA and unknown precisions are one-line user errors before any work."""
import json

import numpy as np
import pytest
import torch

from conftest import assert_user_error


@pytest.fixture(scope='module')
def boats(tmp_path_factory):
    "A few drawn boats at smoke size, and the smoke settings: two training batches per epoch."
    torch.set_num_threads(1)   # pytest-xdist runs two workers on two cores
    from boatclf.core import get_settings
    from boatclf.synth import make_synthetic_boats
    root = tmp_path_factory.mktemp('finetune')
    path = make_synthetic_boats(root/'boats', per_class=14, seed=3, long_side=(120, 200), progress=False, n_workers=1)
    return path, get_settings('smoke', home=root/'home')


def test_fine_tune_by_hand_gives_fine_tunes_learning_rates(boats):
    from boatclf.datablock import boat_dls
    from boatclf.train import HyperHistory, boat_learner, efficientnet_lite0
    path, s = boats
    dls, base_lr = boat_dls(path, s), 1e-2
    auto, hand, auto_h, hand_h = boat_learner(dls, efficientnet_lite0), boat_learner(dls, efficientnet_lite0), HyperHistory(), HyperHistory()
    with auto.no_bar(), auto.no_logging(): auto.fine_tune(2, base_lr=base_lr, cbs=auto_h)
    with hand.no_bar(), hand.no_logging():
        hand.freeze()
        hand.fit_one_cycle(1, slice(base_lr), pct_start=0.99, cbs=hand_h)
        hand.unfreeze()
        hand.fit_one_cycle(2, slice(base_lr/200, base_lr/2), pct_start=0.3, div=5, cbs=hand_h)
    n = len(dls.train)
    assert n >= 2 and auto_h.phases == hand_h.phases == [0, n] and len(auto_h.lrs) == len(hand_h.lrs) == 3 * n
    lrs, auto_lrs = np.array(hand_h.lrs), np.array(auto_h.lrs)
    assert lrs.shape == (3 * n, 3)                                     # three parameter groups at every batch
    np.testing.assert_allclose(lrs, auto_lrs, rtol=1e-9)               # each phase, each group, each batch
    np.testing.assert_allclose(hand_h.moms, auto_h.moms, rtol=1e-9)
    np.testing.assert_allclose(lrs[:n] / lrs[:n, -1:], [[1/10, 1/10, 1]] * n, rtol=1e-9)          # frozen: slice(base_lr)
    np.testing.assert_allclose(lrs[n:] / lrs[n:, -1:], [[1/100, 1/10, 1]] * 2 * n, rtol=1e-9)     # unfrozen: slice(base_lr/200, base_lr/2)
    assert lrs[:n, 2].max() <= base_lr and base_lr/4 < lrs[n:, 2].max() <= base_lr/2             # base_lr halved after the frozen phase
    head = lrs[n:, 2]
    assert head[0] < head.max() and head[-1] < head.max()               # one cycle: up, then down


def test_train_bf16_on_cpu_trains_in_bf16_and_records_it(tmp_path, cli, monkeypatch):
    if torch.cuda.is_available(): pytest.skip('on a CUDA machine bf16 goes through fastai, not CPUAutocast')
    from boatclf.train import CPUAutocast
    batches, enter = [], CPUAutocast.before_batch
    def counting(self):   # watch, not replace: the real callback still turns autocast on
        enter(self); batches.append(torch.is_autocast_enabled('cpu') and torch.get_autocast_dtype('cpu') == torch.bfloat16)
    monkeypatch.setattr(CPUAutocast, 'before_batch', counting)
    r = cli('train', '--synthetic', '--precision', 'bf16', '--out', tmp_path/'m')
    assert r.returncode == 0, r.stdout + r.stderr
    assert batches and all(batches), batches                            # every batch ran under bf16 autocast
    assert not torch.is_autocast_enabled('cpu')                         # and autocast is off again afterwards
    m = json.loads((tmp_path/'m'/'metrics.json').read_text())
    assert m['precision'] == 'bf16' and m['device'] == 'cpu' and 0 <= m['error_rate'] <= 1, m
    assert 'in bf16' in r.stdout, r.stdout


@pytest.mark.parametrize('precision, words', [('fp16', ['fp16 needs a CUDA GPU', 'use fp32']), ('fp8', ['--precision', "'fp8'"])])
def test_train_precision_user_errors(tmp_path, cli, precision, words):
    if precision == 'fp16' and torch.cuda.is_available(): pytest.skip('fp16 is allowed on CUDA')
    r = cli('train', '--synthetic', '--precision', precision, '--out', tmp_path/'m')
    assert_user_error(r, *words)
    assert not (tmp_path/'m').exists() and not (tmp_path/'home'/'data').exists()   # refused before any drawing or training


def test_training_is_channels_last_on_cpu_and_the_same_numbers(boats):
    "`boat_learner` trains channels-last on a CPU (issue 15): the layout changes where the numbers sit, not what the network computes."
    from boatclf.datablock import boat_dls
    from boatclf.train import boat_learner, efficientnet_lite0
    path, s = boats
    dls = boat_dls(path, s)
    default = boat_learner(dls, efficientnet_lite0)
    assert any(type(c).__name__ == 'ChannelsLast' for c in default.cbs)   # the default on a CPU
    with default.no_bar(), default.no_logging(): default.fit(1, 1e-3)      # trains, channels-last
    assert default.model[0][0].weight.is_contiguous(memory_format=torch.channels_last)
    plain = boat_learner(dls, efficientnet_lite0, channels_last=False)
    assert not any(type(c).__name__ == 'ChannelsLast' for c in plain.cbs)
    plain.model.load_state_dict(default.model.state_dict())                # the same numbers, in the default layout
    assert not plain.model[0][0].weight.is_contiguous(memory_format=torch.channels_last)
    xb, _ = dls.valid.one_batch()
    default.model.eval(); plain.model.eval()
    with torch.no_grad(): a, b = default.model(xb), plain.model(xb)
    torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4 * float(b.abs().max()))


def test_the_first_learner_after_set_seed_is_the_same_as_the_next(boats, tmp_path):
    "Loading the packaged weights the first time must not use up random numbers: with one seed, the first learner of a process gets the head the next one gets."
    import subprocess, sys
    from conftest import smoke_env
    path, _ = boats
    code = f"""
import torch
from fastai.vision.all import set_seed
from boatclf.core import get_settings
from boatclf.datablock import boat_dls
from boatclf.train import boat_learner, efficientnet_lite0
s = get_settings('smoke')
heads = []
for _ in range(2):
    set_seed(1)
    heads.append(boat_learner(boat_dls({str(path)!r}, s), efficientnet_lite0).model[1][-1].weight.detach().clone())
print(torch.equal(*heads))
"""
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, env=smoke_env(tmp_path/'home'), timeout=300)
    assert r.stdout.strip().splitlines()[-1:] == ['True'], r.stdout + r.stderr

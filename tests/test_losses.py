"""boatclf.losses against PyTorch: every function, every reduction, float32 and float64, random and extreme (±1e4) logits."""
import pytest, torch
import torch.nn.functional as F
from fastai.metrics import accuracy_multi as fastai_accuracy_multi

from boatclf import losses as L

DTYPES = [torch.float32, torch.float64]
REDUCTIONS = ['mean', 'sum', 'none']
SHAPES = [(1, 3), (8, 3), (4, 10), (2, 2)]         # batch x classes: batch 1, several classes
BCE_SHAPES = [(1, 1), (8, 1), (5, 3), (3, 4, 2)]   # 1 class, several, and an extra dimension


def _logits(shape, dtype, extreme, seed=0):
    "Random normal logits; with `extreme`, about a third of them replaced by +1e4 or -1e4."
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(shape, generator=g, dtype=dtype) * 3
    if extreme:
        mask = torch.rand(shape, generator=g) < 1/3
        mask.view(-1)[0] = True                     # at least one extreme value in every case
        sign = torch.where(torch.rand(shape, generator=g) < 0.5, -1.0, 1.0).to(dtype)
        x = torch.where(mask, sign * 1e4, x)
    return x


def _close(ours, theirs):
    "Same values as PyTorch (relative tolerance of the dtype; losses near 2e4 keep ~7 digits in float32), all finite."
    assert ours.dtype == theirs.dtype and ours.shape == theirs.shape, (ours.dtype, theirs.dtype, ours.shape, theirs.shape)
    assert torch.isfinite(ours).all(), ours
    torch.testing.assert_close(ours, theirs, rtol=1e-5 if ours.dtype == torch.float32 else 1e-12, atol=1e-6 if ours.dtype == torch.float32 else 1e-12)


@pytest.mark.parametrize('extreme', [False, True])
@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('shape', SHAPES)
def test_softmax_family(shape, dtype, extreme):
    x = _logits(shape, dtype, extreme)
    for dim in (-1, 0):
        _close(L.softmax(x, dim), torch.softmax(x, dim))
        _close(L.log_softmax(x, dim), F.log_softmax(x, dim))
        _close(L.logsumexp(x, dim), torch.logsumexp(x, dim))
    _close(L.sigmoid(x), torch.sigmoid(x))
    for ours_f, theirs_f in [(L.sigmoid, torch.sigmoid), (L.log_softmax, lambda t: F.log_softmax(t, -1))]:   # gradients finite and equal too
        ours, theirs = x.clone().requires_grad_(), x.clone().requires_grad_()
        (ours_f(ours) * torch.linspace(-1, 1, ours.numel(), dtype=dtype).view(shape)).sum().backward()
        (theirs_f(theirs) * torch.linspace(-1, 1, theirs.numel(), dtype=dtype).view(shape)).sum().backward()
        _close(ours.grad, theirs.grad)


@pytest.mark.parametrize('reduction', REDUCTIONS)
@pytest.mark.parametrize('extreme', [False, True])
@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('shape', SHAPES)
def test_cross_entropy_and_nll(shape, dtype, extreme, reduction):
    x = _logits(shape, dtype, extreme)
    targ = torch.randint(0, shape[1], (shape[0],), generator=torch.Generator().manual_seed(1))
    _close(L.nll_loss(F.log_softmax(x, 1), targ, reduction=reduction), F.nll_loss(F.log_softmax(x, 1), targ, reduction=reduction))
    _close(L.cross_entropy(x, targ, reduction=reduction), F.cross_entropy(x, targ, reduction=reduction))
    # and the gradient training uses: the same as PyTorch's, finite, at extreme logits too
    ours, theirs = x.clone().requires_grad_(), x.clone().requires_grad_()
    L.cross_entropy(ours, targ, reduction=reduction).sum().backward()
    F.cross_entropy(theirs, targ, reduction=reduction).sum().backward()
    _close(ours.grad, theirs.grad)


@pytest.mark.parametrize('reduction', REDUCTIONS)
@pytest.mark.parametrize('extreme', [False, True])
@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('shape', BCE_SHAPES)
def test_binary_cross_entropy_with_logits(shape, dtype, extreme, reduction):
    x = _logits(shape, dtype, extreme)
    t = (torch.rand(shape, generator=torch.Generator().manual_seed(2)) < 0.5).to(dtype)
    _close(L.binary_cross_entropy_with_logits(x, t, reduction=reduction), F.binary_cross_entropy_with_logits(x, t, reduction=reduction))
    ours, theirs = x.clone().requires_grad_(), x.clone().requires_grad_()
    L.binary_cross_entropy_with_logits(ours, t, reduction=reduction).sum().backward()
    F.binary_cross_entropy_with_logits(theirs, t, reduction=reduction).sum().backward()
    _close(ours.grad, theirs.grad)


@pytest.mark.parametrize('thresh', [0.1, 0.5, 0.9])
@pytest.mark.parametrize('extreme', [False, True])
@pytest.mark.parametrize('dtype', DTYPES)
@pytest.mark.parametrize('shape', BCE_SHAPES)
def test_accuracy_multi(shape, dtype, extreme, thresh):
    x = _logits(shape, dtype, extreme)
    t = (torch.rand(shape, generator=torch.Generator().manual_seed(3)) < 0.5).to(dtype)
    assert L.accuracy_multi(x, t, thresh) == fastai_accuracy_multi(x, t, thresh)
    p = torch.sigmoid(x)
    assert L.accuracy_multi(p, t, thresh, sigmoid=False) == fastai_accuracy_multi(p, t, thresh, sigmoid=False)


def test_known_values():
    "A few values worked out by hand, independent of PyTorch."
    torch.testing.assert_close(L.softmax(torch.tensor([0., 0.])), torch.tensor([0.5, 0.5]))
    torch.testing.assert_close(L.cross_entropy(torch.tensor([[1e4, -1e4]]), torch.tensor([1])), torch.tensor(2e4))
    torch.testing.assert_close(L.binary_cross_entropy_with_logits(torch.tensor([0.]), torch.tensor([1.])), torch.log(torch.tensor(2.)))
    torch.testing.assert_close(L.sigmoid(torch.tensor([-1e4, 0., 1e4])), torch.tensor([0., 0.5, 1.]))


def test_bad_arguments_are_named():
    x, t = torch.zeros(2, 3), torch.tensor([0, 1])
    for f, args in [(L.nll_loss, (x, t)), (L.cross_entropy, (x, t)), (L.binary_cross_entropy_with_logits, (x, x))]:
        with pytest.raises(ValueError, match="'mean', 'sum' or 'none'"): f(*args, reduction='avg')
    with pytest.raises(ValueError, match='same shape'): L.accuracy_multi(x, x[:1])


# --- "no boat I know": answers, thresholds, scores, calibration (03_losses, Steps 12-13) ---

def _calibrated(n=3000, c=3, seed=1, scale=2.0):
    "Logits, and labels drawn from their softmax: a perfectly calibrated model (T = 1)."
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, c, generator=g, dtype=torch.float64) * scale
    return logits, torch.multinomial(torch.softmax(logits, -1), 1, generator=g).flatten(), g


@pytest.mark.parametrize('T', [0.3, 1.0, 4.0])
def test_fit_temperature_finds_the_temperature_that_was_applied(T):
    logits, labels, g = _calibrated()
    assert abs(L.fit_temperature(logits * T, labels) - T) <= 0.12 * T
    onehot = torch.bernoulli(torch.sigmoid(logits), generator=g)   # each class its own yes/no, calibrated
    assert abs(L.fit_temperature(logits * T, onehot, multi_label=True) - T) <= 0.12 * T


def test_fit_temperature_stays_in_bounds_and_survives_bad_logits():
    logits = torch.tensor([[2., -2.], [-2., 2.]] * 10)                  # always right: the loss falls as T -> 0
    assert 0.05 <= L.fit_temperature(logits, torch.tensor([0, 1] * 10)) < 0.5   # (until the loss is too flat to measure)
    assert L.fit_temperature(logits, torch.tensor([1, 0] * 10)) == 20.0  # always wrong: T -> infinity, kept at 20
    for bad in (torch.full((4, 3), float('nan')), torch.full((4, 3), float('inf')), torch.zeros(0, 3)):
        t = L.fit_temperature(bad, torch.zeros(len(bad), dtype=torch.long))
        assert 0.05 <= t <= 20, t


def test_answers_and_targets_agree_with_the_confusion_matrix_labels():
    from boatclf.interpret import predicted_labels, true_labels
    g = torch.Generator().manual_seed(3)
    probs = torch.rand(50, 3, generator=g)
    onehot = (torch.rand(50, 3, generator=g) < 0.3).float()
    onehot[onehot.sum(1) > 1] = 0                                          # one class or none
    vocab = ['canoe', 'kayak', 'sailboat']
    for th in (0.2, 0.5, 0.9):
        assert predicted_labels(probs, vocab, True, th) == [vocab[i] if i >= 0 else 'none' for i in L.answers(probs, th).tolist()]
    assert predicted_labels(probs, vocab, False, 0.99) == [vocab[i] for i in probs.argmax(1)]   # single-label: never none
    assert true_labels(onehot, vocab) == [vocab[i] if i >= 0 else 'none' for i in L.as_index(onehot).tolist()]
    assert (L.as_index(onehot) == -1).sum() == (onehot.sum(1) == 0).sum()


def test_pick_threshold_is_the_best_and_the_middle_of_ties():
    g = torch.Generator().manual_seed(4)
    probs = torch.rand(200, 3, generator=g)
    targs = (torch.rand(200, 3, generator=g) < 0.25).float()
    th = L.pick_threshold(probs, targs)
    curve = L.threshold_curve(probs, targs)
    assert L.answer_accuracy(probs, targs, th) == max(curve)
    boats_only = torch.eye(3)[torch.randint(0, 3, (30,), generator=g)]
    # with no photo of nothing to reject, every threshold up to the lowest top probability is best: the middle of those
    sure = torch.where(boats_only > 0, 0.9, 0.1)
    assert L.pick_threshold(sure, boats_only) == 0.46


@pytest.mark.parametrize('keep', [0.5, 0.9, 0.95, 0.99])
def test_accept_threshold_keeps_what_it_promises(keep):
    scores = torch.randn(1000, generator=torch.Generator().manual_seed(5))
    kept = float((scores >= L.accept_threshold(scores, keep)).float().mean())
    assert keep - 1e-6 <= kept <= keep + 0.002


@pytest.mark.parametrize('n_bins', [5, 10, 15])
@pytest.mark.parametrize('act', ['softmax', 'sigmoid'])
def test_our_expected_calibration_error_is_torchmetrics(n_bins, act):
    logits, labels, _ = _calibrated(n=800, scale=3.0)
    probs = torch.softmax(logits * 2, -1) if act == 'softmax' else torch.sigmoid(logits * 2)
    targs = torch.cat([labels, torch.full((50,), -1)])            # photos of nothing do not count
    probs = torch.cat([probs, torch.rand(50, 3, dtype=probs.dtype)])
    conf, acc, count, ece = L.reliability(probs, targs, n_bins)
    assert count.sum() == 800
    assert abs(ece - L.calibration_error(probs, targs, n_bins)) < 1e-5
    calibrated = L.calibration_error(torch.softmax(logits, -1), labels)
    assert calibrated < 0.05 < L.calibration_error(torch.softmax(logits * 3, -1), labels)   # it can tell the two apart


def test_calibrate_stores_a_threshold_only_for_multi_label():
    logits, labels, g = _calibrated(n=300)
    ce = L.calibrate(logits, labels, multi_label=False)
    assert ce['threshold'] is None and 0.05 <= ce['temperature'] <= 20
    onehot = torch.nn.functional.one_hot(labels, 3).double()
    onehot[:60] = 0                                                     # 60 photos of nothing
    logits[:60] -= 4                                                    # which the model scores low
    bce = L.calibrate(logits, onehot, multi_label=True)
    assert 0 < bce['threshold'] < 1
    assert bce['threshold'] == L.pick_threshold(torch.sigmoid(logits / bce['temperature']), onehot)


def test_the_bundled_photos_are_there():
    assert [f.name for f in L.non_boat_photos()] == ['grace_hopper.jpg', 'china.jpg', 'flower.jpg']

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

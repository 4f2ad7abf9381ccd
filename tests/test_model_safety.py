"""Models that cannot run code: model.safetensors + model.json rebuild the trained model exactly, a pickle is never
opened unless asked, and every hostile model file gets one line and exit status 2; photos are read as `clean` converts them."""
import hashlib, io, json, os, shutil, subprocess, sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import smoke_env, assert_user_error

BOATCLF = [str(Path(sys.executable).parent / 'boatclf')]


@pytest.fixture(scope='module')
def models(tmp_path_factory):
    "A small cross-entropy and a binary cross-entropy model trained in this process; the learners are kept to compare with."
    torch.set_num_threads(1)   # pytest-xdist runs two workers on two cores
    from boatclf.core import get_settings
    from boatclf.synth import make_synthetic_boats
    from boatclf.datablock import boat_dls
    from boatclf.train import boat_learner, efficientnet_lite0, model_info, save_model
    from fastai.vision.all import set_seed
    root = tmp_path_factory.mktemp('models')
    s = get_settings('smoke', home=root/'home')
    boats = make_synthetic_boats(root/'boats', per_class=8, seed=5, negatives=True, long_side=(200, 320), progress=False, n_workers=1)
    learners = {}
    for loss in ('ce', 'bce'):
        set_seed(5)   # the same model every run, whichever worker trains it
        learn = boat_learner(boat_dls(boats, s, multi_label=(loss == 'bce')), efficientnet_lite0, loss)
        with learn.no_bar(), learn.no_logging(): learn.fine_tune(1, base_lr=1e-2, freeze_epochs=0)   # trained: weights and BatchNorm statistics move
        learn.model_info = save_model(learn, root/loss, model_info(learn, 'efficientnet_lite0', loss))
        learn.export((root/loss/'model.pkl').absolute())
        learners[loss] = learn
    return root, boats, learners


# ---- (a) the rebuilt model is the trained model ----

@pytest.mark.parametrize('loss', ['ce', 'bce'])
def test_rebuilt_model_gives_the_trained_learners_probabilities(models, loss):
    from boatclf.interpret import get_probs, load_model, SafeModel
    root, boats, learners = models
    learn = learners[loss]
    files = sorted(boats.rglob('*.jpg'))    # every photo, `none/` included
    expected, _ = get_probs(learn, learn.dls.test_dl(files, num_workers=0))   # fastai's own pipeline: the reference
    model = load_model(root/loss)
    assert isinstance(model, SafeModel) and model.multi_label == (loss == 'bce') and model.vocab == list(learn.dls.vocab)
    assert model.threshold == (0.5 if loss == 'bce' else None)
    got = model.probs(files, bs=learn.dls.valid.bs)   # the same batches: CPU kernels round differently for other batch sizes (~1e-6)
    assert got.shape == expected.shape == (len(files), 3)
    assert (got - expected).abs().max().item() <= 1e-4   # batch norms folded into the convolutions: rounded a little differently
    assert expected.std(0).max() > 0.01, 'the model must tell the photos apart, or this comparison proves little'


def test_trusted_pickle_gives_the_same_probabilities_and_fastai_warns(models):
    from boatclf.interpret import load_model, PickledModel
    root, boats, learners = models
    files = sorted(boats.rglob('*.jpg'))[:12]
    with pytest.warns(UserWarning, match='insecure pickle'):   # fastai's own warning, not hidden
        trusted = load_model(root/'ce'/'model.pkl', trust_pickle=True)
    assert isinstance(trusted, PickledModel) and trusted.multi_label is False
    assert (trusted.probs(files) - load_model(root/'ce').probs(files)).abs().max().item() <= 1e-4


def test_a_folder_with_both_files_loads_the_safe_pair_even_when_pickles_are_trusted(models):
    from boatclf.interpret import load_model, SafeModel
    assert isinstance(load_model(models[0]/'ce', trust_pickle=True), SafeModel)


# ---- (b) a pickle with a payload is never opened unasked ----

class Payload:
    "Unpickling this creates the file `marker` (an attack would run any code instead)."
    def __init__(self, marker): self.marker = str(marker)
    def __reduce__(self): return (open, (self.marker, 'w'))


@pytest.fixture
def evil(tmp_path):
    "A folder holding only a model.pkl whose payload writes `marker`, and a photo to ask about."
    (tmp_path/'evil').mkdir()
    torch.save(Payload(tmp_path/'marker'), tmp_path/'evil'/'model.pkl')
    Image.new('RGB', (80, 64), 'navy').save(tmp_path/'boat.jpg')
    (tmp_path/'data'/'canoe').mkdir(parents=True); Image.new('RGB', (80, 64), 'red').save(tmp_path/'data'/'canoe'/'1.jpg')
    return tmp_path


def test_pickle_payload_never_runs_without_the_flag_real_command(evil):
    for args in (['predict', evil/'evil'/'model.pkl', evil/'boat.jpg'], ['evaluate', evil/'evil', evil/'data']):
        r = subprocess.run(BOATCLF + [str(a) for a in args], env=smoke_env(evil/'home'), capture_output=True, text=True, timeout=120)
        assert_user_error(r, 'is a pickle', 'runs any code', '--trust-pickle')
        assert not (evil/'marker').exists(), 'the payload ran'


def test_pickle_payload_never_runs_without_the_flag(evil, cli):
    from boatclf.interpret import load_model
    from boatclf.core import BoatclfError
    for args in (['predict', evil/'evil', evil/'boat.jpg'], ['evaluate', evil/'evil'/'model.pkl', evil/'data']):
        assert_user_error(cli(*args), 'is a pickle')
    for renamed in ('model.pt', 'model.json', 'model.safetensors'):   # a pickle under another name is not opened either
        shutil.copy(evil/'evil'/'model.pkl', evil/renamed)
        with pytest.raises(BoatclfError): load_model(evil/renamed)
    assert not (evil/'marker').exists(), 'the payload ran'


def test_the_payload_is_real_it_runs_when_trusted(evil):
    "The control: with --trust-pickle the same file does run its code, so the tests above could fail."
    r = subprocess.run(BOATCLF + ['predict', str(evil/'evil'/'model.pkl'), str(evil/'boat.jpg'), '--trust-pickle'],
                       env=smoke_env(evil/'home'), capture_output=True, text=True, timeout=120)
    assert (evil/'marker').exists()
    assert r.returncode == 2 and 'not a boatclf model' in r.stderr and 'insecure pickle' in r.stderr, r.stderr


# ---- (c) hostile model.json and weights ----

def _edit_json(**changes):
    def edit(d):
        info = json.loads((d/'model.json').read_text()); info.update(changes)
        (d/'model.json').write_text(json.dumps(info))
    return edit

def _set_weights(data:bytes, fix_sha:bool):
    def edit(d):
        (d/'model.safetensors').write_bytes(data if isinstance(data, bytes) else data(d))
        if fix_sha: _edit_json(weights_sha256=hashlib.sha256((d/'model.safetensors').read_bytes()).hexdigest())(d)
    return edit

def _truncated(d): return (d/'model.safetensors').read_bytes()[:100_000]

def _renamed_tensor(d):
    from safetensors.torch import load, save
    w = load((d/'model.safetensors').read_bytes())
    w['extra.weight'] = w.pop(next(iter(w)))
    return save(w)

def _nan_weight(d):
    from safetensors.torch import load, save
    w = load((d/'model.safetensors').read_bytes())
    k = next(k for k, t in w.items() if t.is_floating_point())
    w[k] = w[k].clone(); w[k].view(-1)[0] = float('nan')
    return save(w)

def _weights_edited(change):
    "New weights: `change(w)` applied to the weights dict (safetensors: numbers only)."
    def data(d):
        from safetensors.torch import load, save
        w = load((d/'model.safetensors').read_bytes())
        change(w)
        return save(w)
    return data

def _head(w): return next(k for k, t in w.items() if t.ndim == 2 and t.shape[0] == 3)   # the last layer: 3 classes x features

def _float8(w): k = next(k for k, t in w.items() if t.is_floating_point()); w[k] = w[k].to(torch.float8_e4m3fn)
def _float64_too_big(w): k = _head(w); w[k] = w[k].double(); w[k][0, 0] = 1e300   # a float64, infinity once float32
def _huge_head(w): w[_head(w)][:] = 3e38                                              # finite, but every output overflows
def _two_huge_outputs(w):
    "Outputs (3e38, 3e38, 0) for every photo: the head's last batch norm gives ones, and two rows of the last layer take one of them."
    w['1.6.weight'][:] = 0; w['1.6.bias'][:] = 1; k = _head(w); w[k][:] = 0; w[k][:2, 0] = 3e38

def _huge_head_and_tiny_temperature(d):
    "Finite weights and outputs, and a temperature in range, that together make NaN probabilities (softmax of two infinities)."
    _set_weights(_weights_edited(_two_huge_outputs), fix_sha=True)(d)
    _edit_json(temperature=0.01)(d)

HOSTILE = {
    'unknown arch':           (_edit_json(arch='os.system'), "arch is 'os.system'"),
    'arch as a dotted path':  (_edit_json(arch='torch.hub.load'), 'arch is'),
    'classes not a list':     (_edit_json(classes='canoe'), "classes is 'canoe'"),
    'a class that is a path': (_edit_json(classes=['canoe', '../../etc', 'kayak']), 'classes is'),
    'one class':              (_edit_json(classes=['canoe']), 'classes is'),
    'head of another size':   (_edit_json(classes=['canoe', 'kayak']), 'does not fit a efficientnet_lite0 with 2 classes'),
    'size 10**9':             (_edit_json(size=10**9), 'size is 1000000000'),
    'size 10**400':           (_edit_json(size=10**400), 'size is'),
    'size as text':           (_edit_json(size='64'), "size is '64'"),
    'presize under size':     (_edit_json(presize=8), 'presize is 8'),
    'NaN in the stats':       (_edit_json(mean=[float('nan'), 0.5, 0.5]), 'mean is [nan'),
    'zero std':               (_edit_json(std=[0, 0, 0]), 'std is'),
    'format from the future': (_edit_json(format_version=2), 'format_version is 2'),
    'multi_label guessed':    (_edit_json(multi_label=True), 'multi_label is True'),
    'threshold for ce':       (_edit_json(threshold=0.5), 'threshold is 0.5'),
    'temperature 0':          (_edit_json(temperature=0), 'temperature is 0'),
    'crop instead of squish': (_edit_json(resize_method='crop'), "resize_method is 'crop'"),
    'wrong sha256':           (_edit_json(weights_sha256='0' * 64), 'sha256 differs'),
    'sha256 not hex':         (_edit_json(weights_sha256='x' * 64), 'weights_sha256 is'),
    'truncated weights':      (_set_weights(_truncated, fix_sha=False), 'sha256 differs'),
    'truncated weights, sha updated': (_set_weights(_truncated, fix_sha=True), 'not a valid safetensors file'),
    'a tensor renamed':       (_set_weights(_renamed_tensor, fix_sha=True), 'does not fit'),
    'a NaN in the weights':   (_set_weights(_nan_weight, fix_sha=True), 'NaN or infinity'),
    'a float8 tensor':        (_set_weights(_weights_edited(_float8), fix_sha=True), 'stored as float8_e4m3fn'),
    'a float64 too big for float32': (_set_weights(_weights_edited(_float64_too_big), fix_sha=True), 'NaN or infinity'),
    'finite but huge weights': (_set_weights(_weights_edited(_huge_head), fix_sha=True), 'NaN or infinity'),
    'huge weight, temperature 0.01': (_huge_head_and_tiny_temperature, 'NaN or infinity'),
    'weights missing':        (lambda d: (d/'model.safetensors').unlink(), 'model.safetensors does not exist'),
    'weights are /dev/zero':  (lambda d: ((d/'model.safetensors').unlink(), (d/'model.safetensors').symlink_to('/dev/zero')), 'not a regular file'),
    'not JSON':               (lambda d: (d/'model.json').write_text('arch: os.system\n'), 'not valid JSON'),
    'not UTF-8':              (lambda d: (d/'model.json').write_bytes(b'\xff\xfe{}'), 'not valid JSON'),
    'a JSON list':            (lambda d: (d/'model.json').write_text('[1, 2]'), 'holds list'),
    'nested 100000 deep':     (lambda d: (d/'model.json').write_text('[' * 100_000 + ']' * 100_000), 'not valid JSON'),
    'a 2 MB model.json':      (lambda d: (d/'model.json').write_text(' ' * 2_000_000 + '{}'), 'too big'),
    'model.json a pipe':      (lambda d: ((d/'model.json').unlink(), os.mkfifo(d/'model.json')), 'not a regular file'),
}


@pytest.mark.parametrize('case', list(HOSTILE))
def test_hostile_model_files_get_one_line(models, tmp_path, cli, case):
    edit, words = HOSTILE[case]
    model = tmp_path/'model'
    model.mkdir()
    for f in ('model.json', 'model.safetensors'): shutil.copy(models[0]/'ce'/f, model/f)
    edit(model)
    img = sorted(models[1].rglob('*.jpg'))[0]
    assert_user_error(cli('predict', model, img), words)
    assert_user_error(cli('evaluate', model/'model.json', models[1]), words)


def test_probabilities_that_are_not_numbers_are_refused_not_returned(models):
    "However a model's outputs overflow (here a temperature far below what model.json may hold), no NaN comes out as an answer."
    from boatclf.core import BoatclfError
    from boatclf.interpret import load_model, predict_images, evaluate_folder
    model = load_model(models[0]/'ce')
    files = sorted(models[1].rglob('*.jpg'))[:3]
    assert torch.isfinite(model.probs(files)).all()   # the control: the same model, its own temperature
    model.info = dict(model.info, temperature=1e-40)
    for call in (lambda: model.probs(files), lambda: predict_images(model, files), lambda: evaluate_folder(model, models[1])):
        with pytest.raises(BoatclfError, match='NaN or infinity'): call()


def test_a_network_whose_outputs_overflow_is_refused_when_folded():
    from torch import nn
    from boatclf.core import BoatclfError
    from boatclf.interpret import fold_batchnorm
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)).eval()
    assert fold_batchnorm(net) is not net   # the control: folded
    with torch.no_grad(): net[0].weight.fill_(3e38)
    with pytest.raises(BoatclfError, match='NaN or infinity'): fold_batchnorm(net)


def test_hostile_model_real_command(models, tmp_path):
    model = tmp_path/'model'
    shutil.copytree(models[0]/'ce', model)
    _edit_json(arch='os.system')(model)
    r = subprocess.run(BOATCLF + ['predict', str(model), str(sorted(models[1].rglob('*.jpg'))[0])],
                       env=smoke_env(tmp_path/'home'), capture_output=True, text=True, timeout=120)
    assert_user_error(r, "arch is 'os.system'")


# ---- item 7: a photo is read the way `clean` converts it ----

def _encode(im, fmt, **kw):
    buf = io.BytesIO(); im.save(buf, fmt, **kw); return buf.getvalue()

def _sixteen_bit(im):
    g = np.asarray(im.convert('L'))
    return _encode(Image.fromarray(g.astype(np.uint16) * 257), 'PNG'), _encode(Image.fromarray(g).convert('RGB'), 'PNG')

def _cmyk(im):
    "A CMYK JPEG (print shops make them), against its own pixels converted to RGB and stored losslessly."
    cmyk = _encode(im.convert('CMYK'), 'JPEG', quality=95)
    return cmyk, _encode(Image.open(io.BytesIO(cmyk)).convert('RGB'), 'PNG')

def _transparent(im):
    "A boat cut out on a transparent background (black underneath), against the same boat on white."
    a = np.asarray(im).copy(); mask = np.zeros(a.shape[:2], np.uint8); h, w = mask.shape
    mask[h // 4: 3 * h // 4, w // 4: 3 * w // 4] = 255
    rgba = Image.fromarray(np.dstack([a * (mask[..., None] > 0), mask]).astype(np.uint8), 'RGBA')
    white = Image.alpha_composite(Image.new('RGBA', rgba.size, (255, 255, 255, 255)), rgba).convert('RGB')
    return _encode(rgba, 'PNG'), _encode(white, 'PNG')

def _exif_rotated(im):
    "The picture stored on its side, with an EXIF tag that says to turn it upright (as phones do)."
    exif = Image.Exif(); exif[0x0112] = 6        # 6: turn 90 degrees clockwise to display
    return _encode(im.transpose(Image.Transpose.ROTATE_90), 'PNG', exif=exif), _encode(im, 'PNG')

def _palette(im):
    "A palette image whose sky colour is transparent, against the same picture on white."
    p = im.convert('P', palette=Image.Palette.ADAPTIVE, colors=64)
    clear = _encode(p, 'PNG', transparency=p.getpixel((0, 0)))
    white = Image.alpha_composite(Image.new('RGBA', p.size, (255, 255, 255, 255)), Image.open(io.BytesIO(clear)).convert('RGBA'))
    return clear, _encode(white.convert('RGB'), 'PNG')


@pytest.mark.parametrize('make, tol', [(_sixteen_bit, .01), (_cmyk, 1e-5), (_transparent, .01), (_exif_rotated, .01), (_palette, .01)],
                         ids=['16-bit', 'cmyk', 'transparent', 'exif-rotated', 'palette'])
def test_photo_is_seen_as_clean_converts_it(models, tmp_path, make, tol):
    "Each odd photo gets the same answer as its plain 8-bit RGB version."

    from boatclf.interpret import load_model
    model = load_model(models[0]/'ce')
    files = []
    for i, src in enumerate(sorted((models[1]/'kayak').glob('*.jpg'))[:2] + sorted((models[1]/'sailboat').glob('*.jpg'))[:1]):
        odd, plain = make(Image.open(src).convert('RGB'))
        files += [tmp_path/f'{i}-odd.img', tmp_path/f'{i}-plain.img']
        files[-2].write_bytes(odd); files[-1].write_bytes(plain)
    p = model.probs(files)
    assert (p[0::2] - p[1::2]).abs().max().item() < tol
    assert p[0::2].argmax(1).tolist() == p[1::2].argmax(1).tolist()


# ---- (e) the rebuilt network is folded for prediction, for every backbone boatclf offers ----

@pytest.mark.parametrize('arch', ['resnet18', 'efficientnet_lite0', 'efficientnet_lite1', 'efficientnet_lite2'])
def test_every_backbone_folds_all_its_batch_norms_and_answers_the_same(arch):
    import torch
    from torch import nn
    from fastai.vision.all import create_vision_model
    from boatclf.train import ARCHS
    from boatclf.interpret import fold_batchnorm
    torch.manual_seed(0)
    net = create_vision_model(ARCHS[arch], 3, pretrained=False).eval()
    with torch.no_grad():   # statistics as training leaves them, not the identity a fresh layer holds (which would hide a wrong fold)
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-.5, .5); m.running_var.uniform_(.5, 2); m.weight.uniform_(.5, 1.5); m.bias.uniform_(-.5, .5)
    folded = fold_batchnorm(net, 64)
    assert folded is not net and not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules()), f'{arch}: some batch norms were not folded'
    assert sum(isinstance(m, nn.BatchNorm2d) for m in net.modules()) > 10, 'the original network is left as it was'
    x = torch.randn(3, 3, 96, 96)
    with torch.inference_mode(): want, got = net(x), folded(x)
    assert torch.allclose(got, want, rtol=1e-3, atol=1e-4 * float(want.abs().max()))

"""The web app (06c_app) as a visitor meets it: `boatclf app` in its own process, the page in headless Chromium,
the API through `gradio_client`; bad input; the folder for a Hugging Face Space."""
import json, fcntl, os, shutil, signal, socket, subprocess, sys, time
from pathlib import Path

import pytest

from boatclf.parallel import free_port   # a port on 127.0.0.1 that nothing listens on
from conftest import ROOT, assert_user_error, smoke_env, chromium, need_browser as _need_browser

pytest.importorskip('gradio', reason='the web app needs its extra: pip install -e ".[app]" (make test installs it with [dev])')
BOATCLF = str(Path(sys.executable).parent / 'boatclf')
SCREENSHOT = ROOT / 'images' / 'app.png'


@pytest.fixture(scope='module')
def bce_model(tmp_path_factory):
    """A smoke-mode binary cross-entropy model, trained once per run for all workers (xdist workers share the base temp
    folder's parent; without xdist that parent would outlive the run, and a model of older code would be reused)."""
    shared = tmp_path_factory.getbasetemp()
    if os.environ.get('PYTEST_XDIST_WORKER'): shared = shared.parent
    out = shared / 'app-bce-model'
    with open(shared / 'app-bce-model.lock', 'w') as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out / 'model.json').exists():
            r = subprocess.run([BOATCLF, 'train', '--synthetic', '--loss', 'bce', '--out', str(out), '--overwrite'],
                               env=smoke_env(shared / 'app-home'), capture_output=True, text=True, timeout=600)
            assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return out


@pytest.fixture
def server(bce_model, tmp_path):
    "`boatclf app MODEL` on a free port, in its own process: yields (url, log file); stopped, whatever happens."
    log = tmp_path / 'server.log'
    port = free_port()
    with open(log, 'w') as f:
        p = subprocess.Popen([BOATCLF, 'app', str(bce_model), '--port', str(port)], stdout=f, stderr=subprocess.STDOUT,
                             env=smoke_env(tmp_path / 'home', GRADIO_TEMP_DIR=tmp_path / 'gradio'), start_new_session=True)
    try:
        t0 = time.time()
        while 'serving http' not in log.read_text():
            assert p.poll() is None and time.time() - t0 < 180, f'the app did not start:\n{log.read_text()[-3000:]}'
            time.sleep(0.2)
        url = log.read_text().split('serving ')[1].split()[0]
        assert url == f'http://127.0.0.1:{port}/', url
        yield url, log
    finally:
        p.send_signal(signal.SIGINT)            # Ctrl-C, as a person stops it
        try: p.wait(15)
        except subprocess.TimeoutExpired: os.killpg(p.pid, signal.SIGKILL); p.wait()


@pytest.fixture(scope='module')
def photos(bce_model, tmp_path_factory):
    "A drawn boat the model ranks right, with a threshold between its two best classes; a real photo with no boat; a text file named .jpg."
    from boatclf.interpret import load_model, predict_images
    from boatclf.losses import non_boat_photos
    from boatclf.synth import make_synthetic_boats
    tmp = tmp_path_factory.mktemp('photos')
    model = load_model(bce_model)
    drawn = make_synthetic_boats(tmp / 'drawn', per_class=5, seed=7)
    boat = None
    for r in predict_images(model, [drawn]):
        truth = Path(r['image']).parent.name
        (best, p1), (_, p2) = sorted(r['probs'].items(), key=lambda kv: -kv[1])[:2]
        thr = round((p1 + p2) / 2, 2)
        if best == truth and p2 < thr <= p1 and 0.01 <= thr <= 0.99 and predict_images(model, [r['image']], thr)[0]['labels'] == [truth]:
            boat = (Path(r['image']), truth, thr); break
    assert boat, 'the smoke model ranks no drawing right: train it longer'
    hopper = non_boat_photos()[0]
    p = predict_images(model, [hopper])[0]
    # this smoke model may name a boat in Grace Hopper; then the slider goes just above its best probability, where no class counts
    none_thr = model.threshold if not p['labels'] else min(0.99, int(max(p['probs'].values()) * 100 + 2) / 100)
    assert predict_images(model, [hopper], none_thr)[0]['labels'] == [], (p, none_thr)
    text = tmp / 'notes.jpg'
    text.write_text('not a photo')
    return dict(boat=boat, hopper=(hopper, none_thr), text=text, threshold=model.threshold)


@pytest.fixture
def need_browser(): _need_browser('the browser test of the app')


def test_app_in_a_browser(need_browser, server, photos, tmp_path):
    "Upload a drawn boat, a real photo with no boat and a text file; read each answer on the page, as a visitor would."
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait
    url, log = server
    d = chromium()
    try:
        d.get(url)
        wait = WebDriverWait(d, 60)
        def button(text): return next(b for b in d.find_elements(By.TAG_NAME, 'button') if b.text.strip() == text)
        def ask(photo, threshold):
            wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '#photo input[type=file]'))
            d.find_element(By.CSS_SELECTOR, '#photo input[type=file]').send_keys(str(photo))
            box = d.find_element(By.CSS_SELECTOR, '#threshold input[type=number]')
            box.send_keys(Keys.CONTROL, 'a'); box.send_keys(f'{threshold}', Keys.TAB)
            wait.until(lambda d: d.find_element(By.CSS_SELECTOR, '#threshold input[type=number]').get_attribute('value') == f'{threshold}')
            button('Submit').click()
            said = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, '#answer textarea').get_attribute('value'))
            return said
        def clear():
            button('Clear').click()
            wait.until(lambda d: not d.find_element(By.CSS_SELECTOR, '#answer textarea').get_attribute('value'))

        boat, truth, thr = photos['boat']
        assert ask(boat, thr) == truth
        d.save_screenshot(str(SCREENSHOT if os.environ.get('BOATCLF_SCREENSHOT') or not SCREENSHOT.exists() else tmp_path / 'app.png'))
        clear()
        assert ask(*photos['hopper']) == 'no boat I know'
        clear()
        assert ask(photos['text'], photos['threshold']) == 'notes.jpg is not a photo I can read: give a JPEG, PNG or WebP photo.'
        body = d.find_element(By.TAG_NAME, 'body').text
        assert 'efficientnet_lite0' in body and 'validation error' in body, body[:2000]   # the model card's summary
        outside = d.execute_script("return performance.getEntriesByType('resource').map(e => e.name)"
                                   ".filter(n => !n.startsWith(arguments[0]) && !n.startsWith('data:') && !n.startsWith('blob:'))", url)
        assert outside == [], outside   # no fonts or scripts from anywhere else
    finally: d.quit()
    assert 'Traceback' not in log.read_text(), log.read_text()[-3000:]


def test_app_api(server, photos):
    "The same answers through Gradio's API client, which is how a script (or another app) would use it."
    from gradio_client import Client, handle_file
    url, log = server
    c = Client(url, verbose=False, download_files=False)
    boat, truth, thr = photos['boat']
    said, probs = c.predict(handle_file(str(boat)), thr, api_name='/predict')
    assert said == truth and probs['label'] == truth, (said, probs)
    assert sorted(x['label'] for x in probs['confidences']) == ['canoe', 'kayak', 'sailboat']
    assert c.predict(handle_file(str(photos['hopper'][0])), photos['hopper'][1], api_name='/predict')[0] == 'no boat I know'
    said, _ = c.predict(handle_file(str(photos['text'])), 0.5, api_name='/predict')
    assert said.endswith('is not a photo I can read: give a JPEG, PNG or WebP photo.'), said
    assert 'Traceback' not in log.read_text(), log.read_text()[-3000:]


def test_app_bad_input(cli, bce_model, tmp_path, monkeypatch):
    "A folder that is not a model, a port in use, a bad port, no Gradio: one line each, exit status 2, before any server starts."
    assert_user_error(cli('app', tmp_path), 'No model in')
    with socket.socket() as busy:
        busy.bind(('127.0.0.1', 0)); busy.listen()
        port = busy.getsockname()[1]
        assert_user_error(cli('app', bce_model, '--port', port), f'port {port} is in use')
    assert_user_error(cli('app', bce_model, '--port', 70000), 'from 1 to 65535')
    assert_user_error(cli('app', bce_model, '--export-space', tmp_path / 's', '--port', 8000), 'serves nothing')
    monkeypatch.setitem(sys.modules, 'gradio', None)   # as if the [app] extra were not installed
    assert_user_error(cli('app', bce_model, '--port', free_port()), 'pip install "boatclf[app]"')


def test_export_space(cli, bce_model, tmp_path):
    "The Space folder holds the app, pinned requirements, the model without its pickle, the examples; its app.py builds the app from the folder alone."
    space = tmp_path / 'space'
    r = cli('app', bce_model, '--export-space', space)
    assert r.returncode == 0, r.stderr
    assert {p.name for p in space.iterdir()} == {'app.py', 'requirements.txt', 'README.md', 'model', 'boatclf'}
    model_files = {p.name for p in (space / 'model').iterdir()}
    assert {'model.json', 'model.safetensors', 'metrics.json', 'model-card.md', 'examples'} <= model_files and 'model.pkl' not in model_files
    assert sorted(p.name for p in (space / 'model' / 'examples').iterdir()) == sorted(p.name for p in (bce_model / 'examples').iterdir())
    reqs = (space / 'requirements.txt').read_text().split()
    assert all('==' in r for r in reqs) and any(r.startswith('gradio==') for r in reqs), reqs
    readme = (space / 'README.md').read_text()
    assert readme.startswith('---\n') and 'sdk: gradio\n' in readme and 'app_file: app.py\n' in readme, readme[:500]
    where = str(bce_model.parent)   # the folder the model and its drawn boats live in on this computer (a path with a user name)
    assert where in (bce_model / 'metrics.json').read_text()            # the local metrics keep it: the notebooks find the data with it
    assert where not in (bce_model / 'model-card.md').read_text()        # the card travels with the model: no path in it either
    for f in ('model/metrics.json', 'model/model-card.md', 'README.md'):
        assert where not in (space / f).read_text(), f'{f} publishes a path of this computer'
    assert json.loads((space / 'model' / 'metrics.json').read_text())['data_path'] == 'synthetic-v2-seed42-n20-px300-800-neg'
    assert_user_error(cli('app', bce_model, '--export-space', space), 'is not an empty folder')
    check = ("import sys; sys.path.insert(0, '.'); import app, boatclf; "
             "print(type(app.demo).__name__, boatclf.__file__, [type(c).__name__ for c in app.demo.input_components])")
    r = subprocess.run([sys.executable, '-c', check], cwd=space, env=smoke_env(tmp_path / 'home'), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    kind, where, inputs = r.stdout.split(' ', 2)
    assert kind == 'Interface' and Path(where).parent == space / 'boatclf' and inputs.strip() == "['Image', 'Slider']", r.stdout


# ---- hostile model folders: what a Space gets must come from the model folder itself, and a bad file is never a crash ----

def copy_model(model, dst):
    "The files `boatclf train` wrote in `model` (no pickle), copied to a new folder `dst`, for a test to spoil."
    dst.mkdir(parents=True)
    for n in ('model.json', 'model.safetensors', 'metrics.json', 'model-card.md'): shutil.copyfile(model / n, dst / n)
    shutil.copytree(model / 'examples', dst / 'examples')
    return dst


def space_files(space):
    "Every file of a Space but boatclf's code, by its path in the Space: its bytes."
    return {p.relative_to(space).as_posix(): p.read_bytes() for p in space.rglob('*') if p.is_file() and 'boatclf' not in p.relative_to(space).parts}


def test_export_space_follows_no_link(cli, bce_model, tmp_path):
    "A linked examples/ folder, a linked folder or photo inside it: nothing from outside the model folder is published or served."
    private = tmp_path / 'private'
    private.mkdir()
    secret = next((bce_model / 'examples').iterdir()).read_bytes() + b'my private photo'
    (private / 'mine.jpg').write_bytes(secret)
    linked = copy_model(bce_model, tmp_path / 'linked')
    shutil.rmtree(linked / 'examples')
    (linked / 'examples').symlink_to(private)
    inside = copy_model(bce_model, tmp_path / 'inside')
    (inside / 'examples' / 'more').symlink_to(private)
    (inside / 'examples' / 'mine.jpg').symlink_to(private / 'mine.jpg')
    for model in (linked, inside):
        r = cli('app', model, '--export-space', tmp_path / f'space-{model.name}')
        assert r.returncode == 0, r.stderr
        assert 'not in the Space:' in r.stdout and 'link' in r.stdout, r.stdout
        assert secret not in space_files(tmp_path / f'space-{model.name}').values()
    from boatclf.app import app_examples
    from boatclf.interpret import load_model
    assert app_examples(linked, load_model(linked)) == []   # the app serves none of them either
    assert len(app_examples(inside, load_model(inside))) == len(list((bce_model / 'examples').iterdir()))


def test_export_space_linked_model_file(cli, bce_model, tmp_path):
    "A model.safetensors or model.json that is a link: one line that says to copy the file itself, and no Space with half a model."
    for name in ('model.safetensors', 'model.json'):
        model = copy_model(bce_model, tmp_path / name)
        (model / name).unlink()
        (model / name).symlink_to(bce_model / name)
        assert_user_error(cli('app', model, '--export-space', tmp_path / f'space-{name}'), f'{name} is a link', 'copy the file itself')
        assert not (tmp_path / f'space-{name}').exists()


def test_export_space_from_model_json(cli, bce_model, tmp_path):
    "The model.json of a folder (a path loading accepts) exports the whole model, not an empty one."
    r = cli('app', bce_model / 'model.json', '--export-space', tmp_path / 'space')
    assert r.returncode == 0, r.stderr
    got = space_files(tmp_path / 'space')
    assert got['model/model.safetensors'] == (bce_model / 'model.safetensors').read_bytes()
    assert got['model/model.json'] == (bce_model / 'model.json').read_bytes() and 'model/metrics.json' in got


def test_export_space_sub_folder_and_no_half_space(cli, bce_model, tmp_path, monkeypatch):
    "A sub-folder of examples/ goes with them; an export that fails half-way leaves no folder behind, so the retry works."
    import boatclf.app
    model = copy_model(bce_model, tmp_path / 'model')
    (model / 'examples' / 'more').mkdir()
    photo = next((bce_model / 'examples').iterdir())
    (model / 'examples' / 'more' / photo.name).write_bytes(photo.read_bytes())
    space = tmp_path / 'new' / 'space'
    def broken(): raise OSError(28, 'No space left on device')
    monkeypatch.setattr(boatclf.app, 'space_requirements', broken)   # the disk fills up half-way through
    r = cli('app', model, '--export-space', space)
    assert r.returncode != 0 and not (tmp_path / 'new').exists(), list((tmp_path / 'new').rglob('*'))
    space.mkdir(parents=True)                                         # an empty folder the user made is kept, and filled
    assert cli('app', model, '--export-space', space).returncode != 0 and space.is_dir() and not any(space.iterdir())
    monkeypatch.undo()
    r = cli('app', model, '--export-space', space)
    assert r.returncode == 0, r.stderr
    assert space_files(space)[f'model/examples/more/{photo.name}'] == photo.read_bytes()


def test_export_space_hostile_card_and_metrics(cli, bce_model, tmp_path):
    "A huge or non-UTF-8 model-card.md, a metrics.json nested too deep or with a number too big for a float: a Space, never a crash."
    big = copy_model(bce_model, tmp_path / 'big')
    (big / 'metrics.json').unlink()
    with open(big / 'model-card.md', 'r+b') as f: f.truncate(50_000_000)   # sparse: 50 MB that take no disk
    latin = copy_model(bce_model, tmp_path / 'latin')
    (latin / 'metrics.json').unlink()
    (latin / 'model-card.md').write_bytes(b'# my model \xff\xfe, caf\xe9\n')
    nested = copy_model(bce_model, tmp_path / 'nested')
    (nested / 'metrics.json').write_text('[' * 100_000 + ']' * 100_000)
    huge = copy_model(bce_model, tmp_path / 'huge')
    metrics = json.loads((huge / 'metrics.json').read_text())
    (huge / 'metrics.json').write_text(json.dumps(dict(metrics, lr=10**400)))
    spaces = {}
    for model in (big, latin, nested, huge):
        r = cli('app', model, '--export-space', tmp_path / f'space-{model.name}')
        assert r.returncode == 0, r.stderr
        spaces[model.name] = space_files(tmp_path / f'space-{model.name}')
        assert not [p for p in (tmp_path / f'space-{model.name}').iterdir() if p.name.startswith('.')]
    assert 'model/model-card.md' not in spaces['big'] and len(spaces['big']['README.md']) < 10_000
    assert spaces['latin']['model/model-card.md'].decode() == '# my model \ufffd\ufffd, caf\ufffd\n'
    assert 'model/metrics.json' not in spaces['nested']
    assert spaces['huge']['model/model-card.md'] == (huge / 'model-card.md').read_bytes()   # the card as it was: it cannot be rebuilt
    assert json.loads(spaces['huge']['model/metrics.json'])['lr'] == 10**400


def test_app_hostile_metrics_and_card(bce_model, tmp_path):
    "The page of a model whose metrics.json is not what `train` writes, or whose card is huge or not UTF-8: built, with what can be shown."
    from boatclf.app import make_app
    said = {}
    for name, text in [('string', '"error_rate"'), ('nested', '[' * 100_000 + ']' * 100_000),
                       ('word', '{"error_rate": "x", "n_valid": 3}'), ('missing', '{"error_rate": 0.1}')]:
        model = copy_model(bce_model, tmp_path / name)
        (model / 'metrics.json').write_text(text)
        said[name] = make_app(model).description
    assert all(s.startswith('Backbone **efficientnet_lite0**') for s in said.values()), said
    assert 'validation error 10.0%.' in said['missing'] and 'validation error' not in said['word'], said
    (model / 'model-card.md').write_bytes(b'caf\xe9')
    assert make_app(model).article == 'caf\ufffd'
    with open(model / 'model-card.md', 'r+b') as f: f.truncate(50_000_000)
    assert make_app(model).article is None

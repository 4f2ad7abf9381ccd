"""`make lab` as an attendee meets it: JupyterLab on nbs/ with the kernel "boatclf", in headless Chromium.

The server is started by `make lab` itself (LAB_ARGS: no browser, a free port, a token), with Jupyter's folders in
a temporary directory (so the kernel it registers "for this user" lands there, not in your home). The test opens
00_core.ipynb in the "boatclf" kernel, runs its first cells up to `pick_device()`, waits for its answer on the page
and saves a screenshot (images/jupyterlab.png, when missing or with BOATCLF_SCREENSHOT=1). Every process it
started (make, the server, its kernels) is killed at the end."""
import json, os, secrets, subprocess, sys, time, urllib.request
from pathlib import Path

import psutil
import pytest

from boatclf.parallel import free_port   # a port on 127.0.0.1 that nothing listens on
from conftest import NBS, ROOT, smoke_env, chromium, need_browser as _need_browser

SCREENSHOT = ROOT / 'images' / 'jupyterlab.png'


def need_browser(): _need_browser('the JupyterLab browser check')


def api(url, path, token, data=None, method=None):
    req = urllib.request.Request(f'{url}{path}', data=None if data is None else json.dumps(data).encode(), method=method,
                                 headers={'Authorization': f'token {token}', 'Content-Type': 'application/json'})
    with urllib.request.urlopen(req, timeout=10) as r: return json.loads(r.read() or b'null')


def kill_tree(proc):
    "End `proc` and everything under it (Jupyter starts kernels in their own sessions: killpg would miss them)."
    try: procs = [psutil.Process(proc.pid)] + psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess: procs = []
    for p in procs:
        try: p.terminate()
        except psutil.NoSuchProcess: pass
    _, alive = psutil.wait_procs(procs, timeout=10)
    for p in alive:
        try: p.kill()
        except psutil.NoSuchProcess: pass
    proc.wait(timeout=10)


@pytest.fixture
def lab(tmp_path):
    "JupyterLab from `make lab`: (url, token, log); killed afterwards."
    need_browser()
    port, token, jup = free_port(), secrets.token_hex(16), tmp_path / 'jupyter'
    env = smoke_env(tmp_path / 'home', JUPYTER_DATA_DIR=jup / 'data', JUPYTER_CONFIG_DIR=jup / 'config',
                    JUPYTER_RUNTIME_DIR=jup / 'runtime', JUPYTERLAB_SETTINGS_DIR=jup / 'settings',
                    JUPYTERLAB_WORKSPACES_DIR=jup / 'workspaces')
    env.pop('MPLBACKEND')   # as on a laptop: figures inline
    # no autosave (the test must never write nbs/00_core.ipynb), no question about Jupyter news over the page
    for plugin, settings in [('docmanager-extension/plugin', {'autosave': False}), ('apputils-extension/notification', {'fetchNews': 'false'})]:
        f = jup / 'settings' / '@jupyterlab' / f'{plugin}.jupyterlab-settings'
        f.parent.mkdir(parents=True, exist_ok=True); f.write_text(json.dumps(settings))
    args = f'--no-browser --ip=127.0.0.1 --port={port} --ServerApp.port_retries=0 --IdentityProvider.token={token}'
    if os.geteuid() == 0: args += ' --allow-root'   # CI containers run as root
    log = tmp_path / 'lab.log'
    # -o: the set-up is make test's job; a test must never reinstall the venv other tests are using
    proc = subprocess.Popen(['make', '--no-print-directory', '-o', '.venv/.installed', 'lab', f'LAB_ARGS={args}'],
                            cwd=ROOT, env=env, stdout=log.open('w'), stderr=subprocess.STDOUT)
    url = f'http://127.0.0.1:{port}'
    try:
        for _ in range(240):
            if proc.poll() is not None: pytest.fail(f'make lab exited ({proc.returncode}):\n{log.read_text()[-3000:]}', pytrace=False)
            try: api(url, '/api/status', token); break
            except OSError: time.sleep(0.5)
        else: pytest.fail(f'JupyterLab did not answer on {url} in 2 minutes:\n{log.read_text()[-3000:]}', pytrace=False)
        yield url, token, log
    finally:
        kill_tree(proc)


def test_lab_runs_a_notebook_in_the_boatclf_kernel(lab, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait
    url, token, log = lab
    spec = api(url, '/api/kernelspecs', token)['kernelspecs'].get('boatclf')
    assert spec, f'make lab registered no kernel "boatclf":\n{log.read_text()[-2000:]}'
    assert Path(spec['spec']['argv'][0]).resolve() == Path(sys.executable).resolve(), spec['spec']['argv']
    # a session for 00_core in the "boatclf" kernel: JupyterLab opens the notebook in it
    session = api(url, '/api/sessions', token, dict(path='00_core.ipynb', name='00_core.ipynb', type='notebook', kernel=dict(name='boatclf')), 'POST')
    assert session['kernel']['name'] == 'boatclf', session
    cells = json.loads((NBS / '00_core.ipynb').read_text())['cells']
    upto = next(i for i, c in enumerate(cells) if ''.join(c['source']).strip() == 'pick_device()') + 1
    d = chromium(1400, 1000)
    try:
        d.get(f'{url}/lab/tree/00_core.ipynb?token={token}')
        wait = WebDriverWait(d, 90)
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '.jp-NotebookPanel .jp-Cell .cm-content'))
        wait.until(lambda d: 'boatclf' in ' '.join(e.text for e in d.find_elements(By.CSS_SELECTOR, '.jp-NotebookPanel .jp-Toolbar-kernelName')))
        d.find_elements(By.CSS_SELECTOR, '.jp-NotebookPanel .jp-Cell .cm-content')[0].click()
        for _ in range(upto): ActionChains(d).key_down(Keys.SHIFT).send_keys(Keys.ENTER).key_up(Keys.SHIFT).perform(); time.sleep(0.2)
        def answered(d):   # run in this kernel (a prompt number: stored outputs have none), and its answer shown
            cell = d.find_elements(By.CSS_SELECTOR, '.jp-NotebookPanel .jp-Cell')[upto - 1]
            prompt = cell.find_element(By.CSS_SELECTOR, '.jp-InputPrompt').text.strip()
            outs = [e.text.strip() for e in cell.find_elements(By.CSS_SELECTOR, '.jp-OutputArea-output')]
            return prompt[1:-2].isdigit() and outs == ["'cpu'"]
        try: wait.until(answered)
        except Exception:
            d.save_screenshot(str(tmp_path / 'failed.png'))
            raise AssertionError(f'no output "\'cpu\'" after running {upto} cells (screenshot {tmp_path / "failed.png"}):\n{log.read_text()[-3000:]}')
        errors = [e.text for e in d.find_elements(By.CSS_SELECTOR, '.jp-NotebookPanel .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')]
        assert not any('Error' in e for e in errors), errors
        d.save_screenshot(str(SCREENSHOT if os.environ.get('BOATCLF_SCREENSHOT') or not SCREENSHOT.exists() else tmp_path / 'jupyterlab.png'))
    finally:
        d.quit()

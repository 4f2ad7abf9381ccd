import os, shutil, signal, sys, tempfile, time
from pathlib import Path

import pytest

# A shell that starts a job in the background (`make test &`, CI runners without a terminal) sets Ctrl-C to "ignored", and
# every child inherits that: then the Ctrl-C tests' boatclf processes would never see their SIGINT. Give them the usual one.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN: signal.signal(signal.SIGINT, signal.default_int_handler)

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / 'nbs'


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    """Every temporary file of the suite, ours and our children's (notebook kernels' `tempfile.mkdtemp()`, Chromium's
    profiles, torch.distributed's `torchelastic_*`, Gradio's and torch's caches), goes under pytest's base temp folder,
    not the machine's /tmp: pytest.ini's retention policy deletes that folder after a passing run, so `make test` leaves
    nothing behind (runs that leaked into /tmp once filled this machine's disk, and CI's next install failed). Set here,
    before the test modules are imported: some libraries fix their temporary folder when imported."""
    tmp = config._tmp_path_factory.getbasetemp() / 'tmp'
    tmp.mkdir(exist_ok=True)
    os.environ['TMPDIR'], tempfile.tempdir = str(tmp), None   # tempfile reads TMPDIR again on its next call


def smoke_env(home: Path, **extra) -> dict:
    "The environment every test subprocess gets: smoke mode, offline, its own BOATCLF_HOME."
    env = dict(os.environ, BOATCLF_MODE='smoke', IN_TEST='1', BOATCLF_OFFLINE='1',
               BOATCLF_HOME=str(home), MPLBACKEND='Agg', PYTHONUNBUFFERED='1',
               # pytest-xdist runs two tests at once on two cores: one thread each, or torch's threads fight
               OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    env.update({k: str(v) for k, v in extra.items()})
    return env


@pytest.fixture
def boatclf_cmd():
    "The `boatclf` command of this venv."
    return [str(Path(sys.executable).parent / 'boatclf')]


def assert_user_error(r, *words):
    "Exit status 2, one line on stderr that contains `words`, and no traceback (`r`: a `Ran` or a `subprocess` result)."
    assert r.returncode == 2, f'status {r.returncode}\n{r.stdout}\n{r.stderr}'
    err = r.stderr.strip()
    assert 'Traceback' not in err and len(err.splitlines()) == 1, err
    for w in words: assert w in err, err


class Ran:
    "What `boatclf.cli.main` did: exit status, stdout, stderr, seconds."
    def __init__(self, returncode, stdout, stderr, seconds): self.returncode, self.stdout, self.stderr, self.seconds = returncode, stdout, stderr, seconds


@pytest.fixture
def cli(tmp_path, monkeypatch, capsys):
    "Run `boatclf ARGS` in this process (the real command's code, without a slow start-up), in smoke mode with its own BOATCLF_HOME."
    for k, v in smoke_env(tmp_path/'home').items(): monkeypatch.setenv(k, v)
    from boatclf.cli import main
    def call(*args):
        capsys.readouterr()
        t0 = time.time()
        try: rc = main([str(a) for a in args])
        except SystemExit as e: rc = e.code
        out, err = capsys.readouterr()
        return Ran(rc, out, err, time.time() - t0)
    return call


# ---- a real browser (the web app and JupyterLab tests): Debian's chromium + chromium-driver, driven by Selenium ----

CHROMIUM, DRIVER = shutil.which('chromium') or shutil.which('chromium-browser'), shutil.which('chromedriver')
UNDER_CI = os.environ.get('CI', '').strip().lower() not in ('', '0', 'false', 'no')


def need_browser(what='the browser test'):
    "Skip (saying how to enable it) where Chromium, its driver or Selenium is missing; under CI (`CI=true`) fail instead: there it must run."
    import importlib.util
    if CHROMIUM and DRIVER and importlib.util.find_spec('selenium'): return
    why = 'Chromium, its driver or Selenium is missing (Debian/Ubuntu: apt-get install chromium chromium-driver; pip install -e ".[dev]")'
    if UNDER_CI: pytest.fail(f'{why}: under CI {what} must run (.ci/run installs them)', pytrace=False)
    pytest.skip(f'{why}: {what} needs them')


def chromium(width=1200, height=1100):
    "Headless Chromium under Selenium, with the system's browser and driver: nothing is ever downloaded."
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    os.environ['SE_OFFLINE'] = 'true'   # Selenium Manager must never download a browser or a driver
    o = webdriver.ChromeOptions()
    o.binary_location = CHROMIUM
    for a in ('--headless=new', '--no-sandbox', '--disable-dev-shm-usage', f'--window-size={width},{height}', '--disable-gpu'):
        o.add_argument(a)
    return webdriver.Chrome(options=o, service=Service(DRIVER))

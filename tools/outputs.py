"""Store in notebooks the outputs of a cpu-mode run, so they read well before they run (on GitHub, in Colab's preview).

    python tools/outputs.py nbs/00_core.ipynb [...]        (what `make outputs NB=...` runs)

Each notebook runs through a Jupyter kernel (tests/nbrun.py's runner, the tests' skip flags), offline in
cpu mode (drawn boats: never web photos, the same pictures on every machine), in a fresh BOATCLF_HOME.
Its outputs are then made fit to commit: figures are PNGs drawn at 72 dpi and re-compressed to 256
colours where that is smaller; widget state is dropped; absolute paths (the repository, the venv, the
home folder, the run's BOATCLF_HOME, temporary folders) become short relative names; the file is in
nbdev-clean's format. The notebook's metadata["boatclf"]["code_sha256"] gets `code_hash` of the cells
that ran: tests/test_outputs.py fails when a code cell changes and its outputs were not refreshed.
A notebook that would weigh more than BUDGET bytes is not written (the message names its biggest cells).
The file is re-read under the lock that cell editors take, and written only if no code cell changed
meanwhile (a markdown edit made during the run is kept).
"""
import base64, fcntl, hashlib, io, json, os, re, sys, tempfile
from pathlib import Path

from fastcore.nbio import loads, nb2str
from nbdev.clean import _nbdev_clean
from nbdev.config import get_config
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / 'tests'))
from nbrun import CellFailed, execute  # noqa: E402

BUDGET = 1_500_000      # bytes per notebook, outputs included
CELL_TIMEOUT = 1800     # seconds: a cpu-mode training cell takes a few minutes on a laptop
WIDGET_MIMES = ('application/vnd.jupyter.widget-view+json', 'application/vnd.jupyter.widget-state+json')
SETUP = "import matplotlib.pyplot as plt\nplt.rcParams['figure.dpi'] = 72   # small PNGs\n"


def code_hash(nb: dict) -> str:
    "SHA-256 of the sources of `nb`'s code cells, in order: what the stored outputs were made by."
    srcs = [''.join(c['source']) if isinstance(c['source'], list) else c['source'] for c in nb['cells'] if c['cell_type'] == 'code']
    return hashlib.sha256(json.dumps(srcs).encode()).hexdigest()


def small_png(b64: str) -> str:
    "The PNG `b64` re-compressed to a 256-colour palette, if that is smaller."
    raw = base64.b64decode(b64)
    buf = io.BytesIO()
    Image.open(io.BytesIO(raw)).quantize(256, method=Image.Quantize.FASTOCTREE).save(buf, 'PNG', optimize=True)
    return base64.b64encode(buf.getvalue()).decode() + '\n' if buf.tell() < len(raw) else b64


def scrubber(home: str, tmpdir: str = None):
    "A function that turns the absolute paths a run prints into short relative names (a file in `tmpdir` into `<tmp>`)."
    subs = sorted({home: '~/.boatclf', sys.prefix: '.venv', str(ROOT): '.', str(Path.home()): '~'}.items(), key=lambda kv: -len(kv[0]))
    tmp = re.compile(re.escape(tmpdir or tempfile.gettempdir()) + r'/[\w.-]+')
    def scrub(text: str) -> str:
        for old, new in subs: text = text.replace(old, new)
        return tmp.sub('<tmp>', text)
    return scrub


def _text(x) -> str: return ''.join(x) if isinstance(x, list) else x


def tidy_outputs(outputs: list, scrub) -> list:
    "`outputs` with widget state dropped, PNGs shrunk and paths scrubbed in every text."
    res = []
    for o in outputs:
        o = dict(o)
        if 'data' in o:
            data = {k: v for k, v in o['data'].items() if k not in WIDGET_MIMES}
            if not data: continue
            for k, v in data.items():
                if k == 'image/png': data[k] = small_png(_text(v))
                elif k.startswith('text') or k.endswith('json'): data[k] = json.loads(scrub(json.dumps(v)))
            o['data'] = data
        if 'text' in o: o['text'] = scrub(_text(o['text']))
        if 'traceback' in o: o['traceback'] = [scrub(t) for t in o['traceback']]
        res.append(o)
    return res


def run_env(home: str, tmpdir: str) -> dict:
    "cpu mode, offline, its own BOATCLF_HOME and temporary folder, as an attendee's Jupyter (no test or CI flags)."
    env = {k: v for k, v in os.environ.items() if k not in ('IN_TEST', 'CI', 'BOATCLF_MODE', 'MPLBACKEND')}
    return dict(env, BOATCLF_MODE='cpu', BOATCLF_OFFLINE='1', BOATCLF_HOME=home, TMPDIR=tmpdir, PYTHONUNBUFFERED='1')


def refresh(fn: Path) -> int:
    "Run `fn` in cpu mode and store its tidied outputs and code hash in it; return its size in bytes."
    before = code_hash(json.loads(fn.read_text()))
    # the notebooks' own temporary folders (tempfile.mkdtemp() in examples) go in `tmpdir`, deleted after the run
    with tempfile.TemporaryDirectory(prefix='boatclf-outputs-') as home, tempfile.TemporaryDirectory(prefix='boatclf-tmp-') as tmpdir:
        old_env = dict(os.environ)
        env = run_env(home, tmpdir)                                      # (made before the clear below, which it reads from)
        os.environ.clear(); os.environ.update(env)               # the kernel inherits this process's environment
        try: ran = execute(fn, get_config(ROOT).tst_flags.split(), CELL_TIMEOUT, setup=SETUP)
        finally: os.environ.clear(); os.environ.update(old_env)
        scrub = scrubber(home, tmpdir)
    outs = {c.id: tidy_outputs(c.outputs, scrub) for c in ran.cells if c.cell_type == 'code'}
    with open(Path(tempfile.gettempdir())/f'nbcell-{fn.name}.lock', 'w') as lock:   # the lock that tools editing cells take
        fcntl.flock(lock, fcntl.LOCK_EX)
        nb = loads(fn.read_text())
        if code_hash(nb) != before: sys.exit(f'{fn.name}: a code cell changed while it ran; nothing written: run it again.')
        for c in nb['cells']:
            if c['cell_type'] == 'code': c['outputs'] = outs.get(c['id'], [])
        nb['metadata'].pop('widgets', None)
        nb['metadata']['boatclf'] = {'code_sha256': before, 'mode': 'cpu'}
        _nbdev_clean(nb)
        text = nb2str(nb)
        size = len(text.encode())
        if size > BUDGET:
            big = sorted(((len(json.dumps(c.get('outputs', []))), c['id']) for c in nb['cells']), reverse=True)[:3]
            sys.exit(f'{fn.name}: {size:,} bytes with outputs, over the budget of {BUDGET:,}; nothing written. '
                     f'Biggest outputs: ' + ', '.join(f'cell {i} ({n:,} bytes)' for n, i in big))
        tmp = fn.with_name(fn.name + '.outputs-tmp')
        tmp.write_text(text); os.replace(tmp, fn)
    return size


if __name__ == '__main__':
    os.chdir(ROOT)
    if len(sys.argv) < 2: sys.exit(__doc__)
    for name in sys.argv[1:]:
        fn = Path(name).resolve()
        try: print(f'{fn.name}: {refresh(fn):,} bytes (budget {BUDGET:,})', flush=True)
        except CellFailed as e: sys.exit(f'{e}\n{fn.name}: a cell failed in cpu mode; nothing written.')

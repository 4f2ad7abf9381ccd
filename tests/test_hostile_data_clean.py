"""`boatclf clean` interrupted, killed, read-only, on a full disk, and on things that are not files: nothing lost, every move recorded."""
import csv, hashlib, os, resource, shutil, signal, socket, subprocess, sys, time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from boatclf.clean import ORIGINALS, REJECTED, REPORT, clean_images
from conftest import smoke_env
from data_fixtures import encode, isolated_home, photo  # noqa: F401 (fixture)

BOATCLF = str(Path(sys.executable).parent/'boatclf')


def make_busy_folder(root: Path, n: int = 60) -> None:
    "`4n` images: n CMYK JPEGs to convert, n web pages to set aside, n photos and a smaller copy of each (another n to set aside)."
    rng = np.random.default_rng(0)
    for c in ('canoe', 'kayak'): (root/c).mkdir(parents=True)
    for i in range(n):
        c = ('canoe', 'kayak')[i % 2]
        big = Image.fromarray(rng.integers(0, 255, (9, 12, 3), dtype=np.uint8)).resize((1200, 900))
        big.convert('CMYK').save(root/c/f'print-{i:03d}.jpg', quality=80)
        (root/c/f'page-{i:03d}.jpg').write_text(f'<html><body>403 Forbidden ({i})</body></html>')
        p = photo(240, 180, 1000 + i)
        p.save(root/c/f'photo-{i:03d}.png'); p.resize((120, 90)).save(root/c/f'photo-{i:03d}-small.jpg', quality=85)


@pytest.fixture(scope='module')
def busy_template(tmp_path_factory):
    root = tmp_path_factory.mktemp('busy')/'boats'
    make_busy_folder(root)
    return root


@pytest.fixture
def busy(busy_template, tmp_path):
    root = tmp_path/'boats'
    shutil.copytree(busy_template, root)
    return root, _images(root)


def _images(root: Path) -> Counter:
    "The bytes of every image file under `root`, hidden folders included, counted."
    return Counter(f.read_bytes() for f in root.rglob('*') if f.is_file() and f.name not in (REPORT, 'doubtful.csv')
                   and not f.name.startswith('.'))


def _rows(root: Path, folder: str) -> list:
    f = root/folder/REPORT
    if not f.exists(): return []
    with open(f, newline='', encoding='utf-8', errors='surrogateescape') as fh: return list(csv.DictReader(fh))


def _held(root: Path, folder: str) -> set:
    "The files in `root/folder` (what report.csv must list), as paths relative to it."
    box = root/folder
    return {p.relative_to(box).as_posix() for p in box.rglob('*') if not p.is_dir() and p.name not in (REPORT, 'doubtful.csv')
            and not p.name.startswith('.')} if box.exists() else set()


def check_recorded(root: Path, killed: bool = False):
    "report.csv lists exactly what is in .rejected/ and .originals/ (a killed run: but for the one move it had recorded and not made)."
    for folder in (REJECTED, ORIGINALS):
        listed, held = {r['file'] for r in _rows(root, folder)}, _held(root, folder)
        assert held <= listed, f'{folder}: not recorded: {held - listed}'                   # never a file without a row
        pending = (root/folder/'.moving.json').exists()
        assert len(listed - held) <= (1 if killed and pending else 0), f'{folder}: recorded, not there: {listed - held}'
        if not killed: assert not pending


def check_nothing_lost(root: Path, before: Counter):
    "Every image there was is still there, byte for byte; the only new ones are the converted copies that report.csv names."
    now, made = _images(root), {r['sha256'] for r in _rows(root, ORIGINALS)}
    assert not before - now, 'an image was lost'
    assert all(hashlib.sha256(b).hexdigest() in made for b in now - before)
    assert not list(root.rglob('*.part'))


def _clean(root, *args, **kw):
    return subprocess.Popen([BOATCLF, 'clean', str(root), *args], env=smoke_env(root.parent/'home'), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, **kw)


def _n_rows(root):
    n = 0
    for folder in (REJECTED, ORIGINALS):
        try: n += (root/folder/REPORT).read_bytes().count(b'\n') - 1
        except FileNotFoundError: pass
    return max(n, 0)


def _wait_rows(p, root, n, limit=60):
    t_end = time.monotonic() + limit
    while _n_rows(root) < n and p.poll() is None and time.monotonic() < t_end: time.sleep(0.002)


def _finish(root, before):
    "Run clean again: it completes the job; a third run changes nothing."
    out, err = _clean(root).communicate(timeout=120)
    assert err == '' and 'checked' in out, err
    check_recorded(root); check_nothing_lost(root, before)
    assert all(not n.startswith('print-') for r in _rows(root, REJECTED) for n in [Path(r['file']).name])
    snapshot = {f: f.read_bytes() for f in root.rglob('*') if f.is_file()}
    s = clean_images(root, progress=False)
    assert (s.rejected, s.converted, s.finished) == ([], [], []) and {f: f.read_bytes() for f in root.rglob('*') if f.is_file()} == snapshot
    return out


def test_ctrl_c_stops_clean_at_once_and_the_next_run_finishes(busy):
    root, before = busy
    p = _clean(root)
    _wait_rows(p, root, 20)
    assert p.poll() is None, 'finished before Ctrl-C: make the folder bigger'
    t0 = time.monotonic()
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert time.monotonic() - t0 < 15                                         # (generous: a loaded 2-core machine; the row count below shows it stopped)
    assert p.returncode == 130 and err.strip() == 'boatclf clean: interrupted', err
    check_recorded(root); check_nothing_lost(root, before)
    assert 0 < _n_rows(root) < 180                                           # it really was cut off half-way
    _finish(root, before)


@pytest.mark.parametrize('after_rows', [1, 70, 150])   # converting, setting aside, and setting aside copies (the last phase)
def test_killed_clean_loses_nothing_and_the_next_run_finishes(busy, after_rows):
    root, before = busy
    p = _clean(root)
    _wait_rows(p, root, after_rows)
    p.kill(); p.communicate(timeout=60)
    assert p.returncode == -signal.SIGKILL
    check_recorded(root, killed=True)
    assert not before - _images(root), 'an image was lost'
    out = _finish(root, before)
    assert 'set aside' in out


# A run killed at the worst moment: the row is written, the move is not (or: the original is moved, the converted file not yet
# in place). os._exit stands for the kill, at exactly that point of the real code.
CRASH = '''
import os, sys
from pathlib import Path
from boatclf import clean
real, calls = getattr(os, sys.argv[2]), []
def crash(src, dst, *a, **kw):
    if str(src).endswith('.moving.json.part'): return real(src, dst, *a, **kw)   # putting the note in place (write_new) is not a move
    calls.append(1)
    if len(calls) == int(sys.argv[3]): os._exit(9)
    return real(src, dst, *a, **kw)
setattr(os, sys.argv[2], crash)
clean.clean_images(sys.argv[1], progress=False)
'''


@pytest.mark.parametrize('call, n', [('rename', 1), ('rename', 45), ('replace', 3)])
def test_crash_between_row_and_move(busy, call, n):
    root, before = busy
    p = subprocess.run([sys.executable, '-c', CRASH, str(root), call, str(n)], env=smoke_env(root.parent/'home'), capture_output=True)
    assert p.returncode == 9, p.stderr
    note = [f for f in (root/REJECTED/'.moving.json', root/ORIGINALS/'.moving.json') if f.exists()]
    assert len(note) == 1                                                     # the move it had begun
    check_recorded(root, killed=True)
    assert not before - _images(root)                                      # every original is somewhere
    out = _finish(root, before)
    assert 'finished what an interrupted run had begun' in out


def test_killed_while_writing_its_note(busy):
    "A run killed while it wrote its note (empty, or half of it) had not recorded or moved anything after it."
    root, before = busy
    for folder, text in ((REJECTED, ''), (ORIGINALS, '{"row": {"file": "canoe/pri')):
        (root/folder).mkdir(); (root/folder/'.moving.json').write_text(text)
    _finish(root, before)


# Ctrl-C arriving at the worst moment: after the row is written, before the move. It waits until the move is made.
CTRL_C = '''
import os, signal, sys, time
from boatclf import clean
real = os.rename
def rename(src, dst):
    os.kill(os.getpid(), signal.SIGINT); time.sleep(0.1)      # Ctrl-C, and time for Python to act on it
    return real(src, dst)
os.rename = rename
try: clean.clean_images(sys.argv[1], progress=False)
except KeyboardInterrupt: sys.exit(130)
'''


def test_ctrl_c_waits_for_the_move(busy):
    root, before = busy
    p = subprocess.run([sys.executable, '-c', CTRL_C, str(root)], env=smoke_env(root.parent/'home'), capture_output=True)
    assert p.returncode == 130, p.stderr
    assert _n_rows(root) == 1                                                # stopped after the first move...
    check_recorded(root); check_nothing_lost(root, before)                   # ...which was made and recorded


def test_names_that_are_not_utf8(tmp_path):
    root = tmp_path/'boats'; (root/'canoe').mkdir(parents=True); (root/'kayak').mkdir()
    p = photo(200, 150, 7)
    files = {b'canoe/caf\xe9.jpg': b'<html>not a photo</html>', b'canoe/\xff\xfe-print.jpg': encode(photo(200, 150, 8).convert('CMYK'), 'JPEG'),
             b'canoe/ok.png': encode(p, 'PNG'), b'kayak/\xe9t\xe9.jpg': encode(p.resize((100, 75)), 'JPEG')}
    for name, data in files.items(): Path(os.fsdecode(bytes(root) + b'/' + name)).write_bytes(data)
    before = _images(root)
    r = subprocess.run([BOATCLF, 'clean', str(root)], env=smoke_env(tmp_path/'home'), capture_output=True)
    assert r.returncode == 0 and r.stderr == b'', r.stderr
    assert b'set aside 2' in r.stdout
    report = (root/REJECTED/REPORT).read_bytes()
    assert b'canoe/caf\xe9.jpg' in report and b'kayak/\xe9t\xe9.jpg' in report                   # recorded as they are
    assert b'\xff\xfe-print.jpg' in (root/ORIGINALS/REPORT).read_bytes()
    assert sorted(os.listdir(bytes(root/REJECTED/'canoe'))) == [b'caf\xe9.jpg']
    check_recorded(root); check_nothing_lost(root, before)
    r = subprocess.run([BOATCLF, 'clean', str(root)], env=smoke_env(tmp_path/'home'), capture_output=True)
    assert r.returncode == 0 and b'set aside 0' in r.stdout


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which('setpriv'), reason='needs root and setpriv (util-linux)')
@pytest.mark.parametrize('writable_box', [False, True])
def test_read_only_folder(tmp_path, writable_box):
    root = tmp_path/'boats'; (root/'canoe').mkdir(parents=True)
    (root/'canoe'/'page.jpg').write_text('<html>not a photo</html>')
    photo(200, 150, 3).convert('CMYK').save(root/'canoe'/'print.jpg')
    photo(200, 150, 4).save(root/'canoe'/'ok.jpg')
    if writable_box:                            # .rejected/ may be written, but a file cannot be moved out of canoe/
        for box in (REJECTED, ORIGINALS): (root/box).mkdir()
    for d in (root, root/'canoe'): d.chmod(0o555)
    before = {f: f.read_bytes() for f in (root/'canoe').iterdir()}
    # root, without the capabilities that let root write anywhere: the folder's permissions apply, as to anyone
    no_caps = ['setpriv', '--bounding-set', '-all', '--inh-caps', '-all', '--ambient-caps', '-all', '--']
    r = subprocess.run(no_caps + [BOATCLF, 'clean', str(root)], env=smoke_env(tmp_path/'home'), capture_output=True, text=True, timeout=120)
    for d in (root, root/'canoe'): d.chmod(0o755)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and 'Traceback' not in r.stderr, r.stderr
    assert lines[0].startswith('boatclf clean: error:') and ('Permission denied' in lines[0]) and ('could not move' in lines[0]) == writable_box
    assert {f: f.read_bytes() for f in (root/'canoe').iterdir()} == before   # nothing moved, nothing lost
    check_recorded(root)


@pytest.mark.parametrize('limit, pages', [(3_000, 20), (5_000, 200)])   # a converted image does not fit; the report does not
def test_full_disk(tmp_path, limit, pages):
    root = tmp_path/'boats'; (root/'canoe').mkdir(parents=True)
    for i in range(pages): (root/'canoe'/f'page-{i:03d}.jpg').write_text(f'<html>{i}</html>')
    for i in range(3): photo(400, 300, 20 + i).convert('CMYK').save(root/'canoe'/f'print-{i}.jpg')
    before = _images(root)
    def small_disk(): resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))   # a write past `limit` bytes fails: EFBIG
    r = subprocess.run([BOATCLF, 'clean', str(root)], env=smoke_env(tmp_path/'home'), capture_output=True, text=True,
                       preexec_fn=small_disk, timeout=120)
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1 and 'Traceback' not in r.stderr, r.stderr
    assert 'too big' in lines[0] or 'too large' in lines[0].lower(), lines[0]
    check_recorded(root); check_nothing_lost(root, before)
    _finish(root, before)                                                    # with room again, it finishes


def test_things_that_are_not_files(tmp_path):
    root = tmp_path/'boats'; c = root/'canoe'; c.mkdir(parents=True)
    os.mkfifo(c/'pipe.jpg')
    (c/'zero.jpg').symlink_to('/dev/zero')
    (c/'gone.jpg').symlink_to(tmp_path/'nowhere.jpg')
    (c/'loop.jpg').symlink_to(c/'loop.jpg')
    with socket.socket(socket.AF_UNIX) as s: s.bind(str(c/'socket.png'))
    with open(c/'huge.jpg', 'wb') as f: f.write(b'\xff\xd8\xff\xe0'); f.truncate(30_000_000)   # 30 MB, mostly a hole
    photo(200, 150, 9).save(tmp_path/'elsewhere.jpg'); (c/'linked.jpg').symlink_to(tmp_path/'elsewhere.jpg')
    photo(200, 150, 10).save(c/'good.jpg')
    sof = (good := encode(photo(200, 150, 11), 'JPEG')).index(b'\xff\xc0') + 5
    (c/'liar.jpg').write_bytes(good[:sof] + (9000).to_bytes(2, 'big') * 2 + good[sof + 4:])     # claims 81 MP in 5 KB
    t0 = time.monotonic()
    r = subprocess.run([BOATCLF, 'clean', str(root)], env=smoke_env(tmp_path/'home'), capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stderr == '' and time.monotonic() - t0 < 20, r.stderr
    reasons = {x['file']: x['reason'] for x in _rows(root, REJECTED)}
    expect = {'pipe.jpg': 'not a regular file: a named pipe', 'zero.jpg': 'not a regular file: a device',
              'gone.jpg': 'not a regular file: a link to', 'loop.jpg': 'not a regular file: a link that goes round',
              'socket.png': 'not a regular file: a socket', 'huge.jpg': 'too big: 30.0 MB',
              'liar.jpg': 'decompression bomb: a JPEG that claims 9000x9000 px'}
    assert {k.split('/')[1] for k in reasons} == set(expect)
    for name, says in expect.items(): assert reasons['canoe/' + name].startswith(says), (name, reasons['canoe/' + name])
    assert os.path.islink(root/REJECTED/'canoe'/'zero.jpg') and (root/REJECTED/'canoe'/'pipe.jpg').is_fifo()   # moved as they were
    assert (c/'good.jpg').exists() and (c/'linked.jpg').is_symlink()          # a link to a real photo is a photo
    check_recorded(root)


def test_older_report_and_files_without_a_row(tmp_path):
    "A report written before rows said where files came from, a file set aside with no row, unfinished files of ours (and not ours)."
    root = tmp_path/'boats'; (root/'canoe').mkdir(parents=True); (root/REJECTED/'canoe').mkdir(parents=True)
    (root/REJECTED/REPORT).write_text('file,reason\ncanoe/old.jpg,not an image: an HTML page\n')
    (root/REJECTED/'canoe'/'old.jpg').write_text('<html>')
    (root/REJECTED/'canoe'/'stray.jpg').write_text('<html>set aside by a run that was killed before it wrote a row</html>')
    (root/'canoe'/'.good.jpg.part').write_bytes(b'\xff\xd8 half of a photo')      # ours: removed
    (root/'canoe'/'.notes.part').write_text('not ours: kept')
    photo(200, 150, 1).save(root/'canoe'/'good.jpg')
    s = clean_images(root, progress=False)
    rows = _rows(root, REJECTED)
    assert [(r['file'], r['from']) for r in rows] == [('canoe/old.jpg', 'canoe/old.jpg'), ('canoe/stray.jpg', 'canoe/stray.jpg')]
    assert rows[1]['reason'].startswith('set aside by an interrupted run')
    assert not (root/'canoe'/'.good.jpg.part').exists() and (root/'canoe'/'.notes.part').exists()
    assert any('canoe/stray.jpg' in x for x in s.finished) and any('unfinished' in x for x in s.finished)
    check_recorded(root)


def test_two_cleans_of_one_folder_never_interleave(busy):
    """A second `clean` of a folder while another holds it is refused in one line (exit 2) and moves nothing.
    (Two interleaved runs once left a moved file with no row: each took back its own row by truncating the shared report.)"""
    import fcntl
    root, before = busy
    fd = os.open(root, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)          # what a running `clean` holds
        second = _clean(root); out, err = second.communicate(timeout=120)
    finally: os.close(fd)
    assert second.returncode == 2 and len(err.strip().splitlines()) == 1 and 'another `boatclf clean`' in err, err
    assert not (root/REJECTED).exists() and not (root/ORIGINALS).exists() and _images(root) == before
    _finish(root, before)                                       # once it is free, a clean runs as usual


def test_clean_of_a_read_only_clean_folder_needs_no_write(tmp_path):
    "The lock that keeps two cleans apart is taken on the folder itself: a folder with nothing to move needs no write access."
    root = tmp_path/'ok'; (root/'canoe').mkdir(parents=True)
    photo(120, 90, 1).save(root/'canoe'/'a.jpg')
    os.chmod(root/'canoe', 0o555); os.chmod(root, 0o555)
    try:
        r = subprocess.run(['setpriv', '--inh-caps=-all', '--bounding-set=-all', BOATCLF, 'clean', str(root)] if shutil.which('setpriv') and os.geteuid() == 0
                           else [BOATCLF, 'clean', str(root)], env=smoke_env(tmp_path/'home'), capture_output=True, text=True, timeout=120)
    finally: os.chmod(root, 0o755); os.chmod(root/'canoe', 0o755)
    assert r.returncode == 0 and 'kept 1' in r.stdout, r.stdout + r.stderr
    assert not (root/REJECTED).exists()


# ---- photos built to hurt the reader itself (found by a hostile review): each is one bad photo, never a crash or gigabytes ----

def two_page_tiff(f: Path) -> Path:
    "A 2-page TIFF whose first page is fine and whose second names a compression that does not exist (4865)."
    import io, struct
    buf = io.BytesIO()
    Image.new('RGB', (64, 64), 'red').save(buf, 'TIFF', save_all=True, append_images=[Image.new('RGB', (64, 64), 'blue')])
    d = bytearray(buf.getvalue())
    ifd = struct.unpack_from('<I', d, 4)[0]
    ifd = struct.unpack_from('<I', d, ifd + 2 + 12 * struct.unpack_from('<H', d, ifd)[0])[0]   # the second page's tags
    for i in range(struct.unpack_from('<H', d, ifd)[0]):
        if struct.unpack_from('<H', d, ifd + 2 + 12 * i)[0] == 259: struct.pack_into('<H', d, ifd + 2 + 12 * i + 8, 4865)
    f.write_bytes(bytes(d)); return f


def exif_bomb_png(f: Path, entries: int, blob: int) -> Path:
    "A 64x64 PNG whose eXIf chunk has `entries` entries that all point at the same `blob` bytes: Pillow copies them once per entry."
    import io, struct, zlib
    chunk = lambda t, d: struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
    tags = [t for t in range(0x1000, 0x10000) if t not in (0x8769, 0x8825, 0xA005, 0x014A, 0x0112)][:entries]
    off = 8 + 2 + 12 * len(tags) + 4
    exif = (b'II*\x00' + struct.pack('<I', 8) + struct.pack('<H', len(tags)) + b''.join(struct.pack('<HHII', t, 7, blob, off) for t in tags)
            + b'\0\0\0\0' + b'A' * blob)
    buf = io.BytesIO(); Image.new('RGB', (64, 64), 'red').save(buf, 'PNG'); png = buf.getvalue()
    f.write_bytes(png[:33] + chunk(b'eXIf', exif) + png[33:]); return f


def test_a_broken_second_page_is_a_bad_photo_not_a_crash(tmp_path):
    from boatclf.clean import read_image
    from boatclf.data import BadImage
    f = two_page_tiff(tmp_path / 'two-pages.tif')
    with pytest.raises(BadImage, match='broken image'): read_image(f)
    (tmp_path / 'canoe').mkdir(); f.rename(tmp_path / 'canoe' / 'two-pages.tif')
    r = subprocess.run([BOATCLF, 'clean', str(tmp_path)], env=smoke_env(tmp_path / 'home'), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and (tmp_path / REJECTED / 'canoe' / 'two-pages.tif').exists(), r.stdout + r.stderr


def test_an_exif_of_many_entries_costs_no_memory(tmp_path):
    "6,000 entries pointing at 0.5 MB: 3 GB if parsed; boatclf reads no EXIF over 64 kB (a JPEG's limit)."
    import tracemalloc
    from boatclf.clean import fix_image
    data = exif_bomb_png(tmp_path / 'bomb.png', 6000, 500_000).read_bytes()
    tracemalloc.start()
    im, changes = fix_image(data)
    peak = tracemalloc.get_traced_memory()[1]; tracemalloc.stop()
    assert im.size == (64, 64) and 'EXIF too big to read: ignored' in changes
    assert peak < 50e6, f'{peak / 1e6:.0f} MB'


def test_pillow_says_nothing_on_stderr(tmp_path):
    "A photo over Pillow's warning size (12000x8000 px) gets boatclf's one line (over its 89-megapixel limit), not Pillow's warning too."
    Image.new('L', (12000, 8000)).save(tmp_path / 'big.png', optimize=True)
    code = f"from boatclf.clean import read_image\ntry: read_image({str(tmp_path / 'big.png')!r})\nexcept Exception as e: print(type(e).__name__)"
    r = subprocess.run([sys.executable, '-c', code], env=smoke_env(tmp_path / 'home'), capture_output=True, text=True, timeout=120)
    assert r.stdout.strip() == 'BadImage' and r.stderr == '', r.stderr


def test_folders_nested_too_deep_are_one_line(tmp_path):
    from boatclf.core import BoatclfError
    from boatclf.data import image_files
    deep, d = tmp_path / 'deep', tmp_path / 'deep'
    d.mkdir()
    for _ in range(1200): d = d / 'a'; os.mkdir(d)   # (one at a time: pathlib's mkdir(parents=True) recurses too)
    (d / 'x.jpg').write_bytes(b'x')
    try:
        with pytest.raises(BoatclfError, match='nested too deep'): image_files(deep)
    finally:   # pytest's clean-up (shutil.rmtree) would recurse as deep: take the tree down from the bottom
        (d / 'x.jpg').unlink()
        while d != deep: os.rmdir(d); d = d.parent


def test_a_photo_turned_into_a_pipe_during_training_stops_it_in_one_line(tmp_path):
    "The training DataLoader opens photos as boatclf does everywhere (BoatImage): a FIFO put in a photo's place is refused, never read (a read would hang)."
    code = '''
import os, sys
from boatclf.core import BoatclfError, get_settings
from boatclf.datablock import boat_dls
from boatclf.synth import make_synthetic_boats
path = make_synthetic_boats(sys.argv[1], per_class=6, seed=1, progress=False)
dls = boat_dls(path, get_settings(), bs=2, num_workers=0)
f = dls.train.dataset.items[0]; os.unlink(f); os.mkfifo(f)
try: dls.train.one_batch(); print('read it')
except BoatclfError as e: print('BoatclfError:', e)
'''
    r = subprocess.run([sys.executable, '-c', code, str(tmp_path / 'boats')], env=smoke_env(tmp_path / 'home'), capture_output=True, text=True, timeout=120)
    assert 'BoatclfError:' in r.stdout and 'named pipe' in r.stdout, r.stdout + r.stderr[-2000:]


def test_clean_writes_no_copy_of_a_linked_photo(tmp_path):
    "A photo that is a link to a file outside (one of yours, RGBA: it would be converted) stays a link; its pixels are not copied in."
    outside = tmp_path / 'mine'; outside.mkdir()
    Image.new('RGBA', (120, 90), (10, 200, 30, 128)).save(outside / 'private.png')
    (tmp_path / 'boats' / 'canoe').mkdir(parents=True)
    (tmp_path / 'boats' / 'canoe' / 'leak.png').symlink_to(outside / 'private.png')
    s = clean_images(tmp_path / 'boats', progress=False)
    assert (tmp_path / 'boats' / 'canoe' / 'leak.png').is_symlink() and s.converted == []
    assert not [p for p in (tmp_path / 'boats').rglob('*') if p.is_file() and not p.is_symlink() and p.suffix == '.png']
    assert (outside / 'private.png').exists()

"""`boatclf review` / `boatclf apply [--undo]` (06b_review): decisions survive a restart, apply then undo restores
every byte, nothing is ever deleted, a photo changed since the review is skipped, and a decisions file from a
stranger is refused in one line before anything moves.

One real model (`boatclf train --synthetic`, smoke mode) for the whole module; photos made with Pillow.
The main flows go through the real `boatclf` command in a new process; the many hostile files go through
`boatclf.cli.main` in this process (the same code, without a 4-second start each)."""
import csv, hashlib, json, os, shutil, subprocess, sys
from pathlib import Path

import pytest
from PIL import Image

from conftest import smoke_env, assert_user_error

BOATCLF = [str(Path(sys.executable).parent / 'boatclf')]
CLASSES = ('canoe', 'kayak', 'sailboat')


def run(args, home, timeout=600):
    return subprocess.run(BOATCLF + [str(a) for a in args], env=smoke_env(home), capture_output=True, text=True, timeout=timeout)


def py(code, home):
    "Run `code` in a new Python process: what a restarted kernel would see."
    return subprocess.run([sys.executable, '-c', code], env=smoke_env(home), capture_output=True, text=True, timeout=300)


@pytest.fixture(scope='module')
def model(tmp_path_factory):
    "A smoke-mode model, trained by the real `boatclf train --synthetic`."
    root = tmp_path_factory.mktemp('review-model')
    r = run(['train', '--synthetic', '--out', root / 'model'], root / 'home')
    assert r.returncode == 0, r.stdout + r.stderr
    return root / 'model'


def make_photos(root, per_class=4):
    "Class folders of small JPEGs, each with its own bytes; one has a file name that is HTML."
    for k, c in enumerate(CLASSES):
        (root / c).mkdir(parents=True)
        for i in range(per_class):
            im = Image.new('RGB', (96, 80), (60 * k + 20, 30 * i + 10, 200 - 40 * k))
            im.paste((255 - 30 * i, 40 * k, 90), (10 + 8 * i, 20, 50 + 8 * i, 60))
            im.save(root / c / f'{c}-{i}.jpg', quality=90)
    (root / 'canoe' / 'canoe-0.jpg').rename(root / 'canoe' / '<script>.jpg')
    return root


def tree(root):
    "Every file under `root` that is not in a hidden folder, and the SHA-256 of its bytes."
    out = {}
    for d, dirs, files in os.walk(root):
        dirs[:] = [x for x in dirs if not x.startswith('.')]
        for f in files: out[(Path(d) / f).relative_to(root).as_posix()] = hashlib.sha256((Path(d) / f).read_bytes()).hexdigest()
    return out


def images_anywhere(root):
    "Every .jpg under `root`, hidden folders included: to count that nothing was deleted."
    return sorted(p.relative_to(root).as_posix() for p in root.rglob('*.jpg'))


@pytest.fixture(scope='module')
def reviewed_once(model, tmp_path_factory):
    "A folder of photos, and the real `boatclf review` run on it once (it writes photos/.review/)."
    photos = make_photos(tmp_path_factory.mktemp('reviewed') / 'photos')
    r = run(['review', model, photos, '--per-class', 4], photos.parent / 'home')
    assert r.returncode == 0, r.stdout + r.stderr
    csv_file = photos / '.review' / 'decisions.csv'
    assert str(csv_file) in r.stdout and 'boatclf apply' in r.stdout, r.stdout
    return photos


@pytest.fixture
def reviewed(reviewed_once, tmp_path):
    "A copy of the reviewed folder for one test: (folder, decisions.csv, home)."
    photos = shutil.copytree(reviewed_once, tmp_path / 'photos', symlinks=True)
    return photos, photos / '.review' / 'decisions.csv', tmp_path / 'home'


def decide(csv_file, decisions, home=None):
    "Decide in this process (the plain function), or with `home` in a new process: what a restarted kernel would see."
    if home is None:
        from boatclf.review import decide as decide_here
        return decide_here(csv_file, decisions)
    r = py(f'from boatclf.review import decide; print(decide({str(csv_file)!r}, {decisions!r}))', home)
    assert r.returncode == 0, r.stderr


def test_page_lists_photos_and_escapes_names(reviewed):
    photos, csv_file, _ = reviewed
    page = (csv_file.parent / 'review.html').read_text()
    assert '&lt;script&gt;.jpg' in page and '<script>' not in page
    assert page.count('data:image/jpeg;base64,') == 12   # 4 per class, thumbnails inside the page
    rows = list(csv.DictReader(open(csv_file, newline='')))
    assert len(rows) == 12 and all(r['decision'] == '' and len(r['sha256']) == 64 for r in rows)


def test_decisions_survive_a_restart(reviewed):
    photos, csv_file, home = reviewed
    decide(csv_file, {'kayak/kayak-1.jpg': 'relabel canoe', 'sailboat/sailboat-2.jpg': 'set aside: a drawing'})
    decide(csv_file, {'kayak/kayak-1.jpg': 'keep'}, home)                 # changed my mind: the last row wins
    code = (f'from boatclf.review import read_decisions; d = read_decisions({str(csv_file)!r}); '
            "print(sorted((k, v['parsed']) for k, v in d.items() if v['parsed']))")
    r = py(code, home)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "[('kayak/kayak-1.jpg', ('keep', '')), ('sailboat/sailboat-2.jpg', ('set aside', 'a drawing'))]", r.stdout


def test_review_again_keeps_decisions(reviewed, model, cli):
    photos, csv_file, home = reviewed
    decide(csv_file, {'canoe/canoe-1.jpg': 'set aside: blurry'})
    r = cli('review', model, photos, '--per-class', 4)
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(open(csv_file, newline='')))
    assert [r['decision'] for r in rows if r['file'] == 'canoe/canoe-1.jpg'] == ['', 'set aside']   # nothing rewritten, nothing lost
    assert 'set aside' in (csv_file.parent / 'review.html').read_text()


def test_apply_then_undo_restores_every_byte(reviewed):
    photos, csv_file, home = reviewed
    decide(csv_file, {'kayak/kayak-1.jpg': 'relabel canoe', 'sailboat/sailboat-2.jpg': 'set aside: a drawing',
                                     'canoe/canoe-2.jpg': 'keep', 'canoe/<script>.jpg': 'relabel sailboat'})
    (photos / 'canoe' / 'kayak-1.jpg').write_bytes(b'another photo, already here')   # the relabelled one must not overwrite it
    before = tree(photos); images = images_anywhere(photos)
    r = run(['apply', photos, csv_file], home)
    assert r.returncode == 0, r.stdout + r.stderr
    after = images_anywhere(photos)
    assert len(after) == len(images)                                                    # nothing deleted
    assert '.rejected/sailboat/sailboat-2.jpg' in after and 'sailboat/<script>.jpg' in after and 'canoe/kayak-1.1.jpg' in after
    assert 'boatclf apply --undo' in r.stdout
    assert 'a drawing' in (photos / '.rejected' / 'report.csv').read_text()
    r = run(['apply', '--undo', photos, csv_file], home)
    assert r.returncode == 0, r.stdout + r.stderr
    assert tree(photos) == before                                                       # every file back, byte for byte
    assert images_anywhere(photos) == images


def test_apply_twice_and_undo_twice_do_nothing_more(reviewed, cli):
    photos, csv_file, home = reviewed
    decide(csv_file, {'kayak/kayak-3.jpg': 'set aside: blurry'})
    before = tree(photos)
    assert cli('apply', photos, csv_file).returncode == 0
    again = cli('apply', photos, csv_file)
    assert again.returncode == 0 and 'done already: it is in .rejected/kayak/kayak-3.jpg' in again.stdout, again.stdout
    assert cli('apply', '--undo', photos, csv_file).returncode == 0
    again = cli('apply', '--undo', photos, csv_file)
    assert again.returncode == 0 and 'in its place already' in again.stdout, again.stdout
    assert tree(photos) == before


def test_a_photo_moved_or_changed_since_is_skipped(reviewed, cli):
    photos, csv_file, home = reviewed
    decide(csv_file, {'kayak/kayak-1.jpg': 'relabel canoe', 'kayak/kayak-2.jpg': 'set aside: dark',
                                     'sailboat/sailboat-1.jpg': 'set aside: dark'})
    (photos / 'kayak' / 'kayak-1.jpg').rename(photos / 'kayak' / 'renamed.jpg')
    with open(photos / 'kayak' / 'kayak-2.jpg', 'ab') as fh: fh.write(b'\0')
    r = cli('apply', photos, csv_file)
    assert r.returncode == 0 and 'Traceback' not in r.stderr, r.stderr
    assert 'skipped kayak/kayak-1.jpg: it is not there any more' in r.stdout, r.stdout
    assert 'skipped kayak/kayak-2.jpg: it has changed since the review' in r.stdout, r.stdout
    assert (photos / 'kayak' / 'renamed.jpg').exists() and (photos / 'kayak' / 'kayak-2.jpg').exists()
    assert (photos / '.rejected' / 'sailboat' / 'sailboat-1.jpg').exists()              # the others are still done


def _hostile(photos, csv_file, tmp_path):
    "Decisions files a stranger could send: (name, bytes), each with a good decision first, so that 'nothing moves' means something."
    good = next(r for r in csv.DictReader(open(csv_file, newline='')) if r['file'] == 'kayak/kayak-3.jpg')
    head = 'file,decision,reason,size,sha256\n' + f"kayak/kayak-3.jpg,set aside,x,{good['size']},{good['sha256']}\n"
    row = lambda f, d='set aside': f"{f},{d},x,{good['size']},{good['sha256']}\n"
    outside = tmp_path / 'secret.jpg'; outside.write_bytes(b'not yours')
    (photos / 'canoe' / 'link.jpg').symlink_to(outside)
    (photos / 'elsewhere').symlink_to(tmp_path, target_is_directory=True)
    return {'dotdot': (head + row('../secret.jpg'), 'is not the path of a photo'),
            'dotdot-inside': (head + row('canoe/../../secret.jpg'), 'is not the path of a photo'),
            'absolute': (head + row(str(outside)), 'is not the path of a photo'),
            'absolute-inside': (head + row(str(photos / 'kayak' / 'kayak-1.jpg')), 'is not the path of a photo'),
            'hidden': (head + row('canoe/.review/decisions.csv'), 'is not the path of a photo'),
            'link-file': (head + row('canoe/link.jpg'), 'is a link'),
            'link-folder': (head + row('elsewhere/secret.jpg'), 'is a link'),
            'relabel-up': (head + row('kayak/kayak-1.jpg', 'relabel ../x'), 'cannot be a class folder name'),
            'relabel-slash': (head + row('kayak/kayak-1.jpg', 'relabel a/b'), 'cannot be a class folder name'),
            'relabel-to-link': (head + row('kayak/kayak-1.jpg', 'relabel elsewhere'), 'no class folder elsewhere/'),
            'unknown-decision': (head + row('kayak/kayak-1.jpg', 'rm -rf'), 'is not a decision'),
            'no-columns': ('name,what\nkayak/kayak-1.jpg,keep\n', "no 'file' and 'decision' columns"),
            'nul': (head.encode() + b'kayak/kayak-1.jpg,ke\0ep\n', 'NUL byte'),
            'latin-1': (head.encode() + 'kayak/kayak-1.jpg,set aside,caf\u00e9\n'.encode('latin-1'), 'is not UTF-8'),
            'huge': (head + 'kayak/kayak-1.jpg,keep\n' * 500_000, 'cap'),
            'huge-field': (head + 'kayak/kayak-1.jpg,keep,"' + 'x' * 200_000 + '"\n', 'not a valid CSV file')}


def test_hostile_decisions_are_refused_and_nothing_moves(reviewed, cli, tmp_path):
    photos, csv_file, home = reviewed
    cases = _hostile(photos, csv_file, tmp_path)
    before = tree(photos)
    for name, (data, words) in cases.items():
        f = tmp_path / f'{name}.csv'
        f.write_bytes(data if isinstance(data, bytes) else data.encode())
        for undo in ([], ['--undo']):
            r = cli('apply', *undo, photos, f)
            assert_user_error(r, words)
            assert tree(photos) == before, name
    assert not (photos / '.rejected').exists() and (tmp_path / 'secret.jpg').read_bytes() == b'not yours'


def test_hostile_decisions_through_the_real_command(reviewed, tmp_path):
    "One of them through the real command: exit 2, one line, no traceback, nothing moved."
    photos, csv_file, home = reviewed
    before = tree(photos)
    f = tmp_path / 'evil.csv'
    f.write_text('file,decision\n../../etc/passwd,set aside\n')
    assert_user_error(run(['apply', photos, f], home), 'is not the path of a photo')
    assert_user_error(run(['apply', photos, tmp_path / 'missing.csv'], home), 'does not exist')
    assert tree(photos) == before


def test_arguments_checked_before_work(model, cli, tmp_path):
    assert_user_error(cli('review', model, tmp_path / 'nowhere'), 'is not a folder')
    assert_user_error(cli('review', model, tmp_path, '--per-class', 0), '--per-class')
    assert_user_error(cli('apply', tmp_path / 'nowhere', tmp_path / 'x.csv'), 'is not a folder')
    assert cli('apply', '--help').returncode == 0


# ---- a stranger's folder: what boatclf finds in it (its own bookkeeping files, links, odd names) never takes it outside ----

def decisions_for(photos, f, items):
    "Write a decisions file `f` for `items` ({photo: decision}), with each photo's real size and SHA-256, as a review would."
    cols = ('file', 'label', 'predicted', 'loss', 'decision', 'reason', 'size', 'sha256', 'time')
    with open(f, 'w', newline='') as fh:
        w = csv.DictWriter(fh, cols); w.writeheader()
        for rel, d in items.items():
            p = photos / rel
            w.writerow(dict(file=rel, label=rel.split('/')[0], decision=d, size=p.stat().st_size,
                            sha256=hashlib.sha256(p.read_bytes()).hexdigest()))
    return f


def everything(root):
    "Every file and link under `root`, hidden ones included, with its bytes (or where a link points)."
    return {p.relative_to(root).as_posix(): (os.readlink(p) if p.is_symlink() else p.read_bytes() if p.is_file() else None)
            for p in sorted(root.rglob('*'))}


@pytest.mark.parametrize('box', ['.moved', '.rejected'])
def test_a_planted_note_of_an_interrupted_move_moves_nothing(reviewed, cli, tmp_path, box):
    "A `.moving.json` (and its report row) naming paths outside the folder: apply and clean refuse it in one line; nothing moves in or out."
    photos, csv_file, home = reviewed
    outside = tmp_path / 'outside'; outside.mkdir(); (outside / 'secret.txt').write_text('yours')
    (photos / 'canoe' / 'payload.jpg').write_bytes(b'a stranger put this here')
    (photos / box).mkdir()
    for dst, src in [(str(outside / 'planted.jpg'), 'canoe/payload.jpg'), ('../outside/planted.jpg', 'canoe/payload.jpg'),
                     ('canoe/stolen.jpg', str(outside / 'secret.txt')), ('canoe/stolen.jpg', '../../outside/secret.txt'),
                     ('canoe/stolen.jpg', 'canoe/canoe-1.jpg/x.jpg')]:   # (through a file: no such place)
        cols = 'file,from,reason,sha256' if box == '.moved' else 'file,reason,from'
        row = f'{dst},{src},x,' if box == '.moved' else f'{dst},x,{src}'
        (photos / box / 'report.csv').write_text(f'{cols}\n{row}\n')
        (photos / box / '.moving.json').write_text(json.dumps({'row': {'file': dst, 'from': src}, 'part': None, 'now': None}))
        before_in, before_out = everything(photos), everything(outside)
        for args in (['apply', photos, decisions_for(photos, tmp_path / 'none.csv', {})], ['clean', photos]):
            assert_user_error(cli(*args), 'is not a note boatclf wrote')
            assert everything(photos) == before_in and everything(outside) == before_out, (dst, src, args)


@pytest.mark.parametrize('plant', ['rejected-link', 'class-link', 'moved-file', 'report-link', 'report-fifo', 'report-columns',
                                   'note-link', 'note-list'])
def test_bookkeeping_that_is_not_boatclfs_is_refused_before_anything_moves(reviewed, cli, tmp_path, plant):
    "Links, files and pipes where boatclf keeps its records: one line, exit 2, before a photo moves; nothing written outside."
    photos, csv_file, home = reviewed
    outside = tmp_path / 'outside'; outside.mkdir(); (outside / 'report.csv').write_text('yours\n'); (outside / 'kayak').mkdir()
    rej, moved = photos / '.rejected', photos / '.moved'
    if plant == 'rejected-link': rej.symlink_to(outside, target_is_directory=True)
    elif plant == 'class-link': rej.mkdir(); (rej / 'kayak').symlink_to(outside / 'kayak', target_is_directory=True)
    elif plant == 'moved-file': moved.write_text('not a folder')
    elif plant == 'report-link': moved.mkdir(); (moved / 'report.csv').symlink_to(outside / 'report.csv')
    elif plant == 'report-fifo': rej.mkdir(); os.mkfifo(rej / 'report.csv')
    elif plant == 'report-columns': rej.mkdir(); (rej / 'report.csv').write_text('name,where\nx,y\n')
    elif plant == 'note-link': moved.mkdir(); (moved / '.moving.json').symlink_to(outside / 'new.json')
    elif plant == 'note-list': moved.mkdir(); (moved / '.moving.json').write_text('[1, 2]')
    f = decisions_for(photos, tmp_path / 'd.csv', {'kayak/kayak-1.jpg': 'set aside: blurry', 'kayak/kayak-2.jpg': 'relabel canoe'})
    before_in, before_out = everything(photos), everything(outside)
    assert_user_error(cli('apply', photos, f))
    assert everything(photos) == before_in and everything(outside) == before_out, plant
    r = cli('apply', '--undo', photos, f)   # refused too, or (a link inside .rejected/ is only refused when a photo goes there) nothing to undo
    assert (r.returncode == 2 or 'moved 0 photos' in r.stdout) and 'Traceback' not in r.stderr, r.stdout + r.stderr
    assert everything(photos) == before_in and everything(outside) == before_out, plant


def test_review_writes_through_no_link(reviewed, model, cli, tmp_path):
    "Links planted in `.review/` (where the page and decisions go) are replaced or refused, never written through."
    photos, csv_file, home = reviewed
    victim = tmp_path / 'victim.txt'; victim.write_text('yours')
    for name in ('.review.html.part', 'review.html', '.decisions.csv.part'):
        (csv_file.parent / name).unlink(missing_ok=True); (csv_file.parent / name).symlink_to(victim)
    assert cli('review', model, photos, '--per-class', 2).returncode == 0
    assert victim.read_text() == 'yours' and not (csv_file.parent / 'review.html').is_symlink()
    csv_file.unlink(); csv_file.symlink_to(victim)
    assert_user_error(cli('review', model, photos, '--per-class', 2), 'is a link')
    shutil.rmtree(csv_file.parent); (photos / '.review').symlink_to(tmp_path, target_is_directory=True)
    assert_user_error(cli('review', model, photos, '--per-class', 2), 'is a link')
    assert victim.read_text() == 'yours' and not (tmp_path / 'review.html').exists()


def test_review_checks_where_it_writes_before_the_slow_part(reviewed, model, cli, tmp_path):
    "--out naming a file, or an earlier decisions file that is not UTF-8: refused before a photo is read."
    photos, csv_file, home = reviewed
    (tmp_path / 'file').write_text('x')
    csv_file.write_bytes(csv_file.read_bytes() + 'canoe/canoe-1.jpg,canoe,,,set aside,caf\u00e9\n'.encode('latin-1'))
    import boatclf.review as review
    def no_slow_part(*a, **kw): raise AssertionError('reviewed photos before checking where to write')
    orig, review.review_folder = review.review_folder, no_slow_part
    try:
        assert_user_error(cli('review', model, photos, '--out', tmp_path / 'file'), 'is a file')
        assert_user_error(cli('review', model, photos), 'is not UTF-8')
    finally: review.review_folder = orig


def test_undo_puts_back_photos_that_shared_a_name(reviewed, cli, tmp_path):
    "kayak/IMG.jpg -> sailboat/, then canoe/IMG.jpg takes its name in kayak/: undo (last decision first) restores both names."
    photos, csv_file, home = reviewed
    (photos / 'canoe' / 'canoe-1.jpg').rename(photos / 'canoe' / 'IMG_0001.jpg')
    (photos / 'kayak' / 'kayak-1.jpg').rename(photos / 'kayak' / 'IMG_0001.jpg')
    f = decisions_for(photos, tmp_path / 'd.csv', {'kayak/IMG_0001.jpg': 'relabel sailboat', 'canoe/IMG_0001.jpg': 'relabel kayak'})
    before = tree(photos)
    assert cli('apply', photos, f).returncode == 0
    assert tree(photos) != before
    assert cli('apply', '--undo', photos, f).returncode == 0
    assert tree(photos) == before


def test_a_size_that_is_not_ascii_digits_is_refused_before_anything_moves(reviewed, cli, tmp_path):
    photos, csv_file, home = reviewed
    f = decisions_for(photos, tmp_path / 'd.csv', {'kayak/kayak-1.jpg': 'set aside: blurry', 'kayak/kayak-2.jpg': 'set aside: dark'})
    f.write_text(f.read_text().replace(f",{(photos / 'kayak' / 'kayak-2.jpg').stat().st_size},", ',\u00b2,'))   # a superscript two: str.isdigit() says yes
    before = everything(photos)
    assert_user_error(cli('apply', photos, f), 'has no size and sha256')
    assert everything(photos) == before


def test_a_photo_name_that_is_not_utf8_is_listed_as_not_reviewed(reviewed, model, cli):
    photos, csv_file, home = reviewed
    odd = photos / 'canoe' / os.fsdecode(b'caf\xe9.jpg')
    shutil.copy(photos / 'canoe' / 'canoe-1.jpg', odd)
    shutil.copy(photos / 'canoe' / 'canoe-1.jpg', photos / 'canoe' / 'a\\b.jpg')   # a backslash: legal on Linux, refused in a decisions file
    r = cli('review', model, photos, '--per-class', 4)
    assert r.returncode == 0 and r.stdout.count('not UTF-8') == 2, r.stdout + r.stderr
    assert 'not UTF-8' in (csv_file.parent / 'review.html').read_text()
    assert cli('apply', photos, csv_file).returncode == 0 and odd.exists()          # the decisions file it wrote can be read back


def test_a_decisions_file_saved_without_its_last_newline_keeps_every_row(reviewed, model, cli):
    "An editor drops the final newline; the next review appends its new rows on new lines: every listed photo has its row."
    photos, csv_file, home = reviewed
    assert cli('review', model, photos, '--per-class', 1).returncode == 0
    csv_file.write_bytes(csv_file.read_bytes().rstrip(b'\r\n'))
    assert cli('review', model, photos, '--per-class', 4).returncode == 0
    rows = list(csv.DictReader(open(csv_file, newline='')))
    assert len({r['file'] for r in rows}) == 12 and all(len(r['sha256']) == 64 for r in rows)


def test_apply_reads_the_reports_once_not_once_per_decision(reviewed, cli, tmp_path, monkeypatch):
    "Photos not in place are looked up in the reports: read once per run (a big report and many decisions stay fast)."
    photos, csv_file, home = reviewed
    items = {f'kayak/kayak-{i}.jpg': 'set aside: x' for i in range(4)} | {f'canoe/canoe-{i}.jpg': 'set aside: y' for i in (1, 2, 3)}
    f = decisions_for(photos, tmp_path / 'd.csv', items)
    assert cli('apply', photos, f).returncode == 0
    import boatclf.review as review, boatclf.clean as clean
    calls = []
    def counted(*a): calls.append(a); return clean._read_report(*a)
    monkeypatch.setattr(review, '_read_report', counted)
    for undo in ([], ['--undo']):
        calls.clear()
        assert cli('apply', *undo, photos, f).returncode == 0
        assert len(calls) == 2, calls   # .moved/ and .rejected/, once each, for 7 decisions

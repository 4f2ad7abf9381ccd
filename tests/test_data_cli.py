"""`boatclf download / clean / pack / unpack`, through boatclf.cli.main, against the loopback server and awkward files."""
import csv, tarfile

from boatclf.cli import main
from boatclf.clean import REJECTED
from boatclf.data import PROVENANCE, image_files
from data_fixtures import EXPECTED, MAX_BYTES, TIMEOUT, boat_server, isolated_home, make_awkward_corpus, tree  # noqa: F401


def _one_line_error(err: str, *words):
    lines = err.strip().splitlines()
    assert len(lines) == 1 and 'Traceback' not in err, err
    for w in words: assert w in lines[0], (w, lines[0])


def test_download_urls_file(tmp_path, boat_server, capsys):
    urls = tmp_path/'urls.txt'
    urls.write_text('# test list\n' + ''.join(f'{boat_server}{p}\n' for p in EXPECTED))
    dest = tmp_path/'photos'
    argv = ['download', '--urls-file', str(urls), '--dest', str(dest), '--timeout', str(TIMEOUT), '--max-mb', str(MAX_BYTES / 1e6)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    good = [p for p, what in EXPECTED.items() if what == 'kept']
    files = [f for f in dest.iterdir() if f.name != PROVENANCE]
    assert len(files) == len(good) == len({f.read_bytes() for f in files})     # the good ones, each once
    for p, what in EXPECTED.items():
        if what not in ('kept', 'duplicate'):
            line = next(l for l in out.splitlines() if l.strip().startswith(boat_server + p + ' '))
            assert what in line, line                                          # each failure with its reason
    assert f'kept {len(good)} new images' in out

    before = tree(dest)
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert 'kept 0 new images' in out and f'{len(good) + 1} URLs were downloaded before' in out
    assert tree(dest) == before                                                # a second run downloads nothing


def test_download_mistakes(tmp_path, capsys):
    assert main(['download', '--urls-file', str(tmp_path/'nope.txt'), '--dest', str(tmp_path/'d')]) == 2
    _one_line_error(capsys.readouterr().err, 'not a file')
    (tmp_path/'u.txt').write_text('canoe\n')
    assert main(['download', '--urls-file', str(tmp_path/'u.txt'), '--dest', str(tmp_path/'d')]) == 2
    _one_line_error(capsys.readouterr().err, 'line 1 of u.txt')
    assert main(['download', '--urls-file', str(tmp_path/'u.txt'), '--classes', 'canoe']) == 2
    _one_line_error(capsys.readouterr().err, '--urls-file')


def test_download_only_failures_is_status_1(tmp_path, boat_server, capsys):
    (tmp_path/'u.txt').write_text(f'{boat_server}/missing.jpg\n{boat_server}/page.jpg\n')
    assert main(['download', '--urls-file', str(tmp_path/'u.txt'), '--dest', str(tmp_path/'d')]) == 1
    assert 'HTTP 404' in capsys.readouterr().out


def test_clean_awkward_corpus(tmp_path, capsys):
    root = tmp_path/'boats'
    expected = make_awkward_corpus(root)
    n_before = len(image_files(root))
    assert main(['clean', str(root)]) == 0
    out = capsys.readouterr().out
    kept = len(image_files(root))
    with open(root/REJECTED/'report.csv', newline='') as fh: reasons = {r['file']: r['reason'] for r in csv.DictReader(fh)}
    in_rejected = [f for f in (root/REJECTED).rglob('*') if f.is_file() and f.name != 'report.csv']
    assert n_before == kept + len(in_rejected) == kept + len(reasons)
    assert all(reasons[p].startswith(what) for p, what in expected.items() if p in reasons)
    assert f'kept {kept}' in out and 'set aside' in out
    after = tree(root)
    assert main(['clean', str(root)]) == 0
    assert tree(root) == after and 'set aside 0' in capsys.readouterr().out


def test_clean_missing_folder(tmp_path, capsys):
    assert main(['clean', str(tmp_path/'nope')]) == 2
    _one_line_error(capsys.readouterr().err, 'not a folder')


def test_pack_unpack(tmp_path, capsys):
    root = tmp_path/'boats'
    make_awkward_corpus(root)
    assert main(['clean', str(root)]) == 0
    out = tmp_path/'boats.tar.gz'
    assert main(['pack', str(root), str(out)]) == 2                         # README.txt is not part of a dataset
    _one_line_error(capsys.readouterr().err, 'README.txt is a file at the top')
    assert not out.exists()
    (root/'README.txt').rename(tmp_path/'README.txt')
    assert main(['pack', str(root), str(out)]) == 0
    assert '.rejected/ is a hidden folder' in capsys.readouterr().out        # says what it left out
    assert main(['unpack', str(out), str(tmp_path/'copy')]) == 0
    assert {k: v for k, v in tree(tmp_path/'copy').items() if k != 'MANIFEST.sha256'} == tree(root, hidden=False)
    capsys.readouterr()

    evil = tmp_path/'evil.tar.gz'
    with tarfile.open(evil, 'w:gz') as tar:
        ti = tarfile.TarInfo('../escaped.txt'); ti.size = 0; tar.addfile(ti)
    assert main(['unpack', str(evil), str(tmp_path/'target')]) == 2
    _one_line_error(capsys.readouterr().err, 'unsafe', "'..'")
    assert not (tmp_path/'escaped.txt').exists() and not (tmp_path/'target').exists()

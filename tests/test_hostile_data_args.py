"""Bad arguments to `download`, `clean`, `pack`, `unpack`: exit 2 with one line, before any network or long work."""
import math

import pytest

from boatclf.cli import main
from boatclf.core import BoatclfError
from boatclf.clean import clean_images
from boatclf.data import download_boats, download_urls
from boatclf.pack import unpack_dataset
from data_fixtures import isolated_home  # noqa: F401 (fixture)


def _status(argv):
    try: return main(argv)
    except SystemExit as e: return e.code


def _one_line(err, *words):
    lines = err.strip().splitlines()
    assert len(lines) == 1 and 'Traceback' not in err, err
    for w in words: assert w in lines[0], (w, lines[0])


@pytest.mark.parametrize('option, value, says', [
    ('--timeout', 'nan', 'must be a number above 0'), ('--timeout', 'inf', 'must be a number above 0'),
    ('--timeout', '0', 'must be a number above 0'), ('--timeout', '-1', 'must be a number above 0'),
    ('--timeout', 'soon', 'is not a number'), ('--max-mb', '0', 'must be a number above 0'), ('--max-mb', 'nan', 'above 0'),
    ('--max-mb', '-5', 'above 0'), ('--threads', '0', 'from 1 to 64'), ('--threads', '65', 'from 1 to 64'),
    ('--threads', '1.5', 'is not a whole number'), ('--per-class', '0', 'whole number from 1'),
    ('--per-class', '-3', 'whole number from 1'),
])
def test_download_numbers(tmp_path, capsys, option, value, says):
    # a URL that would hang if it were ever fetched: the argument must be refused before
    (tmp_path/'u.txt').write_text('canoe\thttp://10.255.255.1/never.jpg\n')
    argv = ['download', '--dest', str(tmp_path/'d'), option, value] + ([] if option == '--per-class' else ['--urls-file', str(tmp_path/'u.txt')])
    assert _status(argv) == 2
    _one_line(capsys.readouterr().err, 'boatclf download: error:', option, says)
    assert not (tmp_path/'d').exists()


@pytest.mark.parametrize('argv, says', [
    (['clean', '{tmp}/nope'], 'is not a folder'), (['clean', '{tmp}/file.txt'], 'is not a folder'),
    (['clean', '{tmp}', '--max-mb', '0'], 'above 0'),
    (['pack', '{tmp}/nope', '{tmp}/out.tar.gz'], 'is not a folder'), (['pack', '{tmp}', '{tmp}/out.zip'], '.tar.gz'),
    (['pack', '{tmp}', '{tmp}'], 'should end in .tar.gz'),
    (['unpack', '{tmp}/nope.tar.gz', '{tmp}/dest'], 'is not a file'), (['unpack', '{tmp}', '{tmp}/dest'], 'is not a file'),
    (['unpack', '{tmp}/file.txt', '{tmp}/file.txt'], 'is a file: give a folder'),
    (['unpack', '{tmp}/file.txt', '{tmp}/dest', '--max-mb', 'inf'], 'above 0'),
])
def test_paths_and_sizes(tmp_path, capsys, argv, says):
    (tmp_path/'file.txt').write_text('x')
    argv = [a.format(tmp=tmp_path) for a in argv]
    assert _status(argv) == 2
    _one_line(capsys.readouterr().err, f'boatclf {argv[0]}: error:', says)
    assert not (tmp_path/'dest').exists() and not list(tmp_path.glob('out*'))


@pytest.mark.parametrize('call, says', [
    (lambda d: download_urls(['http://10.255.255.1/x.jpg'], d, timeout=math.nan), 'timeout must be a number above 0'),
    (lambda d: download_urls(['http://10.255.255.1/x.jpg'], d, timeout=0), 'timeout must be'),
    (lambda d: download_urls(['http://10.255.255.1/x.jpg'], d, threads=0), 'threads must be a whole number from 1 to 64'),
    (lambda d: download_urls(['http://10.255.255.1/x.jpg'], d, max_bytes=-1), 'max_bytes must be'),
    (lambda d: download_boats(('canoe',), 0, d, search_fn=lambda *a, **k: 1 / 0), 'per_class must be'),
    (lambda d: download_boats(('../up',), 5, d, search_fn=lambda *a, **k: 1 / 0), 'cannot be a class folder name'),
    (lambda d: clean_images(d.parent, min_size=0), 'min_size must be'),
    (lambda d: download_urls(['https://example.com/' + 'x' * 5_000_000], d), 'more than a web address can be'),
    (lambda d: unpack_dataset(__file__, d, max_bytes=0), 'max_bytes must be'),
])
def test_library_checks_the_same(tmp_path, call, says):
    with pytest.raises(BoatclfError, match=says) as e: call(tmp_path/'d')
    assert '\n' not in str(e.value)
    assert not (tmp_path/'d').exists()

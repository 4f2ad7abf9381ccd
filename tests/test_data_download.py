"""Search and download (boatclf.data) against a real loopback web server and recorded search results."""
import csv, hashlib, time

import pytest
from PIL import Image
from ddgs.exceptions import DDGSException, RatelimitException

from boatclf.core import BoatclfError
from boatclf.data import (PROVENANCE, PROVENANCE_COLUMNS, SearchFailed, count_images, download_boats, download_urls,
                          image_urls, read_url_list, search_images)
from data_fixtures import EXPECTED, MAX_BYTES, TIMEOUT, boat_server, isolated_home  # noqa: F401 (fixtures)

# Results as ddgs 9 returns them from DDGS().images(): see ddgs.results.ImagesResult
RECORDED = [
    {'title': 'Canoe on a lake', 'image': 'https://images.example.org/canoe1.jpg',
     'thumbnail': 'https://tse3.mm.bing.net/th?id=OIP.1', 'url': 'https://example.org/canoeing', 'height': 1080,
     'width': 1920, 'source': 'Bing'},
    {'title': 'Red canoe', 'image': 'https://images.example.org/canoe2.png',
     'thumbnail': 'https://tse1.mm.bing.net/th?id=OIP.2', 'url': 'https://example.org/red', 'height': '768',
     'width': '1024', 'source': 'Bing'},
    {'title': 'Red canoe (again)', 'image': 'https://images.example.org/canoe1.jpg',
     'thumbnail': 'https://tse3.mm.bing.net/th?id=OIP.1', 'url': 'https://example.org/again', 'height': 1080,
     'width': 1920, 'source': 'Bing'},
    {'title': 'no image key', 'thumbnail': 'https://tse3.mm.bing.net/th?id=OIP.3', 'url': 'https://example.org/x'},
    {'title': 'inline', 'image': 'data:image/jpeg;base64,/9j/4AAQ', 'url': 'https://example.org/y'},
]


def _urls(base, paths): return [base + p for p in paths]


def _provenance(dest):
    with open(dest/PROVENANCE, newline='') as fh: return list(csv.DictReader(fh))


# ---------------------------------------------------------------- search

def test_image_urls_from_recorded_results():
    assert image_urls(RECORDED) == ['https://images.example.org/canoe1.jpg', 'https://images.example.org/canoe2.png']


def test_search_passes_options_and_caches(tmp_path):
    calls = []
    def engine(term, max_results, **options):
        calls.append((term, max_results, options)); return RECORDED
    kw = dict(search_fn=engine, cache_dir=tmp_path, license='Public', safesearch='off')
    assert search_images('canoe', 5, **kw) == image_urls(RECORDED)
    assert calls == [('canoe', 5, {'safesearch': 'off', 'license_image': 'Public'})]
    assert search_images('canoe', 5, **kw) == image_urls(RECORDED)          # from the disk
    assert len(calls) == 1 and len(list(tmp_path.glob('*.json'))) == 1
    search_images('canoe', 5, **kw, use_cache=False)                        # asked again
    assert len(calls) == 2
    assert search_images('canoe', 1, search_fn=engine, cache_dir=tmp_path) == image_urls(RECORDED)[:1]


def test_search_cache_lives_in_boatclf_home(tmp_path, monkeypatch):
    monkeypatch.setenv('BOATCLF_HOME', str(tmp_path))
    search_images('sail boat', 3, search_fn=lambda t, n, **o: RECORDED)
    assert len(list((tmp_path/'cache'/'search').glob('sail-boat-*.json'))) == 1


def test_search_retries_rate_limits_then_succeeds(tmp_path):
    calls = []
    def limited_twice(term, max_results, **options):
        calls.append(time.monotonic())
        if len(calls) == 1: raise RatelimitException('https://duckduckgo.com/i.js 202 Ratelimit')
        if len(calls) == 2: raise DDGSException('https://duckduckgo.com 403 Forbidden')
        return RECORDED
    got = search_images('kayak', 10, search_fn=limited_twice, cache_dir=tmp_path, max_wait=2, backoff=0.05)
    assert got == image_urls(RECORDED) and len(calls) == 3
    assert calls[1] - calls[0] >= 0.04 and calls[2] - calls[1] >= 0.08   # it waited, longer each time


def test_search_gives_up_in_bounded_time_with_ways_forward(tmp_path):
    calls = []
    def always_limited(term, max_results, **options):
        calls.append(1); raise RatelimitException('202 Ratelimit')
    t0 = time.monotonic()
    with pytest.raises(SearchFailed) as e:
        search_images('kayak', 10, search_fn=always_limited, cache_dir=tmp_path, max_wait=0.5, backoff=0.05)
    assert time.monotonic() - t0 < 2
    assert len(calls) >= 3
    msg = str(e.value)
    assert isinstance(e.value, BoatclfError) and '\n' not in msg
    assert 'rate-limiting' in msg and 'boatclf synth' in msg and 'boatclf unpack' in msg
    assert not list(tmp_path.glob('*.json'))                                # failures are not remembered


def test_search_does_not_retry_other_errors(tmp_path):
    calls = []
    def broken(term, max_results, **options):
        calls.append(1); raise DDGSException('No results found.')
    with pytest.raises(SearchFailed, match='No results found'):
        search_images('kayak', 10, search_fn=broken, cache_dir=tmp_path, max_wait=5, backoff=1)
    assert len(calls) == 1


def test_search_rejects_unknown_options(tmp_path):
    with pytest.raises(BoatclfError, match='license'): search_images('x', license='free', cache_dir=tmp_path)
    with pytest.raises(BoatclfError, match='safesearch'): search_images('x', safesearch='strict', cache_dir=tmp_path)


# ---------------------------------------------------------------- URL lists

def test_url_list_formats(tmp_path):
    f = tmp_path/'urls.txt'
    f.write_text('# my list\n\nhttps://a.org/1.jpg\ncanoe\thttps://a.org/2.jpg\nkayak, https://a.org/3.jpg\n'
                 'https://a.org/with,comma.jpg\nhttps://a.org/1.jpg\n')
    assert read_url_list(f) == [('', 'https://a.org/1.jpg'), ('canoe', 'https://a.org/2.jpg'),
                                ('kayak', 'https://a.org/3.jpg'), ('', 'https://a.org/with,comma.jpg')]
    assert read_url_list([('sailboat', 'http://b.org/x.png')]) == [('sailboat', 'http://b.org/x.png')]


@pytest.mark.parametrize('line, says', [('canoe', 'line 2 of urls.txt is not a web address'),
                                        ('ftp://a.org/x.jpg', 'not a web address'),
                                        ('../etc\thttps://a.org/x.jpg', 'cannot be a class folder name')])
def test_url_list_mistakes_are_one_line_errors(tmp_path, line, says):
    f = tmp_path/'urls.txt'; f.write_text(f'https://a.org/ok.jpg\n{line}\n')
    with pytest.raises(BoatclfError, match=says) as e: read_url_list(f)
    assert '\n' not in str(e.value)


def test_missing_url_file(tmp_path):
    with pytest.raises(BoatclfError, match='not a file'): download_urls(tmp_path/'nope.txt', tmp_path/'d')


# ---------------------------------------------------------------- download

def test_download_keeps_exactly_the_good_images_once(tmp_path, boat_server):
    dest = tmp_path/'photos'
    urls = _urls(boat_server, EXPECTED)
    t0 = time.monotonic()
    res = download_urls(urls, dest, timeout=TIMEOUT, max_bytes=MAX_BYTES, progress=False)
    assert time.monotonic() - t0 < 5 * TIMEOUT + 3
    kept_paths = [p for p, what in EXPECTED.items() if what == 'kept']
    files = sorted(p for p in dest.iterdir() if p.name != PROVENANCE)
    assert len(res.kept) == len(files) == len(kept_paths)
    for f in files:                                  # named by content; a real, whole image; extension from content
        data = f.read_bytes()
        assert f.stem == hashlib.sha256(data).hexdigest()[:16]
        with Image.open(f) as im:
            im.load()
            assert f.suffix == {'JPEG': '.jpg', 'PNG': '.png', 'WEBP': '.webp'}[im.format]
    assert sorted(f.suffix for f in files) == ['.jpg', '.jpg', '.png', '.png', '.png', '.webp']
    assert [u for u, _ in res.duplicates] == [boat_server + '/copy-b.jpg']
    failed = {u[len(boat_server):]: why for u, why in res.failed}
    assert set(failed) == {p for p, what in EXPECTED.items() if what not in ('kept', 'duplicate')}
    for p, why in failed.items(): assert why.startswith(EXPECTED[p]), (p, why)
    text = repr(res)
    assert 'failed' in text and all(boat_server + p in text for p in failed)

    rows = _provenance(dest)
    assert tuple(rows[0]) == PROVENANCE_COLUMNS
    assert sorted(r['url'][len(boat_server):] for r in rows) == sorted(kept_paths + ['/copy-b.jpg'])
    by_url = {r['url'][len(boat_server):]: r for r in rows}
    assert by_url['/copy-a.jpg']['file'] == by_url['/copy-b.jpg']['file']
    for r in rows:
        f = dest/r['file']
        assert hashlib.sha256(f.read_bytes()).hexdigest() == r['sha256'] and int(r['bytes']) == f.stat().st_size
        assert Image.open(f).size == (int(r['width']), int(r['height'])) and r['time'] and r['class'] == ''
    assert by_url['/redirect.jpg']['width'] == '150'

    before = {f.name: f.read_bytes() for f in dest.iterdir()}
    again = download_urls(urls, dest, timeout=TIMEOUT, max_bytes=MAX_BYTES, progress=False)
    assert again.kept == [] and again.duplicates == []
    assert sorted(again.skipped) == sorted(r['url'] for r in rows)
    assert {f.name: f.read_bytes() for f in dest.iterdir()} == before


def test_download_into_class_folders(tmp_path, boat_server):
    f = tmp_path/'urls.txt'
    f.write_text(f'canoe\t{boat_server}/good.jpg\nkayak,{boat_server}/good.png\nkayak\t{boat_server}/copy-a.jpg\n'
                 f'sailboat\t{boat_server}/copy-b.jpg\n{boat_server}/good.webp\n')
    res = download_urls(f, tmp_path/'d', timeout=TIMEOUT, progress=False)
    assert not res.failed
    assert count_images(tmp_path/'d'/'canoe') == 1 and count_images(tmp_path/'d'/'kayak') == 2
    assert count_images(tmp_path/'d') == 1 and not (tmp_path/'d'/'sailboat').exists()     # stored once
    assert {r['class'] for r in _provenance(tmp_path/'d')} == {'canoe', 'kayak', 'sailboat', ''}


def test_download_into_a_file_is_a_mistake(tmp_path, boat_server):
    (tmp_path/'f').write_text('x')
    with pytest.raises(BoatclfError, match='is a file'): download_urls([boat_server + '/good.jpg'], tmp_path/'f')


def test_download_boats_from_recorded_search(tmp_path, boat_server, capsys):
    pages = {'canoe': ['/page.jpg', '/good.jpg', '/missing.jpg', '/good.png', '/good.webp', '/copy-a.jpg'],
             'kayak': ['/error.jpg', '/wrongtype.png', '/copy-a.jpg', '/redirect.jpg', '/copy-b.jpg']}
    searched = []
    def engine(term, max_results, **options):
        searched.append(term)
        cls = term.split()[0]
        return [{'title': p, 'image': boat_server + p, 'thumbnail': '', 'url': '', 'source': 'Bing'} for p in pages[cls]]
    dest = tmp_path/'boats'
    res = download_boats(('canoe', 'kayak'), 2, dest, search_fn=engine, timeout=TIMEOUT, threads=4)
    assert searched == ['canoe boat photo', 'kayak boat photo']
    assert count_images(dest/'canoe') >= 2 and count_images(dest/'kayak') >= 2
    assert {r['query'] for r in _provenance(dest)} == {'canoe boat photo', 'kayak boat photo'}
    assert 'failed' in capsys.readouterr().out and res.failed
    again = download_boats(('canoe', 'kayak'), 2, dest, search_fn=engine, timeout=TIMEOUT)
    assert len(searched) == 2 and again.kept == [] and again.failed == []     # nothing searched, nothing fetched

"""Copies, as files: distinct pictures that look alike are kept, true near-copies are set aside, doubtful pairs are listed."""
import csv, io, itertools

import pytest
from PIL import Image

from boatclf.clean import (COPY_SCORE, DOUBT_SCORE, NEAR_COPIES, REJECTED, _cropped, clean_images, copy_score, dataset_report,
                           file_fingerprint, lookalikes)
from boatclf.data import image_files
from data_fixtures import isolated_home  # noqa: F401 (fixture)


def _save(im, f, fmt):
    f.parent.mkdir(parents=True, exist_ok=True)
    im.save(f, fmt, **({'quality': 90} if fmt == 'JPEG' else {}))


@pytest.fixture(scope='module')
def pics():
    return lookalikes()


def test_scores_measured_on_files(tmp_path, pics):
    "The thresholds hold for pictures saved as files and read back (JPEG for copies), as clean_images sees them."
    for name, im in pics.items(): _save(im, tmp_path/'orig'/f'{name}.png', 'PNG')
    fp = {n: file_fingerprint(tmp_path/'orig'/f'{n}.png') for n in pics}
    worst_copy = 0
    for (n, im), (how, make) in itertools.product(pics.items(), NEAR_COPIES.items()):
        f = tmp_path/'copies'/f'{n}-{how}.jpg'
        _save(make(im), f, 'JPEG')
        worst_copy = max(worst_copy, copy_score(fp[n], file_fingerprint(f)))
    closest = min(copy_score(fp[a], fp[b]) for a, b in itertools.combinations(pics, 2))
    assert worst_copy <= COPY_SCORE < DOUBT_SCORE < closest, (worst_copy, closest)


def test_clean_sets_aside_only_true_copies(tmp_path, pics):
    root = tmp_path/'boats'
    names = list(pics)
    for i, (name, im) in enumerate(pics.items()): _save(im, root/('canoe' if i % 2 else 'kayak')/f'{name}.png', 'PNG')
    copies = {}                              # copy file -> the picture it copies, some in the same class, some in the other
    for i, (name, how) in enumerate(zip(names, itertools.cycle(NEAR_COPIES))):
        if i % 3: continue
        cls = ('canoe', 'kayak')[i % 2 if i % 6 else 1 - i % 2]
        f = root/cls/f'copy-of-{name}.jpg'
        _save(NEAR_COPIES[how](pics[name]), f, 'JPEG'); copies[f'{cls}/{f.name}'] = name
    s = clean_images(root, progress=False)
    with open(root/REJECTED/'report.csv', newline='') as fh: rejected = {r['file']: r['reason'] for r in csv.DictReader(fh)}
    assert len(rejected) == len(copies)
    for f, name in copies.items():      # one of each pair is set aside (the bigger stays; of two the same size, the first by name)
        original = next(p for p in (f'canoe/{name}.png', f'kayak/{name}.png') if (root/p).exists() or p in rejected)
        assert (f in rejected) != (original in rejected), (f, original)
        moved, kept = (f, original) if f in rejected else (original, f)
        assert rejected[moved].endswith(f'same picture as {kept}') or f'same picture as {kept},' in rejected[moved]
    assert any(r.startswith('duplicate across classes') for r in rejected.values())
    assert len(image_files(root)) == len(pics) and s.doubtful == []           # every distinct picture kept


def test_doubtful_pairs_are_listed_not_moved(tmp_path, pics):
    root = tmp_path/'boats'
    night, photo = pics['night-0'], pics['photo-1']
    pairs = {'night': (night, _cropped(night, 0.08)), 'photo': (photo, photo.crop((20, 0, photo.width, photo.height)))}
    for name, (a, b) in pairs.items():
        _save(a, root/'canoe'/f'{name}.png', 'PNG'); _save(b, root/'canoe'/f'{name}-changed.png', 'PNG')
        score = copy_score(file_fingerprint(root/'canoe'/f'{name}.png'), file_fingerprint(root/'canoe'/f'{name}-changed.png'))
        assert COPY_SCORE < score <= DOUBT_SCORE, (name, score)              # in the doubtful band
    s = clean_images(root, progress=False)
    assert s.rejected == [] and len(image_files(root)) == 4                   # nothing moved
    assert sorted((a, b) for a, b, _ in s.doubtful) == [('canoe/night-changed.png', 'canoe/night.png'),
                                                        ('canoe/photo-changed.png', 'canoe/photo.png')]
    assert '2 pairs look alike' in repr(s) and 'doubtful.csv' in repr(s)
    with open(root/REJECTED/'doubtful.csv', newline='') as fh: listed = list(csv.DictReader(fh))
    assert [(r['file'], r['looks like']) for r in listed] == [(a, b) for a, b, _ in s.doubtful]
    rep = dataset_report(root, show=False)
    assert rep.duplicates == [] and [(a, b) for a, b, _ in rep.doubtful] == [(a, b) for a, b, _ in s.doubtful]
    assert 'look-alikes (maybe copies, maybe not): 2' in repr(rep)


def test_solid_colours_of_one_hue_are_copies(tmp_path):
    "A colour and the same colour 8% brighter cannot be told from a copy made brighter: the one case that must be called a copy."
    root = tmp_path/'boats'
    _save(Image.new('RGB', (200, 150), (200, 40, 40)), root/'canoe'/'red.png', 'PNG')
    _save(Image.new('RGB', (100, 75), (216, 43, 43)), root/'canoe'/'red-small.png', 'PNG')
    _save(Image.new('RGB', (200, 150), (40, 40, 200)), root/'canoe'/'blue.png', 'PNG')
    s = clean_images(root, progress=False)
    assert [f for f, _ in s.rejected] == ['canoe/red-small.png']


def test_fingerprint_of_a_photo_is_stable_across_formats(tmp_path, pics):
    im = pics['photo-0']
    for fmt in ('PNG', 'JPEG', 'WEBP', 'BMP', 'TIFF'):
        buf = io.BytesIO(); im.save(buf, fmt); (tmp_path/f'a.{fmt.lower()}').write_bytes(buf.getvalue())
    fps = [file_fingerprint(f) for f in sorted(tmp_path.iterdir())]
    assert max(copy_score(a, b) for a, b in itertools.combinations(fps, 2)) <= COPY_SCORE / 2

"""clean_images and dataset_report (boatclf.clean) on a corpus of awkward files: nothing deleted, a second run changes nothing."""
import csv, shutil

import matplotlib
matplotlib.use('Agg')
import numpy as np
import pytest
from PIL import Image

from boatclf.core import BoatclfError
from boatclf.clean import ORIGINALS, REJECTED, clean_images, dataset_report
from boatclf.data import image_files, show_samples
from data_fixtures import isolated_home, make_awkward_corpus, photo, tree  # noqa: F401


@pytest.fixture
def corpus(tmp_path):
    root = tmp_path/'boats'
    expected = make_awkward_corpus(root)
    return root, expected, tree(root)


def _report(root):
    with open(root/REJECTED/'report.csv', newline='') as fh: return {r['file']: r['reason'] for r in csv.DictReader(fh)}


def test_clean_sorts_every_file(corpus):
    root, expected, before = corpus
    images_before = [f.relative_to(root).as_posix() for f in image_files(root)]
    assert sorted(images_before) == sorted(expected)
    s = clean_images(root, progress=False)

    kept = [f.relative_to(root).as_posix() for f in image_files(root)]
    rejected_files = sorted(f.relative_to(root/REJECTED).as_posix() for f in (root/REJECTED).rglob('*')
                            if f.is_file() and f.name != 'report.csv')
    assert s.checked == len(images_before) == len(kept) + len(rejected_files)       # files before = kept + set aside
    assert s.kept == len(kept) and len(s.rejected) == len(rejected_files)

    reasons = _report(root)
    assert sorted(reasons) == rejected_files == sorted(p for p, what in expected.items() if what not in ('unchanged', 'converted'))
    for p, why in reasons.items():
        assert why.startswith(expected[p] + ':'), (p, why)
        assert (root/REJECTED/p).read_bytes() == before[p]                             # moved as it was
    assert 'kayak/big-in-kayak.png' in reasons and 'canoe/big.jpg' in reasons['kayak/big-in-kayak.png']
    assert 'canoe/big.jpg' in reasons['canoe/big-small-copy.jpg']

    for p, what in expected.items():
        if what == 'unchanged': assert (root/p).read_bytes() == before[p]
        if what == 'converted':
            now = 'kayak/animated.png' if p.endswith('.gif') else p
            with Image.open(root/now) as im:
                im.load()
                assert im.mode == 'RGB' and getattr(im, 'n_frames', 1) == 1 and im.getexif().get(0x0112, 1) == 1, p
            assert (root/ORIGINALS/p).read_bytes() == before[p]                        # original kept
    assert sorted(now for now, _ in s.converted) == sorted(
        'kayak/animated.png' if p.endswith('.gif') else p for p, what in expected.items() if what == 'converted')
    assert (root/'README.txt').read_bytes() == before['README.txt']
    assert (root/'.cache'/'hidden.jpg').read_bytes() == before['.cache/hidden.jpg']
    assert 'set aside 8' in repr(s) and 'too small' in repr(s)


def test_conversions_are_right(corpus):
    root, _, _ = corpus
    orig_first = Image.open(root/'kayak'/'animated.gif').convert('RGB')
    clean_images(root, progress=False)
    assert Image.open(root/'kayak'/'rotated.jpg').size == (100, 200)                  # EXIF "rotate 90" applied
    assert Image.open(root/'canoe'/'palette.png').getpixel((0, 0)) == (255, 255, 255)   # transparent -> white
    a = np.asarray(Image.open(root/'kayak'/'sixteen.png'))
    assert a.dtype == np.uint8 and a[0, 0, 0] == 0 and a[-1, -1, 0] == 255 and 120 < a[40, 50, 0] < 135  # scaled, not clipped
    cmyk = np.asarray(Image.open(root/'canoe'/'cmyk.jpg'), dtype=float)
    ref = np.asarray(photo(200, 150, 13, 'CMYK').convert('RGB'), dtype=float)
    assert np.abs(cmyk - ref).mean() < 8
    first = np.asarray(Image.open(root/'kayak'/'animated.png'), dtype=float)
    assert np.abs(first - np.asarray(orig_first, dtype=float)).mean() < 1
    assert Image.open(root/'canoe'/'gray.jpg').mode == 'RGB'


def test_second_run_changes_nothing(corpus):
    root, _, _ = corpus
    first = clean_images(root, progress=False)
    after = tree(root)
    second = clean_images(root, progress=False)
    assert tree(root) == after
    assert (second.checked, second.kept, second.rejected, second.converted) == (first.kept, first.kept, [], [])


def test_nothing_is_deleted(corpus):
    root, _, before = corpus
    clean_images(root, progress=False)
    after = tree(root)
    everything_now = set(after.values())
    for p, data in before.items(): assert data in everything_now, f'{p} is gone'


def test_rejected_name_already_taken(tmp_path):
    root = tmp_path/'d'; (root/'canoe').mkdir(parents=True)
    (root/'canoe'/'x.jpg').write_text('not an image, first')
    clean_images(root, progress=False)
    (root/'canoe'/'x.jpg').write_text('not an image, second')
    clean_images(root, progress=False)
    assert (root/REJECTED/'canoe'/'x.jpg').read_text() == 'not an image, first'
    assert (root/REJECTED/'canoe'/'x.1.jpg').read_text() == 'not an image, second'
    assert sorted(_report(root)) == ['canoe/x.1.jpg', 'canoe/x.jpg']


def test_clean_missing_folder(tmp_path):
    with pytest.raises(BoatclfError, match='not a folder'): clean_images(tmp_path/'nope')


def test_dataset_report(corpus):
    root, _, _ = corpus
    dirty = root.parent/'dirty'
    shutil.copytree(root, dirty)
    rep = dataset_report(dirty, show=False)
    assert ('canoe/big-small-copy.jpg', 'canoe/big.jpg') in [(a, b) for a, b, _ in rep.duplicates]
    clean_images(root, progress=False)
    rep = dataset_report(root, show=False)
    assert rep.counts == {'canoe': 5, 'kayak': 4}
    assert rep.duplicates == [] and rep.rejected['not an image'] == 2 and rep.rejected['duplicate across classes'] == 1
    assert len(rep.sizes) == 9 and rep.sizes['width'].min() >= 64
    text = repr(rep)
    assert 'canoe: 5' in text and 'width: min' in text
    fig = show_samples(root, n=3)
    assert len(fig.axes) == 6

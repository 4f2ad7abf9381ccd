"""One answer to "which files are images" (boatclf.data.is_image_file): download, clean, the DataBlock, predict/evaluate
and pack all list the same files, whatever the OS's mime table says."""
import pytest
import mimetypes

from PIL import Image

from boatclf.data import IMAGE_EXTS, count_images, image_files, is_image_file

IMAGES = ['a.jpg', 'b.JPEG', 'c.png', 'd.webp', 'e.gif', 'f.bmp', 'g.tiff', 'h.jfif', 'i.tif']
OTHERS = ['j.svg', 'k.heic', 'l.avif', 'm.txt', 'n.py', 'jpg', 'o.jpg.txt', '.p.jpg', '.q.jpg.part']


def _folder(root):
    "Two class folders, each with every name above: images are real (Pillow), the rest hold a few bytes."
    for cls in ('canoe', 'kayak'):
        (root/cls).mkdir(parents=True)
        for name in IMAGES: _save(root/cls/name)
        for name in OTHERS: (root/cls/name).write_bytes(b'<svg></svg>')
    return root


def _save(f):
    fmt = {'.jpg': 'JPEG', '.jpeg': 'JPEG', '.jfif': 'JPEG', '.png': 'PNG', '.webp': 'WEBP', '.gif': 'GIF', '.bmp': 'BMP',
           '.tiff': 'TIFF', '.tif': 'TIFF'}[f.suffix.lower()]
    Image.new('RGB', (80, 80), 'tomato').save(f, fmt)


def test_the_predicate():
    assert all(is_image_file(n) for n in IMAGES) and not any(is_image_file(n) for n in OTHERS[:-2])
    assert {e for e in IMAGE_EXTS} >= {'.jpg', '.jpeg', '.png', '.webp'} and '.svg' not in IMAGE_EXTS


def test_everyone_lists_the_same_files(tmp_path, monkeypatch):
    # a computer whose mime table does not know .webp (and .bmp): nothing in boatclf may depend on it
    monkeypatch.setattr(mimetypes, 'types_map', {k: v for k, v in mimetypes.types_map.items() if k not in ('.webp', '.bmp')})
    root = _folder(tmp_path/'boats')
    want = sorted(f'{c}/{n}' for c in ('canoe', 'kayak') for n in IMAGES)
    rel = lambda files: sorted(f.relative_to(root).as_posix() for f in files)
    assert rel(image_files(root)) == want
    assert count_images(root/'canoe') == len(IMAGES)                              # download counts what it has
    from boatclf.datablock import ClassFolders, class_folders                    # the DataBlock trains on
    assert rel(ClassFolders(class_folders(root)).items(root)) == want
    from boatclf.interpret import image_list                                     # predict / evaluate look at
    assert rel(image_list([root])) == want
    from boatclf.pack import dataset_path_problem                                # pack / unpack carry
    assert [n for n in IMAGES + OTHERS if not n.startswith('.') and dataset_path_problem(f'canoe/{n}') is None] == IMAGES
    from boatclf.clean import clean_images                                       # clean checks
    s = clean_images(root, min_size=8, progress=False, duplicates=False)
    assert s.checked == len(want) and s.kept == len(want)


def test_show_samples_shows_a_dirty_folder_and_names_an_empty_one(tmp_path):
    "Before cleaning, a folder may hold a half-downloaded JPEG or an HTML page called .jpg: the grid still appears."
    import matplotlib; matplotlib.use('Agg')
    from PIL import Image
    from boatclf.core import BoatclfError
    from boatclf.data import show_samples
    (tmp_path/'d'/'canoe').mkdir(parents=True)
    Image.new('RGB', (90, 80), 'red').save(tmp_path/'d'/'canoe'/'a.jpg')
    good = (tmp_path/'d'/'canoe'/'a.jpg').read_bytes()
    (tmp_path/'d'/'canoe'/'b.jpg').write_bytes(good[:len(good) // 2]); (tmp_path/'d'/'canoe'/'c.jpg').write_text('<html>')
    fig = show_samples(tmp_path/'d', n=3)
    assert sum('cannot show' in t.get_text() for ax in fig.axes for t in ax.texts) == 2
    (tmp_path/'e').mkdir()
    with pytest.raises(BoatclfError, match='has no images to show'): show_samples(tmp_path/'e')

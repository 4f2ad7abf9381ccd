"""pack_dataset / unpack_dataset (boatclf.pack): a faithful round trip, and hostile archives refused with nothing written."""
import hashlib, io, os, tarfile

import pytest

from boatclf.core import BoatclfError
from boatclf.pack import MANIFEST, pack_dataset, unpack_dataset
from data_fixtures import encode, isolated_home, photo, tree  # noqa: F401


@pytest.fixture
def dataset(tmp_path):
    root = tmp_path/'boats'
    for i, cls in enumerate(('canoe', 'kayak', 'sail boat')):
        (root/cls).mkdir(parents=True)
        for j in range(3): photo(120, 90, 10 * i + j).save(root/cls/f'{cls}_{j}.jpg')
    (root/'provenance.csv').write_text('url,query\nhttps://a.org/x.jpg,canoe\n')
    (root/'.rejected').mkdir(); (root/'.rejected'/'junk.jpg').write_text('set aside')
    (root/'canoe'/'.hidden.jpg').write_text('hidden')
    return root


def _visible(p): return {k: v for k, v in tree(p, hidden=False).items() if k != MANIFEST}


def test_round_trip(dataset, tmp_path):
    out = pack_dataset(dataset, tmp_path/'boats.tar.gz', progress=False)
    with tarfile.open(out) as tar:
        names = tar.getnames()
        manifest = tar.extractfile(MANIFEST).read().decode()
    assert names[0] == MANIFEST and not any(n.startswith('.') or '/.' in n for n in names)
    listed = dict(reversed(line.split('  ', 1)) for line in manifest.splitlines())
    assert listed == {k: hashlib.sha256(v).hexdigest() for k, v in _visible(dataset).items()}

    dest = unpack_dataset(out, tmp_path/'copy', progress=False)
    assert _visible(dest) == _visible(dataset)
    assert (dest/MANIFEST).read_text() == manifest
    assert not [p for p in dest.iterdir() if p.name.startswith('.')]       # no staging folder left behind
    unpack_dataset(out, dest, progress=False)                               # again: nothing to do, no error
    assert _visible(dest) == _visible(dataset)


def test_pack_inside_the_folder_it_packs(dataset):
    out = pack_dataset(dataset, dataset/'boats.tar.gz', progress=False)
    with tarfile.open(out) as tar: assert 'boats.tar.gz' not in tar.getnames()


def test_pack_mistakes(dataset, tmp_path):
    with pytest.raises(BoatclfError, match='.tar.gz'): pack_dataset(dataset, tmp_path/'boats.zip')
    with pytest.raises(BoatclfError, match='not a folder'): pack_dataset(tmp_path/'nope', tmp_path/'x.tar.gz')


def test_unpack_never_overwrites_a_different_file(dataset, tmp_path):
    out = pack_dataset(dataset, tmp_path/'boats.tar.gz', progress=False)
    dest = tmp_path/'mine'; (dest/'canoe').mkdir(parents=True)
    (dest/'canoe'/'canoe_0.jpg').write_bytes(b'my own photo')
    with pytest.raises(BoatclfError, match='already exists and differs'): unpack_dataset(out, dest, progress=False)
    assert tree(dest) == {'canoe/canoe_0.jpg': b'my own photo'}


def _archive(path, members, manifest=True):
    "Write a .tar.gz with `members`: (TarInfo, bytes or None); with a correct manifest of the regular files."
    with tarfile.open(path, 'w:gz') as tar:
        if manifest:
            lines = ''.join(f'{hashlib.sha256(data).hexdigest()}  {ti.name}\n' for ti, data in members if ti.isfile())
            m = tarfile.TarInfo(MANIFEST); m.size = len(lines); tar.addfile(m, io.BytesIO(lines.encode()))
        for ti, data in members:
            if data is not None: ti.size = len(data)
            tar.addfile(ti, io.BytesIO(data) if data is not None else None)
    return path


JPEG_MAGIC = b'\xff\xd8\xff\xe0'   # the first bytes of a JPEG: enough for an image name to be accepted as one


def _file(name, data=JPEG_MAGIC + b'payload'):
    return tarfile.TarInfo(name), data


def _special(name, kind, target=''):
    ti = tarfile.TarInfo(name); ti.type = kind; ti.linkname = target
    return ti, None


def _everything_outside(tmp_path, target):
    return sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob('*') if target not in p.parents and p != target)


HOSTILE = {
    'absolute': (lambda outside: [_file('canoe/ok.jpg', encode(photo(80, 80, 1), 'JPEG')), _file(str(outside/'abs.txt'))], 'absolute path'),
    'dotdot': (lambda outside: [_file('canoe/../../up.txt')], "'..'"),
    'symlink': (lambda outside: [_special('canoe/link.jpg', tarfile.SYMTYPE, str(outside/'target.txt'))], 'is a link'),
    'hardlink': (lambda outside: [_file('canoe/a.jpg'), _special('canoe/hard.jpg', tarfile.LNKTYPE, 'canoe/a.jpg')], 'is a link'),
    'fifo': (lambda outside: [_special('canoe/pipe', tarfile.FIFOTYPE)], 'device file or a pipe'),
    'device': (lambda outside: [_special('canoe/disk', tarfile.BLKTYPE)], 'device file or a pipe'),
    'chardev': (lambda outside: [_special('canoe/tty', tarfile.CHRTYPE)], 'device file or a pipe'),
}


@pytest.mark.parametrize('kind', list(HOSTILE))
def test_hostile_archive_is_refused_and_writes_nothing(tmp_path, kind):
    make, says = HOSTILE[kind]
    outside = tmp_path/'outside'; outside.mkdir()
    archive = _archive(tmp_path/'evil.tar.gz', make(outside))
    target = tmp_path/'box'/'target'
    before = _everything_outside(tmp_path, target)
    with pytest.raises(BoatclfError, match='unsafe') as e: unpack_dataset(archive, target, progress=False)
    msg = str(e.value)
    assert says in msg and 'nothing was unpacked' in msg and '\n' not in msg
    assert _everything_outside(tmp_path, target) == before
    assert not target.exists()


def test_tampered_file_is_refused(tmp_path):
    good = encode(photo(80, 80, 2), 'JPEG')
    lines = f'{hashlib.sha256(good).hexdigest()}  canoe/a.jpg\n'.encode()
    with tarfile.open(tmp_path/'t.tar.gz', 'w:gz') as tar:
        m = tarfile.TarInfo(MANIFEST); m.size = len(lines); tar.addfile(m, io.BytesIO(lines))
        bad = good[:-10] + b'0123456789'
        ti = tarfile.TarInfo('canoe/a.jpg'); ti.size = len(bad); tar.addfile(ti, io.BytesIO(bad))
    target = tmp_path/'new'/'target'
    with pytest.raises(BoatclfError, match='does not match its SHA-256'): unpack_dataset(tmp_path/'t.tar.gz', target, progress=False)
    assert not (tmp_path/'new').exists()                                  # not even the folders it had made


@pytest.mark.parametrize('case, says', [('no-manifest', 'no MANIFEST'), ('extra', 'not in the manifest'),
                                        ('not-tar', 'not a readable'), ('truncated', 'damaged')])
def test_broken_archives_are_refused(tmp_path, case, says):
    f = tmp_path/'a.tar.gz'
    if case == 'no-manifest': _archive(f, [_file('canoe/a.jpg')], manifest=False)
    if case == 'extra':
        _archive(f, [_file('canoe/a.jpg')])
        with tarfile.open(f, 'r:gz') as src, tarfile.open(tmp_path/'b.tar.gz', 'w:gz') as dst:
            for m in src.getmembers(): dst.addfile(m, src.extractfile(m))
            ti, data = _file('kayak/sneaky.jpg'); ti.size = len(data); dst.addfile(ti, io.BytesIO(data))
        os.replace(tmp_path/'b.tar.gz', f)
    if case == 'not-tar': f.write_text('hello')
    if case == 'truncated':
        _archive(f, [_file(f'canoe/{i}.jpg', JPEG_MAGIC + os.urandom(50_000)) for i in range(4)])
        f.write_bytes(f.read_bytes()[:60_000])
    target = tmp_path/'target'
    with pytest.raises(BoatclfError, match=says): unpack_dataset(f, target, progress=False)
    assert not target.exists()

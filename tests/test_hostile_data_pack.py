"""Archives that carry more than a dataset: each refused with one line, nothing written anywhere; pack refuses the same."""
import gzip, hashlib, io, os, tarfile, time

import pytest

from boatclf.cli import main
from boatclf.core import BoatclfError
from boatclf.pack import MANIFEST, pack_dataset, unpack_dataset
from data_fixtures import encode, isolated_home, photo, tree  # noqa: F401 (fixture)

JPEG = encode(photo(80, 60, 1), 'JPEG')


def _member(name, data=JPEG, kind=tarfile.REGTYPE, link=''):
    ti = tarfile.TarInfo(name); ti.type, ti.linkname = kind, link
    if kind == tarfile.REGTYPE: ti.size = len(data)
    return ti, data if kind == tarfile.REGTYPE else None


def _archive(path, members, manifest=True, level=6):
    "A .tar.gz of `members` ((TarInfo, bytes, a file or None)), with a correct manifest of its regular files first."
    with tarfile.open(path, 'w:gz', compresslevel=level, format=tarfile.PAX_FORMAT) as tar:
        if manifest:
            lines = ''.join(f'{hashlib.sha256(d).hexdigest()}  {ti.name}\n' for ti, d in members if isinstance(d, bytes)).encode()
            m = tarfile.TarInfo(MANIFEST); m.size = len(lines); tar.addfile(m, io.BytesIO(lines))
        for ti, d in members: tar.addfile(ti, io.BytesIO(d) if isinstance(d, bytes) else d)
    return path


def _zeros_member(name, size):
    "A member of `size` bytes, a JPEG's first bytes then zeros, streamed: never all in memory."
    class Zeros(io.RawIOBase):
        left = size - 4; head = b'\xff\xd8\xff\xe0'
        def readable(self): return True
        def readinto(self, b):
            n = min(len(b), len(self.head) + self.left)
            chunk = (self.head + bytes(n))[:n]; b[:n] = chunk
            used = min(n, len(self.head)); self.head = self.head[used:]; self.left -= n - used
            return n
    ti = tarfile.TarInfo(name); ti.size = size
    return ti, Zeros()


def _everything(tmp_path):
    return {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob('*') if not p.name.endswith('.tar.gz')}


def _refused(tmp_path, archive, says, dest=None, **kw):
    "Unpack `archive`: must be refused with one line containing `says`, and write nothing anywhere."
    dest = dest or tmp_path/'box'/'dest'
    before = _everything(tmp_path)
    with pytest.raises(BoatclfError) as e: unpack_dataset(archive, dest, progress=False, **kw)
    msg = str(e.value)
    assert says in msg and '\n' not in msg, msg
    assert _everything(tmp_path) == before                                  # nothing written, in dest or beside it
    return msg


HOSTILE = {   # name: (members, what the one line says)
    'absolute': (lambda out: [_member('canoe/ok.jpg'), _member(f'{out}/abs.jpg')], 'absolute path'),
    'dotdot': (lambda out: [_member('canoe/../../outside/up.jpg')], "'..'"),
    'hidden file': (lambda out: [_member('canoe/ok.jpg'), _member('canoe/.bash_aliases', b'alias ls="rm -rf ~"\n')], 'hidden'),
    'hidden at top': (lambda out: [_member('.bash_aliases', b'alias ls=x\n')], 'hidden'),
    'ipython startup': (lambda out: [_member('.ipython/profile_default/startup/00-x.py', b'import os\n')], 'hidden'),
    'numpy.py in a class': (lambda out: [_member('canoe/numpy.py', b'import os\n')], 'not an image file'),
    'numpy.py at top': (lambda out: [_member('numpy.py', b'import os\n')], 'at the top'),
    'pth file': (lambda out: [_member('canoe/x.pth', b'import os\n')], 'not an image file'),
    'page named .jpg': (lambda out: [_member('canoe/cute.jpg', b'<html><script>alert(1)</script></html>')], 'not an image (by its first bytes)'),
    'symlink': (lambda out: [_member('canoe/link.jpg', kind=tarfile.SYMTYPE, link=f'{out}/target.jpg')], 'is a link'),
    'hardlink': (lambda out: [_member('canoe/a.jpg'), _member('canoe/hard.jpg', kind=tarfile.LNKTYPE, link='canoe/a.jpg')], 'is a link'),
    'char device': (lambda out: [_member('canoe/tty.jpg', kind=tarfile.CHRTYPE)], 'device file or a pipe'),
    'block device': (lambda out: [_member('canoe/disk.jpg', kind=tarfile.BLKTYPE)], 'device file or a pipe'),
    'fifo': (lambda out: [_member('canoe/pipe.jpg', kind=tarfile.FIFOTYPE)], 'device file or a pipe'),
    'contiguous file': (lambda out: [_member('canoe/c.jpg', kind=tarfile.CONTTYPE)], 'not a plain file or folder'),
    'newline in name': (lambda out: [_member('canoe/a\nb.jpg')], 'control character'),
    'escape in name': (lambda out: [_member('canoe/\x1b[31mred.jpg')], 'control character'),
    'leading dash': (lambda out: [_member('canoe/-rf.jpg')], 'odd characters'),
    'backslash': (lambda out: [_member('canoe\\..\\..\\x.jpg')], 'backslash'),
    'long name': (lambda out: [_member('canoe/' + 'a' * 250 + '.jpg')], 'odd characters'),
    'twice': (lambda out: [_member('canoe/a.jpg'), _member('canoe/a.jpg', encode(photo(80, 60, 2), 'JPEG'))], 'twice'),
    'case clash': (lambda out: [_member('canoe/a.jpg'), _member('canoe/A.jpg', encode(photo(80, 60, 2), 'JPEG'))], 'twice'),
    'file as folder': (lambda out: [_member('canoe/a.jpg'), _member('canoe/a.jpg/b.jpg')], 'inside something that is a file'),
}


@pytest.mark.parametrize('kind', list(HOSTILE))
def test_hostile_archive_is_refused_and_writes_nothing(tmp_path, kind):
    make, says = HOSTILE[kind]
    (tmp_path/'outside').mkdir()
    _refused(tmp_path, _archive(tmp_path/'evil.tar.gz', make(tmp_path/'outside')), says)


def test_gzip_bomb_stops_at_the_cap(tmp_path):
    bomb = _archive(tmp_path/'bomb.tar.gz', [_zeros_member('canoe/big.jpg', 200_000_000)], manifest=False, level=1)
    assert bomb.stat().st_size < 1_000_000                                    # 200 MB in under 1 MB
    t0 = time.monotonic()
    _refused(tmp_path, bomb, 'would unpack to more than 10 MB', max_bytes=10_000_000)
    assert time.monotonic() - t0 < 1                                           # stopped at its header: 200 MB not decompressed


def test_pax_header_bomb(tmp_path):
    "A member whose extended header holds 20 MB: tarfile would read it all at once; the cap stops it."
    with tarfile.open(tmp_path/'pax.tar.gz', 'w:gz', format=tarfile.PAX_FORMAT) as tar:
        ti, data = _member('canoe/a.jpg'); ti.pax_headers = {'comment': 'x' * 20_000_000}
        tar.addfile(ti, io.BytesIO(data))
    _refused(tmp_path, tmp_path/'pax.tar.gz', 'would unpack to more than')


def test_too_many_files(tmp_path):
    members = [_member(f'canoe/{i:05d}.jpg', JPEG[:20]) for i in range(1500)]
    _refused(tmp_path, _archive(tmp_path/'many.tar.gz', members), 'more than 1,000 files', max_files=1000)


def test_sparse_member(tmp_path):
    ti, data = _member('canoe/s.jpg'); ti.type = tarfile.GNUTYPE_SPARSE
    with tarfile.open(tmp_path/'s.tar.gz', 'w:gz', format=tarfile.GNU_FORMAT) as tar: tar.addfile(ti, io.BytesIO(data))
    _refused(tmp_path, tmp_path/'s.tar.gz', 'not a plain file or folder')


def test_link_inside_dest_is_never_followed(tmp_path):
    outside = tmp_path/'outside'; outside.mkdir()
    dest = tmp_path/'dest'; dest.mkdir()
    (dest/'canoe').symlink_to(outside, target_is_directory=True)               # a folder in dest that leads outside
    good = _archive(tmp_path/'good.tar.gz', [_member('canoe/a.jpg')])
    _refused(tmp_path, good, 'is a link', dest=dest)
    (dest/'canoe').unlink(); (dest/'canoe').mkdir()
    (outside/'mine.jpg').write_bytes(b'my own file')
    (dest/'canoe'/'a.jpg').symlink_to(outside/'mine.jpg')                      # the file itself is a link
    _refused(tmp_path, good, 'a.jpg is a link', dest=dest)
    assert (outside/'mine.jpg').read_bytes() == b'my own file'
    (dest/'canoe'/'a.jpg').unlink()
    unpack_dataset(good, dest, progress=False)                                 # with the links gone, it unpacks
    assert (dest/'canoe'/'a.jpg').read_bytes() == JPEG and not (dest/'canoe'/'a.jpg').is_symlink()


def test_cli_bomb_is_one_line(tmp_path, capsys):
    bomb = _archive(tmp_path/'bomb.tar.gz', [_zeros_member('canoe/big.jpg', 30_000_000)], manifest=False, level=1)
    assert main(['unpack', str(bomb), str(tmp_path/'dest'), '--max-mb', '10']) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith('boatclf unpack: error: bomb.tar.gz would unpack to more than 10 MB'), err
    assert not (tmp_path/'dest').exists()


# ---------------------------------------------------------------- pack refuses what unpack would refuse

def _dataset(root):
    for cls in ('canoe', 'sail boat'):
        (root/cls).mkdir(parents=True)
        for i in range(2): photo(80, 60, 10 * len(cls) + i).save(root/cls/f'{cls}_{i}.jpg')
    (root/'provenance.csv').write_text('url,class\nhttps://a.org/x.jpg,canoe\n')
    return root


@pytest.mark.parametrize('name, data, says', [
    ('canoe/numpy.py', b'import os\n', 'canoe/numpy.py is not an image file'),
    ('canoe/notes.txt', b'my notes\n', 'canoe/notes.txt is not an image file'),
    ('photo.jpg', JPEG, 'photo.jpg is a file at the top'),
    ('canoe/-rf.jpg', JPEG, 'odd characters'),
    ('canoe/a\nb.jpg', JPEG, 'control character'),
    ('canoe/fake.jpg', b'<html>hi</html>', 'canoe/fake.jpg is not an image (by its first bytes)'),
])
def test_pack_refuses_what_unpack_refuses(tmp_path, name, data, says):
    root = _dataset(tmp_path/'boats')
    (root/name).write_bytes(data)
    with pytest.raises(BoatclfError) as e: pack_dataset(root, tmp_path/'out.tar.gz', progress=False)
    assert says in str(e.value) and '\n' not in str(e.value), str(e.value)
    assert not list(tmp_path.glob('out.tar.gz*'))


def test_pack_names_the_first_few_and_counts_the_rest(tmp_path):
    root = _dataset(tmp_path/'boats')
    for i in range(7): (root/'canoe'/f'script{i}.py').write_text('x')
    with pytest.raises(BoatclfError, match=r'7 file\(s\) in .* and 4 more') as e: pack_dataset(root, tmp_path/'o.tar.gz')
    assert str(e.value).count('script') == 3


def test_pack_says_what_it_leaves_out_and_unpacks_cleanly(tmp_path, capsys):
    root = _dataset(tmp_path/'boats')
    (root/'.rejected').mkdir(); (root/'.rejected'/'bad.jpg').write_text('set aside')
    (root/'canoe'/'.DS_Store').write_bytes(b'\0\0\0\1Bud1')
    (tmp_path/'elsewhere.jpg').write_bytes(JPEG); (root/'canoe'/'linked.jpg').symlink_to(tmp_path/'elsewhere.jpg')
    (root/'kayak').symlink_to(tmp_path, target_is_directory=True)
    os.mkfifo(root/'canoe'/'pipe.jpg')
    out = pack_dataset(root, tmp_path/'boats.tar.gz')                          # the pipe is not opened: no hang
    said = capsys.readouterr().out
    for what in ('.rejected/ is a hidden folder', 'canoe/.DS_Store is a hidden file', 'canoe/linked.jpg is a link', 'kayak/ is a link'):
        assert what in said, (what, said)
    with tarfile.open(out) as tar: names = tar.getnames()
    assert sorted(names) == sorted([MANIFEST, 'provenance.csv', 'canoe/canoe_0.jpg', 'canoe/canoe_1.jpg', 'sail boat/sail boat_0.jpg',
                                    'sail boat/sail boat_1.jpg'])
    with tarfile.open(out) as tar: assert all(m.isreg() for m in tar.getmembers())
    dest = unpack_dataset(out, tmp_path/'copy', progress=False)
    assert {k: v for k, v in tree(dest).items() if k != MANIFEST} == {k: v for k, v in tree(root, hidden=False).items()
                                                                      if not k.startswith(('canoe/linked', 'canoe/pipe'))}
    unpack_dataset(out, dest, progress=False)                                  # again: all there already, nothing to do


def test_hard_links_are_packed_as_plain_files(tmp_path):
    root = _dataset(tmp_path/'boats')
    os.link(root/'canoe'/'canoe_0.jpg', root/'canoe'/'canoe_again.jpg')
    out = pack_dataset(root, tmp_path/'boats.tar.gz', progress=False)
    with tarfile.open(out) as tar: assert all(m.isreg() for m in tar.getmembers())
    unpack_dataset(out, tmp_path/'copy', progress=False)                       # unpack, which refuses links, takes it


def test_gzip_magic_but_not_a_tar(tmp_path):
    (tmp_path/'x.tar.gz').write_bytes(gzip.compress(b'hello, not a tar' * 100))
    _refused(tmp_path, tmp_path/'x.tar.gz', 'not a readable .tar.gz archive')

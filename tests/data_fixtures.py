"""Shared by tests/test_data*.py: a loopback web server with good and bad images, and a corpus of awkward files.

Real parts only: a real HTTP server on 127.0.0.1 (http.server in a thread) and real image files made with Pillow.
"""
import io, struct, threading, time, zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

TIMEOUT = 1.0          # the per-download timeout the tests use
MAX_BYTES = 200_000    # the size cap the tests use
DRIP = TIMEOUT / 5     # a hostile server sends one byte this often: every wait is short, the whole is endless...
GIVE_UP = 15 * TIMEOUT  # ...until it gives up (so that a client without a wall-clock limit fails a test, not hangs it)
STOP = threading.Event()   # set when the server shuts down: the drips stop
SEEN = []                  # the paths the loopback server was asked for, in order


def photo(w, h, seed, mode='RGB'):
    "A smooth random picture (blocks of colour, so that each seed gives a clearly different image)."
    rng = np.random.default_rng(seed)
    im = Image.fromarray(rng.integers(0, 255, (max(1, h // 10), max(1, w // 10), 3), dtype=np.uint8)).resize((w, h))
    return im.convert(mode) if mode != 'RGB' else im


def encode(im, fmt, **kw) -> bytes:
    buf = io.BytesIO(); im.save(buf, fmt, **kw); return buf.getvalue()


def noise_jpeg(w, h, seed) -> bytes:
    "A JPEG of pure noise: big on disk for its size."
    rng = np.random.default_rng(seed)
    return encode(Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)), 'JPEG', quality=95)


def make_site() -> dict:
    "path -> (status, headers, body, behaviour) for the loopback server."
    jpg, png, webp = encode(photo(200, 150, 1), 'JPEG'), encode(photo(180, 180, 2), 'PNG'), encode(photo(160, 120, 3), 'WEBP')
    moved, wrongtype, copy = encode(photo(150, 200, 4), 'PNG'), encode(photo(210, 140, 5), 'PNG'), encode(photo(220, 160, 6), 'JPEG')
    slow, trickle = encode(photo(200, 150, 7), 'JPEG'), encode(photo(200, 150, 8), 'JPEG')
    big = noise_jpeg(500, 500, 9)
    assert len(big) > MAX_BYTES and len(trickle) > 1000
    img = lambda body, ct: (200, {'Content-Type': ct}, body, None)
    return {
        '/good.jpg': img(jpg, 'image/jpeg'),
        '/good.png': img(png, 'image/png'),
        '/good.webp': img(webp, 'image/webp'),
        '/page.jpg': img(b'<!DOCTYPE html><html><head><title>Canoe</title></head><body>Enable JavaScript</body></html>', 'text/html'),
        '/truncated.jpg': img(jpg[:len(jpg) // 2], 'image/jpeg'),
        '/empty.jpg': img(b'', 'image/jpeg'),
        '/missing.jpg': (404, {'Content-Type': 'text/html'}, b'<html>not found</html>', None),
        '/error.jpg': (500, {'Content-Type': 'text/html'}, b'<html>oops</html>', None),
        '/redirect.jpg': (302, {'Location': '/moved.png'}, b'', None),
        '/moved.png': img(moved, 'image/png'),
        '/slow.jpg': (200, {'Content-Type': 'image/jpeg'}, slow, 'slow'),
        '/trickle.jpg': (200, {'Content-Type': 'image/jpeg'}, trickle, 'trickle'),
        '/big.jpg': img(big, 'image/jpeg'),
        '/big-no-length.jpg': (200, {'Content-Type': 'image/jpeg'}, big, 'no-length'),
        '/wrongtype.png': img(wrongtype, 'text/plain'),
        '/copy-a.jpg': img(copy, 'image/jpeg'),
        '/copy-b.jpg': img(copy, 'image/jpeg'),
    }


# hostile servers: path -> what a download must end as, within about TIMEOUT, whatever the server does
HOSTILE = {'/drip-status': 'timeout', '/drip-headers': 'timeout', '/drip-body': 'timeout', '/drip-chunked': 'timeout',
           '/silent': 'timeout', '/slow-redirect': 'timeout', '/redirect-loop': 'too many redirects',
           '/redirect-file': 'redirected to'}


# what a download of each URL must end as: kept, a duplicate, or failed with a reason starting so
EXPECTED = {
    '/good.jpg': 'kept', '/good.png': 'kept', '/good.webp': 'kept', '/redirect.jpg': 'kept', '/wrongtype.png': 'kept',
    '/copy-a.jpg': 'kept', '/copy-b.jpg': 'duplicate',
    '/page.jpg': 'not an image: an HTML page', '/truncated.jpg': 'broken image', '/empty.jpg': 'empty',
    '/missing.jpg': 'HTTP 404', '/error.jpg': 'HTTP 500', '/slow.jpg': 'timeout', '/trickle.jpg': 'timeout',
    '/big.jpg': 'too big', '/big-no-length.jpg': 'too big',
}


class _Handler(BaseHTTPRequestHandler):
    site: dict = {}

    def log_message(self, *args): pass

    def drip(self, data: bytes, then=b''):
        "Send `data` at once, then `then` one byte every DRIP seconds, until the client hangs up, GIVE_UP, or the server stops."
        self.wfile.write(data)
        end = time.monotonic() + GIVE_UP
        for i in range(len(then)):
            if STOP.wait(DRIP) or time.monotonic() > end: return
            self.wfile.write(then[i:i + 1])

    def hostile(self, path, query):
        endless = b'X-Padding: ' + b'a' * 100_000 + b'\r\n'
        if path == '/drip-status': self.drip(b'', b'HTTP/1.1 200 OK\r\n' + endless)
        if path == '/drip-headers': self.drip(b'HTTP/1.1 200 OK\r\n', endless)
        if path == '/drip-body': self.drip(b'HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n\xff\xd8\xff', b'\0' * 100_000)
        if path == '/drip-chunked':
            self.drip(b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n\xff\xd8\xff\r\n', b'1\r\n\0\r\n' * 20_000)
        if path == '/silent': STOP.wait(GIVE_UP)            # accepts the connection, never answers
        moved = 'HTTP/1.1 302 Found\r\nLocation: {}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'
        if path == '/slow-redirect':                         # each hop answers in time, the chain does not
            if not STOP.wait(0.6 * TIMEOUT): self.drip(moved.format(f'/slow-redirect?{int(query or 0) + 1}').encode())
        if path == '/redirect-loop': self.drip(moved.format(f'/redirect-loop?{int(query or 0) + 1}').encode())
        if path == '/redirect-file': self.drip(moved.format('file:///etc/passwd').encode())
        self.close_connection = True

    def do_GET(self):
        if self.path.startswith('http://'): self.path = '/' + self.path.split('/', 3)[3]   # asked as a proxy
        SEEN.append(self.path)
        if self.path.partition('?')[0] in HOSTILE:
            try: self.hostile(*self.path.split('?', 1)) if '?' in self.path else self.hostile(self.path, '')
            except OSError: pass                             # the client hung up: good
            return
        status, headers, body, how = self.site.get(self.path, (404, {}, b'no such page', None))
        try:
            if how == 'slow': time.sleep(3 * TIMEOUT)
            self.send_response(status)
            for k, v in headers.items(): self.send_header(k, v)
            if how != 'no-length': self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            if how == 'trickle':       # every piece arrives in time, the whole is too slow
                n = len(body) // 12 + 1
                for i in range(0, len(body), n):
                    self.wfile.write(body[i:i + n]); self.wfile.flush(); time.sleep(TIMEOUT / 6)
            else: self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError): pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64     # the default, 5, drops bursts of connections: a 1 s TCP retry looks like a slow server
    def handle_error(self, request, client_address): pass


@pytest.fixture(autouse=True)
def isolated_home(tmp_path, monkeypatch):
    "Every test gets its own BOATCLF_HOME (search cache, data), never the user's ~/.boatclf."
    monkeypatch.setenv('BOATCLF_HOME', str(tmp_path/'home'))
    return tmp_path/'home'


@pytest.fixture(scope='module')
def boat_server():
    "Base URL of a loopback web server serving `make_site()`."
    handler = type('Handler', (_Handler,), {'site': make_site()})
    server = _Server(('127.0.0.1', 0), handler)
    t = threading.Thread(target=server.serve_forever, daemon=True); t.start()
    STOP.clear()
    yield f'http://127.0.0.1:{server.server_address[1]}'
    STOP.set(); server.shutdown(); server.server_close()


def png_with_size(w, h) -> bytes:
    "A PNG whose header claims `w` x `h` pixels (a decompression bomb when that is huge)."
    data = bytearray(encode(Image.new('L', (8, 8)), 'PNG'))
    ihdr = bytearray(data[12:29])                     # b'IHDR' + 13 bytes
    ihdr[4:12] = struct.pack('>II', w, h)
    data[12:29] = ihdr
    data[29:33] = struct.pack('>I', zlib.crc32(bytes(ihdr)))
    return bytes(data)


def make_awkward_corpus(root: Path) -> dict:
    "Write a dataset of good, odd and bad files; returns {relative path: what clean_images must do with it}."
    c, k = root/'canoe', root/'kayak'
    c.mkdir(parents=True); k.mkdir(parents=True)
    photo(200, 150, 10).save(c/'good.jpg', quality=90)
    photo(200, 150, 11).save(k/'good.png')
    (c/'truncated.jpg').write_bytes(encode(photo(200, 150, 12), 'JPEG')[:1500])
    photo(200, 150, 13, 'CMYK').save(c/'cmyk.jpg')
    photo(200, 150, 14, 'L').save(c/'gray.jpg')
    pal = photo(120, 100, 15).convert('P', palette=Image.Palette.ADAPTIVE, colors=16)
    pal.putpixel((0, 0), 0); pal.save(c/'palette.png', transparency=0)     # colour 0 is see-through
    sixteen = (np.linspace(0, 65535, 100 * 80).reshape(80, 100)).astype(np.uint16)
    Image.fromarray(sixteen).save(k/'sixteen.png')
    side = photo(200, 100, 16); exif = side.getexif(); exif[0x0112] = 6
    side.save(k/'rotated.jpg', exif=exif)
    frames = [photo(120, 90, 17 + i).convert('P') for i in range(3)]
    frames[0].save(k/'animated.gif', save_all=True, append_images=frames[1:], duration=100, loop=0)
    photo(50, 50, 20).save(k/'tiny.png')
    (k/'bomb.png').write_bytes(png_with_size(40000, 40000))
    (c/'notes.jpg').write_text('these are my canoe notes\n')
    (k/'page.png').write_text('<html><body>403 Forbidden</body></html>')
    (k/'empty.jpg').write_bytes(b'')
    big = photo(400, 300, 30); big.save(c/'big.jpg', quality=95)
    big.resize((200, 150)).save(c/'big-small-copy.jpg', quality=70)          # near-duplicate in the same class
    big.resize((300, 225)).save(k/'big-in-kayak.png')                        # the same picture in another class
    (root/'README.txt').write_text('not an image, not touched')
    (root/'.cache').mkdir(); (root/'.cache'/'hidden.jpg').write_text('hidden folders are left alone')
    return {
        'canoe/good.jpg': 'unchanged', 'kayak/good.png': 'unchanged', 'canoe/big.jpg': 'unchanged',
        'canoe/cmyk.jpg': 'converted', 'canoe/gray.jpg': 'converted', 'canoe/palette.png': 'converted',
        'kayak/sixteen.png': 'converted', 'kayak/rotated.jpg': 'converted', 'kayak/animated.gif': 'converted',
        'canoe/truncated.jpg': 'broken image', 'kayak/tiny.png': 'too small', 'kayak/bomb.png': 'decompression bomb',
        'canoe/notes.jpg': 'not an image', 'kayak/page.png': 'not an image', 'kayak/empty.jpg': 'empty',
        'canoe/big-small-copy.jpg': 'near-duplicate', 'kayak/big-in-kayak.png': 'duplicate across classes',
    }


def tree(p: Path, hidden=True) -> dict:
    "relative path -> bytes for every file under `p`."
    return {f.relative_to(p).as_posix(): f.read_bytes() for f in sorted(p.rglob('*')) if f.is_file()
            and (hidden or not any(part.startswith('.') for part in f.relative_to(p).parts))}

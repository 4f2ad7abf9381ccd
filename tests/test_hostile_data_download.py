"""Hostile servers and Ctrl-C: every download ends within its wall-clock timeout, and `boatclf download` stops at once."""
import shutil, signal, socket, ssl, subprocess, sys, threading, time
from pathlib import Path

import pytest

from boatclf.data import fetch_image, download_urls, BadImage, PROVENANCE
from conftest import smoke_env
from data_fixtures import DRIP, HOSTILE, SEEN, TIMEOUT, boat_server, isolated_home  # noqa: F401 (fixtures)


def _parts(folder: Path) -> list:
    return [p for p in folder.rglob('*.part')]


def test_each_hostile_server_is_cut_off_in_time(tmp_path, boat_server):
    t0 = time.monotonic()
    res = download_urls([boat_server + p for p in HOSTILE], tmp_path/'d', timeout=TIMEOUT, threads=len(HOSTILE), progress=False)
    took = time.monotonic() - t0
    assert took < 10 * TIMEOUT, took                                       # about TIMEOUT: they run at once
    got = {u[len(boat_server):]: why for u, why in res.failed}
    assert set(got) == set(HOSTILE) and not res.kept
    for path, says in HOSTILE.items(): assert got[path].startswith(says), (path, got[path])
    assert not _parts(tmp_path/'d') and not (tmp_path/'d'/PROVENANCE).exists()


@pytest.mark.parametrize('path', ['/drip-status', '/drip-body', '/drip-chunked'])
def test_one_drip_is_cut_off_at_the_deadline(boat_server, path):
    t0 = time.monotonic()
    with pytest.raises(BadImage, match='timeout'): fetch_image(boat_server + path, timeout=TIMEOUT)
    assert time.monotonic() - t0 < 3 * TIMEOUT


def test_drip_through_a_proxy(boat_server, monkeypatch):
    "The proxy from the environment is used, and its connection is watched too: the proxy here is the dripping server."
    monkeypatch.setenv('HTTP_PROXY', boat_server); monkeypatch.delenv('NO_PROXY', raising=False); monkeypatch.delenv('no_proxy', raising=False)
    SEEN.clear()
    t0 = time.monotonic()
    with pytest.raises(BadImage, match='timeout'): fetch_image('http://photos.example.invalid/drip-body', timeout=TIMEOUT)
    assert time.monotonic() - t0 < 3 * TIMEOUT and SEEN == ['/drip-body']


@pytest.mark.skipif(not shutil.which('openssl'), reason='needs the openssl command to make a certificate')
@pytest.mark.parametrize('how', ['drip', 'silent'])
def test_https_drip_and_silent_handshake(tmp_path, monkeypatch, how):
    "Over TLS the watch holds too: a server that drips after the handshake, and one that never answers the handshake."
    subprocess.run(['openssl', 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', tmp_path/'key.pem', '-out',
                    tmp_path/'cert.pem', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
                   check=True, capture_output=True)
    monkeypatch.setenv('REQUESTS_CA_BUNDLE', str(tmp_path/'cert.pem'))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(tmp_path/'cert.pem', tmp_path/'key.pem')
    srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen(4)
    def serve():
        c, _ = srv.accept()
        if how == 'silent': return time.sleep(10 * TIMEOUT)
        with ctx.wrap_socket(c, server_side=True) as s:
            s.recv(4096)
            try:
                for b in b'HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n' + bytes(100_000): s.send(bytes([b])); time.sleep(DRIP)
            except OSError: pass
    threading.Thread(target=serve, daemon=True).start()
    t0 = time.monotonic()
    with pytest.raises(BadImage, match='timeout'): fetch_image(f'https://127.0.0.1:{srv.getsockname()[1]}/x.jpg', timeout=TIMEOUT)
    assert time.monotonic() - t0 < 3 * TIMEOUT
    srv.close()


def _boatclf(*args, home, **kw):
    return subprocess.Popen([str(Path(sys.executable).parent/'boatclf'), *map(str, args)], env=smoke_env(home),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def test_cli_hostile_list_finishes_in_about_the_timeout(tmp_path, boat_server):
    urls = tmp_path/'hostile.txt'
    urls.write_text(''.join(f'canoe\t{boat_server}{p}\n' for p in HOSTILE) + f'kayak\t{boat_server}/good.jpg\n')
    t0 = time.monotonic()
    p = _boatclf('download', '--urls-file', urls, '--dest', tmp_path/'d', '--timeout', TIMEOUT, home=tmp_path/'home')
    out, err = p.communicate(timeout=60)
    took = time.monotonic() - t0
    assert p.returncode == 0 and took < 10, (took, err)                   # python start-up included
    assert 'kept 1 new images' in out and f'{len(HOSTILE)} failed' in out
    for path, says in HOSTILE.items():
        assert any(line.strip().startswith(boat_server + path) and says in line for line in out.splitlines()), path
    assert not _parts(tmp_path/'d')


def test_ctrl_c_stops_download_at_once(tmp_path, boat_server):
    drips = ['/drip-status', '/drip-headers', '/drip-body', '/drip-chunked', '/silent']
    urls = tmp_path/'urls.txt'
    urls.write_text(f'canoe\t{boat_server}/good.jpg\nkayak\t{boat_server}/good.png\n'
                    + ''.join(f'canoe\t{boat_server}{p}?{i}\n' for i in range(3) for p in drips))
    SEEN.clear()
    p = _boatclf('download', '--urls-file', urls, '--dest', tmp_path/'d', '--timeout', 600, '--threads', 16, home=tmp_path/'home')
    deadline = time.monotonic() + 30
    while len([s for s in SEEN if s.partition('?')[0] in drips]) < len(drips) * 3 and time.monotonic() < deadline: time.sleep(0.05)
    time.sleep(0.3)                                                        # every download is waiting on a drip now
    assert p.poll() is None, p.communicate()
    t0 = time.monotonic()
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    took = time.monotonic() - t0
    assert took < 3, took
    assert p.returncode == 130 and err.strip().splitlines() == ['boatclf download: interrupted'], err
    assert not _parts(tmp_path/'d')
    kept = [f for f in (tmp_path/'d').rglob('*') if f.is_file() and f.name != PROVENANCE]
    assert len(kept) <= 2                                                  # only whole images, if any

"""`boatclf doctor` with the network down: it says offline, gives fixes, and does not hang."""
import socket, subprocess, time

from conftest import smoke_env


def _closed_port() -> int:
    s = socket.socket(); s.bind(('127.0.0.1', 0)); port = s.getsockname()[1]; s.close()
    return port


def test_doctor_offline(tmp_path, boatclf_cmd):
    port = _closed_port()
    env = smoke_env(tmp_path, BOATCLF_DDG_HOST=f'127.0.0.1:{port}', BOATCLF_WEIGHTS_HOST=f'127.0.0.1:{port}')
    for k in ('BOATCLF_MODE', 'BOATCLF_OFFLINE', 'IN_TEST', 'CI'): env.pop(k, None)
    t0 = time.time()
    r = subprocess.run(boatclf_cmd + ['doctor'], env=env, capture_output=True, text=True, timeout=60)
    took = time.time() - t0
    out = r.stdout
    assert r.returncode == 0, r.stdout + r.stderr
    assert took < 10, f'doctor took {took:.1f}s'
    assert f'DuckDuckGo unreachable (127.0.0.1:{port})' in out
    assert f'torch weights host unreachable (127.0.0.1:{port})' in out
    assert 'efficientnet_lite0' in out and '(offline)' in out
    lines = out.splitlines()
    for i, line in enumerate(lines):
        if line.startswith('warn') or line.startswith('fail'):
            assert lines[i + 1].strip().startswith('fix:'), f'no fix for: {line}'
    for pkg in ('torch', 'torchvision', 'fastai', 'timm'):
        assert f'{pkg} ' in out


def test_doctor_bad_host_setting_is_a_usage_error(tmp_path, boatclf_cmd):
    env = smoke_env(tmp_path, BOATCLF_DDG_HOST='no-port-here')
    env.pop('BOATCLF_OFFLINE')
    r = subprocess.run(boatclf_cmd + ['doctor', '--mode', 'cpu'], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert 'Traceback' not in r.stderr
    assert r.stderr.strip().count('\n') == 0 and 'host:port' in r.stderr


def test_doctor_home_that_cannot_be_made_is_a_failing_check(tmp_path, boatclf_cmd):
    "BOATCLF_HOME under a file (or anywhere it cannot be made): a failing check with a fix, never a traceback."
    (tmp_path/'a-file').write_text('not a folder')
    r = subprocess.run(boatclf_cmd + ['doctor'], env=smoke_env(tmp_path/'a-file'/'home'), capture_output=True, text=True, timeout=60)
    assert r.returncode == 1, r.stdout + r.stderr
    assert 'Traceback' not in r.stderr and r.stderr.strip() == '', r.stderr
    assert 'cannot be created' in r.stdout and 'fix: Set BOATCLF_HOME' in r.stdout
    assert r.stdout.splitlines()[-1].startswith('fail  verdict')

"""Training that must really learn, a binary-cross-entropy model that can say "no boat I know", and a model.pkl of
the previous release (0.1, commit 6c7650b) that still loads with --trust-pickle: all through the real `boatclf` command."""
import json, os, subprocess, sys
from pathlib import Path

import pytest

from conftest import ROOT, smoke_env
from boatclf.losses import non_boat_photos

BOATCLF = [str(Path(sys.executable).parent / 'boatclf')]
OLD_RELEASE = '6c7650b'   # the last commit before issue 9 (boatclf 0.1)


def run(args, home, timeout=600, **env):
    return subprocess.run(BOATCLF + [str(a) for a in args], env=smoke_env(home, **env), capture_output=True, text=True, timeout=timeout)


def test_training_clearly_beats_chance(tmp_path):
    """Three classes: guessing is right one time in three. A short training (40 drawn boats per class, 96 px, 1 frozen +
    3 epochs, seeded) must be right far more often on 60 drawings it has never seen (another seed).
    Measured here: 71.7 % (3 epochs) and 73.3 % (5 epochs); 55 % is about 3.6 standard deviations above what guessing gives."""
    home = tmp_path/'home'
    for dest, n, seed in (('boats', 40, 7), ('fresh', 20, 2026)):
        r = run(['synth', '--dest', tmp_path/dest, '--per-class', n, '--seed', seed], home)
        assert r.returncode == 0, r.stderr
    r = run(['train', '--data', tmp_path/'boats', '--out', tmp_path/'m', '--epochs', 3, '--size', 96], home)
    assert r.returncode == 0, r.stdout + r.stderr
    r = run(['evaluate', tmp_path/'m', tmp_path/'fresh', '--json'], home)
    assert r.returncode == 0, r.stderr
    ev = json.loads(r.stdout)
    assert ev['images'] == 60 and ev['accuracy'] >= 0.55, ev
    # photos of nothing: a cross-entropy model names a boat for each, and evaluate says so
    r = run(['synth', '--dest', tmp_path/'with-none', '--per-class', 2, '--seed', 8, '--with-negatives'], home)
    assert r.returncode == 0, r.stderr
    r = run(['evaluate', tmp_path/'m', tmp_path/'with-none'], home)
    assert r.returncode == 0 and 'rejected 0 of the 2 images in none/ (0.0%)' in r.stdout and 'always names a boat' in r.stdout, r.stdout

def test_bce_model_trains_reloads_and_answers_no_boat(tmp_path):
    """train --loss bce picks a threshold and a temperature on its validation set and stores them; predict (safe loader) reads
    every output through both: "labels": [] and "no boat I know" below the threshold; evaluate reports the share of none/ rejected."""
    home = tmp_path/'home'
    r = run(['train', '--synthetic', '--loss', 'bce', '--out', tmp_path/'bce'], home)
    assert r.returncode == 0, r.stdout + r.stderr
    info = json.loads((tmp_path/'bce'/'model.json').read_text())
    metrics = json.loads((tmp_path/'bce'/'metrics.json').read_text())
    assert info['multi_label'] is True and info['loss'] == 'bce' and 0 < info['threshold'] < 1 and 0.05 <= info['temperature'] <= 20
    assert (info['threshold'], info['temperature']) == (metrics['threshold'], metrics['temperature'])
    assert f"when no class reaches {info['threshold']:.2f}" in r.stdout and 0 <= metrics['valid_none_rejected'] <= 1, r.stdout
    r = run(['synth', '--dest', tmp_path/'fresh', '--per-class', 6, '--seed', 7, '--with-negatives'], home)
    assert r.returncode == 0, r.stderr
    photos = [str(p) for p in non_boat_photos()]
    r = run(['predict', tmp_path/'bce', tmp_path/'fresh'/'none', *photos, '--json'], home)
    assert r.returncode == 0 and 'nothing unpickled' in r.stderr, r.stderr
    rows = [json.loads(l) for l in r.stdout.splitlines()]
    assert len(rows) == 6 + 3 and all(set(row['probs']) == {'canoe', 'kayak', 'sailboat'} for row in rows)
    for row in rows: assert row['labels'] == [c for c, p in row['probs'].items() if p >= info['threshold']], row
    said_none = [row['labels'] == [] for row in rows[:6]]
    r = run(['evaluate', tmp_path/'bce', tmp_path/'fresh', '--json'], home)
    ev = json.loads(r.stdout)
    assert (ev['none_images'], ev['rejected']) == (6, round(sum(said_none) / 6, 4)), ev   # evaluate and predict agree
    r = run(['evaluate', tmp_path/'bce', tmp_path/'fresh'], home)
    assert f"rejected {sum(said_none)} of the 6 images in none/" in r.stdout, r.stdout
    r = run(['predict', tmp_path/'bce', *photos, '--threshold', '0.9999'], home)   # a threshold no class reaches
    assert r.returncode == 0 and r.stdout.count('no boat I know') == 3, r.stdout
    r = run(['predict', tmp_path/'bce', *photos, '--threshold', '0.9999', '--json'], home)
    assert [json.loads(l)['labels'] for l in r.stdout.splitlines()] == [[]] * 3, r.stdout


def _has_old_release():
    return subprocess.run(['git', '-C', str(ROOT), 'cat-file', '-e', f'{OLD_RELEASE}^{{commit}}'], capture_output=True).returncode == 0


@pytest.mark.skipif(not _has_old_release(), reason=f'needs the git history (commit {OLD_RELEASE})')
def test_model_pkl_of_the_previous_release_still_loads(tmp_path):
    "Train a BCE model with the previous release's code (its pickle names boatclf.datablock._label_list), then predict with today's."
    old = tmp_path/'old'
    subprocess.run(['git', '-C', str(ROOT), 'worktree', 'add', '--detach', str(old), OLD_RELEASE], check=True, capture_output=True)
    try:
        code = f"import sys; from boatclf.cli import main; sys.exit(main(['train', '--synthetic', '--loss', 'bce', '--out', {str(tmp_path/'m')!r}]))"
        r = subprocess.run([sys.executable, '-c', code], env=smoke_env(tmp_path/'home', PYTHONPATH=old), cwd=tmp_path,
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stdout + r.stderr
    finally:
        subprocess.run(['git', '-C', str(ROOT), 'worktree', 'remove', '--force', str(old)], capture_output=True)
    assert not (tmp_path/'m'/'model.json').exists()   # the old release wrote only the pickle
    boat = next((tmp_path/'home'/'data').rglob('kayak_0000.jpg'))
    r = run(['predict', tmp_path/'m'/'model.pkl', boat, '--trust-pickle', '--json'], tmp_path/'home')
    assert r.returncode == 0, r.stderr
    row = json.loads(r.stdout)
    assert set(row['probs']) == {'canoe', 'kayak', 'sailboat'} and all(0 <= p <= 1 for p in row['probs'].values()), row

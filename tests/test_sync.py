"""The notebooks are the source: boatclf/ must be what nbdev-export makes of them, and notebooks clean."""
import shutil, subprocess, sys
from pathlib import Path

from conftest import ROOT

BIN = Path(sys.executable).parent


def _copy_project(dst: Path) -> Path:
    for name in ('nbs', 'boatclf', 'tools'):
        shutil.copytree(ROOT / name, dst / name, ignore=shutil.ignore_patterns('__pycache__', '.ipynb_checkpoints'))
    for name in ('pyproject.toml', 'README.md'):
        shutil.copy2(ROOT / name, dst / name)
    return dst


def _tree(p: Path) -> dict:
    return {f.relative_to(p).as_posix(): f.read_bytes() for f in sorted(p.rglob('*'))
            if f.is_file() and '__pycache__' not in f.parts}


def _changed(before: dict, after: dict) -> list:
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


def test_export_leaves_library_unchanged(tmp_path):
    proj = _copy_project(tmp_path)
    before = _tree(proj / 'boatclf')
    subprocess.run([str(BIN / 'nbdev-export')], cwd=proj, check=True, capture_output=True)
    changed = _changed(before, _tree(proj / 'boatclf'))
    assert not changed, f'nbdev-export changed {changed}: edit nbs/*.ipynb, then run `make export` and commit boatclf/.'


def test_notebooks_are_clean(tmp_path):
    proj = _copy_project(tmp_path)
    before = _tree(proj / 'nbs')
    subprocess.run([str(BIN / 'nbdev-clean')], cwd=proj, check=True, capture_output=True)
    changed = _changed(before, _tree(proj / 'nbs'))
    assert not changed, f'nbdev-clean changed {changed}: run `make export` (or nbdev-clean) and commit.'


def test_readme_is_generated_from_index(tmp_path):
    proj = _copy_project(tmp_path)
    subprocess.run([sys.executable, 'tools/readme.py'], cwd=proj, check=True, capture_output=True)
    assert (proj / 'README.md').read_text() == (ROOT / 'README.md').read_text(), \
        'README.md is out of date: edit nbs/index.ipynb, then `make export`.'

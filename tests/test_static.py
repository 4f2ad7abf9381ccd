"""Static checks over the package: names that would raise NameError only when a line finally runs."""
import subprocess, sys

from conftest import ROOT


def test_no_undefined_names():
    "pyflakes over boatclf/: no 'undefined name' (e.g. a `plt` a function uses but its module never imports)."
    r = subprocess.run([sys.executable, '-m', 'pyflakes', str(ROOT / 'boatclf')], capture_output=True, text=True, timeout=120)
    bad = [l for l in (r.stdout + r.stderr).splitlines() if 'undefined name' in l or 'syntax' in l.lower()]
    assert not bad, '\n'.join(bad)

"""Static checks over the package (names that would raise NameError only when a line finally runs; imports that follow
the course), and the suite's own hygiene (it leaves no files behind)."""
import subprocess, sys
from pathlib import Path

from conftest import ROOT, smoke_env


def test_no_undefined_names():
    "pyflakes over boatclf/: no 'undefined name' (e.g. a `plt` a function uses but its module never imports)."
    r = subprocess.run([sys.executable, '-m', 'pyflakes', str(ROOT / 'boatclf')], capture_output=True, text=True, timeout=120)
    bad = [l for l in (r.stdout + r.stderr).splitlines() if 'undefined name' in l or 'syntax' in l.lower()]
    assert not bad, '\n'.join(bad)


def _imports(tree):
    "The boatclf modules a module's syntax tree imports (`from .x import`, `from boatclf.x import`, `import boatclf.x`), anywhere in it."
    import ast
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.level == 1: yield node.module.split('.')[0], node.lineno
            elif node.module.startswith('boatclf.'): yield node.module.split('.')[1], node.lineno
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith('boatclf.'): yield a.name.split('.')[1], node.lineno


def test_imports_follow_the_course():
    "A module imports only modules of earlier notebooks (file-name order in nbs/): the import graph follows the course."
    import ast, re
    nb_of = {}
    for f in (ROOT/'boatclf').glob('*.py'):
        if m := re.search(r'File to edit: \.\./nbs/(\S+)\.ipynb', f.read_text()): nb_of[f.stem] = m.group(1)
    assert {'core', 'data', 'clean', 'datablock', 'train', 'interpret', 'workflow', 'cli'} <= set(nb_of), nb_of
    forward = [f'{mod} ({nb_of[mod]}) imports {dep} ({nb_of[dep]}) at line {line}'
               for mod in nb_of for dep, line in _imports(ast.parse((ROOT/'boatclf'/f'{mod}.py').read_text()))
               if dep in nb_of and nb_of[dep] > nb_of[mod]]
    assert not forward, '\n'.join(forward)


def test_the_suite_leaves_no_temporary_files(request, tmp_path_factory, tmp_path):
    """A child process's temporary files (a notebook kernel's `tempfile.mkdtemp()`, say) land in this run's base temp
    folder, which a passing run deletes; runs that wrote to /tmp once filled the disk until CI could not install."""
    assert request.config.getini('tmp_path_retention_policy') == 'failed'
    r = subprocess.run([sys.executable, '-c', 'import tempfile; print(tempfile.mkdtemp())'], env=smoke_env(tmp_path / 'home'),
                       capture_output=True, text=True, timeout=60)
    made = Path(r.stdout.strip())
    assert made.is_dir() and made.is_relative_to(tmp_path_factory.getbasetemp()), (made, tmp_path_factory.getbasetemp())

"""Write README.md from nbs/index.ipynb (what `nbdev-readme` does, without Quarto).

nbdev-readme renders through Quarto, and Quarto cannot be installed from PyPI on an
offline machine, so `make export` uses this: markdown cells as they are, code cells
(minus `#| hide` ones and directives) as fenced Python.
"""
from pathlib import Path

from nbdev.config import get_config
from nbdev.process import NBProcessor

HEADER = '<!-- Generated from nbs/index.ipynb by `make export` (tools/readme.py): edit the notebook, not this file. -->\n\n'


def notebook_to_markdown(fn: Path) -> str:
    "The markdown for a README from the notebook `fn`."
    nb = NBProcessor(fn, rm_directives=False, process=True).nb
    parts = []
    for cell in nb.cells:
        directives = getattr(cell, 'directives_', None) or {}
        if 'hide' in directives or 'default_exp' in directives: continue
        src = '\n'.join(l for l in cell.source.splitlines() if not l.startswith('#|')).strip()
        if not src: continue
        parts.append(src if cell.cell_type == 'markdown' else f'```python\n{src}\n```')
    return HEADER + '\n\n'.join(parts) + '\n'


if __name__ == '__main__':
    cfg = get_config()
    (cfg.config_path / 'README.md').write_text(notebook_to_markdown(cfg.nbs_path / cfg.readme_nb))
    print('wrote README.md')

import os, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT / 'nbs'


def smoke_env(home: Path, **extra) -> dict:
    "The environment every test subprocess gets: smoke mode, offline, its own BOATCLF_HOME."
    env = dict(os.environ, BOATCLF_MODE='smoke', IN_TEST='1', BOATCLF_OFFLINE='1',
               BOATCLF_HOME=str(home), MPLBACKEND='Agg', PYTHONUNBUFFERED='1',
               # pytest-xdist runs two tests at once on two cores: one thread each, or torch's threads fight
               OMP_NUM_THREADS='1', MKL_NUM_THREADS='1')
    env.update({k: str(v) for k, v in extra.items()})
    return env


@pytest.fixture
def boatclf_cmd():
    "The `boatclf` command of this venv."
    return [str(Path(sys.executable).parent / 'boatclf')]

"""Benchmark: how long `boatclf --help`, `boatclf doctor` and bad-input errors take, each in a fresh process.

    .venv/bin/python bench/startup.py [--repeat 3]

Each command runs `--repeat` times (the first also warms the file cache); prints the median wall-clock seconds and
the exit status. The target: under 2 s for help and every mistake (issue 15). Run by hand, not in the tests.
"""
import argparse, os, statistics, subprocess, sys, tempfile, time
from pathlib import Path

BOATCLF = str(Path(sys.executable).parent/'boatclf')


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--repeat', type=int, default=3)
    a = p.parse_args()
    t = Path(tempfile.mkdtemp())
    (t/'empty').mkdir(); (t/'photo.jpg').write_bytes(b'\xff\xd8\xff')
    (t/'bad').mkdir(); (t/'bad'/'model.json').write_text('{"format_version": 1, "arch": "os.system"}')
    cmds = [['--help'], ['doctor'], ['train', '--epochs', '0'], ['train', '--data', t/'nowhere'], ['train', '--data', t/'empty'],
            ['predict', t/'nowhere', t/'photo.jpg'], ['predict', t/'bad', t/'photo.jpg'], ['evaluate', t/'nowhere', t/'empty'],
            ['review', t/'nowhere', t/'empty'], ['apply', t/'empty', t/'none.csv'], ['app', t/'nowhere'], ['train', '--help']]
    env = dict(os.environ, BOATCLF_HOME=str(t/'home'), BOATCLF_OFFLINE='1')
    print(f"{'command':<58}{'median s':>9}{'status':>8}")
    for c in cmds:
        times = []
        for _ in range(a.repeat):
            t0 = time.perf_counter(); r = subprocess.run([BOATCLF, *map(str, c)], capture_output=True, env=env); times.append(time.perf_counter() - t0)
        shown = ' '.join(str(x).replace(str(t) + '/', '') for x in c)
        print(f'boatclf {shown:<50}{statistics.median(times):>9.2f}{r.returncode:>8}')


if __name__ == '__main__': main()

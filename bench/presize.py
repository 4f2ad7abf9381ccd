"""Benchmark: training from camera-sized JPEGs vs after `presize_to_disk`, in the same run.

    .venv/bin/python bench/presize.py [--n 60] [--mode cpu] [--workdir bench/out]

Builds `n` camera-sized photos (4000x3000 JPEGs, drawn boats blown up with sensor-like noise),
shrinks them with `presize_to_disk`, then times, for both folders: one epoch of data loading
(decode + resize + augment, no model) and one epoch of training (fit_one_cycle(1), frozen body
as in fine_tune's first epoch). Prints the times and the ratios. Run by hand, not in the tests.
"""
import argparse, os, time, warnings
warnings.filterwarnings("ignore", message="`torch.jit.script` is deprecated")
from pathlib import Path

import numpy as np
from PIL import Image

from boatclf.core import get_settings
from boatclf.datablock import boat_dls, presize_to_disk
from boatclf.synth import make_synthetic_boats
from boatclf.train import boat_learner, pick_backbone


def camera_photos(src: Path, dst: Path, size=(4000, 3000), seed=0) -> int:
    "Blow every image in `src` up to `size` with sensor-like noise, as 92-quality JPEGs in `dst`."
    rng = np.random.default_rng(seed)
    n = 0
    for f in sorted(src.rglob('*.jpg')):
        out = dst/f.relative_to(src)
        n += 1
        if out.exists(): continue
        out.parent.mkdir(parents=True, exist_ok=True)
        a = np.asarray(Image.open(f).convert('RGB').resize(size, Image.BICUBIC), dtype=np.int16)
        a = np.clip(a + rng.normal(0, 6, a.shape), 0, 255).astype(np.uint8)
        Image.fromarray(a).save(out, quality=92)
    return n


def time_loading(dls) -> float:
    t0 = time.perf_counter()
    for _ in dls.train: pass
    return time.perf_counter() - t0


def time_training(dls, arch_fn) -> float:
    learn = boat_learner(dls, arch_fn)
    t0 = time.perf_counter()
    with learn.no_bar(), learn.no_logging(): learn.fit_one_cycle(1, 3e-3)
    return time.perf_counter() - t0


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--n', type=int, default=60, help='number of camera-sized photos (split over 3 classes)')
    p.add_argument('--mode', default='cpu', choices=('full', 'cpu', 'smoke'))
    p.add_argument('--workdir', type=Path, default=Path(__file__).parent/'out')
    a = p.parse_args()
    s = get_settings(a.mode)
    drawn = make_synthetic_boats(a.workdir/'drawn', per_class=a.n // 3, seed=7, long_side=(400, 600), progress=False)
    raw, small = a.workdir/'camera', a.workdir/'presized'
    t0 = time.perf_counter(); n = camera_photos(drawn, raw); t_make = time.perf_counter() - t0
    mb = sum(f.stat().st_size for f in raw.rglob('*.jpg')) / 2**20
    t0 = time.perf_counter(); presize_to_disk(raw, small, max_size=2 * s.presize, progress=False); t_pre = time.perf_counter() - t0
    print(f'{n} photos 4000x3000 ({mb:.0f} MB), made in {t_make:.0f} s; presize_to_disk(max_size={2 * s.presize}) took {t_pre:.1f} s')
    print(f'mode {s.mode}: size {s.size}, presize {s.presize}, bs {s.bs}, {os.cpu_count()} CPUs, torch threads {__import__("torch").get_num_threads()}')
    arch_fn, arch, _ = pick_backbone(s)
    res = {}
    for name, folder in (('camera-sized', raw), ('presized', small)):
        dls = boat_dls(folder, s)
        time_loading(dls)                      # warm-up: file cache, worker start
        res[name] = (time_loading(dls), time_training(dls, arch_fn))
        print(f'{name:>13}: one epoch of loading {res[name][0]:6.1f} s, one epoch of training ({arch}) {res[name][1]:6.1f} s')
    (l_raw, t_raw), (l_pre, t_pre2) = res['camera-sized'], res['presized']
    print(f'ratio (camera-sized / presized): loading {l_raw / l_pre:.1f}x, training epoch {t_raw / t_pre2:.1f}x')


if __name__ == '__main__':
    main()

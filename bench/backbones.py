"""Benchmark: backbone x epochs x error x seconds (and progressive resizing), measured in one run.

    .venv/bin/python bench/backbones.py [--mode cpu] [--per-class 100] [--epochs 2 4] [--archs ...] [--resize]

Draws `per-class` boats per class once, then for every backbone and epoch count runs `train_classifier` (what
`boatclf train` runs: 1 frozen epoch + N unfrozen, the mode's size, seed 42) and prints its error rate on the
validation images, the seconds `fine_tune` took, and the last training and validation losses (a validation
loss far above the training loss is over-fitting). `--resize` adds, for each backbone at the most epochs,
a progressive run (3/4 of the size, then the size; same total epochs). Backbones without weights on this
machine (resnet18 offline, Lite1/2 without the [backbones] extra) are skipped with a line saying why.
Run by hand, not in the tests; on a shared machine, seconds are rough.
"""
import argparse, os, tempfile, time, warnings
warnings.filterwarnings("ignore", message="`torch.jit.script` is deprecated")
from pathlib import Path

from boatclf.core import BoatclfError, get_settings, offline_backbones, online, resnet18_weights_cached
from boatclf.synth import make_synthetic_boats
from boatclf.train import ARCHS
from boatclf.workflow import train_classifier


def available(arch: str) -> bool:
    "Can `arch`'s pretrained weights be had here, with no download that would fail?"
    if arch == 'resnet18': return resnet18_weights_cached() or online('weights')
    return arch in offline_backbones()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--mode', default='cpu', choices=('full', 'cpu', 'smoke'))
    p.add_argument('--per-class', type=int, default=100, help='drawn boats per class (one in five held back for validation)')
    p.add_argument('--epochs', type=int, nargs='+', default=[2, 4], help='unfrozen epochs to try (after 1 frozen)')
    p.add_argument('--archs', nargs='+', default=list(ARCHS), choices=list(ARCHS))
    p.add_argument('--resize', action='store_true', help='also progressive resizing at the most epochs')
    p.add_argument('--workdir', type=Path, default=Path(__file__).parent/'out')
    a = p.parse_args()
    s = get_settings(a.mode, per_class=a.per_class)
    boats = make_synthetic_boats(a.workdir/f'boats-{a.per_class}', per_class=a.per_class, seed=s.seed, long_side=(300, 800), progress=False)
    import torch
    print(f'mode {s.mode}: {a.per_class} drawn boats per class, {s.size} px, bs {s.bs}, seed {s.seed}, device {s.device}, '
          f'{os.cpu_count()} CPUs, torch threads {torch.get_num_threads()}; one run per row')
    print(f"{'arch':<20}{'sizes':>9}{'epochs':>8}{'error':>8}{'seconds':>9}{'train loss':>12}{'valid loss':>12}")
    settings = [(arch, e, None) for arch in a.archs for e in a.epochs]
    if a.resize: settings += [(arch, max(a.epochs), [s.size * 3 // 4, s.size]) for arch in a.archs]
    with tempfile.TemporaryDirectory() as tmp:
        for arch, e, sizes in settings:
            if not available(arch): print(f'{arch:<20} skipped: no pretrained weights here'); continue
            t0 = time.time()
            try: m = train_classifier(boats, Path(tmp)/f'{arch}-{e}', s, arch=arch, epochs=e, size=sizes, overwrite=True, quiet=True)
            except BoatclfError as err: print(f'{arch:<20} skipped: {err}'); continue
            label = ','.join(map(str, m['sizes']))
            print(f"{arch:<20}{label:>9}{'1+' + str(e):>8}{m['error_rate']:>8.3f}{m['seconds']:>9.1f}{m['train_loss']:>12.3f}{m['valid_loss']:>12.3f}"
                  f"   ({time.time() - t0:.0f} s with data, calibration and files)", flush=True)
    if "m" in locals(): print(f"{m['n_train']} train / {m['n_valid']} valid images")


if __name__ == '__main__':
    main()

"""Benchmark: training in fp32, bf16 autocast, and fp32 / bf16 with channels-last, in the same run.

    .venv/bin/python bench/precision.py [--mode cpu] [--epochs N] [--steps 30] [--workdir bench/out]

Two measurements for each setup, in one process:
1. the model alone: `--steps` training steps (forward, backward, optimizer step) of the mode's backbone on one fixed
   batch of the mode's size, no data loading, after 3 warm-up steps;
2. a whole `fine_tune` as `boatclf train` runs it (1 frozen + `--epochs` epochs, drawn boats, the mode's image size and
   batch size), with boatclf's `precision_cbs` for bf16 and `boat_learner(channels_last=...)` for the layout.
Prints seconds, the ratio to fp32 and the error rate. Run by hand, not in the tests; on a shared machine, take
a difference of a few percent as noise.
"""
import argparse, os, time, warnings
warnings.filterwarnings("ignore", message="`torch.jit.script` is deprecated")
from pathlib import Path

import torch
from fastai.vision.all import set_seed

from boatclf.core import get_settings
from boatclf.datablock import boat_dls
from boatclf.synth import make_synthetic_boats
from boatclf.train import BASE_LR, boat_learner, pick_backbone, precision_cbs

SETUPS = ('fp32', 'bf16', 'fp32 + channels_last', 'bf16 + channels_last')


def setup_cbs(setup: str, device: str) -> list:
    "fastai callbacks for `setup`: the precision's (boatclf's `precision_cbs`); the layout is `boat_learner`'s `channels_last`."
    return precision_cbs(setup.split()[0], device)


def time_steps(arch_fn, setup: str, s, steps: int) -> float:
    "Seconds for `steps` training steps of a fresh backbone (with a 3-class head) on one random batch; 3 warm-up steps first."
    model = arch_fn(pretrained=False, num_classes=3).to(s.device)   # random weights: the speed is the same
    x, y = torch.randn(s.bs, 3, s.size, s.size, device=s.device), torch.randint(0, 3, (s.bs,), device=s.device)
    if 'channels_last' in setup: model, x = model.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), 1e-3)
    amp = torch.autocast(s.device, dtype=torch.bfloat16, enabled=setup.startswith('bf16'))
    def step():
        with amp: loss = torch.nn.functional.cross_entropy(model(x).float(), y)
        loss.backward(); opt.step(); opt.zero_grad()
    for _ in range(3): step()
    t0 = time.perf_counter()
    for _ in range(steps): step()
    return time.perf_counter() - t0


def time_fine_tune(dls, arch_fn, arch: str, setup: str, s, epochs: int) -> tuple[float, float]:
    "Seconds and final error rate of `fine_tune(epochs)` on `dls` with `setup`'s callbacks (same seed for every setup)."
    set_seed(s.seed)
    learn = boat_learner(dls, arch_fn, channels_last='channels_last' in setup)
    t0 = time.perf_counter()
    with learn.no_bar(), learn.no_logging(): learn.fine_tune(epochs, base_lr=BASE_LR[arch], cbs=setup_cbs(setup, s.device))
    return time.perf_counter() - t0, float(learn.recorder.values[-1][2])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--mode', default='cpu', choices=('full', 'cpu', 'smoke'))
    p.add_argument('--epochs', type=int, help='unfrozen epochs after the frozen one (default: from the mode)')
    p.add_argument('--steps', type=int, default=30, help='timed training steps of the model alone')
    p.add_argument('--setups', default=','.join(SETUPS), help=f'comma-separated, from: {", ".join(SETUPS)}')
    p.add_argument('--workdir', type=Path, default=Path(__file__).parent/'out')
    a = p.parse_args()
    s = get_settings(a.mode)
    setups, epochs = a.setups.split(','), a.epochs or s.epochs
    arch_fn, arch, _ = pick_backbone(s, 'efficientnet_lite0')    # the offline backbone, on every machine
    boats = make_synthetic_boats(a.workdir/'drawn', per_class=s.per_class, seed=s.seed, long_side=(300, 600), progress=False)
    dls = boat_dls(boats, s)
    print(f'mode {s.mode} on {s.device}: {arch}, {s.size} px, batch {s.bs}, {len(dls.train_ds)} train / {len(dls.valid_ds)} valid '
          f'drawn boats, seed {s.seed}; {os.cpu_count()} CPUs, torch {torch.__version__} with {torch.get_num_threads()} threads')
    steps = {u: time_steps(arch_fn, u, s, a.steps) for u in setups}
    print(f'\n1. the model alone: {a.steps} training steps on one batch')
    for u in setups: print(f'  {u:<22} {steps[u]:7.1f} s   {steps[u] / steps[setups[0]]:5.2f}x {setups[0]}')
    print(f'\n2. fine_tune: 1 frozen + {epochs} epoch(s), data loading included')
    runs = {}
    for u in setups:
        runs[u] = time_fine_tune(dls, arch_fn, arch, u, s, epochs)
        print(f'  {u:<22} {runs[u][0]:7.1f} s   {runs[u][0] / runs[setups[0]][0]:5.2f}x {setups[0]}   error rate {runs[u][1]:.3f}', flush=True)


if __name__ == '__main__':
    main()

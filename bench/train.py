"""Benchmark: `boatclf train --synthetic` against a bare PyTorch loop doing the same training, per phase, in one run.

    .venv/bin/python bench/train.py [--mode cpu] [--reference channels_last,contiguous] [--workdir bench/out]

1. boatclf: `train_classifier(synthetic=True)` exactly as `boatclf train --synthetic --mode M` runs it, from nothing
   cached (a fresh BOATCLF_HOME: the boats are drawn), with a callback that notes the time at the start and end of each
   `fit`, so the run splits into: data preparation (drawing, checking, DataLoaders, learner), frozen epoch(s),
   unfrozen epochs, and export (calibration, plots, model files, examples). Import time is measured in a fresh
   Python (`import boatclf.workflow`).
2. The reference: the same network (fastai's `create_vision_model` of the same backbone, the same ImageNet weights),
   the same images and split, size, batch size, epochs, optimizer (AdamW, fastai's defaults), one-cycle schedules and
   frozen layers as `fine_tune` (body frozen except its batch norms), and a validation pass after each epoch. Its images
   are decoded and squished to the training size once, into one tensor: no augmentation, no DataLoader. It runs once
   in each memory format of `--reference`; the fastest is the reference. Import: a fresh Python importing torch and timm.

Prints a table of seconds per phase and the training throughput (images per second over the frozen and unfrozen
epochs, validation included) of each, and the ratio boatclf / reference. Run by hand, not in the tests; this machine
is shared: run it when nothing else runs, and read a few percent as noise.
"""
import argparse, os, subprocess, sys, tempfile, time, warnings
warnings.filterwarnings("ignore", message="`torch.jit.script` is deprecated")
from pathlib import Path


def import_seconds(code: str) -> float:
    "Wall-clock seconds of a fresh Python running `code` (an import), minus a bare Python's start-up."
    def run(c):
        t0 = time.perf_counter(); subprocess.run([sys.executable, '-W', 'ignore', '-c', c], check=True); return time.perf_counter() - t0
    run(code)   # once to warm the file cache, as a second run of the command would find it
    return run(code) - run('pass')


def time_boatclf(mode: str, home: Path) -> dict:
    "Seconds per phase of `train_classifier(synthetic=True)` from nothing cached in `home`, and what it reached."
    os.environ['BOATCLF_HOME'] = str(home)
    from fastai.callback.core import Callback
    import boatclf.workflow as W
    from boatclf.core import get_settings
    marks = []
    class Marks(Callback):
        order = -100   # before every other callback
        def before_fit(self): marks.append(time.perf_counter())
        def after_fit(self): marks.append(time.perf_counter())
    plain = W.fine_tune_progressive
    def timed(*a, cbs=None, **k): return plain(*a, cbs=[Marks(), *(cbs if isinstance(cbs, list) else [cbs] if cbs else [])], **k)
    W.fine_tune_progressive = timed
    try:
        s = get_settings(mode)
        t0 = time.perf_counter()
        res = W.train_classifier(out=home/'model', settings=s, synthetic=True, quiet=True)
        end = time.perf_counter()
    finally: W.fine_tune_progressive = plain
    assert len(marks) == 4, f'expected two fits (frozen, unfrozen), got {len(marks) // 2}'
    n = res['n_train'] // s.bs * s.bs   # fastai drops the last partial training batch
    return dict(prep=marks[0] - t0, frozen=marks[1] - marks[0], unfrozen=marks[3] - marks[2] + (marks[2] - marks[1]),
                export=end - marks[3], images=(n + res['n_valid']) * (res['freeze_epochs'] + res['epochs']),
                error=res['error_rate'], data=Path(res['data_path']), settings=s, arch=res['arch'], lr=res['lr'],
                epochs=res['epochs'], freeze_epochs=res['freeze_epochs'])


def time_reference(b: dict, memory_format: str) -> dict:
    "Seconds per phase of a bare PyTorch loop doing `b`'s training (same data, split, network, schedule)."
    import numpy as np, torch
    import torch.nn.functional as F
    from PIL import Image
    from fastai.vision.all import create_vision_model, set_seed
    from boatclf.datablock import boat_dls
    from boatclf.train import ARCHS
    s, fmt = b['settings'], getattr(torch, memory_format)
    t0 = time.perf_counter()
    dls = boat_dls(b['data'], s)   # only for its seeded split and labels: the reference decodes the files itself
    def load(ds):
        items = list(ds.items)
        x = torch.from_numpy(np.stack([np.asarray(Image.open(f).convert('RGB').resize((s.size, s.size), Image.BILINEAR)) for f in items]))
        x = (x.permute(0, 3, 1, 2).float() / 255 - 0.5) / 0.5     # Lite0's normalization (0.5, 0.5)
        y = torch.tensor([int(ds.vocab.o2i[Path(f).parent.name]) for f in items])
        return x.contiguous(memory_format=fmt), y
    (xt, yt), (xv, yv) = load(dls.train_ds), load(dls.valid_ds)
    set_seed(s.seed)
    arch_fn = ARCHS[b['arch']]
    net = create_vision_model(arch_fn, len(dls.vocab)).to(memory_format=fmt)   # the same ImageNet weights and head fastai builds
    body, head = net[0], net[1]
    is_bn = lambda p_module: isinstance(p_module, torch.nn.modules.batchnorm._BatchNorm)
    bn_params = [p for m in body.modules() if is_bn(m) for p in m.parameters(recurse=False)]
    prep = time.perf_counter() - t0

    def run_epochs(params_lrs, epochs, pct_start, div):
        opt = torch.optim.AdamW([{'params': p, 'lr': lr} for p, lr in params_lrs], betas=(0.9, 0.99), eps=1e-5, weight_decay=0.01)
        steps = len(xt) // s.bs
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[lr for _, lr in params_lrs], total_steps=epochs * steps,
                                                    pct_start=pct_start, div_factor=div, final_div_factor=1e5, three_phase=False)
        for _ in range(epochs):
            net.train()
            order = torch.randperm(len(xt))
            for i in range(steps):
                idx = order[i * s.bs:(i + 1) * s.bs]
                loss = F.cross_entropy(net(xt[idx]), yt[idx])
                loss.backward(); opt.step(); opt.zero_grad(set_to_none=True); sched.step()
            net.eval()
            with torch.no_grad(): err = sum(int((net(xv[i:i + 64]).argmax(1) != yv[i:i + 64]).sum()) for i in range(0, len(xv), 64)) / len(xv)
        return err

    lr = b['lr']
    t0 = time.perf_counter()   # frozen: the head and the body's batch norms learn (fastai's freeze)
    for p in body.parameters(): p.requires_grad_(False)
    for p in bn_params: p.requires_grad_(True)
    run_epochs([(list(head.parameters()) + bn_params, lr)], b['freeze_epochs'], 0.99, 25.)
    frozen = time.perf_counter() - t0
    t0 = time.perf_counter()   # unfrozen: everything, the body at lower rates (fastai's discriminative rates, two groups here)
    for p in net.parameters(): p.requires_grad_(True)
    bn_ids = {id(p) for p in bn_params}
    err = run_epochs([([p for p in body.parameters() if id(p) not in bn_ids] + bn_params, lr / 200), (list(head.parameters()), lr / 2)],
                     b['epochs'], 0.3, 5.)
    unfrozen = time.perf_counter() - t0
    t0 = time.perf_counter()
    from safetensors.torch import save_file
    with tempfile.TemporaryDirectory() as d: save_file({k: v.contiguous() for k, v in net.state_dict().items()}, f'{d}/model.safetensors')
    export = time.perf_counter() - t0
    n = (len(xt) // s.bs * s.bs + len(xv)) * (b['freeze_epochs'] + b['epochs'])
    return dict(prep=prep, frozen=frozen, unfrozen=unfrozen, export=export, images=n, error=err)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--mode', default='cpu', choices=('full', 'cpu', 'smoke'))
    p.add_argument('--reference', default='channels_last,contiguous_format',
                   help='memory formats for the reference loop, comma-separated (channels_last, contiguous_format); the fastest counts')
    p.add_argument('--workdir', type=Path, default=Path(__file__).parent/'out')
    a = p.parse_args()
    a.workdir.mkdir(parents=True, exist_ok=True)
    imports = {'boatclf': import_seconds('import boatclf.workflow'), 'reference': import_seconds('import torch, timm')}
    home = Path(tempfile.mkdtemp(prefix='train-bench-', dir=a.workdir))   # nothing cached: the boats are drawn in this run
    b = time_boatclf(a.mode, home)
    refs = {f: time_reference(b, f) for f in a.reference.split(',')}
    best = min(refs, key=lambda f: refs[f]['frozen'] + refs[f]['unfrozen'])
    import torch
    s = b['settings']
    print(f"mode {s.mode} on {s.device}: {b['arch']} at {s.size} px, batch {s.bs}, {b['freeze_epochs']} frozen + {b['epochs']} epochs, "
          f"seed {s.seed}; {os.cpu_count()} CPUs, torch {torch.__version__}, {torch.get_num_threads()} threads")
    cols = {'boatclf': dict(b, imp=imports['boatclf']), **{f'reference {f}': dict(r, imp=imports['reference']) for f, r in refs.items()}}
    print(f"\n{'phase (s)':<22}" + ''.join(f'{k:>30}' for k in cols))
    for name, key in [('import', 'imp'), ('data preparation', 'prep'), ('frozen epoch(s)', 'frozen'), ('unfrozen epochs', 'unfrozen'), ('export', 'export')]:
        print(f'{name:<22}' + ''.join(f'{c[key]:>30.1f}' for c in cols.values()))
    print(f"{'total':<22}" + ''.join(f"{sum(c[k] for k in ('imp', 'prep', 'frozen', 'unfrozen', 'export')):>30.1f}" for c in cols.values()))
    print(f"{'validation error':<22}" + ''.join(f"{c['error']:>30.3f}" for c in cols.values()))
    speed = {k: c['images'] / (c['frozen'] + c['unfrozen']) for k, c in cols.items()}
    print(f"{'training images/s':<22}" + ''.join(f'{v:>30.1f}' for v in speed.values()))
    print(f"\nboatclf trains at {speed['boatclf'] / speed[f'reference {best}']:.0%} of the reference's throughput "
          f"(the reference at its fastest here: {best}); data drawn into {home}")


if __name__ == '__main__': main()

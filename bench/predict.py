"""Benchmark: `predict_images` (batched, photos decoded several at once) vs a loop of fastai's `learn.predict`, same run.

    .venv/bin/python bench/predict.py [--mode smoke] [--n 64] [--workdir bench/out]

Trains a model on drawn boats as `boatclf train --synthetic` does (the mode's settings; kept in the workdir and reused),
draws `n` new boats (another seed, 300-800 px, as photos come), then times, on the same images, in one process:
1. `learn.predict(f)` for each image, with the learner unpickled from the model.pkl this script just wrote;
2. `predict_images(model, files)` with the model rebuilt from model.json + model.safetensors (nothing unpickled).
Checks that both give the same class for every image and probabilities within 1e-3 (learn.predict's read through the
model's temperature, as boatclf reads them), then prints seconds and the
ratio. Each way runs `--repeat` times, taking turns, and the median time of each is compared (the first call of each
also pays one-time set-up: kernels chosen for the batch shape, threads started). Run by hand, not in the tests.
"""
import argparse, statistics, time, warnings
warnings.filterwarnings("ignore", message="`torch.jit.script` is deprecated")
from pathlib import Path

import torch

from boatclf.core import get_settings
from boatclf.synth import make_synthetic_boats
from boatclf.interpret import load_model, predict_images
from boatclf.workflow import train_classifier


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--mode', default='smoke', choices=('smoke', 'cpu', 'full'))
    p.add_argument('--n', type=int, default=64, help='images to predict')
    p.add_argument('--workdir', type=Path, default=Path('bench/out'))
    p.add_argument('--repeat', type=int, default=5, help='runs of each way; the median is compared')
    a = p.parse_args()
    s = get_settings(a.mode)
    model_dir = a.workdir/f'predict-model-{a.mode}'
    if not (model_dir/'model.json').exists(): train_classifier(out=model_dir, settings=s, synthetic=True, quiet=True, overwrite=True)
    per_class = -(-a.n // 3)
    files = sorted(make_synthetic_boats(a.workdir/f'predict-images-{per_class}', per_class, seed=2026, long_side=(300, 800), progress=False).rglob('*.jpg'))[:a.n]
    learn = load_model(model_dir/'model.pkl', trust_pickle=True).learn   # our own file, written by this script
    safe = load_model(model_dir)
    torch.set_num_threads(torch.get_num_threads())
    def loop():
        with learn.no_bar(): return [learn.predict(f) for f in files]
    times = {loop: [], predict_images: []}
    for _ in range(a.repeat):   # taking turns: a slow moment of this shared machine hits both ways alike
        for fn, args in ((loop, ()), (predict_images, (safe, files))):
            t0 = time.perf_counter(); out = fn(*args); times[fn].append(time.perf_counter() - t0)
            if fn is loop: looped = out
            else: batched = out
    t_loop, t_batch = statistics.median(times[loop]), statistics.median(times[predict_images])
    same = all(str(lbl) == r['labels'][0] for (lbl, _, _), r in zip(looped, batched))
    T = safe.info['temperature']   # boatclf reads outputs through the temperature fitted at training; learn.predict does not
    tempered = lambda p: torch.softmax(p.log() / T, -1) if not safe.multi_label else torch.sigmoid(torch.logit(p) / T)
    diff = max(float((tempered(probs) - torch.tensor(list(r['probs'].values()))).abs().max()) for (_, _, probs), r in zip(looped, batched))
    print(f"mode {a.mode}, {len(files)} images, {torch.get_num_threads()} torch threads, model {safe.info['arch']} at {safe.info['size']} px")
    runs = lambda ts: ' '.join(f'{t:.2f}' for t in ts)
    print(f"learn.predict, one image at a time: {t_loop:6.2f} s median of {a.repeat}  ({len(files) / t_loop:5.1f} images/s; runs: {runs(times[loop])})")
    print(f"predict_images, batched:            {t_batch:6.2f} s median of {a.repeat}  ({len(files) / t_batch:5.1f} images/s; runs: {runs(times[predict_images])})")
    print(f"ratio: predict_images is {t_loop / t_batch:.1f}x faster; same class for every image: {same}; largest probability difference {diff:.1e}")
    assert same and diff < 1e-3, 'the two ways must give the same answers'


if __name__ == '__main__': main()

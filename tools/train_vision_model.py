#!/usr/bin/python3
"""Trains the mobile-vision models (scenario `mobile-vision`, docs/mobile-vision.md).

This is the recipe for the committed models ``models/vision/keel-vision.onnx`` (the main model)
and ``models/vision/keel-vision-small.onnx`` (the smaller CPU model a device falls back to), and
for the labelled image sets under ``examples/mobile-vision/``.

What it makes
-------------
* Camera-like digit images.  The source is scikit-learn's bundled handwritten digits (1797
  images of 8x8, ``sklearn.datasets.load_digits``, shipped inside Debian's python3-sklearn, no
  download).  Each image is rendered at 32x32 grey levels the way a cheap camera would see a
  digit on paper: a random affine pose (rotation up to 15 degrees, scale 0.75-1.15, shift up to
  4 px), defocus blur, uneven lighting (a brightness gradient across the frame, contrast and
  gain), dark or light paper, sensor noise, and 8-bit quantisation.
* A split by *source digit*, stratified: 20% of the 1797 originals are held out, so no pose of
  a held-out digit is ever trained on.  Training renders fresh poses every epoch.
* Two networks (PyTorch, Debian python3-torch), both [1, 1, 32, 32] -> probabilities [1, 10]:
    main   MobileNet-like: Conv 3x3/2 (16) + BN + HardSwish, then depthwise-separable blocks
           (depthwise 3x3 + BN + ReLU, pointwise 1x1 + BN + ReLU) to 64 channels at 8x8 with a
           residual Add, GlobalAveragePool, Gemm, Softmax.
    small  Conv 3x3/2 (8) + ReLU, Conv 3x3/2 (16) + ReLU, MaxPool 2x2, Flatten, Gemm,
           Softmax: about a seventh of the multiply-accumulates, no depthwise convolutions, for CPUs and
           delegates that cannot run the main model within the spec's bounds.
* Outputs (paths are flags):
    --out-dir         models/vision/: keel-vision.onnx, keel-vision-small.onnx (opset 14, with
                      keel.labels, keel.preprocess and keel.heldout_accuracy metadata) and
                      training-report.json (sizes, accuracies, confusion matrices)
    --sets-dir        examples/mobile-vision/: heldout.kimg (one rendering of every held-out
                      digit) and canary.kimg (60 of them, six per class: the health check an
                      update must pass on the device)

Image sets (``.kimg``, read by src/edge/image_set.h): "KIMG1\\n", the header's length (8 bytes,
little-endian), the header (JSON: width, height, channels, count, labels, targets), then count
images of height x width x channels bytes.

Preprocessing (``keel.preprocess``): grey = the image's bytes; x = (grey / 255 - mean) / std,
laid out NCHW.

How to run (from the repository root; Debian's python3 with python3-torch, python3-sklearn and
python3-onnx)::

    /usr/bin/python3 tools/train_vision_model.py          # about a minute on 2 cores

Everything is seeded (``--seed``) and torch runs on one thread.  After exporting, the script
re-reads each ONNX file, checks it with ``onnx.checker`` and recomputes the held-out accuracy
with onnx's reference evaluator where available (else with torch), and Keel's own test
(tests/edge/vision_model_test.cpp) recomputes it through Keel's runtime.
"""

import argparse
import json
import math
import os
import struct

import numpy as np
import onnx
import torch
import torch.nn as nn
import torch.nn.functional as F
from sklearn.datasets import load_digits

LABELS = [str(d) for d in range(10)]
SIZE = 32
MEAN, STD = 0.5, 0.25


def render(digits, rng, count_per_digit=1):
    """Camera-like 32x32 uint8 renderings of 8x8 digits (values 0..16), count_per_digit each."""
    src = np.repeat(digits, count_per_digit, axis=0).astype(np.float32) / 16.0
    n = src.shape[0]
    x = torch.from_numpy(src).view(n, 1, 8, 8)
    # Ink is dark on light paper: render ink as 1, paper as 0, invert later.
    angle = torch.from_numpy(rng.uniform(-15, 15, n).astype(np.float32)) * math.pi / 180
    scale = torch.from_numpy(rng.uniform(0.75, 1.15, n).astype(np.float32))
    shift = torch.from_numpy(rng.uniform(-4, 4, (n, 2)).astype(np.float32)) * (2.0 / SIZE)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1),
                         torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, (n, 1, SIZE, SIZE), align_corners=False)
    ink = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    # Defocus: a Gaussian blur of random width per image (0 to 1.4 px).
    sigma = rng.uniform(0.0, 1.4, n)
    out = torch.empty_like(ink)
    for i in range(n):
        s = float(sigma[i])
        if s < 0.2:
            out[i] = ink[i]
            continue
        r = np.arange(-3, 4, dtype=np.float32)
        k = np.exp(-(r ** 2) / (2 * s * s))
        k /= k.sum()
        kt = torch.from_numpy(k)
        img = F.conv2d(ink[i:i + 1], kt.view(1, 1, 1, 7), padding=(0, 3))
        out[i] = F.conv2d(img, kt.view(1, 1, 7, 1), padding=(3, 0))[0]
    ink = out.clamp(0, 1).numpy()[:, 0]
    # Lighting: paper level, ink contrast, a linear gradient across the frame, sensor noise.
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32) / (SIZE - 1) - 0.5
    paper = rng.uniform(0.55, 0.95, n).astype(np.float32)
    contrast = rng.uniform(0.35, 0.9, n).astype(np.float32)
    gx, gy = rng.uniform(-0.3, 0.3, (2, n)).astype(np.float32)
    light = paper[:, None, None] + gx[:, None, None] * xx + gy[:, None, None] * yy
    img = light - contrast[:, None, None] * ink * light
    img += rng.normal(0, 1, img.shape).astype(np.float32) * rng.uniform(0.0, 0.06, n).astype(
        np.float32)[:, None, None]
    return np.clip(np.round(img * 255), 0, 255).astype(np.uint8)


def to_tensor(images):
    x = torch.from_numpy(images.astype(np.float32) / 255.0)
    return ((x - MEAN) / STD).unsqueeze(1)


class Separable(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.dw = nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False)
        self.bn1 = nn.BatchNorm2d(cin)
        self.pw = nn.Conv2d(cin, cout, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)

    def forward(self, x):
        x = F.relu(self.bn1(self.dw(x)))
        return F.relu(self.bn2(self.pw(x)))


class MainNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(1, 16, 3, 2, 1, bias=False)
        self.bn = nn.BatchNorm2d(16)
        self.b1 = Separable(16, 32, 1)
        self.b2 = Separable(32, 64, 2)
        self.b3 = Separable(64, 64, 1)
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        x = F.hardswish(self.bn(self.stem(x)))
        x = self.b2(self.b1(x))
        x = x + self.b3(x)
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return self.fc(x)


class SmallNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 8, 3, 2, 1)
        self.c2 = nn.Conv2d(8, 16, 3, 2, 1)
        self.fc = nn.Linear(16 * 4 * 4, 10)

    def forward(self, x):
        x = F.relu(self.c2(F.relu(self.c1(x))))
        return self.fc(torch.flatten(F.max_pool2d(x, 2), 1))


class WithSoftmax(nn.Module):
    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return F.softmax(self.net(x), dim=1)


def train(net, digits, targets, rng, epochs, lr):
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    steps = epochs * math.ceil(len(digits) * 4 / 64)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    for epoch in range(epochs):
        net.train()
        images = render(digits, rng, 4)
        y = torch.from_numpy(np.repeat(targets, 4))
        x = to_tensor(images)
        order = torch.from_numpy(rng.permutation(len(y)))
        total = 0.0
        for i in range(0, len(y), 64):
            idx = order[i:i + 64]
            loss = F.cross_entropy(net(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total += float(loss) * len(idx)
        if (epoch + 1) % 5 == 0:
            print(f"  epoch {epoch + 1}/{epochs}: loss {total / len(y):.4f}", flush=True)


def evaluate(net, images, targets):
    net.eval()
    with torch.no_grad():
        pred = net(to_tensor(images)).argmax(1).numpy()
    confusion = np.zeros((10, 10), dtype=int)
    for t, p in zip(targets, pred):
        confusion[t, p] += 1
    return float((pred == targets).mean()), confusion


def export(net, path, accuracy, heldout_count):
    net.eval()
    dummy = torch.zeros(1, 1, SIZE, SIZE)
    torch.onnx.export(WithSoftmax(net), dummy, path, opset_version=14,
                      input_names=["image"], output_names=["probabilities"],
                      do_constant_folding=True)
    model = onnx.load(path)
    meta = {
        "keel.labels": json.dumps(LABELS),
        "keel.preprocess": json.dumps({"layout": "NCHW", "channels": "grey", "width": SIZE,
                                       "height": SIZE, "mean": MEAN, "std": STD}),
        "keel.heldout_accuracy": f"{accuracy:.4f}",
        "keel.heldout_count": str(heldout_count),
        "keel.recipe": "tools/train_vision_model.py",
    }
    del model.metadata_props[:]
    for k, v in meta.items():
        p = model.metadata_props.add()
        p.key, p.value = k, v
    model.producer_name = "keel tools/train_vision_model.py"
    onnx.checker.check_model(model)
    onnx.save(model, path)


def write_kimg(path, images, targets):
    header = json.dumps({"width": SIZE, "height": SIZE, "channels": 1, "count": len(images),
                         "labels": LABELS, "targets": [int(t) for t in targets]},
                        separators=(",", ":")).encode()
    with open(path, "wb") as f:
        f.write(b"KIMG1\n")
        f.write(struct.pack("<Q", len(header)))
        f.write(header)
        f.write(np.ascontiguousarray(images, dtype=np.uint8).tobytes())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, default=20261208)
    ap.add_argument("--epochs", type=int, default=40)
    ap.add_argument("--out-dir", default="models/vision")
    ap.add_argument("--sets-dir", default="examples/mobile-vision")
    args = ap.parse_args()

    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    digits = load_digits()
    data, target = digits.images, digits.target.astype(np.int64)
    held = np.zeros(len(target), dtype=bool)
    for c in range(10):
        idx = np.flatnonzero(target == c)
        held[rng.choice(idx, size=round(0.2 * len(idx)), replace=False)] = True
    train_digits, train_y = data[~held], target[~held]
    test_y = target[held]
    test_images = render(data[held], np.random.default_rng(args.seed + 1), 1)
    print(f"train {len(train_y)} digits (x4 fresh renderings per epoch), held out {len(test_y)}")

    os.makedirs(args.out_dir, exist_ok=True)
    os.makedirs(args.sets_dir, exist_ok=True)
    report = {"seed": args.seed, "epochs": args.epochs, "train_digits": int(len(train_y)),
              "heldout_images": int(len(test_y)), "models": {}}
    for name, net, lr in (("keel-vision", MainNet(), 8e-3), ("keel-vision-small", SmallNet(), 1e-2)):
        print(f"training {name} ({sum(p.numel() for p in net.parameters())} parameters)")
        train(net, train_digits, train_y, rng, args.epochs, lr)
        acc, confusion = evaluate(net, test_images, test_y)
        print(f"  held-out accuracy {acc:.4f} ({int(round(acc * len(test_y)))}/{len(test_y)})")
        path = os.path.join(args.out_dir, name + ".onnx")
        export(net, path, acc, len(test_y))
        report["models"][name] = {"file": path, "heldout_accuracy": round(acc, 4),
                                  "parameters": int(sum(p.numel() for p in net.parameters())),
                                  "confusion": confusion.tolist()}

    write_kimg(os.path.join(args.sets_dir, "heldout.kimg"), test_images, test_y)
    canary = np.concatenate([np.flatnonzero(test_y == c)[:6] for c in range(10)])
    write_kimg(os.path.join(args.sets_dir, "canary.kimg"), test_images[canary], test_y[canary])
    with open(os.path.join(args.out_dir, "training-report.json"), "w") as f:
        json.dump(report, f, indent=1)
        f.write("\n")
    print("wrote", args.out_dir, "and", args.sets_dir)


if __name__ == "__main__":
    main()

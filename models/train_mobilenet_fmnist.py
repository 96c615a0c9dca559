#!/usr/bin/python3
"""Train the committed Fashion-MNIST MobileNetV2 fixture (models/mobilenetv2_fmnist.onnx).

torchvision's MobileNetV2 block structure, adapted to 1x32x32 inputs: the stem conv takes
one channel and has stride 1 instead of 2; every inverted-residual block is torchvision's.
Runs on one CPU thread (a fixture, not a product); run it under `nice -n 19`.

  /usr/bin/python3 models/train_mobilenet_fmnist.py [--epochs N] [--width W] [--measure]

Preprocessing (also written to models/mobilenetv2_fmnist.json): pixel/255, zero-pad the
28x28 image by 2 on every side to 32x32, then (x - 0.2860) / 0.3530; layout NCHW 1x1x32x32.
"""
import argparse
import gzip
import json
import math
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
MEAN, STD = 0.2860, 0.3530
SEED = 20240601


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[0:4], "big")
    ndim = magic & 0xFF
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_split(root, prefix):
    x = read_idx(os.path.join(root, prefix + "-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(root, prefix + "-labels-idx1-ubyte.gz"))
    x = torch.from_numpy(x.astype(np.float32) / 255.0)
    x = F.pad(x, (2, 2, 2, 2))  # 28 -> 32 with zeros in pixel space
    x = ((x - MEAN) / STD).unsqueeze(1).contiguous()
    return x, torch.from_numpy(y.astype(np.int64))


def build_model(width):
    m = torchvision.models.mobilenet_v2(num_classes=10, width_mult=width)
    stem = m.features[0][0]
    m.features[0][0] = nn.Conv2d(1, stem.out_channels, 3, stride=1, padding=1, bias=False)
    nn.init.kaiming_normal_(m.features[0][0].weight, mode="fan_out")
    return m


def augment(x, gen):
    """Random crop (pad 2 with the background value, crop 32) and horizontal flip."""
    n = x.shape[0]
    bg = (0.0 - MEAN) / STD
    xp = F.pad(x, (2, 2, 2, 2), value=bg)
    ox = torch.randint(0, 5, (n,), generator=gen)
    oy = torch.randint(0, 5, (n,), generator=gen)
    out = torch.empty(x.shape, dtype=x.dtype)
    for i in range(n):
        out[i] = xp[i, :, oy[i]:oy[i] + 32, ox[i]:ox[i] + 32]
    flip = torch.rand(n, generator=gen) < 0.5
    out[flip] = out[flip].flip(-1)
    return out.contiguous(memory_format=torch.channels_last)


def evaluate(model, x, y, bs=500):
    model.eval()
    correct = 0
    with torch.no_grad():
        for i in range(0, x.shape[0], bs):
            correct += (model(x[i:i + bs]).argmax(1) == y[i:i + bs]).sum().item()
    return correct / x.shape[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--out", default=HERE)
    ap.add_argument("--epochs", type=int, default=14)
    ap.add_argument("--width", type=float, default=0.5)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--lr", type=float, default=0.25)
    ap.add_argument("--wd", type=float, default=5e-5)
    ap.add_argument("--measure", action="store_true", help="time 40 training steps and exit")
    args = ap.parse_args()

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)
    gen = torch.Generator().manual_seed(SEED)

    xtr, ytr = load_split(args.data, "train")
    xte, yte = load_split(args.data, "t10k")
    # channels_last makes MKL-DNN's depthwise convolutions about 2x faster on one thread.
    model = build_model(args.width).to(memory_format=torch.channels_last)
    xtr = xtr.contiguous(memory_format=torch.channels_last)
    xte = xte.contiguous(memory_format=torch.channels_last)
    nparams = sum(p.numel() for p in model.parameters())
    print(f"width={args.width} params={nparams} train={len(ytr)} test={len(yte)}", flush=True)

    steps_per_epoch = math.ceil(len(ytr) / args.batch)
    decay, no_decay = [], []
    for p in model.parameters():
        (no_decay if p.ndim <= 1 else decay).append(p)
    opt = torch.optim.SGD([{"params": decay, "weight_decay": args.wd},
                           {"params": no_decay, "weight_decay": 0.0}],
                          lr=args.lr, momentum=0.9, nesterov=True)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, epochs=args.epochs,
                                                steps_per_epoch=steps_per_epoch, pct_start=0.2)
    crit = nn.CrossEntropyLoss(label_smoothing=0.1)

    if args.measure:
        model.train()
        t0 = time.time()
        for s in range(40):
            idx = torch.randint(0, len(ytr), (args.batch,), generator=gen)
            loss = crit(model(augment(xtr[idx], gen)), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        dt = (time.time() - t0) / 40
        print(f"{dt * 1000:.1f} ms/step -> {dt * steps_per_epoch:.0f} s/epoch", flush=True)
        return

    t_start = time.time()
    for epoch in range(args.epochs):
        model.train()
        perm = torch.randperm(len(ytr), generator=gen)
        tot, n, t0 = 0.0, 0, time.time()
        for s in range(steps_per_epoch):
            idx = perm[s * args.batch:(s + 1) * args.batch]
            loss = crit(model(augment(xtr[idx], gen)), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tot += loss.item() * len(idx)
            n += len(idx)
        acc = evaluate(model, xte, yte)
        print(f"epoch {epoch + 1}/{args.epochs} loss={tot / n:.4f} test_acc={acc:.4f} "
              f"lr={sched.get_last_lr()[0]:.4f} epoch_s={time.time() - t0:.0f} "
              f"total_s={time.time() - t_start:.0f}", flush=True)
    train_s = time.time() - t_start

    model = model.to(memory_format=torch.contiguous_format)
    xte = xte.contiguous()
    model.eval()
    acc = evaluate(model, xte, yte)
    correct = int(round(acc * len(yte)))
    onnx_path = os.path.join(args.out, "mobilenetv2_fmnist.onnx")
    tmp = onnx_path + ".tmp"
    torch.onnx.export(model, torch.zeros(1, 1, 32, 32), tmp, opset_version=13,
                      input_names=["input"], output_names=["logits"], do_constant_folding=True)
    os.replace(tmp, onnx_path)
    # Reference logits of the first 16 test images, for peers and regression checks.
    with torch.no_grad():
        ref = model(xte[:16]).numpy()
    meta = {
        "model": "mobilenetv2_fmnist.onnx",
        "architecture": f"torchvision MobileNetV2 width_mult={args.width}, 10 classes; stem conv "
                        "1->C channels with stride 1 (torchvision: 3->C, stride 2); "
                        "inverted-residual blocks unchanged",
        "parameters": nparams,
        "input": {"name": "input", "shape": [1, 1, 32, 32], "dtype": "float32", "layout": "NCHW"},
        "output": {"name": "logits", "shape": [1, 10], "dtype": "float32"},
        "preprocessing": {
            "source": "Fashion-MNIST 28x28 uint8 grayscale (IDX)",
            "scale": 1.0 / 255.0,
            "pad": {"before_normalization": True, "pixels_each_side": 2, "value": 0.0},
            "size": [32, 32],
            "channels": 1,
            "mean": [MEAN],
            "std": [STD],
            "formula": "x = ((pad(pixel / 255, 2, value=0)) - 0.2860) / 0.3530",
        },
        "classes": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                    "Sneaker", "Bag", "Ankle boot"],
        "test_accuracy": round(acc, 4),
        "test_correct": correct,
        "test_samples": int(len(yte)),
        "accuracy_measured_with": "PyTorch eval mode (float32) before export",
        "training": {"epochs": args.epochs, "batch": args.batch, "optimizer": "SGD nesterov 0.9",
                     "schedule": f"OneCycle max_lr={args.lr}", "weight_decay": args.wd,
                     "label_smoothing": 0.1, "augmentation": "random crop (pad 2) + h-flip",
                     "seed": SEED, "threads": 1, "seconds": round(train_s)},
        "reference_logits_first16": ref.round(5).tolist(),
    }
    with open(os.path.join(args.out, "mobilenetv2_fmnist.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    print(f"final test_acc={acc:.4f} ({correct}/{len(yte)}) exported {onnx_path} "
          f"({os.path.getsize(onnx_path)} bytes) train_s={train_s:.0f}", flush=True)


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Train the committed segmentation fixture: a small U-Net on Fashion-MNIST items pasted on
procedural textures (models/unet_seg.onnx, models/seg_test.npz, models/unet_seg.json).

  nice -n 19 /usr/bin/python3 models/train_unet_seg.py [--minutes M] [--measure]

Task: 64x64 grayscale images; each holds one or two Fashion-MNIST items, scaled to 24..48
pixels and placed at random on a procedural background (value noise, stripes, gradients,
checkers, blends of two). The label of a pixel is 0 (background) or 1 + the Fashion-MNIST
class of the item covering it (the item's resized pixels > 0.1, later items on top), so
there are 11 classes. Training scenes use items of the Fashion-MNIST train split and are
drawn afresh every epoch (seeded); the held-out scenes use items of the t10k split and
their own seed, so no item is shared between the two.

Preprocessing: pixel values p (uint8 0..255) -> x = (p - 128) / 64, layout NCHW 1x1x64x64.
The power-of-two scale makes every input value exact in float32 (so the committed
models/seg_test.npz, float32, deflates well). mIoU: per-class IoU over all pixels of the
held-out split (argmax over the class channel vs mask), averaged over the 11 classes.
Runs on one CPU thread; run it under `nice -n 19`. Debian's torch calls the reference BLAS
(libblas.so.3) for ConvTranspose and convolution backward; when libopenblas0-pthread is
installed the script re-executes itself with OpenBLAS's libblas first on LD_LIBRARY_PATH
(one thread), which makes a step ~35% faster (the results were produced that way).
"""
import argparse
import gzip
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
SIZE = 64
MIN_ITEM, MAX_ITEM = 24, 48
MASK_THRESHOLD = 0.1
PIX_OFFSET, PIX_SCALE = 128.0, 64.0
SEED_TRAIN, SEED_TEST, SEED_TORCH = 7100, 7200, 7300
CLASSES = ["background", "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
           "Shirt", "Sneaker", "Bag", "Ankle boot"]


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


# --------------------------------------------------------------------------- scenes

def smooth_noise(rng, cells):
    """Value noise: a random cells x cells grid, bilinearly upsampled to SIZE x SIZE."""
    g = torch.from_numpy(rng.random((1, 1, cells + 1, cells + 1)).astype(np.float32))
    up = F.interpolate(g, size=(SIZE + SIZE // cells, SIZE + SIZE // cells), mode="bilinear",
                       align_corners=True)[0, 0].numpy()
    oy, ox = rng.integers(0, SIZE // cells + 1, 2)
    return up[oy:oy + SIZE, ox:ox + SIZE]


def texture(rng):
    """One procedural texture in [0, 1], SIZE x SIZE."""
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    kind = rng.integers(0, 5)
    if kind == 0:  # fractal value noise
        t = np.zeros((SIZE, SIZE), np.float32)
        amp, tot = 1.0, 0.0
        for cells in (2, 4, 8, 16):
            t += amp * smooth_noise(rng, cells)
            tot += amp
            amp *= rng.uniform(0.4, 0.8)
        t /= tot
    elif kind == 1:  # stripes, any orientation and period
        th = rng.uniform(0, math.pi)
        period = rng.uniform(3.0, 16.0)
        ph = rng.uniform(0, 2 * math.pi)
        s = np.sin(2 * math.pi * (xx * math.cos(th) + yy * math.sin(th)) / period + ph)
        if rng.random() < 0.4:
            s = np.sign(s) * np.abs(s) ** 0.3  # sharper, almost square stripes
        t = 0.5 + 0.5 * s
    elif kind == 2:  # linear gradient
        th = rng.uniform(0, 2 * math.pi)
        r = (xx - SIZE / 2) * math.cos(th) + (yy - SIZE / 2) * math.sin(th)
        t = (r - r.min()) / (r.max() - r.min())
    elif kind == 3:  # checkers, possibly rotated
        th = rng.uniform(0, math.pi / 2)
        cell = rng.uniform(4.0, 14.0)
        u = (xx * math.cos(th) + yy * math.sin(th)) / cell
        v = (-xx * math.sin(th) + yy * math.cos(th)) / cell
        t = ((np.floor(u) + np.floor(v)) % 2).astype(np.float32)
    else:  # radial rings
        cx, cy = rng.uniform(0, SIZE, 2)
        period = rng.uniform(4.0, 20.0)
        t = 0.5 + 0.5 * np.sin(2 * math.pi * np.hypot(xx - cx, yy - cy) / period)
    return t.astype(np.float32)


def background(rng):
    t = texture(rng)
    if rng.random() < 0.5:  # blend two textures through a smooth mask
        w = smooth_noise(rng, 2)
        t = w * t + (1 - w) * texture(rng)
    lo = rng.uniform(0.0, 0.6)
    hi = rng.uniform(lo + 0.1, 1.0)
    return lo + (hi - lo) * t


def resize_item(item, size):
    t = torch.from_numpy(item.astype(np.float32) / 255.0)[None, None]
    return F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False,
                         antialias=size < item.shape[0])[0, 0].clamp(0, 1).numpy()


def make_scenes(images, labels, n, seed):
    """n scenes: uint8 pixels [n, SIZE, SIZE] and int64 class masks [n, SIZE, SIZE]."""
    rng = np.random.default_rng(seed)
    pix = np.empty((n, SIZE, SIZE), np.uint8)
    mask = np.zeros((n, SIZE, SIZE), np.int64)
    for i in range(n):
        img = background(rng)
        for _ in range(1 + int(rng.random() < 0.35)):
            k = rng.integers(0, len(images))
            s = int(rng.integers(MIN_ITEM, MAX_ITEM + 1))
            it = resize_item(images[k], s)
            if rng.random() < 0.5:
                it = it[:, ::-1]
            y, x = rng.integers(0, SIZE - s + 1, 2)
            gain = rng.uniform(0.5, 1.0)
            if rng.random() < 0.7:
                color = np.clip(rng.uniform(0.0, 0.5) + gain * it, 0, 1)  # light item
            else:
                color = np.clip(rng.uniform(0.5, 1.0) - gain * it, 0, 1)  # dark item
            alpha = np.clip(it / MASK_THRESHOLD, 0, 1)
            region = img[y:y + s, x:x + s]
            img[y:y + s, x:x + s] = alpha * color + (1 - alpha) * region
            m = mask[i, y:y + s, x:x + s]
            m[it > MASK_THRESHOLD] = 1 + int(labels[k])
        img = img + rng.normal(0, rng.uniform(0.0, 0.02), img.shape)
        pix[i] = np.clip(np.round(img * 255), 0, 255).astype(np.uint8)
    return pix, mask


def to_input(pix):
    return ((pix.astype(np.float32) - PIX_OFFSET) / PIX_SCALE)[:, None]


# --------------------------------------------------------------------------- model

def cbr(cin, cout):
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True)]


class Block(nn.Sequential):
    def __init__(self, cin, cout):
        super().__init__(*cbr(cin, cout), *cbr(cout, cout))


class UNet(nn.Module):
    """Three 2x2 max-pool downsamplings, 2x2 stride-2 ConvTranspose upsamplings, Concat
    skips; two Conv3x3-BN-ReLU per level; 1x1 conv head."""

    def __init__(self, classes, base=16):
        super().__init__()
        c = [base, base * 2, base * 4, base * 8]
        self.enc = nn.ModuleList([Block(1, c[0]), Block(c[0], c[1]), Block(c[1], c[2])])
        self.mid = Block(c[2], c[3])
        self.up = nn.ModuleList([nn.ConvTranspose2d(c[k + 1], c[k], 2, stride=2) for k in (2, 1, 0)])
        self.dec = nn.ModuleList([Block(2 * c[k], c[k]) for k in (2, 1, 0)])
        self.head = nn.Conv2d(c[0], classes, 1)

    def forward(self, x):
        skips = []
        for e in self.enc:
            x = e(x)
            skips.append(x)
            x = F.max_pool2d(x, 2)
        x = self.mid(x)
        for up, dec, s in zip(self.up, self.dec, reversed(skips)):
            x = dec(torch.cat([up(x), s], 1))
        return self.head(x)


def confusion(model, x, y, classes, bs=100):
    model.eval()
    cm = torch.zeros(classes, classes, dtype=torch.int64)
    with torch.no_grad():
        for i in range(0, x.shape[0], bs):
            p = model(x[i:i + bs]).argmax(1)
            cm += torch.bincount(y[i:i + bs].reshape(-1) * classes + p.reshape(-1),
                                 minlength=classes * classes).reshape(classes, classes)
    return cm


def iou_from_confusion(cm):
    """Per-class IoU = TP / (TP + FP + FN) over all pixels; rows are truth, columns prediction."""
    tp = cm.diag().double()
    denom = cm.sum(0).double() + cm.sum(1).double() - tp
    return (tp / denom.clamp(min=1)).tolist()


# --------------------------------------------------------------------------- main

def clean_identities(model):
    """Bypass the Identity nodes torch's PRESERVE export puts after initializers."""
    g = model.graph
    outputs = {o.name for o in g.output}
    rename, keep = {}, []
    for n in g.node:
        if n.op_type == "Identity" and n.output[0] not in outputs:
            rename[n.output[0]] = rename.get(n.input[0], n.input[0])
        else:
            keep.append(n)
    for n in keep:
        for i, name in enumerate(n.input):
            if name in rename:
                n.input[i] = rename[name]
    del g.node[:]
    g.node.extend(keep)
    return model


def ort_check(onnx_path, x, want):
    """Max |ONNX Runtime - PyTorch| over the logits of x, through bench/ort_run.mjs (None when
    node or bench/node_modules is missing: the export is then unchecked)."""
    runner = os.path.join(HERE, "..", "bench", "ort_run.mjs")
    node = shutil.which("node")
    if not node or not os.path.isdir(os.path.join(HERE, "..", "bench", "node_modules")):
        print("ort check skipped: no node or bench/node_modules", flush=True)
        return None
    with tempfile.TemporaryDirectory() as d:
        np.save(os.path.join(d, "input.npy"), x)
        r = subprocess.run([node, runner, onnx_path, "--input", f"input={d}/input.npy",
                            "--output-dir", d], capture_output=True, text=True)
        if r.returncode != 0:
            print(f"ort check failed: {r.stderr.strip()}", flush=True)
            return None
        got = np.load(os.path.join(d, "logits.npy"))
    diff = float(np.abs(got - want).max())
    print(f"ONNX Runtime vs PyTorch logits on {len(x)} scenes: max |diff| = {diff:.2e}", flush=True)
    return diff


OPENBLAS = "/usr/lib/x86_64-linux-gnu/openblas-pthread"


def prefer_openblas():
    """Re-exec with OpenBLAS's libblas.so.3 ahead of the reference BLAS (see the docstring)."""
    if not os.path.exists(os.path.join(OPENBLAS, "libblas.so.3")):
        return
    paths = os.environ.get("LD_LIBRARY_PATH", "")
    if OPENBLAS in paths.split(":"):
        return
    env = dict(os.environ, LD_LIBRARY_PATH=OPENBLAS + (":" + paths if paths else ""),
               OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    os.execve(sys.executable, [sys.executable] + sys.argv, env)


def main():
    prefer_openblas()
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--out", default=HERE)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--train-scenes", type=int, default=5000, help="fresh scenes per epoch")
    ap.add_argument("--test-scenes", type=int, default=500)
    ap.add_argument("--base", type=int, default=16)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--measure", action="store_true", help="time 20 training steps and exit")
    args = ap.parse_args()

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    torch.manual_seed(SEED_TORCH)
    ncls = len(CLASSES)

    tr_img = read_idx(os.path.join(args.data, "train-images-idx3-ubyte.gz"))
    tr_lab = read_idx(os.path.join(args.data, "train-labels-idx1-ubyte.gz"))
    te_img = read_idx(os.path.join(args.data, "t10k-images-idx3-ubyte.gz"))
    te_lab = read_idx(os.path.join(args.data, "t10k-labels-idx1-ubyte.gz"))

    t0 = time.time()
    te_pix, te_mask = make_scenes(te_img, te_lab, args.test_scenes, SEED_TEST)
    xte, yte = torch.from_numpy(to_input(te_pix)), torch.from_numpy(te_mask)
    gen_s = (time.time() - t0) / args.test_scenes
    # channels_last is ~12% faster for MKL-DNN convolutions on one thread.
    cl = torch.channels_last
    xte = xte.contiguous(memory_format=cl)
    model = UNet(ncls, args.base).to(memory_format=cl)
    nparams = sum(p.numel() for p in model.parameters())
    print(f"params={nparams} classes={ncls} train_scenes/epoch={args.train_scenes} "
          f"test_scenes={args.test_scenes} scene_gen_ms={gen_s * 1000:.2f}", flush=True)

    steps = math.ceil(args.train_scenes / args.batch)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, epochs=args.epochs,
                                                steps_per_epoch=steps, pct_start=0.15)
    crit = nn.CrossEntropyLoss()

    if args.measure:
        pix, m = make_scenes(tr_img, tr_lab, 20 * args.batch, SEED_TRAIN)
        x, y = torch.from_numpy(to_input(pix)).contiguous(memory_format=cl), torch.from_numpy(m)
        model.train()
        t0 = time.time()
        for s in range(20):
            loss = crit(model(x[s * args.batch:(s + 1) * args.batch]), y[s * args.batch:(s + 1) * args.batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
        dt = (time.time() - t0) / 20
        print(f"{dt * 1000:.1f} ms/step + gen {gen_s * args.batch * 1000:.0f} ms -> "
              f"{(dt + gen_s * args.batch) * steps:.0f} s/epoch", flush=True)
        return 0

    t_start = time.time()
    for epoch in range(args.epochs):
        t0 = time.time()
        pix, m = make_scenes(tr_img, tr_lab, args.train_scenes, SEED_TRAIN + 1000 * epoch)
        x, y = torch.from_numpy(to_input(pix)).contiguous(memory_format=cl), torch.from_numpy(m)
        model.train()
        perm = torch.randperm(len(x))
        tot = 0.0
        for s in range(steps):
            idx = perm[s * args.batch:(s + 1) * args.batch]
            loss = crit(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            tot += loss.item() * len(idx)
        ious = iou_from_confusion(confusion(model, xte[:250], yte[:250], ncls))
        print(f"epoch {epoch + 1}/{args.epochs} loss={tot / len(x):.4f} "
              f"mIoU(first 250 test scenes)={sum(ious) / ncls:.4f} bg_IoU={ious[0]:.4f} "
              f"lr={sched.get_last_lr()[0]:.5f} epoch_s={time.time() - t0:.0f} "
              f"total_s={time.time() - t_start:.0f}", flush=True)
    train_s = time.time() - t_start

    cm = confusion(model, xte, yte, ncls)
    ious = iou_from_confusion(cm)
    miou = sum(ious) / ncls
    pixel_acc = cm.diag().sum().item() / cm.sum().item()
    # Object vs background, classes merged: how well the items are found, whatever their class.
    fg_tp = cm[1:, 1:].sum().item()
    fg_iou = fg_tp / (cm[1:, :].sum().item() + cm[:, 1:].sum().item() - fg_tp)

    import onnx
    model = model.to(memory_format=torch.contiguous_format)
    xte = xte.contiguous()
    onnx_path = os.path.join(args.out, "unet_seg.onnx")
    tmp = onnx_path + ".tmp"
    model.eval()
    with torch.no_grad():
        torch.onnx.export(model, torch.zeros(1, 1, SIZE, SIZE), tmp, opset_version=13,
                          input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}},
                          training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=True)
    om = clean_identities(onnx.load(tmp))
    onnx.checker.check_model(om)
    onnx.save(om, tmp)
    os.replace(tmp, onnx_path)

    with torch.no_grad():
        want = model(xte[:4]).numpy()
    onnx_maxdiff = ort_check(onnx_path, xte[:4].numpy(), want)

    npz_path = os.path.join(args.out, "seg_test.npz")
    np.savez_compressed(npz_path + ".tmp.npz", input=to_input(te_pix), mask=te_mask)
    os.replace(npz_path + ".tmp.npz", npz_path)

    counts = torch.bincount(yte.reshape(-1), minlength=ncls).tolist()
    meta = {
        "model": "unet_seg.onnx",
        "architecture": f"U-Net, base {args.base} channels, 3 max-pool levels + bottleneck "
                        f"({args.base}-{args.base * 2}-{args.base * 4}-{args.base * 8}), "
                        "Conv3x3-BatchNorm-ReLU x2 per level, ConvTranspose 2x2 stride 2 "
                        "upsampling, Concat skips, Conv1x1 head; BatchNormalization nodes kept",
        "parameters": nparams,
        "input": {"name": "input", "shape": ["N", 1, SIZE, SIZE], "dtype": "float32",
                  "layout": "NCHW"},
        "output": {"name": "logits", "shape": ["N", ncls, SIZE, SIZE], "dtype": "float32"},
        "preprocessing": {
            "source": "8-bit grayscale scene, pixel values p in 0..255",
            "formula": f"x = (p - {PIX_OFFSET:g}) / {PIX_SCALE:g}",
            "nnopt_image_keys": f"channels=gray,scale=1,mean={PIX_OFFSET:g},std={PIX_SCALE:g}",
            "channels": 1,
            "size": [SIZE, SIZE],
        },
        "classes": CLASSES,
        "task": f"one or two Fashion-MNIST items (resized to {MIN_ITEM}..{MAX_ITEM} px, random "
                "position, random h-flip, light or dark rendering) on procedural textures "
                "(value noise, stripes, gradients, checkers, rings, blends); pixel label = "
                f"1 + item class where the resized item > {MASK_THRESHOLD}, else 0",
        "test_set": {
            "file": "seg_test.npz",
            "arrays": {"input": f"float32 [{args.test_scenes},1,{SIZE},{SIZE}], preprocessed",
                       "mask": f"int64 [{args.test_scenes},{SIZE},{SIZE}], class ids 0..{ncls - 1}"},
            "items_from": "Fashion-MNIST t10k split", "seed": SEED_TEST,
            "pixels_per_class": counts,
        },
        "miou": round(miou, 4),
        "iou_per_class": [round(v, 4) for v in ious],
        "pixel_accuracy": round(pixel_acc, 4),
        "object_iou_classes_merged": round(fg_iou, 4),
        "test_samples": args.test_scenes,
        "miou_definition": "per-class IoU = TP/(TP+FP+FN) over all pixels of the split "
                           "(argmax over the class channel vs mask), mean over the 11 classes",
        "miou_measured_with": "PyTorch eval mode (float32) before export",
        "onnxruntime_vs_torch_max_abs_diff_4_scenes": onnx_maxdiff,
        "training": {"epochs": args.epochs, "scenes_per_epoch": args.train_scenes,
                     "scenes": "fresh every epoch, items from the Fashion-MNIST train split",
                     "batch": args.batch, "optimizer": "AdamW wd=1e-4",
                     "schedule": f"OneCycle max_lr={args.lr}", "loss": "cross-entropy",
                     "seeds": {"train_scenes": SEED_TRAIN, "test_scenes": SEED_TEST,
                               "torch": SEED_TORCH},
                     "threads": 1, "seconds": round(train_s),
                     "blas": os.environ.get("LD_LIBRARY_PATH") or "system libblas.so.3"},
    }
    json_path = os.path.join(args.out, "unet_seg.json")
    with open(json_path + ".tmp", "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    os.replace(json_path + ".tmp", json_path)
    print(f"final test mIoU={miou:.4f} over {args.test_scenes} scenes "
          f"({args.test_scenes * SIZE * SIZE} pixels), pixel_acc={pixel_acc:.4f}, "
          f"object IoU (classes merged)={fg_iou:.4f}; "
          f"per-class IoU {' '.join(f'{v:.3f}' for v in ious)}; exported {onnx_path} "
          f"({os.path.getsize(onnx_path)} bytes), {npz_path} ({os.path.getsize(npz_path)} bytes) "
          f"train_s={train_s:.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

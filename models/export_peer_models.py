#!/usr/bin/python3
"""Build the peer-comparison fixture models and their deterministic inputs.

  /usr/bin/python3 models/export_peer_models.py [--out DIR] [--models a,b,...] [--list]

Every model goes to DIR/<name>/ (default models/cache/<name>/, gitignored):
  model.onnx            ONNX, opset 13, fixed shapes, random weights from a fixed seed
  inputs/<input>.npy    one file per graph input, from a fixed seed
  meta.json             written last: marks the folder complete (then it is reused as is)

Models (random init unless said otherwise):
  mobilenet_v2   torchvision, 1000 classes, input 1x3x224x224
  resnet18       torchvision, 1000 classes, input 1x3x224x224
  bert_base      plain-torch BERT encoder + classifier: 12 layers, hidden 768, 12 heads,
                 vocab 30522, inputs input_ids/attention_mask int64 [1,128]
  bert_small     the same code with 2 layers, hidden 256, 4 heads, vocab 8192 (for CI);
                 also inputs_padded/ with the last 37 mask positions 0
  unet_large     U-Net, base 100 channels, 4 levels, input 1x3x256x256 (~300 MB FP32)
  unet_small     the same code with base 10 channels, input 1x3x128x128 (~3 MB)
  mobilenetv2_fmnist, bert_sst2   the committed trained fixtures (copied; inputs from the
                 Fashion-MNIST test set / the tokenized SST-2 dev set); no torch needed

BatchNormalization nodes are kept (exported with TrainingMode.PRESERVE; running statistics
are calibrated on random data so activations stay in a realistic range), since nnopt's
passes fold them. Images are float32 uniform in [0, 1); token ids are uniform in
[1, vocab); masks are ones.
"""
import argparse
import json
import math
import os
import shutil
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "cache")


# --------------------------------------------------------------------------- helpers

def save_npy(path, arr):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp.npy"
    np.save(tmp, arr)
    os.replace(tmp, path)


def clean_identities(model):
    """Bypass Identity nodes that torch's PRESERVE export puts after initializers."""
    g = model.graph
    outputs = {o.name for o in g.output}
    rename = {}
    keep = []
    for n in g.node:
        if n.op_type == "Identity" and n.output[0] not in outputs:
            src = n.input[0]
            rename[n.output[0]] = rename.get(src, src)
        else:
            keep.append(n)
    for n in keep:
        for i, name in enumerate(n.input):
            if name in rename:
                n.input[i] = rename[name]
    del g.node[:]
    g.node.extend(keep)
    return model


def export_onnx(torch_model, args, path, input_names, output_names):
    import onnx
    import torch
    torch_model.eval()
    tmp = path + ".tmp"
    with torch.no_grad():
        torch.onnx.export(torch_model, args, tmp, opset_version=13,
                          input_names=input_names, output_names=output_names,
                          training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=True)
    m = clean_identities(onnx.load(tmp))
    onnx.checker.check_model(m)
    onnx.save(m, tmp)
    os.replace(tmp, path)


def calibrate_bn(model, shape, seed, batches=2):
    """Randomize BN affine parameters and set running stats from random inputs."""
    import torch
    g = torch.Generator().manual_seed(seed)
    for mod in model.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            with torch.no_grad():
                mod.weight.copy_(0.5 + torch.rand(mod.weight.shape, generator=g))
                mod.bias.copy_(0.1 * torch.randn(mod.bias.shape, generator=g))
            mod.momentum = None  # cumulative average over the calibration batches
            mod.reset_running_stats()
    model.train()
    with torch.no_grad():
        for _ in range(batches):
            model(torch.rand(shape, generator=g))
    model.eval()


def file_mb(path):
    return os.path.getsize(path) / 1e6


# --------------------------------------------------------------------------- BERT

def build_bert(layers, hidden, heads, ffn, vocab, seq, num_labels=2, seed=0):
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    class Embeddings(nn.Module):
        def __init__(self):
            super().__init__()
            self.word = nn.Embedding(vocab, hidden)
            self.position = nn.Embedding(512, hidden)
            self.token_type = nn.Embedding(2, hidden)
            self.norm = nn.LayerNorm(hidden, eps=1e-12)
            self.register_buffer("position_ids", torch.arange(512).unsqueeze(0))

        def forward(self, input_ids):
            s = input_ids.shape[1]
            x = self.word(input_ids) + self.position(self.position_ids[:, :s])
            x = x + self.token_type.weight[0]
            return self.norm(x)

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            self.q = nn.Linear(hidden, hidden)
            self.k = nn.Linear(hidden, hidden)
            self.v = nn.Linear(hidden, hidden)
            self.o = nn.Linear(hidden, hidden)
            self.norm1 = nn.LayerNorm(hidden, eps=1e-12)
            self.ffn_in = nn.Linear(hidden, ffn)
            self.ffn_out = nn.Linear(ffn, hidden)
            self.norm2 = nn.LayerNorm(hidden, eps=1e-12)
            self.dh = hidden // heads

        def split(self, t):
            b, s, _ = t.shape
            return t.view(b, s, heads, self.dh).transpose(1, 2)

        def forward(self, x, keep):
            b, s, _ = x.shape
            q, k, v = self.split(self.q(x)), self.split(self.k(x)), self.split(self.v(x))
            scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.dh)
            scores = torch.where(keep, scores, torch.tensor(-10000.0))
            ctx = torch.matmul(F.softmax(scores, dim=-1), v)
            ctx = ctx.transpose(1, 2).reshape(b, s, hidden)
            x = self.norm1(x + self.o(ctx))
            return self.norm2(x + self.ffn_out(F.gelu(self.ffn_in(x))))

    class Bert(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = Embeddings()
            self.layers = nn.ModuleList([Layer() for _ in range(layers)])
            self.pool = nn.Linear(hidden, hidden)
            self.cls = nn.Linear(hidden, num_labels)

        def forward(self, input_ids, attention_mask):
            keep = (attention_mask > 0).unsqueeze(1).unsqueeze(2)  # [B,1,1,S]
            x = self.emb(input_ids)
            for layer in self.layers:
                x = layer(x, keep)
            pooled = torch.tanh(self.pool(x[:, 0]))
            return self.cls(pooled), x

    torch.manual_seed(seed)
    model = Bert()
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name and name.endswith("weight"):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=g))
            elif "norm" in name:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(0.02 * torch.randn(p.shape, generator=g))
    return model.eval()


def make_bert(out_dir, cfg, seed):
    import torch
    model = build_bert(seed=seed, **cfg)
    seq, vocab = cfg["seq"], cfg["vocab"]
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, vocab, size=(1, seq), dtype=np.int64)
    ids[0, 0] = 1  # a [CLS]-like first token
    mask = np.ones((1, seq), dtype=np.int64)
    export_onnx(model, (torch.from_numpy(ids), torch.from_numpy(mask)),
                os.path.join(out_dir, "model.onnx"), ["input_ids", "attention_mask"],
                ["logits", "last_hidden_state"])
    save_npy(os.path.join(out_dir, "inputs", "input_ids.npy"), ids)
    save_npy(os.path.join(out_dir, "inputs", "attention_mask.npy"), mask)
    return {"inputs": {"input_ids": [1, seq], "attention_mask": [1, seq]}, "config": cfg}


def make_bert_small(out_dir, seed):
    cfg = dict(layers=2, hidden=256, heads=4, ffn=1024, vocab=8192, seq=128)
    meta = make_bert(out_dir, cfg, seed)
    # A second input set with padding, so the attention mask path (Where) is exercised.
    ids = np.load(os.path.join(out_dir, "inputs", "input_ids.npy")).copy()
    mask = np.ones_like(ids)
    mask[0, 91:] = 0
    ids[0, 91:] = 0
    save_npy(os.path.join(out_dir, "inputs_padded", "input_ids.npy"), ids)
    save_npy(os.path.join(out_dir, "inputs_padded", "attention_mask.npy"), mask)
    meta["extra_input_sets"] = ["inputs_padded"]
    return meta


def make_bert_base(out_dir, seed):
    return make_bert(out_dir, dict(layers=12, hidden=768, heads=12, ffn=3072, vocab=30522,
                                   seq=128), seed)


# --------------------------------------------------------------------------- U-Net

def build_unet(base, levels=4, in_ch=3, classes=2):
    import torch
    import torch.nn as nn

    def double_conv(cin, cout):
        return nn.Sequential(
            nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))

    class Up(nn.Module):
        # Even levels upsample with ConvTranspose, odd ones with bilinear Resize + 1x1 Conv,
        # so both decoder styles appear in one graph.
        def __init__(self, cin, cout, transpose):
            super().__init__()
            if transpose:
                self.up = nn.ConvTranspose2d(cin, cin // 2, 2, stride=2)
            else:
                self.up = nn.Sequential(nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False),
                                        nn.Conv2d(cin, cin // 2, 1))
            self.conv = double_conv(cin, cout)

        def forward(self, x, skip):
            return self.conv(torch.cat([skip, self.up(x)], dim=1))

    class UNet(nn.Module):
        def __init__(self):
            super().__init__()
            ch = [base * 2 ** i for i in range(levels + 1)]
            self.inc = double_conv(in_ch, ch[0])
            self.down = nn.ModuleList([nn.Sequential(nn.MaxPool2d(2), double_conv(ch[i], ch[i + 1]))
                                       for i in range(levels)])
            self.up = nn.ModuleList([Up(ch[i + 1], ch[i], transpose=(i % 2 == 0))
                                     for i in reversed(range(levels))])
            self.head = nn.Conv2d(ch[0], classes, 1)

        def forward(self, x):
            skips = [self.inc(x)]
            for d in self.down:
                skips.append(d(skips[-1]))
            x = skips.pop()
            for u in self.up:
                x = u(x, skips.pop())
            return self.head(x)

    return UNet()


def make_unet(out_dir, base, size, seed, calib_batch):
    import torch
    torch.manual_seed(seed)
    model = build_unet(base)
    calibrate_bn(model, (calib_batch, 3, size, size), seed, batches=1)
    rng = np.random.default_rng(seed)
    x = rng.random((1, 3, size, size), dtype=np.float32)
    export_onnx(model, (torch.from_numpy(x),), os.path.join(out_dir, "model.onnx"), ["input"], ["output"])
    save_npy(os.path.join(out_dir, "inputs", "input.npy"), x)
    params = sum(p.numel() for p in model.parameters())
    return {"inputs": {"input": [1, 3, size, size]}, "base_channels": base, "parameters": params}


def make_unet_small(out_dir, seed):
    return make_unet(out_dir, 10, 128, seed, calib_batch=4)


def make_unet_large(out_dir, seed):
    return make_unet(out_dir, 100, 256, seed, calib_batch=2)


# --------------------------------------------------------------------------- torchvision

def make_torchvision(out_dir, arch, seed):
    import torch
    import torchvision
    torch.manual_seed(seed)
    model = getattr(torchvision.models, arch)(weights=None, num_classes=1000)
    calibrate_bn(model, (8, 3, 224, 224), seed)
    rng = np.random.default_rng(seed)
    x = rng.random((1, 3, 224, 224), dtype=np.float32)
    export_onnx(model, (torch.from_numpy(x),), os.path.join(out_dir, "model.onnx"), ["input"], ["output"])
    save_npy(os.path.join(out_dir, "inputs", "input.npy"), x)
    return {"inputs": {"input": [1, 3, 224, 224]}, "source": f"torchvision.models.{arch}"}


# --------------------------------------------------------------------------- committed fixtures

def make_fmnist(out_dir, seed):
    """The trained Fashion-MNIST MobileNetV2 with the first test image, preprocessed."""
    import gzip
    src = os.path.join(HERE, "mobilenetv2_fmnist.onnx")
    if not os.path.exists(src):
        raise FileNotFoundError(f"{src} not found: run models/train_mobilenet_fmnist.py")
    spec = json.load(open(os.path.join(HERE, "mobilenetv2_fmnist.json")))
    pre = spec["preprocessing"]
    p = pre["pad"]["pixels_each_side"]

    def prep(imgs):  # uint8 [N,28,28] -> float32 [N,1,32,32]
        x = np.pad(imgs.astype(np.float32) / 255.0, ((0, 0), (p, p), (p, p)))
        return ((x - pre["mean"][0]) / pre["std"][0]).astype(np.float32)[:, None]

    root = "/usr/share/datasets/fashion-mnist"
    meta = {"inputs": {"input": [1, 1, 32, 32]}}
    if os.path.exists(os.path.join(root, "t10k-images-idx3-ubyte.gz")):
        with gzip.open(os.path.join(root, "t10k-images-idx3-ubyte.gz"), "rb") as f:
            imgs = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)
        with gzip.open(os.path.join(root, "t10k-labels-idx1-ubyte.gz"), "rb") as f:
            labels = np.frombuffer(f.read(), np.uint8, offset=8).astype(np.int64)
        x = prep(imgs[:1])
        # The whole preprocessed test set, for accuracy checks (bench/ort_eval.mjs).
        np.savez(os.path.join(out_dir, "eval.npz"), input=prep(imgs), labels=labels)
        meta.update(input_origin="Fashion-MNIST test image 0", eval="eval.npz (10000 test images)")
    else:
        x = prep(np.random.default_rng(seed).integers(0, 256, (1, 28, 28)).astype(np.uint8))
        meta["input_origin"] = "random 28x28 image (Fashion-MNIST not installed)"
    shutil.copyfile(src, os.path.join(out_dir, "model.onnx"))
    save_npy(os.path.join(out_dir, "inputs", "input.npy"), x)
    return meta


def make_bert_sst2(out_dir, seed):
    """The trained SST-2 BERT with the first tokenized dev sentence."""
    src = os.path.join(HERE, "bert_sst2.onnx")
    toks = os.path.join(HERE, "sst2_dev_tokens.npz")
    if not os.path.exists(src) or not os.path.exists(toks):
        raise FileNotFoundError(f"{src} not found: run models/train_bert_sst2.py")
    z = np.load(toks)
    shutil.copyfile(src, os.path.join(out_dir, "model.onnx"))
    shutil.copyfile(toks, os.path.join(out_dir, "eval.npz"))
    save_npy(os.path.join(out_dir, "inputs", "input_ids.npy"), z["input_ids"][:1].astype(np.int64))
    save_npy(os.path.join(out_dir, "inputs", "attention_mask.npy"), z["attention_mask"][:1].astype(np.int64))
    return {"inputs": {"input_ids": list(z["input_ids"][:1].shape),
                       "attention_mask": list(z["attention_mask"][:1].shape)},
            "input_origin": "SST-2 dev sentence 0", "eval": "eval.npz (872 dev sentences)"}


MODELS = {
    "mobilenet_v2": (lambda d, s: make_torchvision(d, "mobilenet_v2", s), 101, True),
    "resnet18": (lambda d, s: make_torchvision(d, "resnet18", s), 102, True),
    "bert_base": (make_bert_base, 103, True),
    "bert_small": (make_bert_small, 104, True),
    "unet_large": (make_unet_large, 105, True),
    "unet_small": (make_unet_small, 106, True),
    "mobilenetv2_fmnist": (make_fmnist, 107, False),
    "bert_sst2": (make_bert_sst2, 108, False),
}
CI_MODELS = ["mobilenet_v2", "resnet18", "bert_small", "unet_small"]
# Committed fixtures: their cache folder is rebuilt whenever the committed file changes.
COMMITTED = {"mobilenetv2_fmnist": ["mobilenetv2_fmnist.onnx", "mobilenetv2_fmnist.json"],
             "bert_sst2": ["bert_sst2.onnx", "sst2_dev_tokens.npz"]}


def source_stamp(name):
    """Size and mtime of the committed files a cached fixture was copied from."""
    return "\n".join(f"{f} {os.path.getsize(os.path.join(HERE, f))} "
                     f"{os.path.getmtime(os.path.join(HERE, f)):.6f}"
                     for f in COMMITTED.get(name, []) if os.path.exists(os.path.join(HERE, f)))


def stale(name, out_dir):
    if name not in COMMITTED:
        return False
    stamp = os.path.join(out_dir, "source.stamp")
    return not os.path.exists(stamp) or open(stamp).read() != source_stamp(name)


def write_stamp(name, out_dir):
    if name in COMMITTED:
        with open(os.path.join(out_dir, "source.stamp"), "w") as f:
            f.write(source_stamp(name))


def build(name, out_root, force=False):
    fn, seed, needs_torch = MODELS[name]
    out_dir = os.path.join(out_root, name)
    meta_path = os.path.join(out_dir, "meta.json")
    if os.path.exists(meta_path) and not force and not stale(name, out_dir):
        print(f"{name}: reusing {out_dir}")
        return
    if needs_torch:
        import torch
        torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    shutil.rmtree(out_dir, ignore_errors=True)
    os.makedirs(out_dir)
    meta = fn(out_dir, seed)
    meta.update({"name": name, "seed": seed, "opset": 13,
                 "model_bytes": os.path.getsize(os.path.join(out_dir, "model.onnx"))})
    with open(meta_path + ".tmp", "w") as f:
        json.dump(meta, f, indent=1)
    os.replace(meta_path + ".tmp", meta_path)
    write_stamp(name, out_dir)
    print(f"{name}: wrote {out_dir}/model.onnx ({file_mb(os.path.join(out_dir, 'model.onnx')):.1f} MB)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT, help="cache folder (default models/cache)")
    ap.add_argument("--models", default="all",
                    help="comma-separated names, 'ci' (small ones) or 'all' (default)")
    ap.add_argument("--force", action="store_true", help="rebuild even if present")
    ap.add_argument("--list", action="store_true", help="print the model names and exit")
    args = ap.parse_args()
    if args.list:
        print("\n".join(MODELS))
        return 0
    if args.models == "all":
        names = [n for n, v in MODELS.items() if v[2]]
    elif args.models == "ci":
        names = CI_MODELS
    else:
        names = [n.strip() for n in args.models.split(",") if n.strip()]
    for n in names:
        if n not in MODELS:
            print(f"export_peer_models: unknown model '{n}' (known: {', '.join(MODELS)})", file=sys.stderr)
            return 2
    os.makedirs(args.out, exist_ok=True)
    for n in names:
        build(n, args.out, args.force)
    return 0


if __name__ == "__main__":
    sys.exit(main())

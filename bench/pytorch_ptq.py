#!/usr/bin/python3
"""PyTorch post-training quantization of the trained fixtures: the peer numbers that nnopt's
quantizer is compared against (issue #4). Debian's torch 1.13, used the way its docs say.

  /usr/bin/python3 bench/pytorch_ptq.py mobilenet|bert|all [--calib-size 500] [--runs 200]
        [--engines qnnpack,onednn] [--eval-limit N] [--untrained] [--out DIR]

mobilenet  models/mobilenetv2_fmnist.onnx: FX static PTQ (prepare_fx fuses conv+bn, inserts
           observers; calibrate on the first --calib-size Fashion-MNIST *training* images in
           file order - the samples `nnopt quantize --calib-size` uses - preprocessed as
           models/mobilenetv2_fmnist.json says; convert_fx), one model per quantized engine
           with its default qconfig, plus QNNPACK with per-channel weights. Accuracy on the
           10,000 test images. torch 1.13's QNNPACK ReLU6 is wrong on channels-last tensors,
           so the QNNPACK variants feed ReLU6 a contiguous copy; the as-is accuracy is
           recorded under "engine_issues".
bert       models/bert_sst2.onnx: dynamic quantization of every nn.Linear (qint8 weights,
           activations quantized per batch at run time), per engine. Accuracy and binary F1
           (positive class 1) on the 872 dev sentences of models/sst2_dev_tokens.npz.

The training scripts save only ONNX, so the nn.Module is rebuilt from their model definitions
and the weights are read from the ONNX graph by structure (Conv/Gemm/MatMul order, biases
through the following Add, LayerNorm parameters after each Sqrt); the rebuilt model must
reproduce the reference logits in the fixture's .json before anything is measured. The ONNX
export folded BatchNorm into the convolutions, so each BatchNorm is restored as an exact
identity carrying the folded bias (weight 1, mean 0, var 1 - eps) and fusion folds it back.

Every variant is TorchScript-traced, saved with torch.jit.save (size = that file), loaded back
from the file, and the loaded module is what is evaluated and timed: one thread, batch 1,
median over --runs timed calls after warm-up, the variants interleaved in rounds so that the
machine's load hits them alike. FP32 is measured in the same run. Results go to
bench/results/pytorch_ptq_<fixture>.json.

--untrained (development only, before the trained fixtures exist): builds randomly initialized
models from the training scripts, exports them to ONNX the way the scripts do, and runs the
same pipeline; results go to models/cache/ptq_untrained/ (never to bench/results/).
"""
import os
import sys

# Debian's torch links the reference BLAS (libblas.so.3), which makes FP32 nn.Linear ~10x
# slower than any real deployment; use OpenBLAS for this process only, as
# models/train_fixtures.sh does, and record which one ran.
OPENBLAS_DIR = "/usr/lib/x86_64-linux-gnu/openblas-pthread"
if os.environ.get("NNOPT_PTQ_REEXEC") != "1":
    # The c10/glog logging settings are read at library load; qnnpack warns on every dynamic
    # linear call that it ignores reduce_range otherwise.
    env = dict(os.environ, NNOPT_PTQ_REEXEC="1", OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1",
               PYTHONWARNINGS="ignore", TORCH_CPP_LOG_LEVEL="ERROR", GLOG_minloglevel="2")
    if os.path.exists(os.path.join(OPENBLAS_DIR, "libblas.so.3")) and "--system-blas" not in sys.argv:
        env["LD_LIBRARY_PATH"] = OPENBLAS_DIR + (":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
    os.execve(sys.executable, [sys.executable] + sys.argv, env)

import argparse
import copy
import hashlib
import json
import platform
import tempfile
import time
import warnings

import numpy as np
import onnx
from onnx import numpy_helper
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = os.path.join(ROOT, "models")
sys.path.insert(0, MODELS)
import train_bert_sst2 as tb  # noqa: E402  (model definitions only; nothing is trained)
import train_mobilenet_fmnist as tm  # noqa: E402

FMNIST = "/usr/share/datasets/fashion-mnist"
warnings.filterwarnings("ignore")


def rel(path):
    return os.path.relpath(path, ROOT)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def blas_in_use():
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "blas" in line}
        return sorted(os.path.basename(p) if "openblas" not in p else p for p in libs)
    except OSError:
        return []


# --------------------------------------------------------------------------- ONNX reading

class OnnxGraph:
    """Initializers and Constant outputs by name, with Identity nodes seen through (the
    exporter shares equal initializers through Identity), plus each tensor's consumers."""

    def __init__(self, path):
        self.model = onnx.load(path)
        g = self.model.graph
        self.nodes = list(g.node)
        self.values = {t.name: numpy_helper.to_array(t) for t in g.initializer}
        self.alias = {}
        self.consumers = {}
        self.producer = {o: n for n in self.nodes for o in n.output}
        for n in self.nodes:
            if n.op_type == "Constant":
                for a in n.attribute:
                    if a.name == "value":
                        self.values[n.output[0]] = numpy_helper.to_array(a.t)
            elif n.op_type == "Identity":
                self.alias[n.output[0]] = n.input[0]
            for i in n.input:
                self.consumers.setdefault(i, []).append(n)

    def resolve(self, name):
        while name in self.alias:
            name = self.alias[name]
        return name

    def value(self, name):
        return self.values.get(self.resolve(name))

    def users(self, name, op_type):
        """Consumers of a tensor, looking through Identity nodes."""
        out, todo = [], [name]
        while todo:
            t = todo.pop()
            for n in self.consumers.get(t, []):
                if n.op_type == "Identity":
                    todo.append(n.output[0])
                elif n.op_type == op_type:
                    out.append(n)
        return out

    def const_operand(self, node, other_than):
        """The constant input of a binary node whose other input is other_than."""
        for i in node.input:
            if i != other_than:
                v = self.value(i)
                if v is not None:
                    return v
        return None

    def attr(self, node, name, default=None):
        for a in node.attribute:
            if a.name == name:
                return onnx.helper.get_attribute_value(a)
        return default


def assign(param, array, what):
    t = torch.from_numpy(np.ascontiguousarray(array)).to(param.dtype)
    if tuple(t.shape) != tuple(param.shape):
        raise ValueError(f"{what}: ONNX tensor has shape {tuple(t.shape)}, module expects {tuple(param.shape)}")
    with torch.no_grad():
        param.copy_(t)


def conv_bn_pairs(model):
    """(conv, bn or None) for every Conv2d, in registration (= execution) order."""
    bn_of = {}
    for seq in model.modules():
        if isinstance(seq, nn.Sequential):
            kids = list(seq.children())
            for a, b in zip(kids, kids[1:]):
                if isinstance(a, nn.Conv2d) and isinstance(b, nn.BatchNorm2d):
                    bn_of[a] = b
    return [(m, bn_of.get(m)) for m in model.modules() if isinstance(m, nn.Conv2d)]


def mobilenet_from_onnx(path, width_hint=None):
    g = OnnxGraph(path)
    convs = [n for n in g.nodes if n.op_type == "Conv"]
    gemms = [n for n in g.nodes if n.op_type == "Gemm"]
    shapes = [tuple(g.value(n.input[1]).shape) for n in convs]
    widths = ([width_hint] if width_hint else []) + [0.25, 0.35, 0.5, 0.75, 1.0, 1.3, 1.4]
    model = None
    for w in widths:
        cand = tm.build_model(w)
        if [tuple(c.weight.shape) for c, _ in conv_bn_pairs(cand)] == shapes:
            model, width = cand, w
            break
    if model is None:
        raise ValueError(f"{path}: no MobileNetV2 width matches its {len(convs)} Conv weights")
    for k, ((conv, bn), node) in enumerate(zip(conv_bn_pairs(model), convs)):
        what = f"{path}: Conv #{k} '{node.name}'"
        w = g.value(node.input[1])
        b = g.value(node.input[2]) if len(node.input) > 2 and node.input[2] else None
        if g.attr(node, "group", 1) != conv.groups or list(g.attr(node, "strides", [1, 1])) != list(conv.stride):
            raise ValueError(f"{what}: group/stride differ from the module's")
        assign(conv.weight, w, what)
        if bn is None:
            if conv.bias is None:
                if b is not None and np.any(b):
                    raise ValueError(f"{what}: has a bias the module lacks")
            else:
                assign(conv.bias, b if b is not None else np.zeros(conv.out_channels), what)
        else:
            if conv.bias is not None:
                raise ValueError(f"{what}: conv followed by BatchNorm has its own bias")
            # Exact identity BatchNorm carrying the folded bias: (x - 0) / sqrt(1 - eps + eps) * 1 + b.
            assign(bn.weight, np.ones(bn.num_features, np.float32), what)
            assign(bn.bias, b if b is not None else np.zeros(bn.num_features, np.float32), what)
            bn.running_mean.zero_()
            bn.running_var.fill_(1.0 - bn.eps)
    lin = model.classifier[1]
    if len(gemms) != 1:
        raise ValueError(f"{path}: expected 1 Gemm (the classifier), found {len(gemms)}")
    w = g.value(gemms[0].input[1])
    if not g.attr(gemms[0], "transB", 0):
        w = w.T
    assign(lin.weight, w, f"{path}: Gemm weight")
    assign(lin.bias, g.value(gemms[0].input[2]), f"{path}: Gemm bias")
    return model.eval(), width


def bert_from_onnx(path):
    g = OnnxGraph(path)
    gathers = [n for n in g.nodes if n.op_type == "Gather" and g.value(n.input[0]) is not None
               and g.value(n.input[0]).ndim == 2]
    if len(gathers) < 2:
        raise ValueError(f"{path}: expected word and position embedding Gathers")
    word, pos = g.value(gathers[0].input[0]), g.value(gathers[1].input[0])
    nlayers = sum(1 for n in g.nodes if n.op_type == "Softmax")
    hidden = word.shape[1]
    matmuls = [n for n in g.nodes if n.op_type == "MatMul" and g.value(n.input[1]) is not None]
    ffn = g.value(matmuls[4].input[1]).shape[1]
    heads = None
    for n in g.nodes:  # the reshape to [b, s, heads, dh] carries heads as a constant
        if n.op_type == "Reshape":
            shp = g.value(n.input[1])
            if shp is not None and shp.size == 4 and shp[2] > 0 and shp[3] > 0 and shp[2] * shp[3] == hidden:
                heads = int(shp[2])
                break
    if heads is None:  # the Reshape target is built from Shape ops: use the script's default;
        # a wrong guess cannot pass unnoticed, the reference-logit check would fail
        heads = tb.Bert.__init__.__defaults__[2]
    model = tb.Bert(word.shape[0], pos.shape[0], layers=nlayers, hidden=hidden, heads=heads, ffn=ffn)
    assign(model.word.weight, word, f"{path}: word embedding")
    assign(model.position.weight, pos, f"{path}: position embedding")

    linears = []
    for layer in model.layers:
        linears += [layer.q, layer.k, layer.v, layer.o, layer.ffn_in, layer.ffn_out]
    if len(matmuls) != len(linears):
        raise ValueError(f"{path}: {len(matmuls)} MatMul with constant weights, expected {len(linears)}")
    for k, (lin, node) in enumerate(zip(linears, matmuls)):
        what = f"{path}: MatMul #{k} '{node.name}'"
        assign(lin.weight, g.value(node.input[1]).T, what)
        adds = g.users(node.output[0], "Add")
        bias = g.const_operand(adds[0], node.output[0]) if len(adds) == 1 else None
        if bias is None:
            raise ValueError(f"{what}: no Add with a constant bias after it")
        assign(lin.bias, bias, what + " bias")
    gemms = [n for n in g.nodes if n.op_type == "Gemm"]
    for lin, node in zip([model.pool, model.cls], gemms):
        w = g.value(node.input[1])
        assign(lin.weight, w if g.attr(node, "transB", 0) else w.T, f"{path}: Gemm '{node.name}'")
        assign(lin.bias, g.value(node.input[2]), f"{path}: Gemm '{node.name}' bias")

    norms = [model.emb_norm] + [m for layer in model.layers for m in (layer.norm1, layer.norm2)]
    sqrts = [n for n in g.nodes if n.op_type == "Sqrt"]
    if len(sqrts) != len(norms):
        raise ValueError(f"{path}: {len(sqrts)} decomposed LayerNorms (Sqrt), expected {len(norms)}")
    for k, (ln, sq) in enumerate(zip(norms, sqrts)):
        what = f"{path}: LayerNorm #{k} (after '{sq.name}')"
        divs = g.users(sq.output[0], "Div")
        muls = g.users(divs[0].output[0], "Mul") if len(divs) == 1 else []
        adds = g.users(muls[0].output[0], "Add") if len(muls) == 1 else []
        if len(adds) != 1:
            raise ValueError(f"{what}: not Div -> Mul -> Add")
        assign(ln.weight, g.const_operand(muls[0], divs[0].output[0]), what + " weight")
        assign(ln.bias, g.const_operand(adds[0], muls[0].output[0]), what + " bias")
        prod = g.producer.get(sq.input[0])
        eps = g.const_operand(prod, "") if prod is not None and prod.op_type == "Add" else None
        if eps is None or eps.size != 1:
            raise ValueError(f"{what}: no constant epsilon added before the Sqrt")
        ln.eps = float(eps.reshape(-1)[0])
    return model.eval(), {"layers": nlayers, "hidden": hidden, "heads": heads, "ffn": ffn,
                          "vocab": int(word.shape[0]), "seq": int(pos.shape[0])}


# --------------------------------------------------------------------------- data

def fmnist_images(split, prep):
    """uint8 IDX images of a split, preprocessed as the fixture's .json says."""
    x = tm.read_idx(os.path.join(FMNIST, f"{split}-images-idx3-ubyte.gz")).astype(np.float32)
    y = tm.read_idx(os.path.join(FMNIST, f"{split}-labels-idx1-ubyte.gz")).astype(np.int64)
    x = x * np.float32(prep["scale"])
    pad = prep["pad"]
    p, v = pad["pixels_each_side"], pad["value"]
    if not pad.get("before_normalization", True):
        raise ValueError("padding after normalization is not implemented")
    x = np.pad(x, ((0, 0), (p, p), (p, p)), constant_values=v)
    x = (x - np.float32(prep["mean"][0])) / np.float32(prep["std"][0])
    return torch.from_numpy(x.astype(np.float32)[:, None]).contiguous(), torch.from_numpy(y)


def f1_binary(pred, labels):
    tp = int(((pred == 1) & (labels == 1)).sum())
    fp = int(((pred == 1) & (labels == 0)).sum())
    fn = int(((pred == 0) & (labels == 1)).sum())
    return 2 * tp / max(1, 2 * tp + fp + fn)


# --------------------------------------------------------------------------- measuring

def save_and_reload(module, example, path):
    """Trace, save, reload: the reloaded module is the artifact whose size is reported."""
    with torch.no_grad():
        traced = torch.jit.trace(module, example, check_trace=False)
    torch.jit.save(traced, path)
    return torch.jit.load(path), os.path.getsize(path)


def time_interleaved(variants, runs, warmup, rounds):
    """variants: name -> (engine or None, fn). Every variant gets runs/rounds timed calls
    per round, round after round, so load changes on the machine spread over all of them."""
    per = max(1, runs // rounds)
    times = {k: [] for k in variants}
    with torch.no_grad():
        for name, (engine, fn) in variants.items():
            if engine:
                torch.backends.quantized.engine = engine
            for _ in range(warmup):
                fn()
        for _ in range(rounds):
            for name, (engine, fn) in variants.items():
                if engine:
                    torch.backends.quantized.engine = engine
                for _ in range(per):
                    t0 = time.perf_counter()
                    fn()
                    times[name].append((time.perf_counter() - t0) * 1e3)
    out = {}
    for k, t in times.items():
        t = np.sort(np.array(t))
        out[k] = {"median_ms": round(float(np.median(t)), 4),
                  "p90_ms": round(float(t[min(len(t) - 1, int(np.ceil(0.9 * len(t))) - 1)]), 4),
                  "min_ms": round(float(t[0]), 4), "timed_runs": int(len(t))}
    return out


def engines_to_run(requested):
    have = [e for e in torch.backends.quantized.supported_engines if e != "none"]
    if requested:
        want = [e.strip() for e in requested.split(",") if e.strip()]
        missing = [e for e in want if e not in have]
        if missing:
            sys.exit(f"pytorch_ptq: engine(s) {missing} not in this torch "
                     f"(torch.backends.quantized.supported_engines = {have})")
        return want
    return have


def environment(args):
    return {"torch": torch.__version__, "python": platform.python_version(),
            "cpu": platform.processor() or platform.machine(),
            "supported_engines": list(torch.backends.quantized.supported_engines),
            "blas": blas_in_use(), "threads": torch.get_num_threads(),
            "load_average_at_start": [round(v, 2) for v in os.getloadavg()],
            "command": "/usr/bin/python3 bench/" + " ".join([os.path.basename(sys.argv[0])] + sys.argv[1:])}


def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)
    print(f"wrote {rel(path)}", flush=True)


# --------------------------------------------------------------------------- MobileNetV2

def perturb(model):
    """Make every parameter distinct (random init leaves biases 0 and norm weights 1, which
    the exporter deduplicates), so an untrained run really tests the ONNX weight mapping."""
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * (0.02 if p.ndim > 1 else 0.1))


class ContiguousReLU6(nn.Module):
    """ReLU6 on an NCHW-contiguous input: QNNPACK's quantized hardtanh is only right there."""

    def forward(self, x):
        return F.relu6(x.contiguous())


def qnnpack_relu6_fix(model):
    model = copy.deepcopy(model)
    for mod in list(model.modules()):
        for name, child in mod.named_children():
            if isinstance(child, nn.ReLU6):
                setattr(mod, name, ContiguousReLU6())
    return model


def untrained_mobilenet(work):
    """A randomly initialized MobileNetV2 from the training script, exported like the script
    exports, with BatchNorm statistics from 512 training images so activations are realistic."""
    torch.manual_seed(0)
    model = tm.build_model(0.5)
    perturb(model)
    spec = {"preprocessing": {"scale": 1.0 / 255.0, "pad": {"before_normalization": True,
                                                           "pixels_each_side": 2, "value": 0.0},
                              "mean": [tm.MEAN], "std": [tm.STD]}}
    x, _ = fmnist_images("train", spec["preprocessing"])
    model.train()
    with torch.no_grad():
        for i in range(0, 512, 128):
            model(x[-512 + i:][:128])
    model.eval()
    xt, _ = fmnist_images("t10k", spec["preprocessing"])
    with torch.no_grad():
        spec["reference_logits_first16"] = model(xt[:16]).numpy().tolist()
    path = os.path.join(work, "mobilenetv2_fmnist_untrained.onnx")
    torch.onnx.export(model, torch.zeros(1, 1, 32, 32), path, opset_version=13,
                      input_names=["input"], output_names=["logits"], do_constant_folding=True)
    spec["architecture"] = "untrained: train_mobilenet_fmnist.build_model(0.5), random init"
    return path, spec


def run_mobilenet(args, engines, work):
    if args.untrained:
        onnx_path, spec = untrained_mobilenet(work)
    else:
        onnx_path = os.path.join(MODELS, "mobilenetv2_fmnist.onnx")
        json_path = os.path.join(MODELS, "mobilenetv2_fmnist.json")
        if not (os.path.exists(onnx_path) and os.path.exists(json_path)):
            sys.exit(f"pytorch_ptq: {rel(onnx_path)} or its .json is missing: run "
                     "models/train_mobilenet_fmnist.py (or pass --untrained to try the pipeline)")
        spec = json.load(open(json_path))
    prep = spec["preprocessing"]
    hint = None
    arch = spec.get("architecture", "")
    if "width_mult=" in arch:
        hint = float(arch.split("width_mult=")[1].split()[0].rstrip(","))
    fp32, width = mobilenet_from_onnx(onnx_path, hint)

    xtr, _ = fmnist_images("train", prep)
    xte, yte = fmnist_images("t10k", prep)
    calib = xtr[:args.calib_size]
    with torch.no_grad():
        got = fp32(xte[:16]).numpy()
    if args.eval_limit:
        xte, yte = xte[:args.eval_limit], yte[:args.eval_limit]
    ref = np.array(spec["reference_logits_first16"], np.float32)
    max_err = float(np.abs(got - ref).max())
    print(f"rebuilt MobileNetV2 width {width} from {rel(onnx_path)}: max |logit - reference| "
          f"over 16 test images = {max_err:.2e}", flush=True)
    if max_err > 1e-3 * max(1.0, float(np.abs(ref).max())):
        sys.exit("pytorch_ptq: the rebuilt model does not reproduce the fixture's reference logits")

    example = (torch.zeros(1, 1, 32, 32),)
    one = xte[:1].clone()

    def accuracy(mod):
        correct = 0
        with torch.no_grad():
            for i in range(0, len(yte), 500):
                correct += int((mod(xte[i:i + 500]).argmax(1) == yte[i:i + 500]).sum())
        return correct

    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.backend_config import get_native_backend_config
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    def quantize(model, engine, qmap, tag):
        """FX static PTQ, then trace/save/reload; returns (module, bytes, seconds)."""
        torch.backends.quantized.engine = engine
        t0 = time.time()
        # torch 1.13 has one native backend config (fbgemm/qnnpack/onednn patterns) and no
        # onednn-specific one; get_default_qconfig_mapping(engine) carries the differences.
        backend_config = get_native_backend_config()
        prepared = prepare_fx(copy.deepcopy(model).eval(), qmap, example_inputs=example,
                              backend_config=backend_config)
        with torch.no_grad():
            for i in range(0, len(calib), args.calib_batch):
                prepared(calib[i:i + args.calib_batch])
        q = convert_fx(prepared, backend_config=backend_config)
        quant_s = time.time() - t0
        q_ts, size = save_and_reload(q, example, os.path.join(work, f"mobilenet_{tag}.pt"))
        return q_ts, size, quant_s

    results, variants, errors, issues = [], {}, [], []
    if "qnnpack" in engines:
        # torch 1.13's QNNPACK quantized hardtanh (nn.ReLU6, in place or not) computes on an
        # NCHW copy of its input but returns it labelled channels-last, which is the layout
        # QNNPACK's conv produces: every ReLU6 output is scrambled. Measured as-is once
        # (accuracy only); the QNNPACK variants below run qnnpack_relu6_fix(model).
        try:
            q_ts, _, _ = quantize(fp32, "qnnpack", get_default_qconfig_mapping("qnnpack"), "asis")
            correct = accuracy(q_ts)
            issues.append({"variant": "int8_static_qnnpack", "as_is_correct": correct,
                           "samples": len(yte), "as_is_accuracy": round(correct / len(yte), 4),
                           "issue": "torch 1.13 QNNPACK quantized hardtanh/ReLU6 scrambles channels-last "
                                    "inputs (the layout QNNPACK conv outputs)",
                           "workaround": "every nn.ReLU6 replaced by F.relu6(x.contiguous()) before "
                                         "prepare_fx, for the QNNPACK variants only (one NCHW copy "
                                         "per ReLU6, included in their latency)"})
            print(f"int8_static_qnnpack without the ReLU6 workaround: accuracy {correct}/{len(yte)}",
                  flush=True)
        except Exception as e:
            print(f"int8_static_qnnpack as-is: FAILED {type(e).__name__}: {e}", flush=True)

    fp32_ts, size = save_and_reload(fp32, example, os.path.join(work, "mobilenet_fp32.pt"))
    correct = accuracy(fp32_ts)
    results.append({"variant": "fp32", "engine": None, "method": "TorchScript (traced), float32",
                    "accuracy": round(correct / len(yte), 4), "correct": correct, "samples": len(yte),
                    "size_bytes": size})
    variants["fp32"] = (None, lambda m=fp32_ts: m(one))
    print(f"fp32: accuracy {correct}/{len(yte)}, {size} bytes", flush=True)

    # One model per engine with that engine's default qconfig; QNNPACK's default has
    # per-tensor weights, so it also runs with per-channel weights (onednn's default qconfig:
    # per-channel symmetric int8 weights, histogram-calibrated quint8 activations).
    plan = [(f"int8_static_{e}", e, e) for e in engines]
    if "qnnpack" in engines and "onednn" in engines:
        plan.append(("int8_static_qnnpack_perchannel", "qnnpack", "onednn"))
    for name, engine, qconfig_of in plan:
        try:
            qmap = get_default_qconfig_mapping(qconfig_of)
            src = qnnpack_relu6_fix(fp32) if engine == "qnnpack" else fp32
            q_ts, size, quant_s = quantize(src, engine, qmap, name)
            correct = accuracy(q_ts)
        except Exception as e:  # an engine this torch build cannot run is reported, not fatal
            errors.append({"variant": name, "engine": engine, "error": f"{type(e).__name__}: {e}"})
            print(f"{name}: FAILED {type(e).__name__}: {e}", flush=True)
            continue
        qc = qmap.global_qconfig
        results.append({"variant": name, "engine": engine,
                        "method": "FX graph mode static PTQ (prepare_fx: conv+bn fusion, observers; "
                                  f"calibrate; convert_fx), get_default_qconfig_mapping('{qconfig_of}')",
                        "qconfig": {"activation": repr(qc.activation), "weight": repr(qc.weight)},
                        "accuracy": round(correct / len(yte), 4), "correct": correct,
                        "samples": len(yte), "size_bytes": size, "quantize_seconds": round(quant_s, 1)})
        if engine == "qnnpack":
            results[-1]["workaround"] = "ReLU6 input made contiguous (see engine_issues)"
        variants[name] = (engine, lambda m=q_ts: m(one))
        print(f"{name}: accuracy {correct}/{len(yte)}, {size} bytes, quantized in {quant_s:.1f} s", flush=True)

    timing = time_interleaved(variants, args.runs, args.warmup, args.rounds)
    for r in results:
        r["latency"] = timing[r["variant"]]
        r["latency_ms"] = timing[r["variant"]]["median_ms"]
    fp = results[0]
    for r in results[1:]:
        r["vs_fp32"] = {"accuracy_delta": round(r["accuracy"] - fp["accuracy"], 4),
                        "size_ratio": round(r["size_bytes"] / fp["size_bytes"], 3),
                        "speedup": round(fp["latency_ms"] / r["latency_ms"], 2)}
    return {
        "fixture": "mobilenetv2_fmnist",
        "trained": not args.untrained,
        "source_onnx": rel(onnx_path) if not args.untrained else "untrained export (see fixture note)",
        "source_onnx_sha256": sha256(onnx_path),
        "source_onnx_bytes": os.path.getsize(onnx_path),
        "fixture_note": spec.get("architecture", ""),
        "rebuild_max_abs_error_vs_reference_logits": max_err,
        "calibration": {"dataset": os.path.join(FMNIST, "train-images-idx3-ubyte.gz"),
                        "samples": int(len(calib)), "selection": "first N in file order",
                        "batch": args.calib_batch, "preprocessing": prep},
        "evaluation": {"dataset": os.path.join(FMNIST, "t10k-images-idx3-ubyte.gz"),
                       "samples": int(len(yte)), "metric": "top-1 accuracy"},
        "latency_protocol": {"batch": 1, "threads": 1, "input": "test image 0",
                             "warmup": args.warmup, "rounds": args.rounds,
                             "timed_runs": (args.runs // args.rounds) * args.rounds,
                             "statistic": "median of per-call wall time (time.perf_counter)",
                             "module": "torch.jit.load of the saved file"},
        "results": results,
        "errors": errors,
        "engine_issues": issues,
        "environment": environment(args),
    }


# --------------------------------------------------------------------------- BERT

def untrained_bert(work):
    """A randomly initialized BERT from the training script on the script's own vocabulary
    and dev tokenization, exported like the script exports."""
    data = "/work/shared/data/sst2"
    train, dev = tb.read_tsv(os.path.join(data, "train.tsv")), tb.read_tsv(os.path.join(data, "dev.tsv"))
    vocab = tb.build_vocab(train, 2, 16000)
    index = {w: i for i, w in enumerate(vocab)}
    ids, mask = tb.pad_batch([tb.encode(w, index, 64) for w, _ in dev], 64)
    labels = np.array([l for _, l in dev], np.int64)
    tokens = os.path.join(work, "sst2_dev_tokens_untrained.npz")
    np.savez(tokens, input_ids=ids, attention_mask=mask, labels=labels)
    torch.manual_seed(0)
    model = tb.Bert(len(vocab), 64).eval()
    perturb(model)
    with torch.no_grad():
        ref = model(torch.from_numpy(ids[:8]), torch.from_numpy(mask[:8])).numpy().tolist()
    path = os.path.join(work, "bert_sst2_untrained.onnx")
    torch.onnx.export(model, (torch.from_numpy(ids[:2]), torch.from_numpy(mask[:2])), path,
                      opset_version=13, input_names=["input_ids", "attention_mask"],
                      output_names=["logits"],
                      dynamic_axes={"input_ids": {0: "batch"}, "attention_mask": {0: "batch"},
                                    "logits": {0: "batch"}}, do_constant_folding=True)
    return path, tokens, {"reference_logits_dev_first8": ref}


def run_bert(args, engines, work):
    if args.untrained:
        onnx_path, tokens, spec = untrained_bert(work)
    else:
        onnx_path = os.path.join(MODELS, "bert_sst2.onnx")
        tokens = os.path.join(MODELS, "sst2_dev_tokens.npz")
        json_path = os.path.join(MODELS, "bert_sst2.json")
        if not all(os.path.exists(p) for p in (onnx_path, tokens, json_path)):
            sys.exit(f"pytorch_ptq: {rel(onnx_path)}, {rel(tokens)} or {rel(json_path)} is missing: "
                     "run models/train_bert_sst2.py (or pass --untrained to try the pipeline)")
        spec = json.load(open(json_path))
    fp32, cfg = bert_from_onnx(onnx_path)
    z = np.load(tokens)
    ids, mask, labels = (torch.from_numpy(z["input_ids"].astype(np.int64)),
                         torch.from_numpy(z["attention_mask"].astype(np.int64)), z["labels"].astype(np.int64))
    with torch.no_grad():
        got = fp32(ids[:8], mask[:8]).numpy()
    ref = np.array(spec["reference_logits_dev_first8"], np.float32)
    max_err = float(np.abs(got - ref).max())
    print(f"rebuilt BERT {cfg} from {rel(onnx_path)}: max |logit - reference| over 8 dev "
          f"sentences = {max_err:.2e}", flush=True)
    if max_err > 1e-3 * max(1.0, float(np.abs(ref).max())):
        sys.exit("pytorch_ptq: the rebuilt model does not reproduce the fixture's reference logits")
    if args.eval_limit:
        ids, mask, labels = ids[:args.eval_limit], mask[:args.eval_limit], labels[:args.eval_limit]
    example = (ids[:1].clone(), mask[:1].clone())

    def evaluate(mod):
        preds = []
        with torch.no_grad():
            for i in range(0, len(labels), 128):
                preds.append(mod(ids[i:i + 128], mask[i:i + 128]).argmax(1).numpy())
        pred = np.concatenate(preds)
        return int((pred == labels).sum()), f1_binary(pred, labels)

    results, variants, errors = [], {}, []
    fp32_ts, size = save_and_reload(fp32, example, os.path.join(work, "bert_fp32.pt"))
    correct, f1 = evaluate(fp32_ts)
    results.append({"variant": "fp32", "engine": None, "method": "TorchScript (traced), float32",
                    "accuracy": round(correct / len(labels), 4), "correct": correct,
                    "samples": len(labels), "f1": round(f1, 4), "size_bytes": size})
    variants["fp32"] = (None, lambda m=fp32_ts: m(*example))
    print(f"fp32: accuracy {correct}/{len(labels)}, F1 {f1:.4f}, {size} bytes", flush=True)
    for engine in engines:
        name = f"int8_dynamic_{engine}"
        try:
            torch.backends.quantized.engine = engine
            t0 = time.time()
            q = torch.ao.quantization.quantize_dynamic(copy.deepcopy(fp32).eval(), {nn.Linear},
                                                       dtype=torch.qint8)
            quant_s = time.time() - t0
            q_ts, size = save_and_reload(q, example, os.path.join(work, f"bert_{name}.pt"))
            correct, f1 = evaluate(q_ts)
        except Exception as e:
            errors.append({"variant": name, "engine": engine, "error": f"{type(e).__name__}: {e}"})
            print(f"{name}: FAILED {type(e).__name__}: {e}", flush=True)
            continue
        results.append({"variant": name, "engine": engine,
                        "method": "torch.ao.quantization.quantize_dynamic({nn.Linear}, qint8): "
                                  "int8 weights, activations quantized per call; embeddings, "
                                  "attention matmuls, LayerNorm, softmax stay float32",
                        "accuracy": round(correct / len(labels), 4), "correct": correct,
                        "samples": len(labels), "f1": round(f1, 4), "size_bytes": size,
                        "quantize_seconds": round(quant_s, 1)})
        variants[name] = (engine, lambda m=q_ts: m(*example))
        print(f"{name}: accuracy {correct}/{len(labels)}, F1 {f1:.4f}, {size} bytes", flush=True)

    timing = time_interleaved(variants, args.runs, args.warmup, args.rounds)
    for r in results:
        r["latency"] = timing[r["variant"]]
        r["latency_ms"] = timing[r["variant"]]["median_ms"]
    fp = results[0]
    for r in results[1:]:
        r["vs_fp32"] = {"accuracy_delta": round(r["accuracy"] - fp["accuracy"], 4),
                        "f1_delta": round(r["f1"] - fp["f1"], 4),
                        "size_ratio": round(r["size_bytes"] / fp["size_bytes"], 3),
                        "speedup": round(fp["latency_ms"] / r["latency_ms"], 2)}
    return {
        "fixture": "bert_sst2",
        "trained": not args.untrained,
        "source_onnx": rel(onnx_path) if not args.untrained else "untrained export",
        "source_onnx_sha256": sha256(onnx_path),
        "source_onnx_bytes": os.path.getsize(onnx_path),
        "architecture": cfg,
        "rebuild_max_abs_error_vs_reference_logits": max_err,
        "calibration": None,
        "evaluation": {"dataset": rel(tokens) if not args.untrained else "SST-2 dev, tokenized by "
                       "train_bert_sst2.py", "samples": int(len(labels)),
                       "metric": "accuracy and binary F1 (positive class 1)"},
        "latency_protocol": {"batch": 1, "threads": 1, "input": "dev sentence 0, padded to "
                             f"{cfg['seq']} tokens", "warmup": args.warmup, "rounds": args.rounds,
                             "timed_runs": (args.runs // args.rounds) * args.rounds,
                             "statistic": "median of per-call wall time (time.perf_counter)",
                             "module": "torch.jit.load of the saved file"},
        "results": results,
        "errors": errors,
        "environment": environment(args),
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["mobilenet", "bert", "all"])
    ap.add_argument("--calib-size", type=int, default=500)
    ap.add_argument("--calib-batch", type=int, default=50)
    ap.add_argument("--engines", default="", help="comma list; default: every supported engine")
    ap.add_argument("--runs", type=int, default=200, help="timed calls per variant")
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--eval-limit", type=int, default=0, help="evaluate on the first N samples only")
    ap.add_argument("--untrained", action="store_true", help="development run on random weights")
    ap.add_argument("--system-blas", action="store_true", help="do not switch to OpenBLAS")
    ap.add_argument("--out", default="", help="result folder (default bench/results)")
    args = ap.parse_args()

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    engines = engines_to_run(args.engines)
    out = args.out or os.path.join(ROOT, *(("models", "cache", "ptq_untrained") if args.untrained
                                           else ("bench", "results")))
    suffix = "_untrained" if args.untrained else ""
    with tempfile.TemporaryDirectory(prefix="nnopt_ptq_") as work:
        if args.what in ("mobilenet", "all"):
            r = run_mobilenet(args, engines, work)
            if args.eval_limit:
                r["note"] = f"--eval-limit {args.eval_limit}: not the full test set"
            write_json(os.path.join(out, f"pytorch_ptq_mobilenetv2_fmnist{suffix}.json"), r)
        if args.what in ("bert", "all"):
            r = run_bert(args, engines, work)
            if args.eval_limit:
                r["note"] = f"--eval-limit {args.eval_limit}: not the full dev set"
            write_json(os.path.join(out, f"pytorch_ptq_bert_sst2{suffix}.json"), r)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Plant an activation outlier in the Fashion-MNIST MobileNetV2 fixture without
changing what the float model computes: one output channel of a linear projection
conv is multiplied by S (weights and bias) and the matching input channel of the only
conv that reads it is divided by S. The float model is the same function (up to
rounding), but the tensor between the two convs now has one channel S times larger
than the rest, so a per-tensor activation scale wastes almost all of its 256 levels on
that channel: static INT8 loses accuracy there, and only there. The two planted
culprit layers are printed.

    /usr/bin/python3 models/make_fragile_fmnist.py OUT.onnx [--scale S] [--channel C]
"""
import argparse
import sys

import numpy as np
import onnx
from onnx import numpy_helper

PRODUCER = "/features/features.1/conv/conv.1/Conv"          # projection, no activation
CONSUMER = "/features/features.2/conv/conv.0/conv.0.0/Conv"  # expand 1x1, its only reader


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--model", default="models/mobilenetv2_fmnist.onnx")
    ap.add_argument("--scale", type=float, default=64.0)
    ap.add_argument("--channel", type=int, default=-1,
                    help="channel to scale (default: the one with the largest range)")
    a = ap.parse_args()
    m = onnx.load(a.model)
    g = m.graph
    nodes = {n.name: n for n in g.node}
    inits = {t.name: t for t in g.initializer}
    prod, cons = nodes[PRODUCER], nodes[CONSUMER]
    t = prod.output[0]
    readers = [n.name for n in g.node if t in n.input]
    if readers != [CONSUMER]:
        sys.exit(f"{t} is read by {readers}, expected only {CONSUMER}")
    w = numpy_helper.to_array(inits[prod.input[1]]).copy()
    b = numpy_helper.to_array(inits[prod.input[2]]).copy()
    w2 = numpy_helper.to_array(inits[cons.input[1]]).copy()
    c = a.channel if a.channel >= 0 else int(np.argmax(np.abs(w).reshape(w.shape[0], -1).max(1)))
    w[c] *= a.scale
    b[c] *= a.scale
    w2[:, c] /= a.scale
    for name, arr in ((prod.input[1], w), (prod.input[2], b), (cons.input[1], w2)):
        inits[name].CopyFrom(numpy_helper.from_array(arr.astype(np.float32), name))
    m.doc_string = (f"Fashion-MNIST MobileNetV2 with channel {c} of {t} scaled by "
                    f"{a.scale} (made by models/make_fragile_fmnist.py)")
    onnx.checker.check_model(m)
    onnx.save(m, a.out)
    print(f"planted: channel {c} x{a.scale} between {PRODUCER} and {CONSUMER}")
    print(f"culprits: {PRODUCER} {CONSUMER}")


if __name__ == "__main__":
    main()

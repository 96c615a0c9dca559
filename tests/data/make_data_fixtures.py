#!/usr/bin/python3
"""Build the small dataset fixtures used by tests/unit/test_data.c (run from anywhere).

  /usr/bin/python3 tests/data/make_data_fixtures.py

Writes tests/data/datasets/. Expected values come from peers, never from nnopt:
  - images: PIL decoding + torchvision transforms (Resize, CenterCrop, ToTensor,
    Normalize) -> images_expected.npz
  - wav: files written by Python's wave module and by sox (24-bit, float, stereo);
    the decoded samples are known from how they were made -> wav_expected.npz
  - tsv: token ids from the fixture's own tokenizer rule (text.lower().split(), as
    models/train_bert_sst2.py) and a hand-checked WordPiece case -> tsv_expected.npz
  - idx: small gzipped IDX files built byte by byte, and broken variants.
"""
import gzip
import os
import shutil
import struct
import subprocess
import wave

import numpy as np
from PIL import Image
import torch
import torchvision.transforms as T

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "datasets")


def gz_write(path, data):
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as f:
        f.write(data)


def idx_bytes(arr, type_code=0x08):
    hdr = bytes([0, 0, type_code, arr.ndim]) + b"".join(struct.pack(">I", d) for d in arr.shape)
    dt = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4"}[type_code]
    return hdr + arr.astype(dt).tobytes()


def make_idx():
    rng = np.random.default_rng(1)
    imgs = rng.integers(0, 256, size=(5, 4, 6), dtype=np.uint8)  # 5 images, H=4, W=6
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    gz_write(os.path.join(OUT, "tiny-images-idx3-ubyte.gz"), idx_bytes(imgs))
    gz_write(os.path.join(OUT, "tiny-labels-idx1-ubyte.gz"), idx_bytes(labels))
    # Plain (not gzipped) labels stored as big-endian int32.
    with open(os.path.join(OUT, "tiny-labels-int32-idx1"), "wb") as f:
        f.write(idx_bytes(labels.astype(np.int32), 0x0C))
    # Truncated: the header promises 5 images, the data stops inside record 3.
    gz_write(os.path.join(OUT, "truncated-images-idx3-ubyte.gz"),
             idx_bytes(imgs)[:4 + 12 + 3 * 24 + 10])
    # Wrong count of labels.
    gz_write(os.path.join(OUT, "short-labels-idx1-ubyte.gz"), idx_bytes(labels[:4]))
    np.save(os.path.join(OUT, "tiny_images.npy"), imgs)


def make_images():
    rng = np.random.default_rng(2)
    root = os.path.join(OUT, "images")
    shutil.rmtree(root, ignore_errors=True)
    files = []
    for cls, sizes in (("cat", [(40, 30), (33, 47)]), ("dog", [(64, 64)])):
        os.makedirs(os.path.join(root, cls))
        for k, (w, h) in enumerate(sizes):
            # Smooth content so resampling differences stay small but measurable.
            y, x = np.mgrid[0:h, 0:w]
            px = np.stack([(x * 255 // max(w - 1, 1)), (y * 255 // max(h - 1, 1)),
                           rng.integers(0, 256, size=(h, w))], -1).astype(np.uint8)
            path = os.path.join(root, cls, f"{k}.png")
            Image.fromarray(px, "RGB").save(path)
            files.append(path)
    # A grayscale JPEG in a list file with a text label, and a file that is not an image.
    Image.fromarray((np.arange(20 * 10).reshape(10, 20) % 256).astype(np.uint8), "L").save(
        os.path.join(OUT, "gray.jpg"), quality=95)
    with open(os.path.join(OUT, "not_an_image.png"), "wb") as f:
        f.write(b"this is not a png\n")
    with open(os.path.join(OUT, "ocr_list.txt"), "w") as f:
        f.write("gray.jpg\thello wörld\n")
    with open(os.path.join(OUT, "ocr_list2.txt"), "w") as f:
        f.write("gray.jpg\tfirst line\ngray.jpg\tsecond\nimages/cat/0.png\tthird\n")
    with open(os.path.join(OUT, "bad_list.txt"), "w") as f:
        f.write("gray.jpg\t0\nnot_an_image.png\t1\n")

    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    tf = T.Compose([T.Resize(24), T.CenterCrop(20), T.ToTensor(), T.Normalize(mean, std)])
    exp = {f"img{i}": tf(Image.open(p).convert("RGB")).unsqueeze(0).numpy()
           for i, p in enumerate(files)}
    # Grayscale conversion of an RGB image (first, as convert("L")), then an upscaling
    # exact-size resize.
    tf2 = T.Compose([T.Resize((50, 70)), T.ToTensor()])
    exp["img0_gray_70x50"] = tf2(Image.open(files[0]).convert("L")).unsqueeze(0).numpy()
    exp["gray_jpg"] = T.ToTensor()(Image.open(os.path.join(OUT, "gray.jpg"))).unsqueeze(0).numpy()

    # Segmentation: image + mask with class ids (gray PNG), resized with NEAREST.
    os.makedirs(os.path.join(root + "_seg", "img"), exist_ok=True)
    os.makedirs(os.path.join(root + "_seg", "mask"), exist_ok=True)
    mask = np.zeros((30, 40), np.uint8)
    mask[5:20, 10:30] = 1
    mask[22:, :] = 2
    mask[0, 0] = 255
    Image.fromarray(mask, "L").save(os.path.join(root + "_seg", "mask", "a.png"))
    Image.open(files[0]).save(os.path.join(root + "_seg", "img", "a.png"))
    m = T.Resize((15, 20), interpolation=T.InterpolationMode.NEAREST)(Image.fromarray(mask, "L"))
    exp["mask_20x15"] = np.asarray(m).astype(np.int64)[None]
    np.savez(os.path.join(OUT, "images_expected.npz"), **exp)


def write_wav(path, data, rate, width):
    with wave.open(path, "wb") as w:
        w.setnchannels(data.shape[1] if data.ndim == 2 else 1)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(data.tobytes())


def make_wav():
    root = os.path.join(OUT, "wav")
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(root)
    rate = 8000
    t = np.arange(800) / rate
    mono = np.round(np.sin(2 * np.pi * 440 * t) * 16000).astype(np.int16)
    write_wav(os.path.join(root, "a_pcm16.wav"), mono, rate, 2)
    stereo = np.stack([mono, (mono // 2).astype(np.int16)], 1)
    write_wav(os.path.join(root, "b_stereo.wav"), stereo, rate, 2)
    exp = {"a_pcm16": (mono / 32768.0).astype(np.float32)[None],
           "b_stereo": ((stereo[:, 0] / 32768.0 + stereo[:, 1] / 32768.0) / 2).astype(np.float32)[None]}
    if shutil.which("sox"):
        # sox converts PCM16 to 24-bit and float exactly (no dither when widening).
        subprocess.run(["sox", os.path.join(root, "a_pcm16.wav"), "-b", "24",
                        os.path.join(root, "c_pcm24.wav")], check=True)
        subprocess.run(["sox", os.path.join(root, "a_pcm16.wav"), "-e", "floating-point", "-b",
                        "32", os.path.join(root, "d_float.wav")], check=True)
    np.savez(os.path.join(OUT, "wav_expected.npz"), **exp)
    with open(os.path.join(OUT, "vad_list.txt"), "w") as f:
        f.write("wav/a_pcm16.wav\t0.010-0.050 0.070-0.100\n")
        f.write("wav/b_stereo.wav\t\n")
    with open(os.path.join(OUT, "bad.wav"), "wb") as f:
        f.write(b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x55\x00\x01\x00"
                b"\x40\x1f\x00\x00\x80\x3e\x00\x00\x02\x00\x10\x00data\x00\x00\x00\x00")
    with open(os.path.join(OUT, "bad_wav_list.txt"), "w") as f:
        f.write("wav/a_pcm16.wav\t3\nbad.wav\t4\n")


def make_tsv():
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "the", "movie", "is", "n't", "good", "maelström",
             "great", "."]
    with open(os.path.join(OUT, "word.vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(vocab) + "\n")
    rows = [(1, "The movie is GOOD ."), (0, "the movie is n't good at all ."),
            (1, "Maelström is great great great great great great great")]
    with open(os.path.join(OUT, "tiny.tsv"), "w", encoding="utf-8") as f:
        f.write("label\tsentence\n")
        for y, s in rows:
            f.write(f"{y}\t{s}\n")
    seq = 8
    index = {w: i for i, w in enumerate(vocab)}
    ids = np.zeros((len(rows), seq), np.int64)
    mask = np.zeros((len(rows), seq), np.int64)
    for r, (_, s) in enumerate(rows):  # models/train_bert_sst2.py's encode()
        toks = [2] + [index.get(w, 1) for w in s.lower().split()][:seq - 2] + [3]
        ids[r, :len(toks)] = toks
        mask[r, :len(toks)] = 1
    # WordPiece vocabulary: "unaffable" -> un ##aff ##able (the BERT paper's example).
    wp = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff", "##able", "the", "'", "t", "n",
          "cafe", ",", "!"]
    with open(os.path.join(OUT, "wordpiece.vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(wp) + "\n")
    with open(os.path.join(OUT, "wordpiece.tsv"), "w", encoding="utf-8") as f:
        f.write("0\tThe unaffable CAFÉ, isn't xyz!\n")
    # [CLS] the un ##aff ##able cafe , [UNK](isn) ' t [UNK](xyz) ! [SEP]
    wp_ids = np.array([[2, 7, 4, 5, 6, 11, 12, 1, 8, 9, 1, 13, 3, 0, 0, 0]], np.int64)
    with open(os.path.join(OUT, "bad.tsv"), "w") as f:
        f.write("label\tsentence\n1\tfine\nx\tbroken label\n")
    np.savez(os.path.join(OUT, "tsv_expected.npz"), ids=ids, mask=mask,
             labels=np.array([y for y, _ in rows], np.int64), wp_ids=wp_ids)


def make_npz():
    rng = np.random.default_rng(3)
    np.savez(os.path.join(OUT, "multi.npz"),
             input_ids=rng.integers(0, 100, size=(4, 6)).astype(np.int64),
             attention_mask=np.ones((4, 6), np.int64),
             labels=np.array([0, 1, 1, 0], np.int64))
    np.savez(os.path.join(OUT, "ragged.npz"), a=np.zeros((4, 2), np.float32),
             b=np.zeros((3, 2), np.float32))


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    make_idx()
    make_images()
    make_wav()
    make_tsv()
    make_npz()


if __name__ == "__main__":
    main()

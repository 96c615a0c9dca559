#!/usr/bin/python3
"""Train the committed SST-2 sentiment BERT fixture (models/bert_sst2.onnx).

A small BERT (4 layers, hidden 256, 4 heads, FFN 1024, sequence 64) trained from scratch
on one CPU thread with a word-level vocabulary built from train.tsv. Run under `nice -n 19`.

  /usr/bin/python3 models/train_bert_sst2.py [--data DIR] [--epochs N] [--measure]

Writes models/bert_sst2.onnx (inputs input_ids, attention_mask: int64 [batch, 64]; output
logits float32 [batch, 2]; batch is dynamic), models/bert_sst2.vocab.txt (one token per
line, line number = id), models/sst2_dev_tokens.npz (input_ids, attention_mask, labels for
the 872 dev sentences) and models/bert_sst2.json (accuracy and F1 on dev).

Tokenization: lower-case, split on whitespace, map to ids ([UNK]=1 for unknown words),
then [CLS] tokens [SEP], truncated to 64 and padded with [PAD]=0; mask 1 on real tokens.
"""
import argparse
import collections
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

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 20240602
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
PAD, UNK, CLS, SEP = range(4)


def read_tsv(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        next(f)  # header
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            label, text = line.split("\t", 1)
            rows.append((text.lower().split(), int(label)))
    return rows


def build_vocab(rows, min_count, max_size):
    counts = collections.Counter(w for words, _ in rows for w in words)
    words = [w for w, c in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if c >= min_count]
    return SPECIALS + words[:max_size - len(SPECIALS)]


def encode(words, index, seq):
    ids = [CLS] + [index.get(w, UNK) for w in words][:seq - 2] + [SEP]
    return ids


def pad_batch(seqs, seq):
    ids = np.zeros((len(seqs), seq), dtype=np.int64)
    mask = np.zeros((len(seqs), seq), dtype=np.int64)
    for i, s in enumerate(seqs):
        ids[i, :len(s)] = s
        mask[i, :len(s)] = 1
    return ids, mask


class Layer(nn.Module):
    def __init__(self, hidden, heads, ffn, dropout):
        super().__init__()
        self.q, self.k, self.v, self.o = (nn.Linear(hidden, hidden) for _ in range(4))
        self.norm1 = nn.LayerNorm(hidden, eps=1e-12)
        self.ffn_in = nn.Linear(hidden, ffn)
        self.ffn_out = nn.Linear(ffn, hidden)
        self.norm2 = nn.LayerNorm(hidden, eps=1e-12)
        self.heads, self.dh, self.hidden = heads, hidden // heads, hidden
        self.drop = nn.Dropout(dropout)

    def split(self, t):
        b, s, _ = t.shape
        return t.view(b, s, self.heads, self.dh).transpose(1, 2)

    def forward(self, x, keep):
        b, s, _ = x.shape
        q, k, v = self.split(self.q(x)), self.split(self.k(x)), self.split(self.v(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.dh)
        scores = torch.where(keep, scores, torch.tensor(-10000.0))
        ctx = torch.matmul(self.drop(F.softmax(scores, dim=-1)), v)
        ctx = ctx.transpose(1, 2).reshape(b, s, self.hidden)
        x = self.norm1(x + self.drop(self.o(ctx)))
        return self.norm2(x + self.drop(self.ffn_out(F.gelu(self.ffn_in(x)))))


class Bert(nn.Module):
    def __init__(self, vocab, seq, layers=4, hidden=256, heads=4, ffn=1024, dropout=0.1):
        super().__init__()
        self.word = nn.Embedding(vocab, hidden)
        self.position = nn.Embedding(seq, hidden)
        self.emb_norm = nn.LayerNorm(hidden, eps=1e-12)
        self.drop = nn.Dropout(dropout)
        self.layers = nn.ModuleList([Layer(hidden, heads, ffn, dropout) for _ in range(layers)])
        self.pool = nn.Linear(hidden, hidden)
        self.cls = nn.Linear(hidden, 2)
        self.register_buffer("position_ids", torch.arange(seq).unsqueeze(0))
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)
            if isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def forward(self, input_ids, attention_mask):
        s = input_ids.shape[1]
        keep = (attention_mask > 0).unsqueeze(1).unsqueeze(2)
        x = self.word(input_ids) + self.position(self.position_ids[:, :s])
        x = self.drop(self.emb_norm(x))
        for layer in self.layers:
            x = layer(x, keep)
        pooled = torch.tanh(self.pool(x[:, 0]))
        return self.cls(self.drop(pooled))


def evaluate(model, ids, mask, labels, bs=128):
    model.eval()
    preds = []
    with torch.no_grad():
        for i in range(0, len(labels), bs):
            preds.append(model(torch.from_numpy(ids[i:i + bs]), torch.from_numpy(mask[i:i + bs])).argmax(1).numpy())
    preds = np.concatenate(preds)
    tp = int(((preds == 1) & (labels == 1)).sum())
    fp = int(((preds == 1) & (labels == 0)).sum())
    fn = int(((preds == 0) & (labels == 1)).sum())
    acc = float((preds == labels).mean())
    f1 = 2 * tp / max(1, 2 * tp + fp + fn)
    return acc, f1, int((preds == labels).sum())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=os.path.join(HERE, "..", "..", "shared", "data", "sst2"))
    ap.add_argument("--out", default=HERE)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--min-count", type=int, default=2)
    ap.add_argument("--max-vocab", type=int, default=16000)
    ap.add_argument("--measure", action="store_true", help="time 50 steps and exit")
    ap.add_argument("--limit", type=int, default=0, help="train on the first N rows only (smoke test)")
    args = ap.parse_args()
    if not os.path.isdir(args.data) and os.path.isdir("/work/shared/data/sst2"):
        args.data = "/work/shared/data/sst2"

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    random.seed(SEED)
    np.random.seed(SEED)
    torch.manual_seed(SEED)

    train = read_tsv(os.path.join(args.data, "train.tsv"))
    dev = read_tsv(os.path.join(args.data, "dev.tsv"))
    if args.limit:
        train = train[:args.limit]
    vocab = build_vocab(train, args.min_count, args.max_vocab)
    index = {w: i for i, w in enumerate(vocab)}
    tr_seqs = [encode(w, index, args.seq) for w, _ in train]
    tr_labels = np.array([l for _, l in train], dtype=np.int64)
    dev_ids, dev_mask = pad_batch([encode(w, index, args.seq) for w, _ in dev], args.seq)
    dev_labels = np.array([l for _, l in dev], dtype=np.int64)
    oov = sum(index.get(w, UNK) == UNK for ws, _ in dev for w in ws) / sum(len(ws) for ws, _ in dev)
    print(f"train={len(train)} dev={len(dev)} vocab={len(vocab)} dev_oov={oov:.3f} "
          f"dev_truncated={sum(len(w) + 2 > args.seq for w, _ in dev)}", flush=True)

    model = Bert(len(vocab), args.seq)
    nparams = sum(p.numel() for p in model.parameters())
    decay = [p for n, p in model.named_parameters() if p.ndim > 1 and "position" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim > 1 and "position" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01},
                             {"params": no_decay, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.98))
    # Batches of similar length (dynamic padding) keep one CPU thread busy with real tokens.
    order = np.argsort([len(s) for s in tr_seqs], kind="stable")
    batches = [order[i:i + args.batch] for i in range(0, len(order), args.batch)]
    total = len(batches) * args.epochs
    warm = max(1, int(0.06 * total))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / (total - warm))))
    rng = np.random.default_rng(SEED)
    print(f"params={nparams} steps/epoch={len(batches)} epochs={args.epochs}", flush=True)

    def step(bidx):
        seqs = [tr_seqs[i] for i in bidx]
        ids, mask = pad_batch(seqs, max(len(s) for s in seqs))
        logits = model(torch.from_numpy(ids), torch.from_numpy(mask))
        loss = F.cross_entropy(logits, torch.from_numpy(tr_labels[bidx]))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        return loss.item()

    if args.measure:
        model.train()
        t0 = time.time()
        sample = rng.permutation(len(batches))[:50]
        for b in sample:
            step(batches[b])
        dt = (time.time() - t0) / 50
        print(f"{dt * 1000:.0f} ms/step -> {dt * len(batches):.0f} s/epoch", flush=True)
        return 0

    t_start = time.time()
    best = (-1.0, None)
    for epoch in range(args.epochs):
        model.train()
        t0, tot = time.time(), 0.0
        perm = rng.permutation(len(batches))
        for j, b in enumerate(perm):
            bidx = rng.permutation(batches[b])
            tot += step(bidx)
            if (j + 1) % 300 == 0:
                print(f"  epoch {epoch + 1} step {j + 1}/{len(batches)} loss={tot / (j + 1):.4f} "
                      f"t={time.time() - t_start:.0f}s", flush=True)
        acc, f1, _ = evaluate(model, dev_ids, dev_mask, dev_labels)
        print(f"epoch {epoch + 1}/{args.epochs} loss={tot / len(batches):.4f} dev_acc={acc:.4f} "
              f"dev_f1={f1:.4f} epoch_s={time.time() - t0:.0f} total_s={time.time() - t_start:.0f}",
              flush=True)
        if acc > best[0]:
            best = (acc, epoch + 1)
    train_s = time.time() - t_start
    # Dev is the only held-out split: the last epoch is exported (no model selection on
    # dev); the best epoch is only reported.
    model.eval()
    acc, f1, correct = evaluate(model, dev_ids, dev_mask, dev_labels)

    onnx_path = os.path.join(args.out, "bert_sst2.onnx")
    tmp = onnx_path + ".tmp"
    ids1, mask1 = torch.from_numpy(dev_ids[:2]), torch.from_numpy(dev_mask[:2])
    torch.onnx.export(model, (ids1, mask1), tmp, opset_version=13,
                      input_names=["input_ids", "attention_mask"], output_names=["logits"],
                      dynamic_axes={"input_ids": {0: "batch"}, "attention_mask": {0: "batch"},
                                    "logits": {0: "batch"}}, do_constant_folding=True)
    os.replace(tmp, onnx_path)
    with open(os.path.join(args.out, "bert_sst2.vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(vocab) + "\n")
    np.savez_compressed(os.path.join(args.out, "sst2_dev_tokens.npz"),
                        input_ids=dev_ids, attention_mask=dev_mask, labels=dev_labels)
    with torch.no_grad():
        ref = model(torch.from_numpy(dev_ids[:8]), torch.from_numpy(dev_mask[:8])).numpy()
    meta = {
        "model": "bert_sst2.onnx",
        "architecture": {"layers": 4, "hidden": 256, "heads": 4, "ffn": 1024, "seq": args.seq,
                         "vocab": len(vocab), "activation": "gelu (erf)", "pooling": "[CLS] + tanh pooler",
                         "parameters": nparams},
        "inputs": {"input_ids": {"dtype": "int64", "shape": ["batch", args.seq]},
                   "attention_mask": {"dtype": "int64", "shape": ["batch", args.seq]}},
        "output": {"name": "logits", "dtype": "float32", "shape": ["batch", 2],
                   "labels": {"0": "negative", "1": "positive"}},
        "tokenizer": {"vocab": "bert_sst2.vocab.txt", "lowercase": True, "split": "whitespace",
                      "special": {"[PAD]": PAD, "[UNK]": UNK, "[CLS]": CLS, "[SEP]": SEP},
                      "format": "[CLS] tokens [SEP], truncated to seq, padded with [PAD]",
                      "vocab_rule": f"train.tsv words with count >= {args.min_count}, "
                                    f"most frequent first, at most {args.max_vocab} entries"},
        "dev_accuracy": round(acc, 4),
        "dev_f1": round(f1, 4),
        "f1_positive_class": 1,
        "dev_correct": correct,
        "dev_samples": int(len(dev_labels)),
        "dev_oov_rate": round(oov, 4),
        "accuracy_measured_with": "PyTorch eval mode (float32) before export, on sst2_dev_tokens.npz",
        "best_epoch_dev_accuracy": {"epoch": best[1], "accuracy": round(best[0], 4)},
        "training": {"data": "train.tsv (67349 rows)", "epochs": args.epochs, "batch": args.batch,
                     "optimizer": "AdamW betas (0.9, 0.98), wd 0.01", "lr": args.lr,
                     "schedule": "linear warmup 6% + linear decay", "dropout": 0.1,
                     "seed": SEED, "threads": 1, "seconds": round(train_s)},
        "reference_logits_dev_first8": ref.round(5).tolist(),
    }
    with open(os.path.join(args.out, "bert_sst2.json"), "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    print(f"final dev_acc={acc:.4f} ({correct}/{len(dev_labels)}) dev_f1={f1:.4f} "
          f"exported {onnx_path} ({os.path.getsize(onnx_path)} bytes) train_s={train_s:.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env node
// Classification accuracy of a model under ONNX Runtime over an .npz data set: checks that
// an exported fixture keeps the accuracy its training script measured.
//
//   node bench/ort_eval.mjs MODEL.onnx DATA.npz [--feed INPUT=ARRAY ...] [--labels labels]
//        [--output NAME] [--limit N] [--threads N]
//
// Every array fed to the model has the sample index as its first dimension; samples run one
// at a time (batch 1, as the fixtures are exported). --feed defaults to INPUT=INPUT for each
// model input. Prints {"accuracy":..,"correct":..,"samples":..,"f1":..} (F1 of class 1,
// only for two-class outputs) as JSON.
import { readNpz } from './npy.mjs';

function usage(msg) {
  if (msg) console.error(`ort_eval: ${msg}`);
  console.error('usage: node bench/ort_eval.mjs MODEL.onnx DATA.npz [--feed INPUT=ARRAY ...] ' +
    '[--labels NAME] [--output NAME] [--limit N] [--threads N]');
  process.exit(2);
}

const a = { feeds: [], labels: 'labels', limit: 0, threads: 1 };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i++) {
  const k = argv[i];
  const next = () => (i + 1 < argv.length ? argv[++i] : usage(`${k} needs a value`));
  if (k === '--feed') {
    const v = next();
    const eq = v.indexOf('=');
    if (eq <= 0) usage(`--feed expects INPUT=ARRAY, got '${v}'`);
    a.feeds.push([v.slice(0, eq), v.slice(eq + 1)]);
  } else if (k === '--labels') a.labels = next();
  else if (k === '--output') a.output = next();
  else if (k === '--limit') a.limit = Number(next());
  else if (k === '--threads') a.threads = Number(next());
  else if (k.startsWith('-')) usage(`unknown option ${k}`);
  else if (!a.model) a.model = k;
  else if (!a.data) a.data = k;
  else usage(`unexpected argument ${k}`);
}
if (!a.model || !a.data) usage('MODEL and DATA are required');

const ort = await import('onnxruntime-node');
const session = await ort.InferenceSession.create(a.model, {
  executionProviders: ['cpu'], intraOpNumThreads: a.threads, interOpNumThreads: 1,
});
const z = readNpz(a.data);
const feeds = a.feeds.length ? a.feeds : session.inputNames.map((n) => [n, n]);
for (const [inp, arr] of feeds) {
  if (!session.inputNames.includes(inp)) usage(`model has no input '${inp}'`);
  if (!(arr in z)) usage(`${a.data} has no array '${arr}' (has: ${Object.keys(z).join(', ')})`);
}
if (!(a.labels in z)) usage(`${a.data} has no labels array '${a.labels}'`);
const labels = z[a.labels].data;
const out = a.output || session.outputNames[0];
let n = labels.length;
if (a.limit > 0) n = Math.min(n, a.limit);

let correct = 0, tp = 0, fp = 0, fn = 0, classes = 0;
for (let s = 0; s < n; s++) {
  const f = {};
  for (const [inp, name] of feeds) {
    const arr = z[name];
    const per = arr.dims.slice(1).reduce((x, y) => x * y, 1);
    f[inp] = new ort.Tensor(arr.type, arr.data.slice(s * per, (s + 1) * per), [1, ...arr.dims.slice(1)]);
  }
  const r = await session.run(f);
  const logits = r[out].data;
  classes = logits.length;
  let best = 0;
  for (let c = 1; c < logits.length; c++) if (logits[c] > logits[best]) best = c;
  const y = Number(labels[s]);
  if (best === y) correct++;
  if (best === 1 && y === 1) tp++;
  if (best === 1 && y !== 1) fp++;
  if (best !== 1 && y === 1) fn++;
}
const res = { model: a.model, data: a.data, samples: n, correct, accuracy: Math.round((correct / n) * 1e4) / 1e4 };
if (classes === 2) res.f1 = Math.round((2 * tp / Math.max(1, 2 * tp + fp + fn)) * 1e4) / 1e4;
console.log(JSON.stringify(res));

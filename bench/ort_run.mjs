#!/usr/bin/env node
// ONNX Runtime (CPU, onnxruntime-node) peer runner: produces the reference outputs that
// nnopt is compared against, and measures the peer's latency for bench/.
//
//   node bench/ort_run.mjs MODEL.onnx --input NAME=FILE.npy ... --output-dir DIR
//        [--threads N] [--opt all|extended|basic|disabled] [--bench N [--warmup W]] [--info]
//
// Each output is written as DIR/<output name>.npy with '/', ':' and '\' in the name replaced
// by '_'. --bench N runs N timed inferences (after W warm-up runs, default 3) and prints
// {"median_ms":..,"p90_ms":..,"cpu_ms_per_run":..} as JSON on stdout (wall-clock times
// and the process's CPU time per run, which other load on the machine does not inflate). --info prints the model's inputs and
// outputs as JSON. --threads defaults to 1 so reference runs are reproducible.
import fs from 'node:fs';
import path from 'node:path';
import { readNpy, writeNpy, NPY_TYPES } from './npy.mjs';

function usage(msg) {
  if (msg) console.error(`ort_run: ${msg}`);
  console.error('usage: node bench/ort_run.mjs MODEL.onnx --input NAME=FILE.npy ... ' +
    '--output-dir DIR [--threads N] [--opt LEVEL] [--bench N] [--warmup W] [--info]');
  process.exit(2);
}

function parseArgs(argv) {
  const a = { inputs: [], threads: 1, opt: 'all', bench: 0, warmup: 3, info: false };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) usage(`${k} needs a value`);
      return argv[++i];
    };
    if (k === '--input' || k === '-i') {
      const v = next();
      const eq = v.indexOf('=');
      if (eq <= 0) usage(`--input expects NAME=FILE.npy, got '${v}'`);
      a.inputs.push([v.slice(0, eq), v.slice(eq + 1)]);
    } else if (k === '--output-dir' || k === '-o') a.outDir = next();
    else if (k === '--threads') a.threads = Number(next());
    else if (k === '--opt') a.opt = next();
    else if (k === '--bench') a.bench = Number(next());
    else if (k === '--warmup') a.warmup = Number(next());
    else if (k === '--info') a.info = true;
    else if (k === '-h' || k === '--help') usage();
    else if (k.startsWith('-')) usage(`unknown option ${k}`);
    else if (!a.model) a.model = k;
    else usage(`unexpected argument ${k}`);
  }
  if (!a.model) usage('no model given');
  if (!Number.isInteger(a.threads) || a.threads < 0) usage('--threads must be an integer >= 0');
  if (!Number.isInteger(a.bench) || a.bench < 0) usage('--bench must be an integer >= 0');
  if (!['all', 'extended', 'basic', 'disabled', 'layout'].includes(a.opt)) usage(`bad --opt ${a.opt}`);
  return a;
}

export function sanitizeName(name) {
  return name.replace(/[/:\\]/g, '_');
}

function percentile(sorted, p) {
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx];
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  let ort;
  try {
    ort = await import('onnxruntime-node');
  } catch (e) {
    console.error(`ort_run: cannot load onnxruntime-node (run 'npm ci --ignore-scripts' in bench/): ${e.message}`);
    process.exit(3);
  }
  const opts = {
    executionProviders: ['cpu'],
    graphOptimizationLevel: a.opt,
    intraOpNumThreads: a.threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
  };
  let session;
  try {
    session = await ort.InferenceSession.create(a.model, opts);
  } catch (e) {
    console.error(`ort_run: ${a.model}: cannot create session: ${e.message}`);
    process.exit(1);
  }
  if (a.info) {
    const meta = (list, names) => names.map((n, i) => {
      const m = list ? list[i] : undefined;
      return m && m.isTensor ? { name: n, type: m.type, shape: m.shape } : { name: n };
    });
    console.log(JSON.stringify({
      model: a.model,
      inputs: meta(session.inputMetadata, session.inputNames),
      outputs: meta(session.outputMetadata, session.outputNames),
    }, null, 1));
    if (!a.inputs.length) return;
  }

  const feeds = {};
  for (const [name, file] of a.inputs) {
    if (!session.inputNames.includes(name)) {
      console.error(`ort_run: ${a.model}: no input named '${name}' (inputs: ${session.inputNames.join(', ')})`);
      process.exit(1);
    }
    let arr;
    try {
      arr = readNpy(file);
    } catch (e) {
      console.error(`ort_run: ${e.message}`);
      process.exit(1);
    }
    feeds[name] = new ort.Tensor(arr.type, arr.data, arr.dims);
  }
  const missing = session.inputNames.filter((n) => !(n in feeds));
  if (missing.length) {
    console.error(`ort_run: ${a.model}: inputs not given: ${missing.join(', ')}`);
    process.exit(1);
  }

  let results;
  try {
    results = await session.run(feeds);
  } catch (e) {
    console.error(`ort_run: ${a.model}: run failed: ${e.message}`);
    process.exit(1);
  }

  if (a.outDir) {
    fs.mkdirSync(a.outDir, { recursive: true });
    for (const name of session.outputNames) {
      const t = results[name];
      if (!NPY_TYPES.includes(t.type)) {
        console.error(`ort_run: output '${name}' has dtype ${t.type}, which cannot be written`);
        process.exit(1);
      }
      writeNpy(path.join(a.outDir, `${sanitizeName(name)}.npy`), t.type, t.dims, t.data);
    }
  }

  if (a.bench > 0) {
    for (let i = 0; i < a.warmup; i++) await session.run(feeds);
    const times = [];
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < a.bench; i++) {
      const t0 = process.hrtime.bigint();
      await session.run(feeds);
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    // CPU time of the whole process (all threads) per run: unaffected by other load.
    const cpu = process.cpuUsage(cpu0);
    const sorted = [...times].sort((x, y) => x - y);
    const r3 = (v) => Math.round(v * 1000) / 1000;
    console.log(JSON.stringify({
      runtime: `onnxruntime-node ${ort.env.versions ? ort.env.versions.node : ''}`.trim(),
      model: a.model,
      threads: a.threads,
      opt: a.opt,
      runs: a.bench,
      median_ms: r3(percentile(sorted, 50)),
      p90_ms: r3(percentile(sorted, 90)),
      min_ms: r3(sorted[0]),
      mean_ms: r3(times.reduce((x, y) => x + y, 0) / times.length),
      cpu_ms_per_run: r3((cpu.user + cpu.system) / 1000 / a.bench),
    }));
  }
  await session.release();
}

main();

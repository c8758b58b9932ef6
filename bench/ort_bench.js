#!/usr/bin/env node
// onnxruntime side of camstream's side-by-side benchmark (see bench/run.sh).
//
//   node bench/ort_bench.js MODEL.onnx [--threads N] [--batch B] [--runs R] [--warmup W] [--json]
//   node bench/ort_bench.js MODEL.onnx --check DATA_SET_DIR [--threads N]
//
// Runs the model with onnxruntime-node (CPU execution provider, all graph optimizations,
// sequential execution, intraOpNumThreads = N, interOpNumThreads = 1) on deterministic
// pseudo-random inputs and reports the median, minimum and 90th percentile latency of
// session.run() and images per second (batch / median), in the same form as
// `camstream bench`. --check runs DATA_SET_DIR/input_0.pb and compares the result with
// DATA_SET_DIR/output_0.pb (max |diff| against 1e-4 of the reference's range): a check of
// the exported models that does not depend on camstream.
'use strict';

const fs = require('fs');
const path = require('path');

function usage(out) {
  out.write('usage: node ort_bench.js MODEL.onnx [--threads N] [--batch B] [--runs R] ' +
            '[--warmup W] [--json] [--check DATA_SET_DIR]\n');
}

function die(msg) {
  process.stderr.write(`ort_bench: ${msg}\n`);
  process.exit(1);
}

function parseArgs(argv) {
  const a = {model: null, threads: 1, batch: 1, runs: -1, warmup: -1, json: false, check: null};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const intOpt = {'--threads': [1, 1024], '--batch': [1, 1 << 20], '--runs': [1, 1e6],
                    '--warmup': [0, 1e6]};
    if (arg === '-h' || arg === '--help') {
      usage(process.stdout);
      process.exit(0);
    } else if (arg === '--json') {
      a.json = true;
    } else if (arg === '--check') {
      if (i + 1 >= argv.length) die('--check needs a directory');
      a.check = argv[++i];
    } else if (arg in intOpt) {
      if (i + 1 >= argv.length) die(`${arg} needs a value`);
      const v = argv[++i];
      const [lo, hi] = intOpt[arg];
      if (!/^[0-9]+$/.test(v) || Number(v) < lo || Number(v) > hi)
        die(`${arg} expects an integer in [${lo}, ${hi}], got '${v}'`);
      a[arg.slice(2)] = Number(v);
    } else if (arg.startsWith('-')) {
      usage(process.stderr);
      die(`unknown option '${arg}'`);
    } else if (a.model) {
      die(`one model at a time ('${a.model}' and '${arg}')`);
    } else {
      a.model = arg;
    }
  }
  if (!a.model) {
    usage(process.stderr);
    die('no model given');
  }
  if (a.runs < 0) a.runs = a.batch === 1 ? 30 : 10;
  if (a.warmup < 0) a.warmup = a.batch === 1 ? 5 : 2;
  return a;
}

// ---- a minimal ONNX TensorProto reader (dims, data_type, float_data, raw_data) -----------

function readVarint(buf, pos) {
  let v = 0n, shift = 0n;
  for (;;) {
    if (pos.p >= buf.length) throw new Error('truncated varint');
    const b = buf[pos.p++];
    v |= BigInt(b & 0x7f) << shift;
    if (!(b & 0x80)) return v;
    shift += 7n;
  }
}

function readTensorProto(file) {
  const buf = fs.readFileSync(file);
  const pos = {p: 0};
  const dims = [];
  let type = 0, raw = null, floats = [];
  while (pos.p < buf.length) {
    const key = Number(readVarint(buf, pos));
    const field = key >> 3, wire = key & 7;
    if (wire === 0) {
      const v = readVarint(buf, pos);
      if (field === 1) dims.push(Number(v));
      else if (field === 2) type = Number(v);
    } else if (wire === 2) {
      const len = Number(readVarint(buf, pos));
      const body = buf.subarray(pos.p, pos.p + len);
      if (body.length !== len) throw new Error(`${file}: truncated`);
      pos.p += len;
      if (field === 1) { // packed dims
        const q = {p: 0};
        while (q.p < body.length) dims.push(Number(readVarint(body, q)));
      } else if (field === 4) { // packed float_data
        for (let k = 0; k + 4 <= body.length; k += 4) floats.push(body.readFloatLE(k));
      } else if (field === 9) {
        raw = body;
      }
    } else if (wire === 5) {
      if (field === 4) floats.push(buf.readFloatLE(pos.p));
      pos.p += 4;
    } else if (wire === 1) {
      pos.p += 8;
    } else {
      throw new Error(`${file}: unexpected wire type ${wire}`);
    }
  }
  if (type !== 1) throw new Error(`${file}: data_type ${type}, only float (1) is handled`);
  const n = dims.reduce((x, y) => x * y, 1);
  let data;
  if (raw) {
    data = new Float32Array(n);
    for (let k = 0; k < n; k++) data[k] = raw.readFloatLE(4 * k);
  } else {
    data = Float32Array.from(floats);
  }
  if (data.length !== n) throw new Error(`${file}: ${data.length} values for dims ${dims}`);
  return {dims, data};
}

// ---- inputs and statistics -------------------------------------------------------------

// Same generator and range as `camstream bench` (xorshift64*, uniform in [-2, 2)).
function fillRandom(n, seed) {
  const mask = (1n << 64n) - 1n;
  let s = (BigInt(seed) * 0x9E3779B97F4A7C15n + 1n) & mask;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s >> 12n;
    s = (s ^ (s << 25n)) & mask;
    s ^= s >> 27n;
    const r = (s * 0x2545F4914F6CDD1Dn) & mask;
    out[i] = Number(r >> 11n) * 2 ** -53 * 4 - 2;
  }
  return out;
}

function stats(times, batch) {
  const t = [...times].sort((x, y) => x - y);
  const n = t.length;
  const median = n % 2 ? t[(n - 1) / 2] : 0.5 * (t[n / 2 - 1] + t[n / 2]);
  const mean = t.reduce((x, y) => x + y, 0) / n;
  return {median_ms: median, min_ms: t[0], p90_ms: t[Math.ceil(0.9 * n) - 1], mean_ms: mean,
          images_per_s: batch * 1000 / median};
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  if (!fs.existsSync(a.model)) die(`cannot open model '${a.model}': no such file`);
  let ort;
  try {
    ort = require('onnxruntime-node');
  } catch (e) {
    die(`onnxruntime-node is not installed (cd bench && ONNXRUNTIME_NODE_INSTALL=skip npm ` +
        `install --no-package-lock): ${e.message}`);
  }
  const t0 = process.hrtime.bigint();
  const session = await ort.InferenceSession.create(a.model, {
    executionProviders: ['cpu'],
    intraOpNumThreads: a.threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
  });
  const loadMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const meta = session.inputMetadata;
  const outName = session.outputNames[0];

  if (a.check) {
    const x = readTensorProto(path.join(a.check, 'input_0.pb'));
    const ref = readTensorProto(path.join(a.check, 'output_0.pb'));
    const y = (await session.run({[session.inputNames[0]]: new ort.Tensor('float32', x.data,
                                                                         x.dims)}))[outName];
    if (y.data.length !== ref.data.length) die(`output has ${y.data.length} values, ` +
                                               `reference ${ref.data.length}`);
    let lo = Infinity, hi = -Infinity, maxdiff = 0;
    for (let i = 0; i < ref.data.length; i++) {
      lo = Math.min(lo, ref.data[i]);
      hi = Math.max(hi, ref.data[i]);
      const d = Math.abs(y.data[i] - ref.data[i]);
      maxdiff = Number.isNaN(d) ? Infinity : Math.max(maxdiff, d);
    }
    const range = hi - lo;
    const ok = maxdiff <= 1e-4 * (range > 0 ? range : 1);
    console.log(`${a.check}: max|diff| ${maxdiff.toPrecision(4)}  range ` +
                `${range.toPrecision(4)}  ratio ${(maxdiff / range).toPrecision(3)}  ` +
                `${ok ? 'PASS' : 'FAIL'}`);
    process.exit(ok ? 0 : 1);
  }

  const feeds = {};
  let shapeStr = '';
  meta.forEach((m, i) => {
    if (m.type !== 'float32') die(`input '${m.name}' is ${m.type}; only float32 is handled`);
    const dims = m.shape.map((d, k) => (typeof d === 'number' && d >= 0) ? d
                                       : (k === 0 ? a.batch : die(`input '${m.name}' has a ` +
                                                                  `symbolic dimension ${k}`)));
    if (dims[0] !== a.batch) die(`input '${m.name}' has a fixed batch of ${dims[0]}`);
    const n = dims.reduce((x, y) => x * y, 1);
    feeds[m.name] = new ort.Tensor('float32', fillRandom(n, i), dims);
    if (i === 0) shapeStr = dims.join('x');
  });

  for (let i = 0; i < a.warmup; i++) await session.run(feeds);
  const times = [];
  for (let i = 0; i < a.runs; i++) {
    const s = process.hrtime.bigint();
    await session.run(feeds);
    times.push(Number(process.hrtime.bigint() - s) / 1e6);
  }
  const st = stats(times, a.batch);
  if (a.json) {
    console.log(JSON.stringify({engine: 'onnxruntime', version: ort.env.versions.node,
                                model: a.model, input: shapeStr, threads: a.threads,
                                batch: a.batch, runs: a.runs, warmup: a.warmup, ...st,
                                load_ms: loadMs}));
  } else {
    console.log(`model       ${a.model} (onnxruntime-node ${ort.env.versions.node}, CPU)`);
    console.log(`input       ${session.inputNames[0]} ${shapeStr}`);
    console.log(`threads     ${a.threads}   batch ${a.batch}   warm-up ${a.warmup}   ` +
                `runs ${a.runs}`);
    console.log(`load        ${loadMs.toFixed(1)} ms`);
    console.log(`latency     median ${st.median_ms.toFixed(3)} ms   min ` +
                `${st.min_ms.toFixed(3)} ms   p90 ${st.p90_ms.toFixed(3)} ms   mean ` +
                `${st.mean_ms.toFixed(3)} ms`);
    console.log(`throughput  ${st.images_per_s.toFixed(1)} images/s`);
  }
}

main().catch((e) => die(e && e.message ? e.message : String(e)));

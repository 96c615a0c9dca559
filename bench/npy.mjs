// .npy read/write for the peer runners (format versions 1-3, C order, little-endian).
// Only the dtypes the fixtures use: float32, float64, int64, int32, int8, uint8, bool.
import fs from 'node:fs';
import zlib from 'node:zlib';

// npy descr -> [onnxruntime type name, TypedArray constructor]
const DESCR = {
  '<f4': ['float32', Float32Array],
  '<f8': ['float64', Float64Array],
  '<i8': ['int64', BigInt64Array],
  '<i4': ['int32', Int32Array],
  '|i1': ['int8', Int8Array],
  '|u1': ['uint8', Uint8Array],
  '|b1': ['bool', Uint8Array],
};
const TYPE_TO_DESCR = Object.fromEntries(Object.entries(DESCR).map(([d, [t]]) => [t, d]));
// Single-byte dtypes may be written with '<' or '=' by some writers.
const ALIASES = { '<i1': '|i1', '<u1': '|u1', '<b1': '|b1', 'b1': '|b1', 'i1': '|i1', 'u1': '|u1' };

export const NPY_TYPES = Object.keys(TYPE_TO_DESCR);

/** Parse a .npy buffer into {type, dims, data} (data is a fresh, aligned TypedArray). */
export function parseNpy(buf, label = '<buffer>') {
  const magic = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]);
  if (buf.length < 10 || !buf.subarray(0, 6).equals(magic)) {
    throw new Error(`${label}: not an .npy file (bad magic)`);
  }
  const major = buf[6];
  let hlen, hstart;
  if (major === 1) {
    hlen = buf.readUInt16LE(8);
    hstart = 10;
  } else if (major === 2 || major === 3) {
    hlen = buf.readUInt32LE(8);
    hstart = 12;
  } else {
    throw new Error(`${label}: unsupported .npy version ${major}`);
  }
  const header = buf.subarray(hstart, hstart + hlen).toString(major === 3 ? 'utf8' : 'latin1');
  const descrM = header.match(/'descr'\s*:\s*'([^']+)'/);
  const fortranM = header.match(/'fortran_order'\s*:\s*(True|False)/);
  const shapeM = header.match(/'shape'\s*:\s*\(([^)]*)\)/);
  if (!descrM || !fortranM || !shapeM) throw new Error(`${label}: malformed .npy header: ${header}`);
  let descr = ALIASES[descrM[1]] || descrM[1];
  if (descr.startsWith('=')) descr = '<' + descr.slice(1);
  if (!(descr in DESCR)) throw new Error(`${label}: unsupported dtype '${descrM[1]}'`);
  if (fortranM[1] === 'True') throw new Error(`${label}: Fortran-order arrays are not supported`);
  const dims = shapeM[1].split(',').map((s) => s.trim()).filter((s) => s.length).map((s) => {
    const v = Number(s.replace(/L$/, ''));
    if (!Number.isInteger(v) || v < 0) throw new Error(`${label}: bad dimension '${s}'`);
    return v;
  });
  const [type, Ctor] = DESCR[descr];
  const numel = dims.reduce((a, b) => a * b, 1);
  const off = hstart + hlen;
  const nbytes = numel * Ctor.BYTES_PER_ELEMENT;
  if (buf.length - off < nbytes) {
    throw new Error(`${label}: truncated: ${buf.length - off} data bytes, expected ${nbytes}`);
  }
  // Copy into a fresh ArrayBuffer so the TypedArray is aligned.
  const ab = new ArrayBuffer(nbytes);
  new Uint8Array(ab).set(buf.subarray(off, off + nbytes));
  return { type, dims, data: new Ctor(ab) };
}

export function readNpy(path) {
  return parseNpy(fs.readFileSync(path), path);
}

/** Serialize {type, dims, data} as a version-1 .npy buffer. */
export function formatNpy(type, dims, data) {
  const descr = TYPE_TO_DESCR[type];
  if (!descr) throw new Error(`cannot write dtype '${type}' as .npy`);
  const shape = dims.length === 1 ? `(${dims[0]},)` : `(${dims.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  // Pad with spaces so that magic + len + header + '\n' is a multiple of 64.
  const total = Math.ceil((10 + header.length + 1) / 64) * 64;
  header = header + ' '.repeat(total - 10 - header.length - 1) + '\n';
  const head = Buffer.alloc(10);
  Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]).copy(head, 0);
  head.writeUInt16LE(header.length, 8);
  let bytes;
  if (type === 'bool') {
    bytes = Buffer.from(Uint8Array.from(data, (v) => (v ? 1 : 0)));
  } else {
    bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  }
  return Buffer.concat([head, Buffer.from(header, 'latin1'), bytes]);
}

/** Write atomically (temporary file + rename). */
export function writeNpy(path, type, dims, data) {
  const tmp = `${path}.tmp${process.pid}`;
  fs.writeFileSync(tmp, formatNpy(type, dims, data));
  fs.renameSync(tmp, path);
}

/** Read an .npz archive (stored or deflated members) into {name: {type, dims, data}}. */
export function readNpz(path) {
  const buf = fs.readFileSync(path);
  // End of central directory: signature 0x06054b50 within the last 64 KiB + 22 bytes.
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 65557); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) { eocd = i; break; }
  }
  if (eocd < 0) throw new Error(`${path}: not a zip archive`);
  let count = buf.readUInt16LE(eocd + 10);
  let cdOff = buf.readUInt32LE(eocd + 16);
  if (cdOff === 0xffffffff || count === 0xffff) {
    // ZIP64: locator just before the EOCD points at the ZIP64 EOCD record.
    const loc = eocd - 20;
    if (loc < 0 || buf.readUInt32LE(loc) !== 0x07064b50) throw new Error(`${path}: bad ZIP64 archive`);
    const z64 = Number(buf.readBigUInt64LE(loc + 8));
    count = Number(buf.readBigUInt64LE(z64 + 32));
    cdOff = Number(buf.readBigUInt64LE(z64 + 48));
  }
  const out = {};
  let p = cdOff;
  for (let e = 0; e < count; e++) {
    if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error(`${path}: bad central directory`);
    const method = buf.readUInt16LE(p + 10);
    let csize = buf.readUInt32LE(p + 20);
    let usize = buf.readUInt32LE(p + 24);
    const nlen = buf.readUInt16LE(p + 28), xlen = buf.readUInt16LE(p + 30), clen = buf.readUInt16LE(p + 32);
    let lho = buf.readUInt32LE(p + 42);
    const name = buf.subarray(p + 46, p + 46 + nlen).toString('utf8');
    // ZIP64 extra field (id 1) holds the 64-bit sizes/offset that overflowed.
    let x = p + 46 + nlen;
    const xend = x + xlen;
    while (x + 4 <= xend) {
      const id = buf.readUInt16LE(x), sz = buf.readUInt16LE(x + 2);
      if (id === 1) {
        let q = x + 4;
        if (usize === 0xffffffff) { usize = Number(buf.readBigUInt64LE(q)); q += 8; }
        if (csize === 0xffffffff) { csize = Number(buf.readBigUInt64LE(q)); q += 8; }
        if (lho === 0xffffffff) { lho = Number(buf.readBigUInt64LE(q)); q += 8; }
      }
      x += 4 + sz;
    }
    p = xend + clen;
    const start = lho + 30 + buf.readUInt16LE(lho + 26) + buf.readUInt16LE(lho + 28);
    const raw = buf.subarray(start, start + csize);
    let data;
    if (method === 0) data = raw;
    else if (method === 8) data = zlib.inflateRawSync(raw);
    else throw new Error(`${path}: member ${name}: unsupported compression ${method}`);
    if (data.length !== usize) throw new Error(`${path}: member ${name}: size mismatch`);
    out[name.replace(/\.npy$/, '')] = parseNpy(data, `${path}:${name}`);
  }
  return out;
}

/** RC4 stream cipher (the "ARCFOUR" of MS-NLMP 3.4.4 sealing). Node 20's OpenSSL 3 refuses RC4 without the legacy provider. */

/** A keyed RC4 handle; `update` continues the key stream across calls (MS-NLMP sealing keeps one handle per direction). */
export class RC4 {
  private readonly s = new Uint8Array(256);
  private i = 0;
  private j = 0;

  constructor(key: Uint8Array) {
    if (key.length < 1 || key.length > 256) throw new RangeError('RC4 key must be 1..256 bytes');
    const s = this.s;
    for (let k = 0; k < 256; k++) s[k] = k;
    let j = 0;
    const kl = key.length;
    for (let k = 0; k < 256; k++) {
      const t = s[k]!;
      j = (j + t + key[k % kl]!) & 0xff;
      s[k] = s[j]!;
      s[j] = t;
    }
  }

  /** Encrypt/decrypt `data` into a new array (or into `out`, which may be `data` itself). */
  update(data: Uint8Array, out: Uint8Array = new Uint8Array(data.length)): Uint8Array {
    if (data.length >= WASM_MIN) {
      const w = wasm();
      if (w) {
        this.updateWasm(w, data, out);
        return out;
      }
    }
    const s = this.s;
    let i = this.i,
      j = this.j;
    const n = data.length;
    for (let k = 0; k < n; k++) {
      i = (i + 1) & 0xff;
      const si = s[i]!;
      j = (j + si) & 0xff;
      const sj = s[j]!;
      s[i] = sj;
      s[j] = si;
      out[k] = data[k]! ^ s[(si + sj) & 0xff]!;
    }
    this.i = i;
    this.j = j;
    return out;
  }

  /** The same loop in WebAssembly (no typed-array bounds checks: about 3x the JS loop's speed on bulk data). */
  private updateWasm(w: RC4Wasm, data: Uint8Array, out: Uint8Array): void {
    let mem = new Uint8Array(w.memory.buffer);
    mem.set(this.s, 0);
    mem[256] = this.i;
    mem[257] = this.j;
    for (let o = 0; o < data.length; o += WASM_CHUNK) {
      const n = Math.min(WASM_CHUNK, data.length - o);
      if (mem.length < DATA_AT + n) {
        w.memory.grow(Math.ceil((DATA_AT + n - mem.length) / 65536));
        mem = new Uint8Array(w.memory.buffer);
      }
      mem.set(data.subarray(o, o + n), DATA_AT);
      w.update(n);
      out.set(mem.subarray(DATA_AT, DATA_AT + n), o);
    }
    this.s.set(mem.subarray(0, 256));
    this.i = mem[256]!;
    this.j = mem[257]!;
  }
}

/**
 * RC4's update loop as a WebAssembly module (hand-assembled, 170 bytes): memory[0..256) the state, [256] i, [257] j,
 * the data in place from byte 1024; export `u(n)` runs n bytes, `m` is the memory. One instance serves every handle
 * (each copies its state in and out), so nothing is kept between calls.
 */
const RC4_WASM =
  'AGFzbQEAAAABBQFgAX8AAwIBAAUDAQABBwkCAW0CAAF1AAAKiAEBhQEBBn9BgAItAAAhAUGBAi0AACECAkADQCADIABPDQEgAUEBakH/AXEiAS0AACE' +
  'EIAIgBGpB/wFxIgItAAAhBSABIAU6AAAgAiAEOgAAIANBgAhqIgYgBi0AACAEIAVqQf8BcS0AAHM6AAAgA0EBaiEDDAALC0GAAiABOgAAQYECIAI6AAAL';
const DATA_AT = 1024;
const WASM_MIN = 512;
const WASM_CHUNK = 1 << 20;
interface WasmMemory {
  buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface RC4Wasm {
  memory: WasmMemory;
  update: (n: number) => void;
}
/** the little of the WebAssembly API used here (the project's TypeScript libs do not declare it) */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: Record<string, unknown> };
}
let wasmInstance: RC4Wasm | null | undefined;
function wasm(): RC4Wasm | null {
  if (wasmInstance !== undefined) return wasmInstance;
  try {
    const W = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
    const inst = new W.Instance(new W.Module(Buffer.from(RC4_WASM, 'base64')));
    wasmInstance = { memory: inst.exports.m as WasmMemory, update: inst.exports.u as (n: number) => void };
  } catch {
    wasmInstance = null;
  } // no WebAssembly (e.g. --jitless): the JS loop
  return wasmInstance;
}

/** One-shot RC4K(key, data) (MS-NLMP 6 "RC4K"). */
export function rc4(key: Uint8Array, data: Uint8Array): Uint8Array {
  return new RC4(key).update(data);
}

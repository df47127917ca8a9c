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
      s[k] = s[j]!; s[j] = t;
    }
  }

  /** Encrypt/decrypt `data` into a new array (or into `out`, which may be `data` itself). */
  update(data: Uint8Array, out: Uint8Array = new Uint8Array(data.length)): Uint8Array {
    const s = this.s;
    let i = this.i, j = this.j;
    const n = data.length;
    for (let k = 0; k < n; k++) {
      i = (i + 1) & 0xff;
      const si = s[i]!;
      j = (j + si) & 0xff;
      const sj = s[j]!;
      s[i] = sj; s[j] = si;
      out[k] = data[k]! ^ s[(si + sj) & 0xff]!;
    }
    this.i = i; this.j = j;
    return out;
  }
}

/** One-shot RC4K(key, data) (MS-NLMP 6 "RC4K"). */
export function rc4(key: Uint8Array, data: Uint8Array): Uint8Array {
  return new RC4(key).update(data);
}

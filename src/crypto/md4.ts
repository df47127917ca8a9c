/** MD4 message digest (RFC 1320). Node 20's OpenSSL 3 refuses MD4 without the legacy provider; NTLM needs it for the NT hash. */

function rotl(x: number, n: number): number {
  return (x << n) | (x >>> (32 - n));
}

/** RFC 1320 MD4 of `data` (16 bytes). */
export function md4(data: Uint8Array): Uint8Array {
  const len = data.length;
  const total = ((len + 8) >>> 6) + 1; // 64-byte blocks after padding
  const buf = new Uint8Array(total * 64);
  buf.set(data);
  buf[len] = 0x80;
  const dv = new DataView(buf.buffer);
  const bitLen = len * 8;
  dv.setUint32(total * 64 - 8, bitLen >>> 0, true);
  dv.setUint32(total * 64 - 4, Math.floor(len / 0x20000000), true);

  let a = 0x67452301,
    b = 0xefcdab89,
    c = 0x98badcfe,
    d = 0x10325476;
  const x = new Int32Array(16);
  for (let blk = 0; blk < total; blk++) {
    for (let i = 0; i < 16; i++) x[i] = dv.getInt32(blk * 64 + i * 4, true);
    const aa = a,
      bb = b,
      cc = c,
      dd = d;
    // Round 1: F(x,y,z) = (x & y) | (~x & z)
    for (let i = 0; i < 16; i += 4) {
      a = rotl((a + ((b & c) | (~b & d)) + x[i]!) | 0, 3);
      d = rotl((d + ((a & b) | (~a & c)) + x[i + 1]!) | 0, 7);
      c = rotl((c + ((d & a) | (~d & b)) + x[i + 2]!) | 0, 11);
      b = rotl((b + ((c & d) | (~c & a)) + x[i + 3]!) | 0, 19);
    }
    // Round 2: G(x,y,z) = (x & y) | (x & z) | (y & z), constant 0x5a827999
    for (let i = 0; i < 4; i++) {
      a = rotl((a + ((b & c) | (b & d) | (c & d)) + x[i]! + 0x5a827999) | 0, 3);
      d = rotl((d + ((a & b) | (a & c) | (b & c)) + x[i + 4]! + 0x5a827999) | 0, 5);
      c = rotl((c + ((d & a) | (d & b) | (a & b)) + x[i + 8]! + 0x5a827999) | 0, 9);
      b = rotl((b + ((c & d) | (c & a) | (d & a)) + x[i + 12]! + 0x5a827999) | 0, 13);
    }
    // Round 3: H(x,y,z) = x ^ y ^ z, constant 0x6ed9eba1
    for (const i of [0, 2, 1, 3]) {
      a = rotl((a + (b ^ c ^ d) + x[i]! + 0x6ed9eba1) | 0, 3);
      d = rotl((d + (a ^ b ^ c) + x[i + 8]! + 0x6ed9eba1) | 0, 9);
      c = rotl((c + (d ^ a ^ b) + x[i + 4]! + 0x6ed9eba1) | 0, 11);
      b = rotl((b + (c ^ d ^ a) + x[i + 12]! + 0x6ed9eba1) | 0, 15);
    }
    a = (a + aa) | 0;
    b = (b + bb) | 0;
    c = (c + cc) | 0;
    d = (d + dd) | 0;
  }
  const out = new Uint8Array(16);
  const ov = new DataView(out.buffer);
  ov.setInt32(0, a, true);
  ov.setInt32(4, b, true);
  ov.setInt32(8, c, true);
  ov.setInt32(12, d, true);
  return out;
}

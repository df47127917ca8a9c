// RC4 against RFC 6229 (test vectors for the stream cipher RC4), section 2 key-stream offsets.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RC4, rc4 } from '../../src/crypto/rc4.js';
import { fromHex, toHex } from '../../src/util/bytes.js';

function keystream(key: string, n: number): Uint8Array {
  return rc4(fromHex(key), new Uint8Array(n));
}

test('RC4: RFC 6229 40-bit key 0x0102030405', () => {
  const ks = keystream('0102030405', 4112);
  assert.equal(toHex(ks.subarray(0, 32)), 'b2396305f03dc027ccc3524a0a1118a86982944f18fc82d589c403a47a0d0919');
  assert.equal(toHex(ks.subarray(240, 272)), '28cb1132c96ce286421dcaadb8b69eae1cfcf62b03eddb641d77dfcf7f8d8c93');
  assert.equal(toHex(ks.subarray(4096, 4112)), 'ff25b58995996707e51fbdf08b34d875');
});

test('RC4: RFC 6229 128-bit key 0x0102..10', () => {
  const ks = keystream('0102030405060708090a0b0c0d0e0f10', 16);
  assert.equal(toHex(ks), '9ac7cc9a609d1ef7b2932899cde41b97');
});

test('RC4: a handle continues its key stream across update() calls, whatever the split', () => {
  const key = fromHex('0102030405');
  const whole = keystream('0102030405', 300);
  for (const cut of [0, 1, 17, 255, 256, 299]) {
    const h = new RC4(key);
    const a = h.update(new Uint8Array(cut));
    const b = h.update(new Uint8Array(300 - cut));
    assert.equal(toHex(a) + toHex(b), toHex(whole), `cut ${cut}`);
  }
});

test('RC4: decrypt(encrypt(x)) = x and in-place update', () => {
  const key = fromHex('55'.repeat(16));
  const msg = new Uint8Array(1000).map((_, i) => (i * 7) & 0xff);
  const ct = rc4(key, msg);
  assert.notEqual(toHex(ct), toHex(msg));
  const buf = ct.slice();
  new RC4(key).update(buf, buf);
  assert.equal(toHex(buf), toHex(msg));
  assert.throws(() => new RC4(new Uint8Array(0)), RangeError);
});

test("RC4: bulk updates (the WebAssembly loop) give the JS loop's key stream, across handles and splits", () => {
  const key = fromHex('0102030405060708090a0b0c0d0e0f10');
  const data = new Uint8Array(3 * 1024 * 1024 + 77);
  for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
  // byte by byte: always the JS loop
  const ref = new RC4(key);
  const expect = new Uint8Array(data.length);
  for (let o = 0; o < data.length; o += 100) expect.set(ref.update(data.subarray(o, Math.min(o + 100, data.length))), o);
  const a = new RC4(key);
  const b = new RC4(fromHex('0102030405'));
  const got = new Uint8Array(data.length);
  let o = 0;
  for (const n of [5000, 3, 2 * 1024 * 1024 + 1, 511, 512, 100000]) {
    got.set(a.update(data.subarray(o, o + n)), o);
    b.update(data.subarray(0, 4096));
    o += n;
  }
  got.set(a.update(data.subarray(o)), o);
  assert.equal(Buffer.from(got).equals(Buffer.from(expect)), true);
});

// MD4 against the RFC 1320 appendix A.5 test suite.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { md4 } from '../../src/crypto/md4.js';
import { toHex, utf8, utf16le } from '../../src/util/bytes.js';

const RFC1320_A5: Array<[string, string]> = [
  ['', '31d6cfe0d16ae931b73c59d7e0c089c0'],
  ['a', 'bde52cb31de33e46245e05fbdbd6fb24'],
  ['abc', 'a448017aaf21d8525fc10ae87aa6729d'],
  ['message digest', 'd9130a8164549fe818874806e1c7014b'],
  ['abcdefghijklmnopqrstuvwxyz', 'd79e1c308aa5bbcdeea8ed63df412da9'],
  ['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789', '043f8582f241db351ce627e153e7f0e4'],
  ['1234567890'.repeat(8), 'e33b4ddc9c38f2199c3e7b164fcc0536'],
];

test('MD4: RFC 1320 A.5 test suite', () => {
  for (const [msg, digest] of RFC1320_A5) assert.equal(toHex(md4(utf8(msg))), digest, JSON.stringify(msg));
});

test('MD4: NTOWFv1 of "Password" (MS-NLMP 4.2.2.1.2)', () => {
  assert.equal(toHex(md4(utf16le('Password'))), 'a4f49c406510bdcab6824ee7c30fd852');
});

test('MD4: padding boundaries (55, 56, 63, 64, 65 bytes) are deterministic and distinct', () => {
  const seen = new Set<string>();
  for (const n of [55, 56, 57, 63, 64, 65, 119, 120, 128]) {
    const h = toHex(md4(new Uint8Array(n).fill(0x61)));
    assert.equal(h.length, 32);
    assert.ok(!seen.has(h));
    seen.add(h);
  }
});

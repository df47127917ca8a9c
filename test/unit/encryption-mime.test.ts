/**
 * MS-WSMV 2.2.9.1 MIME framing (protocol.md 1.2-1.4), with a test-only context that XORs (framing only; the real
 * mechanisms are tested by their own suites). Exact body layout, chunking (x-multi-encrypted), tolerance, errors.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  encryptMessage,
  decryptMessage,
  parseEncryptedBody,
  parseContentType,
  frameParts,
  isEncryptedContentType,
} from '../../src/encryption/mime.js';
import type { AuthContext } from '../../src/auth/types.js';
import { EncryptionError } from '../../src/errors.js';

const SIG = new Uint8Array(16).fill(0x53);
function xorCtx(opts: { chunk?: number; proto?: string; headerLen?: number } = {}): AuthContext & { encryptChunkSize?: number } {
  const xor = (b: Uint8Array) => b.map((x) => x ^ 0x5a);
  return {
    protocol: 'ntlm',
    complete: true,
    httpScheme: 'Negotiate',
    canEncrypt: true,
    encryptionProtocol: opts.proto ?? 'application/HTTP-SPNEGO-session-encrypted',
    encryptChunkSize: opts.chunk,
    async step() {
      return undefined;
    },
    async wrapWinrm(d) {
      return { header: SIG.subarray(0, opts.headerLen ?? 16), data: xor(d) };
    },
    async unwrapWinrm(h, d) {
      assert.deepEqual(h, SIG.subarray(0, opts.headerLen ?? 16));
      return xor(d);
    },
    newContext() {
      return xorCtx(opts);
    },
  };
}

test('exact single-part body layout (protocol.md 1.3)', async () => {
  const plain = new TextEncoder().encode('<s:Envelope/>');
  const { contentType, body } = await encryptMessage(xorCtx(), plain);
  assert.equal(contentType, 'multipart/encrypted;protocol="application/HTTP-SPNEGO-session-encrypted";boundary="Encrypted Boundary"');
  const expected = Buffer.concat([
    Buffer.from(
      '--Encrypted Boundary\r\n\tContent-Type: application/HTTP-SPNEGO-session-encrypted\r\n\tOriginalContent: ' +
        'type=application/soap+xml;charset=UTF-8;Length=13\r\n--Encrypted Boundary\r\n\tContent-Type: application/octet-stream\r\n',
    ),
    Buffer.from([16, 0, 0, 0]),
    Buffer.from(SIG),
    Buffer.from(plain.map((x) => x ^ 0x5a)),
    Buffer.from('--Encrypted Boundary--\r\n'),
  ]);
  assert.deepEqual(Buffer.from(body), expected);
  assert.deepEqual(await decryptMessage(xorCtx(), contentType, body), plain);
});

test('CredSSP-style chunking: 40960 bytes -> 3 parts (16384, 16384, 8192), multipart/x-multi-encrypted', async () => {
  const ctx = xorCtx({ chunk: 16384, proto: 'application/HTTP-CredSSP-session-encrypted', headerLen: 4 });
  const plain = new Uint8Array(40960).map((_, i) => i * 7);
  const { contentType, body } = await encryptMessage(ctx, plain);
  assert.match(contentType, /^multipart\/x-multi-encrypted;protocol="application\/HTTP-CredSSP-session-encrypted"/);
  const parts = parseEncryptedBody(contentType, body);
  assert.deepEqual(
    parts.map((p) => p.length),
    [16384, 16384, 8192],
  );
  assert.deepEqual(await decryptMessage(ctx, contentType, body), plain);
  // small message: one part, multipart/encrypted
  const small = await encryptMessage(ctx, plain.subarray(0, 100));
  assert.match(small.contentType, /^multipart\/encrypted;/);
});

test('tolerant: boundary from Content-Type, "-- Encrypted Boundary", no TAB', async () => {
  const ctx = xorCtx();
  const plain = new TextEncoder().encode('hello world');
  const sealed = plain.map((x) => x ^ 0x5a);
  const body = Buffer.concat([
    Buffer.from(
      '-- Encrypted Boundary\r\nContent-Type: application/HTTP-SPNEGO-session-encrypted\r\nOriginalContent: ' +
        'type=application/soap+xml;charset=UTF-8;Length=11\r\n-- Encrypted Boundary\r\nContent-Type: application/octet-stream\r\n',
    ),
    Buffer.from([16, 0, 0, 0]),
    Buffer.from(SIG),
    Buffer.from(sealed),
    Buffer.from('-- Encrypted Boundary--\r\n'),
  ]);
  assert.deepEqual(
    await decryptMessage(
      ctx,
      'multipart/encrypted;protocol="application/HTTP-SPNEGO-session-encrypted";boundary="Encrypted Boundary"',
      body,
    ),
    plain,
  );
  const custom = frameParts([{ protocol: 'application/HTTP-SPNEGO-session-encrypted', length: 11, header: SIG, data: sealed }], 'xyz');
  assert.deepEqual(
    await decryptMessage(ctx, 'multipart/encrypted;protocol="application/HTTP-SPNEGO-session-encrypted";boundary=xyz', custom),
    plain,
  );
  assert.deepEqual(parseContentType('Multipart/Encrypted; boundary="a b";protocol=p'), {
    type: 'multipart/encrypted',
    boundary: 'a b',
    protocol: 'p',
  });
  assert.ok(isEncryptedContentType('multipart/x-multi-encrypted;protocol="x"'));
  assert.ok(!isEncryptedContentType('application/soap+xml;charset=UTF-8'));
});

test('binary payloads that contain boundary-like bytes survive', async () => {
  const ctx = xorCtx();
  const tricky = Buffer.from('--Encrypted Boundar' + '-- Encrypted' + '\r\n--Encrypted Boundary'.slice(0, 10));
  const plain = new Uint8Array(tricky.map((x) => x ^ 0x5a)); // so the sealed bytes spell the tricky text
  const { contentType, body } = await encryptMessage(ctx, plain);
  assert.deepEqual(await decryptMessage(ctx, contentType, body), plain);
});

test('Length mismatch, truncation, garbage -> EncryptionError (never a crash)', async () => {
  const ctx = xorCtx();
  const plain = new TextEncoder().encode('<s:Envelope>payload</s:Envelope>');
  const { contentType, body } = await encryptMessage(ctx, plain);
  const wrongLen = Buffer.from(Buffer.from(body).toString('latin1').replace('Length=32', 'Length=33'), 'latin1');
  await assert.rejects(decryptMessage(ctx, contentType, wrongLen), EncryptionError);
  for (let cut = 0; cut < body.length; cut++) {
    // either a typed error, or (only the final CRLF cut) exactly the original: never silently truncated data
    const r = await decryptMessage(ctx, contentType, body.subarray(0, cut)).then(
      (v) => v,
      (e: unknown) => e,
    );
    if (r instanceof Uint8Array) {
      assert.deepEqual(r, plain);
      assert.ok(cut >= body.length - 2, `cut at ${cut}`);
    } else assert.ok(r instanceof EncryptionError || r instanceof assert.AssertionError, `cut at ${cut}: ${String(r)}`);
  }
  await assert.rejects(decryptMessage(ctx, 'application/soap+xml', body), EncryptionError);
  const other = await encryptMessage(xorCtx({ proto: 'application/HTTP-Kerberos-session-encrypted' }), plain);
  await assert.rejects(decryptMessage(ctx, other.contentType, other.body), EncryptionError);
  const hugeHeader = Buffer.from(body);
  const off = hugeHeader.indexOf('octet-stream\r\n') + 14;
  hugeHeader.writeUInt32LE(0xffffffff, off);
  await assert.rejects(decryptMessage(ctx, contentType, hugeHeader), EncryptionError);
});

test('a context that cannot encrypt is refused', async () => {
  const ctx = { ...xorCtx(), canEncrypt: false };
  await assert.rejects(encryptMessage(ctx, new Uint8Array(1)), EncryptionError);
});

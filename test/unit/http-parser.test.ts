/** The sans-IO HTTP/1.1 response parser: chunk-split at every offset, chunked bodies, limits, typed errors. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BodyPool, HttpResponseParser, header } from '../../src/http/parser.js';
import { parseChallenges, parseFingerprint } from '../../src/http/transport.js';
import { RemoteProtocolError, InvalidArgumentError } from '../../src/errors.js';
import { tlsServerEndPointHash, certSignatureOid } from '../../src/http/cbt.js';
import { createHash, X509Certificate } from 'node:crypto';
import { selfSigned } from '../helpers/server-fixture.js';

const two = Buffer.from(
  'HTTP/1.1 401 \r\nWWW-Authenticate: Negotiate\r\nWWW-Authenticate: Basic realm="WSMAN"\r\nContent-Length: 0\r\n\r\n' +
    'HTTP/1.1 200 OK\r\nContent-Type: application/soap+xml;charset=UTF-8\r\nTransfer-Encoding: ' +
    'chunked\r\n\r\n5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\nX-Trailer: 1\r\n\r\n' +
    'HTTP/1.1 500 Internal Server Error\r\nContent-Length: 4\r\nConnection: close\r\n\r\nboom',
);

function check(rs: ReturnType<HttpResponseParser['feed']>) {
  assert.equal(rs.length, 3);
  assert.equal(rs[0]!.status, 401);
  assert.deepEqual(rs[0]!.headers.get('www-authenticate'), ['Negotiate', 'Basic realm="WSMAN"']);
  assert.equal(Buffer.from(rs[1]!.body).toString(), 'hello, world');
  assert.equal(header(rs[1]!, 'Content-Type'), 'application/soap+xml;charset=UTF-8');
  assert.equal(rs[2]!.status, 500);
  assert.equal(rs[2]!.close, true);
  assert.equal(Buffer.from(rs[2]!.body).toString(), 'boom');
}

test('whole input and every two-way split give the same responses', () => {
  check(new HttpResponseParser().feed(two));
  for (let i = 1; i < two.length; i++) {
    const p = new HttpResponseParser();
    check([...p.feed(two.subarray(0, i)), ...p.feed(two.subarray(i))]);
    assert.ok(p.idle);
  }
  const p = new HttpResponseParser();
  const out = [];
  for (const b of two) out.push(...p.feed(Buffer.from([b])));
  check(out);
});

test('the fed chunk may be reused by the caller: every split through one scratch buffer gives the same responses', () => {
  // what the transport does: the socket reads into one buffer, overwritten by the next read
  const scratch = Buffer.alloc(two.length);
  for (const step of [1, 3, 7, 64, two.length]) {
    const p = new HttpResponseParser(1 << 20, new BodyPool());
    const out = [];
    for (let o = 0; o < two.length; o += step) {
      const n = two.copy(scratch, 0, o, Math.min(o + step, two.length));
      out.push(...p.feed(scratch.subarray(0, n)));
      scratch.fill(0x7e); // the next read overwrites it
    }
    check(out);
  }
});

test('readTarget: a body of known length is read straight into its buffer, as a socket would, one or many reads', () => {
  const body = Buffer.from('x'.repeat(1000) + 'y'.repeat(1000));
  const wire = Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`), body, two]);
  for (const size of [1, 7, 100, 1500, 4096]) {
    const p = new HttpResponseParser(1 << 20, new BodyPool());
    const scratch = Buffer.alloc(64);
    const got: ReturnType<HttpResponseParser['feed']> = [];
    let targets = 0;
    let first: ArrayBufferLike | undefined;
    for (let off = 0; off < wire.length;) {
      // what the transport's socket does: read into the target when there is one, else into its own buffer
      const target = p.readTarget();
      if (target) {
        assert.ok(target.length > 0);
        targets++;
        first ??= target.buffer;
      }
      const into = target ?? scratch;
      const n = Math.min(size, into.length, wire.length - off);
      wire.copy(into, 0, off, off + n);
      off += n;
      got.push(...p.feed(into.subarray(0, n)));
    }
    assert.equal(got.length, 4, `read size ${size}`);
    assert.ok(Buffer.from(got[0]!.body).equals(body));
    check(got.slice(1));
    assert.ok(targets > 0);
    assert.equal(got[0]!.body.buffer, first, 'the body is the buffer the reads went into');
    assert.equal(p.readTarget(), undefined);
  }
});

test('BodyPool: a body handed back is reused for the next one; foreign and repeated gives are ignored', () => {
  const pool = new BodyPool(1, 1 << 20);
  const res = (body: string) => Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
  const p = new HttpResponseParser(1 << 20, pool);
  const [a] = p.feed(res('first body'));
  assert.equal(Buffer.from(a!.body).toString(), 'first body');
  pool.give(a!.body);
  pool.give(a!.body); // twice: ignored
  pool.give(Buffer.alloc(100000)); // not from the pool: ignored
  const [b] = p.feed(res('second'));
  assert.equal(Buffer.from(b!.body).toString(), 'second');
  assert.equal(b!.body.buffer, a!.body.buffer, 'the same memory again');
  // not handed back: the next body gets memory of its own
  const [c] = p.feed(res('third'));
  assert.notEqual(c!.body.buffer, b!.body.buffer);
  assert.equal(Buffer.from(b!.body).toString(), 'second');
  // larger than the pool keeps: its own buffer, not kept
  const big = 'x'.repeat((1 << 20) + 1);
  const q = new HttpResponseParser(4 << 20, pool);
  const [d] = q.feed(res(big));
  assert.equal(d!.body.length, big.length);
  pool.give(d!.body);
  assert.notEqual(pool.take(10).buffer, d!.body.buffer);
});

test('until-close bodies finish on end(); truncation is an error', () => {
  const p = new HttpResponseParser();
  assert.deepEqual(p.feed(Buffer.from('HTTP/1.0 200 OK\r\n\r\nabc')), []);
  assert.equal(Buffer.from(p.end()!.body).toString(), 'abc');
  const q = new HttpResponseParser();
  q.feed(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'));
  assert.throws(() => q.end(), RemoteProtocolError);
});

test('bad input -> RemoteProtocolError', () => {
  const bad = [
    'SSH-2.0-OpenSSH\r\n\r\n',
    'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n',
    'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n',
    'HTTP/1.1 200 OK\r\nno colon\r\n\r\n',
    'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nabc',
  ];
  for (const b of bad) assert.throws(() => new HttpResponseParser().feed(Buffer.from(b)), RemoteProtocolError, b);
  assert.throws(() => new HttpResponseParser().feed(Buffer.alloc(70000, 0x41)), RemoteProtocolError);
  assert.throws(() => new HttpResponseParser(10).feed(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n')), RemoteProtocolError);
});

test('random bytes never crash the parser (typed error or need-more)', () => {
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  for (let i = 0; i < 500; i++) {
    const base = Buffer.from(two);
    for (let k = 0; k < 5; k++) base[Math.floor(rnd() * base.length)] = Math.floor(rnd() * 256);
    try {
      new HttpResponseParser(1 << 20).feed(base);
    } catch (e) {
      assert.ok(e instanceof RemoteProtocolError, String(e));
    }
  }
});

test('WWW-Authenticate challenges and fingerprints', () => {
  assert.deepEqual(parseChallenges(['Negotiate TlRMTVNTUAACAAAA', 'Basic realm="WSMAN"', 'CredSSP']), [
    { scheme: 'Negotiate', token: 'TlRMTVNTUAACAAAA' },
    { scheme: 'Basic', token: undefined },
    { scheme: 'CredSSP', token: undefined },
  ]);
  assert.deepEqual(parseChallenges(['Negotiate oRswGaADCgEAoxIEEAEAAAA=']), [{ scheme: 'Negotiate', token: 'oRswGaADCgEAoxIEEAEAAAA=' }]);
  const hex = 'ab'.repeat(32);
  assert.deepEqual(Buffer.from(parseFingerprint(`SHA256:${hex}`)).toString('hex'), hex);
  assert.deepEqual(Buffer.from(parseFingerprint(`sha256:${hex.match(/../g)!.join(':')}`)).toString('hex'), hex);
  assert.deepEqual(
    Buffer.from(parseFingerprint(`SHA256:${Buffer.from(hex, 'hex').toString('base64').replace(/=$/, '')}`)).toString('hex'),
    hex,
  );
  assert.throws(() => parseFingerprint('MD5:abc'), InvalidArgumentError);
});

test('RFC 5929 tls-server-end-point: SHA-256 for sha256WithRSA certificates', () => {
  const der = new Uint8Array(new X509Certificate(selfSigned().cert).raw);
  assert.equal(certSignatureOid(der), '1.2.840.113549.1.1.11');
  assert.deepEqual(Buffer.from(tlsServerEndPointHash(der)), createHash('sha256').update(der).digest());
  assert.equal(certSignatureOid(new Uint8Array([0x30, 0x80])), undefined);
});

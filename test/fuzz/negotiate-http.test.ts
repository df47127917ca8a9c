// Bad input over real sockets, both directions, for Negotiate/NTLM on HTTP:
//  - to our endpoint: garbage / truncated / flipped tokens in Authorization, and garbage or altered encrypted MIME
//    bodies after a good handshake -> 401/400, the endpoint keeps serving;
//  - to our client: a fake server answering with garbage WWW-Authenticate tokens -> AuthError, never a crash or hang.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { connect as netConnect, type Socket } from 'node:net';
import { connect, AuthError, WinRMError } from '../../src/index.js';
import { SpnegoInitiator } from '../../src/auth/spnego/context.js';
import { encryptMessage } from '../../src/encryption/mime.js';
import { fromBase64, toBase64 } from '../../src/util/bytes.js';
import { startEndpoint, USER, PASSWORD } from '../helpers/server-fixture.js';
import { fuzzRandom } from '../helpers/fuzz.js';

const fz = fuzzRandom('negotiate-http.test.ts');

let ep: Awaited<ReturnType<typeof startEndpoint>>;
before(async () => {
  ep = await startEndpoint({ auth: ['negotiate'], allowUnencrypted: false });
});
after(async () => {
  await ep.close();
});

function prng(seed: number) {
  let s = seed >>> 0 || 1;
  return (n: number) => {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      s ^= s << 13;
      s >>>= 0;
      s ^= s >>> 17;
      s ^= s << 5;
      s >>>= 0;
      b[i] = s & 0xff;
    }
    return b;
  };
}

/** Minimal HTTP/1.1 client on one socket (Content-Length bodies; our endpoint always sends them). */
class Raw {
  private buf = Buffer.alloc(0);
  private wake?: () => void;
  closed = false;
  private constructor(private readonly s: Socket) {
    s.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake?.();
    });
    s.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
    s.on('error', () => undefined);
  }
  static open(port: number): Promise<Raw> {
    return new Promise((r, j) => {
      const s = netConnect(port, '127.0.0.1', () => r(new Raw(s)));
      s.once('error', j);
    });
  }
  async post(headers: Record<string, string>, body: Uint8Array = new Uint8Array()): Promise<{ status: number; www: string[] }> {
    const h = Object.entries({ Host: 'x', 'Content-Length': String(body.length), ...headers })
      .map(([k, v]) => `${k}: ${v}\r\n`)
      .join('');
    this.s.write(`POST /wsman HTTP/1.1\r\n${h}\r\n`);
    this.s.write(body);
    let end: number;
    while ((end = this.buf.indexOf('\r\n\r\n')) < 0) {
      if (this.closed) throw new Error('closed');
      await new Promise<void>((r) => {
        this.wake = r;
      });
    }
    const lines = this.buf.subarray(0, end).toString('latin1').split('\r\n');
    const len = Number(/content-length:\s*(\d+)/i.exec(lines.join('\n'))?.[1] ?? 0);
    while (this.buf.length < end + 4 + len) {
      if (this.closed) break;
      await new Promise<void>((r) => {
        this.wake = r;
      });
    }
    this.buf = this.buf.subarray(end + 4 + len);
    return {
      status: Number(lines[0]!.split(' ')[1]),
      www: lines.filter((l) => /^www-authenticate:/i.test(l)).map((l) => l.slice(l.indexOf(':') + 1).trim()),
    };
  }
  close(): void {
    this.s.destroy();
  }
}

async function stillServes(): Promise<void> {
  const c = connect({ host: `127.0.0.1:${ep.port}`, username: USER, password: PASSWORD });
  try {
    assert.equal((await c.exec('echo', ['alive'])).stdout.toString().trim(), 'alive');
  } finally {
    c.close();
  }
}

test('endpoint: random, truncated and flipped Negotiate tokens -> 401, no crash', async () => {
  const rnd = prng(fz.int31());
  const ini = new SpnegoInitiator({ credentials: { username: USER, password: PASSWORD } });
  const first = (await ini.step())!;
  const tokens: Uint8Array[] = [rnd(1), rnd(40), rnd(300), new Uint8Array(0)];
  for (let n = 1; n < first.length; n += 7) tokens.push(first.subarray(0, n));
  for (let i = 0; i < first.length; i += 5) {
    const m = first.slice();
    m[i]! ^= 0x80;
    tokens.push(m);
  }
  for (const t of tokens) {
    const c = await Raw.open(ep.port);
    try {
      const r = await c.post({ Authorization: `Negotiate ${toBase64(t)}` });
      assert.ok(r.status === 401, `status ${r.status}`);
    } finally {
      c.close();
    }
  }
  const c = await Raw.open(ep.port);
  try {
    assert.equal((await c.post({ Authorization: 'Negotiate !!notbase64!!' })).status, 401);
  } finally {
    c.close();
  }
  await stillServes();
});

test('endpoint: after a good handshake, garbage / altered encrypted bodies -> 400 (or 401), no crash', async () => {
  const rnd = prng(fz.int31());
  for (let round = 0; round < 12; round++) {
    const c = await Raw.open(ep.port);
    try {
      const ini = new SpnegoInitiator({ credentials: { username: USER, password: PASSWORD } });
      let tok = await ini.step();
      for (let i = 0; i < 3 && tok; i++) {
        const r = await c.post({ Authorization: `Negotiate ${toBase64(tok)}` });
        const mine = r.www.find((w) => w.startsWith('Negotiate '));
        if (r.status === 200) {
          if (mine) await ini.step(fromBase64(mine.slice(10)));
          break;
        }
        tok = await ini.step(fromBase64(mine!.slice(10)));
      }
      assert.ok(ini.complete);
      const good = await encryptMessage(ini, new TextEncoder().encode('<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"/>'));
      const body = good.body.slice();
      if (round % 3 === 0)
        body.set(rnd(body.length - 120), 120); // garbage after the MIME headers
      else if (round % 3 === 1) body[body.length - 30]! ^= 0x01; // one flipped bit in the sealed data
      const cut = round % 3 === 2 ? body.subarray(0, 40 + round * 9) : body; // truncated MIME
      const r = await c.post({ 'Content-Type': good.contentType }, cut);
      assert.ok(r.status === 400 || r.status === 401 || r.status === 500, `status ${r.status}`);
    } finally {
      c.close();
    }
  }
  await stillServes();
});

test('client: a server answering with garbage Negotiate tokens -> AuthError (no crash, no hang)', async () => {
  const rnd = prng(fz.int31());
  const answers: Array<() => string> = [
    () => `Negotiate ${toBase64(rnd(60))}`,
    () => 'Negotiate oRswGaADCgEBohIEEE5UTE1TU1AAAgAAAAAAAAA=', // NegTokenResp with a truncated CHALLENGE
    () => `Negotiate ${toBase64(new Uint8Array([0xa1, 0x03, 0x30, 0x01, 0x00]))}`,
    () => 'Negotiate ' + toBase64(Buffer.from('NTLMSSP\0\x02\0\0\0garbage')),
  ];
  for (const make of answers) {
    const srv = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(401, { 'WWW-Authenticate': make(), 'Content-Length': '0' });
        res.end();
      });
    });
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as { port: number }).port;
    const c = connect({
      host: `127.0.0.1:${port}`,
      username: USER,
      password: PASSWORD,
      connectTimeout: 5,
      operationTimeout: 5,
      readTimeout: 10,
    });
    try {
      await assert.rejects(
        c.exec('echo', ['x']),
        (e: Error) => e instanceof WinRMError && e instanceof AuthError && !e.message.includes(PASSWORD),
      );
    } finally {
      c.close();
      srv.closeAllConnections();
      await new Promise((r) => srv.close(r));
    }
  }
});

/**
 * Bad proxies: whatever a "proxy" answers to CONNECT (not HTTP, an endless head, a close mid-answer, silence, random
 * bytes), openTunnel ends with a typed error (ProxyError / TimeoutError) and never hangs or crashes.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { ProxyError, TimeoutError, openTunnel, parseProxyUrl } from '../../src/index.js';
import { fuzzRandom } from '../helpers/fuzz.js';

const fz = fuzzRandom('proxy-fuzz.test.ts');

let behaviour: (sock: net.Socket) => void = () => undefined;
let server: net.Server;
let port = 0;
before(async () => {
  server = net.createServer((s) => {
    s.on('error', () => undefined);
    s.once('data', () => behaviour(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as net.AddressInfo).port;
});
after(() => new Promise<void>((r) => server.close(() => r())));

const tunnel = (timeoutMs = 2000) => openTunnel(parseProxyUrl(`http://127.0.0.1:${port}`, {}), 'target.example.test', 5985, { timeoutMs });
const typed = (e: unknown) => e instanceof ProxyError || e instanceof TimeoutError;

test('not HTTP, a close before the answer, an oversized head, silence: typed errors', async () => {
  const cases: Array<[string, (s: net.Socket) => void]> = [
    ['SSH banner', (s) => s.end('SSH-2.0-OpenSSH_9.2\r\n\r\n')],
    ['close mid-head', (s) => s.end('HTTP/1.1 200 Conn')],
    ['close at once', (s) => s.destroy()],
    [
      'endless head',
      (s) => {
        const junk = 'X-A: ' + 'a'.repeat(8192) + '\r\n';
        let n = 0;
        const w = () => {
          while (n++ < 20 && s.write(junk));
        };
        w();
      },
    ],
    ['silence', () => undefined],
    ['407 then close without a challenge', (s) => s.end('HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n')],
    ['chunked 502', (s) => s.end('HTTP/1.1 502 Bad Gateway\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n')],
  ];
  for (const [name, b] of cases) {
    behaviour = b;
    await assert.rejects(tunnel(1500), (e: unknown) => {
      assert.ok(typed(e), `${name}: ${String(e)}`);
      return true;
    });
  }
});

test('random answers: typed errors or a tunnel, never a crash or a hang', async () => {
  let seed = fz.int31();
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed;
  };
  const heads = [
    'HTTP/1.1 200 Connection established\r\n\r\n',
    'HTTP/1.1 407 x\r\nProxy-Authenticate: Basic realm="p"\r\nContent-Length: 3\r\n\r\nabc',
    'HTTP/1.0 403 Forbidden\r\n\r\n',
  ];
  for (let i = 0; i < 40; i++) {
    const base = Buffer.from(heads[i % heads.length]!);
    for (let k = 0; k < 2; k++) base[rnd() % base.length] = rnd() & 0xff;
    behaviour = (s) => s.end(base);
    try {
      (await tunnel(1500)).destroy();
    } catch (e) {
      assert.ok(typed(e), String(e));
    }
  }
});

// `winrm-ts doctor` through a real HTTP CONNECT proxy (Debian's tinyproxy): the probes take the proxy as the client
// does (HTTPS with CbtHardeningLevel Strict end to end through the tunnel), and a proxy that refuses the CONNECT is
// named as the proxy's refusal, not the host's.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runDoctor, type Report } from '../../src/cli/doctor/checks.js';
import { hasCommand, peerSkip } from '../helpers/peers.js';
import { selfSigned, startEndpoint, USER, PASSWORD } from '../helpers/server-fixture.js';

const skip = peerSkip('tinyproxy (HTTP CONNECT proxy)', hasCommand('tinyproxy'), 'apt-get install tinyproxy (npm run peers:install)');
const work = mkdtempSync(join(tmpdir(), 'winrm-ts-doctor-proxy-'));
const children: ChildProcess[] = [];
let ep: Awaited<ReturnType<typeof startEndpoint>> | undefined;

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const p = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

/** A private tinyproxy on a free loopback port (`extra`: more config lines); its URL once it listens. */
async function tinyproxy(name: string, extra: string[] = []): Promise<string> {
  const port = await freePort();
  writeFileSync(
    join(work, `${name}.conf`),
    [`Port ${port}`, 'Listen 127.0.0.1', 'Allow 127.0.0.1', `LogFile "${join(work, `${name}.log`)}"`, 'MaxClients 20', ...extra].join(
      '\n',
    ) + '\n',
  );
  const p = spawn('tinyproxy', ['-d', '-c', join(work, `${name}.conf`)], { stdio: 'ignore' });
  children.push(p);
  for (let i = 0; i < 100; i++) {
    const up = await new Promise<boolean>((r) => {
      const c = net.connect(port, '127.0.0.1');
      c.once('connect', () => {
        c.destroy();
        r(true);
      });
      c.once('error', () => r(false));
    });
    if (up) return `http://127.0.0.1:${port}`;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`tinyproxy ${name} did not start`);
}

before(async () => {
  if (skip) return;
  const { cert, key } = selfSigned();
  ep = await startEndpoint({ https: true, cert, key, cbt: 'strict', auth: ['negotiate'], allowUnencrypted: false });
});
after(async () => {
  for (const c of children) c.kill();
  await ep?.close();
  rmSync(work, { recursive: true, force: true });
});

const status = (r: Report, id: string) => r.checks.find((c) => c.id === id);

test('through tinyproxy: the probes and the round trip take the tunnel; channel binding Strict holds end to end', { skip }, async () => {
  const proxy = await tinyproxy('open');
  const r = await runDoctor({
    host: `127.0.0.1:${ep!.port}`,
    https: true,
    ca: selfSigned().cert,
    username: USER,
    password: PASSWORD,
    proxy,
  });
  assert.deepEqual(
    r.checks.filter((c) => c.status === 'failed').map((c) => c.id),
    [],
    JSON.stringify(r.checks, null, 1),
  );
  assert.match(status(r, 'proxy')!.detail, new RegExp(`through ${proxy.replace(/[.:/]/g, '\\$&')} \\(--proxy\\)`));
  assert.match(status(r, 'tcp')!.detail, /through http:\/\/127\.0\.0\.1:\d+/);
  // the fixture's certificate lives two days: "expires soon" is the only remark
  assert.doesNotMatch(status(r, 'tls')!.detail, /does not verify|not for|expired on/);
  assert.match(status(r, 'channel-binding')!.detail, /Strict/);
  assert.equal(status(r, 'round-trip')!.data?.identity, 'example\\alice');
});

test("a proxy that refuses the CONNECT (tinyproxy ConnectPort 443): the proxy's 403, not the host's", { skip }, async () => {
  const proxy = await tinyproxy('strict', ['ConnectPort 443']);
  const r = await runDoctor({
    host: `127.0.0.1:${ep!.port}`,
    https: true,
    ca: selfSigned().cert,
    username: USER,
    password: PASSWORD,
    proxy,
  });
  const tcp = status(r, 'tcp')!;
  assert.equal(tcp.status, 'failed');
  assert.match(tcp.detail, /^through http:\/\/127\.0\.0\.1:\d+: proxy: .*403/);
  assert.match((tcp.fix ?? []).join('\n'), /--proxy ""/);
  assert.equal(status(r, 'round-trip')!.status, 'skipped');
});

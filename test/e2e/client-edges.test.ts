/**
 * The client's sharp edges against real sockets: the wrong protocol for a port (HTTP to HTTPS, HTTPS to HTTP), a
 * server that is not WinRM (404, a 200 web page), a channel-binding mismatch through a TLS-intercepting proxy, a
 * malformed --fingerprint failing at once, Basic over HTTP refused by the CLI without --allow-unencrypted, and
 * Ctrl+C on `ps` exiting 130 with the pool deleted on the host.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, AccessDeniedError, ConnectError, HttpStatusError, RemoteProtocolError, TlsError, WinRMError } from '../../src/index.js';
import { PsrpEndpoint } from '../../src/server/psrp-shell.js';
import { makeCertificate, startEndpoint, selfSigned, USER, PASSWORD } from '../helpers/server-fixture.js';
import { runCli, cliArgv } from '../helpers/cli.js';
import { PROJECT_ROOT, findPwsh, peerSkip } from '../helpers/peers.js';

let plain: Awaited<ReturnType<typeof startEndpoint>>;
let secure: Awaited<ReturnType<typeof startEndpoint>>;
before(async () => {
  const c = selfSigned();
  plain = await startEndpoint({ auth: ['basic', 'negotiate'] });
  secure = await startEndpoint({ auth: ['basic', 'negotiate'], https: true, cert: c.cert, key: c.key, cbt: 'strict' });
});
after(async () => {
  await plain?.close();
  await secure?.close();
});

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected a rejection');
}

test('HTTP against an HTTPS port names --https', async () => {
  for (const auth of ['negotiate', 'basic']) {
    const c = connect({ host: `127.0.0.1:${secure.port}`, username: USER, password: PASSWORD, auth, allowUnencrypted: true });
    try {
      const e = await rejection(c.exec('echo'));
      assert.ok(e instanceof WinRMError, String(e));
      assert.match(e.message, /--https/, `${auth}: ${e.message}`);
      assert.ok(!e.message.includes(PASSWORD));
    } finally {
      c.close();
    }
  }
});

test('HTTPS against an HTTP port says it is a plain HTTP port', async () => {
  const c = connect({
    host: `127.0.0.1:${plain.port}`,
    https: true,
    insecure: true,
    onWarning: () => undefined,
    username: USER,
    password: PASSWORD,
    auth: 'basic',
  });
  try {
    const e = await rejection(c.exec('echo'));
    assert.ok(e instanceof TlsError, String(e));
    assert.match(e.message, /plain HTTP port|drop --https/);
  } finally {
    c.close();
  }
});

test('a server that is not WinRM (404, a 200 web page) is named as such', async () => {
  const srv = http.createServer((req, res) => {
    req.resume();
    if (req.url === '/wsman') {
      res.writeHead(200, { 'Content-Type': 'text/html' });
      res.end('<!doctype html><html><body>It works!</body></html>');
    } else {
      res.writeHead(404, { 'Content-Type': 'text/html' });
      res.end('<html>Not Found</html>');
    }
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as AddressInfo).port;
  try {
    for (const path of ['/wsman', '/nothing']) {
      const c = connect({ host: `127.0.0.1:${port}`, path, username: USER, password: PASSWORD, auth: 'basic', allowUnencrypted: true });
      try {
        const e = await rejection(c.exec('echo'));
        assert.ok(e instanceof HttpStatusError, String(e));
        assert.match(e.message, /not a WinRM endpoint/);
        assert.match(e.message, /5985/);
      } finally {
        c.close();
      }
    }
  } finally {
    srv.close();
  }
});

test('a plain TCP service answering garbage is a RemoteProtocolError, not a hang', async () => {
  const { createServer } = await import('node:net');
  const srv = createServer((s) => {
    s.once('data', () => s.end('SSH-2.0-OpenSSH_9.2\r\n'));
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const c = connect({
    host: `127.0.0.1:${(srv.address() as AddressInfo).port}`,
    username: USER,
    password: PASSWORD,
    auth: 'basic',
    allowUnencrypted: true,
  });
  try {
    const e = await rejection(c.exec('echo'));
    assert.ok(e instanceof RemoteProtocolError || e instanceof ConnectError || e instanceof WinRMError, String(e));
    assert.match(e.message, /HTTP|WinRM/);
  } finally {
    c.close();
    srv.close();
  }
});

test('a channel-binding mismatch (a TLS-intercepting proxy) says so, not only "check the password"', async () => {
  // the proxy terminates TLS with its own certificate and opens its own TLS connection to the endpoint
  const dir = mkdtempSync(join(tmpdir(), 'winrm-ts-mitm-'));
  const interceptor = makeCertificate(dir, 'interceptor', 'IP:127.0.0.1');
  const mitm = tls.createServer({ cert: interceptor.cert, key: interceptor.key }, (cs) => {
    const us = tls.connect({ host: '127.0.0.1', port: secure.port, rejectUnauthorized: false });
    cs.pipe(us);
    us.pipe(cs);
    cs.on('error', () => us.destroy());
    us.on('error', () => cs.destroy());
  });
  await new Promise<void>((r) => mitm.listen(0, '127.0.0.1', () => r()));
  try {
    const c = connect({
      host: `127.0.0.1:${(mitm.address() as AddressInfo).port}`,
      https: true,
      ca: interceptor.cert,
      username: USER,
      password: PASSWORD,
      auth: 'negotiate',
    });
    try {
      const e = await rejection(c.exec('echo'));
      assert.ok(e instanceof AccessDeniedError, String(e));
      assert.match(e.message, /channel binding/);
      assert.match(e.message, /TLS-intercepting proxy/);
      assert.match(e.message, /SHA256:[0-9a-f]{64}/);
    } finally {
      c.close();
    }
    // the same endpoint reached directly works (the bindings match)
    const d = connect({
      host: `127.0.0.1:${secure.port}`,
      https: true,
      ca: selfSigned().cert,
      username: USER,
      password: PASSWORD,
      auth: 'negotiate',
    });
    try {
      assert.equal((await d.exec('echo', ['direct'])).stdout.toString(), 'direct\n');
    } finally {
      d.close();
    }
  } finally {
    mitm.close();
  }
});

test('CLI: Basic over HTTP is refused without --allow-unencrypted; a malformed --fingerprint fails at once', async () => {
  const r = await runCli(['run', '-H', `127.0.0.1:${plain.port}`, '-u', USER, '-p', PASSWORD, '--auth', 'basic', '--', 'echo', 'x']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /--https/);
  assert.match(r.stderr, /--allow-unencrypted/);
  assert.equal(plain.lines.filter((l) => l.includes('Create')).length, 0, 'nothing reached the server');
  // 192.0.2.1 (TEST-NET-1) never answers: a malformed pin must fail before any connect attempt
  const f = await runCli(
    [
      'run',
      '-H',
      '192.0.2.1',
      '--https',
      '--fingerprint',
      'SHA256:nothex',
      '-u',
      USER,
      '-p',
      PASSWORD,
      '--auth',
      'basic',
      '--connect-timeout',
      '600',
      '--',
      'echo',
    ],
    { timeoutMs: 30_000 },
  );
  assert.notEqual(f.code, 0);
  assert.match(f.stderr, /--fingerprint/);
  const thumb = await runCli([
    'run',
    '-H',
    `127.0.0.1:${secure.port}`,
    '--https',
    '--fingerprint',
    secure
      .fingerprint!.replace(/^SHA256:/, '')
      .match(/../g)!
      .join(':')
      .toUpperCase(),
    '-u',
    USER,
    '-p',
    PASSWORD,
    '--auth',
    'basic',
    '--',
    'echo',
    'pinned',
  ]);
  assert.equal(thumb.code, 0, thumb.stderr);
  assert.equal(thumb.stdout, 'pinned\n');
});

const pwsh = findPwsh();
test(
  'ps: Ctrl+C exits 130, the pipeline is stopped and the pool deleted on the host',
  { skip: peerSkip('pwsh (PowerShell 7)', !!pwsh) },
  async () => {
    const ps = new PsrpEndpoint({ pwsh });
    const ep = await startEndpoint({ resources: ps.resources() });
    try {
      const child = spawn(
        process.execPath,
        cliArgv([
          'ps',
          '-H',
          `127.0.0.1:${ep.port}`,
          '-u',
          USER,
          '-p',
          PASSWORD,
          '--auth',
          'basic',
          '--allow-unencrypted',
          '-c',
          '"started"; Start-Sleep -Seconds 120; "not reached"',
        ]),
        { cwd: PROJECT_ROOT, stdio: ['pipe', 'pipe', 'pipe'] },
      );
      let out = '';
      let err = '';
      child.stderr!.setEncoding('utf8').on('data', (d) => {
        err += d;
      });
      const started = new Promise<void>((resolve, reject) => {
        child.stdout!.setEncoding('utf8').on('data', (d) => {
          out += d;
          if (out.includes('started')) resolve();
        });
        child.once('exit', () => reject(new Error(`ps exited early: ${err}`)));
      });
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      await started;
      child.kill('SIGINT');
      const code = await exited;
      assert.equal(code, 130, err);
      assert.doesNotMatch(out, /not reached/);
      assert.ok(
        ep.lines.some((l) => /\bDelete\b/.test(l)),
        `the pool must be deleted:\n${ep.lines.slice(-5).join('\n')}`,
      );
    } finally {
      await ep.close();
      await ps.close();
    }
  },
);

// `winrm-ts doctor` against the local endpoint configured wrong in each way it detects (each asserted to name the
// cause and the fix), a healthy one, a non-WinRM web server and a closed port; the config sub-resources doctor and
// Get-WSManCredSSP read; the CLI's --json, exit code and colourless output. (The second hop: doctor-second-hop.test.ts.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from '../../src/index.js';
import { runDoctor, type Check, type Report } from '../../src/cli/doctor/checks.js';
import type { ConnectOptions } from '../../src/client/client.js';
import { startEndpoint, selfSigned, USER, PASSWORD } from '../helpers/server-fixture.js';
import { runCli } from '../helpers/cli.js';

type Endpoint = Awaited<ReturnType<typeof startEndpoint>>;
const eps: Endpoint[] = [];
const closers: Array<() => void> = [];
const dir = mkdtempSync(join(tmpdir(), 'winrm-ts-doctor-'));
after(async () => {
  for (const c of closers) c();
  await Promise.all(eps.map((e) => e.close()));
  rmSync(dir, { recursive: true, force: true });
});

async function endpoint(o: Parameters<typeof startEndpoint>[0]): Promise<Endpoint> {
  const e = await startEndpoint({ allowUnencrypted: false, ...o });
  eps.push(e);
  return e;
}
const alice = (port: number, o: Partial<ConnectOptions> = {}): ConnectOptions => ({
  host: `127.0.0.1:${port}`,
  username: USER,
  password: PASSWORD,
  connectTimeout: 10,
  ...o,
});
const check = (r: Report, id: string): Check => {
  const c = r.checks.find((x) => x.id === id);
  assert.ok(c, `no check ${id} in ${r.checks.map((x) => x.id).join(', ')}`);
  return c;
};
const text = (c: Check) => `${c.detail}\n${(c.fix ?? []).join('\n')}`;
const failedIds = (r: Report) => r.checks.filter((c) => c.status === 'failed').map((c) => c.id);

/** openssl: a certificate for `names`, self-signed, valid from..until (YYYYMMDDHHMMSSZ); PEM cert + key. */
function makeCert(name: string, san: string, start?: string, end?: string): { cert: string; key: string; certFile: string } {
  const d = join(dir, name);
  mkdirSync(join(d, 'db'), { recursive: true });
  writeFileSync(join(d, 'db', 'index.txt'), '');
  writeFileSync(join(d, 'db', 'serial'), '01\n');
  writeFileSync(
    join(d, 'ca.cnf'),
    `[ca]\ndefault_ca = d\n[d]\ndatabase = ${join(d, 'db', 'index.txt')}\nserial = ${join(d, 'db', 'serial')}\n` +
      `new_certs_dir = ${join(d, 'db')}\ndefault_md = sha256\npolicy = p\ndefault_days = 30\n[p]\ncommonName = ` +
      `supplied\n[ext]\nsubjectAltName = ${san}\n`,
  );
  execFileSync(
    'openssl',
    ['req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(d, 'k.pem'), '-out', join(d, 'r.csr'), '-subj', `/CN=${name}`],
    { stdio: 'ignore' },
  );
  execFileSync(
    'openssl',
    [
      'ca',
      '-batch',
      '-config',
      join(d, 'ca.cnf'),
      '-selfsign',
      '-keyfile',
      join(d, 'k.pem'),
      '-in',
      join(d, 'r.csr'),
      '-out',
      join(d, 'c.pem'),
      '-extensions',
      'ext',
      ...(start ? ['-startdate', start] : []),
      ...(end ? ['-enddate', end] : []),
    ],
    { stdio: 'ignore' },
  );
  return { cert: readFileSync(join(d, 'c.pem'), 'utf8'), key: readFileSync(join(d, 'k.pem'), 'utf8'), certFile: join(d, 'c.pem') };
}

/** A port nobody listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

let healthy: Endpoint;
before(async () => {
  healthy = await endpoint({ auth: ['negotiate'] });
});

test('a healthy Negotiate endpoint: every check ok, the schemes, CredSSP off on the service, whoami = example\\alice', async () => {
  const r = await runDoctor(alice(healthy.port));
  assert.deepEqual(failedIds(r), [], JSON.stringify(r, null, 1));
  assert.equal(r.ok, true);
  assert.match(check(r, 'listener').detail, /Identify answered without authentication: winrm-ts/);
  assert.deepEqual(check(r, 'auth-schemes').data?.offered, ['Negotiate']);
  assert.match(check(r, 'auth-schemes').detail, /this client uses Negotiate \(the default with a user name/);
  assert.match(check(r, 'credssp-service').detail, /not configured to receive credentials/);
  assert.equal(check(r, 'allow-unencrypted').data?.allowUnencrypted, false);
  assert.equal(check(r, 'round-trip').data?.identity, 'example\\alice');
  assert.match(check(r, 'limits').detail, /MaxEnvelopeSizekb 500.*MaxShellsPerUser 30/);
});

test(
  'CredSSP off on the service: the scheme is not offered and Get-WSManCredSSP says so (read with Negotiate), fix ' +
    'Enable-WSManCredSSP -Role Server',
  async () => {
    const r = await runDoctor(alice(healthy.port, { auth: 'credssp', delegateTo: ['wsman/127.0.0.1'] }));
    assert.equal(r.ok, false);
    assert.equal(check(r, 'auth-schemes').status, 'failed');
    assert.match(text(check(r, 'auth-schemes')), /offers Negotiate; this client would use CredSSP/);
    const c = check(r, 'credssp-service');
    assert.equal(c.status, 'failed');
    assert.match(text(c), /CredSSP is disabled on the service/);
    assert.match(text(c), /Enable-WSManCredSSP -Role Server -Force/);
  },
);

test(
  'CredSSP to a host outside the delegate list: the client side fails before anything is sent, naming --delegate-to and the GPO ' + 'entry',
  async () => {
    const ep = await endpoint({ auth: ['negotiate', 'credssp'] });
    const r = await runDoctor(alice(ep.port, { auth: 'credssp' }));
    const c = check(r, 'delegate-list');
    assert.equal(c.status, 'failed');
    assert.match(text(c), /--delegate-to wsman\/127\.0\.0\.1/);
    assert.match(text(c), /Allow delegating fresh credentials" entry wsman\/127\.0\.0\.1/);
    assert.equal(check(r, 'credssp-service').status, 'ok', 'the config was read with Negotiate instead');
    assert.doesNotMatch(ep.lines.join('\n'), /via credssp/);
  },
);

test(
  'Basic only, on plain HTTP: Negotiate is not offered and the fix ' + 'is Basic over HTTPS; Basic over HTTP is refused by the client',
  async () => {
    const ep = await endpoint({ auth: ['basic'] });
    const r = await runDoctor(alice(ep.port));
    const c = check(r, 'auth-schemes');
    assert.equal(c.status, 'failed');
    assert.match(text(c), /offers Basic; this client would use Negotiate/);
    assert.match(text(c), /--https --auth basic/);
    const b = await runDoctor(alice(ep.port, { auth: 'basic' }));
    assert.match(text(check(b, 'auth-schemes')), /refuses Basic over plain HTTP/);
    // the user insists (--allow-unencrypted): the host refuses it, and doctor says why
    const u = await runDoctor(alice(ep.port, { auth: 'basic', allowUnencrypted: true }));
    assert.equal(check(u, 'auth-schemes').status, 'warning');
    const rt = check(u, 'round-trip');
    assert.equal(rt.status, 'failed');
    assert.match(text(rt), /AllowUnencrypted/);
    assert.match(text(rt), /--https --auth basic/);
  },
);

test('AllowUnencrypted false with --encryption never: the config check names the setting; the round trip fails', async () => {
  const r = await runDoctor(alice(healthy.port, { encryption: 'never' }));
  const c = check(r, 'allow-unencrypted');
  assert.equal(c.status, 'failed');
  assert.match(c.detail, /AllowUnencrypted is false on the service, and --encryption never sends the messages in clear text/);
  assert.match(text(c), /drop --encryption never/);
  assert.match(text(c), /Set-Item WSMan:\\localhost\\Service\\AllowUnencrypted \$true/);
  assert.equal(check(r, 'encryption').status, 'warning');
  assert.equal(check(r, 'round-trip').status, 'failed');
});

test('a quota hit: MaxShellsPerUser reached by a shell left open is named, with the fault code and the Set-Item fix', async () => {
  const ep = await endpoint({ auth: ['negotiate'], limits: { maxShellsPerUser: 1 } });
  const c = connect(alice(ep.port));
  const shell = await c.openShell();
  try {
    const r = await runDoctor(alice(ep.port));
    const rt = check(r, 'round-trip');
    assert.equal(rt.status, 'failed');
    assert.match(rt.detail, /quota hit: this user already has MaxShellsPerUser shells open/);
    assert.match(rt.detail, /2150859173/);
    assert.match(text(rt), /Set-Item WSMan:\\localhost\\Shell\\MaxShellsPerUser/);
    assert.match(check(r, 'limits').detail, /MaxShellsPerUser 1\b/);
  } finally {
    await shell.close().catch(() => undefined);
    c.close();
  }
});

test(
  'HTTPS, CbtHardeningLevel Strict: direct it works and says binding is required; through a TLS-terminating proxy the cause is ' +
    'the channel binding',
  async () => {
    const { cert, key } = selfSigned();
    const ep = await endpoint({ auth: ['negotiate'], https: true, cert, key, cbt: 'strict' });
    const direct = await runDoctor(alice(ep.port, { https: true, insecure: true }));
    assert.equal(check(direct, 'round-trip').status, 'ok', JSON.stringify(direct.checks, null, 1));
    assert.match(check(direct, 'channel-binding').detail, /Strict: channel binding is required/);
    assert.equal(check(direct, 'tls').status, 'warning', 'insecure is a warning');
    assert.match(text(check(direct, 'tls')), /--fingerprint SHA256:[0-9a-f]{64}/);
    // a TLS-terminating proxy with its own certificate in front of the endpoint
    const p = makeCert('proxy', 'DNS:localhost,IP:127.0.0.1');
    const proxy = tls.createServer({ cert: p.cert, key: p.key }, (down) => {
      const up = tls.connect({ host: '127.0.0.1', port: ep.port, rejectUnauthorized: false });
      down.pipe(up).pipe(down);
      const end = () => {
        down.destroy();
        up.destroy();
      };
      down.on('error', end);
      up.on('error', end);
      down.on('close', end);
      up.on('close', end);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    closers.push(() => proxy.close());
    const r = await runDoctor(alice((proxy.address() as net.AddressInfo).port, { https: true, ca: p.cert }));
    assert.equal(check(r, 'tls').status, 'ok', "the proxy's certificate verifies with --ca");
    const rt = check(r, 'round-trip');
    assert.equal(rt.status, 'failed');
    assert.match(rt.detail, /channel binding did not match/);
    assert.match(text(rt), /TLS-terminating proxy/);
    assert.match(text(rt), /CbtHardeningLevel/);
  },
);

test('an expired certificate and a certificate for another name: the TLS check names each, with the fingerprint to pin', async () => {
  const expired = makeCert('expired', 'DNS:localhost,IP:127.0.0.1', '20200101000000Z', '20200201000000Z');
  const e1 = await endpoint({ auth: ['negotiate'], https: true, cert: expired.cert, key: expired.key });
  const r1 = await runDoctor(alice(e1.port, { https: true, ca: expired.cert }));
  const t1 = check(r1, 'tls');
  assert.equal(t1.status, 'failed');
  assert.match(t1.detail, /the certificate expired on 2020-02-01/);
  assert.match(text(t1), /CertificateThumbprint/);
  assert.equal(check(r1, 'round-trip').status, 'failed');
  assert.match(text(check(r1, 'round-trip')), /TLS/);

  const wrong = makeCert('wrong', 'DNS:web.corp.example');
  const e2 = await endpoint({ auth: ['negotiate'], https: true, cert: wrong.cert, key: wrong.key });
  const r2 = await runDoctor(alice(e2.port, { https: true, ca: wrong.cert }));
  const t2 = check(r2, 'tls');
  assert.equal(t2.status, 'failed');
  assert.match(t2.detail, /the certificate is not for 127\.0\.0\.1/);
  assert.match(text(t2), /web\.corp\.example/);
  assert.match(t2.detail, /SHA256:[0-9a-f]{64}/);
  assert.match(text(t2), /--tls-server-name web\.corp\.example/);
  // pinned: the name and chain no longer matter
  const r3 = await runDoctor(alice(e2.port, { https: true, fingerprint: String(t2.data?.sha256) }));
  assert.equal(check(r3, 'tls').status, 'ok', text(check(r3, 'tls')));
  assert.equal(check(r3, 'round-trip').status, 'ok');
  // --tls-server-name: still connecting to 127.0.0.1, the certificate is checked for the name it has
  const r4 = await runDoctor(alice(e2.port, { https: true, ca: wrong.cert, tlsServerName: 'web.corp.example' }));
  assert.equal(check(r4, 'tls').status, 'ok', text(check(r4, 'tls')));
  assert.equal(check(r4, 'round-trip').status, 'ok', text(check(r4, 'round-trip')));
});

test('HTTP to an HTTPS port and HTTPS to an HTTP port: doctor says which the port speaks', async () => {
  const { cert, key } = selfSigned();
  const s = await endpoint({ auth: ['negotiate'], https: true, cert, key });
  const r1 = await runDoctor(alice(s.port));
  assert.equal(check(r1, 'protocol').status, 'failed');
  assert.match(text(check(r1, 'protocol')), /speaks HTTPS.*add --https/s);
  const r2 = await runDoctor(alice(healthy.port, { https: true, insecure: true }));
  assert.match(text(check(r2, 'protocol')), /speaks plain HTTP, not HTTPS/);
});

test('a web server that is not WinRM, and a closed port: named as such, the rest skipped', async () => {
  const web = http.createServer((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'text/html', Server: 'nginx' });
    res.end('<html>hello</html>');
  });
  await new Promise<void>((r) => web.listen(0, '127.0.0.1', r));
  closers.push(() => web.close());
  const r = await runDoctor(alice((web.address() as net.AddressInfo).port));
  const l = check(r, 'listener');
  assert.equal(l.status, 'failed');
  assert.match(l.detail, /not a WinRM listener: POST \/wsman answered HTTP 200 from "nginx" \(text\/html\)/);
  assert.equal(check(r, 'round-trip').status, 'skipped');

  const port = await closedPort();
  const c = await runDoctor(alice(port));
  const t = check(c, 'tcp');
  assert.equal(t.status, 'failed');
  assert.match(t.detail, /connection refused\): the port is closed/);
  assert.match(text(t), /Enable-PSRemoting -Force/);
  assert.deepEqual(failedIds(c), ['tcp']);
});

test('a port that accepts the connection and never answers: no HTTP answer (bounded by the probe timeout)', async () => {
  const silent = net.createServer((s) => {
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
  closers.push(() => silent.close());
  const r = await runDoctor(alice((silent.address() as net.AddressInfo).port), { probeTimeoutMs: 500 });
  assert.equal(check(r, 'tcp').status, 'ok');
  const p = check(r, 'protocol');
  assert.equal(p.status, 'failed');
  assert.match(p.detail, /accepts connections but gives no HTTP answer: no HTTP answer \(timeout\)/);
  assert.equal(check(r, 'round-trip').status, 'skipped');
});

test('the endpoint serves winrm/config sub-resources as Windows names them (service, service/auth, client, winrs)', async () => {
  const c = connect(alice(healthy.port));
  try {
    const auth = (await c.wsman.get('http://schemas.microsoft.com/wbem/wsman/1/config/service/auth')).payload!;
    assert.equal(auth.local, 'Auth');
    assert.equal(auth.ns, 'http://schemas.microsoft.com/wbem/wsman/1/config/service/auth');
    assert.equal(auth.children.find((x) => x.local === 'CredSSP')?.text, 'false');
    const svc = (await c.wsman.get('http://schemas.microsoft.com/wbem/wsman/1/config/service')).payload!;
    assert.equal(svc.local, 'Service');
    assert.equal(svc.children.find((x) => x.local === 'AllowUnencrypted')?.text, 'false');
    assert.equal((await c.wsman.get('http://schemas.microsoft.com/wbem/wsman/1/config/client')).payload?.local, 'Client');
    assert.equal(
      (await c.wsman.get('http://schemas.microsoft.com/wbem/wsman/1/config/winrs')).payload?.children.find(
        (x) => x.local === 'MaxShellsPerUser',
      )?.text,
      '30',
    );
    await assert.rejects(c.wsman.get('http://schemas.microsoft.com/wbem/wsman/1/config/nosuch'), /resource URI .* was not found/);
  } finally {
    c.close();
  }
});

test('CLI: --json is the whole report and the exit code is 1 on a failed check; text output piped has no colour', async () => {
  const port = await closedPort();
  const j = await runCli(['doctor', '-H', `127.0.0.1:${port}`, '-u', USER, '-p', PASSWORD, '--json']);
  assert.equal(j.code, 1, j.stderr);
  const rep = JSON.parse(j.stdout) as Report;
  assert.equal(rep.ok, false);
  assert.equal(rep.checks.find((x) => x.id === 'tcp')?.status, 'failed');
  const t = await runCli(['doctor', '-H', `127.0.0.1:${healthy.port}`, '-u', USER, '-p', PASSWORD]);
  assert.equal(t.code, 0, t.stdout + t.stderr);
  assert.doesNotMatch(t.stdout, /\x1b\[/);
  assert.match(t.stdout, /^ok {7}authenticated round trip: .*example\\alice/m);
  assert.match(t.stdout, /CredSSP on the service \(Get-WSManCredSSP\)/);
  assert.ok(!t.stdout.includes(PASSWORD) && !t.stderr.includes(PASSWORD));
  const h = await runCli(['doctor', '--help']);
  assert.match(h.stdout, /--second-hop <host\[:port\]\|https:\/\/host\[:port\]>/);
  assert.match(h.stdout, /--json/);
  assert.match(h.stdout, /--auth <mechanism>/);
});

test(
  'CLI: a host list gets one report per host (NDJSON with ' + 'PSComputerName, or text under [host]); exit 1 when a host ' + 'failed',
  async () => {
    const port = await closedPort();
    const good = `127.0.0.1:${healthy.port}`,
      bad = `127.0.0.1:${port}`;
    const j = await runCli(['doctor', '-H', `${good},${bad}`, '-u', USER, '-p', PASSWORD, '--json']);
    assert.equal(j.code, 1, j.stderr);
    const reps = j.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Report & { PSComputerName: string });
    assert.deepEqual(reps.map((r) => r.PSComputerName).sort(), [good, bad].sort());
    assert.equal(reps.find((r) => r.PSComputerName === good)?.ok, true);
    const failed = reps.find((r) => r.PSComputerName === bad)!;
    assert.equal(failed.ok, false);
    assert.equal(failed.checks.find((x) => x.id === 'tcp')?.status, 'failed');
    const t = await runCli(['doctor', '-H', `${good},${good.replace('127.0.0.1', 'localhost')}`, '-u', USER, '-p', PASSWORD]);
    assert.equal(t.code, 0, t.stdout + t.stderr);
    assert.match(t.stdout, new RegExp(`^\\[${good.replace(/\./g, '\\.')}\\]$`, 'm'));
    assert.equal(t.stdout.match(/^ok {7}authenticated round trip: /gm)?.length, 2);
    assert.match(t.stderr, /2 of 2 hosts without a failed check/);
  },
);

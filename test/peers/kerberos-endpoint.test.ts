/**
 * Kerberos end to end on loopback with a real MIT KDC: the CLI (`run --auth kerberos`, Negotiate preferring
 * Kerberos, password AS-REQ, errors) against `winrm-ts serve --keytab`; MIT's initiator (`curl --negotiate`)
 * against the endpoint; HTTPS with channel bindings; a forwarded TGT giving the logon session a ccache for kvno.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { hasCommand, peerSkip } from '../helpers/peers.js';
import { kdcSkip, startKdc, type Kdc } from '../helpers/kdc.js';
import { runCli } from '../helpers/cli.js';
import { selfSigned, startEndpoint } from '../helpers/server-fixture.js';
import { parseUsers } from '../../src/server/users.js';

const skip = kdcSkip();
let kdc: Kdc;
let env: NodeJS.ProcessEnv;
let ep: Awaited<ReturnType<typeof startEndpoint>>;
const users = () => parseUsers('EXAMPLE\\alice:Passw0rd!\nalice@EXAMPLE.TEST:*\n');
const port = (u: string) => new URL(u).port;

before(async () => {
  if (skip) return;
  kdc = await startKdc();
  env = { ...process.env, ...kdc.env, KRB5_KTNAME: '', KRB5_CLIENT_KTNAME: '' };
  delete env.KRB5_KTNAME;
  delete env.KRB5_CLIENT_KTNAME;
  process.env.KRB5_CONFIG = kdc.krb5Conf; // the endpoint's machine configuration (for the logon sessions' ccaches)
  ep = await startEndpoint({ auth: ['negotiate', 'kerberos'], allowUnencrypted: false, keytab: kdc.httpKeytab, userDb: users() });
});
after(async () => {
  await ep?.close();
  kdc?.stop();
});

const kinit = (...flags: string[]) =>
  execFileSync('kinit', [...flags, 'alice@EXAMPLE.TEST'], { env, input: 'Passw0rd!\n', stdio: ['pipe', 'ignore', 'ignore'] });

test('single sign-on from an MIT kinit ccache: --auth kerberos and Negotiate both log on as alice', { skip }, async () => {
  kinit();
  const h = `localhost:${port(ep.url)}`;
  const k = await runCli(['run', '-H', h, '--auth', 'kerberos', '--', 'printenv', 'USERNAME', 'USERDOMAIN'], { env });
  assert.equal(k.code, 0, k.stderr);
  assert.deepEqual(k.stdout.trim().split(/\r?\n/), ['alice', 'EXAMPLE']);
  const n = await runCli(['run', '-H', h, '--', 'printenv', 'USERNAME'], { env });
  assert.equal(n.code, 0, n.stderr);
  assert.equal(n.stdout.trim(), 'alice');
  assert.ok(ep.lines.some((l) => /auth ok EXAMPLE\\alice via kerberos/.test(l)));
  assert.ok(ep.lines.some((l) => /auth ok EXAMPLE\\alice via negotiate/.test(l)));
});

test('password AS-REQ without a ccache; wrong password and unknown SPN give actionable errors', { skip }, async () => {
  const e2 = { ...env, KRB5CCNAME: `FILE:${join(kdc.dir, 'none.cc')}` };
  const h = `localhost:${port(ep.url)}`;
  const ok = await runCli(
    ['run', '-H', h, '--auth', 'kerberos', '-u', 'alice@EXAMPLE.TEST', '-p', 'Passw0rd!', '--', 'printenv', 'USERNAME'],
    { env: e2 },
  );
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout.trim(), 'alice');
  const bad = await runCli(['run', '-H', h, '--auth', 'kerberos', '-u', 'alice@EXAMPLE.TEST', '-p', 'nope', '--', 'true'], { env: e2 });
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /pre-authentication failed for alice@EXAMPLE\.TEST: wrong password/);
  assert.doesNotMatch(bad.stderr, /nope/);
  const spn = await runCli(
    [
      'run',
      '-H',
      h,
      '--auth',
      'kerberos',
      '--spn',
      'HTTP/nosuch.example.test',
      '-u',
      'alice@EXAMPLE.TEST',
      '-p',
      'Passw0rd!',
      '--',
      'true',
    ],
    { env: e2 },
  );
  assert.notEqual(spn.code, 0);
  assert.match(spn.stderr, /does not know the service principal HTTP\/nosuch\.example\.test@EXAMPLE\.TEST.*SPN/);
  const none = await runCli(['run', '-H', h, '--auth', 'kerberos', '--', 'true'], { env: e2 });
  assert.notEqual(none.code, 0);
  assert.match(none.stderr, /no Kerberos ticket: run kinit/);
});

test('delegation: --kerberos-delegate gives the logon session a ccache kvno can use; a non-forwardable TGT warns', { skip }, async () => {
  const h = `localhost:${port(ep.url)}`;
  kinit('-f');
  const d = await runCli(['run', '-H', h, '--auth', 'kerberos', '--kerberos-delegate', '--', 'kvno', 'HTTP/localhost@EXAMPLE.TEST'], {
    env,
  });
  assert.equal(d.code, 0, d.stderr + d.stdout);
  assert.match(d.stdout, /kvno = \d+/);
  const nd = await runCli(['run', '-H', h, '--auth', 'kerberos', '--', 'kvno', 'HTTP/localhost@EXAMPLE.TEST'], { env });
  assert.notEqual(nd.code, 0, 'kvno must fail in a logon without delegation');
  kinit('-F');
  const w = await runCli(['run', '-H', h, '--auth', 'kerberos', '--kerberos-delegate', '--', 'true'], { env });
  assert.equal(w.code, 0, w.stderr);
  assert.match(w.stderr, /warning: Kerberos delegation is off: the TGT of alice@EXAMPLE\.TEST is not forwardable/);
});

test(
  'MIT initiator: curl --negotiate authenticates to the endpoint with Kerberos',
  { skip: skip || peerSkip('curl', hasCommand('curl')) },
  async () => {
    kinit();
    const before = ep.lines.length;
    // async: the endpoint runs in this process
    const { stdout: code } = await promisify(execFile)(
      'curl',
      [
        '-s',
        '-o',
        '/dev/null',
        '-w',
        '%{http_code}',
        '--negotiate',
        '-u',
        ':',
        '-X',
        'POST',
        '-H',
        'Content-Type: application/soap+xml;charset=UTF-8',
        '--data-binary',
        '',
        `http://localhost:${port(ep.url)}/wsman`,
      ],
      { env, encoding: 'utf8', timeout: 30000 },
    );
    assert.equal(code, '200');
    assert.ok(
      ep.lines.slice(before).some((l) => /auth ok EXAMPLE\\alice via negotiate/.test(l)),
      ep.lines.slice(before).join('\n'),
    );
  },
);

test('HTTPS with strict channel binding: the AP-REQ checksum carries tls-server-end-point', { skip }, async () => {
  kinit();
  const c = selfSigned();
  const s = await startEndpoint({
    auth: ['kerberos'],
    https: true,
    cert: c.cert,
    key: c.key,
    cbt: 'strict',
    keytab: kdc.httpKeytab,
    userDb: users(),
  });
  try {
    const r = await runCli(
      ['run', '-H', `localhost:${port(s.url)}`, '--https', '--ca', c.certFile, '--auth', 'kerberos', '--', 'printenv', 'USERNAME'],
      { env },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'alice');
  } finally {
    await s.close();
  }
});

test('Negotiate falls back to NTLM when Kerberos cannot start (KDC down), unless --no-ntlm-fallback', { skip }, async () => {
  const { writeFileSync } = await import('node:fs');
  const conf = join(kdc.dir, 'down.conf');
  writeFileSync(conf, '[libdefaults]\n  default_realm = EXAMPLE.TEST\n[realms]\n  EXAMPLE.TEST = {\n    kdc = 127.0.0.1:1\n  }\n');
  const e2 = { ...env, KRB5_CONFIG: conf, KRB5CCNAME: `FILE:${join(kdc.dir, 'none.cc')}` };
  const h = `localhost:${port(ep.url)}`;
  const fb = await runCli(['run', '-H', h, '-u', 'alice@EXAMPLE.TEST', '-p', 'Passw0rd!', '--', 'printenv', 'USERNAME'], { env: e2 });
  assert.equal(fb.code, 0, fb.stderr);
  assert.equal(fb.stdout.trim(), 'alice');
  assert.match(fb.stderr, /warning: Kerberos is not possible \(no KDC of realm EXAMPLE\.TEST is reachable.*falling back to NTLM/);
  const no = await runCli(['run', '-H', h, '-u', 'alice@EXAMPLE.TEST', '-p', 'Passw0rd!', '--no-ntlm-fallback', '--', 'true'], { env: e2 });
  assert.notEqual(no.code, 0);
  assert.match(no.stderr, /no KDC of realm EXAMPLE\.TEST is reachable.*NTLM fallback refused by --no-ntlm-fallback/);
});

test('CredSSP with Kerberos inside (user@REALM and a KDC at hand): the delegated password gives the session a TGT', { skip }, async () => {
  const { readFileSync } = await import('node:fs');
  const s = await startEndpoint({ auth: ['credssp'], keytab: kdc.httpKeytab, userDb: users() });
  try {
    const tgsBefore = readFileSync(join(kdc.dir, 'kdc.log'), 'utf8')
      .split('\n')
      .filter((l) => /TGS_REQ.*alice@EXAMPLE\.TEST for HTTP\/localhost@EXAMPLE\.TEST/.test(l)).length;
    const e2 = { ...env, KRB5CCNAME: `FILE:${join(kdc.dir, 'none.cc')}` };
    const r = await runCli(
      [
        'run',
        '-H',
        `localhost:${port(s.url)}`,
        '--auth',
        'credssp',
        '--delegate-to',
        'wsman/localhost',
        '-u',
        'alice@EXAMPLE.TEST',
        '-p',
        'Passw0rd!',
        '--',
        'kvno',
        'HTTP/localhost@EXAMPLE.TEST',
      ],
      { env: e2 },
    );
    assert.equal(r.code, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /kvno = \d+/);
    const tgsAfter = readFileSync(join(kdc.dir, 'kdc.log'), 'utf8')
      .split('\n')
      .filter((l) => /TGS_REQ.*alice@EXAMPLE\.TEST for HTTP\/localhost@EXAMPLE\.TEST/.test(l)).length;
    assert.ok(tgsAfter >= tgsBefore + 2, "the client got a service ticket for CredSSP's inner Kerberos, and kvno one on the endpoint");
  } finally {
    await s.close();
  }
});

/**
 * Certificate authentication (WS-Man HTTPS mutual profile) against real peers and real certificates:
 * - a PKI made by the openssl CLI (`openssl ca`: a client CA, certificates mapped by SAN UPN and by e-mail SAN, one
 *   unmapped, one expired, one revoked in a CRL, one from a CA the endpoint does not trust);
 * - our client against `openssl s_server -Verify 1` (OpenSSL checks that we present the certificate, and prints the
 *   request: the Authorization header is the profile URI);
 * - our endpoint with --client-ca / --crl: the mapping, every refusal, the logon without credentials (second hop =
 *   ANONYMOUS LOGON), PKCS#12 through the CLI.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { execFile, execFileSync } from 'node:child_process';
import { promisify } from 'node:util';
import {
  AccessDeniedError,
  CERTIFICATE_PROFILE,
  TlsError,
  HttpTransport,
  InvalidArgumentError,
  Session,
  connect,
  parseUsers,
  serve,
  subjectAltNames,
  toPlain,
  type ServerHandle,
} from '../../src/index.js';
import { createInitiator } from '../../src/auth/registry.js';
import { PsrpEndpoint } from '../../src/server/psrp-shell.js';
import { findPwsh, hasCommand, hasDebPackage, peerSkip } from '../helpers/peers.js';
import { runCli } from '../helpers/cli.js';
import { makePki, read, type Pki } from './fixtures/pki.js';

const skip = peerSkip('openssl (CLI)', hasCommand('openssl'), 'apt-get install openssl');
let pki: Pki;
let A: ServerHandle & { lines: string[] };
let B: ServerHandle & { lines: string[] };
let usersFile: string;
let psrp: PsrpEndpoint | undefined;

const USERS = 'EXAMPLE\\alice:cert:alice@example.test\nEXAMPLE\\bob:cert:bob@example.test\nEXAMPLE\\carol:C4rol-pw\n';

before(async () => {
  if (skip) return;
  pki = makePki();
  usersFile = join(pki.dir, 'users');
  writeFileSync(usersFile, USERS, { mode: 0o600 });
  const lines: string[] = [];
  const pwsh = findPwsh();
  psrp = pwsh ? new PsrpEndpoint({ pwsh }) : undefined;
  const h = await serve({
    resources: psrp?.resources(),
    listen: '127.0.0.1:0',
    https: true,
    cert: read(pki.serverCert),
    key: read(pki.serverKey),
    clientCa: read(pki.caFile),
    crl: read(pki.crlFile),
    userDb: parseUsers(USERS),
    singleAccount: true,
    auth: ['certificate', 'basic', 'negotiate'],
    name: 'hostA',
    log: (l) => lines.push(l),
  });
  A = Object.assign(h, { lines });
  const linesB: string[] = [];
  const hb = await serve({
    listen: '127.0.0.1:0',
    userDb: parseUsers(USERS),
    singleAccount: true,
    auth: ['negotiate'],
    name: 'hostB',
    log: (l) => linesB.push(l),
  });
  B = Object.assign(hb, { lines: linesB });
});
after(async () => {
  await A?.close();
  await B?.close();
  await psrp?.close();
  if (pki) rmSync(pki.dir, { recursive: true, force: true });
});

const client = (who: keyof Pki['client'], extra: Record<string, unknown> = {}) =>
  connect({
    host: `127.0.0.1:${A.port}`,
    https: true,
    ca: read(pki.serverCert),
    auth: 'certificate',
    clientCertificate: { cert: read(pki.client[who].cert), key: read(pki.client[who].key) },
    ...extra,
  });

async function refused(who: keyof Pki['client'], logReason: RegExp): Promise<void> {
  const c = client(who);
  try {
    await assert.rejects(c.exec('true'), (e: unknown) => {
      assert.ok(e instanceof AccessDeniedError, String(e));
      assert.match((e as Error).message, /did not accept the client certificate/);
      return true;
    });
  } finally {
    c.close();
  }
  assert.match(A.lines.join('\n'), logReason);
}

describe('the SAN parser on openssl-made certificates', { skip }, () => {
  test('UPN otherName, e-mail and DNS names come out as openssl wrote them', () => {
    const der = (p: string) => new Uint8Array(execFileSync('openssl', ['x509', '-in', p, '-outform', 'DER']));
    assert.deepEqual(subjectAltNames(der(pki.client.alice.cert)), { upn: ['alice@example.test'], email: [], dns: [] });
    assert.deepEqual(subjectAltNames(der(pki.client.bob.cert)), { upn: [], email: ['bob@example.test'], dns: [] });
    assert.deepEqual(subjectAltNames(der(pki.serverCert)), { upn: [], email: [], dns: ['localhost'] });
  });
});

describe('our endpoint: --client-ca, --crl and the users-file mapping', { skip }, () => {
  test('a certificate whose SAN UPN is mapped logs on as that user, with no credentials (network logon)', async () => {
    const c = client('alice');
    try {
      const r = await c.exec('printenv USERNAME USERDOMAIN WINRM_TS_LOGON_TYPE WINRM_TS_LOGON_MECHANISM');
      assert.equal(r.exitCode, 0, r.stderr.toString());
      assert.deepEqual(r.stdout.toString().trim().split('\n'), ['alice', 'EXAMPLE', 'network', 'certificate']);
    } finally {
      c.close();
    }
    assert.match(A.lines.join('\n'), /auth ok EXAMPLE\\alice via certificate \(network\)/);
  });

  test(
    'PowerShell remoting (PSRP over WinRM, the real pwsh) with a certificate logon',
    { skip: peerSkip('pwsh', !!findPwsh()) },
    async () => {
      const s = await Session.open({
        transport: 'wsman',
        computerName: `127.0.0.1:${A.port}`,
        https: true,
        ca: read(pki.serverCert),
        auth: 'certificate',
        clientCertificate: { cert: read(pki.client.alice.cert), key: read(pki.client.alice.key) },
      });
      try {
        const r = await s.invoke('$env:USERNAME; $env:WINRM_TS_LOGON_MECHANISM');
        assert.deepEqual(
          r.output.map((v) => toPlain(v)),
          ['alice', 'certificate'],
        );
      } finally {
        await s.close();
      }
    },
  );

  test(
    'pywinrm (an independent client, transport="certificate") logs on with alice\'s certificate, not with mallory\'s',
    { skip: peerSkip('pywinrm (python3-winrm)', hasDebPackage('python3-winrm')) },
    async () => {
      const script = [
        'import sys, winrm',
        'url, cert, key, ca = sys.argv[1:5]',
        "s = winrm.Session(url, auth=(None, None), transport='certificate', cert_pem=cert, cert_key_pem=key, " +
          "server_cert_validation='validate', ca_trust_path=ca)",
        'try:',
        "    r = s.run_cmd('printenv', ['USERNAME'])",
        "    print('ok', r.status_code, r.std_out.decode().strip())",
        'except winrm.exceptions.InvalidCredentialsError as e:',
        "    print('denied', e)",
      ].join('\n');
      // async: the endpoint runs in this process
      const py = async (who: keyof Pki['client']) =>
        (
          await promisify(execFile)(
            '/usr/bin/python3',
            ['-c', script, `https://127.0.0.1:${A.port}/wsman`, pki.client[who].cert, pki.client[who].key, pki.serverCert],
            { encoding: 'utf8', timeout: 60_000 },
          )
        ).stdout.trim();
      assert.equal(await py('alice'), 'ok 0 alice');
      assert.match(await py('mallory'), /^denied the specified credentials were rejected/); // pywinrm's 401
    },
  );

  test('a certificate with only an e-mail SAN is mapped by it', async () => {
    const c = client('bob');
    try {
      assert.equal((await c.exec('printenv USERNAME')).stdout.toString().trim(), 'bob');
    } finally {
      c.close();
    }
  });

  test('the second hop from a certificate logon is ANONYMOUS LOGON, as on Windows', async () => {
    const c = client('alice');
    try {
      const r = await c.exec(`winrm-ts run -H 127.0.0.1:${B.port} -- whoami`);
      assert.notEqual(r.exitCode, 0);
      assert.match(r.stderr.toString(), /ANONYMOUS LOGON/);
    } finally {
      c.close();
    }
    assert.match(B.lines.join('\n'), /anonymous request \(NT AUTHORITY\\ANONYMOUS LOGON\) refused/);
  });

  test('a certificate from the trusted CA that is not mapped is refused', () =>
    refused('mallory', /CN=mallory\) is not mapped to a user \(SAN mallory@example\.test/));
  test('an expired certificate is refused', () => refused('expired', /CN=expired\) was refused: it has expired/));
  test('a revoked certificate (in the CRL) is refused', () => refused('revoked', /CN=revoked\) was refused: it is revoked/));
  test('a certificate from another CA is refused even with a mapped UPN', () =>
    refused('stranger', /CN=stranger\) was refused: it is not issued by a CA the endpoint trusts/));

  test('a cert: entry holds no password: Basic with an empty password is refused', async () => {
    const c = connect({
      host: `127.0.0.1:${A.port}`,
      https: true,
      ca: read(pki.serverCert),
      auth: 'basic',
      username: 'EXAMPLE\\alice',
      password: '',
    });
    try {
      await assert.rejects(c.exec('true'), AccessDeniedError);
    } finally {
      c.close();
    }
  });

  test('the client refuses certificate auth over HTTP, and without a certificate', () => {
    assert.throws(
      () =>
        connect({
          host: `127.0.0.1:${A.port}`,
          auth: 'certificate',
          clientCertificate: { cert: read(pki.client.alice.cert), key: read(pki.client.alice.key) },
        }),
      (e: unknown) => e instanceof InvalidArgumentError && /only over HTTPS/.test((e as Error).message),
    );
    assert.throws(() => connect({ host: `127.0.0.1:${A.port}`, https: true, auth: 'certificate' }), /needs a client certificate/);
    assert.throws(
      () => client('alice', { clientCertificate: { cert: read(pki.client.alice.cert), key: read(pki.client.bob.key) } }),
      /cannot use the client certificate.*does not belong/,
    );
  });

  test('CLI: --cert-p12 with the passphrase from WINRM_CERT_PASSPHRASE; a wrong one is named, never printed', async () => {
    const p12 = join(pki.dir, 'alice.p12');
    execFileSync(
      'openssl',
      ['pkcs12', '-export', '-in', pki.client.alice.cert, '-inkey', pki.client.alice.key, '-out', p12, '-passout', 'env:P12PW'],
      { env: { ...process.env, P12PW: 'p12-Secret-9' }, stdio: 'ignore' },
    );
    const base = ['run', '-H', `127.0.0.1:${A.port}`, '--https', '--ca', pki.serverCert, '--auth', 'certificate', '--cert-p12', p12, '--'];
    const ok = await runCli([...base, 'printenv', 'USERNAME'], { env: { ...process.env, WINRM_CERT_PASSPHRASE: 'p12-Secret-9' } });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stdout.trim(), 'alice');
    const bad = await runCli([...base, 'true'], { env: { ...process.env, WINRM_CERT_PASSPHRASE: 'wrong-Guess-1' } });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /client certificate.*passphrase/);
    assert.doesNotMatch(bad.stderr, /wrong-Guess-1|p12-Secret-9/);
  });

  test('CLI: --auth certificate over plain HTTP is refused, naming HTTPS', async () => {
    const r = await runCli([
      'run',
      '-H',
      `127.0.0.1:${B.port}`,
      '--auth',
      'certificate',
      '--cert',
      pki.client.alice.cert,
      '--cert-key',
      pki.client.alice.key,
      '--',
      'true',
    ]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /only over HTTPS/);
  });
});

describe('our client against openssl s_server -Verify (an independent TLS server that demands a client certificate)', { skip }, () => {
  /** s_server with a canned HTTP response on stdin; resolves with its output once it has printed the request. */
  function sServer(): Promise<{ port: number; output: () => string; stop: () => void }> {
    return new Promise((resolve, reject) => {
      const p = spawn(
        'openssl',
        [
          's_server',
          '-accept',
          '127.0.0.1:0',
          '-cert',
          pki.serverCert,
          '-key',
          pki.serverKey,
          '-CAfile',
          pki.caFile,
          '-Verify',
          '1',
          '-naccept',
          '1',
        ],
        { stdio: ['pipe', 'pipe', 'pipe'] },
      );
      let out = '';
      p.stdout.on('data', (d) => {
        out += d;
        const m = /ACCEPT 127\.0\.0\.1:(\d+)/.exec(out);
        if (m) resolve({ port: Number(m[1]), output: () => out, stop: () => p.kill() });
      });
      p.stderr.on('data', (d) => {
        out += d;
      });
      p.once('exit', () => reject(new Error(`s_server exited: ${out}`)));
      const body = '<s:Envelope/>';
      p.stdin.write(`HTTP/1.1 200 OK\r\nContent-Type: application/soap+xml;charset=UTF-8\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    });
  }

  test('the certificate is presented and verified by OpenSSL, and the request carries the profile URI', async () => {
    const s = await sServer();
    const t = new HttpTransport({
      url: `https://127.0.0.1:${s.port}/wsman`,
      auth: createInitiator('certificate', { username: '' }, { targetHost: '127.0.0.1', tls: true }),
      tls: { ca: read(pki.serverCert), cert: read(pki.client.alice.cert), key: read(pki.client.alice.key) },
    });
    try {
      assert.equal(await t.exchange('<probe/>'), '<s:Envelope/>');
      for (let i = 0; i < 50 && !/Authorization/.test(s.output()); i++) await new Promise((r) => setTimeout(r, 100));
      const out = s.output();
      assert.match(out, /depth=0 CN = alice\s+verify return:1/);
      assert.match(out, new RegExp(`Authorization: ${CERTIFICATE_PROFILE.replace(/[/.]/g, '\\$&')}\r?\n`));
    } finally {
      t.close();
      s.stop();
    }
  });

  test('without a client certificate OpenSSL ends the handshake and we report a transport error', async () => {
    const s = await sServer();
    const t = new HttpTransport({ url: `https://127.0.0.1:${s.port}/wsman`, tls: { ca: read(pki.serverCert) } });
    try {
      await assert.rejects(
        t.exchange('<probe/>'),
        (e: unknown) =>
          e instanceof TlsError &&
          /refused the TLS client certificate \(certificate required\): it requires one/.test((e as Error).message),
      );
    } finally {
      t.close();
      s.stop();
    }
  });
});

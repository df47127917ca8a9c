/**
 * Apache + mod_auth_gssapi (MIT GSSAPI acceptor with a keytab) as an independent Kerberos HTTP service:
 * our Negotiate initiator is accepted by it, and — the second hop for any program — `curl --negotiate` run on
 * `winrm-ts serve` after --kerberos-delegate reaches it as alice, while without delegation it gets a 401.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROJECT_ROOT, hasCommand, hasDebPackage, peerSkip } from '../helpers/peers.js';
import { freePort, kdcSkip, startKdc, type Kdc } from '../helpers/kdc.js';
import { runCli } from '../helpers/cli.js';
import { startEndpoint } from '../helpers/server-fixture.js';
import { parseUsers } from '../../src/server/users.js';
import { SpnegoKerberosInitiator } from '../../src/auth/kerberos/index.js';
import { networkKdc } from '../../src/kdc/network.js';
import { loadKrb5Config } from '../../src/auth/kerberos/config.js';
import { fromBase64, toBase64 } from '../../src/util/bytes.js';

const skip =
  kdcSkip() ||
  peerSkip(
    'Apache mod_auth_gssapi (apache2 libapache2-mod-auth-gssapi curl)',
    hasDebPackage('libapache2-mod-auth-gssapi') && hasCommand('curl'),
  );
let kdc: Kdc;
let run: string;
let aport: number;
let apid = 0;
before(async () => {
  if (skip) return;
  kdc = await startKdc();
  run = mkdtempSync(join(tmpdir(), 'winrm-ts-apache-krb-'));
  chmodSync(run, 0o755);
  aport = await freePort();
  const out = execFileSync('sh', [join(PROJECT_ROOT, 'test/peers/fixtures/apache-krb/start.sh'), run, String(aport), kdc.httpKeytab], {
    env: { ...process.env, KRB5_CONFIG: kdc.krb5Conf },
    encoding: 'utf8',
  });
  apid = Number(out.trim().split('\n').pop());
});
after(() => {
  if (apid) {
    try {
      process.kill(apid);
    } catch {
      /* gone */
    }
  }
  kdc?.stop();
  if (run) rmSync(run, { recursive: true, force: true });
});

function get(token: Uint8Array): Promise<{ status: number; body: string; auth?: string }> {
  return new Promise((resolve, reject) => {
    const r = request(
      {
        host: '127.0.0.1',
        port: aport,
        path: '/whoami',
        headers: { Host: `localhost:${aport}`, Authorization: `Negotiate ${toBase64(token)}` },
      },
      (resp) => {
        let body = '';
        resp
          .setEncoding('utf8')
          .on('data', (d) => {
            body += d;
          })
          .on('end', () => resolve({ status: resp.statusCode!, body, auth: resp.headers['www-authenticate'] as string | undefined }));
      },
    );
    r.on('error', reject);
    r.end();
  });
}

test('our Negotiate (Kerberos) AP-REQ is accepted by Apache mod_auth_gssapi, and its AP-REP completes our side', { skip }, async () => {
  // Kerberos alone, and Kerberos with NTLM listed second (what `--auth negotiate` with a password offers)
  for (const fallback of [undefined, () => assert.fail('NTLM must not be used when Kerberos is accepted')]) {
    const me = new SpnegoKerberosInitiator(
      {
        credentials: { username: 'alice@EXAMPLE.TEST', password: 'Passw0rd!' },
        targetHost: 'localhost',
        config: loadKrb5Config({ KRB5_CONFIG: kdc.krb5Conf }),
        send: networkKdc({ config: loadKrb5Config({ KRB5_CONFIG: kdc.krb5Conf }) }),
        env: { KRB5_CONFIG: kdc.krb5Conf },
      },
      fallback,
    );
    const res = await get((await me.step())!);
    assert.equal(res.status, 200, res.body);
    assert.match(res.body, /REMOTE_USER=alice@EXAMPLE\.TEST/);
    const m = /Negotiate\s+(\S+)/.exec(res.auth ?? '');
    assert.ok(m, 'mod_auth_gssapi returns the mutual-auth token');
    await me.step(fromBase64(m[1]!));
    assert.equal(me.complete, true);
  }
});

test('second hop for any program: curl --negotiate on the endpoint reaches Apache as alice only with delegation', { skip }, async () => {
  const env = { ...process.env, ...kdc.env };
  delete env.KRB5_KTNAME;
  delete env.KRB5_CLIENT_KTNAME;
  process.env.KRB5_CONFIG = kdc.krb5Conf; // the endpoint machine's configuration
  execFileSync('kinit', ['-f', 'alice@EXAMPLE.TEST'], { env, input: 'Passw0rd!\n', stdio: ['pipe', 'ignore', 'ignore'] });
  const ep = await startEndpoint({
    auth: ['kerberos'],
    allowUnencrypted: false,
    keytab: kdc.httpKeytab,
    userDb: parseUsers('alice@EXAMPLE.TEST:*\n'),
  });
  try {
    const h = `localhost:${new URL(ep.url).port}`;
    const curl = ['curl', '-s', '--negotiate', '-u', ':', '-w', '\\nHTTP=%{http_code}\\n', `http://localhost:${aport}/whoami`];
    const d = await runCli(['run', '-H', h, '--auth', 'kerberos', '--kerberos-delegate', '--', ...curl], { env });
    assert.equal(d.code, 0, d.stderr);
    assert.match(d.stdout, /REMOTE_USER=alice@EXAMPLE\.TEST/);
    assert.match(d.stdout, /HTTP=200/);
    const n = await runCli(['run', '-H', h, '--auth', 'kerberos', '--', ...curl], { env });
    assert.match(n.stdout, /HTTP=401/);
  } finally {
    await ep.close();
  }
});

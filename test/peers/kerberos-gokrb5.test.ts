/**
 * A second independent Kerberos implementation, jcmturner/gokrb5 v8 (pure Go), both ways on a real MIT KDC:
 * gokrb5's SPNEGO HTTP client logs on to `winrm-ts serve --keytab`, and our Negotiate initiator logs on to
 * gokrb5's SPNEGO HTTP service.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { PROJECT_ROOT, hasCommand, peerSkip } from '../helpers/peers.js';
import { kdcSkip, startKdc, type Kdc } from '../helpers/kdc.js';
import { startEndpoint } from '../helpers/server-fixture.js';
import { parseUsers } from '../../src/server/users.js';
import { SpnegoKerberosInitiator } from '../../src/auth/kerberos/index.js';
import { networkKdc } from '../../src/kdc/network.js';
import { loadKrb5Config } from '../../src/auth/kerberos/config.js';
import { fromBase64, toBase64 } from '../../src/util/bytes.js';

const GOKRB5 = '/usr/share/gocode/src/github.com/jcmturner/gokrb5/v8';
function buildPeer(): string {
  const out = join(PROJECT_ROOT, '.peers', 'winrmts-krbpeer');
  const src = join(PROJECT_ROOT, 'test/peers/fixtures/go/src/winrmts-krbpeer/main.go');
  if (existsSync(out) && statSync(out).mtimeMs >= statSync(src).mtimeMs) return out;
  mkdirSync(join(PROJECT_ROOT, '.peers', 'gocache'), { recursive: true });
  execFileSync('go', ['build', '-o', out, 'winrmts-krbpeer'], {
    cwd: join(PROJECT_ROOT, 'test/peers/fixtures/go'),
    stdio: 'pipe',
    env: {
      ...process.env,
      GO111MODULE: 'off',
      GOPATH: `${join(PROJECT_ROOT, 'test/peers/fixtures/go')}:/usr/share/gocode`,
      GOCACHE: join(PROJECT_ROOT, '.peers', 'gocache'),
      GOFLAGS: '',
    },
  });
  return out;
}

const skip = kdcSkip() || peerSkip('gokrb5 (golang-go golang-github-jcmturner-gokrb5.v8-dev)', hasCommand('go') && existsSync(GOKRB5));
let kdc: Kdc;
let bin: string;
before(async () => {
  if (skip) return;
  kdc = await startKdc();
  bin = buildPeer();
});
after(() => kdc?.stop());

test('gokrb5 SPNEGO client -> winrm-ts serve --keytab (Negotiate with Kerberos)', { skip }, async () => {
  const ep = await startEndpoint({ auth: ['negotiate'], keytab: kdc.httpKeytab, userDb: parseUsers('alice@EXAMPLE.TEST:*\n') });
  try {
    const out = await new Promise<string>((resolve, reject) => {
      const c = execFile(
        bin,
        ['client', `http://localhost:${new URL(ep.url).port}/wsman`, 'alice'],
        { env: { ...process.env, KRB5_CONFIG: kdc.krb5Conf }, timeout: 30000 },
        (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)),
      );
      c.stdin!.end('Passw0rd!\n');
    });
    assert.match(out, /status=200/);
    assert.ok(
      ep.lines.some((l) => /auth ok EXAMPLE\\alice via negotiate/.test(l)),
      ep.lines.join('\n'),
    );
  } finally {
    await ep.close();
  }
});

test('our Negotiate (Kerberos) initiator -> gokrb5 SPNEGO HTTP service', { skip }, async () => {
  const child: ChildProcess = spawn(bin, ['serve', '127.0.0.1:0', kdc.httpKeytab], { env: { ...process.env, KRB5_CONFIG: kdc.krb5Conf } });
  try {
    const addr = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout! }).on('line', (l) => {
        const m = /^listening (\S+)/.exec(l);
        if (m) resolve(m[1]!);
      });
      child.once('exit', (c) => reject(new Error(`gokrb5 service exited ${c}`)));
    });
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
      const tok = await me.step();
      const port = addr.split(':').pop();
      const res = await new Promise<{ status: number; body: string; auth?: string }>((resolve, reject) => {
        const r = request(
          { host: '127.0.0.1', port, path: '/', headers: { Authorization: `Negotiate ${toBase64(tok!)}`, Host: `localhost:${port}` } },
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
      assert.equal(res.status, 200, res.body);
      assert.match(res.body, /user=alice realm=EXAMPLE\.TEST/);
      // gokrb5 answers accept-completed without an AP-REP: we asked for mutual authentication, so our side refuses to
      // call the context complete (no acceptor subkey, server not proven) rather than silently downgrading
      const m = /Negotiate\s+(\S+)/.exec(res.auth ?? '');
      assert.ok(m, 'gokrb5 sends a final NegTokenResp');
      await assert.rejects(me.step(fromBase64(m[1]!)), /no AP-REP/);
      assert.equal(me.complete, false);
    }
  } finally {
    child.kill();
  }
});

/**
 * Profiles, trusted hosts and --tls-server-name end to end: the CLI (`run`) against in-process endpoints, with a
 * config file and a certificate made for a name (not for 127.0.0.1) by openssl here.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { makeCertificate, startEndpoint, USER, PASSWORD } from '../helpers/server-fixture.js';

const dir = mkdtempSync(join(tmpdir(), 'winrm-ts-profiles-'));
// no developer's own ~/.config/winrm-ts/config.json: the default path points into the test directory
const env = { ...process.env, XDG_CONFIG_HOME: join(dir, 'xdg'), WINRM_PASSWORD: PASSWORD };
const NAME = 'web1.winrm-ts.test';

// a certificate that names NAME only (no IP address): connecting to 127.0.0.1 needs --tls-server-name NAME
const made = makeCertificate(dir, NAME, `DNS:${NAME}`);
const certFile = made.certFile;

let http: Awaited<ReturnType<typeof startEndpoint>>;
let https: Awaited<ReturnType<typeof startEndpoint>>;
let httpConnections = 0;
before(async () => {
  [http, https] = await Promise.all([
    startEndpoint({ auth: ['negotiate', 'ntlm'] }),
    startEndpoint({
      auth: ['negotiate', 'ntlm'],
      https: true,
      cert: made.cert,
      key: made.key,
    }),
  ]);
  http.server.on('connection', () => {
    httpConnections++;
  });
});
after(async () => {
  await Promise.all([http?.close(), https?.close()]);
});

function config(doc: unknown): string {
  const p = join(dir, `config-${Math.random().toString(36).slice(2)}.json`);
  writeFileSync(p, JSON.stringify(doc));
  return p;
}
const run = (args: string[]) => runCli(['run', ...args, '--', 'printenv', 'USERNAME'], { env });

test('trusted hosts: NTLM over HTTP to 127.0.0.1 outside the list is refused before any connection; in the list it logs on', async () => {
  const web1 = { host: `127.0.0.1:${http.port}`, user: USER, auth: 'ntlm' };
  const denied = config({ hosts: { web1 }, trustedHosts: ['*.corp.example'] });
  const before = httpConnections;
  const r = await run(['--config', denied, '-H', 'web1']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /refused to send NTLM credentials to 127\.0\.0\.1/);
  assert.ok(r.stderr.includes(`"trustedHosts" in ${denied}`), r.stderr);
  assert.match(r.stderr, /add "127\.0\.0\.1"/);
  assert.ok(!r.stderr.includes(PASSWORD));
  assert.equal(httpConnections, before, 'nothing was sent to the host');
  // Negotiate (no Kerberos credential here) is refused the same way
  const neg = await run(['--config', denied, '-H', 'web1', '--auth', 'negotiate']);
  assert.notEqual(neg.code, 0);
  assert.match(neg.stderr, /Negotiate has no Kerberos credential/);

  const allowed = config({ hosts: { web1 }, trustedHosts: ['127.0.0.1'] });
  const ok = await run(['--config', allowed, '-H', 'web1']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout.trim(), 'alice');
  // no trustedHosts key at all: as before (no policy)
  const none = await run(['--config', config({ hosts: { web1 } }), '-H', 'web1']);
  assert.equal(none.code, 0, none.stderr);
  assert.equal(none.stdout.trim(), 'alice');
});

test('--tls-server-name: a certificate for a name, reached by IP: refused without it (the error says how), verified with it', async () => {
  const H = ['-H', `127.0.0.1:${https.port}`, '--https', '--ca', certFile, '-u', USER, '--auth', 'ntlm'];
  const bad = await run(H);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /TLS verification of 127\.0\.0\.1:\d+ failed/);
  assert.match(bad.stderr, /names another host: .*--tls-server-name NAME/);
  const good = await run([...H, '--tls-server-name', NAME]);
  assert.equal(good.code, 0, good.stderr);
  assert.equal(good.stdout.trim(), 'alice');
  const wrong = await run([...H, '--tls-server-name', 'other.winrm-ts.test']);
  assert.notEqual(wrong.code, 0);
  assert.match(wrong.stderr, /TLS verification/);
});

test(
  'profiles: tlsServerName and ca as profile keys; verified HTTPS is allowed whatever trustedHosts says; a list resolves each ' + 'name',
  async () => {
    const cfg = config({
      hosts: {
        // ca relative to the config file's directory
        secure: { host: `127.0.0.1:${https.port}`, https: true, ca: 'c.pem', tlsServerName: NAME, auth: 'ntlm' },
        plain: { host: `127.0.0.1:${http.port}`, auth: 'ntlm' },
      },
      defaults: { user: USER },
      trustedHosts: [],
    });
    const one = await run(['--config', cfg, '-H', 'secure']);
    assert.equal(one.code, 0, one.stderr);
    assert.equal(one.stdout.trim(), 'alice');
    // fan-out: each name through its profile; the HTTP one is refused by the (empty) trusted-hosts list, the HTTPS one runs
    const many = await run(['--config', cfg, '-H', 'secure,plain']);
    assert.notEqual(many.code, 0);
    assert.match(many.stdout, /^\[secure\] alice$/m);
    assert.match(many.stderr + many.stdout, /plain\s+ERROR WINRM_ERR_UNTRUSTED_HOST/);
  },
);

test('profiles: a password in the config file is refused (and never echoed); an unknown name is used as a host name', async () => {
  const cfg = config({ hosts: { web1: { host: `127.0.0.1:${http.port}`, password: 'Zq9-inthefile' } } });
  const r = await run(['--config', cfg, '-H', 'web1']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /hosts\.web1\.password: secrets are never read from the config file/);
  assert.ok(!r.stderr.includes('Zq9-inthefile'));
  const missing = await run(['--config', join(dir, 'no-such.json'), '-H', 'web1']);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /cannot read the config file .*no-such\.json \(--config\)/);
});

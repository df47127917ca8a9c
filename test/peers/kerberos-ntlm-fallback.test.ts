/**
 * Negotiate preferring Kerberos, falling back to NTLM, against a real MIT KDC and our endpoint: (a) before the first
 * token when no service ticket can be had (unknown SPN, an IP address without an SPN); (b) mid-handshake when the
 * acceptor has no keytab and selects NTLM, the second mechanism of our NegTokenInit. `--no-ntlm-fallback` refuses both.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { kdcSkip, startKdc, type Kdc } from '../helpers/kdc.js';
import { runCli } from '../helpers/cli.js';
import { startEndpoint } from '../helpers/server-fixture.js';
import { parseUsers } from '../../src/server/users.js';

const skip = kdcSkip();
let kdc: Kdc;
let env: NodeJS.ProcessEnv;
let withKeytab: Awaited<ReturnType<typeof startEndpoint>>;
let ntlmOnly: Awaited<ReturnType<typeof startEndpoint>>;
const users = () => parseUsers('EXAMPLE\\alice:Passw0rd!\nalice@EXAMPLE.TEST:*\n');
const port = (u: string) => new URL(u).port;
const login = ['-u', 'alice@EXAMPLE.TEST', '-p', 'Passw0rd!'];
const tgsCount = (spn: string) =>
  execFileSync('cat', [join(kdc.dir, 'kdc.log')], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l.includes('TGS_REQ') && l.includes(`for ${spn}`)).length;

before(async () => {
  if (skip) return;
  kdc = await startKdc();
  // no ccache: the password is the credential (Kerberos by AS exchange, or NTLM)
  env = { ...process.env, ...kdc.env, KRB5CCNAME: `FILE:${join(kdc.dir, 'none.cc')}` };
  delete env.KRB5_KTNAME;
  delete env.KRB5_CLIENT_KTNAME;
  // connecting by IP address: the realm has no HTTP/127.0.0.1 in this file
  execFileSync('kadmin.local', ['-q', 'delprinc -force HTTP/127.0.0.1'], { env: { ...process.env, ...kdc.env }, stdio: 'ignore' });
  withKeytab = await startEndpoint({ auth: ['negotiate'], allowUnencrypted: false, keytab: kdc.httpKeytab, userDb: users() });
  ntlmOnly = await startEndpoint({ auth: ['negotiate'], allowUnencrypted: false, userDb: users() });
});
after(async () => {
  await withKeytab?.close();
  await ntlmOnly?.close();
  kdc?.stop();
});

test('Kerberos works first: Negotiate with user@REALM and a KDC gets a ticket and logs on by Kerberos', { skip }, async () => {
  const before = tgsCount('HTTP/localhost@EXAMPLE.TEST');
  const r = await runCli(['run', '-H', `localhost:${port(withKeytab.url)}`, ...login, '--', 'printenv', 'USERNAME'], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'alice');
  assert.doesNotMatch(r.stderr, /NTLM/);
  assert.equal(tgsCount('HTTP/localhost@EXAMPLE.TEST'), before + 1, 'one service ticket was requested');
});

test('(a) an SPN the KDC does not know: NTLM before the first token, or a refusal with --no-ntlm-fallback', { skip }, async () => {
  const h = `localhost:${port(withKeytab.url)}`;
  const spn = ['--spn', 'HTTP/nosuch.example.test'];
  const fb = await runCli(['run', '-H', h, ...spn, ...login, '--', 'printenv', 'USERNAME'], { env });
  assert.equal(fb.code, 0, fb.stderr);
  assert.equal(fb.stdout.trim(), 'alice');
  assert.match(fb.stderr, /warning: Kerberos is not possible \(.*does not know the service principal HTTP\/nosuch.*falling back to NTLM/);
  const no = await runCli(['run', '-H', h, ...spn, ...login, '--no-ntlm-fallback', '--', 'true'], { env });
  assert.notEqual(no.code, 0);
  assert.match(no.stderr, /does not know the service principal HTTP\/nosuch.*NTLM fallback refused by --no-ntlm-fallback/);
});

test('(a) connecting by IP address without --spn: NTLM, and the warning says why Kerberos was not possible', { skip }, async () => {
  const h = `127.0.0.1:${port(withKeytab.url)}`;
  const fb = await runCli(['run', '-H', h, ...login, '--', 'printenv', 'USERNAME'], { env });
  assert.equal(fb.code, 0, fb.stderr);
  assert.equal(fb.stdout.trim(), 'alice');
  assert.match(fb.stderr, /warning: Kerberos is not possible \(.*connected by IP address \(127\.0\.0\.1\).*--spn.*falling back to NTLM/);
  const no = await runCli(['run', '-H', h, ...login, '--no-ntlm-fallback', '--', 'true'], { env });
  assert.notEqual(no.code, 0);
  assert.match(no.stderr, /connected by IP address.*NTLM fallback refused/);
});

test('(b) an endpoint without a keytab selects NTLM mid-handshake: the client continues with NTLM (MICs checked)', { skip }, async () => {
  const h = `localhost:${port(ntlmOnly.url)}`;
  const before = tgsCount('HTTP/localhost@EXAMPLE.TEST');
  const r = await runCli(['run', '-H', h, ...login, '--', 'printenv', 'USERNAME'], { env });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), 'alice');
  assert.match(r.stderr, /warning: the server does not accept Kerberos \(it selected NTLM inside Negotiate\); continuing with NTLM/);
  assert.ok(tgsCount('HTTP/localhost@EXAMPLE.TEST') > before, 'Kerberos was tried first (a service ticket was requested)');
  assert.ok(ntlmOnly.lines.some((l) => /auth ok .*alice via negotiate/.test(l)));
  const no = await runCli(['run', '-H', h, ...login, '--no-ntlm-fallback', '--', 'true'], { env });
  assert.notEqual(no.code, 0);
  assert.doesNotMatch(no.stdout, /alice/);
  assert.match(
    no.stderr,
    /Access is denied: the server rejected the Kerberos ticket of alice@EXAMPLE\.TEST for HTTP\/localhost@EXAMPLE\.TEST.*NTLM was not offered/,
  );
});

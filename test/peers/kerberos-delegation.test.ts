/**
 * Kerberos delegation policy against a real MIT KDC: `--kerberos-delegate` forwards the TGT only to a service the KDC
 * marks ok-as-delegate (GSS_C_DELEG_POLICY_FLAG); `--kerberos-delegate-always` overrides. The proof is a real second
 * hop: from the first endpoint's logon session, `winrm-ts run --auth kerberos` to a second endpoint.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { kdcSkip, startKdc, type Kdc } from '../helpers/kdc.js';
import { cliArgv, runCli } from '../helpers/cli.js';
import { PROJECT_ROOT } from '../helpers/peers.js';
import { startEndpoint } from '../helpers/server-fixture.js';
import { parseUsers } from '../../src/server/users.js';

const skip = kdcSkip();
let kdc: Kdc;
let env: NodeJS.ProcessEnv;
let plain: Awaited<ReturnType<typeof startEndpoint>>;
let trusted: Awaited<ReturnType<typeof startEndpoint>>;
const users = () => parseUsers('alice@EXAMPLE.TEST:*\n');
const port = (u: string) => new URL(u).port;
const PLAIN_SPN = 'HTTP/plain.example.test';

before(async () => {
  if (skip) return;
  kdc = await startKdc();
  env = { ...process.env, ...kdc.env };
  delete env.KRB5_KTNAME;
  delete env.KRB5_CLIENT_KTNAME;
  process.env.KRB5_CONFIG = kdc.krb5Conf; // the endpoints' machine configuration (for the logon sessions' ccaches)
  // a service the KDC does NOT mark ok-as-delegate (kdc-start.sh marks its own principals with it)
  const plainKeytab = join(kdc.dir, 'plain.keytab');
  const kenv = { ...process.env, ...kdc.env };
  execFileSync('kadmin.local', ['-q', `addprinc -randkey ${PLAIN_SPN}`], { env: kenv, stdio: 'ignore' });
  execFileSync('kadmin.local', ['-q', `ktadd -k ${plainKeytab} ${PLAIN_SPN}`], { env: kenv, stdio: 'ignore' });
  plain = await startEndpoint({ auth: ['kerberos'], allowUnencrypted: false, keytab: plainKeytab, userDb: users() });
  trusted = await startEndpoint({ auth: ['kerberos'], allowUnencrypted: false, keytab: kdc.httpKeytab, userDb: users() });
  execFileSync('kinit', ['-f', 'alice@EXAMPLE.TEST'], { env, input: 'Passw0rd!\n', stdio: ['pipe', 'ignore', 'ignore'] });
});
after(async () => {
  await plain?.close();
  await trusted?.close();
  kdc?.stop();
});

/** The second hop, run inside the first endpoint's logon session: Kerberos to the trusted endpoint (a script file, so
 *  no quoting crosses the first hop). */
const secondHop = () => {
  const script = join(kdc.dir, 'hop.sh');
  const argv = [
    process.execPath,
    ...cliArgv(['run', '-H', `localhost:${port(trusted.url)}`, '--auth', 'kerberos', '--', 'printenv', 'USERNAME']),
  ];
  writeFileSync(script, `#!/bin/sh\ncd '${PROJECT_ROOT}' && exec ${argv.map((a) => `'${a}'`).join(' ')}\n`, { mode: 0o755 });
  return [script];
};

const firstHop = (...flags: string[]) =>
  runCli(['run', '-H', `127.0.0.1:${port(plain.url)}`, '--spn', PLAIN_SPN, '--auth', 'kerberos', ...flags, '--', ...secondHop()], {
    env,
    timeoutMs: 120_000,
  });

test(
  '--kerberos-delegate honours ok-as-delegate: no TGT for an unmarked service, a clear warning, the hop is ANONYMOUS',
  { skip },
  async () => {
    const r = await firstHop('--kerberos-delegate');
    assert.notEqual(r.code, 0, 'the second hop must fail without a forwarded TGT');
    assert.match(
      r.stderr,
      /warning: Kerberos delegation is off: the KDC does not mark HTTP\/plain\.example\.test@EXAMPLE\.TEST as trusted/,
    );
    assert.match(r.stderr, /Set-ADComputer plain -TrustedForDelegation \$true/);
    assert.match(r.stderr, /--kerberos-delegate-always/);
    assert.match(r.stdout + r.stderr, /ANONYMOUS LOGON/);
    assert.ok(plain.lines.some((l) => /auth ok .*alice via kerberos/.test(l)));
  },
);

test('--kerberos-delegate-always overrides: the TGT is forwarded and the second hop runs as alice', { skip }, async () => {
  const r = await firstHop('--kerberos-delegate-always');
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.equal(r.stdout.trim(), 'alice');
  assert.match(r.stderr, /warning: the KDC does not mark HTTP\/plain\.example\.test@EXAMPLE\.TEST as trusted for delegation.*anyway/);
});

test('--kerberos-delegate to a service marked ok-as-delegate forwards without a warning', { skip }, async () => {
  const r = await runCli(
    ['run', '-H', `localhost:${port(trusted.url)}`, '--auth', 'kerberos', '--kerberos-delegate', '--', ...secondHop()],
    { env, timeoutMs: 120_000 },
  );
  assert.equal(r.code, 0, r.stderr + r.stdout);
  assert.equal(r.stdout.trim(), 'alice');
  assert.doesNotMatch(r.stderr, /delegation/);
});

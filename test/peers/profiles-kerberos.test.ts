/**
 * Trusted hosts with a real MIT KDC: Kerberos proves the host, so Negotiate to a host outside `trustedHosts` logs
 * on with Kerberos over plain HTTP; when Kerberos fails (an SPN the KDC does not know), the NTLM fallback is refused.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kdcSkip, startKdc, type Kdc } from '../helpers/kdc.js';
import { runCli } from '../helpers/cli.js';
import { startEndpoint } from '../helpers/server-fixture.js';
import { parseUsers } from '../../src/server/users.js';

const skip = kdcSkip();
let kdc: Kdc;
let env: NodeJS.ProcessEnv;
let ep: Awaited<ReturnType<typeof startEndpoint>>;
let cfg: string;

before(async () => {
  if (skip) return;
  kdc = await startKdc();
  const dir = mkdtempSync(join(tmpdir(), 'winrm-ts-th-krb-'));
  env = { ...process.env, ...kdc.env, KRB5CCNAME: `FILE:${join(dir, 'none.cc')}`, XDG_CONFIG_HOME: join(dir, 'xdg') };
  delete env.KRB5_KTNAME;
  delete env.KRB5_CLIENT_KTNAME;
  process.env.KRB5_CONFIG = kdc.krb5Conf;
  ep = await startEndpoint({
    auth: ['negotiate', 'kerberos'],
    allowUnencrypted: false,
    keytab: kdc.httpKeytab,
    userDb: parseUsers('EXAMPLE\\alice:Passw0rd!\nalice@EXAMPLE.TEST:*\n'),
  });
  cfg = join(dir, 'config.json');
  writeFileSync(
    cfg,
    JSON.stringify({
      hosts: { box: { host: `localhost:${new URL(ep.url).port}`, user: 'alice@EXAMPLE.TEST' } },
      trustedHosts: ['*.corp.example'],
    }),
  );
});
after(async () => {
  await ep?.close();
  kdc?.stop();
});

test('trusted hosts: Negotiate with Kerberos to a host outside the list logs on; the NTLM fallback is refused', { skip }, async () => {
  const ok = await runCli(['run', '--config', cfg, '-H', 'box', '-p', 'Passw0rd!', '--', 'printenv', 'USERNAME'], { env });
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout.trim(), 'alice');
  assert.ok(
    ep.lines.some((l) => /auth ok EXAMPLE\\alice via negotiate/.test(l)),
    ep.lines.join('\n'),
  );
  const before = ep.lines.length;
  const no = await runCli(['run', '--config', cfg, '-H', 'box', '-p', 'Passw0rd!', '--spn', 'HTTP/nosuch.example.test', '--', 'true'], {
    env,
  });
  assert.notEqual(no.code, 0);
  assert.match(no.stderr, /refused to send NTLM credentials \(Negotiate could not use Kerberos\) to localhost/);
  assert.ok(!ep.lines.slice(before).some((l) => /auth ok/.test(l)), 'no logon happened');
});

// `winrm-ts doctor --auth kerberos` against `winrm-ts serve --keytab` with a real MIT KDC: by host name every check
// passes and whoami is alice; by IP address doctor warns before connecting (an SPN for the address is needed); a
// Kerberos failure for an unknown SPN names the fix.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { kdcSkip, startKdc, type Kdc } from '../helpers/kdc.js';
import { runCli } from '../helpers/cli.js';
import { startEndpoint } from '../helpers/server-fixture.js';
import { parseUsers } from '../../src/server/users.js';
import type { Report } from '../../src/cli/doctor/checks.js';

const skip = kdcSkip();
let kdc: Kdc;
let env: NodeJS.ProcessEnv;
let ep: Awaited<ReturnType<typeof startEndpoint>>;

before(async () => {
  if (skip) return;
  kdc = await startKdc();
  // no ccache: the password goes into an AS-REQ
  env = { ...process.env, ...kdc.env, KRB5CCNAME: `FILE:${join(kdc.dir, 'none.cc')}` };
  delete env.KRB5_KTNAME;
  delete env.KRB5_CLIENT_KTNAME;
  process.env.KRB5_CONFIG = kdc.krb5Conf;
  ep = await startEndpoint({
    auth: ['negotiate', 'kerberos'],
    allowUnencrypted: false,
    keytab: kdc.httpKeytab,
    userDb: parseUsers('EXAMPLE\\alice:Passw0rd!\nalice@EXAMPLE.TEST:*\n'),
  });
});
after(async () => {
  await ep?.close();
  kdc?.stop();
});

const doctor = async (host: string, extra: string[] = []): Promise<Report> => {
  const r = await runCli(
    ['doctor', '-H', `${host}:${ep.port}`, '--auth', 'kerberos', '-u', 'alice@EXAMPLE.TEST', '-p', 'Passw0rd!', '--json', ...extra],
    { env },
  );
  assert.ok(!r.stdout.includes('Passw0rd!') && !r.stderr.includes('Passw0rd!'));
  return JSON.parse(r.stdout) as Report;
};
const get = (r: Report, id: string) => r.checks.find((c) => c.id === id)!;

test('by host name: Kerberos offered and used, whoami is alice', { skip }, async () => {
  const r = await doctor('localhost');
  assert.equal(
    r.ok,
    true,
    JSON.stringify(
      r.checks.filter((c) => c.status === 'failed'),
      null,
      1,
    ),
  );
  assert.match(get(r, 'auth-schemes').detail, /offers Negotiate, Kerberos; this client uses Kerberos \(--auth kerberos\)/);
  assert.equal(get(r, 'round-trip').data?.identity, 'example\\alice');
});

test(
  'by IP address: a warning before connecting (the test realm has HTTP/127.0.0.1, so it then works); an unknown SPN names --spn',
  { skip },
  async () => {
    const r = await doctor('127.0.0.1');
    assert.equal(get(r, 'dns').status, 'warning');
    assert.match(get(r, 'dns').detail, /HTTP\/127\.0\.0\.1/);
    assert.match((get(r, 'dns').fix ?? []).join('\n'), /--spn HTTP\/<name>/);
    assert.equal(get(r, 'round-trip').data?.identity, 'example\\alice');
    const s = await doctor('localhost', ['--spn', 'HTTP/nosuch.example.test']);
    assert.equal(s.ok, false);
    const rt = get(s, 'round-trip');
    assert.equal(rt.status, 'failed');
    assert.match(rt.detail, /Kerberos failed: .*HTTP\/nosuch\.example\.test/);
    assert.match((rt.fix ?? []).join('\n'), /--spn HTTP\/name/);
  },
);

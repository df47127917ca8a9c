/**
 * KDC discovery through DNS SRV records (RFC 4120 7.2.3.2): krb5.conf names the realm but no KDC, dns_lookup_kdc is
 * on, and a real DNS server (dnsmasq, on a free loopback port; WINRM_TS_DNS_SERVER points the client at it) publishes
 * _kerberos._tcp/_udp.EXAMPLE.TEST -> kdc.example.test:<port> and kdc.example.test -> 127.0.0.1. The MIT KDC's log
 * shows the requests arrived.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, kdcSkip, startKdc, type Kdc } from '../helpers/kdc.js';
import { hasCommand, peerSkip } from '../helpers/peers.js';
import { runCli } from '../helpers/cli.js';
import { startEndpoint } from '../helpers/server-fixture.js';
import { parseUsers } from '../../src/server/users.js';
import { networkKdc } from '../../src/kdc/network.js';
import { loadKrb5Config } from '../../src/auth/kerberos/config.js';
import { getInitialCredential } from '../../src/auth/kerberos/client.js';
import { NameType } from '../../src/auth/kerberos/messages.js';
import { KerberosError } from '../../src/errors.js';

const DNSMASQ = ['/usr/sbin/dnsmasq', 'dnsmasq'].find((c) => hasCommand(c)) ?? 'dnsmasq';
const skip = kdcSkip() || peerSkip('dnsmasq (Debian dnsmasq-base)', hasCommand(DNSMASQ));
let kdc: Kdc;
let dnsPort: number;
let dnsmasq: ChildProcess;
let conf: string;
const alice = { name: { nameType: NameType.PRINCIPAL, nameString: ['alice'] }, realm: 'EXAMPLE.TEST' };

const writeConf = (name: string, dnsLookupKdc: boolean) => {
  const f = join(kdc.dir, name);
  writeFileSync(
    f,
    `[libdefaults]\n  default_realm = EXAMPLE.TEST\n  dns_lookup_kdc = ${dnsLookupKdc}\n  dns_lookup_realm = false\n` +
      `  rdns = false\n  dns_canonicalize_hostname = false\n  forwardable = true\n` +
      `[realms]\n  EXAMPLE.TEST = {\n  }\n[domain_realm]\n  localhost = EXAMPLE.TEST\n`,
  );
  return f;
};

before(async () => {
  if (skip) return;
  kdc = await startKdc();
  dnsPort = await freePort();
  dnsmasq = spawn(
    DNSMASQ,
    [
      '--keep-in-foreground',
      '--conf-file=/dev/null',
      '--no-resolv',
      '--no-hosts',
      '--bind-interfaces',
      '--listen-address=127.0.0.1',
      `--port=${dnsPort}`,
      '--user=root',
      '--pid-file=',
      `--srv-host=_kerberos._tcp.EXAMPLE.TEST,kdc.example.test,${kdc.port},0,100`,
      `--srv-host=_kerberos._udp.EXAMPLE.TEST,kdc.example.test,${kdc.port},0,100`,
      '--host-record=kdc.example.test,127.0.0.1',
      '--log-queries',
      '--log-facility=-',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  dnsmasq.stderr!.setEncoding('utf8').on('data', (d: string) => (log += d));
  // ready once it answers: the first lookup retries until then
  for (let i = 0; i < 50 && !/started/.test(log); i++) await new Promise((r) => setTimeout(r, 100));
  conf = writeConf('srv.conf', true);
});
after(() => {
  dnsmasq?.kill();
  kdc?.stop();
});

const asCount = () =>
  readFileSync(join(kdc.dir, 'kdc.log'), 'utf8')
    .split('\n')
    .filter((l) => l.includes('AS_REQ') && l.includes('ISSUE') && l.includes('alice@EXAMPLE.TEST')).length;

test('library: no kdc line, dns_lookup_kdc on: the SRV record leads to the MIT KDC', { skip }, async () => {
  const n = asCount();
  const send = networkKdc({ config: loadKrb5Config({ KRB5_CONFIG: conf }), dnsServers: [`127.0.0.1:${dnsPort}`] });
  const tgt = await getInitialCredential({ send }, alice, { password: 'Passw0rd!' });
  assert.deepEqual(tgt.server.name.nameString, ['krbtgt', 'EXAMPLE.TEST']);
  assert.equal(asCount(), n + 1);
});

test('no SRV records for a realm, or dns_lookup_kdc off: "no KDC known" with what to configure', { skip }, async () => {
  const send = networkKdc({ config: loadKrb5Config({ KRB5_CONFIG: conf }), dnsServers: [`127.0.0.1:${dnsPort}`] });
  await assert.rejects(
    getInitialCredential({ send }, { ...alice, realm: 'NOWHERE.TEST' }, { password: 'x' }),
    (e: unknown) => e instanceof KerberosError && /no KDC known for realm NOWHERE\.TEST.*_kerberos\._tcp\.NOWHERE\.TEST/.test(e.message),
  );
  const off = networkKdc({ config: loadKrb5Config({ KRB5_CONFIG: writeConf('off.conf', false) }), dnsServers: [`127.0.0.1:${dnsPort}`] });
  await assert.rejects(
    getInitialCredential({ send: off }, alice, { password: 'Passw0rd!' }),
    (e: unknown) => e instanceof KerberosError && /no KDC known for realm EXAMPLE\.TEST/.test(e.message),
  );
});

test('CLI: --auth kerberos and Negotiate find the KDC through WINRM_TS_DNS_SERVER', { skip }, async () => {
  const ep = await startEndpoint({
    auth: ['negotiate', 'kerberos'],
    allowUnencrypted: false,
    keytab: kdc.httpKeytab,
    userDb: parseUsers('EXAMPLE\\alice:Passw0rd!\nalice@EXAMPLE.TEST:*\n'),
  });
  try {
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      KRB5_CONFIG: conf,
      KRB5CCNAME: `FILE:${join(kdc.dir, 'none.cc')}`,
      WINRM_TS_DNS_SERVER: `127.0.0.1:${dnsPort}`,
    };
    delete env.KRB5_KTNAME;
    delete env.KRB5_CLIENT_KTNAME;
    delete env.WINRM_TS_KDC;
    const h = `localhost:${new URL(ep.url).port}`;
    const login = ['-u', 'alice@EXAMPLE.TEST', '-p', 'Passw0rd!'];
    for (const auth of [['--auth', 'kerberos'], []]) {
      const n = asCount();
      const r = await runCli(['run', '-H', h, ...auth, ...login, '--', 'printenv', 'USERNAME'], { env });
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), 'alice');
      assert.doesNotMatch(r.stderr, /NTLM/);
      assert.equal(asCount(), n + 1, `${auth.join(' ') || 'negotiate'}: one AS exchange with the KDC found by SRV`);
    }
  } finally {
    await ep.close();
  }
});

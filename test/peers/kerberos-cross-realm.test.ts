/**
 * Cross-realm referrals with two real MIT KDCs on loopback: EXAMPLE.TEST and OTHER.TEST trust each other
 * (krbtgt/OTHER.TEST@EXAMPLE.TEST, krbtgt/EXAMPLE.TEST@OTHER.TEST). The client's krb5.conf knows both KDCs but not
 * which realm svc.other.test is in: EXAMPLE.TEST's KDC refers the TGS-REQ to OTHER.TEST (RFC 6806), whose KDC
 * issues the service ticket to alice@EXAMPLE.TEST. Then our endpoint with OTHER.TEST's keytab admits her.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { kdcSkip, startKdc, type Kdc } from '../helpers/kdc.js';
import { runCli } from '../helpers/cli.js';
import { startEndpoint } from '../helpers/server-fixture.js';
import { parseUsers } from '../../src/server/users.js';
import { networkKdc } from '../../src/kdc/network.js';
import { loadKrb5Config } from '../../src/auth/kerberos/config.js';
import { getInitialCredential, getServiceCredential } from '../../src/auth/kerberos/client.js';
import { readKeytab } from '../../src/auth/kerberos/ccache.js';
import { decrypt } from '../../src/auth/kerberos/crypto.js';
import { KeyUsage, NameType, decodeEncTicketPart, decodeTicket } from '../../src/auth/kerberos/messages.js';

const skip = kdcSkip();
let a: Kdc;
let b: Kdc;
let clientConf: string;
let svcKeytab: string;
const SVC = 'HTTP/svc.other.test';

before(async () => {
  if (skip) return;
  a = await startKdc({ trust: ['OTHER.TEST'], domainRealm: '.other.test = OTHER.TEST' });
  b = await startKdc({ realm: 'OTHER.TEST', trust: ['EXAMPLE.TEST'] });
  svcKeytab = join(b.dir, 'svc.keytab');
  const benv = { ...process.env, ...b.env };
  execFileSync('kadmin.local', ['-q', `addprinc -randkey +ok_as_delegate ${SVC}`], { env: benv, stdio: 'ignore' });
  execFileSync('kadmin.local', ['-q', `ktadd -k ${svcKeytab} ${SVC}`], { env: benv, stdio: 'ignore' });
  // the client knows both KDCs, but nothing maps svc.other.test to OTHER.TEST: only the referral can tell it
  clientConf = join(a.dir, 'client.conf');
  writeFileSync(
    clientConf,
    `[libdefaults]\n  default_realm = EXAMPLE.TEST\n  dns_lookup_kdc = false\n  dns_lookup_realm = false\n  rdns = false\n` +
      `  dns_canonicalize_hostname = false\n  forwardable = true\n` +
      `[realms]\n  EXAMPLE.TEST = {\n    kdc = 127.0.0.1:${a.port}\n  }\n  OTHER.TEST = {\n    kdc = 127.0.0.1:${b.port}\n  }\n` +
      `[domain_realm]\n  localhost = EXAMPLE.TEST\n`,
  );
});
after(() => {
  a?.stop();
  b?.stop();
});

const kdcLog = (k: Kdc) => readFileSync(join(k.dir, 'kdc.log'), 'utf8');

test('library: a TGS-REQ for a service of the other realm follows the referral to its KDC', { skip }, async () => {
  const ctx = { send: networkKdc({ config: loadKrb5Config({ KRB5_CONFIG: clientConf }) }) };
  const alice = { name: { nameType: NameType.PRINCIPAL, nameString: ['alice'] }, realm: 'EXAMPLE.TEST' };
  const tgt = await getInitialCredential(ctx, alice, { password: 'Passw0rd!' });
  const svc = { name: { nameType: NameType.SRV_HST, nameString: ['HTTP', 'svc.other.test'] }, realm: 'EXAMPLE.TEST' };
  const st = await getServiceCredential(ctx, tgt, svc);
  assert.equal(st.server.realm, 'OTHER.TEST');
  assert.deepEqual(st.server.name.nameString, ['HTTP', 'svc.other.test']);
  assert.deepEqual(st.client, alice);
  // OTHER.TEST's keytab opens the ticket: it really is OTHER.TEST's ticket for alice of EXAMPLE.TEST
  const t = decodeTicket(st.ticket);
  const key = readKeytab(svcKeytab).find((e) => e.key.etype === t.encPart.etype)!.key;
  const part = decodeEncTicketPart(decrypt(key, KeyUsage.KDC_REP_TICKET, t.encPart.cipher));
  assert.deepEqual(part.cname.nameString, ['alice']);
  assert.equal(part.crealm, 'EXAMPLE.TEST');
  assert.match(kdcLog(a), /alice@EXAMPLE\.TEST for krbtgt\/OTHER\.TEST@EXAMPLE\.TEST/);
  assert.match(kdcLog(b), /alice@EXAMPLE\.TEST for HTTP\/svc\.other\.test@OTHER\.TEST/);
});

test('end to end: alice@EXAMPLE.TEST logs on to an OTHER.TEST endpoint, from a password and from a kinit ccache', { skip }, async () => {
  const ep = await startEndpoint({
    auth: ['negotiate', 'kerberos'],
    allowUnencrypted: false,
    keytab: svcKeytab,
    userDb: parseUsers('alice@EXAMPLE.TEST:*\n'),
  });
  try {
    const env: NodeJS.ProcessEnv = { ...process.env, KRB5_CONFIG: clientConf, KRB5CCNAME: `FILE:${join(a.dir, 'cross.cc')}` };
    delete env.KRB5_KTNAME;
    delete env.KRB5_CLIENT_KTNAME;
    const h = `localhost:${new URL(ep.url).port}`;
    const pw = await runCli(
      ['run', '-H', h, '--spn', SVC, '--auth', 'kerberos', '-u', 'alice@EXAMPLE.TEST', '-p', 'Passw0rd!', '--', 'printenv', 'USERNAME'],
      { env },
    );
    assert.equal(pw.code, 0, pw.stderr);
    assert.equal(pw.stdout.trim(), 'alice');
    execFileSync('kinit', ['alice@EXAMPLE.TEST'], { env, input: 'Passw0rd!\n', stdio: ['pipe', 'ignore', 'ignore'] });
    const sso = await runCli(['run', '-H', h, '--spn', SVC, '--', 'printenv', 'USERNAME', 'USERDOMAIN'], { env });
    assert.equal(sso.code, 0, sso.stderr);
    assert.deepEqual(sso.stdout.trim().split(/\r?\n/), ['alice', 'EXAMPLE']);
    // the ticket of the other realm went back into the ccache; the next run uses it without asking either KDC
    assert.match(execFileSync('klist', [], { env, encoding: 'utf8' }), /HTTP\/svc\.other\.test@OTHER\.TEST/);
    const tgs = () => (kdcLog(a) + kdcLog(b)).split('\n').filter((l) => l.includes('TGS_REQ')).length;
    const n = tgs();
    const again = await runCli(['run', '-H', h, '--spn', SVC, '--auth', 'kerberos', '--', 'printenv', 'USERNAME'], { env });
    assert.equal(again.code, 0, again.stderr);
    assert.equal(again.stdout.trim(), 'alice');
    assert.equal(tgs(), n, 'no TGS request with the ticket in the ccache');
    assert.equal(execFileSync('klist', [], { env, encoding: 'utf8' }).match(/HTTP\/svc\.other\.test/g)?.length, 1);
  } finally {
    await ep.close();
  }
});

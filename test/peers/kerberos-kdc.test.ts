/**
 * Our Kerberos client against a real MIT krb5 KDC on loopback (scripts/kdc-start.sh): AS with password and keytab,
 * TCP and UDP, SHA-2 etypes, TGS, KDC errors as actionable KerberosErrors, MIT kinit ccache read, MIT klist/kvno
 * reading the ccache we write.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { kdcSkip, startKdc, type Kdc } from '../helpers/kdc.js';
import { networkKdc } from '../../src/kdc/network.js';
import { loadKrb5Config } from '../../src/auth/kerberos/config.js';
import { getInitialCredential, getServiceCredential } from '../../src/auth/kerberos/client.js';
import { readCCache, readKeytab, writeCCache } from '../../src/auth/kerberos/ccache.js';
import { decrypt } from '../../src/auth/kerberos/crypto.js';
import { KeyUsage, NameType, decodeEncTicketPart, decodeTicket } from '../../src/auth/kerberos/messages.js';
import { KerberosError } from '../../src/errors.js';

const skip = kdcSkip();
let kdc: Kdc;
const alice = { name: { nameType: NameType.PRINCIPAL, nameString: ['alice'] }, realm: 'EXAMPLE.TEST' };
const http = { name: { nameType: NameType.SRV_INST, nameString: ['HTTP', 'localhost'] }, realm: 'EXAMPLE.TEST' };

before(async () => {
  if (!skip) kdc = await startKdc();
});
after(() => kdc?.stop());

const ctx = (o: { udp?: boolean; etypes?: number[] } = {}) => ({
  send: networkKdc({ config: loadKrb5Config({ KRB5_CONFIG: kdc.krb5Conf }), udpPreferenceLimit: o.udp ? 65535 : 1 }),
  ...(o.etypes ? { etypes: o.etypes } : {}),
});

function checkServiceTicket(ticket: Uint8Array, sessionKey: { etype: number; value: Uint8Array }) {
  const t = decodeTicket(ticket);
  const keys = readKeytab(kdc.httpKeytab).filter((e) => e.key.etype === t.encPart.etype && e.principal.name.nameString[1] === 'localhost');
  const part = decodeEncTicketPart(decrypt(keys[0]!.key, KeyUsage.KDC_REP_TICKET, t.encPart.cipher));
  assert.deepEqual(part.cname.nameString, ['alice']);
  assert.deepEqual(part.key.keyvalue, sessionKey.value);
}

test('AS (password, TCP) then TGS for HTTP/localhost: the service keytab opens the ticket', { skip }, async () => {
  const tgt = await getInitialCredential(ctx(), alice, { password: 'Passw0rd!' });
  assert.deepEqual(tgt.server.name.nameString, ['krbtgt', 'EXAMPLE.TEST']);
  assert.ok(tgt.flags & 0x40000000, 'forwardable');
  const st = await getServiceCredential(ctx(), tgt, http);
  assert.deepEqual(st.server.name.nameString, ['HTTP', 'localhost']);
  checkServiceTicket(st.ticket, st.key);
  const fwd = await getServiceCredential(
    ctx(),
    tgt,
    { name: { nameType: NameType.SRV_INST, nameString: ['krbtgt', 'EXAMPLE.TEST'] }, realm: 'EXAMPLE.TEST' },
    { forwarded: true },
  );
  assert.ok(fwd.flags & 0x20000000, 'forwarded flag set');
});

test('AS over UDP, and with each SHA-2 etype (RFC 8009) and AES-SHA1 alone', { skip }, async () => {
  for (const etypes of [[20], [19], [17], [18]]) {
    const tgt = await getInitialCredential(ctx({ udp: true, etypes }), alice, { password: 'Passw0rd!' });
    assert.equal(tgt.key.etype, etypes[0]);
    const st = await getServiceCredential(ctx({ udp: true, etypes }), tgt, http);
    assert.equal(st.key.etype, etypes[0]);
    checkServiceTicket(st.ticket, st.key);
  }
});

test('AS with a keytab (kadmin ktadd -norandkey)', { skip }, async () => {
  const tgt = await getInitialCredential(ctx(), alice, { keytab: readKeytab(kdc.aliceKeytab) });
  assert.deepEqual(tgt.client.name.nameString, ['alice']);
});

test('KDC errors are KerberosErrors a user can act on', { skip }, async () => {
  await assert.rejects(
    getInitialCredential(ctx(), alice, { password: 'wrong' }),
    (e: unknown) => e instanceof KerberosError && e.krbErrorCode === 24 && /wrong password/.test(e.message),
  );
  const nobody = { name: { nameType: 1, nameString: ['nobody'] }, realm: 'EXAMPLE.TEST' };
  await assert.rejects(
    getInitialCredential(ctx(), nobody, { password: 'x' }),
    (e: unknown) => e instanceof KerberosError && e.krbErrorCode === 6 && /does not know the client/.test(e.message),
  );
  const tgt = await getInitialCredential(ctx(), alice, { password: 'Passw0rd!' });
  const bad = { name: { nameType: 2, nameString: ['HTTP', '10.1.2.3'] }, realm: 'EXAMPLE.TEST' };
  await assert.rejects(
    getServiceCredential(ctx(), tgt, bad),
    (e: unknown) => e instanceof KerberosError && e.krbErrorCode === 7 && /SPN/.test(e.message) && /--spn/.test(e.message),
  );
  const none = {
    send: networkKdc({
      config: { libdefaults: {}, realms: { 'EXAMPLE.TEST': { kdc: ['127.0.0.1:1'] } }, domainRealm: {} },
      timeoutMs: 2000,
      udpPreferenceLimit: 1,
    }),
  };
  await assert.rejects(
    getInitialCredential(none, alice, { password: 'x' }),
    (e: unknown) => e instanceof KerberosError && /no KDC of realm EXAMPLE.TEST is reachable/.test(e.message),
  );
});

test('MIT kinit ccache is read; the ccache we write is read by MIT klist and used by kvno', { skip }, async () => {
  const env = { ...process.env, ...kdc.env, KRB5CCNAME: `FILE:${join(kdc.dir, 'mit.cc')}` };
  execFileSync('kinit', ['alice@EXAMPLE.TEST'], { env, input: 'Passw0rd!\n', stdio: ['pipe', 'ignore', 'ignore'] });
  const cc = readCCache(env.KRB5CCNAME)!;
  assert.deepEqual(cc.defaultPrincipal.name.nameString, ['alice']);
  const tgt = cc.credentials.find((c) => c.server.name.nameString[0] === 'krbtgt')!;
  const st = await getServiceCredential(ctx(), tgt, http);
  checkServiceTicket(st.ticket, st.key);
  // ours -> MIT (FILE: and DIR:)
  const mine = await getInitialCredential(ctx(), alice, { password: 'Passw0rd!' });
  for (const name of [`FILE:${join(kdc.dir, 'ours.cc')}`, `DIR:${join(kdc.dir, 'ccdir')}`]) {
    writeCCache(name, { defaultPrincipal: alice, credentials: [mine] });
    const e2 = { ...process.env, ...kdc.env, KRB5CCNAME: name };
    const list = execFileSync('klist', [], { env: e2, encoding: 'utf8' });
    assert.match(list, /Default principal: alice@EXAMPLE\.TEST/);
    assert.match(list, /krbtgt\/EXAMPLE\.TEST@EXAMPLE\.TEST/);
    const kv = execFileSync('kvno', ['HTTP/localhost@EXAMPLE.TEST'], { env: e2, encoding: 'utf8' });
    assert.match(kv, /kvno = \d+/);
    assert.equal(readCCache(name)!.credentials.length >= 1, true);
  }
});

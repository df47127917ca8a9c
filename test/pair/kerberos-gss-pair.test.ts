/**
 * In-process pairs of the RFC 4121 mechanism (no KDC: tickets are made with a known service key):
 * AP-REQ -> acceptor -> AP-REP -> initiator for every AES etype, WinRM wrap split both ways, delegation,
 * channel bindings, clock skew, replay, tampering; plus ccache/keytab/krb5.conf round trips.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encrypt, randomKey, type Key } from '../../src/auth/kerberos/crypto.js';
import { acceptApReq, buildApReq, checkApRep } from '../../src/auth/kerberos/gss.js';
import {
  decodeCCache,
  decodeKeytab,
  encodeCCache,
  encodeKeytab,
  type Credential,
  type KeytabEntry,
} from '../../src/auth/kerberos/ccache.js';
import { kdcsForRealm, parseKrb5Conf, realmForHost } from '../../src/auth/kerberos/config.js';
import { TicketFlags, encodeEncTicketPart, encodeTicket } from '../../src/auth/kerberos/messages.js';
import { KerberosError } from '../../src/errors.js';
import { utf8 } from '../../src/util/bytes.js';

const alice = { name: { nameType: 1, nameString: ['alice'] }, realm: 'EXAMPLE.TEST' };
const http = { name: { nameType: 2, nameString: ['HTTP', 'localhost'] }, realm: 'EXAMPLE.TEST' };
const krbtgt = { name: { nameType: 2, nameString: ['krbtgt', 'EXAMPLE.TEST'] }, realm: 'EXAMPLE.TEST' };

function fakeCred(
  etype: number,
  server = http,
  flags = TicketFlags.FORWARDABLE | TicketFlags.OK_AS_DELEGATE,
): { cred: Credential; keytab: KeytabEntry[] } {
  const serviceKey = randomKey(etype);
  const session: Key = randomKey(etype);
  const now = new Date(Math.floor(Date.now() / 1000) * 1000);
  const end = new Date(now.getTime() + 3600_000);
  const etp = encodeEncTicketPart({
    flags,
    key: { keytype: etype, keyvalue: session.value },
    crealm: alice.realm,
    cname: alice.name,
    authtime: now,
    endtime: end,
  });
  const ticket = encodeTicket({
    realm: server.realm,
    sname: server.name,
    encPart: { etype, kvno: 3, cipher: encrypt(serviceKey, 2, etp) },
  });
  return {
    cred: { client: alice, server, key: session, authtime: now, starttime: now, endtime: end, flags, ticket },
    keytab: [{ principal: server, timestamp: 0, kvno: 3, key: serviceKey }],
  };
}

test('AP-REQ/AP-REP and WinRM-split wrap tokens both ways, for aes128/256-sha1, the RFC 8009 types and rc4-hmac', () => {
  for (const etype of [17, 18, 19, 20, 23]) {
    const { cred, keytab } = fakeCred(etype);
    const ap = buildApReq({ service: cred });
    const acc = acceptApReq(ap.token, { keytab });
    assert.deepEqual(acc.client.name.nameString, ['alice']);
    const init = checkApRep(acc.reply!, ap.pending);
    for (let i = 0; i < 3; i++) {
      const msg = utf8(`<s:Envelope>${'x'.repeat(i * 37)}</s:Envelope>`);
      const tok = init.wrap(msg);
      // RFC 4121: header 16 + confounder 16 + header copy 16 + MAC; RFC 4757: 0x60 len, OID 11, TOK_ID 2, 30 header bytes
      const inner = 11 + 2 + 30 + msg.length + 1; // + the RFC 4757 padding byte (generic GSS form)
      assert.equal(
        tok.length,
        etype === 23 ? 2 + (inner >= 128 ? 1 : 0) + inner : msg.length + 16 + 16 + 16 + (etype === 20 ? 24 : etype === 19 ? 16 : 12),
      );
      assert.deepEqual(acc.security.unwrap(tok), msg);
      assert.deepEqual(init.unwrap(acc.security.wrap(msg)), msg);
      const w = init.wrapWinrm(msg);
      assert.equal(w.data.length, msg.length, 'WinRM: the data part is exactly as long as the plaintext');
      assert.deepEqual(acc.security.unwrapWinrm(w.header, w.data), msg);
      const r = acc.security.wrapWinrm(msg);
      assert.deepEqual(init.unwrapWinrm(r.header, r.data), msg);
    }
    const bad = init.wrap(utf8('secret'));
    bad[bad.length - 1]! ^= 1;
    assert.throws(() => acc.security.unwrap(bad), KerberosError);
    // a token must not be accepted back by its sender (direction flag)
    assert.throws(() => init.unwrap(init.wrap(utf8('x'))), KerberosError);
    // MIC tokens (SPNEGO mechListMIC)
    acc.security.verifyMic(utf8('mechTypes'), init.getMic(utf8('mechTypes')));
    assert.throws(() => acc.security.verifyMic(utf8('other'), init.getMic(utf8('mechTypes'))), KerberosError);
  }
});

test('delegation: the forwarded TGT travels in the checksum KRB-CRED and comes out whole', () => {
  const { cred, keytab } = fakeCred(18);
  const tgt = fakeCred(18, krbtgt, TicketFlags.FORWARDABLE | TicketFlags.FORWARDED).cred;
  const ap = buildApReq({ service: cred, forwarded: tgt });
  const acc = acceptApReq(ap.token, { keytab });
  assert.equal(acc.flags & 1, 1, 'GSS_C_DELEG_FLAG');
  assert.equal(acc.delegated!.length, 1);
  assert.deepEqual(acc.delegated![0]!.key.value, tgt.key.value);
  assert.deepEqual(acc.delegated![0]!.ticket, tgt.ticket);
  assert.deepEqual(acc.delegated![0]!.server.name.nameString, ['krbtgt', 'EXAMPLE.TEST']);
});

test('channel bindings, clock skew, replay and a wrong keytab are refused with KerberosErrors', () => {
  const { cred, keytab } = fakeCred(18);
  const cbA = { applicationData: utf8('tls-server-end-point:AAAA') };
  const cbB = { applicationData: utf8('tls-server-end-point:BBBB') };
  assert.throws(
    () => acceptApReq(buildApReq({ service: cred, channelBindings: cbA }).token, { keytab, channelBindings: cbB }),
    /channel binding mismatch/,
  );
  assert.throws(
    () => acceptApReq(buildApReq({ service: cred }).token, { keytab, channelBindings: cbB, requireBindings: true }),
    /channel binding/,
  );
  acceptApReq(buildApReq({ service: cred }).token, { keytab, channelBindings: cbB }); // relaxed: no bindings from the client is allowed
  acceptApReq(buildApReq({ service: cred, channelBindings: cbB }).token, { keytab, channelBindings: cbB, requireBindings: true });
  assert.throws(
    () => acceptApReq(buildApReq({ service: cred }).token, { keytab, now: new Date(Date.now() + 11 * 60_000) }),
    (e: unknown) => e instanceof KerberosError && e.krbErrorCode === 37 && /clock skew too great.*\d+ s/.test(e.message),
  );
  const replay = new Set<string>();
  const tok = buildApReq({ service: cred }).token;
  acceptApReq(tok, { keytab, replay });
  assert.throws(
    () => acceptApReq(tok, { keytab, replay }),
    (e: unknown) => e instanceof KerberosError && e.krbErrorCode === 34,
  );
  const other = fakeCred(18).keytab;
  assert.throws(() => acceptApReq(tok, { keytab: other }), /stale|keytab/);
  assert.throws(() => acceptApReq(tok, { keytab: [] }), /no key for HTTP\/localhost@EXAMPLE.TEST/);
});

test('MIT ccache and keytab round trips; krb5.conf realms, KDCs and domain_realm', () => {
  const { cred, keytab } = fakeCred(17);
  const cc = decodeCCache(encodeCCache({ defaultPrincipal: alice, credentials: [cred] }));
  assert.deepEqual(cc.defaultPrincipal, alice);
  assert.deepEqual(cc.credentials[0]!.key.value, cred.key.value);
  assert.deepEqual(cc.credentials[0]!.ticket, cred.ticket);
  assert.equal(cc.credentials[0]!.endtime.getTime(), cred.endtime.getTime());
  assert.deepEqual(decodeKeytab(encodeKeytab(keytab))[0]!.key.value, keytab[0]!.key.value);
  const cfg = parseKrb5Conf(`
[libdefaults]
  default_realm = EXAMPLE.TEST   # comment
[realms]
  EXAMPLE.TEST = {
    kdc = 127.0.0.1:8888
    kdc = kdc2.example.test
    admin_server = x
  }
  OTHER.TEST = {
    kdc = [::1]:99
  }
[domain_realm]
  .other.test = OTHER.TEST
  localhost = EXAMPLE.TEST
`);
  assert.deepEqual(kdcsForRealm(cfg, 'EXAMPLE.TEST'), [
    { host: '127.0.0.1', port: 8888 },
    { host: 'kdc2.example.test', port: 88 },
  ]);
  assert.deepEqual(kdcsForRealm(cfg, 'OTHER.TEST'), [{ host: '::1', port: 99 }]);
  assert.equal(realmForHost(cfg, 'web.other.test'), 'OTHER.TEST');
  assert.equal(realmForHost(cfg, 'LOCALHOST'), 'EXAMPLE.TEST');
  assert.equal(realmForHost(cfg, 'elsewhere.net'), 'EXAMPLE.TEST');
});

test('users file: `principal@REALM:*` admits the principal by Kerberos only, never as a password "*"', async () => {
  const { parseUsers } = await import('../../src/server/users.js');
  const { findPrincipalUser } = await import('../../src/auth/kerberos/context.js');
  const db = parseUsers('alice@EXAMPLE.TEST:*\nEXAMPLE\\bob:B0b!\n');
  assert.equal(db.lookup('', 'alice@EXAMPLE.TEST'), undefined);
  assert.equal(db.lookup('EXAMPLE.TEST', 'alice'), undefined);
  assert.ok(findPrincipalUser(db, 'alice@example.test'));
  assert.equal(findPrincipalUser(db, 'bob@EXAMPLE.TEST'), undefined, 'a DOMAIN\\user line is not a Kerberos principal');
});

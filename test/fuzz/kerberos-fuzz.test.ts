/**
 * Garbage and mutated Kerberos input from a KDC or a peer, never a crash or a hang: bytes that are not Kerberos raise
 * an InvalidTokenError (mechanism Kerberos), as a malformed NTLM, SPNEGO or CredSSP token does; a well-formed token
 * that fails a check (integrity, direction, a KRB-ERROR) may also be a KerberosError. Credential caches and keytabs are
 * local files, not a peer's tokens: KerberosError.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encrypt, randomKey } from '../../src/auth/kerberos/crypto.js';
import { acceptApReq, buildApReq, checkApRep, unframeToken, decodeGssChecksum, openKrbCred } from '../../src/auth/kerberos/gss.js';
import { decodeCCache, decodeKeytab, encodeCCache, encodeKeytab } from '../../src/auth/kerberos/ccache.js';
import {
  decodeApRep,
  decodeApReq,
  decodeAuthenticator,
  decodeEncKdcRepPart,
  decodeEtypeInfo2,
  decodeKdcRep,
  decodeKrbCred,
  decodeKrbError,
  decodeMethodData,
  decodeTicket,
  encodeEncKdcRepPart,
  encodeEncTicketPart,
  encodeKdcRep,
  encodeKrbError,
  encodeTicket,
  encodeEtypeInfo2,
} from '../../src/auth/kerberos/messages.js';
import { InvalidTokenError, KerberosError } from '../../src/errors.js';
import { fuzzRandom } from '../helpers/fuzz.js';

const fz = fuzzRandom('kerberos-fuzz.test.ts');

const alice = { name: { nameType: 1, nameString: ['alice'] }, realm: 'EXAMPLE.TEST' };
const http = { nameType: 2, nameString: ['HTTP', 'localhost'] };

function setup() {
  const sk = randomKey(18);
  const session = randomKey(18);
  const now = new Date(Math.floor(Date.now() / 1000) * 1000);
  const end = new Date(now.getTime() + 3600_000);
  const etp = encodeEncTicketPart({
    flags: 0x40000000,
    key: { keytype: 18, keyvalue: session.value },
    crealm: 'EXAMPLE.TEST',
    cname: alice.name,
    authtime: now,
    endtime: end,
  });
  const ticket = encodeTicket({ realm: 'EXAMPLE.TEST', sname: http, encPart: { etype: 18, kvno: 1, cipher: encrypt(sk, 2, etp) } });
  const cred = {
    client: alice,
    server: { name: http, realm: 'EXAMPLE.TEST' },
    key: session,
    authtime: now,
    starttime: now,
    endtime: end,
    flags: 0x40000000,
    ticket,
  };
  const keytab = [{ principal: { name: http, realm: 'EXAMPLE.TEST' }, timestamp: 0, kvno: 1, key: sk }];
  return { cred, keytab, now, end };
}

function mutate(b: Uint8Array, i: number): Uint8Array {
  const c = new Uint8Array(b);
  switch (i % 4) {
    case 0:
      c[i % c.length] = c[i % c.length]! ^ (1 << (i % 8));
      return c;
    case 1:
      return c.subarray(0, i % c.length);
    case 2:
      c[i % c.length] = 0xff;
      c[(i * 7) % c.length] = 0x84;
      return c;
    default:
      return new Uint8Array([...c.subarray(0, i % c.length), ...fz.bytes(i % 13), ...c.subarray(i % c.length)]);
  }
}

const invalidToken = (e: unknown) => e instanceof InvalidTokenError && e.mechanism === 'Kerberos';

/**
 * `fn` on garbage (empty, cut-off headers, random bytes) and on mutations of valid `seeds`: garbage that throws must
 * throw `garbage` (InvalidTokenError by default), a mutation an InvalidTokenError or a KerberosError.
 */
function onlyKerberosErrors(
  name: string,
  fn: (b: Uint8Array) => unknown,
  seeds: Uint8Array[],
  garbage: (e: unknown) => boolean = invalidToken,
): void {
  const inputs: Uint8Array[] = [new Uint8Array(0), Uint8Array.of(0x60), Uint8Array.of(0x6e, 0x84, 0xff, 0xff, 0xff, 0xff)];
  for (let i = 0; i < 300; i++) inputs.push(new Uint8Array(fz.bytes(i % 97)));
  const nGarbage = inputs.length;
  for (const s of seeds) for (let i = 0; i < 400; i++) inputs.push(mutate(s, i));
  let invalid = 0;
  inputs.forEach((inp, i) => {
    try {
      fn(inp);
    } catch (e) {
      const ok = i < nGarbage ? garbage(e) : garbage(e) || e instanceof KerberosError;
      if (invalidToken(e)) invalid++;
      assert.ok(
        ok,
        `${name}: ${(e as Error)?.constructor?.name}: ${(e as Error)?.message} for ${Buffer.from(inp).toString('hex').slice(0, 80)}`,
      );
    }
  });
  if (garbage === invalidToken) assert.ok(invalid > 0, `${name}: some garbage was refused as an invalid token`);
}

test('KDC replies, KRB-ERRORs and their parts', () => {
  const { cred, now, end } = setup();
  const rep = encodeKdcRep(11, {
    padata: [{ type: 19, value: encodeEtypeInfo2([{ etype: 18, salt: 'EXAMPLE.TESTalice' }]) }],
    crealm: 'EXAMPLE.TEST',
    cname: alice.name,
    ticketRaw: cred.ticket,
    encPart: { etype: 18, cipher: new Uint8Array(60) },
  });
  const err = encodeKrbError({ stime: now, errorCode: 25, realm: 'EXAMPLE.TEST', sname: http, eText: 'x', eData: new Uint8Array(4) });
  const part = encodeEncKdcRepPart(25, {
    key: { keytype: 18, keyvalue: new Uint8Array(32) },
    nonce: 5,
    flags: 0,
    authtime: now,
    endtime: end,
    srealm: 'EXAMPLE.TEST',
    sname: http,
  });
  onlyKerberosErrors('KDC-REP', decodeKdcRep, [rep]);
  onlyKerberosErrors('KRB-ERROR', decodeKrbError, [err]);
  // decrypted with the reply key (integrity checked): what is not an EncKDCRepPart there means a wrong key, a KerberosError
  onlyKerberosErrors('EncKDCRepPart', decodeEncKdcRepPart, [part], (e) => invalidToken(e) || e instanceof KerberosError);
  onlyKerberosErrors('Ticket', decodeTicket, [cred.ticket]);
  onlyKerberosErrors('ETYPE-INFO2', decodeEtypeInfo2, [
    encodeEtypeInfo2([{ etype: 18, salt: 's', s2kparams: Uint8Array.of(0, 0, 16, 0) }]),
  ]);
  onlyKerberosErrors('METHOD-DATA', decodeMethodData, []);
});

test('GSS tokens from a peer: AP-REQ into the acceptor, AP-REP into the initiator, checksum, KRB-CRED', () => {
  const { cred, keytab } = setup();
  const ap = buildApReq({ service: cred, forwarded: cred });
  const acc = acceptApReq(ap.token, { keytab });
  onlyKerberosErrors('acceptApReq', (b) => acceptApReq(b, { keytab }), [ap.token]);
  onlyKerberosErrors('checkApRep', (b) => checkApRep(b, ap.pending), [acc.reply!]);
  onlyKerberosErrors('unframe', unframeToken, [ap.token]);
  onlyKerberosErrors('AP-REQ', decodeApReq, [unframeToken(ap.token).body]);
  onlyKerberosErrors('AP-REP', decodeApRep, [unframeToken(acc.reply!).body]);
  onlyKerberosErrors('Authenticator', decodeAuthenticator, []);
  onlyKerberosErrors('KRB-CRED', decodeKrbCred, []);
  onlyKerberosErrors('openKrbCred', (b) => openKrbCred(b, [cred.key]), []);
  onlyKerberosErrors('GSS checksum', decodeGssChecksum, []);
  const init = checkApRep(acc.reply!, ap.pending);
  const wrapped = init.wrap(new Uint8Array(100));
  onlyKerberosErrors('unwrap', (b) => acc.security.unwrap(b), [wrapped]);
});

test('credential caches and keytabs from disk', () => {
  const { cred, keytab } = setup();
  const kerberosError = (e: unknown) => e instanceof KerberosError;
  onlyKerberosErrors('ccache', decodeCCache, [encodeCCache({ defaultPrincipal: alice, credentials: [cred] })], kerberosError);
  onlyKerberosErrors('keytab', decodeKeytab, [encodeKeytab(keytab)], kerberosError);
});

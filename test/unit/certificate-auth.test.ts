/**
 * Certificate authentication pieces without sockets: the RFC 5280 subjectAltName reader (UPN otherName
 * 1.3.6.1.4.1.311.20.2.3, rfc822Name, dNSName) on certificates built with our DER writer, the users-file
 * `DOMAIN\user:cert:NAME` entries, and the acceptor's decisions from the TLS verdict.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import * as der from '../../src/asn1/der.js';
import {
  AccessDeniedError,
  CERTIFICATE_PROFILE,
  RemoteProtocolError,
  certificateLogonNames,
  parseUsers,
  subjectAltNames,
} from '../../src/index.js';
import { CertificateAcceptor, CertificateInitiator, OID_UPN } from '../../src/auth/certificate.js';

const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });

/** A v3 certificate (RFC 5280 4.1) with the given GeneralNames in subjectAltName (context tags as RFC 5280 4.2.1.6). */
function cert(generalNames: Uint8Array[] | undefined, opts: { critical?: boolean } = {}): Uint8Array {
  const algo = der.sequence(der.oid('1.2.840.10045.4.3.2'));
  const name = der.sequence(der.set(der.sequence(der.oid('2.5.4.3'), der.utf8String('subject'))));
  const exts: Uint8Array[] = [der.sequence(der.oid('2.5.29.19'), der.octetString(der.sequence()))];
  if (generalNames) {
    exts.push(
      der.sequence(der.oid('2.5.29.17'), ...(opts.critical ? [der.boolean(true)] : []), der.octetString(der.sequence(...generalNames))),
    );
  }
  const tbs = der.sequence(
    der.explicit(0, der.integer(2)),
    der.integer(7),
    algo,
    name,
    der.sequence(der.utcTime(new Date(Date.UTC(2026, 0, 1))), der.utcTime(new Date(Date.UTC(2027, 0, 1)))),
    name,
    new Uint8Array(publicKey.export({ type: 'spki', format: 'der' })),
    der.explicit(3, der.sequence(...exts)),
  );
  return der.sequence(tbs, algo, der.bitString(new Uint8Array(sign('sha256', tbs, privateKey))));
}
/** GeneralName otherName: [0] IMPLICIT OtherName ::= SEQUENCE { type-id, [0] EXPLICIT value } */
const otherName = (oid: string, inner: Uint8Array) =>
  der.tlv(der.TagClass.Context, true, 0, new Uint8Array([...der.oid(oid), ...der.explicit(0, inner)]));
const upn = (s: string) => otherName(OID_UPN, der.utf8String(s));
const email = (s: string) => der.implicit(1, new TextEncoder().encode(s));
const dns = (s: string) => der.implicit(2, new TextEncoder().encode(s));

test('SAN: UPN otherName, e-mail and DNS names; other otherNames are skipped', () => {
  const c = cert(
    [dns('host.example.test'), otherName('1.2.3.4', der.utf8String('x')), upn('Alice@Example.Test'), email('alice@mail.example.test')],
    { critical: true },
  );
  assert.deepEqual(subjectAltNames(c), { upn: ['Alice@Example.Test'], email: ['alice@mail.example.test'], dns: ['host.example.test'] });
  assert.deepEqual(certificateLogonNames(c), ['Alice@Example.Test'], 'the UPN wins over the e-mail');
  assert.deepEqual(certificateLogonNames(cert([email('bob@example.test')])), ['bob@example.test']);
  assert.deepEqual(subjectAltNames(cert(undefined)), { upn: [], email: [], dns: [] });
});

test('SAN: a certificate from the DER writer is one Node can read (the fixture is a real certificate)', async () => {
  const { X509Certificate } = await import('node:crypto');
  const x = new X509Certificate(Buffer.from(cert([upn('alice@example.test'), email('a@b.test')])));
  assert.match(x.subjectAltName ?? '', /email:a@b\.test/);
});

test('SAN: garbage and truncations are RemoteProtocolError, never a crash', () => {
  const good = cert([upn('alice@example.test'), email('e@x.test')]);
  for (let n = 0; n < good.length; n += 7) {
    try {
      subjectAltNames(good.subarray(0, n));
    } catch (e) {
      assert.ok(e instanceof RemoteProtocolError, `${n}: ${String(e)}`);
    }
  }
  let seed = 1;
  const rnd = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed;
  };
  for (let i = 0; i < 2000; i++) {
    const b = good.slice();
    for (let k = 0; k < 3; k++) b[rnd() % b.length] = rnd() & 0xff;
    try {
      subjectAltNames(b);
    } catch (e) {
      assert.ok(e instanceof RemoteProtocolError, String(e));
    }
  }
  assert.throws(() => subjectAltNames(cert([otherName(OID_UPN, der.octetString(new Uint8Array([1])))])), RemoteProtocolError);
});

test('users file: DOMAIN\\user:cert:NAME entries map certificates and hold no password', () => {
  const db = parseUsers('EXAMPLE\\alice:cert:alice@example.test\nEXAMPLE\\alice:Passw0rd!\nEXAMPLE\\dave:cert:dave@example.test:osdave\n');
  assert.deepEqual(db.lookupCertificate('ALICE@example.test'), { domain: 'EXAMPLE', user: 'alice', certName: 'alice@example.test' });
  assert.equal(db.lookup('EXAMPLE', 'alice')?.password, 'Passw0rd!', 'the password entry is still found');
  assert.equal(db.lookup('EXAMPLE', 'dave'), undefined, 'a cert entry is no password entry');
  assert.equal(db.lookup('', 'dave'), undefined);
  assert.equal(db.lookupCertificate('dave@example.test')?.user, 'dave');
  assert.equal(db.lookupCertificate('dave@example.test')?.account, 'osdave', 'the fourth field names the local account');
  assert.equal(db.lookupCertificate('nobody@example.test'), undefined);
});

test('acceptor: the TLS verdict first, then the mapping; the initiator sends the profile URI and no token', async () => {
  const db = parseUsers('EXAMPLE\\alice:cert:alice@example.test\n');
  const ok = new CertificateAcceptor(db, { der: cert([upn('alice@example.test')]), authorized: true, subject: 'CN=alice' });
  await ok.step();
  assert.deepEqual(ok.identity, { domain: 'EXAMPLE', user: 'alice', logonType: 'network', mechanism: 'certificate' });
  assert.equal(ok.identity?.password, undefined);
  await assert.rejects(new CertificateAcceptor(db, undefined).step(), /presented no TLS client certificate/);
  await assert.rejects(
    new CertificateAcceptor(db, { der: cert([upn('alice@example.test')]), authorized: false, authorizationError: 'CERT_REVOKED' }).step(),
    (e: unknown) => e instanceof AccessDeniedError && /revoked/.test((e as Error).message),
  );
  await assert.rejects(
    new CertificateAcceptor(db, { der: cert([email('eve@example.test')]), authorized: true }).step(),
    /not mapped to a user \(SAN eve@example\.test/,
  );
  const i = new CertificateInitiator();
  assert.equal(i.httpScheme, CERTIFICATE_PROFILE);
  assert.equal((await i.step()).length, 0);
  assert.equal(i.canEncrypt, false);
});

// The acceptor's self-signed certificate (src/auth/credssp/x509.ts, RFC 5280 4.1 on our DER writer), checked by
// node:crypto's own X.509 parser, and the SubjectPublicKey CredSSP binds to (MS-CSSP 3.1.5: the PKCS#1 RSAPublicKey).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { createSelfSignedCertificate } from '../../src/auth/credssp/x509.js';
import { certificatePublicKey, subjectPublicKey } from '../../src/auth/credssp/tls-pipe.js';
import { toHex } from '../../src/util/bytes.js';

test('credssp x509: a valid self-signed v3 certificate that node:crypto parses and verifies', () => {
  const now = new Date(Date.UTC(2026, 0, 1));
  const c = createSelfSignedCertificate('WSMAN-hostA', { now, days: 30 });
  const x = new X509Certificate(c.certPem);
  assert.equal(x.subject, 'CN=WSMAN-hostA');
  assert.equal(x.issuer, 'CN=WSMAN-hostA');
  assert.ok(x.verify(x.publicKey), 'self-signature verifies');
  assert.ok(x.checkPrivateKey(createPrivateKey(c.keyPem)));
  assert.equal(new Date(x.validFrom).getTime(), now.getTime() - 3600_000);
  assert.equal(new Date(x.validTo).getTime(), now.getTime() + 30 * 86400_000);
  assert.deepEqual(Buffer.from(x.raw), Buffer.from(c.certDer));
  assert.match(x.keyUsage?.join(',') ?? '1.3.6.1.5.5.7.3.1', /1\.3\.6\.1\.5\.5\.7\.3\.1/);
});

test('credssp x509: SubjectPublicKey is the PKCS#1 RSAPublicKey (what pubKeyAuth hashes)', () => {
  const c = createSelfSignedCertificate('x');
  const pkcs1 = new Uint8Array(new X509Certificate(c.certPem).publicKey.export({ type: 'pkcs1', format: 'der' }));
  assert.equal(toHex(certificatePublicKey(c.certPem)), toHex(pkcs1));
  assert.equal(toHex(subjectPublicKey(createPublicKey(c.certPem))), toHex(pkcs1));
  assert.equal(pkcs1[0], 0x30);
});

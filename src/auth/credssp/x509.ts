/**
 * A tiny self-signed X.509 v3 certificate builder (RFC 5280 4.1) on our DER module and node:crypto, for the
 * CredSSP acceptor's TLS (Windows uses a self-signed `CN=WSMAN-<host>` certificate there) when the endpoint has
 * none to lend. RSA-2048, sha256WithRSAEncryption.
 */
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import * as der from '../../asn1/der.js';

const OID_SHA256_RSA = '1.2.840.113549.1.1.11';
const OID_CN = '2.5.4.3';
const OID_BASIC_CONSTRAINTS = '2.5.29.19';
const OID_KEY_USAGE = '2.5.29.15';
const OID_EXT_KEY_USAGE = '2.5.29.37';
const OID_SERVER_AUTH = '1.3.6.1.5.5.7.3.1';

function name(cn: string): Uint8Array {
  return der.sequence(der.set(der.sequence(der.oid(OID_CN), der.utf8String(cn))));
}
function time(d: Date): Uint8Array {
  return d.getUTCFullYear() < 2050 ? der.utcTime(d) : der.generalizedTime(d);
}

export interface SelfSignedCert {
  certPem: string;
  keyPem: string;
  certDer: Uint8Array;
}

/** RFC 5280 4.1 Certificate, self-signed. */
export function createSelfSignedCertificate(commonName: string, opts: { days?: number; now?: Date } = {}): SelfSignedCert {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const now = opts.now ?? new Date();
  const notBefore = new Date(now.getTime() - 3600_000);
  const notAfter = new Date(now.getTime() + (opts.days ?? 365) * 86400_000);
  const serial = randomBytes(16);
  serial[0]! &= 0x7f;
  const algo = der.sequence(der.oid(OID_SHA256_RSA), der.nullValue());
  const spki = new Uint8Array(publicKey.export({ type: 'spki', format: 'der' }));
  const extensions = der.explicit(
    3,
    der.sequence(
      der.sequence(der.oid(OID_BASIC_CONSTRAINTS), der.octetString(der.sequence())),
      // digitalSignature | keyEncipherment
      der.sequence(der.oid(OID_KEY_USAGE), der.boolean(true), der.octetString(der.bitString(Uint8Array.of(0xa0), 5))),
      der.sequence(der.oid(OID_EXT_KEY_USAGE), der.octetString(der.sequence(der.oid(OID_SERVER_AUTH)))),
    ),
  );
  const tbs = der.sequence(
    der.explicit(0, der.integer(2)), // v3
    der.unsignedInteger(serial),
    algo,
    name(commonName),
    der.sequence(time(notBefore), time(notAfter)),
    name(commonName),
    spki,
    extensions,
  );
  const signature = sign('sha256', tbs, privateKey);
  const certDer = der.sequence(tbs, algo, der.bitString(new Uint8Array(signature)));
  const b64 = Buffer.from(certDer).toString('base64').replace(/.{64}/g, '$&\n');
  return {
    certPem: `-----BEGIN CERTIFICATE-----\n${b64}${b64.endsWith('\n') ? '' : '\n'}-----END CERTIFICATE-----\n`,
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    certDer,
  };
}

let processCert: SelfSignedCert | undefined;
/** One self-signed certificate per process (generating RSA keys is slow-ish). */
export function processCredSSPCertificate(host = 'localhost'): SelfSignedCert {
  processCert ??= createSelfSignedCertificate(`WSMAN-${host}`);
  return processCert;
}

/**
 * RFC 5929 §4 tls-server-end-point channel bindings: hash of the server certificate (DER) with the certificate's
 * signature hash, upgraded to SHA-256 when that is MD5 or SHA-1 (or unknown). `applicationData` =
 * "tls-server-end-point:" || hash (MS-NLMP 2.2.2.1 / gss_channel_bindings_struct carry it). Sans-IO.
 */
import { createHash } from 'node:crypto';
import type { ChannelBindings } from '../auth/types.js';
import { concatBytes, utf8 } from '../util/bytes.js';

// signature algorithm OID (dotted) -> hash for tls-server-end-point
const SIG_HASH: Record<string, 'sha256' | 'sha384' | 'sha512'> = {
  '1.2.840.113549.1.1.12': 'sha384', // sha384WithRSAEncryption
  '1.2.840.113549.1.1.13': 'sha512', // sha512WithRSAEncryption
  '1.2.840.10045.4.3.3': 'sha384', // ecdsa-with-SHA384
  '1.2.840.10045.4.3.4': 'sha512', // ecdsa-with-SHA512
};

/** Read one DER TLV header at `o`: returns tag, content start and end. Throws RangeError on bad input. */
function tlv(b: Uint8Array, o: number): { tag: number; start: number; end: number } {
  if (o + 2 > b.length) throw new RangeError('truncated DER');
  const tag = b[o]!;
  let len = b[o + 1]!;
  let p = o + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || p + n > b.length) throw new RangeError('bad DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[p + i]!;
    p += n;
  }
  if (p + len > b.length) throw new RangeError('truncated DER');
  return { tag, start: p, end: p + len };
}

function oidToString(b: Uint8Array): string {
  const parts: number[] = [];
  let v = 0;
  for (let i = 0; i < b.length; i++) {
    v = v * 128 + (b[i]! & 0x7f);
    if (!(b[i]! & 0x80)) {
      parts.push(v);
      v = 0;
    }
  }
  if (!parts.length) return '';
  const first = parts[0]!;
  const a = first < 80 ? Math.floor(first / 40) : 2;
  return [a, first - a * 40, ...parts.slice(1)].join('.');
}

/** The signatureAlgorithm OID of an X.509 certificate (Certificate ::= SEQUENCE { tbs, sigAlg, sig }). */
export function certSignatureOid(der: Uint8Array): string | undefined {
  try {
    const cert = tlv(der, 0);
    const tbs = tlv(der, cert.start);
    const alg = tlv(der, tbs.end);
    const oid = tlv(der, alg.start);
    if (oid.tag !== 0x06) return undefined;
    return oidToString(der.subarray(oid.start, oid.end));
  } catch {
    return undefined;
  }
}

/** RFC 5929 §4.1 certificate hash. */
export function tlsServerEndPointHash(certDer: Uint8Array): Uint8Array {
  const alg = SIG_HASH[certSignatureOid(certDer) ?? ''] ?? 'sha256';
  return new Uint8Array(createHash(alg).update(certDer).digest());
}

export function tlsServerEndPointBindings(certDer: Uint8Array): ChannelBindings {
  return { applicationData: concatBytes(utf8('tls-server-end-point:'), tlsServerEndPointHash(certDer)) };
}

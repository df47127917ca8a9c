/**
 * MS-CSSP 3.1.5 pubKeyAuth: what binds the inner authentication to the TLS channel.
 * v5+: SHA256("CredSSP Client-To-Server Binding Hash\0" || clientNonce || SubjectPublicKey) (server: "Server-To-Client");
 * v2-4: the SubjectPublicKey itself (server: the same with its first byte incremented).
 */
import { createHash } from 'node:crypto';
import { concatBytes } from '../../util/bytes.js';

const CLIENT_MAGIC = new TextEncoder().encode('CredSSP Client-To-Server Binding Hash\0');
const SERVER_MAGIC = new TextEncoder().encode('CredSSP Server-To-Client Binding Hash\0');

/** The first TSRequest version that uses the nonce + hash form (the CVE-2018-0886 fix). */
export const NONCE_VERSION = 5;

function sha256(...parts: Uint8Array[]): Uint8Array {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

/** The value the client seals into pubKeyAuth (MS-CSSP 3.1.5 step 3). */
export function clientPubKeyAuth(version: number, pubKey: Uint8Array, nonce?: Uint8Array): Uint8Array {
  if (version >= NONCE_VERSION) {
    if (!nonce) throw new RangeError('CredSSP v5+ needs a client nonce');
    return sha256(CLIENT_MAGIC, nonce, pubKey);
  }
  return Uint8Array.from(pubKey);
}

/** The value the server seals into its pubKeyAuth answer (MS-CSSP 3.1.5 step 4). */
export function serverPubKeyAuth(version: number, pubKey: Uint8Array, nonce?: Uint8Array): Uint8Array {
  if (version >= NONCE_VERSION) {
    if (!nonce) throw new RangeError('CredSSP v5+ needs a client nonce');
    return sha256(SERVER_MAGIC, nonce, pubKey);
  }
  const out = Uint8Array.from(pubKey);
  if (out.length) out[0] = (out[0]! + 1) & 0xff;
  return concatBytes(out);
}

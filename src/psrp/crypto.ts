/**
 * MS-PSRP 3.1.4.11 session key exchange and 2.2.5.1.24 SecureString encryption.
 * The client sends its RSA public key as a CAPI PUBLICKEYBLOB; the server answers with an AES-256 session key
 * encrypted to it (a CAPI SIMPLEBLOB, ciphertext little-endian). SecureStrings are AES-256-CBC with a zero IV,
 * PKCS#7 padded UTF-16LE. Pure computation, no I/O; the key pair can be injected (tests, async generation).
 */
import {
  createCipheriv,
  createDecipheriv,
  createPublicKey,
  generateKeyPairSync,
  privateDecrypt,
  publicEncrypt,
  constants,
  type KeyObject,
} from 'node:crypto';
import { RemoteProtocolError, LocalProtocolError } from '../errors.js';

export interface RsaKeyPair {
  publicKey: KeyObject;
  privateKey: KeyObject;
}

export function generateRsaKeyPair(): RsaKeyPair {
  return generateKeyPairSync('rsa', { modulusLength: 2048, publicExponent: 0x10001 });
}

function b64urlToBytes(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'base64url'));
}

/** MS-PSRP 2.2.2.3 PUBLIC_KEY blob: PUBLICKEYBLOB header, RSAPUBKEY, modulus little-endian. */
export function encodePublicKeyBlob(publicKey: KeyObject): Uint8Array {
  const jwk = publicKey.export({ format: 'jwk' }) as { n: string; e: string };
  const n = b64urlToBytes(jwk.n);
  const e = b64urlToBytes(jwk.e);
  const bitLen = n.length * 8;
  const out = new Uint8Array(20 + n.length);
  const dv = new DataView(out.buffer);
  out.set([0x06, 0x02, 0x00, 0x00], 0); // PUBLICKEYBLOB, version 2, reserved
  dv.setUint32(4, 0x0000a400, true); // CALG_RSA_KEYX
  out.set([0x52, 0x53, 0x41, 0x31], 8); // "RSA1"
  dv.setUint32(12, bitLen, true);
  let exp = 0;
  for (const b of e) exp = exp * 256 + b;
  dv.setUint32(16, exp, true);
  out.set(Uint8Array.from(n).reverse(), 20);
  return out;
}

/** MS-PSRP 2.2.2.4 ENCRYPTED_SESSION_KEY: strip the 12-byte SIMPLEBLOB header, reverse, RSA-decrypt → 32-byte key. */
export function decryptSessionKey(blob: Uint8Array, privateKey: KeyObject): Uint8Array {
  if (blob.length < 12 + 64)
    throw new RemoteProtocolError(`ENCRYPTED_SESSION_KEY blob of ${blob.length} bytes is too short (MS-PSRP 2.2.2.4)`);
  if (blob[0] !== 0x01) throw new RemoteProtocolError('ENCRYPTED_SESSION_KEY is not a SIMPLEBLOB (MS-PSRP 2.2.2.4)');
  const dv = new DataView(blob.buffer, blob.byteOffset, blob.byteLength);
  const alg = dv.getUint32(4, true);
  if (alg !== 0x00006610)
    throw new RemoteProtocolError(`ENCRYPTED_SESSION_KEY uses algorithm 0x${alg.toString(16)}, expected CALG_AES_256 (MS-PSRP 2.2.2.4)`);
  const ct = Uint8Array.from(blob.subarray(12)).reverse();
  // Node 20 refuses PKCS#1 v1.5 private decryption (CVE-2023-46809): decrypt raw, then check and strip the
  // EME-PKCS1-v1_5 padding (RFC 8017 7.2.2) ourselves.
  let em: Buffer;
  try {
    em = privateDecrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, ct);
  } catch (e) {
    throw new RemoteProtocolError('could not decrypt the session key the server sent (MS-PSRP 3.1.4.11); the key exchange failed', {
      cause: e,
    });
  }
  const sep = em.indexOf(0, 2);
  if (em[0] !== 0 || em[1] !== 2 || sep < 10)
    throw new RemoteProtocolError(
      'the session key the server sent is not PKCS#1 v1.5 encrypted to our key (MS-PSRP 3.1.4.11); the key exchange failed',
    );
  const key = em.subarray(sep + 1);
  if (key.length !== 32) throw new RemoteProtocolError(`the session key is ${key.length} bytes, expected 32 (AES-256)`);
  return new Uint8Array(key);
}

/** The server side of the exchange (used by tests and any in-process server): encrypt a session key to a PUBLICKEYBLOB. */
export function encryptSessionKeyForBlob(publicBlob: Uint8Array, sessionKey: Uint8Array): Uint8Array {
  if (publicBlob.length < 21 || publicBlob[0] !== 0x06)
    throw new RemoteProtocolError('PUBLIC_KEY is not a PUBLICKEYBLOB (MS-PSRP 2.2.2.3)');
  const dv = new DataView(publicBlob.buffer, publicBlob.byteOffset, publicBlob.byteLength);
  const bits = dv.getUint32(12, true);
  const e = dv.getUint32(16, true);
  const n = Uint8Array.from(publicBlob.subarray(20, 20 + bits / 8)).reverse();
  const eb = Buffer.alloc(4);
  eb.writeUInt32BE(e);
  let i = 0;
  while (i < 3 && eb[i] === 0) i++;
  const pub = createPublicKey({
    key: { kty: 'RSA', n: Buffer.from(n).toString('base64url'), e: eb.subarray(i).toString('base64url') },
    format: 'jwk',
  });
  // publicEncrypt with PKCS#1 v1.5

  const ct = new Uint8Array(publicEncrypt({ key: pub, padding: constants.RSA_PKCS1_PADDING }, sessionKey)).reverse();
  const out = new Uint8Array(12 + ct.length);
  out.set([0x01, 0x02, 0x00, 0x00, 0x10, 0x66, 0x00, 0x00, 0x00, 0xa4, 0x00, 0x00], 0);
  out.set(ct, 12);
  return out;
}

/** MS-PSRP 2.2.5.1.24 SecureString cipher: AES-256-CBC, zero IV (fresh per value), PKCS#7. */
export class SessionKeyCipher {
  constructor(private readonly key: Uint8Array) {
    if (key.length !== 32) throw new LocalProtocolError('the PSRP session key must be 32 bytes');
  }
  encrypt(plain: Uint8Array): Uint8Array {
    const c = createCipheriv('aes-256-cbc', this.key, Buffer.alloc(16));
    return new Uint8Array(Buffer.concat([c.update(plain), c.final()]));
  }
  decrypt(cipher: Uint8Array): Uint8Array {
    try {
      const d = createDecipheriv('aes-256-cbc', this.key, Buffer.alloc(16));
      return new Uint8Array(Buffer.concat([d.update(cipher), d.final()]));
    } catch (e) {
      throw new RemoteProtocolError('a SecureString from the server could not be decrypted with the session key (MS-PSRP 2.2.5.1.24)', {
        cause: e,
      });
    }
  }
}

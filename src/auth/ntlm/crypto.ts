/** NTLMv2 key derivation (MS-NLMP 3.3.2, 3.4.5) and channel-binding hash (MS-NLMP 2.2.2.1, RFC 2744 3.11). */
import { createHash, createHmac } from 'node:crypto';
import { md4 } from '../../crypto/md4.js';
import { concatBytes, utf16le, utf8 } from '../../util/bytes.js';
import type { ChannelBindings } from '../types.js';

export function hmacMd5(key: Uint8Array, ...data: Uint8Array[]): Uint8Array {
  const h = createHmac('md5', key);
  for (const d of data) h.update(d);
  return new Uint8Array(h.digest());
}
export function md5(...data: Uint8Array[]): Uint8Array {
  const h = createHash('md5');
  for (const d of data) h.update(d);
  return new Uint8Array(h.digest());
}

/** MS-NLMP 3.3.1 NTOWFv1 = MD4(UNICODE(Passwd)): the NT hash. */
export function ntHash(password: string): Uint8Array {
  return md4(utf16le(password));
}

/** MS-NLMP 3.3.2 NTOWFv2 = HMAC_MD5(NT hash, UNICODE(Uppercase(User) + UserDom)). */
export function ntowfv2(hash: Uint8Array, user: string, domain: string): Uint8Array {
  return hmacMd5(hash, utf16le(user.toUpperCase() + domain));
}

/** MS-NLMP 3.3.2 NTProofStr = HMAC_MD5(ResponseKeyNT, ServerChallenge || temp). */
export function ntProofStr(responseKeyNt: Uint8Array, serverChallenge: Uint8Array, temp: Uint8Array): Uint8Array {
  return hmacMd5(responseKeyNt, serverChallenge, temp);
}

/** MS-NLMP 3.3.2 LMv2 response = HMAC_MD5(ResponseKeyLM, ServerChallenge || ClientChallenge) || ClientChallenge. */
export function lmv2Response(responseKeyLm: Uint8Array, serverChallenge: Uint8Array, clientChallenge: Uint8Array): Uint8Array {
  return concatBytes(hmacMd5(responseKeyLm, serverChallenge, clientChallenge), clientChallenge);
}

/** MS-NLMP 3.3.2 SessionBaseKey = HMAC_MD5(ResponseKeyNT, NTProofStr); for NTLMv2 KeyExchangeKey = SessionBaseKey. */
export function sessionBaseKey(responseKeyNt: Uint8Array, proof: Uint8Array): Uint8Array {
  return hmacMd5(responseKeyNt, proof);
}

const MAGIC = {
  clientSign: utf8('session key to client-to-server signing key magic constant\0'),
  serverSign: utf8('session key to server-to-client signing key magic constant\0'),
  clientSeal: utf8('session key to client-to-server sealing key magic constant\0'),
  serverSeal: utf8('session key to server-to-client sealing key magic constant\0'),
};

/** MS-NLMP 3.4.5.2 SIGNKEY (with extended session security). */
export function signKey(exportedSessionKey: Uint8Array, mode: 'client' | 'server'): Uint8Array {
  return md5(exportedSessionKey, mode === 'client' ? MAGIC.clientSign : MAGIC.serverSign);
}

/** MS-NLMP 3.4.5.3 SEALKEY (with extended session security); `bits` from NEGOTIATE_128 / NEGOTIATE_56. */
export function sealKey(exportedSessionKey: Uint8Array, mode: 'client' | 'server', bits: 128 | 56 | 40): Uint8Array {
  const k = bits === 128 ? exportedSessionKey : exportedSessionKey.subarray(0, bits === 56 ? 7 : 5);
  return md5(k, mode === 'client' ? MAGIC.clientSeal : MAGIC.serverSeal);
}

/** RFC 2744 3.11 gss_channel_bindings_struct as hashed for MsvAvChannelBindings (MS-NLMP 2.2.2.1; RFC 5929). */
export function encodeChannelBindings(cb: ChannelBindings): Uint8Array {
  const u32 = (n: number) => {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, n >>> 0, true);
    return b;
  };
  const ia = cb.initiatorAddress ?? new Uint8Array(0);
  const aa = cb.acceptorAddress ?? new Uint8Array(0);
  const app = cb.applicationData ?? new Uint8Array(0);
  return concatBytes(
    u32(cb.initiatorAddrType ?? 0),
    u32(ia.length),
    ia,
    u32(cb.acceptorAddrType ?? 0),
    u32(aa.length),
    aa,
    u32(app.length),
    app,
  );
}

/** MsvAvChannelBindings value: MD5 of the gss_channel_bindings_struct (MS-NLMP 2.2.2.1). */
export function channelBindingsHash(cb: ChannelBindings): Uint8Array {
  return md5(encodeChannelBindings(cb));
}

/** Windows FILETIME (100 ns since 1601-01-01) as 8 LE bytes. */
export function fileTime(ms: number): Uint8Array {
  const ft = (BigInt(Math.floor(ms)) + 11644473600000n) * 10000n;
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, ft, true);
  return b;
}

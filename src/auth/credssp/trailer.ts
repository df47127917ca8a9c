/**
 * The SChannel "cbTrailer" WinRM expects as the CredSSP encryption header length (MS-WSMV 2.2.9.1.1.2.2 with
 * CredSSP; MS-WSMV 2.2.9.1): the bytes after the payload in a TLS record for the negotiated cipher.
 */
const HASH_LEN: Record<string, number> = { MD5: 16, SHA: 20, SHA256: 32, SHA384: 48 };

/**
 * @param dataLen plaintext length of the chunk
 * @param protocol `TLSSocket.getProtocol()`, e.g. "TLSv1.2"
 * @param cipher OpenSSL cipher name from `getCipher().name`, e.g. "ECDHE-RSA-AES128-GCM-SHA256"
 */
export function tlsTrailerLength(dataLen: number, protocol: string, cipher: string): number {
  if (protocol === 'TLSv1.3') return 17; // 16-byte AEAD tag + the inner content type
  if (/[-_]GCM[-_]/.test(cipher) || /CHACHA20/.test(cipher)) return 16;
  const m = /-(MD5|SHA|SHA256|SHA384)$/.exec(cipher);
  const hashLen = m ? HASH_LEN[m[1]!]! : 0;
  const pre = dataLen + hashLen;
  let padding = 0;
  if (/RC4/.test(cipher)) padding = 0;
  else if (/DES/.test(cipher)) padding = 8 - (pre % 8);
  else if (/AES/.test(cipher)) padding = 16 - (pre % 16);
  return hashLen + padding;
}

/**
 * Kerberos encryption types (RFC 3961 framework) on node:crypto:
 *  - aes128/aes256-cts-hmac-sha1-96 (RFC 3962): PBKDF2-HMAC-SHA1 string-to-key, DK key derivation (RFC 3961 5.1),
 *    CBC ciphertext stealing, HMAC-SHA1-96 integrity;
 *  - aes128-cts-hmac-sha256-128 / aes256-cts-hmac-sha384-192 (RFC 8009): KDF-HMAC-SHA2 (SP 800-108 counter mode);
 *  - rc4-hmac (RFC 4757), with the project's own RC4 and MD4 (OpenSSL 3 refuses both).
 * Every function is pure: the confounder is injected for vector tests, random by default.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { KerberosError } from '../../errors.js';
import { md4 } from '../../crypto/md4.js';
import { rc4 } from '../../crypto/rc4.js';
import { concatBytes, utf16le, utf8 } from '../../util/bytes.js';

/** RFC 3961 8 / RFC 3962 7 / RFC 8009 8 / RFC 4757 encryption type numbers. */
export enum EncType {
  AES128_CTS_HMAC_SHA1_96 = 17,
  AES256_CTS_HMAC_SHA1_96 = 18,
  AES128_CTS_HMAC_SHA256_128 = 19,
  AES256_CTS_HMAC_SHA384_192 = 20,
  RC4_HMAC = 23,
}

/** RFC 3961 / 3962 / 8009 / 4757 checksum type numbers. */
export enum ChecksumType {
  HMAC_SHA1_96_AES128 = 15,
  HMAC_SHA1_96_AES256 = 16,
  HMAC_SHA256_128_AES128 = 19,
  HMAC_SHA384_192_AES256 = 20,
  HMAC_MD5 = -138,
  /** RFC 4121 4.1.1 the GSS authenticator checksum (not keyed) */
  GSSAPI = 0x8003,
}

export const ENCTYPE_NAMES: Record<number, string> = {
  17: 'aes128-cts-hmac-sha1-96',
  18: 'aes256-cts-hmac-sha1-96',
  19: 'aes128-cts-hmac-sha256-128',
  20: 'aes256-cts-hmac-sha384-192',
  23: 'rc4-hmac',
};

export interface Key {
  etype: number;
  value: Uint8Array;
}

const u8 = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
const be32 = (n: number) => Uint8Array.of((n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255);
const le32 = (n: number) => Uint8Array.of(n & 255, (n >>> 8) & 255, (n >>> 16) & 255, (n >>> 24) & 255);

// ------------------------------------------------------------------------------------------------------------
// RFC 3961 5.1 n-fold
// ------------------------------------------------------------------------------------------------------------

/** n-fold(input) to `nbytes` bytes (RFC 3961 5.1): replicate with 13-bit right rotations, one's-complement add. */
export function nfold(input: Uint8Array, nbytes: number): Uint8Array {
  const inLen = input.length;
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  const lcm = (inLen * nbytes) / gcd(inLen, nbytes);
  const out = new Uint8Array(nbytes);
  let byte = 0;
  // the same algorithm as the RFC's reference: walk the lcm bytes from the end, adding each rotated input bit-byte
  for (let i = lcm - 1; i >= 0; i--) {
    const msbit = ((inLen << 3) - 1 + ((inLen << 3) + 13) * Math.floor(i / inLen) + ((inLen - (i % inLen)) << 3)) % (inLen << 3);
    byte += (((input[(inLen - 1 - (msbit >>> 3)) % inLen]! << 8) | input[(inLen - (msbit >>> 3)) % inLen]!) >>> ((msbit & 7) + 1)) & 0xff;
    byte += out[i % nbytes]!;
    out[i % nbytes] = byte & 0xff;
    byte >>>= 8;
  }
  if (byte) {
    for (let i = nbytes - 1; i >= 0; i--) {
      byte += out[i]!;
      out[i] = byte & 0xff;
      byte >>>= 8;
    }
  }
  return out;
}

// ------------------------------------------------------------------------------------------------------------
// AES CBC with ciphertext stealing (RFC 3962 5: CBC-CS3, last two blocks swapped), IV zero unless given
// ------------------------------------------------------------------------------------------------------------

function aesName(key: Uint8Array, mode: 'cbc' | 'ecb'): string {
  return `aes-${key.length * 8}-${mode}`;
}

function aesCbc(key: Uint8Array, iv: Uint8Array, data: Uint8Array, decrypt: boolean): Uint8Array {
  const c = decrypt ? createDecipheriv(aesName(key, 'cbc'), key, iv) : createCipheriv(aesName(key, 'cbc'), key, iv);
  c.setAutoPadding(false);
  return u8(Buffer.concat([c.update(data), c.final()]));
}

function aesEcbBlock(key: Uint8Array, block: Uint8Array, decrypt: boolean): Uint8Array {
  const c = decrypt ? createDecipheriv(aesName(key, 'ecb'), key, null) : createCipheriv(aesName(key, 'ecb'), key, null);
  c.setAutoPadding(false);
  return u8(Buffer.concat([c.update(block), c.final()]));
}

export function ctsEncrypt(key: Uint8Array, plain: Uint8Array, iv: Uint8Array = new Uint8Array(16)): Uint8Array {
  const n = plain.length;
  if (n < 16) throw new KerberosError('AES-CTS needs at least one block of input');
  if (n === 16) return aesCbc(key, iv, plain, false);
  const padLen = (16 - (n % 16)) % 16;
  const padded = concatBytes(plain, new Uint8Array(padLen));
  const c = aesCbc(key, iv, padded, false);
  const blocks = c.length / 16;
  const head = c.subarray(0, (blocks - 2) * 16);
  const cn1 = c.subarray((blocks - 2) * 16, (blocks - 1) * 16);
  const cn = c.subarray((blocks - 1) * 16);
  const lastLen = n % 16 === 0 ? 16 : n % 16;
  return concatBytes(head, cn, cn1.subarray(0, lastLen));
}

export function ctsDecrypt(key: Uint8Array, cipher: Uint8Array, iv: Uint8Array = new Uint8Array(16)): Uint8Array {
  const n = cipher.length;
  if (n < 16) throw new KerberosError('AES-CTS ciphertext is shorter than one block: the data is corrupt or the key is wrong');
  if (n === 16) return aesCbc(key, iv, cipher, true);
  const lastLen = n % 16 === 0 ? 16 : n % 16;
  const fullBlocks = Math.ceil(n / 16); // including the partial one
  const headLen = (fullBlocks - 2) * 16;
  const head = cipher.subarray(0, headLen);
  const cn = cipher.subarray(headLen, headLen + 16); // really C_n (swapped)
  const cn1Partial = cipher.subarray(headLen + 16);
  const prev = headLen ? head.subarray(headLen - 16) : iv;
  // D_n = Dec(C_n) = P_n xor C_{n-1}, where C_{n-1} = cn1Partial || tail(D_n)
  const dn = aesEcbBlock(key, cn, true);
  const cn1 = new Uint8Array(16);
  cn1.set(cn1Partial);
  cn1.set(dn.subarray(lastLen), lastLen);
  const pn = new Uint8Array(lastLen);
  for (let i = 0; i < lastLen; i++) pn[i] = dn[i]! ^ cn1[i]!;
  const pn1raw = aesEcbBlock(key, cn1, true);
  const pn1 = new Uint8Array(16);
  for (let i = 0; i < 16; i++) pn1[i] = pn1raw[i]! ^ prev[i]!;
  const headPlain = headLen ? aesCbc(key, iv, head, true) : new Uint8Array(0);
  return concatBytes(headPlain, pn1, pn);
}

// ------------------------------------------------------------------------------------------------------------
// Profiles
// ------------------------------------------------------------------------------------------------------------

export interface EncProfile {
  etype: number;
  name: string;
  keySize: number;
  checksumType: number;
  /** checksum / HMAC output length */
  macSize: number;
  confounderSize: number;
  defaultIterations: number;
  stringToKey(password: string, salt: Uint8Array, params?: Uint8Array): Uint8Array;
  encrypt(key: Uint8Array, usage: number, plain: Uint8Array, confounder?: Uint8Array): Uint8Array;
  decrypt(key: Uint8Array, usage: number, cipher: Uint8Array): Uint8Array;
  checksum(key: Uint8Array, usage: number, data: Uint8Array): Uint8Array;
  randomKey(): Uint8Array;
}

function iterations(params: Uint8Array | undefined, dflt: number): number {
  if (!params || params.length === 0) return dflt;
  if (params.length !== 4) throw new KerberosError('the KDC sent invalid s2kparams (expected 4 bytes)');
  const n = ((params[0]! << 24) >>> 0) + (params[1]! << 16) + (params[2]! << 8) + params[3]!;
  if (n === 0 || n > 10_000_000) throw new KerberosError(`the KDC asked for ${n} PBKDF2 iterations, refused`);
  return n;
}

function checkMac(expected: Uint8Array, got: Uint8Array): void {
  if (expected.length !== got.length || !timingSafeEqual(expected, got)) {
    throw new KerberosError('integrity check failed while decrypting: wrong key (wrong password, or a stale keytab/ticket)', 31);
  }
}

/** RFC 3961 5.1 DK(key, constant) for AES (E = AES, blocksize 16). */
export function dk(key: Uint8Array, constant: Uint8Array): Uint8Array {
  let block = nfold(constant, 16);
  const out: Uint8Array[] = [];
  let len = 0;
  while (len < key.length) {
    block = aesEcbBlock(key, block, false);
    out.push(block);
    len += 16;
  }
  return concatBytes(...out).subarray(0, key.length);
}

function usageConst(usage: number, tail: number): Uint8Array {
  return concatBytes(be32(usage), Uint8Array.of(tail));
}

function aesSha1(etype: number, keySize: number): EncProfile {
  const hmac = (k: Uint8Array, d: Uint8Array) => u8(createHmac('sha1', k).update(d).digest()).subarray(0, 12);
  return {
    etype,
    name: ENCTYPE_NAMES[etype]!,
    keySize,
    checksumType: etype === 17 ? 15 : 16,
    macSize: 12,
    confounderSize: 16,
    defaultIterations: 4096,
    stringToKey(password, salt, params) {
      const tkey = u8(pbkdf2Sync(utf8(password), salt, iterations(params, 4096), keySize, 'sha1'));
      return dk(tkey, utf8('kerberos'));
    },
    encrypt(key, usage, plain, confounder = u8(randomBytes(16))) {
      const ke = dk(key, usageConst(usage, 0xaa));
      const ki = dk(key, usageConst(usage, 0x55));
      const p = concatBytes(confounder, plain);
      return concatBytes(ctsEncrypt(ke, p), hmac(ki, p));
    },
    decrypt(key, usage, cipher) {
      if (cipher.length < 16 + 12) throw new KerberosError('ciphertext too short for ' + ENCTYPE_NAMES[etype]);
      const ke = dk(key, usageConst(usage, 0xaa));
      const ki = dk(key, usageConst(usage, 0x55));
      const p = ctsDecrypt(ke, cipher.subarray(0, cipher.length - 12));
      checkMac(hmac(ki, p), cipher.subarray(cipher.length - 12));
      return p.subarray(16);
    },
    checksum(key, usage, data) {
      return hmac(dk(key, usageConst(usage, 0x99)), data);
    },
    randomKey: () => u8(randomBytes(keySize)),
  };
}

/** RFC 8009 3: KDF-HMAC-SHA2(key, label, k) = k-truncate(HMAC(key, 00000001 | label | 00 | k)). */
export function kdfHmacSha2(hash: 'sha256' | 'sha384', key: Uint8Array, label: Uint8Array, kBits: number): Uint8Array {
  return u8(
    createHmac(hash, key)
      .update(concatBytes(be32(1), label, Uint8Array.of(0), be32(kBits)))
      .digest(),
  ).subarray(0, kBits / 8);
}

function aesSha2(etype: number, keySize: number, hash: 'sha256' | 'sha384', macSize: number): EncProfile {
  const name = ENCTYPE_NAMES[etype]!;
  const kdf = (k: Uint8Array, label: Uint8Array, bits: number) => kdfHmacSha2(hash, k, label, bits);
  const keBits = keySize * 8;
  const kiBits = macSize * 8;
  return {
    etype,
    name,
    keySize,
    checksumType: etype,
    macSize,
    confounderSize: 16,
    defaultIterations: 32768,
    stringToKey(password, salt, params) {
      const saltp = concatBytes(utf8(name), Uint8Array.of(0), salt);
      const tkey = u8(pbkdf2Sync(utf8(password), saltp, iterations(params, 32768), keySize, hash));
      return kdf(tkey, utf8('kerberos'), keBits);
    },
    encrypt(key, usage, plain, confounder = u8(randomBytes(16))) {
      const ke = kdf(key, usageConst(usage, 0xaa), keBits);
      const ki = kdf(key, usageConst(usage, 0x55), kiBits);
      const c = ctsEncrypt(ke, concatBytes(confounder, plain));
      const h = u8(
        createHmac(hash, ki)
          .update(concatBytes(new Uint8Array(16), c))
          .digest(),
      ).subarray(0, macSize);
      return concatBytes(c, h);
    },
    decrypt(key, usage, cipher) {
      if (cipher.length < 16 + macSize) throw new KerberosError('ciphertext too short for ' + name);
      const ke = kdf(key, usageConst(usage, 0xaa), keBits);
      const ki = kdf(key, usageConst(usage, 0x55), kiBits);
      const c = cipher.subarray(0, cipher.length - macSize);
      const h = u8(
        createHmac(hash, ki)
          .update(concatBytes(new Uint8Array(16), c))
          .digest(),
      ).subarray(0, macSize);
      checkMac(h, cipher.subarray(cipher.length - macSize));
      return ctsDecrypt(ke, c).subarray(16);
    },
    checksum(key, usage, data) {
      const kc = kdf(key, usageConst(usage, 0x99), kiBits);
      return u8(createHmac(hash, kc).update(data).digest()).subarray(0, macSize);
    },
    randomKey: () => u8(randomBytes(keySize)),
  };
}

/** RFC 4757 3: Microsoft's key usage numbers (MIT arcfour_translate_usage). */
export function rc4Usage(usage: number): number {
  switch (usage) {
    case 3:
      return 8;
    case 9:
      return 8;
    case 23:
      return 13;
    default:
      return usage;
  }
}

const hmacMd5 = (k: Uint8Array, d: Uint8Array) => u8(createHmac('md5', k).update(d).digest());

const rc4Profile: EncProfile = {
  etype: EncType.RC4_HMAC,
  name: 'rc4-hmac',
  keySize: 16,
  checksumType: ChecksumType.HMAC_MD5,
  macSize: 16,
  confounderSize: 8,
  defaultIterations: 0,
  stringToKey(password) {
    return md4(utf16le(password));
  },
  encrypt(key, usage, plain, confounder = u8(randomBytes(8))) {
    const k1 = hmacMd5(key, le32(rc4Usage(usage)));
    const data = concatBytes(confounder, plain);
    const cksum = hmacMd5(k1, data);
    const k3 = hmacMd5(k1, cksum);
    return concatBytes(cksum, rc4(k3, data));
  },
  decrypt(key, usage, cipher) {
    if (cipher.length < 16 + 8) throw new KerberosError('ciphertext too short for rc4-hmac');
    const k1 = hmacMd5(key, le32(rc4Usage(usage)));
    const cksum = cipher.subarray(0, 16);
    const k3 = hmacMd5(k1, cksum);
    const data = rc4(k3, cipher.subarray(16));
    checkMac(hmacMd5(k1, data), cksum);
    return data.subarray(8);
  },
  /** RFC 4757 4 HMAC-MD5 checksum: Ksign = HMAC(K, "signaturekey\0"), HMAC(Ksign, MD5(usage_le || data)). */
  checksum(key, usage, data) {
    const ksign = hmacMd5(key, utf8('signaturekey\0'));
    const tmp = u8(
      createHash('md5')
        .update(le32(rc4Usage(usage)))
        .update(data)
        .digest(),
    );
    return hmacMd5(ksign, tmp);
  },
  randomKey: () => u8(randomBytes(16)),
};

const PROFILES: Record<number, EncProfile> = {
  17: aesSha1(17, 16),
  18: aesSha1(18, 32),
  19: aesSha2(19, 16, 'sha256', 16),
  20: aesSha2(20, 32, 'sha384', 24),
  23: rc4Profile,
};

/** Our preference order (strongest first), what we ask the KDC for. */
export const DEFAULT_ETYPES = [18, 17, 20, 19, 23];

export function profile(etype: number): EncProfile {
  const p = PROFILES[etype];
  if (!p)
    throw new KerberosError(
      `encryption type ${etype} is not supported (supported: ${Object.keys(PROFILES)
        .map((e) => ENCTYPE_NAMES[Number(e)])
        .join(', ')}); ask the administrator to enable AES for this account`,
      14,
    );
  return p;
}

export function isSupportedEtype(etype: number): boolean {
  return etype in PROFILES;
}

/** Checksum types map to the etype whose key computes them. */
export function checksumProfile(cksumtype: number): EncProfile {
  for (const p of Object.values(PROFILES)) if (p.checksumType === cksumtype) return p;
  throw new KerberosError(`checksum type ${cksumtype} is not supported`, 15);
}

export function encrypt(key: Key, usage: number, plain: Uint8Array): Uint8Array {
  return profile(key.etype).encrypt(key.value, usage, plain);
}
export function decrypt(key: Key, usage: number, cipher: Uint8Array): Uint8Array {
  return profile(key.etype).decrypt(key.value, usage, cipher);
}
export function stringToKey(etype: number, password: string, salt: Uint8Array | string, params?: Uint8Array): Key {
  return { etype, value: profile(etype).stringToKey(password, typeof salt === 'string' ? utf8(salt) : salt, params) };
}
export function randomKey(etype: number): Key {
  return { etype, value: profile(etype).randomKey() };
}

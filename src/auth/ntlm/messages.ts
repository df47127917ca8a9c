/**
 * NTLM wire messages (MS-NLMP 2.2.1): NEGOTIATE, CHALLENGE, AUTHENTICATE, AV_PAIR lists and VERSION.
 * Pure codecs: bytes in, typed objects out (and back). Every decoder bounds-checks and throws AuthError on bad input.
 */
import { AuthError, decodeToken } from '../../errors.js';
import { concatBytes, fromUtf16le, utf16le } from '../../util/bytes.js';
import { AvId, MessageType, NegotiateFlags as F, hasFlag } from './flags.js';

/** "NTLMSSP\0" (MS-NLMP 2.2.1 Signature). */
export const NTLMSSP_SIGNATURE = new Uint8Array([0x4e, 0x54, 0x4c, 0x4d, 0x53, 0x53, 0x50, 0x00]);

/** True when `b` starts with the NTLMSSP signature (a raw NTLM token rather than SPNEGO). */
export function isNtlmToken(b: Uint8Array): boolean {
  if (b.length < 8) return false;
  for (let i = 0; i < 8; i++) if (b[i] !== NTLMSSP_SIGNATURE[i]) return false;
  return true;
}

/** MS-NLMP 2.2.2.10 VERSION (8 bytes). */
export interface Version {
  major: number;
  minor: number;
  build: number;
  revision: number;
}
/** Windows 10 / Server 2019-like version, NTLMSSP_REVISION_W2K3 (15). */
export const DEFAULT_VERSION: Version = { major: 10, minor: 0, build: 17763, revision: 15 };

export function encodeVersion(v: Version): Uint8Array {
  const b = new Uint8Array(8);
  b[0] = v.major;
  b[1] = v.minor;
  b[2] = v.build & 0xff;
  b[3] = (v.build >>> 8) & 0xff;
  b[7] = v.revision;
  return b;
}
export function decodeVersion(b: Uint8Array): Version {
  return { major: b[0]!, minor: b[1]!, build: b[2]! | (b[3]! << 8), revision: b[7]! };
}

/** MS-NLMP 2.2.2.1 AV_PAIR. */
export interface AvPair {
  id: number;
  value: Uint8Array;
}

/** Encode an AV_PAIR list; appends MsvAvEOL. */
export function encodeAvPairs(pairs: readonly AvPair[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const p of pairs) {
    if (p.id === AvId.EOL) continue;
    const h = new Uint8Array(4);
    const dv = new DataView(h.buffer);
    dv.setUint16(0, p.id, true);
    dv.setUint16(2, p.value.length, true);
    parts.push(h, p.value);
  }
  parts.push(new Uint8Array(4));
  return concatBytes(...parts);
}

/** Decode an AV_PAIR list up to MsvAvEOL (a missing EOL at the very end is tolerated). */
export function decodeAvPairs(b: Uint8Array, what = 'target info'): AvPair[] {
  const out: AvPair[] = [];
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let o = 0;
  while (o + 4 <= b.length) {
    const id = dv.getUint16(o, true);
    const len = dv.getUint16(o + 2, true);
    o += 4;
    if (id === AvId.EOL) return out;
    if (o + len > b.length) throw new AuthError(`NTLM ${what} is truncated: AV_PAIR ${id} claims ${len} bytes, ${b.length - o} left`);
    out.push({ id, value: b.slice(o, o + len) });
    o += len;
  }
  if (o !== b.length) throw new AuthError(`NTLM ${what} is truncated (${b.length - o} stray bytes)`);
  return out;
}

export function avGet(pairs: readonly AvPair[], id: number): Uint8Array | undefined {
  return pairs.find((p) => p.id === id)?.value;
}
export function avString(pairs: readonly AvPair[], id: number): string | undefined {
  const v = avGet(pairs, id);
  return v ? fromUtf16le(v) : undefined;
}

function str(s: string, unicode: boolean): Uint8Array {
  return unicode ? utf16le(s) : new Uint8Array(Buffer.from(s, 'latin1'));
}
function unstr(b: Uint8Array, unicode: boolean): string {
  return unicode ? fromUtf16le(b) : Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
}

/** Bounds-checked reader of the fixed header and its (Len, MaxLen, Offset) payload fields. */
class Reader {
  readonly dv: DataView;
  constructor(
    readonly b: Uint8Array,
    readonly what: string,
  ) {
    this.dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }
  need(n: number): void {
    if (this.b.length < n) throw new AuthError(`NTLM ${this.what} is truncated: ${this.b.length} bytes, at least ${n} needed`);
  }
  u32(o: number): number {
    return this.dv.getUint32(o, true);
  }
  /** MS-NLMP 2.2 "fields": Len u16, MaxLen u16, BufferOffset u32. */
  field(o: number, name: string): { data: Uint8Array; offset: number } {
    const len = this.dv.getUint16(o, true);
    const off = this.dv.getUint32(o + 4, true);
    if (len === 0) return { data: new Uint8Array(0), offset: off };
    if (off > this.b.length || off + len > this.b.length) {
      throw new AuthError(
        `NTLM ${this.what} is malformed: ${name} (offset ${off}, ${len} bytes) lies outside the ${this.b.length}-byte message`,
      );
    }
    return { data: this.b.slice(off, off + len), offset: off };
  }
}

function checkHeader(r: Reader, type: number, min: number): void {
  r.need(12);
  for (let i = 0; i < 8; i++) {
    if (r.b[i] !== NTLMSSP_SIGNATURE[i])
      throw new AuthError(`not an NTLM ${r.what}: the NTLMSSP signature is missing (is the token SPNEGO, Kerberos or garbage?)`);
  }
  const t = r.u32(8);
  if (t !== type) throw new AuthError(`expected an NTLM ${r.what} (type ${type}) but got message type ${t}`);
  r.need(min);
}

/** Builds a message: fixed header + payload, fills the (Len, MaxLen, Offset) fields. */
class Writer {
  private readonly parts: Uint8Array[] = [];
  private off: number;
  readonly head: Uint8Array;
  readonly dv: DataView;
  constructor(headerLen: number, type: number) {
    this.head = new Uint8Array(headerLen);
    this.dv = new DataView(this.head.buffer);
    this.head.set(NTLMSSP_SIGNATURE, 0);
    this.dv.setUint32(8, type, true);
    this.off = headerLen;
  }
  field(at: number, data: Uint8Array | undefined): void {
    const d = data ?? new Uint8Array(0);
    if (d.length > 0xffff) throw new AuthError('NTLM field too long');
    this.dv.setUint16(at, d.length, true);
    this.dv.setUint16(at + 2, d.length, true);
    this.dv.setUint32(at + 4, this.off, true);
    if (d.length) {
      this.parts.push(d);
      this.off += d.length;
    }
  }
  finish(): Uint8Array {
    return concatBytes(this.head, ...this.parts);
  }
}

/** MS-NLMP 2.2.1.1 NEGOTIATE_MESSAGE. Always encoded in the 40-byte form with the Version field. */
export interface NegotiateMessage {
  flags: number;
  domainName?: string;
  workstation?: string;
  version?: Version;
}

export function encodeNegotiate(m: NegotiateMessage): Uint8Array {
  const w = new Writer(40, MessageType.NEGOTIATE);
  let flags = (m.flags | F.VERSION) >>> 0;
  if (m.domainName) flags |= F.OEM_DOMAIN_SUPPLIED;
  if (m.workstation) flags |= F.OEM_WORKSTATION_SUPPLIED;
  w.dv.setUint32(12, flags >>> 0, true);
  w.field(16, m.domainName ? str(m.domainName, false) : undefined);
  w.field(24, m.workstation ? str(m.workstation, false) : undefined);
  w.head.set(encodeVersion(m.version ?? DEFAULT_VERSION), 32);
  return w.finish();
}

/** Negotiate message from a peer; malformed → InvalidTokenError. */
export function decodeNegotiate(b: Uint8Array): NegotiateMessage {
  return decodeToken('NTLM', () => decodeNegotiateFields(b));
}
function decodeNegotiateFields(b: Uint8Array): NegotiateMessage {
  const r = new Reader(b, 'NEGOTIATE message');
  checkHeader(r, MessageType.NEGOTIATE, 16);
  const flags = r.u32(12);
  const m: NegotiateMessage = { flags };
  if (b.length >= 32) {
    // Domain and workstation are OEM strings (MS-NLMP 2.2.1.1); only read when the flags say they are supplied.
    if (hasFlag(flags, F.OEM_DOMAIN_SUPPLIED)) m.domainName = unstr(r.field(16, 'DomainName').data, false);
    if (hasFlag(flags, F.OEM_WORKSTATION_SUPPLIED)) m.workstation = unstr(r.field(24, 'Workstation').data, false);
  }
  if (b.length >= 40 && hasFlag(flags, F.VERSION)) m.version = decodeVersion(b.subarray(32, 40));
  return m;
}

/** MS-NLMP 2.2.1.2 CHALLENGE_MESSAGE. */
export interface ChallengeMessage {
  flags: number;
  targetName: string;
  serverChallenge: Uint8Array;
  targetInfo: AvPair[];
  /** The raw TargetInfo bytes as received (echoed into the NTLMv2 response). */
  targetInfoRaw: Uint8Array;
  version?: Version;
}

export function encodeChallenge(m: Omit<ChallengeMessage, 'targetInfoRaw'> & { targetInfoRaw?: Uint8Array }): Uint8Array {
  const w = new Writer(56, MessageType.CHALLENGE);
  const unicode = hasFlag(m.flags, F.UNICODE);
  w.field(12, m.targetName ? str(m.targetName, unicode) : undefined);
  w.dv.setUint32(20, m.flags >>> 0, true);
  if (m.serverChallenge.length !== 8) throw new AuthError('NTLM server challenge must be 8 bytes');
  w.head.set(m.serverChallenge, 24);
  w.field(40, m.targetInfoRaw ?? encodeAvPairs(m.targetInfo));
  w.head.set(encodeVersion(m.version ?? DEFAULT_VERSION), 48);
  return w.finish();
}

/** Challenge message from a peer; malformed → InvalidTokenError. */
export function decodeChallenge(b: Uint8Array): ChallengeMessage {
  return decodeToken('NTLM', () => decodeChallengeFields(b));
}
function decodeChallengeFields(b: Uint8Array): ChallengeMessage {
  const r = new Reader(b, 'CHALLENGE message');
  checkHeader(r, MessageType.CHALLENGE, 32);
  const flags = r.u32(20);
  // Real servers (FreeRDP) echo OEM and UNICODE together: UNICODE wins.
  const unicode = hasFlag(flags, F.UNICODE);
  const targetName = unstr(r.field(12, 'TargetName').data, unicode);
  const serverChallenge = b.slice(24, 32);
  let targetInfoRaw: Uint8Array = new Uint8Array(0);
  let version: Version | undefined;
  if (b.length >= 48) {
    targetInfoRaw = r.field(40, 'TargetInfo').data;
    if (b.length >= 56 && hasFlag(flags, F.VERSION)) version = decodeVersion(b.subarray(48, 56));
  }
  const targetInfo = decodeAvPairs(targetInfoRaw);
  return version
    ? { flags, targetName, serverChallenge, targetInfo, targetInfoRaw, version }
    : { flags, targetName, serverChallenge, targetInfo, targetInfoRaw };
}

/** MS-NLMP 2.2.1.3 AUTHENTICATE_MESSAGE. */
export interface AuthenticateMessage {
  flags: number;
  lmChallengeResponse: Uint8Array;
  ntChallengeResponse: Uint8Array;
  domainName: string;
  userName: string;
  workstation: string;
  encryptedRandomSessionKey: Uint8Array;
  version?: Version;
  /** 16 bytes at offset 72 when present. */
  mic?: Uint8Array;
}

/** Offset of the MIC in an AUTHENTICATE message that carries Version (MS-NLMP 2.2.1.3). */
export const MIC_OFFSET = 72;

/** Encode with Version and a 16-byte MIC slot (payload at 88). The MIC slot is zero unless `mic` is given. */
export function encodeAuthenticate(m: AuthenticateMessage): Uint8Array {
  const w = new Writer(88, MessageType.AUTHENTICATE);
  const unicode = hasFlag(m.flags, F.UNICODE);
  w.field(28, str(m.domainName, unicode));
  w.field(36, str(m.userName, unicode));
  w.field(44, str(m.workstation, unicode));
  w.field(12, m.lmChallengeResponse);
  w.field(20, m.ntChallengeResponse);
  w.field(52, m.encryptedRandomSessionKey);
  w.dv.setUint32(60, m.flags >>> 0, true);
  w.head.set(encodeVersion(m.version ?? DEFAULT_VERSION), 64);
  if (m.mic) w.head.set(m.mic, MIC_OFFSET);
  return w.finish();
}

/** Authenticate message from a peer; malformed → InvalidTokenError. */
export function decodeAuthenticate(b: Uint8Array): AuthenticateMessage & { payloadOffset: number } {
  return decodeToken('NTLM', () => decodeAuthenticateFields(b));
}
function decodeAuthenticateFields(b: Uint8Array): AuthenticateMessage & { payloadOffset: number } {
  const r = new Reader(b, 'AUTHENTICATE message');
  checkHeader(r, MessageType.AUTHENTICATE, 64);
  const flags = r.u32(60);
  const unicode = hasFlag(flags, F.UNICODE);
  const lm = r.field(12, 'LmChallengeResponse');
  const nt = r.field(20, 'NtChallengeResponse');
  const dom = r.field(28, 'DomainName');
  const usr = r.field(36, 'UserName');
  const wks = r.field(44, 'Workstation');
  const key = r.field(52, 'EncryptedRandomSessionKey');
  // The lowest payload offset tells where the fixed part ends (Version at 64, MIC at 72 when it reaches 88).
  let payloadOffset = b.length;
  for (const f of [lm, nt, dom, usr, wks, key]) if (f.data.length && f.offset < payloadOffset) payloadOffset = f.offset;
  const m: AuthenticateMessage & { payloadOffset: number } = {
    flags,
    lmChallengeResponse: lm.data,
    ntChallengeResponse: nt.data,
    domainName: unstr(dom.data, unicode),
    userName: unstr(usr.data, unicode),
    workstation: unstr(wks.data, unicode),
    encryptedRandomSessionKey: key.data,
    payloadOffset,
  };
  if (payloadOffset >= 72 && b.length >= 72) m.version = decodeVersion(b.subarray(64, 72));
  if (payloadOffset >= 88 && b.length >= 88) m.mic = b.slice(72, 88);
  return m;
}

/** MS-NLMP 2.2.2.7 NTLMv2_CLIENT_CHALLENGE (the "temp" blob of the NTLMv2 response). */
export interface NtlmV2ClientChallenge {
  timestamp: Uint8Array;
  clientChallenge: Uint8Array;
  avPairs: AvPair[];
}

export function encodeClientChallenge(c: NtlmV2ClientChallenge): Uint8Array {
  const head = new Uint8Array(28);
  head[0] = 1;
  head[1] = 1;
  head.set(c.timestamp, 8);
  head.set(c.clientChallenge, 16);
  return concatBytes(head, encodeAvPairs(c.avPairs), new Uint8Array(4));
}

export function decodeClientChallenge(b: Uint8Array): NtlmV2ClientChallenge {
  if (b.length < 28) throw new AuthError(`NTLMv2 response is truncated (${b.length + 16} bytes)`);
  if (b[0] !== 1 || b[1] !== 1) throw new AuthError('NTLMv2 response has an unknown RespType/HiRespType (expected 1/1)');
  return { timestamp: b.slice(8, 16), clientChallenge: b.slice(16, 24), avPairs: decodeAvPairs(b.subarray(28), 'NTLMv2 client challenge') };
}

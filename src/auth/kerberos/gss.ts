/**
 * The GSS-API Kerberos V5 mechanism (RFC 4121, RFC 1964 framing), both roles, sans-IO but for the injected
 * credential source (which may talk to a KDC through kdc.ts):
 *  - initiator: AP-REQ with the 0x8003 authenticator checksum (channel bindings, flags, delegated KRB-CRED),
 *    mutual authentication through the AP-REP (acceptor subkey and sequence number);
 *  - acceptor: opens the ticket with a keytab key, checks the authenticator (clock skew, channel bindings),
 *    takes a delegated TGT, answers with an AP-REP;
 *  - per-message tokens: RFC 4121 4.2.6.2 Wrap (sealed) and 4.2.6.1 MIC, in WinRM's layout (MS-WSMV 2.2.9.1:
 *    RRC 28, EC 0, header = the first 60 bytes) for the AES etypes.
 */
import { createHash, createHmac, randomBytes, randomInt } from 'node:crypto';
import { rc4 } from '../../crypto/rc4.js';
import { InvalidTokenError, KerberosError } from '../../errors.js';
import { concatBytes } from '../../util/bytes.js';
import { application } from '../../asn1/der.js';
import type { ChannelBindings } from '../types.js';
import { decrypt, encrypt, profile, type Key } from './crypto.js';
import { krbErrorToError } from './errors.js';
import type { Credential, KeytabEntry } from './ccache.js';
import { samePrincipal } from './ccache.js';
import {
  ApOptions,
  KeyUsage,
  TicketFlags,
  decodeApRep,
  decodeApReq,
  decodeAuthenticator,
  decodeEncApRepPart,
  decodeEncKrbCredPart,
  decodeEncTicketPart,
  decodeKrbCred,
  decodeKrbError,
  encodeApRep,
  encodeApReq,
  encodeAuthenticator,
  encodeEncApRepPart,
  encodeEncKrbCredPart,
  encodeKrbCred,
  encodeKrbError,
  guard,
  principalText,
  type Authenticator,
  type EncTicketPart,
  type KrbCredInfo,
  type PrincipalName,
} from './messages.js';
import { newSubkey } from './client.js';

export const KRB5_OID_DER = Uint8Array.of(0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02);
const MS_KRB5_OID_DER = Uint8Array.of(0x06, 0x09, 0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02);

/** RFC 1964 1.1 token ids. */
export const TokId = { AP_REQ: 0x0100, AP_REP: 0x0200, KRB_ERROR: 0x0300 } as const;

/** RFC 4121 4.1.1.1 / RFC 2744 context flags in the checksum. */
export const GssFlags = { DELEG: 1, MUTUAL: 2, REPLAY: 4, SEQUENCE: 8, CONF: 16, INTEG: 32 } as const;

/** Frame a mechanism token: 0x60 len OID tok-id body (RFC 2743 3.1, RFC 1964 1.1). */
export function frameToken(tokId: number, body: Uint8Array): Uint8Array {
  const inner = concatBytes(KRB5_OID_DER, Uint8Array.of(tokId >> 8, tokId & 255), body);
  // [APPLICATION 0] constructed = 0x60
  return application(0, inner);
}

/** Unframe a GSS krb5 token; raw AP-REQ/AP-REP/KRB-ERROR (no framing) are accepted too. */
export function unframeToken(token: Uint8Array): { tokId: number; body: Uint8Array } {
  return guard('GSS token', () => {
    if (token.length < 2) throw new InvalidTokenError('Kerberos', 'GSS token too short');
    if (token[0] === 0x60) {
      // parse length
      let off = 1;
      let len = token[off++]!;
      if (len & 0x80) {
        const n = len & 0x7f;
        if (n > 4) throw new InvalidTokenError('Kerberos', 'bad GSS token length');
        len = 0;
        for (let i = 0; i < n; i++) len = len * 256 + token[off++]!;
      }
      if (off + len > token.length) throw new InvalidTokenError('Kerberos', 'GSS token truncated');
      const end = off + len;
      const oid = token.subarray(off, off + 11);
      const ok = oid.length === 11 && (oid.every((b, i) => b === KRB5_OID_DER[i]) || oid.every((b, i) => b === MS_KRB5_OID_DER[i]));
      if (!ok) throw new InvalidTokenError('Kerberos', 'GSS token is not for the Kerberos V5 mechanism');
      off += 11;
      if (off + 2 > end) throw new InvalidTokenError('Kerberos', 'GSS token truncated');
      const tokId = (token[off]! << 8) | token[off + 1]!;
      return { tokId, body: token.subarray(off + 2, end) };
    }
    const tag = token[0]! & 0x1f;
    const map: Record<number, number> = { 14: TokId.AP_REQ, 15: TokId.AP_REP, 30: TokId.KRB_ERROR };
    if ((token[0]! & 0xe0) === 0x60 && map[tag]) return { tokId: map[tag]!, body: token };
    throw new InvalidTokenError('Kerberos', 'not a Kerberos GSS token');
  });
}

/** RFC 4121 4.1.1.2: MD5 of the gss_channel_bindings_struct; 16 zero bytes without bindings. */
export function channelBindingHash(cb?: ChannelBindings): Uint8Array {
  if (!cb) return new Uint8Array(16);
  const le = (n: number) => Uint8Array.of(n & 255, (n >>> 8) & 255, (n >>> 16) & 255, (n >>> 24) & 255);
  const ia = cb.initiatorAddress ?? new Uint8Array(0);
  const aa = cb.acceptorAddress ?? new Uint8Array(0);
  const ad = cb.applicationData ?? new Uint8Array(0);
  const s = concatBytes(
    le(cb.initiatorAddrType ?? 0),
    le(ia.length),
    ia,
    le(cb.acceptorAddrType ?? 0),
    le(aa.length),
    aa,
    le(ad.length),
    ad,
  );
  return new Uint8Array(createHash('md5').update(s).digest());
}

/** RFC 4121 4.1.1 the authenticator checksum value. */
export function encodeGssChecksum(flags: number, cb?: ChannelBindings, deleg?: Uint8Array): Uint8Array {
  const le32 = (n: number) => Uint8Array.of(n & 255, (n >>> 8) & 255, (n >>> 16) & 255, (n >>> 24) & 255);
  const base = concatBytes(le32(16), channelBindingHash(cb), le32(flags));
  if (!deleg) return base;
  return concatBytes(base, Uint8Array.of(1, 0, deleg.length & 255, (deleg.length >> 8) & 255), deleg);
}

export function decodeGssChecksum(v: Uint8Array): { bnd: Uint8Array; flags: number; deleg?: Uint8Array } {
  if (v.length < 24) throw new InvalidTokenError('Kerberos', 'the GSS authenticator checksum is too short');
  const dv = new DataView(v.buffer, v.byteOffset, v.byteLength);
  if (dv.getUint32(0, true) !== 16) throw new InvalidTokenError('Kerberos', 'the GSS authenticator checksum has a bad binding length');
  const flags = dv.getUint32(20, true);
  const out: { bnd: Uint8Array; flags: number; deleg?: Uint8Array } = { bnd: v.subarray(4, 20), flags };
  if (flags & GssFlags.DELEG && v.length >= 28) {
    const dlen = dv.getUint16(26, true);
    if (28 + dlen > v.length) throw new InvalidTokenError('Kerberos', 'the delegated credential in the GSS checksum is truncated');
    out.deleg = v.subarray(28, 28 + dlen);
  }
  return out;
}

// ------------------------------------------------------------------------------------------------------------
// per-message tokens (RFC 4121 4.2)
// ------------------------------------------------------------------------------------------------------------

const WRAP_FLAG = { SENT_BY_ACCEPTOR: 1, SEALED: 2, ACCEPTOR_SUBKEY: 4 } as const;

function rotateRight(b: Uint8Array, n: number): Uint8Array {
  if (!b.length) return b;
  const k = n % b.length;
  return k ? concatBytes(b.subarray(b.length - k), b.subarray(0, b.length - k)) : b;
}
function rotateLeft(b: Uint8Array, n: number): Uint8Array {
  return b.length ? rotateRight(b, b.length - (n % b.length)) : b;
}

function be64(n: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, n);
  return b;
}

/** Security state after the handshake: which key, which direction, sequence numbers. */
export class GssSecurity {
  private sendSeq: bigint;
  private recvSeq: bigint;
  constructor(
    readonly key: Key,
    readonly isAcceptor: boolean,
    readonly acceptorSubkey: boolean,
    sendSeq: number,
    recvSeq: number,
  ) {
    this.sendSeq = BigInt(sendSeq >>> 0);
    this.recvSeq = BigInt(recvSeq >>> 0);
  }
  private get sealUsage(): number {
    return this.isAcceptor ? KeyUsage.GSS_ACCEPTOR_SEAL : KeyUsage.GSS_INITIATOR_SEAL;
  }
  private get peerSealUsage(): number {
    return this.isAcceptor ? KeyUsage.GSS_INITIATOR_SEAL : KeyUsage.GSS_ACCEPTOR_SEAL;
  }
  private flags(): number {
    return (this.isAcceptor ? WRAP_FLAG.SENT_BY_ACCEPTOR : 0) | (this.acceptorSubkey ? WRAP_FLAG.ACCEPTOR_SUBKEY : 0);
  }

  /** WinRM message encryption (MS-WSMV 2.2.9.1): the token split into header (signature part) and sealed data. */
  wrapWinrm(data: Uint8Array): { header: Uint8Array; data: Uint8Array } {
    if (this.key.etype === 23) {
      const tok = this.wrapRc4(data);
      return { header: tok.subarray(0, tok.length - data.length), data: tok.subarray(tok.length - data.length) };
    }
    // RRC = 16 (header copy) + the MAC length: 28 for AES-SHA1 as Windows sends; header = 16 + RRC + 16 (confounder)
    const rrc = 16 + profile(this.key.etype).macSize;
    const tok = this.wrap(data, rrc);
    const hl = 16 + rrc + 16;
    return { header: tok.subarray(0, hl), data: tok.subarray(hl) };
  }
  unwrapWinrm(header: Uint8Array, data: Uint8Array): Uint8Array {
    const tok = concatBytes(header, data);
    return tok[0] === 0x60 ? this.unwrapRc4(tok) : this.unwrap(tok);
  }

  // --- RFC 4757 7.3 (rc4-hmac) wrap tokens in RFC 1964 framing; WinRM sends them without padding ---
  private rc4Keys(sgnCksum: Uint8Array, seqBytes?: Uint8Array) {
    const hm = (k: Uint8Array, d: Uint8Array) => new Uint8Array(createHmac('md5', k).update(d).digest());
    const zero = new Uint8Array(4);
    const kseq = hm(hm(this.key.value, zero), sgnCksum);
    const klocal = this.key.value.map((b) => b ^ 0xf0);
    const kcrypt = seqBytes ? hm(hm(klocal, zero), seqBytes) : undefined;
    return { kseq, kcrypt };
  }
  private rc4Cksum(hdr8: Uint8Array, confounder: Uint8Array, data: Uint8Array): Uint8Array {
    const ksign = new Uint8Array(createHmac('md5', this.key.value).update('signaturekey\0').digest());
    const md5 = createHash('md5')
      .update(Uint8Array.of(13, 0, 0, 0))
      .update(hdr8)
      .update(confounder)
      .update(data)
      .digest();
    return new Uint8Array(createHmac('md5', ksign).update(md5).digest()).subarray(0, 8);
  }
  /** `pad`: RFC 4757 7.3 one padding byte (MIT expects it); WinRM sends and expects none (krb5 PR #1093). */
  wrapRc4(data: Uint8Array, pad = false): Uint8Array {
    if (pad) data = concatBytes(data, Uint8Array.of(1));
    const hdr8 = Uint8Array.of(0x02, 0x01, 0x11, 0x00, 0x10, 0x00, 0xff, 0xff);
    const seq = Number(this.sendSeq & 0xffffffffn);
    this.sendSeq++;
    const seqPlain = concatBytes(
      Uint8Array.of(seq >>> 24, (seq >>> 16) & 255, (seq >>> 8) & 255, seq & 255),
      this.isAcceptor ? Uint8Array.of(255, 255, 255, 255) : new Uint8Array(4),
    );
    const confounder = new Uint8Array(randomBytes(8));
    const cksum = this.rc4Cksum(hdr8, confounder, data);
    const { kseq, kcrypt } = this.rc4Keys(cksum, seqPlain.subarray(0, 4));
    const sealed = rc4(kcrypt!, concatBytes(confounder, data));
    return frameToken(0x0201, concatBytes(hdr8.subarray(2), rc4(kseq, seqPlain), cksum, sealed));
  }
  /** `padded`: strip the RFC 4757 padding byte (generic GSS peers such as MIT); WinRM tokens carry none. */
  unwrapRc4(token: Uint8Array, padded = false): Uint8Array {
    const { tokId, body } = unframeToken(token);
    if (tokId !== 0x0201 || body.length < 30) throw new InvalidTokenError('Kerberos', 'not an RFC 4757 wrap token');
    const hdr8 = concatBytes(Uint8Array.of(0x02, 0x01), body.subarray(0, 6));
    if (body[0] !== 0x11 || body[1] !== 0x00 || body[2] !== 0x10 || body[3] !== 0x00)
      throw new InvalidTokenError('Kerberos', 'unsupported RFC 4757 wrap token algorithms (expected HMAC-MD5 / RC4)');
    const cksum = body.subarray(14, 22);
    const { kseq } = this.rc4Keys(cksum);
    const seqPlain = rc4(kseq, body.subarray(6, 14));
    const dir = seqPlain.subarray(4);
    if (dir.every((b) => b === 0xff) === this.isAcceptor)
      throw new KerberosError('the wrap token was sent in the wrong direction (reflection?)');
    const { kcrypt } = this.rc4Keys(cksum, seqPlain.subarray(0, 4));
    const plain = rc4(kcrypt!, body.subarray(22));
    const want = this.rc4Cksum(hdr8, plain.subarray(0, 8), plain.subarray(8));
    if (!want.every((b, i) => b === cksum[i]))
      throw new KerberosError('the rc4-hmac wrap token checksum does not match (tampered token or wrong key)');
    if (padded && plain.length > 8 && plain[plain.length - 1] === 1) return plain.subarray(8, plain.length - 1);
    return plain.subarray(8);
  }

  /** RFC 4121 4.2.6.2 sealed Wrap token; `rrc` 28 and EC 0 is what Windows sends for WinRM. */
  wrap(data: Uint8Array, rrc = 28): Uint8Array {
    if (this.key.etype === 23) return this.wrapRc4(data, true);
    const seq = this.sendSeq;
    const hdr = (r: number) =>
      concatBytes(Uint8Array.of(0x05, 0x04, this.flags() | WRAP_FLAG.SEALED, 0xff, 0, 0, (r >> 8) & 255, r & 255), be64(seq));
    const c = encrypt(this.key, this.sealUsage, concatBytes(data, hdr(0)));
    this.sendSeq++;
    return concatBytes(hdr(rrc), rotateRight(c, rrc));
  }

  unwrap(token: Uint8Array): Uint8Array {
    if (token[0] === 0x60) return this.unwrapRc4(token, true);
    if (token.length < 16) throw new InvalidTokenError('Kerberos', 'the Kerberos wrap token is too short');
    if (token[0] !== 0x05 || token[1] !== 0x04 || token[3] !== 0xff)
      throw new InvalidTokenError('Kerberos', 'not an RFC 4121 wrap token (bad token id); the peer may use an rc4-hmac session key');
    const flags = token[2]!;
    if (!!(flags & WRAP_FLAG.SENT_BY_ACCEPTOR) === this.isAcceptor)
      throw new KerberosError('the wrap token was sent in the wrong direction (reflection?)');
    const ec = (token[4]! << 8) | token[5]!;
    const rrc = (token[6]! << 8) | token[7]!;
    const seq = new DataView(token.buffer, token.byteOffset + 8, 8).getBigUint64(0);
    const body = token.subarray(16);
    if (!(flags & WRAP_FLAG.SEALED)) {
      // integrity only: data || checksum(header(ec=rrc=0) with checksum over data||header)
      const b = rotateLeft(body, rrc);
      const p = profile(this.key.etype);
      const data = b.subarray(0, b.length - ec);
      const hdr0 = concatBytes(token.subarray(0, 4), Uint8Array.of(0, 0, 0, 0), token.subarray(8, 16));
      const want = p.checksum(this.key.value, this.peerSealUsage + 1, concatBytes(data, hdr0));
      const got = b.subarray(b.length - ec);
      if (want.length !== got.length || !want.every((x, i) => x === got[i]))
        throw new KerberosError('the wrap token checksum does not match');
      this.recvSeq = seq + 1n;
      return data;
    }
    let plain: Uint8Array;
    try {
      plain = decrypt(this.key, this.peerSealUsage, rotateLeft(body, rrc));
    } catch (e) {
      if (!ec) throw e;
      plain = decrypt(this.key, this.peerSealUsage, rotateLeft(body, rrc + ec)); // MS-KILE 3.4.5.4.1 rotates by RRC+EC
    }
    if (plain.length < 16 + ec) throw new InvalidTokenError('Kerberos', 'the decrypted wrap token is too short');
    const hcopy = plain.subarray(plain.length - 16);
    if (hcopy[0] !== 0x05 || hcopy[1] !== 0x04 || hcopy[2] !== flags || !hcopy.subarray(8).every((b, i) => b === token[8 + i])) {
      throw new KerberosError('the encrypted header of the wrap token does not match (tampered token)');
    }
    this.recvSeq = seq + 1n;
    return plain.subarray(0, plain.length - 16 - ec);
  }

  /** RFC 4121 4.2.6.1 MIC token (SPNEGO mechListMIC). */
  getMic(data: Uint8Array): Uint8Array {
    const hdr = concatBytes(Uint8Array.of(0x04, 0x04, this.flags(), 0xff, 0xff, 0xff, 0xff, 0xff), be64(this.sendSeq));
    this.sendSeq++;
    const p = profile(this.key.etype);
    return concatBytes(
      hdr,
      p.checksum(this.key.value, this.isAcceptor ? KeyUsage.GSS_ACCEPTOR_SIGN : KeyUsage.GSS_INITIATOR_SIGN, concatBytes(data, hdr)),
    );
  }
  verifyMic(data: Uint8Array, mic: Uint8Array): void {
    if (mic.length < 16 || mic[0] !== 0x04 || mic[1] !== 0x04) throw new InvalidTokenError('Kerberos', 'not an RFC 4121 MIC token');
    const hdr = mic.subarray(0, 16);
    const p = profile(this.key.etype);
    const want = p.checksum(
      this.key.value,
      this.isAcceptor ? KeyUsage.GSS_INITIATOR_SIGN : KeyUsage.GSS_ACCEPTOR_SIGN,
      concatBytes(data, hdr),
    );
    const got = mic.subarray(16);
    if (want.length !== got.length || !want.every((x, i) => x === got[i]))
      throw new KerberosError('the Kerberos MIC does not verify (mechListMIC tampered?)');
  }
}

// ------------------------------------------------------------------------------------------------------------
// Initiator
// ------------------------------------------------------------------------------------------------------------

export interface InitiatorSetup {
  /** the service ticket */
  service: Credential;
  /** a forwarded TGT to delegate (KRB-CRED in the checksum), or none */
  forwarded?: Credential;
  channelBindings?: ChannelBindings;
  now?: Date;
}

/** Build the AP-REQ: returns the framed token and what the AP-REP check needs. */
export function buildApReq(s: InitiatorSetup): {
  token: Uint8Array;
  pending: { subkey: Key; seq: number; ctime: Date; cusec: number; sessionKey: Key };
} {
  const t = s.now ?? new Date();
  const cusec = (t.getTime() % 1000) * 1000;
  const ctime = new Date(t.getTime() - (t.getTime() % 1000));
  const sessionKey = s.service.key;
  const subkey = newSubkey(sessionKey.etype);
  const seq = randomInt(0, 0x3fffffff);
  let flags = GssFlags.MUTUAL | GssFlags.SEQUENCE | GssFlags.CONF | GssFlags.INTEG | GssFlags.REPLAY;
  let deleg: Uint8Array | undefined;
  if (s.forwarded) {
    flags |= GssFlags.DELEG;
    deleg = makeKrbCred(s.forwarded, sessionKey);
  }
  const auth: Authenticator = {
    crealm: s.service.client.realm,
    cname: s.service.client.name,
    cusec,
    ctime,
    cksum: { cksumtype: 0x8003, checksum: encodeGssChecksum(flags, s.channelBindings, deleg) },
    subkey: { keytype: subkey.etype, keyvalue: subkey.value },
    seqNumber: seq,
  };
  const encAuth = encrypt(sessionKey, KeyUsage.AP_REQ_AUTHENTICATOR, encodeAuthenticator(auth));
  const apReq = encodeApReq(ApOptions.MUTUAL_REQUIRED, s.service.ticket, { etype: sessionKey.etype, cipher: encAuth });
  return { token: frameToken(TokId.AP_REQ, apReq), pending: { subkey, seq, ctime, cusec, sessionKey } };
}

/** KRB-CRED carrying one credential, enc-part in `key` (the service ticket's session key), usage 14. */
export function makeKrbCred(c: Credential, key: Key): Uint8Array {
  const info: KrbCredInfo = {
    key: { keytype: c.key.etype, keyvalue: c.key.value },
    prealm: c.client.realm,
    pname: c.client.name,
    flags: c.flags,
    authtime: c.authtime,
    starttime: c.starttime,
    endtime: c.endtime,
    ...(c.renewTill ? { renewTill: c.renewTill } : {}),
    srealm: c.server.realm,
    sname: c.server.name,
  };
  const enc = encodeEncKrbCredPart([info]);
  return encodeKrbCred([c.ticket], { etype: key.etype, cipher: encrypt(key, KeyUsage.KRB_CRED_ENC_PART, enc) });
}

/** Check the AP-REP (mutual authentication) and return the security state. */
export function checkApRep(token: Uint8Array, pending: ReturnType<typeof buildApReq>['pending'], service?: string): GssSecurity {
  const { tokId, body } = unframeToken(token);
  if (tokId === TokId.KRB_ERROR) throw krbErrorToError(decodeKrbError(body), service ? { service } : {});
  if (tokId !== TokId.AP_REP)
    throw new InvalidTokenError('Kerberos', `expected an AP-REP from the server, got GSS token id ${tokId.toString(16)}`);
  const ed = decodeApRep(body);
  let plain: Uint8Array;
  try {
    plain = decrypt(pending.sessionKey, KeyUsage.AP_REP_ENC_PART, ed.cipher);
  } catch (e) {
    throw new KerberosError(
      "the server's AP-REP does not decrypt with our session key: mutual authentication failed (the server is not who it claims)",
      46,
      { cause: e },
    );
  }
  const p = decodeEncApRepPart(plain);
  if (p.ctime.getTime() !== pending.ctime.getTime() || p.cusec !== pending.cusec) {
    throw new KerberosError("the server's AP-REP does not echo our authenticator time: mutual authentication failed", 46);
  }
  const acceptorSubkey = p.subkey ? { etype: p.subkey.keytype, value: p.subkey.keyvalue } : undefined;
  return new GssSecurity(acceptorSubkey ?? pending.subkey, false, !!acceptorSubkey, pending.seq, p.seqNumber ?? 0);
}

// ------------------------------------------------------------------------------------------------------------
// Acceptor
// ------------------------------------------------------------------------------------------------------------

export interface Accepted {
  client: { name: PrincipalName; realm: string };
  ticket: EncTicketPart;
  flags: number;
  /** delegated credentials (from the KRB-CRED), ready for a ccache */
  delegated?: Credential[];
  security: GssSecurity;
  /** the AP-REP token to send (mutual) */
  reply?: Uint8Array;
}

export interface AcceptOptions {
  keytab: KeytabEntry[];
  now?: Date;
  /** allowed clock skew in seconds (default 300) */
  skewSec?: number;
  /** expected bindings; with `requireBindings` a missing/zero hash is refused */
  channelBindings?: ChannelBindings;
  requireBindings?: boolean;
  /** replay cache (authenticator ids seen) */
  replay?: Set<string>;
}

const SKEW_DEFAULT = 300;

/** A KRB-ERROR token an acceptor returns (framed). */
export function errorToken(code: number, realm: string, sname: PrincipalName, text?: string): Uint8Array {
  return frameToken(
    TokId.KRB_ERROR,
    encodeKrbError({ stime: new Date(), errorCode: code, realm, sname, ...(text ? { eText: text } : {}) }),
  );
}

export function acceptApReq(token: Uint8Array, o: AcceptOptions): Accepted {
  const { tokId, body } = unframeToken(token);
  if (tokId !== TokId.AP_REQ) throw new InvalidTokenError('Kerberos', `expected an AP-REQ, got GSS token id ${tokId.toString(16)}`);
  const req = decodeApReq(body);
  const t = req.ticket;
  const sname = principalText(t.sname, t.realm);
  const cands = o.keytab.filter((e) => e.key.etype === t.encPart.etype && samePrincipal(e.principal, { name: t.sname, realm: t.realm }));
  const byKvno = t.encPart.kvno !== undefined ? cands.filter((e) => e.kvno === t.encPart.kvno) : [];
  const keys = (byKvno.length ? byKvno : cands).map((e) => e.key);
  if (!keys.length) {
    throw new KerberosError(
      `the keytab has no key for ${sname} (encryption type ${t.encPart.etype}${
        t.encPart.kvno !== undefined ? `, ` + `kvno ${t.encPart.kvno}` : ''
      }): export the service key (kadmin ktadd ${principalText(t.sname)}) into the --keytab file`,
      45,
    );
  }
  let encTicket: EncTicketPart | undefined;
  for (const k of keys) {
    try {
      encTicket = decodeEncTicketPart(decrypt(k, KeyUsage.KDC_REP_TICKET, t.encPart.cipher));
      break;
    } catch {
      /* next key */
    }
  }
  if (!encTicket)
    throw new KerberosError(
      `cannot decrypt the ticket for ${sname} with the keytab: the keytab is stale (re-export it) or the SPN belongs to another account`,
      31,
    );
  const sessionKey: Key = { etype: encTicket.key.keytype, value: encTicket.key.keyvalue };
  const auth = decodeAuthenticator(decrypt(sessionKey, KeyUsage.AP_REQ_AUTHENTICATOR, req.authenticator.cipher));
  const now = o.now ?? new Date();
  const skew = (o.skewSec ?? SKEW_DEFAULT) * 1000;
  if (!samePrincipal({ name: auth.cname, realm: auth.crealm }, { name: encTicket.cname, realm: encTicket.crealm })) {
    throw new KerberosError('the authenticator names a different client than the ticket (KRB_AP_ERR_BADMATCH)', 36);
  }
  const diff = now.getTime() - auth.ctime.getTime();
  if (Math.abs(diff) > skew)
    throw new KerberosError(
      `clock skew too great: the client's clock is ${Math.round(Math.abs(diff) / 1000)} ` +
        `s ${diff > 0 ? 'behind' : 'ahead of'} this server; synchronise the clocks (NTP)`,
      37,
    );
  if (encTicket.endtime.getTime() + skew < now.getTime()) throw new KerberosError("the client's ticket has expired: run kinit again", 32);
  if (encTicket.starttime && encTicket.starttime.getTime() - skew > now.getTime())
    throw new KerberosError("the client's ticket is not yet valid (clock skew?)", 33);
  if (o.replay) {
    const id = `${principalText(auth.cname, auth.crealm)}|${auth.ctime.getTime()}|${auth.cusec}`;
    if (o.replay.has(id)) throw new KerberosError('this authenticator was seen before (replay)', 34);
    o.replay.add(id);
    if (o.replay.size > 10000) o.replay.clear();
  }
  let flags = 0;
  let delegated: Credential[] | undefined;
  if (auth.cksum?.cksumtype === 0x8003) {
    const ck = decodeGssChecksum(auth.cksum.checksum);
    flags = ck.flags;
    if (o.channelBindings) {
      const want = channelBindingHash(o.channelBindings);
      const zero = ck.bnd.every((b) => b === 0);
      if (zero ? o.requireBindings : !ck.bnd.every((b, i) => b === want[i])) {
        throw new KerberosError(
          'channel binding mismatch: the client authenticated to a different TLS endpoint (a proxy or a man in the middle?)',
        );
      }
    }
    if (ck.deleg)
      delegated = openKrbCred(ck.deleg, [
        auth.subkey ? { etype: auth.subkey.keytype, value: auth.subkey.keyvalue } : undefined,
        sessionKey,
      ]);
  }
  const initiatorSubkey = auth.subkey ? { etype: auth.subkey.keytype, value: auth.subkey.keyvalue } : undefined;
  const mutual = !!(req.apOptions & ApOptions.MUTUAL_REQUIRED) || !!(flags & GssFlags.MUTUAL);
  let security: GssSecurity;
  let reply: Uint8Array | undefined;
  if (mutual) {
    const acceptorSubkey = newSubkey((initiatorSubkey ?? sessionKey).etype);
    const seq = randomInt(0, 0x3fffffff);
    const rep = encodeEncApRepPart({
      ctime: auth.ctime,
      cusec: auth.cusec,
      subkey: { keytype: acceptorSubkey.etype, keyvalue: acceptorSubkey.value },
      seqNumber: seq,
    });
    reply = frameToken(TokId.AP_REP, encodeApRep({ etype: sessionKey.etype, cipher: encrypt(sessionKey, KeyUsage.AP_REP_ENC_PART, rep) }));
    security = new GssSecurity(acceptorSubkey, true, true, seq, auth.seqNumber ?? 0);
  } else {
    security = new GssSecurity(initiatorSubkey ?? sessionKey, true, false, auth.seqNumber ?? 0, auth.seqNumber ?? 0);
  }
  return {
    client: { name: encTicket.cname, realm: encTicket.crealm },
    ticket: encTicket,
    flags,
    ...(delegated ? { delegated } : {}),
    security,
    ...(reply ? { reply } : {}),
  };
}

/** Open a KRB-CRED: enc-part under the subkey or the session key (implementations differ), or unencrypted (etype 0). */
export function openKrbCred(raw: Uint8Array, keys: Array<Key | undefined>): Credential[] {
  const kc = decodeKrbCred(raw);
  let infos: KrbCredInfo[] | undefined;
  if (kc.encPart.etype === 0) infos = decodeEncKrbCredPart(kc.encPart.cipher);
  for (const k of keys) {
    if (infos || !k || k.etype !== kc.encPart.etype) continue;
    try {
      infos = decodeEncKrbCredPart(decrypt(k, KeyUsage.KRB_CRED_ENC_PART, kc.encPart.cipher));
    } catch {
      /* next */
    }
  }
  if (!infos) throw new KerberosError('cannot open the delegated credential (KRB-CRED) sent by the client');
  if (infos.length !== kc.tickets.length) throw new KerberosError('the delegated KRB-CRED has a different number of tickets and keys');
  return infos.map((i, n) => {
    const t = kc.tickets[n]!;
    const now = new Date();
    return {
      client: { name: i.pname ?? { nameType: 1, nameString: [] }, realm: i.prealm ?? t.realm },
      server: { name: i.sname ?? t.sname, realm: i.srealm ?? t.realm },
      key: { etype: i.key.keytype, value: i.key.keyvalue },
      flags: i.flags ?? 0,
      authtime: i.authtime ?? i.starttime ?? now,
      starttime: i.starttime ?? i.authtime ?? now,
      endtime: i.endtime ?? new Date(now.getTime() + 3600_000),
      ...(i.renewTill ? { renewTill: i.renewTill } : {}),
      ticket: t.raw,
    };
  });
}

export { TicketFlags };

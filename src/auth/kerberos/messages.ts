/**
 * Kerberos V5 messages (RFC 4120 5, ASN.1 in appendix A), sans-IO: encode to DER bytes, decode from DER bytes.
 * Every decoder turns bad input into a KerberosError (never a crash). DER helpers from src/asn1/der.ts.
 */
import {
  DerReader,
  TagClass,
  UniversalTag,
  application,
  bitString,
  explicit,
  generalString,
  generalizedTime,
  integer,
  octetString,
  sequence,
  readElement,
} from '../../asn1/der.js';
import { InvalidTokenError, KerberosError } from '../../errors.js';
import { concatBytes } from '../../util/bytes.js';

export const KRB5_PVNO = 5;

/** RFC 4120 7.5.7 message types. */
export enum MsgType {
  AS_REQ = 10,
  AS_REP = 11,
  TGS_REQ = 12,
  TGS_REP = 13,
  AP_REQ = 14,
  AP_REP = 15,
  KRB_CRED = 22,
  KRB_ERROR = 30,
}

/** RFC 4120 6.2 name types. */
export enum NameType {
  UNKNOWN = 0,
  PRINCIPAL = 1,
  SRV_INST = 2,
  SRV_HST = 3,
  ENTERPRISE = 10,
}

/** RFC 4120 7.5.2 PA-DATA types. */
export enum PaType {
  TGS_REQ = 1,
  ENC_TIMESTAMP = 2,
  PW_SALT = 3,
  ETYPE_INFO = 11,
  ETYPE_INFO2 = 19,
  PAC_REQUEST = 128,
}

/** RFC 4120 7.5.1 key usage numbers. */
export enum KeyUsage {
  AS_REQ_PA_ENC_TS = 1,
  KDC_REP_TICKET = 2,
  AS_REP_ENC_PART = 3,
  TGS_REQ_AUTH_DATA_SESSKEY = 4,
  TGS_REQ_AUTH_DATA_SUBKEY = 5,
  TGS_REQ_AUTH_CKSUM = 6,
  TGS_REQ_AUTHENTICATOR = 7,
  TGS_REP_ENC_PART_SESSKEY = 8,
  TGS_REP_ENC_PART_SUBKEY = 9,
  AP_REQ_AUTH_CKSUM = 10,
  AP_REQ_AUTHENTICATOR = 11,
  AP_REP_ENC_PART = 12,
  KRB_CRED_ENC_PART = 14,
  GSS_ACCEPTOR_SEAL = 22,
  GSS_ACCEPTOR_SIGN = 23,
  GSS_INITIATOR_SEAL = 24,
  GSS_INITIATOR_SIGN = 25,
}

/** Ticket flags (RFC 4120 5.3), as a uint32 where bit 0 is the most significant bit. */
export const TicketFlags = {
  FORWARDABLE: 0x40000000,
  FORWARDED: 0x20000000,
  PROXIABLE: 0x10000000,
  PROXY: 0x08000000,
  RENEWABLE: 0x00800000,
  INITIAL: 0x00400000,
  PRE_AUTHENT: 0x00200000,
  TRANSITED_POLICY_CHECKED: 0x00080000,
  OK_AS_DELEGATE: 0x00040000,
} as const;

/** KDC options (RFC 4120 5.4.1). */
export const KdcOptions = {
  FORWARDABLE: 0x40000000,
  FORWARDED: 0x20000000,
  PROXIABLE: 0x10000000,
  RENEWABLE: 0x00800000,
  CANONICALIZE: 0x00010000,
  RENEWABLE_OK: 0x00000010,
} as const;

/** AP options (RFC 4120 5.5.1). */
export const ApOptions = { USE_SESSION_KEY: 0x40000000, MUTUAL_REQUIRED: 0x20000000 } as const;

export interface PrincipalName {
  nameType: number;
  nameString: string[];
}
export interface EncryptedData {
  etype: number;
  kvno?: number;
  cipher: Uint8Array;
}
export interface EncryptionKey {
  keytype: number;
  keyvalue: Uint8Array;
}
export interface Checksum {
  cksumtype: number;
  checksum: Uint8Array;
}
export interface PaData {
  type: number;
  value: Uint8Array;
}
export interface HostAddress {
  addrType: number;
  address: Uint8Array;
}

/** Ticket [APPLICATION 1]: `raw` is the exact DER, passed through untouched. */
export interface Ticket {
  realm: string;
  sname: PrincipalName;
  encPart: EncryptedData;
  raw: Uint8Array;
}

function fail(what: string, e: unknown): never {
  if (e instanceof KerberosError || e instanceof InvalidTokenError) throw e;
  throw new InvalidTokenError(
    'Kerberos',
    `malformed Kerberos ${what}: ${(e as Error)?.message ?? String(e)}; the KDC or peer sent bytes that are not valid Kerberos`,
    { cause: e },
  );
}

/** Run a decoder; any parse failure becomes an InvalidTokenError (mechanism Kerberos). */
export function guard<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    return fail(what, e);
  }
}

// ------------------------------------------------------------------------------------------------------------
// primitives
// ------------------------------------------------------------------------------------------------------------

export function flagsToBits(flags: number): Uint8Array {
  return bitString(Uint8Array.of((flags >>> 24) & 255, (flags >>> 16) & 255, (flags >>> 8) & 255, flags & 255));
}
function readFlags(r: DerReader): number {
  const b = r.bitString().bytes;
  let v = 0;
  for (let i = 0; i < 4; i++) v = (v << 8) | (b[i] ?? 0);
  return v >>> 0;
}
function int32(n: number): Uint8Array {
  return integer(n);
}
function uint32(n: number): Uint8Array {
  return integer(n >>> 0);
}
function readInt(r: DerReader): number {
  return r.integerNumber();
}
/** seq-number and nonce are UInt32 but Microsoft encodes them as negative Int32: accept both. */
function readUint32(r: DerReader): number {
  return r.integerNumber() >>> 0;
}

export function kerberosTime(d: Date): Uint8Array {
  return generalizedTime(new Date(Math.floor(d.getTime() / 1000) * 1000));
}
function readTime(r: DerReader): Date {
  const s = r.time();
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.\d+)?Z$/.exec(s);
  if (!m) throw new InvalidTokenError('Kerberos', `malformed KerberosTime "${s.slice(0, 20)}"`);
  return new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
}

export function encodePrincipalName(p: PrincipalName): Uint8Array {
  return sequence(explicit(0, int32(p.nameType)), explicit(1, sequence(...p.nameString.map((s) => generalString(s)))));
}
function readPrincipalName(r: DerReader): PrincipalName {
  const s = r.sequence();
  const nameType = readInt(s.explicit(0));
  const names = s.explicit(1).sequence();
  const nameString: string[] = [];
  while (!names.done) nameString.push(readKerberosString(names));
  if (nameString.length > 16) throw new InvalidTokenError('Kerberos', 'principal name has too many components');
  return { nameType, nameString };
}
/** KerberosString is GeneralString; some peers use UTF8String / IA5String: accept those too. */
function readKerberosString(r: DerReader): string {
  const el = r.peek();
  if (el && el.tag.cls === TagClass.Universal && el.tag.number === UniversalTag.UTF8String) return r.utf8String();
  if (el && el.tag.cls === TagClass.Universal && el.tag.number === UniversalTag.IA5String)
    return Buffer.from(r.next().value).toString('latin1');
  return r.generalString();
}

export function encodeEncryptedData(e: EncryptedData): Uint8Array {
  return sequence(
    explicit(0, int32(e.etype)),
    ...(e.kvno !== undefined ? [explicit(1, uint32(e.kvno))] : []),
    explicit(2, octetString(e.cipher)),
  );
}
function readEncryptedData(r: DerReader): EncryptedData {
  const s = r.sequence();
  const etype = readInt(s.explicit(0));
  const k = s.optionalExplicit(1);
  const cipher = s.explicit(2).octetString();
  return { etype, ...(k ? { kvno: readUint32(k) } : {}), cipher };
}

export function encodeEncryptionKey(k: EncryptionKey): Uint8Array {
  return sequence(explicit(0, int32(k.keytype)), explicit(1, octetString(k.keyvalue)));
}
function readEncryptionKey(r: DerReader): EncryptionKey {
  const s = r.sequence();
  return { keytype: readInt(s.explicit(0)), keyvalue: new Uint8Array(s.explicit(1).octetString()) };
}
export function encodeChecksum(c: Checksum): Uint8Array {
  return sequence(explicit(0, int32(c.cksumtype)), explicit(1, octetString(c.checksum)));
}
function readChecksum(r: DerReader): Checksum {
  const s = r.sequence();
  return { cksumtype: readInt(s.explicit(0)), checksum: s.explicit(1).octetString() };
}
function encodePaData(p: PaData): Uint8Array {
  return sequence(explicit(1, int32(p.type)), explicit(2, octetString(p.value)));
}
function readPaDataList(r: DerReader): PaData[] {
  const s = r.sequence();
  const out: PaData[] = [];
  while (!s.done) {
    const p = s.sequence();
    out.push({ type: readInt(p.explicit(1)), value: p.explicit(2).octetString() });
  }
  return out;
}

function readTicketEl(r: DerReader): Ticket {
  const el = r.next();
  return decodeTicket(el.raw);
}

export function decodeTicket(raw: Uint8Array): Ticket {
  return guard('Ticket', () => {
    const top = new DerReader(raw, 'Ticket');
    const s = top.application(1).sequence();
    top.end();
    const vno = readInt(s.explicit(0));
    if (vno !== KRB5_PVNO) throw new InvalidTokenError('Kerberos', `ticket version ${vno} is not Kerberos 5`);
    const realm = readKerberosString(s.explicit(1));
    const sname = readPrincipalName(s.explicit(2));
    const encPart = readEncryptedData(s.explicit(3));
    return { realm, sname, encPart, raw: new Uint8Array(raw) };
  });
}

export function encodeTicket(t: Omit<Ticket, 'raw'>): Uint8Array {
  return application(
    1,
    sequence(
      explicit(0, int32(5)),
      explicit(1, generalString(t.realm)),
      explicit(2, encodePrincipalName(t.sname)),
      explicit(3, encodeEncryptedData(t.encPart)),
    ),
  );
}

// ------------------------------------------------------------------------------------------------------------
// KDC-REQ (AS-REQ, TGS-REQ)
// ------------------------------------------------------------------------------------------------------------

export interface KdcReqBody {
  kdcOptions: number;
  cname?: PrincipalName;
  realm: string;
  sname?: PrincipalName;
  till: Date;
  rtime?: Date;
  nonce: number;
  etypes: number[];
  additionalTickets?: Uint8Array[];
}

export function encodeKdcReqBody(b: KdcReqBody): Uint8Array {
  return sequence(
    explicit(0, flagsToBits(b.kdcOptions)),
    ...(b.cname ? [explicit(1, encodePrincipalName(b.cname))] : []),
    explicit(2, generalString(b.realm)),
    ...(b.sname ? [explicit(3, encodePrincipalName(b.sname))] : []),
    explicit(5, kerberosTime(b.till)),
    ...(b.rtime ? [explicit(6, kerberosTime(b.rtime))] : []),
    explicit(7, uint32(b.nonce)),
    explicit(8, sequence(...b.etypes.map(int32))),
    ...(b.additionalTickets?.length ? [explicit(11, sequence(...b.additionalTickets))] : []),
  );
}

export function encodeKdcReq(msgType: MsgType.AS_REQ | MsgType.TGS_REQ, padata: PaData[], bodyDer: Uint8Array): Uint8Array {
  return application(
    msgType,
    sequence(
      explicit(1, int32(5)),
      explicit(2, int32(msgType)),
      ...(padata.length ? [explicit(3, sequence(...padata.map(encodePaData)))] : []),
      explicit(4, bodyDer),
    ),
  );
}

export interface KdcReq {
  msgType: number;
  padata: PaData[];
  body: KdcReqBody;
  bodyRaw: Uint8Array;
}

/** Decode an AS-REQ / TGS-REQ (for tests and fuzzing: the client only encodes them). */
export function decodeKdcReq(raw: Uint8Array): KdcReq {
  return guard('KDC-REQ', () => {
    const top = new DerReader(raw, 'KDC-REQ');
    const el = top.peek();
    if (!el || el.tag.cls !== TagClass.Application) throw new InvalidTokenError('Kerberos', 'not a KDC-REQ');
    const s = top.application(el.tag.number).sequence();
    readInt(s.explicit(1));
    const msgType = readInt(s.explicit(2));
    const pa = s.optionalExplicit(3);
    const padata = pa ? readPaDataList(pa) : [];
    const b4 = s.explicit(4);
    const bodyEl = b4.peek()!;
    const b = b4.sequence();
    const kdcOptions = readFlags(b.explicit(0));
    const c = b.optionalExplicit(1);
    const realm = readKerberosString(b.explicit(2));
    const sn = b.optionalExplicit(3);
    b.optionalExplicit(4);
    const till = readTime(b.explicit(5));
    const rt = b.optionalExplicit(6);
    const nonce = readUint32(b.explicit(7));
    const es = b.explicit(8).sequence();
    const etypes: number[] = [];
    while (!es.done) etypes.push(readInt(es));
    return {
      msgType,
      padata,
      bodyRaw: bodyEl.raw,
      body: {
        kdcOptions,
        realm,
        till,
        nonce,
        etypes,
        ...(c ? { cname: readPrincipalName(c) } : {}),
        ...(sn ? { sname: readPrincipalName(sn) } : {}),
        ...(rt ? { rtime: readTime(rt) } : {}),
      },
    };
  });
}

// ------------------------------------------------------------------------------------------------------------
// KDC-REP (AS-REP, TGS-REP) and EncKDCRepPart
// ------------------------------------------------------------------------------------------------------------

export interface KdcRep {
  msgType: number;
  padata: PaData[];
  crealm: string;
  cname: PrincipalName;
  ticket: Ticket;
  encPart: EncryptedData;
}

export function decodeKdcRep(raw: Uint8Array): KdcRep {
  return guard('KDC-REP', () => {
    const top = new DerReader(raw, 'KDC-REP');
    const el = top.peek();
    if (!el || el.tag.cls !== TagClass.Application || (el.tag.number !== 11 && el.tag.number !== 13))
      throw new InvalidTokenError('Kerberos', 'expected an AS-REP or TGS-REP');
    const s = top.application(el.tag.number).sequence();
    top.end();
    readInt(s.explicit(0));
    const msgType = readInt(s.explicit(1));
    const pa = s.optionalExplicit(2);
    const padata = pa ? readPaDataList(pa) : [];
    const crealm = readKerberosString(s.explicit(3));
    const cname = readPrincipalName(s.explicit(4));
    const ticket = readTicketEl(s.explicit(5));
    const encPart = readEncryptedData(s.explicit(6));
    return { msgType, padata, crealm, cname, ticket, encPart };
  });
}

export function encodeKdcRep(
  msgType: MsgType.AS_REP | MsgType.TGS_REP,
  r: Omit<KdcRep, 'msgType' | 'ticket'> & { ticketRaw: Uint8Array },
): Uint8Array {
  return application(
    msgType,
    sequence(
      explicit(0, int32(5)),
      explicit(1, int32(msgType)),
      ...(r.padata.length ? [explicit(2, sequence(...r.padata.map(encodePaData)))] : []),
      explicit(3, generalString(r.crealm)),
      explicit(4, encodePrincipalName(r.cname)),
      explicit(5, r.ticketRaw),
      explicit(6, encodeEncryptedData(r.encPart)),
    ),
  );
}

export interface EncKdcRepPart {
  key: EncryptionKey;
  nonce: number;
  flags: number;
  authtime: Date;
  starttime?: Date;
  endtime: Date;
  renewTill?: Date;
  srealm: string;
  sname: PrincipalName;
}

export function decodeEncKdcRepPart(raw: Uint8Array): EncKdcRepPart {
  return guard('EncKDCRepPart', () => {
    const top = new DerReader(raw, 'EncKDCRepPart');
    const el = top.peek();
    // RFC 4120 5.4.2: EncASRepPart [25], EncTGSRepPart [26]; some KDCs answer a TGS with [25]
    if (!el || el.tag.cls !== TagClass.Application || (el.tag.number !== 25 && el.tag.number !== 26))
      throw new KerberosError('decrypted KDC reply is not an EncKDCRepPart (wrong key?)');
    const s = top.application(el.tag.number).sequence();
    const key = readEncryptionKey(s.explicit(0));
    s.explicit(1); // last-req
    const nonce = readUint32(s.explicit(2));
    s.optionalExplicit(3);
    const flags = readFlags(s.explicit(4));
    const authtime = readTime(s.explicit(5));
    const st = s.optionalExplicit(6);
    const endtime = readTime(s.explicit(7));
    const rt = s.optionalExplicit(8);
    const srealm = readKerberosString(s.explicit(9));
    const sname = readPrincipalName(s.explicit(10));
    return {
      key,
      nonce,
      flags,
      authtime,
      endtime,
      srealm,
      sname,
      ...(st ? { starttime: readTime(st) } : {}),
      ...(rt ? { renewTill: readTime(rt) } : {}),
    };
  });
}

export function encodeEncKdcRepPart(tag: 25 | 26, p: EncKdcRepPart): Uint8Array {
  return application(
    tag,
    sequence(
      explicit(0, encodeEncryptionKey(p.key)),
      explicit(1, sequence(sequence(explicit(0, int32(0)), explicit(1, kerberosTime(p.authtime))))),
      explicit(2, uint32(p.nonce)),
      explicit(4, flagsToBits(p.flags)),
      explicit(5, kerberosTime(p.authtime)),
      ...(p.starttime ? [explicit(6, kerberosTime(p.starttime))] : []),
      explicit(7, kerberosTime(p.endtime)),
      ...(p.renewTill ? [explicit(8, kerberosTime(p.renewTill))] : []),
      explicit(9, generalString(p.srealm)),
      explicit(10, encodePrincipalName(p.sname)),
    ),
  );
}

// ------------------------------------------------------------------------------------------------------------
// EncTicketPart (acceptor side)
// ------------------------------------------------------------------------------------------------------------

export interface EncTicketPart {
  flags: number;
  key: EncryptionKey;
  crealm: string;
  cname: PrincipalName;
  authtime: Date;
  starttime?: Date;
  endtime: Date;
  renewTill?: Date;
}

export function decodeEncTicketPart(raw: Uint8Array): EncTicketPart {
  return guard('EncTicketPart', () => {
    const top = new DerReader(raw, 'EncTicketPart');
    const s = top.application(3).sequence();
    const flags = readFlags(s.explicit(0));
    const key = readEncryptionKey(s.explicit(1));
    const crealm = readKerberosString(s.explicit(2));
    const cname = readPrincipalName(s.explicit(3));
    s.explicit(4);
    const authtime = readTime(s.explicit(5));
    const st = s.optionalExplicit(6);
    const endtime = readTime(s.explicit(7));
    const rt = s.optionalExplicit(8);
    return {
      flags,
      key,
      crealm,
      cname,
      authtime,
      endtime,
      ...(st ? { starttime: readTime(st) } : {}),
      ...(rt ? { renewTill: readTime(rt) } : {}),
    };
  });
}

export function encodeEncTicketPart(p: EncTicketPart): Uint8Array {
  return application(
    3,
    sequence(
      explicit(0, flagsToBits(p.flags)),
      explicit(1, encodeEncryptionKey(p.key)),
      explicit(2, generalString(p.crealm)),
      explicit(3, encodePrincipalName(p.cname)),
      explicit(4, sequence(explicit(0, int32(1)), explicit(1, octetString(new Uint8Array(0))))),
      explicit(5, kerberosTime(p.authtime)),
      ...(p.starttime ? [explicit(6, kerberosTime(p.starttime))] : []),
      explicit(7, kerberosTime(p.endtime)),
      ...(p.renewTill ? [explicit(8, kerberosTime(p.renewTill))] : []),
    ),
  );
}

// ------------------------------------------------------------------------------------------------------------
// AP-REQ, Authenticator, AP-REP, EncAPRepPart
// ------------------------------------------------------------------------------------------------------------

export interface ApReq {
  apOptions: number;
  ticket: Ticket;
  authenticator: EncryptedData;
}

export function encodeApReq(apOptions: number, ticketRaw: Uint8Array, authenticator: EncryptedData): Uint8Array {
  return application(
    14,
    sequence(
      explicit(0, int32(5)),
      explicit(1, int32(14)),
      explicit(2, flagsToBits(apOptions)),
      explicit(3, ticketRaw),
      explicit(4, encodeEncryptedData(authenticator)),
    ),
  );
}
export function decodeApReq(raw: Uint8Array): ApReq {
  return guard('AP-REQ', () => {
    const top = new DerReader(raw, 'AP-REQ');
    const s = top.application(14).sequence();
    top.end();
    readInt(s.explicit(0));
    const mt = readInt(s.explicit(1));
    if (mt !== 14) throw new InvalidTokenError('Kerberos', `expected an AP-REQ (14), got message type ${mt}`);
    const apOptions = readFlags(s.explicit(2));
    const ticket = readTicketEl(s.explicit(3));
    const authenticator = readEncryptedData(s.explicit(4));
    return { apOptions, ticket, authenticator };
  });
}

export interface Authenticator {
  crealm: string;
  cname: PrincipalName;
  cksum?: Checksum;
  cusec: number;
  ctime: Date;
  subkey?: EncryptionKey;
  seqNumber?: number;
}
export function encodeAuthenticator(a: Authenticator): Uint8Array {
  return application(
    2,
    sequence(
      explicit(0, int32(5)),
      explicit(1, generalString(a.crealm)),
      explicit(2, encodePrincipalName(a.cname)),
      ...(a.cksum ? [explicit(3, encodeChecksum(a.cksum))] : []),
      explicit(4, int32(a.cusec)),
      explicit(5, kerberosTime(a.ctime)),
      ...(a.subkey ? [explicit(6, encodeEncryptionKey(a.subkey))] : []),
      ...(a.seqNumber !== undefined ? [explicit(7, uint32(a.seqNumber))] : []),
    ),
  );
}
export function decodeAuthenticator(raw: Uint8Array): Authenticator {
  return guard('Authenticator', () => {
    const top = new DerReader(raw, 'Authenticator');
    const s = top.application(2).sequence();
    readInt(s.explicit(0));
    const crealm = readKerberosString(s.explicit(1));
    const cname = readPrincipalName(s.explicit(2));
    const ck = s.optionalExplicit(3);
    const cusec = readInt(s.explicit(4));
    const ctime = readTime(s.explicit(5));
    const sk = s.optionalExplicit(6);
    const sq = s.optionalExplicit(7);
    return {
      crealm,
      cname,
      cusec,
      ctime,
      ...(ck ? { cksum: readChecksum(ck) } : {}),
      ...(sk ? { subkey: readEncryptionKey(sk) } : {}),
      ...(sq ? { seqNumber: readUint32(sq) } : {}),
    };
  });
}

export function encodeApRep(encPart: EncryptedData): Uint8Array {
  return application(15, sequence(explicit(0, int32(5)), explicit(1, int32(15)), explicit(2, encodeEncryptedData(encPart))));
}
export function decodeApRep(raw: Uint8Array): EncryptedData {
  return guard('AP-REP', () => {
    const top = new DerReader(raw, 'AP-REP');
    const s = top.application(15).sequence();
    readInt(s.explicit(0));
    const mt = readInt(s.explicit(1));
    if (mt !== 15) throw new InvalidTokenError('Kerberos', `expected an AP-REP (15), got message type ${mt}`);
    return readEncryptedData(s.explicit(2));
  });
}

export interface EncApRepPart {
  ctime: Date;
  cusec: number;
  subkey?: EncryptionKey;
  seqNumber?: number;
}
export function encodeEncApRepPart(p: EncApRepPart): Uint8Array {
  return application(
    27,
    sequence(
      explicit(0, kerberosTime(p.ctime)),
      explicit(1, int32(p.cusec)),
      ...(p.subkey ? [explicit(2, encodeEncryptionKey(p.subkey))] : []),
      ...(p.seqNumber !== undefined ? [explicit(3, uint32(p.seqNumber))] : []),
    ),
  );
}
export function decodeEncApRepPart(raw: Uint8Array): EncApRepPart {
  return guard('EncAPRepPart', () => {
    const top = new DerReader(raw, 'EncAPRepPart');
    const s = top.application(27).sequence();
    const ctime = readTime(s.explicit(0));
    const cusec = readInt(s.explicit(1));
    const sk = s.optionalExplicit(2);
    const sq = s.optionalExplicit(3);
    return { ctime, cusec, ...(sk ? { subkey: readEncryptionKey(sk) } : {}), ...(sq ? { seqNumber: readUint32(sq) } : {}) };
  });
}

// ------------------------------------------------------------------------------------------------------------
// KRB-ERROR
// ------------------------------------------------------------------------------------------------------------

export interface KrbErrorMsg {
  stime: Date;
  errorCode: number;
  crealm?: string;
  cname?: PrincipalName;
  realm: string;
  sname: PrincipalName;
  eText?: string;
  eData?: Uint8Array;
}
export function decodeKrbError(raw: Uint8Array): KrbErrorMsg {
  return guard('KRB-ERROR', () => {
    const top = new DerReader(raw, 'KRB-ERROR');
    const s = top.application(30).sequence();
    readInt(s.explicit(0));
    readInt(s.explicit(1));
    s.optionalExplicit(2);
    s.optionalExplicit(3);
    const stime = readTime(s.explicit(4));
    readInt(s.explicit(5));
    const errorCode = readInt(s.explicit(6));
    const cr = s.optionalExplicit(7);
    const cn = s.optionalExplicit(8);
    const realm = readKerberosString(s.explicit(9));
    const sname = readPrincipalName(s.explicit(10));
    const et = s.optionalExplicit(11);
    const ed = s.optionalExplicit(12);
    return {
      stime,
      errorCode,
      realm,
      sname,
      ...(cr ? { crealm: readKerberosString(cr) } : {}),
      ...(cn ? { cname: readPrincipalName(cn) } : {}),
      ...(et ? { eText: readKerberosString(et) } : {}),
      ...(ed ? { eData: ed.octetString() } : {}),
    };
  });
}
export function encodeKrbError(e: KrbErrorMsg): Uint8Array {
  return application(
    30,
    sequence(
      explicit(0, int32(5)),
      explicit(1, int32(30)),
      explicit(4, kerberosTime(e.stime)),
      explicit(5, int32(0)),
      explicit(6, int32(e.errorCode)),
      ...(e.crealm ? [explicit(7, generalString(e.crealm))] : []),
      ...(e.cname ? [explicit(8, encodePrincipalName(e.cname))] : []),
      explicit(9, generalString(e.realm)),
      explicit(10, encodePrincipalName(e.sname)),
      ...(e.eText ? [explicit(11, generalString(e.eText))] : []),
      ...(e.eData ? [explicit(12, octetString(e.eData))] : []),
    ),
  );
}

/** The application tag number of a message (10..30), or undefined. */
export function messageTag(raw: Uint8Array): number | undefined {
  try {
    const el = readElement(raw, 0);
    return el.tag.cls === TagClass.Application ? el.tag.number : undefined;
  } catch {
    return undefined;
  }
}

// ------------------------------------------------------------------------------------------------------------
// PA-ENC-TIMESTAMP, ETYPE-INFO2
// ------------------------------------------------------------------------------------------------------------

export function encodePaEncTsEnc(t: Date, usec: number): Uint8Array {
  return sequence(explicit(0, kerberosTime(t)), explicit(1, int32(usec)));
}
export function decodePaEncTsEnc(raw: Uint8Array): { time: Date; usec?: number } {
  return guard('PA-ENC-TS-ENC', () => {
    const s = new DerReader(raw).sequence();
    const time = readTime(s.explicit(0));
    const u = s.optionalExplicit(1);
    return { time, ...(u ? { usec: readInt(u) } : {}) };
  });
}

export interface EtypeInfo2Entry {
  etype: number;
  salt?: string;
  s2kparams?: Uint8Array;
}
export function decodeEtypeInfo2(raw: Uint8Array): EtypeInfo2Entry[] {
  return guard('PA-ETYPE-INFO2', () => {
    const s = new DerReader(raw).sequence();
    const out: EtypeInfo2Entry[] = [];
    while (!s.done) {
      const e = s.sequence();
      const etype = readInt(e.explicit(0));
      const sa = e.optionalExplicit(1);
      const sp = e.optionalExplicit(2);
      out.push({ etype, ...(sa ? { salt: readKerberosString(sa) } : {}), ...(sp ? { s2kparams: sp.octetString() } : {}) });
    }
    return out;
  });
}
export function encodeEtypeInfo2(entries: EtypeInfo2Entry[]): Uint8Array {
  return sequence(
    ...entries.map((e) =>
      sequence(
        explicit(0, int32(e.etype)),
        ...(e.salt !== undefined ? [explicit(1, generalString(e.salt))] : []),
        ...(e.s2kparams ? [explicit(2, octetString(e.s2kparams))] : []),
      ),
    ),
  );
}
/** METHOD-DATA inside a KRB-ERROR's e-data (PREAUTH_REQUIRED). */
export function decodeMethodData(raw: Uint8Array): PaData[] {
  return guard('METHOD-DATA', () => readPaDataList(new DerReader(raw)));
}

// ------------------------------------------------------------------------------------------------------------
// KRB-CRED (RFC 4120 5.8) and EncKrbCredPart
// ------------------------------------------------------------------------------------------------------------

export interface KrbCredInfo {
  key: EncryptionKey;
  prealm?: string;
  pname?: PrincipalName;
  flags?: number;
  authtime?: Date;
  starttime?: Date;
  endtime?: Date;
  renewTill?: Date;
  srealm?: string;
  sname?: PrincipalName;
}
export interface KrbCred {
  tickets: Ticket[];
  encPart: EncryptedData;
}

export function encodeKrbCredInfo(i: KrbCredInfo): Uint8Array {
  return sequence(
    explicit(0, encodeEncryptionKey(i.key)),
    ...(i.prealm ? [explicit(1, generalString(i.prealm))] : []),
    ...(i.pname ? [explicit(2, encodePrincipalName(i.pname))] : []),
    ...(i.flags !== undefined ? [explicit(3, flagsToBits(i.flags))] : []),
    ...(i.authtime ? [explicit(4, kerberosTime(i.authtime))] : []),
    ...(i.starttime ? [explicit(5, kerberosTime(i.starttime))] : []),
    ...(i.endtime ? [explicit(6, kerberosTime(i.endtime))] : []),
    ...(i.renewTill ? [explicit(7, kerberosTime(i.renewTill))] : []),
    ...(i.srealm ? [explicit(8, generalString(i.srealm))] : []),
    ...(i.sname ? [explicit(9, encodePrincipalName(i.sname))] : []),
  );
}
export function encodeEncKrbCredPart(infos: KrbCredInfo[], nonce?: number, timestamp?: Date, usec?: number): Uint8Array {
  return application(
    29,
    sequence(
      explicit(0, sequence(...infos.map(encodeKrbCredInfo))),
      ...(nonce !== undefined ? [explicit(1, uint32(nonce))] : []),
      ...(timestamp ? [explicit(2, kerberosTime(timestamp)), explicit(3, int32(usec ?? 0))] : []),
    ),
  );
}
export function encodeKrbCred(ticketsRaw: Uint8Array[], encPart: EncryptedData): Uint8Array {
  return application(
    22,
    sequence(
      explicit(0, int32(5)),
      explicit(1, int32(22)),
      explicit(2, sequence(...ticketsRaw)),
      explicit(3, encodeEncryptedData(encPart)),
    ),
  );
}
export function decodeKrbCred(raw: Uint8Array): KrbCred {
  return guard('KRB-CRED', () => {
    const top = new DerReader(raw, 'KRB-CRED');
    const s = top.application(22).sequence();
    readInt(s.explicit(0));
    const mt = readInt(s.explicit(1));
    if (mt !== 22) throw new InvalidTokenError('Kerberos', `expected KRB-CRED (22), got message type ${mt}`);
    const ts = s.explicit(2).sequence();
    const tickets: Ticket[] = [];
    while (!ts.done) tickets.push(readTicketEl(ts));
    const encPart = readEncryptedData(s.explicit(3));
    return { tickets, encPart };
  });
}
export function decodeEncKrbCredPart(raw: Uint8Array): KrbCredInfo[] {
  return guard('EncKrbCredPart', () => {
    const top = new DerReader(raw, 'EncKrbCredPart');
    const s = top.application(29).sequence();
    const list = s.explicit(0).sequence();
    const out: KrbCredInfo[] = [];
    while (!list.done) {
      const i = list.sequence();
      const key = readEncryptionKey(i.explicit(0));
      const info: KrbCredInfo = { key };
      const pr = i.optionalExplicit(1);
      if (pr) info.prealm = readKerberosString(pr);
      const pn = i.optionalExplicit(2);
      if (pn) info.pname = readPrincipalName(pn);
      const fl = i.optionalExplicit(3);
      if (fl) info.flags = readFlags(fl);
      const at = i.optionalExplicit(4);
      if (at) info.authtime = readTime(at);
      const st = i.optionalExplicit(5);
      if (st) info.starttime = readTime(st);
      const et = i.optionalExplicit(6);
      if (et) info.endtime = readTime(et);
      const rt = i.optionalExplicit(7);
      if (rt) info.renewTill = readTime(rt);
      const sr = i.optionalExplicit(8);
      if (sr) info.srealm = readKerberosString(sr);
      const sn = i.optionalExplicit(9);
      if (sn) info.sname = readPrincipalName(sn);
      out.push(info);
    }
    return out;
  });
}

/** "a/b@R" text of a principal. */
export function principalText(p: PrincipalName, realm?: string): string {
  const n = p.nameString.map((s) => s.replace(/([/@\\])/g, '\\$1')).join('/');
  return realm ? `${n}@${realm}` : n;
}

/** Parse "user@REALM" / "HTTP/host@REALM" / "DOMAIN\\user" into name components and realm. */
export function parsePrincipal(text: string, defaultRealm?: string): { name: PrincipalName; realm: string | undefined } {
  let s = text;
  let realm: string | undefined;
  const bs = s.indexOf('\\');
  if (bs > 0 && !s.includes('@')) {
    realm = s.slice(0, bs).toUpperCase();
    s = s.slice(bs + 1);
  }
  const at = s.lastIndexOf('@');
  if (at >= 0) {
    realm = s.slice(at + 1);
    s = s.slice(0, at);
  }
  const parts = s.split('/');
  return { name: { nameType: parts.length > 1 ? NameType.SRV_INST : NameType.PRINCIPAL, nameString: parts }, realm: realm || defaultRealm };
}

export { concatBytes };

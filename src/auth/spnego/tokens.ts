/**
 * SPNEGO tokens (RFC 4178 4.2): InitialContextToken(NegTokenInit), NegTokenResp; plus MS NegTokenInit2 hints
 * (MS-SPNG 2.2.1) tolerated on decode. DER via src/asn1/der.ts; decode errors become AuthError.
 */
import { AuthError, decodeToken } from '../../errors.js';
import { DerReader, TagClass, UniversalTag, application, enumerated, explicit, octetString, oid, sequence } from '../../asn1/der.js';

/** Mechanism OIDs (RFC 4178, MS-SPNG 2.2.2 / 3.1.5.1). */
export const MechOid = {
  SPNEGO: '1.3.6.1.5.5.2',
  NTLM: '1.3.6.1.4.1.311.2.2.10',
  KRB5: '1.2.840.113554.1.2.2',
  MS_KRB5: '1.2.840.48018.1.2.2',
  NEGOEX: '1.3.6.1.4.1.311.2.2.30',
} as const;

/** RFC 4178 4.2.2 negState. */
export const NegState = { ACCEPT_COMPLETED: 0, ACCEPT_INCOMPLETE: 1, REJECT: 2, REQUEST_MIC: 3 } as const;
export type NegStateValue = (typeof NegState)[keyof typeof NegState];

/** RFC 4178 4.2.1 NegTokenInit. */
export interface NegTokenInit {
  mechTypes: string[];
  /** The DER of the mechTypes SEQUENCE exactly as sent: what mechListMIC covers. */
  mechTypesRaw: Uint8Array;
  mechToken?: Uint8Array;
  mechListMIC?: Uint8Array;
}

/** RFC 4178 4.2.2 NegTokenResp. */
export interface NegTokenResp {
  negState?: NegStateValue;
  supportedMech?: string;
  responseToken?: Uint8Array;
  mechListMIC?: Uint8Array;
}

export type NegotiationToken = ({ kind: 'init' } & NegTokenInit) | ({ kind: 'resp' } & NegTokenResp);

/** DER of `MechTypeList ::= SEQUENCE OF MechType`. */
export function encodeMechTypes(mechs: readonly string[]): Uint8Array {
  return sequence(...mechs.map((m) => oid(m)));
}

/** RFC 2743 3.1 InitialContextToken wrapping a NegTokenInit: 0x60 len 06 06 2b0601050502 a0 ... */
export function encodeNegTokenInit(t: { mechTypesRaw: Uint8Array; mechToken?: Uint8Array; mechListMIC?: Uint8Array }): Uint8Array {
  const fields: Uint8Array[] = [explicit(0, t.mechTypesRaw)];
  if (t.mechToken) fields.push(explicit(2, octetString(t.mechToken)));
  if (t.mechListMIC) fields.push(explicit(3, octetString(t.mechListMIC)));
  return application(0, oid(MechOid.SPNEGO), explicit(0, sequence(...fields)));
}

/** NegTokenResp, tagged [1] (not wrapped in an InitialContextToken). */
export function encodeNegTokenResp(t: NegTokenResp): Uint8Array {
  const fields: Uint8Array[] = [];
  if (t.negState !== undefined) fields.push(explicit(0, enumerated(t.negState)));
  if (t.supportedMech) fields.push(explicit(1, oid(t.supportedMech)));
  if (t.responseToken) fields.push(explicit(2, octetString(t.responseToken)));
  if (t.mechListMIC) fields.push(explicit(3, octetString(t.mechListMIC)));
  return explicit(1, sequence(...fields));
}

function decodeInitBody(r: DerReader): NegTokenInit {
  const seq = r.sequence();
  const mt = seq.explicit(0);
  const mtEl = mt.next();
  if (mtEl.tag.cls !== TagClass.Universal || mtEl.tag.number !== UniversalTag.Sequence)
    throw new AuthError('SPNEGO NegTokenInit: mechTypes is not a SEQUENCE');
  const mechTypesRaw = mtEl.raw.slice();
  const list = new DerReader(mtEl.value, 'SPNEGO mechTypes');
  const mechTypes: string[] = [];
  while (!list.done) mechTypes.push(list.oid());
  const out: NegTokenInit = { mechTypes, mechTypesRaw };
  seq.optionalExplicit(1); // reqFlags: ignored
  const tok = seq.optionalExplicit(2);
  if (tok) out.mechToken = tok.octetString().slice();
  // [3] is mechListMIC (RFC 4178) or negHints (MS NegTokenInit2, then mechListMIC is [4]).
  const third = seq.optionalExplicit(3);
  if (third) {
    const p = third.peek();
    if (p && p.tag.cls === TagClass.Universal && p.tag.number === UniversalTag.OctetString) out.mechListMIC = third.octetString().slice();
  }
  const fourth = seq.optionalExplicit(4);
  if (fourth) out.mechListMIC = fourth.octetString().slice();
  return out;
}

function decodeRespBody(r: DerReader): NegTokenResp {
  const seq = r.sequence();
  const out: NegTokenResp = {};
  const st = seq.optionalExplicit(0);
  if (st) {
    const v = st.enumerated();
    if (v < 0 || v > 3) throw new AuthError(`SPNEGO NegTokenResp has an unknown negState ${v}`);
    out.negState = v as NegStateValue;
  }
  const sm = seq.optionalExplicit(1);
  if (sm) out.supportedMech = sm.oid();
  const rt = seq.optionalExplicit(2);
  if (rt) out.responseToken = rt.octetString().slice();
  const mic = seq.optionalExplicit(3);
  if (mic) out.mechListMIC = mic.octetString().slice();
  return out;
}

/** Decode a NegotiationToken from the wire (InitialContextToken, bare [0] NegTokenInit, or [1] NegTokenResp). */
/** A SPNEGO token from a peer (RFC 4178 4.2); malformed → InvalidTokenError. */
export function decodeNegotiationToken(b: Uint8Array): NegotiationToken {
  return decodeToken('SPNEGO', () => decodeNegotiationTokenFields(b));
}
function decodeNegotiationTokenFields(b: Uint8Array): NegotiationToken {
  try {
    if (!b.length) throw new AuthError('empty SPNEGO token');
    const r = new DerReader(b, 'SPNEGO token');
    const first = b[0]!;
    let res: NegotiationToken;
    if (first === 0x60) {
      const app = r.application(0);
      const mech = app.oid();
      if (mech !== MechOid.SPNEGO)
        throw new AuthError(`not a SPNEGO token: the GSS mechanism is ${mech} (raw Kerberos? use the Kerberos scheme)`);
      res = { kind: 'init', ...decodeInitBody(app.explicit(0)) };
    } else if (first === 0xa0) {
      res = { kind: 'init', ...decodeInitBody(r.explicit(0)) };
    } else if (first === 0xa1) {
      res = { kind: 'resp', ...decodeRespBody(r.explicit(1)) };
    } else {
      throw new AuthError(`not a SPNEGO token (first byte 0x${first.toString(16).padStart(2, '0')}); expected 0x60, 0xa0 or 0xa1`);
    }
    r.end();
    return res;
  } catch (e) {
    if (e instanceof AuthError) throw e;
    throw new AuthError(`malformed SPNEGO token: ${(e as Error).message}`, { cause: e });
  }
}

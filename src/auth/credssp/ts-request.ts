/**
 * MS-CSSP 2.2.1 TSRequest: the message every CredSSP leg carries (inside the TLS channel).
 *
 * TSRequest ::= SEQUENCE {
 *   version [0] INTEGER, negoTokens [1] NegoData OPTIONAL, authInfo [2] OCTET STRING OPTIONAL,
 *   pubKeyAuth [3] OCTET STRING OPTIONAL, errorCode [4] INTEGER OPTIONAL, clientNonce [5] OCTET STRING OPTIONAL }
 */
import * as der from '../../asn1/der.js';
import { DerReader } from '../../asn1/der.js';
import { RemoteProtocolError, decodeToken } from '../../errors.js';
import { NegoData } from './nego-data.js';

export { NegoData };

/** MS-CSSP 2.2.1 TSRequest */
export interface TSRequest {
  version: number;
  negoTokens?: Uint8Array[];
  authInfo?: Uint8Array;
  pubKeyAuth?: Uint8Array;
  /** NTSTATUS (unsigned 32-bit); versions 3, 4 and 6+ */
  errorCode?: number;
  /** 32 bytes; versions 5+ */
  clientNonce?: Uint8Array;
}

/** MS-CSSP 2.2.1 TSRequest */
export const TSRequest = {
  encode(m: TSRequest): Uint8Array {
    const items = [der.explicit(0, der.integer(m.version))];
    if (m.negoTokens && m.negoTokens.length) items.push(der.explicit(1, NegoData.encode(m.negoTokens)));
    if (m.authInfo) items.push(der.explicit(2, der.octetString(m.authInfo)));
    if (m.pubKeyAuth) items.push(der.explicit(3, der.octetString(m.pubKeyAuth)));
    // errorCode is an NTSTATUS: Windows encodes it as a signed 32-bit INTEGER (0xC000006D -> -0x3FFFFF93)
    if (m.errorCode !== undefined) items.push(der.explicit(4, der.integer(m.errorCode | 0)));
    if (m.clientNonce) items.push(der.explicit(5, der.octetString(m.clientNonce)));
    return der.sequence(...items);
  },

  /** A TSRequest from the peer (MS-CSSP 2.2.1); malformed → InvalidTokenError. */
  decode(bytes: Uint8Array): TSRequest {
    return decodeToken('CredSSP', () => TSRequest.decodeFields(bytes));
  },

  decodeFields(bytes: Uint8Array): TSRequest {
    const top = new DerReader(bytes, 'TSRequest');
    const r = top.sequence();
    top.end();
    const version = r.explicit(0).integerNumber();
    if (version < 1 || version > 0xffff)
      throw new RemoteProtocolError(`TSRequest version ${version} is not valid; the peer is not speaking CredSSP`);
    const m: TSRequest = { version };
    const f1 = r.optionalExplicit(1);
    if (f1) {
      m.negoTokens = NegoData.decode(f1);
      f1.end();
    }
    const f2 = r.optionalExplicit(2);
    if (f2) {
      m.authInfo = f2.octetString();
      f2.end();
    }
    const f3 = r.optionalExplicit(3);
    if (f3) {
      m.pubKeyAuth = f3.octetString();
      f3.end();
    }
    const f4 = r.optionalExplicit(4);
    if (f4) {
      const v = f4.integer();
      f4.end();
      if (v < -0x80000000n || v > 0xffffffffn) throw new RemoteProtocolError('TSRequest errorCode is not a 32-bit NTSTATUS');
      m.errorCode = Number(BigInt.asUintN(32, v));
    }
    const f5 = r.optionalExplicit(5);
    if (f5) {
      m.clientNonce = f5.octetString();
      f5.end();
    }
    r.end();
    return m;
  },

  /**
   * The length of the first complete DER TLV in `buf`, or 0 when more bytes are needed (stream framing:
   * RDP carries TSRequests back to back in the TLS stream). Throws on bytes that cannot start a TSRequest.
   */
  frameLength(buf: Uint8Array): number {
    if (buf.length === 0) return 0;
    if (buf[0] !== 0x30)
      throw new RemoteProtocolError(
        `expected a TSRequest (DER SEQUENCE 0x30), got 0x${buf[0]!.toString(16)}; the peer is not speaking CredSSP`,
      );
    if (buf.length < 2) return 0;
    const l0 = buf[1]!;
    if (l0 < 0x80) return buf.length >= 2 + l0 ? 2 + l0 : 0;
    const n = l0 & 0x7f;
    if (n === 0 || n > 4) throw new RemoteProtocolError('TSRequest has an invalid DER length');
    if (buf.length < 2 + n) return 0;
    let len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[2 + i]!;
    if (len > MAX_TSREQUEST) throw new RemoteProtocolError(`TSRequest of ${len} bytes is larger than the ${MAX_TSREQUEST}-byte limit`);
    return buf.length >= 2 + n + len ? 2 + n + len : 0;
  },
};

/** No legitimate TSRequest comes near this (Kerberos tickets with big PACs are ~64 KiB). */
export const MAX_TSREQUEST = 1 << 20;

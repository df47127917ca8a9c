/** MS-CSSP 2.2.1.1 NegoData: the SPNEGO/NTLM tokens of the inner authentication, inside TSRequest.negoTokens. */
import * as der from '../../asn1/der.js';
import type { DerReader } from '../../asn1/der.js';

/** MS-CSSP 2.2.1.1 NegoData ::= SEQUENCE OF SEQUENCE { negoToken [0] OCTET STRING } */
export const NegoData = {
  encode(tokens: Uint8Array[]): Uint8Array {
    return der.sequence(...tokens.map((t) => der.sequence(der.explicit(0, der.octetString(t)))));
  },
  decode(r: DerReader): Uint8Array[] {
    const seq = r.sequence();
    const out: Uint8Array[] = [];
    while (!seq.done) {
      const item = seq.sequence();
      out.push(item.explicit(0).octetString());
      item.end();
    }
    return out;
  },
};

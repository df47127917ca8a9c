/** MS-CSSP 2.2.1.2.1 TSPasswordCreds: domain, user and password of the delegated credentials (UTF-16LE). */
import * as der from '../../asn1/der.js';
import { DerReader } from '../../asn1/der.js';
import { RemoteProtocolError } from '../../errors.js';
import { fromUtf16le, utf16le } from '../../util/bytes.js';

/** MS-CSSP 2.2.1.2.1 TSPasswordCreds (all three strings UTF-16LE). */
export interface TSPasswordCreds {
  domainName: string;
  userName: string;
  password: string;
}

/** MS-CSSP 2.2.1.2.1 TSPasswordCreds ::= SEQUENCE { domainName [0] OCTET STRING, userName [1] OCTET STRING, password [2] OCTET STRING } */
export const TSPasswordCreds = {
  encode(c: TSPasswordCreds): Uint8Array {
    return der.sequence(
      der.explicit(0, der.octetString(utf16le(c.domainName))),
      der.explicit(1, der.octetString(utf16le(c.userName))),
      der.explicit(2, der.octetString(utf16le(c.password))),
    );
  },
  decode(bytes: Uint8Array): TSPasswordCreds {
    const top = new DerReader(bytes, 'TSPasswordCreds');
    const r = top.sequence();
    top.end();
    const str = (n: number) => {
      const f = r.explicit(n);
      const v = f.octetString();
      f.end();
      if (v.length % 2) throw new RemoteProtocolError('TSPasswordCreds string is not UTF-16LE (odd length)');
      return fromUtf16le(v);
    };
    const c = { domainName: str(0), userName: str(1), password: str(2) };
    r.end();
    return c;
  },
};

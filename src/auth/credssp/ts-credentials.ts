/**
 * MS-CSSP 2.2.1.2 TSCredentials: the delegated credentials (sent sealed in authInfo).
 */
import * as der from '../../asn1/der.js';
import { DerReader } from '../../asn1/der.js';
import { TSPasswordCreds } from './ts-password-creds.js';

export { TSPasswordCreds };

/** MS-CSSP 2.2.1.2 credType values */
export enum CredType {
  /** TSPasswordCreds */
  Password = 1,
  /** TSSmartCardCreds */
  SmartCard = 2,
  /** TSRemoteGuardCreds */
  RemoteGuard = 6,
}

/** MS-CSSP 2.2.1.2 TSCredentials */
export interface TSCredentials {
  credType: CredType | number;
  /** the DER of TSPasswordCreds / TSSmartCardCreds / TSRemoteGuardCreds */
  credentials: Uint8Array;
}

/** MS-CSSP 2.2.1.2 TSCredentials ::= SEQUENCE { credType [0] INTEGER, credentials [1] OCTET STRING } */
export const TSCredentials = {
  encode(c: TSCredentials): Uint8Array {
    return der.sequence(der.explicit(0, der.integer(c.credType)), der.explicit(1, der.octetString(c.credentials)));
  },
  decode(bytes: Uint8Array): TSCredentials {
    const top = new DerReader(bytes, 'TSCredentials');
    const r = top.sequence();
    top.end();
    const f0 = r.explicit(0);
    const credType = f0.integerNumber();
    f0.end();
    const f1 = r.explicit(1);
    const credentials = f1.octetString();
    f1.end();
    r.end();
    return { credType, credentials };
  },
  /** TSCredentials carrying TSPasswordCreds (credType 1). */
  password(c: TSPasswordCreds): Uint8Array {
    return TSCredentials.encode({ credType: CredType.Password, credentials: TSPasswordCreds.encode(c) });
  },
};

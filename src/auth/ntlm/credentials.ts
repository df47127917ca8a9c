/**
 * User name forms accepted by the NTLM initiator: `DOMAIN\user`, `user@domain` (UPN, sent with an empty domain as
 * Windows does), `user`.
 */
import { InvalidArgumentError } from '../../errors.js';
import type { Credentials } from '../types.js';
import { ntHash } from './crypto.js';

export interface NtlmUser {
  domain: string;
  user: string;
}

/**
 * The UserName and DomainName fields NTLM (MS-NLMP 2.2.1.3 AUTHENTICATE_MESSAGE) and CredSSP (MS-CSSP 2.2.1.2.1
 * TSPasswordCreds) carry: "DOMAIN\user" splits; "user@domain" travels whole in UserName with an empty DomainName.
 */
export function ntlmUserFields(username: string): NtlmUser {
  const bs = username.indexOf('\\');
  if (bs >= 0) return { domain: username.slice(0, bs), user: username.slice(bs + 1) };
  return { domain: '', user: username };
}

/** The NT hash from a password or a given 16-byte hash; throws InvalidArgumentError otherwise (never echoing the secret). */
export function credentialHash(c: Credentials): Uint8Array {
  if (c.ntHash) {
    if (c.ntHash.length !== 16) throw new InvalidArgumentError(`an NT hash must be 16 bytes (32 hex digits), got ${c.ntHash.length} bytes`);
    return c.ntHash;
  }
  return ntHash(c.password ?? '');
}

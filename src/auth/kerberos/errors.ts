/**
 * KRB-ERROR codes (RFC 4120 7.5.9) -> KerberosError with text a user can act on (never secrets).
 */
import { KerberosError } from '../../errors.js';
import { principalText, type KrbErrorMsg } from './messages.js';

/** RFC 4120 7.5.9 error codes used here. */
export enum KrbErrorCode {
  KDC_ERR_NAME_EXP = 1,
  KDC_ERR_C_PRINCIPAL_UNKNOWN = 6,
  KDC_ERR_S_PRINCIPAL_UNKNOWN = 7,
  KDC_ERR_PRINCIPAL_NOT_UNIQUE = 8,
  KDC_ERR_NULL_KEY = 9,
  KDC_ERR_CANNOT_POSTDATE = 10,
  KDC_ERR_POLICY = 12,
  KDC_ERR_BADOPTION = 13,
  KDC_ERR_ETYPE_NOSUPP = 14,
  KDC_ERR_CLIENT_REVOKED = 18,
  KDC_ERR_SERVICE_REVOKED = 19,
  KDC_ERR_TGT_REVOKED = 20,
  KDC_ERR_KEY_EXPIRED = 23,
  KDC_ERR_PREAUTH_FAILED = 24,
  KDC_ERR_PREAUTH_REQUIRED = 25,
  KRB_AP_ERR_BAD_INTEGRITY = 31,
  KRB_AP_ERR_TKT_EXPIRED = 32,
  KRB_AP_ERR_TKT_NYV = 33,
  KRB_AP_ERR_REPEAT = 34,
  KRB_AP_ERR_NOT_US = 35,
  KRB_AP_ERR_BADMATCH = 36,
  KRB_AP_ERR_SKEW = 37,
  KRB_AP_ERR_MODIFIED = 41,
  KRB_AP_ERR_BADKEYVER = 44,
  KRB_AP_ERR_NOKEY = 45,
  KRB_AP_ERR_MUT_FAIL = 46,
  KRB_ERR_GENERIC = 60,
  KRB_ERR_RESPONSE_TOO_BIG = 52,
  KDC_ERR_WRONG_REALM = 68,
}

export interface ErrorContext {
  client?: string;
  service?: string;
  now?: Date;
}

/** Turn a KRB-ERROR from a KDC or an acceptor into a KerberosError whose message says what to try. */
export function krbErrorToError(e: KrbErrorMsg, ctx: ErrorContext = {}): KerberosError {
  const client = ctx.client ?? (e.cname ? principalText(e.cname, e.crealm ?? e.realm) : 'the client');
  const service = ctx.service ?? principalText(e.sname, e.realm);
  const text = e.eText ? ` (KDC says: ${e.eText.replace(/[^\x20-\x7e]/g, '?').slice(0, 200)})` : '';
  let msg: string;
  switch (e.errorCode) {
    case KrbErrorCode.KDC_ERR_PREAUTH_FAILED:
    case KrbErrorCode.KRB_AP_ERR_BAD_INTEGRITY:
      msg = `pre-authentication failed for ${client}: wrong password (or a stale keytab); check the password, or re-export the keytab`;
      break;
    case KrbErrorCode.KDC_ERR_C_PRINCIPAL_UNKNOWN:
      msg =
        `the KDC of realm ${e.crealm ?? e.realm} does not know the client ${client}: check the user name and ` +
        `realm (user@REALM, realm in upper case)`;
      break;
    case KrbErrorCode.KDC_ERR_S_PRINCIPAL_UNKNOWN:
      msg =
        `the KDC does not know the service principal ${service}: the SPN is not registered. Use the host's DNS ` +
        `name as the KDC knows it (not an IP address or an alias), register the SPN (setspn -S ${service.split('@')[0]} ` +
        `<account>, or kadmin addprinc), or pass --spn`;
      break;
    case KrbErrorCode.KRB_AP_ERR_SKEW: {
      const skew = ctx.now ? Math.round((ctx.now.getTime() - e.stime.getTime()) / 1000) : undefined;
      msg = `clock skew too great between this machine and ${e.realm}${
        skew !== undefined ? `: local clock ` + `is ${Math.abs(skew)} s ${skew >= 0 ? 'ahead of' : 'behind'} the ` + `server` : ''
      }; synchronise the clocks (NTP), Kerberos allows 5 minutes`;
      break;
    }
    case KrbErrorCode.KDC_ERR_ETYPE_NOSUPP:
      msg = `no common encryption type with the KDC for ${client}: enable AES (aes256-cts-hmac-sha1-96) for the account, or RC4 on the KDC`;
      break;
    case KrbErrorCode.KDC_ERR_BADOPTION:
      msg =
        `the KDC refused the requested ticket options for ${service}: a forwarded (delegated) ticket needs a ` +
        `forwardable TGT (kinit -f) and an account that is not "sensitive and cannot be delegated"`;
      break;
    case KrbErrorCode.KDC_ERR_CLIENT_REVOKED:
      msg = `the account ${client} is disabled or locked out`;
      break;
    case KrbErrorCode.KDC_ERR_KEY_EXPIRED:
      msg = `the password of ${client} has expired: change it (kpasswd) and try again`;
      break;
    case KrbErrorCode.KDC_ERR_POLICY:
      msg = `the KDC policy refused the request for ${client} -> ${service}`;
      break;
    case KrbErrorCode.KRB_AP_ERR_TKT_EXPIRED:
      msg = `the Kerberos ticket has expired: run kinit again (or pass a password / keytab)`;
      break;
    case KrbErrorCode.KRB_AP_ERR_REPEAT:
      msg = 'the server saw this authenticator before (replay detected): retry';
      break;
    case KrbErrorCode.KRB_AP_ERR_MODIFIED:
    case KrbErrorCode.KRB_AP_ERR_BADKEYVER:
    case KrbErrorCode.KRB_AP_ERR_NOKEY:
      msg =
        `the server cannot decrypt the ticket for ${service}: its keytab does not match the KDC (re-export the ` +
        `keytab), or the SPN belongs to another account`;
      break;
    case KrbErrorCode.KDC_ERR_WRONG_REALM:
      msg = `the KDC says ${client} belongs to another realm${e.crealm ? ` (${e.crealm})` : ''}: give the user as user@REALM`;
      break;
    default:
      msg = `Kerberos error ${e.errorCode} from ${e.realm}`;
  }
  return new KerberosError(msg + text, e.errorCode);
}

/** MS-ERREF 2.3.1 NTSTATUS values a CredSSP server may put in TSRequest.errorCode, as text. */
const NTSTATUS: Record<number, [string, string]> = {
  0xc000006d: ['STATUS_LOGON_FAILURE', 'the user name or password is incorrect'],
  0xc000006a: ['STATUS_WRONG_PASSWORD', 'the password is incorrect'],
  0xc0000064: ['STATUS_NO_SUCH_USER', 'the user does not exist'],
  0xc000006e: ['STATUS_ACCOUNT_RESTRICTION', 'an account restriction prevents the logon'],
  0xc000006f: ['STATUS_INVALID_LOGON_HOURS', 'the logon is outside the allowed hours'],
  0xc0000070: ['STATUS_INVALID_WORKSTATION', 'the account may not log on from this workstation'],
  0xc0000071: ['STATUS_PASSWORD_EXPIRED', 'the password has expired'],
  0xc0000072: ['STATUS_ACCOUNT_DISABLED', 'the account is disabled'],
  0xc0000193: ['STATUS_ACCOUNT_EXPIRED', 'the account has expired'],
  0xc0000224: ['STATUS_PASSWORD_MUST_CHANGE', 'the password must be changed before logging on'],
  0xc0000234: ['STATUS_ACCOUNT_LOCKED_OUT', 'the account is locked out'],
  0xc000015b: ['STATUS_LOGON_TYPE_NOT_GRANTED', 'the user is not granted this logon type on the host'],
  0xc0000022: ['STATUS_ACCESS_DENIED', 'access is denied'],
  0xc000000d: ['STATUS_INVALID_PARAMETER', 'the server rejected a parameter of the request'],
  0xc0000001: ['STATUS_UNSUCCESSFUL', 'the operation failed'],
  0xc00000bb: ['STATUS_NOT_SUPPORTED', 'the request is not supported'],
  0xc0000388: ['STATUS_DOWNGRADE_DETECTED', 'a security downgrade was detected'],
  0xc000a100: ['STATUS_INVALID_TOKEN_BINDING', 'the channel binding did not match'],
  0x80090302: ['SEC_E_UNSUPPORTED_FUNCTION', 'the function is not supported'],
  0x80090308: ['SEC_E_INVALID_TOKEN', 'the token is invalid'],
  0x8009030c: ['SEC_E_LOGON_DENIED', 'the logon was denied'],
  0x8009030e: ['SEC_E_NO_CREDENTIALS', 'no credentials are available'],
  0x80090322: ['SEC_E_WRONG_PRINCIPAL', 'the target principal name is incorrect'],
  0x80090330: ['SEC_E_MESSAGE_ALTERED', 'the message was altered'],
  0x80090346: ['SEC_E_BAD_BINDINGS', 'the channel bindings do not match'],
};

/** "0xC000006D STATUS_LOGON_FAILURE (the user name or password is incorrect)" */
export function ntStatusText(status: number): string {
  const u = status >>> 0;
  const hex = '0x' + u.toString(16).toUpperCase().padStart(8, '0');
  const e = NTSTATUS[u];
  if (e) return `${hex} ${e[0]} (${e[1]})`;
  // HRESULT_FROM_WIN32 (0x8007xxxx) and NTSTATUS-wrapped Win32 (0xC007xxxx) carry a Win32 error code
  const facility = (u & 0xffff0000) >>> 0;
  if (facility === 0x80070000 || facility === 0xc0070000) return `${hex} (Win32 error ${u & 0xffff})`;
  return hex;
}

export const STATUS_LOGON_FAILURE = 0xc000006d;
export const STATUS_DOWNGRADE_DETECTED = 0xc0000388;
export const STATUS_INVALID_PARAMETER = 0xc000000d;
export const SEC_E_MESSAGE_ALTERED = 0x80090330;

/**
 * Error hierarchy (docs/architecture.md, "Errors"): one root with a stable `code`, a class per layer.
 * Messages say what happened and what to try. They never contain secrets.
 */
export interface ErrorOptions {
  cause?: unknown;
}

/*
 * Error codes (`err.code`), one per class, stable across releases; docs/errors.md says when each is raised and what
 * to try. Compare with these constants rather than with class names.
 */
export const WINRM_ERR_ERROR = 'WINRM_ERR_ERROR';
export const WINRM_ERR_INVALID_ARGUMENT = 'WINRM_ERR_INVALID_ARGUMENT';
export const WINRM_ERR_TIMEOUT = 'WINRM_ERR_TIMEOUT';
export const WINRM_ERR_ABORTED = 'WINRM_ERR_ABORTED';
export const WINRM_ERR_TRANSPORT = 'WINRM_ERR_TRANSPORT';
export const WINRM_ERR_CONNECT = 'WINRM_ERR_CONNECT';
export const WINRM_ERR_TLS = 'WINRM_ERR_TLS';
export const WINRM_ERR_HOST_KEY = 'WINRM_ERR_HOST_KEY';
export const WINRM_ERR_PROXY = 'WINRM_ERR_PROXY';
export const WINRM_ERR_HTTP_STATUS = 'WINRM_ERR_HTTP_STATUS';
export const WINRM_ERR_AUTH = 'WINRM_ERR_AUTH';
export const WINRM_ERR_ACCESS_DENIED = 'WINRM_ERR_ACCESS_DENIED';
export const WINRM_ERR_CREDSSP = 'WINRM_ERR_CREDSSP';
export const WINRM_ERR_KERBEROS = 'WINRM_ERR_KERBEROS';
export const WINRM_ERR_DELEGATION_REFUSED = 'WINRM_ERR_DELEGATION_REFUSED';
export const WINRM_ERR_UNTRUSTED_HOST = 'WINRM_ERR_UNTRUSTED_HOST';
export const WINRM_ERR_ENCRYPTION = 'WINRM_ERR_ENCRYPTION';
export const WINRM_ERR_WSMAN_FAULT = 'WINRM_ERR_WSMAN_FAULT';
export const WINRM_ERR_LOCAL_PROTOCOL = 'WINRM_ERR_LOCAL_PROTOCOL';
export const WINRM_ERR_REMOTE_PROTOCOL = 'WINRM_ERR_REMOTE_PROTOCOL';
export const WINRM_ERR_CLIXML = 'WINRM_ERR_CLIXML';
export const WINRM_ERR_REMOTE_COMMAND = 'WINRM_ERR_REMOTE_COMMAND';
export const WINRM_ERR_OUTCOME_UNKNOWN = 'WINRM_ERR_OUTCOME_UNKNOWN';
export const WINRM_ERR_INVALID_TOKEN = 'WINRM_ERR_INVALID_TOKEN';
/** XmlError (src/xml/dom.ts): a document from the peer is not well-formed XML. */
export const WINRM_ERR_XML = 'WINRM_ERR_XML';

export class WinRMError extends Error {
  readonly code: string = WINRM_ERR_ERROR;
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class InvalidArgumentError extends WinRMError {
  override readonly code: string = WINRM_ERR_INVALID_ARGUMENT;
}
export class TimeoutError extends WinRMError {
  override readonly code: string = WINRM_ERR_TIMEOUT;
}
export class AbortError extends WinRMError {
  override readonly code: string = WINRM_ERR_ABORTED;
  constructor(message = 'the operation was aborted', options?: ErrorOptions) {
    super(message, options);
  }
}

export class TransportError extends WinRMError {
  override readonly code: string = WINRM_ERR_TRANSPORT;
}
export class ConnectError extends TransportError {
  override readonly code: string = WINRM_ERR_CONNECT;
}
export class TlsError extends TransportError {
  override readonly code: string = WINRM_ERR_TLS;
}
/** The SSH server's host key is not trusted (unknown, changed or revoked in known_hosts). */
export class HostKeyError extends TransportError {
  override readonly code: string = WINRM_ERR_HOST_KEY;
  constructor(
    message: string,
    readonly reason: 'unknown' | 'changed' | 'revoked',
    readonly host: string,
    readonly keyType: string,
    readonly fingerprint: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
/** A proxy (HTTP CONNECT or SOCKS) refused or failed the tunnel: the proxy's answer, not the WinRM host's. */
export class ProxyError extends ConnectError {
  override readonly code: string = WINRM_ERR_PROXY;
  /** the proxy's HTTP status (403, 407, 502...) or undefined (SOCKS, connection failure) */
  constructor(
    message: string,
    readonly proxy: string,
    readonly status?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
export class HttpStatusError extends TransportError {
  override readonly code: string = WINRM_ERR_HTTP_STATUS;
  constructor(
    message: string,
    readonly status: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export class AuthError extends WinRMError {
  override readonly code: string = WINRM_ERR_AUTH;
}
/**
 * Why a logon was refused, when the side that raises the error knows:
 *  - 'bad-password': unknown user or wrong password (or NT hash)
 *  - 'mic': the NTLM message integrity code does not verify (the messages were altered)
 *  - 'channel-binding': the channel-binding token is missing or does not match the TLS channel
 *  - 'anonymous': no credentials were sent (NT AUTHORITY\\ANONYMOUS LOGON)
 *  - 'policy': the credentials are right but the server's policy refuses them (NTLMv1, unencrypted traffic, a
 *    delegated credential for another user, no access after logon)
 *  - 'certificate': the client certificate is missing, invalid or not mapped to a user
 *  - 'unknown': the server only said no
 */
export type AccessDeniedReason = 'bad-password' | 'mic' | 'channel-binding' | 'anonymous' | 'policy' | 'certificate' | 'unknown';

export class AccessDeniedError extends AuthError {
  override readonly code: string = WINRM_ERR_ACCESS_DENIED;
  constructor(
    message: string,
    readonly reason: AccessDeniedReason = 'unknown',
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
export class CredSSPError extends AuthError {
  override readonly code: string = WINRM_ERR_CREDSSP;
  constructor(
    message: string,
    readonly ntStatus?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
export class KerberosError extends AuthError {
  override readonly code: string = WINRM_ERR_KERBEROS;
  constructor(
    message: string,
    readonly krbErrorCode?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
/**
 * A peer's authentication token is malformed (truncated, wrong structure, out-of-range fields), whatever the
 * mechanism: NTLM, SPNEGO, CredSSP or Kerberos. `mechanism` names which.
 */
export class InvalidTokenError extends AuthError {
  override readonly code: string = WINRM_ERR_INVALID_TOKEN;
  constructor(
    readonly mechanism: 'NTLM' | 'SPNEGO' | 'CredSSP' | 'Kerberos',
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * Run a token decoder: what it raises about the bytes (a RemoteProtocolError of its own or of the DER reader, or a
 * plain AuthError) becomes an InvalidTokenError naming the mechanism.
 */
export function decodeToken<T>(mechanism: InvalidTokenError['mechanism'], decode: () => T): T {
  try {
    return decode();
  } catch (e) {
    if (e instanceof InvalidTokenError || !(e instanceof RemoteProtocolError || (e as Error)?.constructor === AuthError)) throw e;
    throw new InvalidTokenError(mechanism, (e as Error).message, { cause: e });
  }
}

/** Raised before any secret leaves the machine when a host is outside the delegate allow-list. */
export class DelegationRefusedError extends AuthError {
  override readonly code: string = WINRM_ERR_DELEGATION_REFUSED;
}
/**
 * Raised before any credential leaves the machine when a trusted-hosts list is set (ConnectOptions.trustedHosts, the
 * config file's `trustedHosts`) and the host is not in it while nothing proves its identity (no verified TLS
 * certificate, no Kerberos): NTLM, Basic and CredSSP-over-NTLM are refused, as the Windows client's TrustedHosts does.
 */
export class UntrustedHostError extends AuthError {
  override readonly code: string = WINRM_ERR_UNTRUSTED_HOST;
  constructor(
    message: string,
    readonly host: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export class EncryptionError extends WinRMError {
  override readonly code: string = WINRM_ERR_ENCRYPTION;
}

export class WSManFaultError extends WinRMError {
  override readonly code: string = WINRM_ERR_WSMAN_FAULT;
  constructor(
    message: string,
    readonly wsmanFaultCode: number | undefined,
    readonly machine: string | undefined,
    readonly reason: string | undefined,
    readonly faultCode?: string,
    readonly faultSubcode?: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The caller used the API wrongly (state machine misuse). */
export class LocalProtocolError extends WinRMError {
  override readonly code: string = WINRM_ERR_LOCAL_PROTOCOL;
}
/** The peer sent something we cannot accept. */
export class RemoteProtocolError extends WinRMError {
  override readonly code: string = WINRM_ERR_REMOTE_PROTOCOL;
}
export class ClixmlError extends RemoteProtocolError {
  override readonly code: string = WINRM_ERR_CLIXML;
}
/** A failed PowerShell pipeline; carries the deserialized ErrorRecord. */
export class RemoteCommandError extends WinRMError {
  override readonly code: string = WINRM_ERR_REMOTE_COMMAND;
  constructor(
    message: string,
    readonly errorRecord?: unknown,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export function assertNever(x: never, what = 'value'): never {
  throw new LocalProtocolError(`unexpected ${what}: ${String(x)}`);
}

/**
 * The connection was lost after a request had been sent and before its response arrived: the server may or may not
 * have carried it out. The client does not resend such a request (a command could run twice, output could be lost).
 * `action` is the WS-Man action (e.g. `Command`, `Receive`) when known.
 */
export class OutcomeUnknownError extends TransportError {
  override readonly code: string = WINRM_ERR_OUTCOME_UNKNOWN;
  constructor(
    message: string,
    readonly action?: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/**
 * Error hierarchy (docs/architecture.md, "Errors"): one root with a stable `code`, a class per layer.
 * Messages say what happened and what to try. They never contain secrets.
 */
export interface ErrorOptions { cause?: unknown }

export class WinRMError extends Error {
  readonly code: string = 'WINRM_ERROR';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

export class InvalidArgumentError extends WinRMError { override readonly code: string = 'INVALID_ARGUMENT'; }
export class TimeoutError extends WinRMError { override readonly code: string = 'TIMEOUT'; }
export class AbortError extends WinRMError {
  override readonly code: string = 'ABORTED';
  constructor(message = 'the operation was aborted', options?: ErrorOptions) { super(message, options); }
}

export class TransportError extends WinRMError { override readonly code: string = 'TRANSPORT'; }
export class ConnectError extends TransportError { override readonly code: string = 'CONNECT'; }
export class TlsError extends TransportError { override readonly code: string = 'TLS'; }
/** The SSH server's host key is not trusted (unknown, changed or revoked in known_hosts). */
export class HostKeyError extends TransportError {
  override readonly code: string = 'HOST_KEY';
  constructor(
    message: string,
    readonly reason: 'unknown' | 'changed' | 'revoked',
    readonly host: string,
    readonly keyType: string,
    readonly fingerprint: string,
    options?: ErrorOptions,
  ) { super(message, options); }
}
/** A proxy (HTTP CONNECT or SOCKS) refused or failed the tunnel: the proxy's answer, not the WinRM host's. */
export class ProxyError extends ConnectError {
  override readonly code: string = 'PROXY';
  /** the proxy's HTTP status (403, 407, 502...) or undefined (SOCKS, connection failure) */
  constructor(message: string, readonly proxy: string, readonly status?: number, options?: ErrorOptions) { super(message, options); }
}
export class HttpStatusError extends TransportError {
  override readonly code: string = 'HTTP_STATUS';
  constructor(message: string, readonly status: number, options?: ErrorOptions) { super(message, options); }
}

export class AuthError extends WinRMError { override readonly code: string = 'AUTH'; }
export class AccessDeniedError extends AuthError { override readonly code: string = 'ACCESS_DENIED'; }
export class CredSSPError extends AuthError {
  override readonly code: string = 'CREDSSP';
  constructor(message: string, readonly ntStatus?: number, options?: ErrorOptions) { super(message, options); }
}
export class KerberosError extends AuthError {
  override readonly code: string = 'KERBEROS';
  constructor(message: string, readonly krbErrorCode?: number, options?: ErrorOptions) { super(message, options); }
}
/** Raised before any secret leaves the machine when a host is outside the delegate allow-list. */
export class DelegationRefusedError extends AuthError { override readonly code: string = 'DELEGATION_REFUSED'; }
/**
 * Raised before any credential leaves the machine when a trusted-hosts list is set (ConnectOptions.trustedHosts, the
 * config file's `trustedHosts`) and the host is not in it while nothing proves its identity (no verified TLS
 * certificate, no Kerberos): NTLM, Basic and CredSSP-over-NTLM are refused, as the Windows client's TrustedHosts does.
 */
export class UntrustedHostError extends AuthError {
  override readonly code: string = 'UNTRUSTED_HOST';
  constructor(message: string, readonly host: string, options?: ErrorOptions) { super(message, options); }
}

export class EncryptionError extends WinRMError { override readonly code: string = 'ENCRYPTION'; }

export class WSManFaultError extends WinRMError {
  override readonly code: string = 'WSMAN_FAULT';
  constructor(
    message: string,
    readonly wsmanFaultCode: number | undefined,
    readonly machine: string | undefined,
    readonly reason: string | undefined,
    readonly faultCode?: string,
    readonly faultSubcode?: string,
    options?: ErrorOptions,
  ) { super(message, options); }
}

/** The caller used the API wrongly (state machine misuse). */
export class LocalProtocolError extends WinRMError { override readonly code: string = 'LOCAL_PROTOCOL'; }
/** The peer sent something we cannot accept. */
export class RemoteProtocolError extends WinRMError { override readonly code: string = 'REMOTE_PROTOCOL'; }
export class ClixmlError extends RemoteProtocolError { override readonly code: string = 'CLIXML'; }
/** A failed PowerShell pipeline; carries the deserialized ErrorRecord. */
export class RemoteCommandError extends WinRMError {
  override readonly code: string = 'REMOTE_COMMAND';
  constructor(message: string, readonly errorRecord?: unknown, options?: ErrorOptions) { super(message, options); }
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
  override readonly code: string = 'OUTCOME_UNKNOWN';
  constructor(message: string, readonly action?: string, options?: ErrorOptions) { super(message, options); }
}

/**
 * One interface for every authentication mechanism, both roles (docs/architecture.md, "Authentication").
 * Sans-IO: a context consumes and produces tokens; the HTTP layer carries them in headers.
 */
export type AuthProtocol = 'ntlm' | 'kerberos' | 'negotiate' | 'credssp' | 'basic' | 'certificate';

/** RFC 5929 tls-server-end-point / gss_channel_bindings_struct (MS-NLMP 2.2.2.1 MsvAvChannelBindings). */
export interface ChannelBindings {
  initiatorAddrType?: number;
  initiatorAddress?: Uint8Array;
  acceptorAddrType?: number;
  acceptorAddress?: Uint8Array;
  /** e.g. "tls-server-end-point:" + hash of the server certificate */
  applicationData?: Uint8Array;
}

export interface StepOptions {
  channelBindings?: ChannelBindings;
  signal?: AbortSignal;
}

export interface AuthContext {
  readonly protocol: AuthProtocol;
  /** true once the mechanism has finished (for initiators: the last token has been produced). */
  readonly complete: boolean;
  /** The HTTP auth scheme carried in Authorization / WWW-Authenticate ("Negotiate", "NTLM", "CredSSP", "Basic", "Kerberos"). */
  readonly httpScheme: string;
  /** Produce the next output token from the peer's last token; undefined = nothing to send. */
  step(inToken?: Uint8Array, opts?: StepOptions): Promise<Uint8Array | undefined>;
  /** Whether this context can do WinRM message encryption (MS-WSMV 2.2.9.1). */
  readonly canEncrypt: boolean;
  /** The protocol string of the encrypted MIME body, e.g. "application/HTTP-SPNEGO-session-encrypted". */
  readonly encryptionProtocol?: string;
  /** Seal data for WinRM message encryption: header = signature part, data = sealed bytes. */
  wrapWinrm(data: Uint8Array): Promise<{ header: Uint8Array; data: Uint8Array; padding?: number }>;
  unwrapWinrm(header: Uint8Array, data: Uint8Array): Promise<Uint8Array>;
  /** A fresh context with the same credentials (NTLM and encryption are bound to ONE TCP connection). */
  newContext(): AuthContext;
}

/** What an acceptor learned about the peer once complete. */
export interface AcceptedIdentity {
  domain: string;
  user: string;
  /** 'network' logons (NTLM, Kerberos without delegation) hold no reusable credentials. */
  logonType: 'network' | 'interactive';
  /** Only for Basic and CredSSP: the delegated password. Never log it. */
  password?: string;
  mechanism: AuthProtocol;
}

export interface AcceptorContext extends AuthContext {
  readonly identity?: AcceptedIdentity;
}

/** User credentials as the caller gives them. `password` or `ntHash` (16 bytes) may be empty for anonymous. */
export interface Credentials {
  /** "DOMAIN\\user", "user@domain" or "user" */
  username: string;
  password?: string;
  ntHash?: Uint8Array;
}

/** The users an acceptor knows (the endpoint's users file). Lookup is case-insensitive on domain and user. */
export interface UserDatabase {
  lookup(domain: string, user: string): { domain: string; user: string; password: string } | undefined;
  /** Certificate mapping: the user a client certificate's UPN / e-mail SAN maps to (`DOMAIN\\user:cert:NAME` entries). */
  lookupCertificate?(name: string): { domain: string; user: string } | undefined;
}

/** One request to a KDC of `realm` and its reply (the I/O edge: src/kdc/network.ts `networkKdc`, or a test double). */
export type KdcSend = (realm: string, request: Uint8Array, opts?: { signal?: AbortSignal }) => Promise<Uint8Array>;

export interface InitiatorOptions {
  /** host name the client connects to (for SPNs: `HTTP/<targetHost>`, delegation checks: `wsman/<targetHost>`) */
  targetHost: string;
  /** explicit service principal name, e.g. "HTTP/host.example" */
  spn?: string;
  /** CredSSP delegation allow-list: `wsman/HOST` patterns */
  delegateTo?: string[];
  /** lowest CredSSP TSRequest version accepted from the server (default 6) */
  credsspMinVersion?: number;
  /** true over HTTPS (mechanisms may adapt, e.g. sign-only) */
  tls?: boolean;
  /** how Kerberos reaches a KDC (src/kdc/network.ts `networkKdc`); auth/ does no network I/O of its own */
  kdcSend?: KdcSend;
  /** anything else a mechanism needs; passed through untouched */
  [extra: string]: unknown;
}

export interface AcceptorOptions {
  /** the users the endpoint knows (the users file) */
  userDb: UserDatabase;
  /** the endpoint's host name (`--name`), e.g. the NetBIOS computer name for NTLM's target info */
  serverName: string;
  /** NetBIOS domain name the endpoint claims (default: the first user's domain, else "WORKGROUP") */
  domainName?: string;
  /** channel binding mode for connection-bound mechanisms (`--cbt`), default 'relaxed' */
  cbt?: 'none' | 'relaxed' | 'strict';
  /** the bindings the acceptor expects (tls-server-end-point of the endpoint's own certificate); absent on HTTP */
  channelBindings?: ChannelBindings;
  /** the endpoint's TLS certificate/key PEM (CredSSP acceptors may reuse them) */
  tlsCert?: string;
  tlsKey?: string;
  /** anything else a mechanism needs; passed through untouched */
  [extra: string]: unknown;
}

export interface AuthMechanism {
  readonly protocol: AuthProtocol;
  readonly httpScheme: string;
  /** every HTTP request carries credentials (Basic); otherwise connection-bound */
  readonly perRequest?: boolean;
  initiator?(creds: Credentials, opts: InitiatorOptions): AuthContext;
  acceptor?(opts: AcceptorOptions): AcceptorContext;
}

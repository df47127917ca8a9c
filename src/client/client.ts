/**
 * The client facade: connection options -> auth context (src/auth/registry.ts) -> HttpTransport -> WSManClient,
 * and WinRS shells on top. No I/O until the first request.
 *
 *   const c = connect({ host: 'win1', username: 'EXAMPLE\\alice', password, auth: 'negotiate' });
 *   const shell = await c.openShell();  ...  await c.close();
 */
import { createInitiator, ambientAuth, getMechanism, type InitiatorOptions } from '../auth/registry.js';
import type { AuthContext } from '../auth/types.js';
import { InvalidArgumentError } from '../errors.js';
import { anonymousLogonHint, brokeredAmbientAuth } from '../broker/client.js';
import { networkKdc } from '../kdc/network.js';
import { HttpTransport, type TransportStats } from '../http/transport.js';
import { WSManClient } from '../wsman/client.js';
import { WinrsShell, type ShellOpenOptions } from './winrs.js';
import { hostTrust, untrustedHostError } from './trusted-hosts.js';

export type AuthName = 'basic' | 'negotiate' | 'ntlm' | 'credssp' | 'kerberos' | (string & {});

export interface ConnectOptions {
  host: string;
  port?: number;
  https?: boolean;
  /** default /wsman */
  path?: string;
  username?: string;
  password?: string;
  ntHash?: Uint8Array;
  /** default: negotiate when a username is given (basic if negotiate is not available), anonymous otherwise */
  auth?: AuthName;
  encryption?: 'auto' | 'always' | 'never';
  /** PEM text */
  ca?: string | Buffer;
  fingerprint?: string;
  insecure?: boolean;
  delegateTo?: string[];
  credsspMinVersion?: number;
  spn?: string;
  /**
   * Kerberos: send a forwarded TGT to the server (the second hop): `true` when the KDC marks the service ok-as-delegate
   * (GSS_C_DELEG_POLICY_FLAG), 'always' even when it does not; `ntlmFallback: false` = Negotiate never uses NTLM
   */
  kerberosDelegate?: boolean | 'always';
  ntlmFallback?: boolean;
  /** seconds */
  connectTimeout?: number;
  operationTimeout?: number;
  readTimeout?: number;
  maxEnvelopeSize?: number;
  locale?: string;
  onWarning?: (msg: string) => void;
  /** max parallel connections (default 2: a second one only while a long poll is in flight) */
  maxConnections?: number;
  /** a ready AuthContext (overrides username/password/auth) */
  authContext?: AuthContext;
  /**
   * allow Basic over plain HTTP (the password in clear text on the wire; the Windows client's AllowUnencrypted).
   * Default false: refused with an error naming `https: true`.
   */
  allowUnencrypted?: boolean;
  /** `auth: 'certificate'` (HTTPS only): the client certificate, PEM `cert` + `key`, or PKCS#12 `pfx` (+ `passphrase`) */
  clientCertificate?: { cert?: string | Buffer; key?: string | Buffer; pfx?: Buffer; passphrase?: string };
  /**
   * proxy URL (`http://[user:pass@]host:port` CONNECT, `socks5://`, `socks5h://`); '' / false = none;
   * default: HTTPS_PROXY / HTTP_PROXY / NO_PROXY
   */
  proxy?: string | false;
  /** hosts that bypass the proxy (comma-separated, NO_PROXY syntax); replaces NO_PROXY */
  noProxy?: string;
  /**
   * HTTPS: verify the server certificate against this name (and send it as SNI) instead of `host` — connecting by
   * IP address (or through another name) to a host whose certificate names it.
   */
  tlsServerName?: string;
  /**
   * The Windows client's TrustedHosts: patterns (`*.corp.example`, `192.168.1.*`, `*`, `<local>`, exact names).
   * When given, Basic, NTLM, and Negotiate / CredSSP falling back to NTLM are refused (UntrustedHostError, before
   * anything is sent) for a host that does not match, unless its identity is proven by a verified (or pinned) TLS
   * certificate or by Kerberos. Undefined (the default) = no such check.
   */
  trustedHosts?: string[];
  /** how the trusted-hosts setting is named in the refusal (default `ConnectOptions.trustedHosts`), e.g. the config file */
  trustedHostsSource?: string;
}

/** Split "host", "host:port", "[v6]:port". */
export function parseHostPort(h: string): { host: string; port?: number } {
  const m6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(h);
  if (m6) return { host: m6[1]!, port: m6[2] ? Number(m6[2]) : undefined };
  const m = /^([^:]+):(\d+)$/.exec(h);
  if (m) return { host: m[1]!, port: Number(m[2]) };
  return { host: h };
}

export function endpointUrl(o: Pick<ConnectOptions, 'host' | 'port' | 'https' | 'path'>): string {
  const hp = parseHostPort(o.host);
  const port = o.port ?? hp.port ?? (o.https ? 5986 : 5985);
  const host = hp.host.includes(':') ? `[${hp.host}]` : hp.host;
  return `${o.https ? 'https' : 'http'}://${host}:${port}${o.path ?? '/wsman'}`;
}

export function defaultAuthName(o: { username?: string; auth?: string }): string | undefined {
  if (o.auth) return o.auth.toLowerCase();
  if (!o.username) return undefined;
  return getMechanism('negotiate')?.initiator ? 'negotiate' : 'basic';
}

export class WinRMClient {
  readonly url: string;
  readonly transport: HttpTransport;
  readonly wsman: WSManClient;
  readonly authName: string | undefined;

  constructor(readonly options: ConnectOptions) {
    this.url = endpointUrl(options);
    const { host } = parseHostPort(options.host);
    const initOpts: InitiatorOptions = {
      targetHost: host,
      spn: options.spn,
      delegateTo: options.delegateTo,
      credsspMinVersion: options.credsspMinVersion,
      tls: !!options.https,
      ...(options.kerberosDelegate ? { kerberosDelegate: options.kerberosDelegate } : {}),
      ...(options.ntlmFallback === false ? { ntlmFallback: false } : {}),
      ...(options.onWarning ? { onWarning: options.onWarning } : {}),
      kdcSend: networkKdc(),
    };
    // trusted hosts: nothing proves who this host is → NTLM and Basic are refused; Negotiate / CredSSP may use Kerberos only
    const trust = {
      host,
      https: options.https,
      insecure: options.insecure,
      fingerprint: options.fingerprint,
      trustedHosts: options.trustedHosts,
      trustedHostsSource: options.trustedHostsSource,
    };
    const untrusted = hostTrust(trust) === 'untrusted';
    if (untrusted) initOpts.ntlmRefused = (what: string) => untrustedHostError(trust, what);
    let auth: AuthContext | undefined = options.authContext;
    this.authName = auth?.protocol;
    if (!auth && options.auth?.toLowerCase() === 'certificate') {
      if (!options.https)
        throw new InvalidArgumentError(
          'certificate authentication works only over HTTPS: add --https (the client certificate is presented in the TLS handshake)',
        );
      if (!options.clientCertificate)
        throw new InvalidArgumentError(
          'certificate authentication needs a client certificate: --cert FILE --cert-key FILE (PEM) or --cert-p12 FILE',
        );
      this.authName = 'certificate';
      auth = createInitiator('certificate', { username: options.username ?? '' }, initOpts);
    }
    if (!auth) {
      if (options.username) {
        if (!options.auth && !getMechanism('negotiate')?.initiator) {
          throw new InvalidArgumentError(
            'Negotiate/NTLM is not available in this build yet: pass --auth basic (over HTTPS, or to an endpoint that ' +
              'allows unencrypted traffic)',
          );
        }
        const name = defaultAuthName(options)!;
        this.authName = name;
        auth = createInitiator(name, { username: options.username, password: options.password, ntHash: options.ntHash }, initOpts);
      } else {
        // no user: "the logged-on user" (a logon-session broker, which may run --auth negotiate|ntlm|credssp), else anonymous
        const ambientOpts = options.auth ? { ...initOpts, mechanism: options.auth.toLowerCase() } : initOpts;
        auth = brokeredAmbientAuth(ambientOpts) ?? ambientAuth(ambientOpts);
        if (!auth && options.auth) throw new InvalidArgumentError(`--auth ${options.auth} needs a user name (-u DOMAIN\\user)`);
        this.authName = auth?.protocol;
      }
    }
    if (untrusted && (auth?.protocol === 'basic' || auth?.protocol === 'ntlm')) {
      throw untrustedHostError(trust, auth.protocol === 'basic' ? 'the password (Basic authentication)' : 'NTLM credentials');
    }
    const operation = options.operationTimeout ?? 20;
    const read = options.readTimeout ?? operation + 10;
    if (read <= operation)
      throw new InvalidArgumentError(`the read timeout (${read} s) must be longer than the operation timeout (${operation} s)`);
    this.transport = new HttpTransport({
      url: this.url,
      auth,
      username: options.username ?? (auth as { displayName?: string } | undefined)?.displayName,
      encryption: options.encryption,
      tls: {
        ca: options.ca,
        fingerprint: options.fingerprint,
        insecure: options.insecure,
        ...options.clientCertificate,
        ...(options.tlsServerName ? { servername: options.tlsServerName } : {}),
      },
      proxy: options.proxy,
      noProxy: options.noProxy,
      connectTimeoutMs: (options.connectTimeout ?? 30) * 1000,
      readTimeoutMs: read * 1000,
      maxConnections: options.maxConnections,
      onWarning: options.onWarning,
      allowUnencrypted: options.allowUnencrypted,
      ...(auth ? {} : { anonymousHint: anonymousLogonHint() }),
    });
    this.wsman = new WSManClient(this.transport, {
      to: this.url,
      maxEnvelopeSize: options.maxEnvelopeSize,
      operationTimeout: operation,
      readTimeoutMarginMs: (read - operation) * 1000,
      locale: options.locale,
    });
  }

  get stats(): TransportStats {
    return this.transport.stats;
  }

  openShell(o: ShellOpenOptions = {}): Promise<WinrsShell> {
    return WinrsShell.open(this.wsman, o);
  }

  /** Open a shell, run one command to completion, close the shell. Small outputs only. */
  async exec(
    command: string,
    args: string[] = [],
    o: ShellOpenOptions & { input?: string | Uint8Array; rawArguments?: boolean } = {},
  ): Promise<{ stdout: Buffer; stderr: Buffer; exitCode: number }> {
    const shell = await this.openShell(o);
    try {
      return await shell.exec(command, args, { signal: o.signal, input: o.input, rawArguments: o.rawArguments });
    } finally {
      await shell.close().catch(() => undefined);
    }
  }

  /**
   * Get the host's WS-Man config (MaxEnvelopeSizekb, MaxTimeoutms, AllowUnencrypted) — a WS-Transfer Get
   * (DSP0226 7; MS-WSMV 3.1.4) of the config resource.
   */
  async getConfig(
    o: { signal?: AbortSignal } = {},
  ): Promise<{ maxEnvelopeSizeKb?: number; maxTimeoutMs?: number; allowUnencrypted?: boolean }> {
    const env = await this.wsman.get('http://schemas.microsoft.com/wbem/wsman/1/config', { signal: o.signal });
    const cfg = env.payload;
    const num = (name: string) => {
      const t = cfg?.children.find((c) => c.local === name && c.ns === CFG_NS)?.text.trim();
      return t && /^\d+$/.test(t) ? Number(t) : undefined;
    };
    const svc = cfg?.children.find((c) => c.local === 'Service' && c.ns === CFG_NS);
    const au = svc?.children.find((c) => c.local === 'AllowUnencrypted' && c.ns === CFG_NS)?.text.trim();
    return {
      maxEnvelopeSizeKb: num('MaxEnvelopeSizekb'),
      maxTimeoutMs: num('MaxTimeoutms'),
      allowUnencrypted: au === undefined ? undefined : au === 'true',
    };
  }

  close(): void {
    this.transport.close();
  }
}

const CFG_NS = 'http://schemas.microsoft.com/wbem/wsman/1/config';

export function connect(options: ConnectOptions): WinRMClient {
  return new WinRMClient(options);
}

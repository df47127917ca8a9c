/**
 * The client HTTP transport: WS-Man envelopes over HTTP/1.1 with the 401 auth loop, message encryption and TLS.
 *
 * Seam (what the session layers see):
 *   interface EnvelopeExchange { exchange(xml, { signal, readTimeoutMs }): Promise<string> }   // the reply XML (200 or 500 fault)
 *   new HttpTransport({ url, auth?, username?, encryption, tls, connectTimeoutMs, readTimeoutMs })
 *   transport.stats = { requests, authRequests, connections }   // round-trip counters (tests pin them)
 *
 * Connections: normally ONE keep-alive TCP/TLS connection carries everything. A second one is opened only when a
 * request must go out while another is still in flight (e.g. stdin Send during a long-poll Receive); at most
 * `maxConnections` (default 2). Each connection has its own AuthContext (`auth.newContext()`): connection-bound
 * mechanisms (NTLM, Negotiate, Kerberos, CredSSP) authenticate once per connection with an empty-body POST
 * (RFC 4559, MS-WSMV 2.2.9.1; docs/protocol.md); when the server closes a connection, the next request opens a new one and re-authenticates
 * transparently. Per-request mechanisms (Basic) send `Authorization` with every request (no extra round trip).
 * Auth loop: `Authorization: <ctx.httpScheme> <base64 token>`, tokens back from `WWW-Authenticate: <scheme> <b64>`,
 * `ctx.step(token, { channelBindings })` — bindings are RFC 5929 tls-server-end-point over HTTPS (src/http/cbt.ts).
 * Encryption: 'auto' = on over HTTP when the context can encrypt, off over HTTPS; 'always'; 'never'.
 * No auth context → anonymous requests; a 401 → AccessDeniedError naming NT AUTHORITY\ANONYMOUS LOGON.
 * TLS: verification on by default; `ca` (PEM), `fingerprint` ("SHA256:<hex|base64>", pins the leaf), `insecure`.
 */
import net from 'node:net';
import tls from 'node:tls';
import { createHash } from 'node:crypto';
import type { AuthContext, ChannelBindings } from '../auth/types.js';
import { isPerRequest } from '../auth/registry.js';
import {
  AbortError,
  AccessDeniedError,
  AuthError,
  ConnectError,
  EncryptionError,
  HttpStatusError,
  InvalidArgumentError,
  OutcomeUnknownError,
  RemoteProtocolError,
  TimeoutError,
  TlsError,
  TransportError,
  WinRMError,
} from '../errors.js';
import { decryptMessage, encryptMessage, isEncryptedContentType } from '../encryption/mime.js';
import { BodyPool, HttpResponseParser, header, type HttpResponse } from './parser.js';
import { tlsServerEndPointBindings } from './cbt.js';
import { openTunnel, proxyFor, type ProxySpec } from './proxy.js';
import { debug, channels } from '../util/debug.js';
import { fromBase64, toBase64 } from '../util/bytes.js';

export interface ExchangeOptions {
  signal?: AbortSignal;
  readTimeoutMs?: number;
}
export interface EnvelopeExchange {
  exchange(envelopeXml: string, opts?: ExchangeOptions): Promise<string>;
  /** the reply as bytes (UTF-8), so bulk content can be cut out before any text conversion (src/xml/base64-cut.ts) */
  exchangeBytes?(envelopeXml: string, opts?: ExchangeOptions): Promise<Buffer>;
  /** hand back a reply of exchangeBytes once nothing refers to its memory any more (it may be reused for a later reply) */
  recycle?(reply: Uint8Array): void;
  readonly stats: TransportStats;
  close(): void;
}
export interface TransportStats {
  requests: number;
  authRequests: number;
  connections: number;
}

export interface TlsOptions {
  /** PEM text of the CA (or the self-signed server certificate) to trust */
  ca?: string | Buffer;
  /**
   * pin the leaf certificate: "SHA256:<hex|base64>", "AA:BB:..." (openssl), 64 hex digits, or a SHA-1 thumbprint
   * (see parseCertificatePin)
   */
  fingerprint?: string;
  /** skip verification entirely (a warning is printed) */
  insecure?: boolean;
  /** SNI / name to verify (default: the URL host) */
  servername?: string;
  /** a client certificate for certificate authentication (PEM cert + key, or PKCS#12 `pfx` + `passphrase`) */
  cert?: string | Buffer;
  key?: string | Buffer;
  pfx?: Buffer;
  passphrase?: string;
}

export interface HttpTransportOptions {
  /** http(s)://host:port/wsman */
  url: string;
  /** undefined → anonymous */
  auth?: AuthContext;
  /** for error messages only ("DOMAIN\\user") */
  username?: string;
  encryption?: 'auto' | 'always' | 'never';
  tls?: TlsOptions;
  connectTimeoutMs?: number;
  /** default read timeout for a response (callers pass operation timeout + margin per request) */
  readTimeoutMs?: number;
  maxConnections?: number;
  /** called with warnings (e.g. --insecure) */
  onWarning?: (msg: string) => void;
  /** max HTTP response body size (default 256 MiB) */
  maxResponseBytes?: number;
  /**
   * allow a mechanism that cannot encrypt (Basic) over plain HTTP, i.e. the password in clear text on the wire
   * (the Windows client's AllowUnencrypted). Default false: such a transport is refused at construction.
   */
  allowUnencrypted?: boolean;
  /** proxy URL (http:// CONNECT, socks5://); '' or false = none; undefined = from HTTPS_PROXY/HTTP_PROXY/NO_PROXY (src/http/proxy.ts) */
  proxy?: string | false;
  /** hosts that bypass the proxy (like curl --noproxy); replaces NO_PROXY */
  noProxy?: string;
  /** appended to the "anonymous request refused" error (the caller knows why there are no credentials) */
  anonymousHint?: string;
}

const ANON_MSG =
  'Access is denied: the server refused an anonymous request (NT AUTHORITY\\ANONYMOUS LOGON). ' +
  'Give credentials (-u DOMAIN\\user with -p or WINRM_PASSWORD); on a second hop, delegate them with --auth credssp';

/** A pinned certificate digest: SHA-256 (any form) or a SHA-1 thumbprint (Windows' form). */
export interface CertificatePin {
  algorithm: 'sha256' | 'sha1';
  digest: Uint8Array;
}

/**
 * Parse a certificate pin: `SHA256:<hex|base64>`, openssl's `AA:BB:...` (32 bytes), bare hex (64 digits), and SHA-1
 * thumbprints (`SHA1:<hex>`, 40 hex digits bare or with separators — what Windows shows). Whitespace and the
 * invisible U+200E the Windows certificate dialog copies are ignored. Throws InvalidArgumentError at once otherwise.
 */
export function parseCertificatePin(fp: string): CertificatePin {
  const bad = (why: string) =>
    new InvalidArgumentError(
      `--fingerprint ${JSON.stringify(fp.length > 80 ? fp.slice(0, 80) + '...' : fp)}: ${why}. ` +
        'Give the SHA-256 of the server certificate as SHA256:<hex>, AA:BB:... (openssl x509 -fingerprint -sha256) or 64 hex ' +
        'digits, or a SHA-1 thumbprint (40 hex digits)',
    );
  const v = fp.replace(/[\u200e\u200f\ufeff]/g, '').trim();
  const m = /^(sha-?256|sha-?1)\s*[:=]\s*(.+)$/i.exec(v);
  const algo = m ? (/256/.test(m[1]!) ? 'sha256' : 'sha1') : undefined;
  if (!m && /^[a-z0-9-]+:/i.test(v) && !/^[0-9a-f]{2}:/i.test(v)) throw bad(`unknown digest ${v.split(':')[0]} (SHA-256 or SHA-1 only)`);
  const body = (m ? m[2]! : v).trim();
  const hex = body.replace(/[\s:-]/g, '');
  if (/^[0-9a-fA-F]+$/.test(hex) && (hex.length === 64 || hex.length === 40)) {
    const a = hex.length === 64 ? 'sha256' : 'sha1';
    if (algo && algo !== a)
      throw bad(`a ${algo === 'sha256' ? 'SHA-256' : 'SHA-1'} digest has ${algo === 'sha256' ? 64 : 40} hex digits, got ${hex.length}`);
    return { algorithm: a, digest: new Uint8Array(Buffer.from(hex, 'hex')) };
  }
  if (m && /^[A-Za-z0-9+/_-]+=*$/.test(body)) {
    const b = Buffer.from(body.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (algo === 'sha256' && b.length === 32) return { algorithm: 'sha256', digest: new Uint8Array(b) };
    if (algo === 'sha1' && b.length === 20) return { algorithm: 'sha1', digest: new Uint8Array(b) };
  }
  if (/^[0-9a-fA-F]+$/.test(hex)) throw bad(`${hex.length} hex digits (a SHA-256 digest has 64, a SHA-1 thumbprint 40)`);
  throw bad('not a hex or base64 digest');
}

/** Parse a pin into its raw digest bytes (see parseCertificatePin). */
export function parseFingerprint(fp: string): Uint8Array {
  return parseCertificatePin(fp).digest;
}

export function certFingerprint(der: Uint8Array): string {
  return 'SHA256:' + createHash('sha256').update(der).digest('hex');
}

/** Parse WWW-Authenticate values into [scheme, token?] (one challenge per header value, as WinRM sends). */
export function parseChallenges(values: string[] | undefined): Array<{ scheme: string; token?: string }> {
  const out: Array<{ scheme: string; token?: string }> = [];
  for (const v of values ?? []) {
    for (const part of v.split(/,(?=\s*[A-Za-z][A-Za-z0-9-]*(?:\s|$))/)) {
      const m = /^\s*([A-Za-z][A-Za-z0-9-]*)(?:\s+(.+?))?\s*$/.exec(part);
      if (!m) continue;
      const tok = m[2];
      out.push({ scheme: m[1]!, token: tok && /^[A-Za-z0-9+/]+=*$/.test(tok) ? tok : undefined });
    }
  }
  return out;
}

/** How a request on a connection ended without a response (see HttpTransport.exchange for what is resent). */
interface LostInfo {
  /** the connection had carried a complete response before this request (a kept-alive, reused connection) */
  reused: boolean;
  /** bytes of the response received before the connection was lost */
  received: number;
}

/** Internal: the connection was found closed before any byte of the request was written (safe to send again). */
class NotWrittenError extends TransportError {}
/** Internal: the connection was lost during an authentication leg (an empty-body POST: nothing to run twice). */
class AuthLegLost extends TransportError {
  constructor(
    readonly lost: LostInfo,
    cause: Error,
  ) {
    super(cause.message, { cause });
  }
}

/** After a plain-HTTP connection got no answer at all: does the port speak TLS? (a short handshake probe) */
export function probeTls(host: string, port: number, timeoutMs = 3000): Promise<boolean> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (v: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      resolve(v);
    };
    const s = tls.connect({ host, port, rejectUnauthorized: false, servername: net.isIP(host) ? undefined : host });
    const timer = setTimeout(() => finish(false), timeoutMs);
    s.once('secureConnect', () => finish(true));
    s.once('error', () => finish(false));
  });
}

class Connection {
  socket: net.Socket | undefined;
  parser: HttpResponseParser;
  ctx: AuthContext | undefined;
  authed = false;
  busy = false;
  bindings: ChannelBindings | undefined;
  /** the leaf certificate of this TLS connection (for error messages) */
  peerFingerprint: string | undefined;
  /** complete responses received on the current socket */
  responses = 0;
  /** when the last response completed (ms, Date.now()) */
  idleSince = 0;
  /** the server's `Keep-Alive: timeout=N` (ms), when it announced one */
  keepAliveMs: number | undefined;
  /** response bytes received since the current request was written */
  private received = 0;
  private waiter: { resolve: (r: HttpResponse) => void; reject: (e: Error) => void } | undefined;
  private queue: HttpResponse[] = [];
  private dead: Error | undefined;

  constructor(
    private readonly t: HttpTransport,
    ctx: AuthContext | undefined,
  ) {
    this.ctx = ctx;
    this.parser = new HttpResponseParser(t.maxResponseBytes, t.bodies);
  }

  get open(): boolean {
    return !!this.socket && !this.dead && !this.socket.destroyed && !this.socket.readableEnded;
  }

  /** A kept-alive connection idle for longer than the server said it keeps them is not reused (it may be closing). */
  get stale(): boolean {
    return this.keepAliveMs !== undefined && this.responses > 0 && Date.now() - this.idleSince > Math.max(500, this.keepAliveMs - 1000);
  }

  destroy(err?: Error): void {
    this.dead ??= err ?? new TransportError('connection closed');
    this.socket?.destroy();
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(this.dead);
  }

  async connect(signal?: AbortSignal): Promise<void> {
    const t = this.t;
    const old = this.socket;
    this.socket = undefined; // events of the old socket are ignored from now on
    old?.destroy();
    this.queue = [];
    this.parser = new HttpResponseParser(t.maxResponseBytes, t.bodies);
    this.authed = false;
    this.bindings = undefined;
    this.responses = 0;
    this.keepAliveMs = undefined;
    this.peerFingerprint = undefined;
    t.stats.connections++;
    let peerDer: Uint8Array | undefined;
    // through a proxy: a tunnel first (HTTP CONNECT / SOCKS), then TLS or HTTP on it, end to end with the host
    const tunnel = t.proxy ? await openTunnel(t.proxy, t.host, t.port, { timeoutMs: t.connectTimeoutMs, signal }) : undefined;
    let onData: ((d: Uint8Array) => void) | undefined;
    const onRead = (d: Uint8Array): boolean => {
      onData?.(d);
      return true;
    };
    const sock = await new Promise<net.Socket>((resolve, reject) => {
      let s: net.Socket;
      const timer = setTimeout(() => {
        s?.destroy();
        reject(
          new TimeoutError(
            `could not connect to ${t.host}:${t.port} within ${t.connectTimeoutMs / 1000} s (connect timeout); check the host, ` +
              `port and firewall`,
          ),
        );
      }, t.connectTimeoutMs);
      const onAbort = () => {
        clearTimeout(timer);
        s?.destroy();
        reject(new AbortError());
      };
      if (signal?.aborted) {
        clearTimeout(timer);
        reject(new AbortError());
        return;
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      if (t.https) {
        const o = t.tlsOpts;
        const pin = t.pin;
        const servername = o.servername ?? (net.isIP(t.host) ? undefined : t.host);
        s = tls.connect({
          host: t.host,
          port: t.port,
          socket: tunnel,
          servername,
          ca: o.ca,
          rejectUnauthorized: !(o.insecure || pin),
          cert: o.cert,
          key: o.key,
          pfx: o.pfx,
          passphrase: o.passphrase,
          ALPNProtocols: ['http/1.1'],
          checkServerIdentity: (host, cert) => tls.checkServerIdentity(o.servername ?? host, cert),
        });
        s.once('secureConnect', () => {
          done();
          const ts = s as tls.TLSSocket;
          const peer = ts.getPeerX509Certificate();
          if (!peer) {
            s.destroy();
            reject(new TlsError('the server presented no TLS certificate'));
            return;
          }
          if (pin) {
            const got = createHash(pin.algorithm).update(peer.raw).digest();
            if (!got.equals(Buffer.from(pin.digest))) {
              s.destroy();
              reject(
                new TlsError(
                  `the server certificate ` +
                    `(${certFingerprint(peer.raw)}` +
                    (pin.algorithm === 'sha1' ? `, SHA-1 thumbprint ${got.toString('hex').toUpperCase()}` : '') +
                    ') ' +
                    `does not match the pinned --fingerprint; ` +
                    'if the server certificate was renewed, pin the new one; otherwise something may be intercepting the connection',
                ),
              );
              return;
            }
          }
          peerDer = new Uint8Array(peer.raw);
          resolve(s);
        });
        s.once('error', (e: NodeJS.ErrnoException) => {
          done();
          if (isNotTlsError(e)) {
            reject(
              new TlsError(
                `${t.host}:${t.port} did not answer the TLS handshake with TLS ` +
                  `(${(e as { reason?: string }).reason ?? e.message.split('\n')[0]}): it looks like a plain HTTP port. ` +
                  'WinRM listens for HTTP on 5985 and HTTPS on 5986: drop --https, or use the HTTPS port',
                { cause: e },
              ),
            );
          } else if (e.code && /CERT|SELF_SIGNED|UNABLE_TO|ERR_TLS|HOSTNAME|ALTNAME|SSL|EPROTO/.test(e.code)) {
            let fp = '';
            try {
              const p = (s as tls.TLSSocket).getPeerX509Certificate();
              if (p) fp = ` (server certificate ${certFingerprint(p.raw)})`;
            } catch {
              /* none */
            }
            reject(
              new TlsError(
                `TLS verification of ${t.host}:${t.port} failed: ${e.message}${fp}. ` +
                  (e.code === 'ERR_TLS_CERT_ALTNAME_INVALID'
                    ? 'The certificate is trusted but names another host: connect by a name it lists, or give that name with ' +
                      '--tls-server-name NAME (e.g. when connecting by IP address), or pin it with --fingerprint SHA256:<hex>'
                    : 'Trust it with --ca FILE (the CA or self-signed certificate, PEM), pin it with --fingerprint SHA256:<hex>, ' +
                      'or (unsafe) --insecure'),
                { cause: e },
              ),
            );
          } else if (e.code === 'ECONNRESET' || /before secure TLS connection/i.test(e.message)) {
            reject(
              new TlsError(
                `${t.host}:${t.port} closed the connection during the TLS handshake (${e.message}): the port may not speak TLS ` +
                  "(WinRM HTTP listens on 5985: drop --https), or the server refuses this client's TLS versions",
                { cause: e },
              ),
            );
          } else reject(new ConnectError(`could not connect to ${t.host}:${t.port}: ${e.message}`, { cause: e }));
        });
      } else if (tunnel) {
        s = tunnel;
        done();
        resolve(s);
      } else {
        // read into one reused buffer (the parser copies what it keeps) rather than a new buffer per read, and the rest
        // of a body of known length straight into the body's buffer (the parser's readTarget: no copy, larger reads)
        const parser = this.parser;
        s = net.connect({
          host: t.host,
          port: t.port,
          onread: { buffer: () => parser.readTarget() ?? READ_BUFFER, callback: (n, buf) => onRead(buf.subarray(0, n)) },
        });
        s.once('connect', () => {
          done();
          resolve(s);
        });
        s.once('error', (e) => {
          done();
          reject(new ConnectError(`could not connect to ${t.host}:${t.port}: ${e.message}`, { cause: e }));
        });
      }
    });
    this.dead = undefined;
    sock.setNoDelay(true);
    sock.setKeepAlive(true, 30000);
    this.socket = sock;
    if (peerDer) {
      this.bindings = tlsServerEndPointBindings(peerDer);
      this.peerFingerprint = certFingerprint(peerDer);
    }
    // events of a replaced socket must not touch the connection's new socket
    const mine = () => this.socket === sock;
    onData = (d: Uint8Array) => {
      if (!mine()) return;
      this.received += d.length;
      try {
        for (const r of this.parser.feed(d)) this.deliver(r);
      } catch (e) {
        this.destroy(e as Error);
      }
    };
    sock.on('data', onData);
    sock.on('end', () => {
      if (!mine()) return;
      try {
        const r = this.parser.end();
        if (r) this.deliver(r);
      } catch (e) {
        this.destroy(
          new TransportError(`the server closed the connection in the middle of an HTTP response (${(e as Error).message})`, { cause: e }),
        );
        return;
      }
      this.destroy(new TransportError('the server closed the connection'));
    });
    sock.on('error', (e) => {
      if (!mine()) return;
      // TLS 1.3: a server that refuses (or wants) a client certificate says so with an alert after the handshake
      if (
        /alert (certificate required|bad certificate|certificate unknown|unsupported certificate|certificate revoked|certificate expired|unknown ca)/i.test(
          e.message,
        )
      ) {
        this.destroy(
          new TlsError(
            `${t.host}:${t.port} refused the TLS client certificate (${/alert ([a-z ]+)/i.exec(e.message)?.[1] ?? e.message}): ` +
              (t.tlsOpts.cert || t.tlsOpts.pfx
                ? 'check --cert/--cert-key or --cert-p12 and that the server trusts their CA'
                : 'it requires one: --auth certificate --cert FILE --cert-key FILE'),
            { cause: e },
          ),
        );
        return;
      }
      this.destroy(new TransportError(`connection to ${t.host}:${t.port} failed: ${e.message}`, { cause: e }));
    });
    sock.on('close', () => {
      if (mine()) this.destroy(new TransportError('the server closed the connection'));
    });
  }

  private deliver(r: HttpResponse): void {
    this.responses++;
    this.idleSince = Date.now();
    const ka = /(?:^|[\s,])timeout=(\d{1,6})/i.exec((r.headers.get('keep-alive') ?? []).join(','));
    if (ka) this.keepAliveMs = Number(ka[1]) * 1000;
    const w = this.waiter;
    if (w) {
      this.waiter = undefined;
      w.resolve(r);
    } else this.queue.push(r);
  }

  /**
   * One HTTP request/response on this connection. A request that cannot have reached the server (the connection
   * was found closed before writing) fails with NotWrittenError; a connection lost after writing fails with the
   * connection's error, `lost` describing what was seen.
   */
  async request(
    body: Uint8Array,
    contentType: string | undefined,
    authorization: string | undefined,
    opts: ExchangeOptions,
    isAuth: boolean,
  ): Promise<HttpResponse> {
    const t = this.t;
    if (this.open && this.responses > 0 && !this.queue.length) {
      // a kept-alive connection the server may have closed while it was idle: let already-arrived FIN/RST events be
      // handled before writing (one turn of the event loop), so such a close is seen before anything is sent
      await new Promise<void>((r) => setImmediate(() => setImmediate(r))); // the second turn passes a poll phase
    }
    if (!this.open) throw new NotWrittenError(this.dead?.message ?? 'connection not open', { cause: this.dead });
    const head = [
      `POST ${t.path} HTTP/1.1`,
      `Host: ${t.hostHeader}`,
      'Connection: Keep-Alive',
      'User-Agent: winrm-ts/0.1',
      `Content-Length: ${body.length}`,
    ];
    if (contentType) head.push(`Content-Type: ${contentType}`);
    if (authorization) head.push(`Authorization: ${authorization}`);
    t.stats.requests++;
    if (isAuth) t.stats.authRequests++;
    if (channels.request.hasSubscribers) channels.request.publish({ url: t.url, bytes: body.length, auth: isAuth });
    const readTimeout = opts.readTimeoutMs ?? t.readTimeoutMs;
    const reused = this.responses > 0;
    this.received = 0;
    const p = new Promise<HttpResponse>((resolve, reject) => {
      const q = this.queue.shift();
      if (q) {
        resolve(q);
        return;
      }
      let timer: NodeJS.Timeout | undefined;
      const onAbort = () => {
        cleanup();
        this.destroy(new AbortError());
        reject(new AbortError());
      };
      const cleanup = () => {
        if (timer) clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
      };
      timer = setTimeout(() => {
        cleanup();
        const e = new TimeoutError(
          `no HTTP response from ${t.host}:${t.port} within ${readTimeout / 1000} s (read timeout); raise --read-timeout`,
        );
        this.destroy(e);
        reject(e);
      }, readTimeout);
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      this.waiter = {
        resolve: (r) => {
          cleanup();
          resolve(r);
        },
        reject: (e) => {
          cleanup();
          if (e instanceof TransportError && !(e instanceof AbortError))
            (e as TransportError & { lost?: LostInfo }).lost = { reused, received: this.received };
          reject(e);
        },
      };
    });
    if (opts.signal?.aborted) {
      p.catch(() => undefined);
      this.destroy(new AbortError());
      throw new AbortError();
    }
    this.socket!.cork();
    this.socket!.write(head.join('\r\n') + '\r\n\r\n');
    if (body.length) this.socket!.write(body);
    this.socket!.uncork();
    const res = await p;
    if (channels.response.hasSubscribers) channels.response.publish({ url: t.url, status: res.status, bytes: res.body.length });
    if (debug.enabled) debug('HTTP %d (%d bytes)', res.status, res.body.length);
    if (res.close) {
      this.socket?.end();
      this.dead ??= new TransportError('server closed the keep-alive connection');
    }
    return res;
  }
}

/** The TLS error a client gets when the server answers the ClientHello in plain text (an HTTP port). */
function isNotTlsError(e: NodeJS.ErrnoException): boolean {
  return (
    /wrong version number|packet length too long|http request|unknown protocol|record layer failure/i.test(e.message) ||
    e.code === 'ERR_SSL_WRONG_VERSION_NUMBER' ||
    e.code === 'ERR_SSL_PACKET_LENGTH_TOO_LONG' ||
    e.code === 'ERR_SSL_HTTP_REQUEST'
  );
}

/** WS-Man actions whose effect is the same when carried out twice (reads; Delete and Signal end in the same state). */
const REPEATABLE_ACTIONS = /\/(?:transfer\/Get|enumeration\/Enumerate|enumeration\/Pull|transfer\/Delete|shell\/Signal)$/;

/** The WS-Man action of an envelope (for error messages and the resend rule); undefined when not found. */
export function envelopeAction(xml: string): string | undefined {
  const m = /<(?:[A-Za-z_][\w.-]*:)?Action\b[^>]*>\s*([^<\s]+)\s*</.exec(xml.slice(0, 8192));
  return m?.[1];
}

/** What a plain TCP socket reads into (socket reads run one at a time on the main thread; the parser copies what it keeps). */
const READ_BUFFER = Buffer.allocUnsafeSlow(65536);

export class HttpTransport implements EnvelopeExchange {
  readonly stats: TransportStats = { requests: 0, authRequests: 0, connections: 0 };
  /** response bodies are read into these, and reused once handed back (recycle) */
  readonly bodies = new BodyPool();
  readonly url: string;
  readonly https: boolean;
  readonly host: string;
  readonly port: number;
  readonly path: string;
  readonly hostHeader: string;
  readonly tlsOpts: TlsOptions;
  readonly connectTimeoutMs: number;
  readonly readTimeoutMs: number;
  readonly maxResponseBytes: number;
  readonly encrypt: boolean;
  /** the parsed --fingerprint, if any */
  readonly pin: CertificatePin | undefined;
  readonly proxy: ProxySpec | undefined;
  private readonly conns: Connection[] = [];
  private readonly waiting: Array<() => void> = [];
  private readonly maxConnections: number;
  private baseCtxUsed = false;
  private closed = false;

  constructor(private readonly opts: HttpTransportOptions) {
    let u: URL;
    try {
      u = new URL(opts.url);
    } catch {
      throw new InvalidArgumentError(`not a URL: ${opts.url}`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:')
      throw new InvalidArgumentError(`URL must be http:// or https://, got ${u.protocol}`);
    this.url = u.toString();
    this.https = u.protocol === 'https:';
    this.host = u.hostname.replace(/^\[|\]$/g, '');
    this.port = Number(u.port || (this.https ? 443 : 80));
    this.path = u.pathname || '/wsman';
    this.hostHeader = u.host;
    this.tlsOpts = opts.tls ?? {};
    const warn = opts.onWarning ?? ((m: string) => process.emitWarning(m));
    // a malformed pin fails here, before any connection (not at connect time)
    this.pin = this.tlsOpts.fingerprint !== undefined ? parseCertificatePin(this.tlsOpts.fingerprint) : undefined;
    if (this.pin && !this.https) throw new InvalidArgumentError('--fingerprint pins a TLS certificate: it needs --https');
    if (this.pin?.algorithm === 'sha1' && this.https)
      warn(
        'the pinned fingerprint is a SHA-1 thumbprint; SHA-1 is weaker than SHA-256: prefer --fingerprint SHA256:<hex> (openssl ' +
          'x509 -noout -fingerprint -sha256)',
      );
    if (this.tlsOpts.insecure && this.https)
      (opts.onWarning ?? ((m: string) => process.emitWarning(m)))(
        'TLS certificate verification is disabled (--insecure): the connection can be intercepted',
      );
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 30000;
    this.readTimeoutMs = opts.readTimeoutMs ?? 30000;
    this.maxResponseBytes = opts.maxResponseBytes ?? 256 * 1024 * 1024;
    this.maxConnections = Math.max(1, opts.maxConnections ?? 2);
    this.proxy = proxyFor({ https: this.https, host: this.host, port: this.port }, { proxy: opts.proxy, noProxy: opts.noProxy });
    const o = this.tlsOpts;
    if (o.cert || o.key || o.pfx) {
      if (!this.https) throw new InvalidArgumentError('a client certificate is presented only over HTTPS: use --https');
      try {
        tls.createSecureContext({ cert: o.cert, key: o.key, pfx: o.pfx, passphrase: o.passphrase });
      } catch (e) {
        const m = (e as Error).message;
        const hint = /mac verify|bad decrypt|passphrase/i.test(m)
          ? ' (wrong passphrase? set WINRM_CERT_PASSPHRASE)'
          : /unsupported/i.test(m)
            ? ' (a legacy PKCS#12 cipher: re-export it with `openssl pkcs12 -export` from OpenSSL 3, or use --cert/--cert-key PEM files)'
            : /key values mismatch/i.test(m)
              ? ' (the key does not belong to the certificate)'
              : '';
        throw new InvalidArgumentError(`cannot use the client certificate: ${m}${hint}`, { cause: e });
      }
    }
    const mode = opts.encryption ?? 'auto';
    const ctx = opts.auth;
    const can = !!ctx && ctx.canEncrypt;
    if (mode === 'always' && ctx && !can)
      throw new InvalidArgumentError(
        `--encryption always: ${ctx.protocol} cannot encrypt WinRM messages; use negotiate, kerberos or credssp, or HTTPS`,
      );
    this.encrypt = can && (mode === 'always' || (mode === 'auto' && !this.https));
    if (ctx && !this.https && !can && isPerRequest(ctx) && !opts.allowUnencrypted) {
      throw new InvalidArgumentError(
        `${ctx.httpScheme} authentication over plain HTTP would send the password in clear text: refused ` +
          '(as the Windows client does with AllowUnencrypted=false). Use --https (WinRM over HTTPS, port 5986), a mechanism ' +
          'that encrypts ' +
          '(--auth negotiate, kerberos or credssp), or, on a network you trust, --allow-unencrypted (the server must allow it too)',
      );
    }
  }

  private newCtx(): AuthContext | undefined {
    const base = this.opts.auth;
    if (!base) return undefined;
    if (!this.baseCtxUsed) {
      this.baseCtxUsed = true;
      return base;
    }
    return base.newContext();
  }

  /** Get an idle connection (prefer an open, authenticated one); open a second one only when all are busy. */
  private async acquire(signal?: AbortSignal): Promise<Connection> {
    for (;;) {
      if (this.closed) throw new TransportError('transport closed');
      if (signal?.aborted) throw new AbortError();
      const idle = this.conns.filter((c) => !c.busy);
      const best = idle.find((c) => c.open && c.authed) ?? idle.find((c) => c.open) ?? idle[0];
      if (best) {
        best.busy = true;
        return best;
      }
      if (this.conns.length < this.maxConnections) {
        const c = new Connection(this, this.newCtx());
        c.busy = true;
        this.conns.push(c);
        return c;
      }
      await new Promise<void>((r) => {
        const wake = () => {
          signal?.removeEventListener('abort', onAbort);
          r();
        };
        // an aborted waiter leaves the queue, so a release still wakes somebody who waits
        const onAbort = () => {
          const i = this.waiting.indexOf(wake);
          if (i >= 0) this.waiting.splice(i, 1);
          r();
        };
        this.waiting.push(wake);
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    }
  }

  private release(c: Connection): void {
    c.busy = false;
    const w = this.waiting.shift();
    w?.();
  }

  close(): void {
    this.closed = true;
    for (const c of this.conns) c.destroy(new TransportError('transport closed'));
    for (const w of this.waiting.splice(0)) w();
  }

  /**
   * Send one envelope and return the reply. Resending is limited to what cannot run twice:
   *  - the connection was found closed before any byte of the request was written (a kept-alive connection the
   *    server closed while idle; also one idle for longer than the server's `Keep-Alive: timeout`): reconnect and send;
   *  - the connection was lost after writing, before any response byte, and the request changes nothing when done
   *    twice (an authentication leg, Get, Enumerate, Pull, Delete, Signal): resend once on a new connection.
   * Any other loss after writing (Create, Command, Send, Receive ...) fails with OutcomeUnknownError: the server may
   * have carried the request out, and a Receive's output may be lost with the response.
   */
  async exchange(envelopeXml: string, opts: ExchangeOptions = {}): Promise<string> {
    const bytes = await this.exchangeBytes(envelopeXml, opts);
    const text = bytes.toString('utf8');
    this.bodies.give(bytes);
    return text;
  }

  recycle(reply: Uint8Array): void {
    this.bodies.give(reply);
  }

  /** exchange(), the reply as bytes (no text conversion of the body). */
  async exchangeBytes(envelopeXml: string, opts: ExchangeOptions = {}): Promise<Buffer> {
    const c = await this.acquire(opts.signal);
    const action = envelopeAction(envelopeXml);
    const verb = action?.replace(/^.*\//, '');
    const repeatable = !!action && REPEATABLE_ACTIONS.test(action);
    try {
      const body = Buffer.from(envelopeXml, 'utf8');
      let resent = false;
      let reconnects = 0;
      for (;;) {
        if (c.open && c.stale) {
          debug('keep-alive connection idle past the server timeout; reconnecting');
          c.destroy(new TransportError('idle connection retired'));
        }
        const fresh = !c.open;
        try {
          return await this.send(c, body, opts);
        } catch (e) {
          if (e instanceof NotWrittenError && ++reconnects <= 3) {
            debug('connection closed before the request was written; reconnecting');
            continue;
          }
          if (e instanceof NotWrittenError)
            throw new TransportError(
              `${this.host}:${this.port} keeps closing the connection before a request can be sent; is it a WinRM endpoint?`,
              { cause: e },
            );
          const lost = (e as { lost?: LostInfo }).lost;
          // a TLS refusal (a client-certificate alert) ends the connection before the request is processed: no doubt there
          if (
            !lost ||
            !(e instanceof TransportError) ||
            e instanceof TimeoutError ||
            e instanceof AbortError ||
            e instanceof HttpStatusError ||
            e instanceof TlsError
          )
            throw e;
          if (e instanceof AuthLegLost && !resent && lost.reused) {
            resent = true;
            debug('connection lost during an authentication leg; starting over');
            continue;
          }
          if (e instanceof AuthLegLost) throw await this.lostError(c, e, lost, 'authentication', fresh);
          if (repeatable && lost.received === 0 && !resent) {
            resent = true;
            debug('connection lost before the %s response; resending (repeatable)', verb);
            continue;
          }
          throw await this.lostError(c, e, lost, verb, fresh);
        }
      }
    } finally {
      this.release(c);
    }
  }

  /** The error for a connection lost after a request was written. */
  private async lostError(
    c: Connection,
    e: TransportError,
    lost: LostInfo,
    verb: string | undefined,
    fresh: boolean,
  ): Promise<TransportError> {
    const where = `${this.host}:${this.port}`;
    const cause = e.cause instanceof Error ? e.cause.message : e.message;
    if (fresh && !lost.reused && lost.received === 0) {
      // the very first request on a new connection got no answer at all: usually the wrong protocol for the port
      if (!this.https && (await probeTls(this.host, this.port))) {
        return new ConnectError(
          `${where} speaks TLS (HTTPS) and closed the plain-HTTP connection: add --https (WinRM over HTTPS listens on 5986)`,
          { cause: e },
        );
      }
    }
    if (e instanceof RemoteProtocolError || e.cause instanceof RemoteProtocolError) {
      // garbage in place of an HTTP response: say so (the parser names what it saw)
      return e;
    }
    if (verb === 'authentication') {
      return new TransportError(
        `the connection to ${where} was lost during authentication (${cause}); nothing was run. Try again; if it keeps ` +
          `happening, check for a proxy or load balancer closing connections`,
        { cause: e },
      );
    }
    const what = verb ?? 'request';
    const advice: Record<string, string> = {
      Command:
        'the command may or may not have started on the host (it was not sent again, so it cannot have run twice); check its ' +
        'effects before running it again',
      Receive: 'what the host sent in the lost response (output, state) is gone, so the output may be incomplete; nothing was run again',
      Send: 'the input may or may not have reached the command; run it again if it is safe to',
      Create: 'a shell may or may not have been created on the host (it times out there when idle); try again',
    };
    return new OutcomeUnknownError(
      `the connection to ${where} was lost after the ${verb ? `${verb} ` : ''}request was sent and before its response arrived ` +
        `(${cause}): ` +
        `the outcome is unknown. ` +
        `${advice[what] ?? 'it was not sent again, so it cannot have been carried out twice; check the host before retrying'}`,
      verb,
      { cause: e },
    );
  }

  private async ensureConnected(c: Connection, signal?: AbortSignal): Promise<void> {
    if (c.open) return;
    const hadSocket = !!c.socket;
    if (hadSocket && c.ctx) c.ctx = c.ctx.newContext(); // connection replaced: connection-bound auth starts over
    await c.connect(signal);
  }

  private who(): string {
    return this.opts.username ? `${this.opts.username} (${this.opts.auth?.protocol})` : 'anonymous';
  }

  private async send(c: Connection, body: Uint8Array, opts: ExchangeOptions): Promise<Buffer> {
    await this.ensureConnected(c, opts.signal);
    const ctx = c.ctx;
    let res: HttpResponse;
    if (!ctx) {
      res = await c.request(body, 'application/soap+xml;charset=UTF-8', undefined, opts, false);
      if (res.status === 401) throw new AccessDeniedError(ANON_MSG + (this.opts.anonymousHint ?? ''), 'anonymous');
    } else if (isPerRequest(ctx)) {
      const tok = await ctx.step(undefined, { channelBindings: c.bindings, signal: opts.signal });
      // a token-less scheme (the certificate profile URI) is the whole header value
      const authz =
        tok?.length || ctx.protocol !== 'certificate' ? `${ctx.httpScheme} ${toBase64(tok ?? new Uint8Array())}` : ctx.httpScheme;
      if (!this.https && !ctx.canEncrypt) debug('warning: %s credentials over plain HTTP', ctx.httpScheme);
      res = await c.request(body, 'application/soap+xml;charset=UTF-8', authz, opts, false);
      // a fresh context per request keeps step() simple for per-request mechanisms
      c.ctx = ctx.newContext();
      if (res.status === 401 && ctx.protocol === 'certificate') {
        throw new AccessDeniedError(
          `Access is denied: ${this.host}:${this.port} did not accept the client certificate: it is not mapped to a user there, ` +
            `has expired or been revoked, or is not issued by a CA the server trusts for client certificates (check the server's ` +
            `certificate mapping)`,
          'certificate',
        );
      }
      if (res.status === 401) {
        const offered = parseChallenges(res.headers.get('www-authenticate')).map((x) => x.scheme);
        if (offered.length && !offered.some((s) => s.toLowerCase() === ctx.httpScheme.toLowerCase())) {
          throw new AuthError(
            `the server does not accept ${ctx.httpScheme} authentication (it offers: ${offered.join(', ')}); try --auth ` +
              offered[0]!.toLowerCase() +
              (!this.https && ctx.httpScheme === 'Basic' ? ' (Basic over HTTP also needs AllowUnencrypted on the server)' : ''),
          );
        }
        throw new AccessDeniedError(
          `Access is denied: the server rejected the credentials of ` +
            this.who() +
            (!this.https ? '. If they are right, the server may refuse Basic over plain HTTP (AllowUnencrypted=false): use --https' : ''),
          'bad-password',
        );
      }
    } else {
      if (!c.authed) await this.handshake(c, ctx, opts);
      if (this.encrypt) {
        const e = await encryptMessage(ctx, body);
        res = await c.request(e.body, e.contentType, undefined, opts, false);
      } else {
        res = await c.request(body, 'application/soap+xml;charset=UTF-8', undefined, opts, false);
      }
      if (res.status === 401) {
        c.authed = false;
        if (!this.encrypt && !this.https) {
          throw new AccessDeniedError(
            `the server requires message encryption (AllowUnencrypted is false on the server): authenticated as ${this.who()} ` +
              `but the unencrypted request was refused; use --encryption auto (the default) or HTTPS`,
            'policy',
          );
        }
        throw new AccessDeniedError(`Access is denied: the server refused the request after authenticating ${this.who()}`, 'policy');
      }
    }
    const ct = header(res, 'content-type');
    let xmlBytes: Uint8Array = res.body;
    if (isEncryptedContentType(ct)) {
      if (!ctx?.canEncrypt)
        throw new EncryptionError('the server sent an encrypted response but this connection has no encryption context');
      xmlBytes = await decryptMessage(ctx, ct!, res.body);
      if (xmlBytes.buffer !== res.body.buffer) this.bodies.give(res.body); // the sealed body is no longer needed
    } else if (this.encrypt && res.body.length && res.status === 200) {
      throw new EncryptionError(`the server answered an encrypted request with an unencrypted body (Content-Type ${ct ?? 'none'})`);
    }
    const bytes = Buffer.from(xmlBytes.buffer, xmlBytes.byteOffset, xmlBytes.byteLength);
    // only the start is looked at as text: the body may be megabytes of base64 that the WS-Man layer cuts out as bytes
    const text = bytes.subarray(0, 4096).toString('utf8');
    const soap = /Envelope/.test(text);
    if (res.status === 200 && (soap || !looksLikeWebPage(ct, text))) return bytes;
    if (res.status === 500 && soap) return bytes; // a SOAP fault: the WS-Man layer reads it
    if (res.status === 200 || res.status === 404 || res.status === 405 || (res.status >= 300 && res.status < 400)) {
      throw new HttpStatusError(
        `${this.url} is not a WinRM endpoint: it answered HTTP ${res.status} ${res.reason}${ct ? ` (${ct.split(';')[0]})` : ''}` +
          `${res.status === 200 ? ' with a web page, not a SOAP envelope' : ''}. Check the host and port (WinRM listens on 5985 ` +
          `for HTTP, 5986 for HTTPS) and the path (/wsman)`,
        res.status,
      );
    }
    throw new HttpStatusError(
      `HTTP ${res.status} ${res.reason} from ` +
        `${this.url}${res.body.length ? `: ${text.slice(0, 200).replace(/\s+/g, ' ')}` : ''}${res.status === 400 && this.encrypt ? ' (the server could not decrypt or parse the request)' : ''}`,
      res.status,
    );
  }

  /** Connection-bound auth: the 401 loop on empty-body POSTs (RFC 4559 4; docs/protocol.md, "WinRM over HTTP"). */
  private async handshake(c: Connection, ctx: AuthContext, opts: ExchangeOptions): Promise<void> {
    let inToken: Uint8Array | undefined;
    for (let leg = 0; leg < 12; leg++) {
      let out: Uint8Array | undefined;
      try {
        out = await ctx.step(inToken, { channelBindings: c.bindings, signal: opts.signal });
      } catch (e) {
        if (e instanceof WinRMError) throw e;
        throw new AuthError(`${ctx.protocol} authentication failed: ${(e as Error).message}`, { cause: e });
      }
      if (!out) {
        if (ctx.complete) {
          c.authed = true;
          return;
        }
        throw new AuthError(`${ctx.protocol} produced no token before completing`);
      }
      if (channels.auth.hasSubscribers) channels.auth.publish({ protocol: ctx.protocol, leg, bytes: out.length });
      let res: HttpResponse;
      try {
        res = await c.request(new Uint8Array(), undefined, `${ctx.httpScheme} ${toBase64(out)}`, opts, true);
      } catch (e) {
        const lost = (e as { lost?: LostInfo }).lost;
        if (lost && e instanceof TransportError && !(e instanceof TimeoutError)) throw new AuthLegLost(lost, e);
        throw e;
      }
      const challenges = parseChallenges(res.headers.get('www-authenticate'));
      const mine = challenges.find((x) => x.scheme.toLowerCase() === ctx.httpScheme.toLowerCase() && x.token);
      if (res.status === 401) {
        if (!challenges.some((x) => x.scheme.toLowerCase() === ctx.httpScheme.toLowerCase())) {
          const offered = challenges.map((x) => x.scheme);
          throw new AuthError(
            `the server does not accept ${ctx.httpScheme} ` +
              `authentication${offered.length ? ` (it offers: ${offered.join(', ')}); try --auth ${offered[0]!.toLowerCase()}` : ''}`,
          );
        }
        if (!mine?.token) {
          // a mechanism that knows better why a bare 401 came back (Kerberos: the server may have no key for the SPN)
          const hint = (ctx as { rejectionHint?: () => string | undefined }).rejectionHint?.();
          if (hint) throw new AccessDeniedError(`Access is denied: ${hint}`);
          if (leg > 0 && c.bindings) {
            // over HTTPS the last leg carries the channel binding (the hash of the certificate this client saw); the
            // server answers a mismatch exactly as a wrong password (Windows and this project's endpoint alike)
            throw new AccessDeniedError(
              `Access is denied: the server rejected the authentication of ${this.who()} over HTTPS. Either the user name, ` +
                `domain or password is wrong, or the channel binding did not match: the server sees another TLS certificate ` +
                `than the ${c.peerFingerprint ?? 'one'} ` +
                "this client got, i.e. a TLS-intercepting proxy may be in between (compare the fingerprint with the server's certificate)",
            );
          }
          throw new AccessDeniedError(
            `Access is denied: the server rejected the credentials of ${this.who()}; check the user name, domain and password`,
            'bad-password',
          );
        }
        if (!c.open)
          throw new TransportError('the server closed the connection during authentication (connection-bound auth needs keep-alive)');
        inToken = fromBase64(mine.token);
        continue;
      }
      if (mine?.token && !ctx.complete) await ctx.step(fromBase64(mine.token), { channelBindings: c.bindings, signal: opts.signal });
      if (!ctx.complete) throw new AuthError(`the server accepted the request but ${ctx.protocol} authentication did not complete`);
      if (res.status >= 400 && res.status !== 500)
        throw new HttpStatusError(`HTTP ${res.status} ${res.reason} while authenticating to ${this.url}`, res.status);
      c.authed = true;
      return;
    }
    throw new AuthError(`${ctx.protocol} authentication did not finish after 12 round trips`);
  }
}

/** A 200 answer that is a web page (HTML or plain text), not WS-Man XML. */
function looksLikeWebPage(ct: string | undefined, text: string): boolean {
  if (ct && /text\/html|text\/plain|application\/json/i.test(ct)) return true;
  return /^\s*(?:<!doctype html|<html)/i.test(text.slice(0, 512));
}

/** Incidental: protect against responses that are not XML. */
export function assertXml(text: string): void {
  if (!/^\s*</.test(text)) throw new RemoteProtocolError(`expected a SOAP envelope, got ${JSON.stringify(text.slice(0, 60))}`);
}

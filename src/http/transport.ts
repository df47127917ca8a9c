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
 * (protocol.md 1.1); when the server closes a connection, the next request opens a new one and re-authenticates
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
import { anonymousLogonHint } from '../auth/brokered.js';
import {
  AbortError, AccessDeniedError, AuthError, ConnectError, EncryptionError, HttpStatusError, InvalidArgumentError,
  RemoteProtocolError, TimeoutError, TlsError, TransportError, WinRMError,
} from '../errors.js';
import { decryptMessage, encryptMessage, isEncryptedContentType } from '../encryption/mime.js';
import { HttpResponseParser, header, type HttpResponse } from './parser.js';
import { tlsServerEndPointBindings } from './cbt.js';
import { openTunnel, proxyFor, type ProxySpec } from './proxy.js';
import { debug, channels } from '../util/debug.js';
import { fromBase64, toBase64 } from '../util/bytes.js';

export interface ExchangeOptions { signal?: AbortSignal; readTimeoutMs?: number }
export interface EnvelopeExchange {
  exchange(envelopeXml: string, opts?: ExchangeOptions): Promise<string>;
  readonly stats: TransportStats;
  close(): void;
}
export interface TransportStats { requests: number; authRequests: number; connections: number }

export interface TlsOptions {
  /** PEM text of the CA (or the self-signed server certificate) to trust */
  ca?: string | Buffer;
  /** "SHA256:<hex with or without colons | base64>": pin the leaf certificate */
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
  /** proxy URL (http:// CONNECT, socks5://); '' or false = none; undefined = from HTTPS_PROXY/HTTP_PROXY/NO_PROXY (src/http/proxy.ts) */
  proxy?: string | false;
  /** hosts that bypass the proxy (like curl --noproxy); replaces NO_PROXY */
  noProxy?: string;
}

const ANON_MSG = 'Access is denied: the server refused an anonymous request (NT AUTHORITY\\ANONYMOUS LOGON). ' +
  'Give credentials (-u DOMAIN\\user with -p or WINRM_PASSWORD); on a second hop, delegate them with --auth credssp';

/** Parse "SHA256:..." into raw bytes. */
export function parseFingerprint(fp: string): Uint8Array {
  const m = /^sha-?256:(.+)$/i.exec(fp.trim());
  if (!m) throw new InvalidArgumentError(`fingerprint must look like SHA256:<hex> or SHA256:<base64>, got ${fp.slice(0, 20)}...`);
  const v = m[1]!.trim();
  const hex = v.replace(/:/g, '');
  if (/^[0-9a-fA-F]{64}$/.test(hex)) return new Uint8Array(Buffer.from(hex, 'hex'));
  const b = Buffer.from(v.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  if (b.length === 32) return new Uint8Array(b);
  throw new InvalidArgumentError('fingerprint must be a SHA-256 digest (64 hex digits or 43/44 base64 characters)');
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

class Connection {
  socket: net.Socket | undefined;
  parser: HttpResponseParser;
  ctx: AuthContext | undefined;
  authed = false;
  busy = false;
  bindings: ChannelBindings | undefined;
  private waiter: { resolve: (r: HttpResponse) => void; reject: (e: Error) => void } | undefined;
  private queue: HttpResponse[] = [];
  private dead: Error | undefined;

  constructor(private readonly t: HttpTransport, ctx: AuthContext | undefined) {
    this.ctx = ctx;
    this.parser = new HttpResponseParser(t.maxResponseBytes);
  }

  get open(): boolean { return !!this.socket && !this.dead && !this.socket.destroyed; }

  destroy(err?: Error): void {
    this.dead ??= err ?? new TransportError('connection closed');
    this.socket?.destroy();
    const w = this.waiter; this.waiter = undefined;
    w?.reject(this.dead);
  }

  async connect(signal?: AbortSignal): Promise<void> {
    const t = this.t;
    const old = this.socket;
    this.socket = undefined; // events of the old socket are ignored from now on
    old?.destroy();
    this.queue = []; this.parser = new HttpResponseParser(t.maxResponseBytes);
    this.authed = false; this.bindings = undefined;
    t.stats.connections++;
    let peerDer: Uint8Array | undefined;
    // through a proxy: a tunnel first (HTTP CONNECT / SOCKS), then TLS or HTTP on it, end to end with the host
    const tunnel = t.proxy ? await openTunnel(t.proxy, t.host, t.port, { timeoutMs: t.connectTimeoutMs, signal }) : undefined;
    const sock = await new Promise<net.Socket>((resolve, reject) => {
      let s: net.Socket;
      const timer = setTimeout(() => { s?.destroy(); reject(new TimeoutError(`could not connect to ${t.host}:${t.port} within ${t.connectTimeoutMs / 1000} s (connect timeout); check the host, port and firewall`)); }, t.connectTimeoutMs);
      const onAbort = () => { clearTimeout(timer); s?.destroy(); reject(new AbortError()); };
      if (signal?.aborted) { clearTimeout(timer); reject(new AbortError()); return; }
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = () => { clearTimeout(timer); signal?.removeEventListener('abort', onAbort); };
      if (t.https) {
        const o = t.tlsOpts;
        const pinned = o.fingerprint ? parseFingerprint(o.fingerprint) : undefined;
        const servername = o.servername ?? (net.isIP(t.host) ? undefined : t.host);
        s = tls.connect({
          host: t.host, port: t.port, socket: tunnel, servername, ca: o.ca, rejectUnauthorized: !(o.insecure || pinned),
          cert: o.cert, key: o.key, pfx: o.pfx, passphrase: o.passphrase,
          ALPNProtocols: ['http/1.1'],
          checkServerIdentity: (host, cert) => tls.checkServerIdentity(o.servername ?? host, cert),
        });
        s.once('secureConnect', () => {
          done();
          const ts = s as tls.TLSSocket;
          const peer = ts.getPeerX509Certificate();
          if (!peer) { s.destroy(); reject(new TlsError('the server presented no TLS certificate')); return; }
          if (pinned) {
            const got = createHash('sha256').update(peer.raw).digest();
            if (!got.equals(Buffer.from(pinned))) {
              s.destroy();
              reject(new TlsError(`the server certificate fingerprint ${certFingerprint(peer.raw)} does not match the pinned --fingerprint`));
              return;
            }
          }
          peerDer = new Uint8Array(peer.raw);
          resolve(s);
        });
        s.once('error', (e: NodeJS.ErrnoException) => {
          done();
          if (e.code && /CERT|SELF_SIGNED|UNABLE_TO|ERR_TLS|HOSTNAME|ALTNAME|SSL|EPROTO/.test(e.code)) {
            let fp = '';
            try { const p = (s as tls.TLSSocket).getPeerX509Certificate(); if (p) fp = ` (server certificate ${certFingerprint(p.raw)})`; } catch { /* none */ }
            reject(new TlsError(`TLS verification of ${t.host}:${t.port} failed: ${e.message}${fp}. ` +
              'Trust it with --ca FILE (the CA or self-signed certificate, PEM), pin it with --fingerprint SHA256:<hex>, or (unsafe) --insecure', { cause: e }));
          } else reject(new ConnectError(`could not connect to ${t.host}:${t.port}: ${e.message}`, { cause: e }));
        });
      } else if (tunnel) {
        s = tunnel; done(); resolve(s);
      } else {
        s = net.connect({ host: t.host, port: t.port });
        s.once('connect', () => { done(); resolve(s); });
        s.once('error', (e) => { done(); reject(new ConnectError(`could not connect to ${t.host}:${t.port}: ${e.message}`, { cause: e })); });
      }
    });
    this.dead = undefined;
    sock.setNoDelay(true);
    sock.setKeepAlive(true, 30000);
    this.socket = sock;
    if (peerDer) this.bindings = tlsServerEndPointBindings(peerDer);
    // events of a replaced socket must not touch the connection's new socket
    const mine = () => this.socket === sock;
    sock.on('data', (d: Buffer) => {
      if (!mine()) return;
      try {
        for (const r of this.parser.feed(d)) this.deliver(r);
      } catch (e) { this.destroy(e as Error); }
    });
    sock.on('end', () => {
      if (!mine()) return;
      try { const r = this.parser.end(); if (r) this.deliver(r); } catch (e) { this.destroy(e as Error); return; }
      this.destroy(new TransportError('the server closed the connection'));
    });
    sock.on('error', (e) => {
      if (!mine()) return;
      // TLS 1.3: a server that refuses (or wants) a client certificate says so with an alert after the handshake
      if (/alert (certificate required|bad certificate|certificate unknown|unsupported certificate|certificate revoked|certificate expired|unknown ca)/i.test(e.message)) {
        this.destroy(new TlsError(`${t.host}:${t.port} refused the TLS client certificate (${/alert ([a-z ]+)/i.exec(e.message)?.[1] ?? e.message}): ${t.tlsOpts.cert || t.tlsOpts.pfx ? 'check --cert/--cert-key or --cert-p12 and that the server trusts their CA' : 'it requires one: --auth certificate --cert FILE --cert-key FILE'}`, { cause: e }));
        return;
      }
      this.destroy(new TransportError(`connection to ${t.host}:${t.port} failed: ${e.message}`, { cause: e }));
    });
    sock.on('close', () => { if (mine()) this.destroy(new TransportError('the server closed the connection')); });
  }

  private deliver(r: HttpResponse): void {
    const w = this.waiter;
    if (w) { this.waiter = undefined; w.resolve(r); } else this.queue.push(r);
  }

  /** One HTTP request/response on this connection. */
  async request(body: Uint8Array, contentType: string | undefined, authorization: string | undefined, opts: ExchangeOptions, isAuth: boolean): Promise<HttpResponse> {
    const t = this.t;
    if (!this.open) throw this.dead ?? new TransportError('connection not open');
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
    const p = new Promise<HttpResponse>((resolve, reject) => {
      const q = this.queue.shift();
      if (q) { resolve(q); return; }
      let timer: NodeJS.Timeout | undefined;
      const onAbort = () => { cleanup(); this.destroy(new AbortError()); reject(new AbortError()); };
      const cleanup = () => { if (timer) clearTimeout(timer); opts.signal?.removeEventListener('abort', onAbort); };
      timer = setTimeout(() => {
        cleanup();
        const e = new TimeoutError(`no HTTP response from ${t.host}:${t.port} within ${readTimeout / 1000} s (read timeout); raise --read-timeout`);
        this.destroy(e); reject(e);
      }, readTimeout);
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      this.waiter = { resolve: (r) => { cleanup(); resolve(r); }, reject: (e) => { cleanup(); reject(e); } };
    });
    if (opts.signal?.aborted) { p.catch(() => undefined); this.destroy(new AbortError()); throw new AbortError(); }
    this.socket!.cork();
    this.socket!.write(head.join('\r\n') + '\r\n\r\n');
    if (body.length) this.socket!.write(body);
    this.socket!.uncork();
    const res = await p;
    if (channels.response.hasSubscribers) channels.response.publish({ url: t.url, status: res.status, bytes: res.body.length });
    debug('HTTP %d (%d bytes)', res.status, res.body.length);
    if (res.close) { this.socket?.end(); this.dead ??= new TransportError('server closed the keep-alive connection'); }
    return res;
  }
}

export class HttpTransport implements EnvelopeExchange {
  readonly stats: TransportStats = { requests: 0, authRequests: 0, connections: 0 };
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
  readonly proxy: ProxySpec | undefined;
  private readonly conns: Connection[] = [];
  private readonly waiting: Array<() => void> = [];
  private readonly maxConnections: number;
  private baseCtxUsed = false;
  private closed = false;

  constructor(private readonly opts: HttpTransportOptions) {
    let u: URL;
    try { u = new URL(opts.url); } catch { throw new InvalidArgumentError(`not a URL: ${opts.url}`); }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new InvalidArgumentError(`URL must be http:// or https://, got ${u.protocol}`);
    this.url = u.toString();
    this.https = u.protocol === 'https:';
    this.host = u.hostname.replace(/^\[|\]$/g, '');
    this.port = Number(u.port || (this.https ? 443 : 80));
    this.path = u.pathname || '/wsman';
    this.hostHeader = u.host;
    this.tlsOpts = opts.tls ?? {};
    if (this.tlsOpts.insecure && this.https) (opts.onWarning ?? ((m: string) => process.emitWarning(m)))('TLS certificate verification is disabled (--insecure): the connection can be intercepted');
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 30000;
    this.readTimeoutMs = opts.readTimeoutMs ?? 30000;
    this.maxResponseBytes = opts.maxResponseBytes ?? 256 * 1024 * 1024;
    this.maxConnections = Math.max(1, opts.maxConnections ?? 2);
    this.proxy = proxyFor({ https: this.https, host: this.host, port: this.port }, { proxy: opts.proxy, noProxy: opts.noProxy });
    const o = this.tlsOpts;
    if (o.cert || o.key || o.pfx) {
      if (!this.https) throw new InvalidArgumentError('a client certificate is presented only over HTTPS: use --https');
      try { tls.createSecureContext({ cert: o.cert, key: o.key, pfx: o.pfx, passphrase: o.passphrase }); } catch (e) {
        const m = (e as Error).message;
        const hint = /mac verify|bad decrypt|passphrase/i.test(m) ? ' (wrong passphrase? set WINRM_CERT_PASSPHRASE)' : /unsupported/i.test(m) ? ' (a legacy PKCS#12 cipher: re-export it with `openssl pkcs12 -export` from OpenSSL 3, or use --cert/--cert-key PEM files)' : /key values mismatch/i.test(m) ? ' (the key does not belong to the certificate)' : '';
        throw new InvalidArgumentError(`cannot use the client certificate: ${m}${hint}`, { cause: e });
      }
    }
    const mode = opts.encryption ?? 'auto';
    const ctx = opts.auth;
    const can = !!ctx && ctx.canEncrypt;
    if (mode === 'always' && ctx && !can) throw new InvalidArgumentError(`--encryption always: ${ctx.protocol} cannot encrypt WinRM messages; use negotiate, kerberos or credssp, or HTTPS`);
    this.encrypt = can && (mode === 'always' || (mode === 'auto' && !this.https));
  }

  private newCtx(): AuthContext | undefined {
    const base = this.opts.auth;
    if (!base) return undefined;
    if (!this.baseCtxUsed) { this.baseCtxUsed = true; return base; }
    return base.newContext();
  }

  /** Get an idle connection (prefer an open, authenticated one); open a second one only when all are busy. */
  private async acquire(signal?: AbortSignal): Promise<Connection> {
    for (;;) {
      if (this.closed) throw new TransportError('transport closed');
      if (signal?.aborted) throw new AbortError();
      const idle = this.conns.filter((c) => !c.busy);
      const best = idle.find((c) => c.open && c.authed) ?? idle.find((c) => c.open) ?? idle[0];
      if (best) { best.busy = true; return best; }
      if (this.conns.length < this.maxConnections) {
        const c = new Connection(this, this.newCtx());
        c.busy = true; this.conns.push(c); return c;
      }
      await new Promise<void>((r) => this.waiting.push(r));
    }
  }

  private release(c: Connection): void {
    c.busy = false;
    const w = this.waiting.shift(); w?.();
  }

  close(): void {
    this.closed = true;
    for (const c of this.conns) c.destroy(new TransportError('transport closed'));
    for (const w of this.waiting.splice(0)) w();
  }

  async exchange(envelopeXml: string, opts: ExchangeOptions = {}): Promise<string> {
    const c = await this.acquire(opts.signal);
    try {
      const body = Buffer.from(envelopeXml, 'utf8');
      for (let attempt = 0; ; attempt++) {
        const fresh = !c.open;
        try {
          return await this.send(c, body, opts);
        } catch (e) {
          // a reused keep-alive connection the server had already closed: reconnect once (nothing was processed)
          if (attempt === 0 && !fresh && e instanceof TransportError && !(e instanceof TlsError) && !(e instanceof ConnectError) && !(e instanceof HttpStatusError) && !c.open) {
            debug('connection lost before a response; reconnecting');
            continue;
          }
          throw e;
        }
      }
    } finally { this.release(c); }
  }

  private async ensureConnected(c: Connection, signal?: AbortSignal): Promise<void> {
    if (c.open) return;
    const hadSocket = !!c.socket;
    if (hadSocket && c.ctx) c.ctx = c.ctx.newContext(); // connection replaced: connection-bound auth starts over
    await c.connect(signal);
  }

  private who(): string { return this.opts.username ? `${this.opts.username} (${this.opts.auth?.protocol})` : 'anonymous'; }

  private async send(c: Connection, body: Uint8Array, opts: ExchangeOptions): Promise<string> {
    await this.ensureConnected(c, opts.signal);
    const ctx = c.ctx;
    let res: HttpResponse;
    if (!ctx) {
      res = await c.request(body, 'application/soap+xml;charset=UTF-8', undefined, opts, false);
      if (res.status === 401) throw new AccessDeniedError(ANON_MSG + anonymousLogonHint());
    } else if (isPerRequest(ctx)) {
      const tok = await ctx.step(undefined, { channelBindings: c.bindings, signal: opts.signal });
      // a token-less scheme (the certificate profile URI) is the whole header value
      const authz = tok?.length || ctx.protocol !== 'certificate' ? `${ctx.httpScheme} ${toBase64(tok ?? new Uint8Array())}` : ctx.httpScheme;
      if (!this.https && !ctx.canEncrypt) debug('warning: %s credentials over plain HTTP', ctx.httpScheme);
      res = await c.request(body, 'application/soap+xml;charset=UTF-8', authz, opts, false);
      // a fresh context per request keeps step() simple for per-request mechanisms
      c.ctx = ctx.newContext();
      if (res.status === 401 && ctx.protocol === 'certificate') {
        throw new AccessDeniedError(`Access is denied: ${this.host}:${this.port} did not accept the client certificate: it is not mapped to a user there, has expired or been revoked, or is not issued by a CA the server trusts for client certificates (check the server's certificate mapping)`);
      }
      if (res.status === 401) {
        const offered = parseChallenges(res.headers.get('www-authenticate')).map((x) => x.scheme);
        if (offered.length && !offered.some((s) => s.toLowerCase() === ctx.httpScheme.toLowerCase())) {
          throw new AuthError(`the server does not accept ${ctx.httpScheme} authentication (it offers: ${offered.join(', ')}); try --auth ${offered[0]!.toLowerCase()}${!this.https && ctx.httpScheme === 'Basic' ? ' (Basic over HTTP also needs AllowUnencrypted on the server)' : ''}`);
        }
        throw new AccessDeniedError(`Access is denied: the server rejected the credentials of ${this.who()}${!this.https ? '. If they are right, the server may refuse Basic over plain HTTP (AllowUnencrypted=false): use --https' : ''}`);
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
          throw new AccessDeniedError(`the server requires message encryption (AllowUnencrypted is false on the server): authenticated as ${this.who()} but the unencrypted request was refused; use --encryption auto (the default) or HTTPS`);
        }
        throw new AccessDeniedError(`Access is denied: the server refused the request after authenticating ${this.who()}`);
      }
    }
    const ct = header(res, 'content-type');
    let xmlBytes: Uint8Array = res.body;
    if (isEncryptedContentType(ct)) {
      if (!ctx?.canEncrypt) throw new EncryptionError('the server sent an encrypted response but this connection has no encryption context');
      xmlBytes = await decryptMessage(ctx, ct!, res.body);
    } else if (this.encrypt && res.body.length && (res.status === 200)) {
      throw new EncryptionError(`the server answered an encrypted request with an unencrypted body (Content-Type ${ct ?? 'none'})`);
    }
    const text = Buffer.from(xmlBytes.buffer, xmlBytes.byteOffset, xmlBytes.byteLength).toString('utf8');
    if (res.status === 200) return text;
    if (res.status === 500 && /Envelope/.test(text.slice(0, 4096))) return text; // a SOAP fault: the WS-Man layer reads it
    throw new HttpStatusError(`HTTP ${res.status} ${res.reason} from ${this.url}${res.body.length ? `: ${text.slice(0, 200).replace(/\s+/g, ' ')}` : ''}${res.status === 400 && this.encrypt ? ' (the server could not decrypt or parse the request)' : ''}`, res.status);
  }

  /** Connection-bound auth: the 401 loop on empty-body POSTs (protocol.md 1.1). */
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
        if (ctx.complete) { c.authed = true; return; }
        throw new AuthError(`${ctx.protocol} produced no token before completing`);
      }
      if (channels.auth.hasSubscribers) channels.auth.publish({ protocol: ctx.protocol, leg, bytes: out.length });
      const res = await c.request(new Uint8Array(), undefined, `${ctx.httpScheme} ${toBase64(out)}`, opts, true);
      const challenges = parseChallenges(res.headers.get('www-authenticate'));
      const mine = challenges.find((x) => x.scheme.toLowerCase() === ctx.httpScheme.toLowerCase() && x.token);
      if (res.status === 401) {
        if (!challenges.some((x) => x.scheme.toLowerCase() === ctx.httpScheme.toLowerCase())) {
          const offered = challenges.map((x) => x.scheme);
          throw new AuthError(`the server does not accept ${ctx.httpScheme} authentication${offered.length ? ` (it offers: ${offered.join(', ')}); try --auth ${offered[0]!.toLowerCase()}` : ''}`);
        }
        if (!mine?.token) {
          throw new AccessDeniedError(`Access is denied: the server rejected the credentials of ${this.who()}; check the user name, domain and password`);
        }
        if (!c.open) throw new TransportError('the server closed the connection during authentication (connection-bound auth needs keep-alive)');
        inToken = fromBase64(mine.token);
        continue;
      }
      if (mine?.token && !ctx.complete) await ctx.step(fromBase64(mine.token), { channelBindings: c.bindings, signal: opts.signal });
      if (!ctx.complete) throw new AuthError(`the server accepted the request but ${ctx.protocol} authentication did not complete`);
      if (res.status >= 400 && res.status !== 500) throw new HttpStatusError(`HTTP ${res.status} ${res.reason} while authenticating to ${this.url}`, res.status);
      c.authed = true;
      return;
    }
    throw new AuthError(`${ctx.protocol} authentication did not finish after 12 round trips`);
  }
}

/** Incidental: protect against responses that are not XML. */
export function assertXml(text: string): void {
  if (!/^\s*</.test(text)) throw new RemoteProtocolError(`expected a SOAP envelope, got ${JSON.stringify(text.slice(0, 60))}`);
}

/**
 * The local WinRM endpoint (`winrm-ts serve`): HTTP/HTTPS listener, per-TCP-connection auth state, acceptors from
 * src/auth/registry.ts by scheme, WinRM message encryption both ways (src/encryption/mime.ts), WS-Man dispatch by
 * ResourceURI (src/server/dispatch.ts), the WinRS cmd shell (src/server/winrs.ts), logon sessions (logon.ts).
 *
 * Windows' rules, as pywinrm/pypsrp expect them:
 *  - `WWW-Authenticate` offers every enabled scheme (Negotiate first, Basic with realm="WSMAN").
 *  - Basic is per request; connection-bound schemes authenticate once per TCP connection (an empty-body POST gets
 *    200 once the handshake completes; the final token, if any, rides in WWW-Authenticate).
 *  - On plain HTTP without --allow-unencrypted: Basic is refused (401) and unencrypted bodies are refused (401);
 *    encrypted bodies that do not decrypt get 400.
 *  - Bad XML / DOCTYPE → 400; a body over MaxEnvelopeSize → w:EncodingLimit fault; unknown resource → fault;
 *    the server keeps serving.
 */
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import { X509Certificate, createHash } from 'node:crypto';
import { createAcceptor, createInitiator, getMechanism, mechanismForScheme } from '../auth/registry.js';
import type { AcceptedIdentity, AcceptorContext, ChannelBindings, UserDatabase } from '../auth/types.js';
import { peerCertificateOf } from '../auth/certificate.js';
import { AuthError, EncryptionError, InvalidArgumentError, WinRMError } from '../errors.js';
import { decryptMessage, encryptMessage, isEncryptedContentType } from '../encryption/mime.js';
import { tlsServerEndPointBindings } from '../http/cbt.js';
import { buildFault, parseEnvelope, type Envelope } from '../wsman/envelope.js';
import { XmlError } from '../xml/dom.js';
import { fromBase64, toBase64 } from '../util/bytes.js';
import { faults, findHandler, WsmanFault, type EndpointInfo, type ResourceHandler } from './dispatch.js';
import { LogonSession, registerChildEnvHook } from './logon.js';
import { logonBrokerEnv, removeStaleRunFiles } from './broker.js';
import { planAccounts, type AccountPlan } from './accounts.js';
import { kerberosLogonEnv } from './kerberos-logon.js';
import { WinrsExecutor } from './winrs.js';
import { SHELL_CMD_URI } from '../winrs/messages.js';
import { CONFIG_URI, configHandler, identifyResponse } from './config.js';
import { NS } from '../wsman/ns.js';

// H8: processes of interactive (Basic/CredSSP) logon sessions connect onward through the logon-session credential
// broker (src/server/broker.ts; never the password); every child gets the whoami / winrm-ts shims on PATH
registerChildEnvHook(logonBrokerEnv((mech, creds, o) => createInitiator(mech, creds, o)));
registerChildEnvHook(kerberosLogonEnv);

export interface ServeOptions {
  /** "127.0.0.1:5985" (port 0 = ephemeral) */
  listen?: string;
  host?: string;
  port?: number;
  https?: boolean;
  /** PEM text */
  cert?: string | Buffer;
  key?: string | Buffer;
  userDb: UserDatabase;
  /** enabled mechanisms, e.g. ['negotiate'] (default) or ['basic', 'negotiate', 'credssp'] */
  auth?: string[];
  allowUnencrypted?: boolean;
  /** machine name (faults' Machine=, NTLM target info) */
  name?: string;
  cbt?: 'none' | 'relaxed' | 'strict';
  /** Kerberos service keytab (`--keytab`) */
  keytab?: string;
  /** bytes (default 512000 = MaxEnvelopeSizekb 500) */
  maxEnvelopeSize?: number;
  /** one line per request / auth event (never secrets) */
  log?: (line: string) => void;
  /** extra resource handlers for this endpoint (prefix → handler) */
  resources?: Record<string, ResourceHandler>;
  /** several users without a local account share the endpoint's account (src/server/accounts.ts) */
  singleAccount?: boolean;
  /** which account each logon runs as (default: planAccounts(userDb, { singleAccount })) */
  accounts?: AccountPlan;
  /** HTTPS: request client certificates and trust these CAs for them (PEM); `auth: ['certificate']` maps them to users */
  clientCa?: string | Buffer;
  /** PEM CRL(s) of the client CAs: revoked client certificates are refused */
  crl?: string | Buffer;
}

export interface ServerHandle {
  url: string;
  port: number;
  host: string;
  close(): Promise<void>;
  /** the endpoint certificate's SHA-256 fingerprint (HTTPS) */
  fingerprint?: string;
  /** which account logons run as (`summary` is what serve prints at start-up) */
  readonly accounts: AccountPlan;
  readonly server: http.Server;
}

const SCHEME_ORDER = ['negotiate', 'kerberos', 'ntlm', 'basic', 'credssp'];

interface ConnState {
  id: number;
  ctx?: AcceptorContext;
  scheme?: string;
  mechName?: string;
  session?: LogonSession;
  basic: Map<string, LogonSession>;
}

export function parseListen(listen: string | undefined): { host: string; port: number } {
  if (!listen) return { host: '127.0.0.1', port: 5985 };
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(listen) ?? /^()()(\d+)$/.exec(listen);
  if (!m) throw new InvalidArgumentError(`--listen must be HOST:PORT, got ${listen}`);
  return { host: m[1] || m[2] || '127.0.0.1', port: Number(m[3]) };
}

export async function serve(o: ServeOptions): Promise<ServerHandle> {
  const { host, port } = o.listen ? parseListen(o.listen) : { host: o.host ?? '127.0.0.1', port: o.port ?? 5985 };
  const auth = (o.auth?.length ? o.auth : ['negotiate']).map((a) => a.trim().toLowerCase()).filter(Boolean);
  for (const a of auth) {
    if (!getMechanism(a)?.acceptor) throw new InvalidArgumentError(`--auth ${a}: no such authentication is available in this build (available: ${SCHEME_ORDER.filter((n) => getMechanism(n)?.acceptor).join(', ') || 'basic'})`);
  }
  if (o.https && (!o.cert || !o.key)) throw new InvalidArgumentError('--https needs --cert FILE and --key FILE (PEM)');
  if ((o.clientCa || o.crl) && !o.https) throw new InvalidArgumentError('--client-ca and --crl need --https: client certificates are presented in the TLS handshake');
  if (o.crl && !o.clientCa) throw new InvalidArgumentError('--crl needs --client-ca FILE');
  if (auth.includes('certificate') && !o.clientCa) throw new InvalidArgumentError('--auth certificate needs --https and --client-ca FILE (the CA that issues the client certificates)');
  const log = o.log ?? (() => undefined);
  const accounts = o.accounts ?? planAccounts(o.userDb, { singleAccount: o.singleAccount });
  staleRemoved ??= removeStaleRunFiles().then((gone) => { for (const d of gone) log(`removed ${d}, left by an endpoint that is no longer running`); }, () => undefined);
  await staleRemoved;
  /** A logon session runs as its users-file entry's account; undefined = no account may take this logon. */
  const newSession = (id: AcceptedIdentity): LogonSession | undefined => {
    const account = accounts.accountFor(id);
    return account && new LogonSession(id, { account, log });
  };
  const name = o.name ?? 'localhost';
  const maxEnvelopeSize = o.maxEnvelopeSize ?? 512000;
  const allowUnencrypted = !!o.allowUnencrypted;
  let bindings: ChannelBindings | undefined;
  let fingerprint: string | undefined;
  if (o.https) {
    const pem = String(o.cert);
    const x = new X509Certificate(pem);
    bindings = tlsServerEndPointBindings(new Uint8Array(x.raw));
    fingerprint = 'SHA256:' + createHash('sha256').update(x.raw).digest('hex');
  }
  const offered = SCHEME_ORDER.filter((n) => auth.includes(n)).concat(auth.filter((n) => !SCHEME_ORDER.includes(n)));
  const offers = offered.map((n) => { const s = getMechanism(n)!.httpScheme; return s === 'Basic' ? 'Basic realm="WSMAN"' : s; });
  const local = new Map<string, ResourceHandler>(Object.entries(o.resources ?? {}));
  const winrs = new WinrsExecutor();
  local.set(SHELL_CMD_URI, (req) => winrs.handle(req));
  local.set(CONFIG_URI, configHandler(() => ({ maxEnvelopeSize, maxTimeoutMs: endpoint.maxTimeoutMs, allowUnencrypted, auth, cbt: o.cbt ?? 'relaxed' })));
  const conns = new WeakMap<net.Socket, ConnState>();
  let connSeq = 0;
  const stopping = new AbortController();
  const acceptorOpts = () => ({ userDb: o.userDb, serverName: name, cbt: o.cbt ?? 'relaxed', channelBindings: bindings, tlsCert: o.cert?.toString(), tlsKey: o.key?.toString(), keytab: o.keytab });

  const endpoint: EndpointInfo = { name, url: '', maxEnvelopeSize, maxTimeoutMs: 3600_000 };

  const handler = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const started = Date.now();
    const sock = req.socket;
    let st = conns.get(sock);
    if (!st) {
      st = { id: ++connSeq, basic: new Map() };
      conns.set(sock, st);
      const s = st;
      sock.once('close', () => { s.session?.unref(); for (const b of s.basic.values()) b.unref(); });
    }
    const clientIp = (sock.remoteAddress ?? '').replace(/^::ffff:/, '');
    let who = '-';
    let action = '-';
    const finish = (status: number, body?: Uint8Array | string, headers: Record<string, string | string[]> = {}) => {
      const b = body === undefined ? Buffer.alloc(0) : typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
      const h: Record<string, string | string[]> = { 'Content-Length': String(b.length), Server: 'Microsoft-HTTPAPI/2.0', ...headers };
      if (b.length && !h['Content-Type']) h['Content-Type'] = 'application/soap+xml;charset=UTF-8';
      res.writeHead(status, h);
      res.end(b);
      log(`${new Date().toISOString()} conn#${st!.id} ${clientIp} ${who} ${action} -> ${status} (${Date.now() - started} ms)`);
    };
    const deny = (reason: string, extraHeaders: Record<string, string | string[]> = {}) => {
      log(`${new Date().toISOString()} conn#${st!.id} ${clientIp} auth: ${reason}`);
      finish(401, undefined, { 'WWW-Authenticate': offers, ...extraHeaders });
    };
    if (req.method !== 'POST') { finish(405, undefined, { Allow: 'POST' }); return; }
    if ((req.url ?? '').split('?')[0]!.toLowerCase() !== '/wsman') { finish(404); return; }

    // ---- read the body (bounded) ----
    const rawLimit = maxEnvelopeSize * 2 + 65536;
    const declared = Number(req.headers['content-length'] ?? '0');
    if (declared > rawLimit) {
      who = '?'; action = 'oversized';
      res.setHeader('Connection', 'close');
      const fault = faults.encodingLimit(declared, maxEnvelopeSize);
      finish(500, buildFault({ ...fault.spec, machine: name }, undefined));
      req.destroy();
      return;
    }
    const parts: Buffer[] = []; let size = 0; let tooBig = false;
    try {
      for await (const chunk of req) {
        size += (chunk as Buffer).length;
        if (size > rawLimit) { tooBig = true; break; }
        parts.push(chunk as Buffer);
      }
    } catch { return; }
    if (tooBig) {
      res.setHeader('Connection', 'close');
      finish(500, buildFault({ ...faults.encodingLimit(size, maxEnvelopeSize).spec, machine: name }, undefined));
      req.destroy();
      return;
    }
    const body = Buffer.concat(parts, size);

    // ---- DSP0226 Identify without authentication (WSMANIDENTIFY: unauthenticated) ----
    if (String(req.headers['wsmanidentify'] ?? '').toLowerCase() === 'unauthenticated') {
      action = 'Identify';
      let ok = false;
      try { const e = parseEnvelope(body.toString('utf8'), { maxLength: maxEnvelopeSize }); ok = e.payload?.local === 'Identify' && e.payload.ns === NS.wsmid; } catch { ok = false; }
      if (ok) finish(200, identifyResponse()); else finish(400);
      return;
    }

    // ---- authentication ----
    let session: LogonSession | undefined;
    let finalToken: string | undefined;
    const authz = req.headers.authorization;
    if (authz) {
      // the certificate profile URI is the whole header value (certificate.ts)
      const m = /^\s*([A-Za-z][A-Za-z0-9-]*|https?:\/\/[^\s]+)(?:\s+(\S+))?\s*$/.exec(authz);
      let found = m ? mechanismForScheme(m[1]!) : undefined;
      // Raw NTLMSSP under "Negotiate" (pywinrm's and `run --auth ntlm`'s form) is accepted by `--auth ntlm` too.
      if (found?.name === 'negotiate' && !auth.includes('negotiate') && auth.includes('ntlm') && m?.[2]?.startsWith('TlRMTVNTUA')) {
        found = { name: 'ntlm', mech: getMechanism('ntlm')! };
      }
      if (!m || !found || !auth.includes(found.name)) { deny(`scheme ${m?.[1] ?? '?'} not enabled`); return; }
      const replyScheme = found.name === 'ntlm' && /^negotiate$/i.test(m[1]!) ? 'Negotiate' : found.mech.httpScheme;
      let token: Uint8Array;
      try { token = fromBase64(m[2] ?? ''); } catch { deny('bad base64 token'); return; }
      if (found.mech.perRequest) {
        if (!o.https && !allowUnencrypted) { deny(`${found.mech.httpScheme} refused over HTTP (AllowUnencrypted=false; use --allow-unencrypted or --https)`); return; }
        const acc = createAcceptor(found.name, { ...acceptorOpts(), peerCertificate: peerCertificateOf(sock) });
        try { await acc.step(token); } catch (e) { deny(`${found.name} failed: ${safeMsg(e)}`); return; }
        const id = acc.identity!;
        const key = `${id.domain}\\${id.user}|${createHash('sha256').update(id.password ?? '').digest('hex')}`;
        session = st.basic.get(key);
        if (!session || session.closed) {
          session = newSession(id);
          if (!session) { deny(`no local account to run ${id.domain ? `${id.domain}\\` : ''}${id.user} as: it matches no entry of the users file`); return; }
          session.ref(); st.basic.set(key, session); log(`${new Date().toISOString()} conn#${st.id} ${clientIp} auth ok ${session.name} via ${found.name} (${id.logonType})${session.account?.own ? '' : ` as ${session.account?.name}`}`); }
      } else {
        if (!st.ctx || st.ctx.complete || st.mechName !== found.name) {
          st.session?.unref(); st.session = undefined;
          st.ctx = createAcceptor(found.name, acceptorOpts());
          st.mechName = found.name; st.scheme = replyScheme;
        }
        let out: Uint8Array | undefined;
        try { out = await st.ctx.step(token, { channelBindings: bindings }); } catch (e) {
          st.ctx = undefined; deny(`${found.name} failed: ${safeMsg(e)}`); return;
        }
        if (!st.ctx.complete) {
          finish(401, undefined, { 'WWW-Authenticate': `${replyScheme} ${toBase64(out ?? new Uint8Array())}` });
          return;
        }
        const id = st.ctx.identity;
        if (!id) { st.ctx = undefined; deny(`${found.name} completed without an identity`); return; }
        const ns = newSession(id);
        if (!ns) { st.ctx = undefined; deny(`no local account to run ${id.domain ? `${id.domain}\\` : ''}${id.user} as: it matches no entry of the users file`); return; }
        st.session = ns; st.session.ref();
        log(`${new Date().toISOString()} conn#${st.id} ${clientIp} auth ok ${st.session.name} via ${found.name} (${id.logonType})${ns.account?.own ? '' : ` as ${ns.account?.name}`}`);
        session = st.session;
        if (out?.length) finalToken = `${replyScheme} ${toBase64(out)}`;
      }
    } else if (st.session && st.ctx?.complete) {
      session = st.session;
    } else {
      who = 'anonymous';
      deny('anonymous request (NT AUTHORITY\\ANONYMOUS LOGON) refused');
      return;
    }
    who = session.name;
    const extra: Record<string, string> = finalToken ? { 'WWW-Authenticate': finalToken } : {};
    if (!body.length) { action = 'auth'; finish(200, undefined, extra); return; }

    // ---- decrypt ----
    const ct = String(req.headers['content-type'] ?? '');
    const connCtx = session === st.session ? st.ctx : undefined;
    let xmlBytes: Uint8Array;
    let encrypted = false;
    if (isEncryptedContentType(ct)) {
      if (!connCtx?.canEncrypt) { action = 'encrypted?'; finish(400, undefined, extra); return; }
      try { xmlBytes = await decryptMessage(connCtx, ct, body); encrypted = true; } catch (e) {
        action = 'decrypt-failed'; log(`${new Date().toISOString()} conn#${st.id} ${clientIp} could not decrypt: ${safeMsg(e)}`);
        finish(400, undefined, extra); return;
      }
    } else {
      if (!o.https && !allowUnencrypted) {
        action = 'unencrypted';
        st.ctx = undefined; st.session?.unref(); st.session = undefined;
        deny('unencrypted request refused on HTTP (AllowUnencrypted=false)');
        return;
      }
      if (!/^application\/soap\+xml/i.test(ct)) { action = 'bad-content-type'; finish(415, undefined, extra); return; }
      xmlBytes = body;
    }

    // ---- parse + dispatch ----
    const reply = async (status: number, xml: string) => {
      if (encrypted && connCtx) {
        const e = await encryptMessage(connCtx, Buffer.from(xml, 'utf8'));
        finish(status, e.body, { ...extra, 'Content-Type': e.contentType });
      } else finish(status, xml, extra);
    };
    let env: Envelope | undefined;
    try {
      if (xmlBytes.length > maxEnvelopeSize) throw faults.encodingLimit(xmlBytes.length, maxEnvelopeSize);
      try { env = parseEnvelope(Buffer.from(xmlBytes.buffer, xmlBytes.byteOffset, xmlBytes.byteLength).toString('utf8')); } catch (e) {
        action = 'bad-xml';
        log(`${new Date().toISOString()} conn#${st.id} ${clientIp} bad request: ${safeMsg(e)}`);
        finish(400, undefined, extra); return;
      }
      action = (env.action ?? '-').replace(/^.*\//, '');
      if (!env.action) throw faults.invalidHeader('missing wsa:Action');
      if (!env.resourceUri) throw faults.invalidHeader('missing wsman:ResourceURI');
      let ot = 60000;
      if (env.operationTimeoutRaw !== undefined) {
        if (env.operationTimeoutMs === undefined || env.operationTimeoutMs <= 0) throw faults.invalidHeader(`OperationTimeout ${env.operationTimeoutRaw}`);
        ot = Math.min(env.operationTimeoutMs, endpoint.maxTimeoutMs);
      }
      const h = findHandler(env.resourceUri, local);
      if (!h) throw faults.unknownResource(env.resourceUri);
      const ac = new AbortController();
      const onClose = () => ac.abort();
      res.once('close', onClose);
      stopping.signal.addEventListener('abort', onClose, { once: true });
      try {
        const xml = await h({
          env, session, endpoint, clientIp, signal: ac.signal, operationTimeoutMs: ot,
          replyMaxEnvelopeSize: Math.min(env.maxEnvelopeSize ?? 153600, maxEnvelopeSize),
        });
        if (ac.signal.aborted) return;
        await reply(200, xml);
      } finally { stopping.signal.removeEventListener('abort', onClose); res.off('close', onClose); }
    } catch (e) {
      if (res.headersSent || res.destroyed) return;
      if (e instanceof WsmanFault) { await reply(500, buildFault({ ...e.spec, machine: name }, env?.messageId)); return; }
      if (e instanceof XmlError) { finish(400, undefined, extra); return; }
      log(`${new Date().toISOString()} conn#${st.id} ${clientIp} internal error: ${safeMsg(e)}`);
      await reply(500, buildFault({ ...faults.provider(2150858752, `The WS-Management service cannot process the request: ${safeMsg(e)} `).spec, machine: name }, env?.messageId));
    }
  };

  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
    handler(req, res).catch((e) => {
      log(`internal error: ${safeMsg(e)}`);
      if (!res.headersSent) { try { res.writeHead(500, { 'Content-Length': '0' }); res.end(); } catch { /* gone */ } } else res.destroy();
    });
  };
  const server: http.Server = o.https
    ? https.createServer({ cert: o.cert, key: o.key, ...(o.clientCa ? { requestCert: true, rejectUnauthorized: false, ca: o.clientCa, crl: o.crl } : {}) }, onRequest)
    : http.createServer(onRequest);
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 130_000;
  server.requestTimeout = 0;
  server.maxHeadersCount = 100;
  server.on('clientError', (_e, socket) => { try { socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'); } catch { /* gone */ } });
  server.on('tlsClientError', () => undefined);
  // A client that sends its next request while a large response (> the socket's 16 KiB write high-water mark) is
  // still draining makes Node pause the HTTP parser; on TLS sockets already-decrypted data still reaches the paused
  // parser (HPE_PAUSED) and the request got a bare 400 (seen with pypsrp's fetch over HTTPS). Responses are bounded
  // by MaxEnvelopeSize, so let a whole one sit in the write buffer.
  server.on('secureConnection', (socket: import('node:tls').TLSSocket) => {
    const ws = (socket as unknown as { _writableState?: { highWaterMark: number } })._writableState;
    if (ws) ws.highWaterMark = Math.max(ws.highWaterMark, 4 * maxEnvelopeSize + 65536);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => reject(new InvalidArgumentError(`cannot listen on ${host}:${port}: ${e.code ?? e.message}`)));
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as net.AddressInfo;
  const urlHost = addr.address.includes(':') ? `[${addr.address}]` : addr.address;
  const url = `${o.https ? 'https' : 'http'}://${urlHost}:${addr.port}/wsman`;
  endpoint.url = url;
  return {
    url, port: addr.port, host: addr.address, fingerprint, server, accounts,
    close: async () => {
      stopping.abort();
      winrs.closeAll();
      await new Promise<void>((r) => { server.close(() => r()); server.closeAllConnections(); });
    },
  };
}

let staleRemoved: Promise<void> | undefined;

function safeMsg(e: unknown): string {
  if (e instanceof WinRMError || e instanceof AuthError || e instanceof EncryptionError) return e.message;
  return (e as Error)?.message ?? String(e);
}

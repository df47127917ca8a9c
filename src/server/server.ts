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
 *  - Bad XML / DOCTYPE → w:SchemaValidationError fault (500); a body over MaxEnvelopeSize → w:EncodingLimit fault;
 *    a request MaxEnvelopeSize under 8192 → w:EncodingLimit; unknown resource → fault; the server keeps serving.
 *  - Limits (src/server/limits.ts): before a request is authenticated (from its Authorization header alone) at most
 *    PRE_AUTH_BODY_LIMIT bytes of its body are read; header/request/keep-alive timeouts; connections per remote address
 *    and in all are capped (503 with the reason); Windows' quotas MaxShellsPerUser and MaxConcurrentOperationsPerUser.
 *  - Every request is logged, also one whose client went away before the answer.
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
import { networkKdc } from '../kdc/network.js';
import { WinrsExecutor } from './winrs.js';
import { SHELL_CMD_URI } from '../winrs/messages.js';
import { CONFIG_URI, configHandler, identifyResponse } from './config.js';
import { Action, NS } from '../wsman/ns.js';
import {
  MIN_ENVELOPE_SIZE,
  PRE_AUTH_BODY_LIMIT,
  REFUSE_LINGER_MS,
  quotaFaults,
  resolveLimits,
  userKey,
  type EndpointLimits,
} from './limits.js';

/** ResourceURI prefix of PowerShell shells (counted for MaxShellsPerUser with the WinRS ones) */
const PSRP_PREFIX = 'http://schemas.microsoft.com/powershell/';

// Processes of interactive (Basic/CredSSP) logon sessions connect onward through the logon-session credential
// broker (src/server/broker.ts; never the password); every child gets the whoami / winrm-ts shims on PATH
registerChildEnvHook(logonBrokerEnv((mech, creds, o) => createInitiator(mech, creds, { ...o, kdcSend: networkKdc() })));
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
  /** quotas and HTTP limits (Windows' names; defaults in src/server/limits.ts) */
  limits?: Partial<EndpointLimits>;
  /** shells kept by `resources` (e.g. PsrpEndpoint.shells.values()), counted for MaxShellsPerUser */
  externalShells?: () => Iterable<{ owner: LogonSession }>;
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
  /** the limits in force */
  readonly limits: EndpointLimits;
  /** open connections, WinRS shells and commands, stdin bytes buffered for WinRS commands */
  stats(): { connections: number; shells: number; commands: number; stdinBufferedBytes: number };
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
    if (!getMechanism(a)?.acceptor)
      throw new InvalidArgumentError(
        `--auth ${a}: no such authentication is available in this build ` +
          `(available: ${SCHEME_ORDER.filter((n) => getMechanism(n)?.acceptor).join(', ') || 'basic'})`,
      );
  }
  if (o.https && (!o.cert || !o.key)) throw new InvalidArgumentError('--https needs --cert FILE and --key FILE (PEM)');
  if ((o.clientCa || o.crl) && !o.https)
    throw new InvalidArgumentError('--client-ca and --crl need --https: client certificates are presented in the TLS handshake');
  if (o.crl && !o.clientCa) throw new InvalidArgumentError('--crl needs --client-ca FILE');
  if (auth.includes('certificate') && !o.clientCa)
    throw new InvalidArgumentError('--auth certificate needs --https and --client-ca FILE (the CA that issues the client certificates)');
  let limits: EndpointLimits;
  try {
    limits = resolveLimits(o.limits);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
  const log = o.log ?? (() => undefined);
  const accounts = o.accounts ?? planAccounts(o.userDb, { singleAccount: o.singleAccount });
  staleRemoved ??= removeStaleRunFiles().then(
    (gone) => {
      for (const d of gone) log(`removed ${d}, left by an endpoint that is no longer running`);
    },
    () => undefined,
  );
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
  const offers = offered.map((n) => {
    const s = getMechanism(n)!.httpScheme;
    return s === 'Basic' ? 'Basic realm="WSMAN"' : s;
  });
  const local = new Map<string, ResourceHandler>(Object.entries(o.resources ?? {}));
  const winrs = new WinrsExecutor(limits, log);
  local.set(SHELL_CMD_URI, (req) => winrs.handle(req));
  local.set(
    CONFIG_URI,
    configHandler(() => ({
      maxEnvelopeSize,
      maxTimeoutMs: endpoint.maxTimeoutMs,
      allowUnencrypted,
      auth,
      cbt: o.cbt ?? 'relaxed',
      limits,
    })),
  );
  const conns = new WeakMap<net.Socket, ConnState>();
  let connSeq = 0;
  const stopping = new AbortController();
  const acceptorOpts = () => ({
    userDb: o.userDb,
    serverName: name,
    cbt: o.cbt ?? 'relaxed',
    channelBindings: bindings,
    tlsCert: o.cert?.toString(),
    tlsKey: o.key?.toString(),
    keytab: o.keytab,
  });

  const endpoint: EndpointInfo = { name, url: '', maxEnvelopeSize, maxTimeoutMs: 3600_000, limits };

  // ---- quotas: shells and operations per user ----
  const operations = new Map<string, number>();
  const creating = new Map<string, number>();
  const bump = (m: Map<string, number>, k: string, d: number) => {
    const v = (m.get(k) ?? 0) + d;
    if (v > 0) m.set(k, v);
    else m.delete(k);
  };
  const shellsOf = (user: string): number => {
    let n = winrs.countShells(user) + (creating.get(user) ?? 0);
    for (const sh of o.externalShells?.() ?? []) if (userKey(sh.owner.identity) === user) n++;
    return n;
  };
  const isShellCreate = (env: Envelope) =>
    env.action === Action.Create && (env.resourceUri === SHELL_CMD_URI || (env.resourceUri ?? '').toLowerCase().startsWith(PSRP_PREFIX));

  // ---- connection caps (per remote address and in all) ----
  const perAddress = new Map<string, number>();
  let openConns = 0;
  /** "addr:port" of connections over a cap: their first request gets 503 and the connection is closed */
  const overCap = new Map<string, string>();
  /** per connection ("addr:port"): requests in progress and the idle (keep-alive) timer */
  const idleOf = new Map<string, { busy: number; timer?: NodeJS.Timeout; arm(): void }>();
  const addrOf = (s: net.Socket) => (s.remoteAddress ?? '').replace(/^::ffff:/, '');

  const handler = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const started = Date.now();
    const sock = req.socket;
    let st = conns.get(sock);
    if (!st) {
      st = { id: ++connSeq, basic: new Map() };
      conns.set(sock, st);
      const s = st;
      sock.once('close', () => {
        s.session?.unref();
        for (const b of s.basic.values()) b.unref();
      });
    }
    const clientIp = addrOf(sock);
    let who = '-';
    let action = '-';
    let logged = false;
    const line = (status: number | string) => {
      logged = true;
      log(`${new Date().toISOString()} conn#${st!.id} ${clientIp} ${who} ${action} -> ${status} (${Date.now() - started} ms)`);
    };
    // a request whose client went away before the answer is logged too
    res.once('close', () => {
      if (!logged) line('client went away');
    });
    const finish = (status: number, body?: Uint8Array | string, headers: Record<string, string | string[]> = {}) => {
      const b =
        body === undefined
          ? Buffer.alloc(0)
          : typeof body === 'string'
            ? Buffer.from(body, 'utf8')
            : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
      const h: Record<string, string | string[]> = { 'Content-Length': String(b.length), Server: 'Microsoft-HTTPAPI/2.0', ...headers };
      if (b.length && !h['Content-Type']) h['Content-Type'] = 'application/soap+xml;charset=UTF-8';
      if (res.destroyed || res.headersSent) {
        if (!logged) line(`${status} (not sent: the connection is gone)`);
        return;
      }
      res.writeHead(status, h);
      res.end(b);
      line(status);
    };
    /** Answer and close without reading the rest of the body: the answer is written on the socket, which is then
     *  half-closed and left unread for a moment (so the client can read the answer before the reset) and dropped. */
    const finishAndClose = (status: number, body?: Uint8Array | string, headers: Record<string, string | string[]> = {}) => {
      req.pause();
      sock.pause();
      const b =
        body === undefined
          ? Buffer.alloc(0)
          : typeof body === 'string'
            ? Buffer.from(body, 'utf8')
            : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
      const h: Record<string, string | string[]> = {
        Server: 'Microsoft-HTTPAPI/2.0',
        ...headers,
        'Content-Length': String(b.length),
        Connection: 'close',
      };
      if (b.length && !h['Content-Type']) h['Content-Type'] = 'application/soap+xml;charset=UTF-8';
      let head = `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? ''}\r\n`;
      for (const [k, v] of Object.entries(h))
        for (const one of Array.isArray(v) ? v : [v]) head += `${k}: ${one.replace(/[\r\n]/g, ' ')}\r\n`;
      line(status);
      log(
        `${new Date().toISOString()} conn#${st!.id} ${clientIp} connection closed without reading the rest of the ` +
          `request (${sock.bytesRead} bytes read from the connection)`,
      );
      try {
        sock.end(Buffer.concat([Buffer.from(head + '\r\n', 'latin1'), b]));
      } catch {
        /* gone */
      }
      setTimeout(() => sock.destroy(), REFUSE_LINGER_MS).unref();
    };
    const denyLine = (reason: string) => log(`${new Date().toISOString()} conn#${st!.id} ${clientIp} auth: ${reason}`);

    const connKey = `${sock.remoteAddress}:${sock.remotePort}`;
    const idle = idleOf.get(connKey);
    if (idle) {
      idle.busy++;
      clearTimeout(idle.timer);
      let ended = false;
      const end = () => {
        if (ended) return;
        ended = true;
        idle.busy--;
        idle.arm();
      };
      res.once('finish', end);
      res.once('close', end);
    }
    const over = overCap.get(connKey);
    if (over) {
      action = 'refused';
      finishAndClose(503, `${over}\r\n`, { 'Content-Type': 'text/plain; charset=utf-8', 'Retry-After': '5' });
      return;
    }
    if (req.method !== 'POST') {
      finish(405, undefined, { Allow: 'POST' });
      return;
    }
    if ((req.url ?? '').split('?')[0]!.toLowerCase() !== '/wsman') {
      finish(404);
      return;
    }

    // ---- body reading, bounded ----
    const rawLimit = maxEnvelopeSize * 2 + 65536;
    const declaredRaw = req.headers['content-length'];
    const declared = declaredRaw === undefined ? undefined : Number(declaredRaw);
    /** Read the body up to `limit` bytes; undefined when the client went away. Over the limit: `tooBig`. */
    const readBody = async (limit: number): Promise<{ body: Buffer; tooBig: false } | { size: number; tooBig: true } | undefined> => {
      if (declared !== undefined && declared > limit) return { size: declared, tooBig: true };
      const parts: Buffer[] = [];
      let size = 0;
      try {
        // destroyOnReturn false: stopping early must not reset the connection before the answer is written
        for await (const chunk of req.iterator({ destroyOnReturn: false })) {
          size += (chunk as Buffer).length;
          if (size > limit) return { size, tooBig: true };
          parts.push(chunk as Buffer);
        }
      } catch {
        return undefined;
      }
      if (!req.complete) return undefined;
      return { body: Buffer.concat(parts, size), tooBig: false };
    };
    /** Read and drop the body (nothing is kept); its size, or more than `limit` when it is larger (reading stops),
     *  or undefined when the client went away. */
    const drainBody = async (limit: number): Promise<number | undefined> => {
      if (declared !== undefined && declared > limit) return declared;
      let size = 0;
      try {
        for await (const chunk of req.iterator({ destroyOnReturn: false })) {
          size += (chunk as Buffer).length;
          if (size > limit) return size;
        }
      } catch {
        return undefined;
      }
      return req.complete ? size : undefined;
    };
    /** Not authenticated: at most PRE_AUTH_BODY_LIMIT bytes are read (and dropped) before answering. */
    const refuseUnauthenticated = async (status: number, headers: Record<string, string | string[]>) => {
      const r = await readBody(PRE_AUTH_BODY_LIMIT);
      if (!r) return;
      if (r.tooBig) {
        action = action === '-' ? 'body-before-auth' : action;
        finishAndClose(status, undefined, headers);
        return;
      }
      finish(status, undefined, headers);
    };
    const deny = async (reason: string, extraHeaders: Record<string, string | string[]> = {}) => {
      denyLine(reason);
      await refuseUnauthenticated(401, { 'WWW-Authenticate': offers, ...extraHeaders });
    };

    // ---- DSP0226 Identify without authentication (WSMANIDENTIFY: unauthenticated) ----
    if (String(req.headers['wsmanidentify'] ?? '').toLowerCase() === 'unauthenticated') {
      action = 'Identify';
      const r = await readBody(PRE_AUTH_BODY_LIMIT);
      if (!r) return;
      if (r.tooBig) {
        finishAndClose(413);
        return;
      }
      let ok = false;
      try {
        const e = parseEnvelope(r.body.toString('utf8'), { maxLength: PRE_AUTH_BODY_LIMIT });
        ok = e.payload?.local === 'Identify' && e.payload.ns === NS.wsmid;
      } catch {
        ok = false;
      }
      if (ok) {
        finish(200, identifyResponse());
        return;
      }
      // anything else needs authentication
      who = 'anonymous';
      denyLine('unauthenticated request that is not an Identify refused');
      finish(401, undefined, { 'WWW-Authenticate': offers });
      return;
    }

    // ---- authentication: from the Authorization header alone, before the body is read ----
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
      if (!m || !found || !auth.includes(found.name)) {
        await deny(`scheme ${m?.[1] ?? '?'} not enabled`);
        return;
      }
      const replyScheme = found.name === 'ntlm' && /^negotiate$/i.test(m[1]!) ? 'Negotiate' : found.mech.httpScheme;
      let token: Uint8Array;
      try {
        token = fromBase64(m[2] ?? '');
      } catch {
        await deny('bad base64 token');
        return;
      }
      if (found.mech.perRequest) {
        if (!o.https && !allowUnencrypted) {
          await deny(`${found.mech.httpScheme} refused over HTTP (AllowUnencrypted=false; use --allow-unencrypted or --https)`);
          return;
        }
        const acc = createAcceptor(found.name, { ...acceptorOpts(), peerCertificate: peerCertificateOf(sock) });
        try {
          await acc.step(token);
        } catch (e) {
          await deny(`${found.name} failed: ${safeMsg(e)}`);
          return;
        }
        const id = acc.identity!;
        const key = `${id.domain}\\${id.user}|${createHash('sha256')
          .update(id.password ?? '')
          .digest('hex')}`;
        session = st.basic.get(key);
        if (!session || session.closed) {
          session = newSession(id);
          if (!session) {
            await deny(`no local account to run ${id.domain ? `${id.domain}\\` : ''}${id.user} as: it matches no entry of the users file`);
            return;
          }
          session.ref();
          st.basic.set(key, session);
          log(
            `${new Date().toISOString()} conn#${st.id} ${clientIp} auth ok ${session.name} via ${found.name} ` +
              `(${id.logonType})${session.account?.own ? '' : ` as ${session.account?.name}`}`,
          );
        }
      } else {
        if (!st.ctx || st.ctx.complete || st.mechName !== found.name) {
          st.session?.unref();
          st.session = undefined;
          st.ctx = createAcceptor(found.name, acceptorOpts());
          st.mechName = found.name;
          st.scheme = replyScheme;
        }
        let out: Uint8Array | undefined;
        try {
          out = await st.ctx.step(token, { channelBindings: bindings });
        } catch (e) {
          st.ctx = undefined;
          await deny(`${found.name} failed: ${safeMsg(e)}`);
          return;
        }
        if (!st.ctx.complete) {
          // a handshake leg. Clients that authenticate on demand (pypsrp and requests-ntlm over HTTPS) resend the
          // request's body on every leg: it is read and dropped as it comes (never held), up to the envelope bound.
          action = 'auth';
          const r = await drainBody(rawLimit);
          if (r === undefined) return;
          if (r > rawLimit) {
            st.ctx = undefined;
            denyLine(`${r} bytes of body on a ${found.name} handshake leg (over the envelope bound ${rawLimit})`);
            finishAndClose(413);
            return;
          }
          finish(401, undefined, { 'WWW-Authenticate': `${replyScheme} ${toBase64(out ?? new Uint8Array())}` });
          return;
        }
        const id = st.ctx.identity;
        if (!id) {
          st.ctx = undefined;
          await deny(`${found.name} completed without an identity`);
          return;
        }
        const ns = newSession(id);
        if (!ns) {
          st.ctx = undefined;
          await deny(`no local account to run ${id.domain ? `${id.domain}\\` : ''}${id.user} as: it matches no entry of the users file`);
          return;
        }
        st.session = ns;
        st.session.ref();
        log(
          `${new Date().toISOString()} conn#${st.id} ${clientIp} auth ok ${st.session.name} via ${found.name} ` +
            `(${id.logonType})${ns.account?.own ? '' : ` as ${ns.account?.name}`}`,
        );
        session = st.session;
        if (out?.length) finalToken = `${replyScheme} ${toBase64(out)}`;
      }
    } else if (st.session && st.ctx?.complete) {
      session = st.session;
    } else {
      who = 'anonymous';
      await deny('anonymous request (NT AUTHORITY\\ANONYMOUS LOGON) refused');
      return;
    }
    who = session.name;
    const extra: Record<string, string> = finalToken ? { 'WWW-Authenticate': finalToken } : {};

    // ---- the body of an authenticated request (bounded by MaxEnvelopeSize) ----
    const r = await readBody(rawLimit);
    if (!r) return;
    if (r.tooBig) {
      action = 'oversized';
      req.pause();
      finishAndClose(500, buildFault({ ...faults.encodingLimit(r.size, maxEnvelopeSize).spec, machine: name }, undefined), extra);
      return;
    }
    const body = r.body;
    if (!body.length) {
      action = 'auth';
      finish(200, undefined, extra);
      return;
    }

    // ---- decrypt ----
    const ct = String(req.headers['content-type'] ?? '');
    const connCtx = session === st.session ? st.ctx : undefined;
    let xmlBytes: Uint8Array;
    let encrypted = false;
    if (isEncryptedContentType(ct)) {
      if (!connCtx?.canEncrypt) {
        action = 'encrypted?';
        finish(400, undefined, extra);
        return;
      }
      try {
        xmlBytes = await decryptMessage(connCtx, ct, body);
        encrypted = true;
      } catch (e) {
        action = 'decrypt-failed';
        log(`${new Date().toISOString()} conn#${st.id} ${clientIp} could not decrypt: ${safeMsg(e)}`);
        finish(400, undefined, extra);
        return;
      }
    } else {
      if (!o.https && !allowUnencrypted) {
        action = 'unencrypted';
        st.ctx = undefined;
        st.session?.unref();
        st.session = undefined;
        denyLine('unencrypted request refused on HTTP (AllowUnencrypted=false)');
        finish(401, undefined, { 'WWW-Authenticate': offers });
        return;
      }
      if (!/^application\/soap\+xml/i.test(ct)) {
        action = 'bad-content-type';
        finish(415, undefined, extra);
        return;
      }
      xmlBytes = body;
    }

    // ---- parse + dispatch ----
    const reply = async (status: number, xml: string | Uint8Array) => {
      if (res.destroyed) {
        if (!logged) line(`${status} (not sent: the connection is gone)`);
        return;
      }
      if (encrypted && connCtx) {
        const e = await encryptMessage(connCtx, typeof xml === 'string' ? Buffer.from(xml, 'utf8') : xml);
        finish(status, e.body, { ...extra, 'Content-Type': e.contentType });
      } else finish(status, xml, extra);
    };
    let env: Envelope | undefined;
    const user = userKey(session.identity);
    let counted = false;
    let creatingShell = false;
    try {
      if (xmlBytes.length > maxEnvelopeSize) throw faults.encodingLimit(xmlBytes.length, maxEnvelopeSize);
      try {
        env = parseEnvelope(Buffer.from(xmlBytes.buffer, xmlBytes.byteOffset, xmlBytes.byteLength).toString('utf8'));
      } catch (e) {
        action = 'bad-xml';
        log(`${new Date().toISOString()} conn#${st.id} ${clientIp} bad request: ${safeMsg(e)}`);
        throw faults.schemaValidation();
      }
      action = (env.action ?? '-').replace(/^.*\//, '');
      if (!env.action)
        throw faults.invalidHeader('The WS-Management service cannot process the request because the header wsa:Action is missing. ');
      if (!env.resourceUri)
        throw faults.invalidHeader(
          'The WS-Management service cannot process the request because the header wsman:ResourceURI is missing. ',
        );
      if (env.maxEnvelopeSize !== undefined && env.maxEnvelopeSize < MIN_ENVELOPE_SIZE) throw faults.envelopeTooSmall(env.maxEnvelopeSize);
      let ot = 60000;
      if (env.operationTimeoutRaw !== undefined) {
        if (env.operationTimeoutMs === undefined || env.operationTimeoutMs <= 0) throw faults.invalidTimeout(env.operationTimeoutRaw);
        ot = Math.min(env.operationTimeoutMs, endpoint.maxTimeoutMs);
      }
      const h = findHandler(env.resourceUri, local);
      if (!h) throw faults.unknownResource(env.resourceUri);
      // MaxConcurrentOperationsPerUser: requests of this user being processed right now
      if ((operations.get(user) ?? 0) >= limits.maxConcurrentOperationsPerUser)
        throw quotaFaults.maxOperations(limits.maxConcurrentOperationsPerUser);
      bump(operations, user, 1);
      counted = true;
      // MaxShellsPerUser: WinRS and PowerShell shells of this user (Creates under way included)
      if (isShellCreate(env)) {
        if (shellsOf(user) >= limits.maxShellsPerUser) throw quotaFaults.maxShells(limits.maxShellsPerUser);
        bump(creating, user, 1);
        creatingShell = true;
      }
      const ac = new AbortController();
      const onClose = () => ac.abort();
      res.once('close', onClose);
      stopping.signal.addEventListener('abort', onClose, { once: true });
      try {
        const xml = await h({
          env,
          session,
          endpoint,
          clientIp,
          signal: ac.signal,
          operationTimeoutMs: ot,
          replyMaxEnvelopeSize: Math.min(env.maxEnvelopeSize ?? 153600, maxEnvelopeSize),
        });
        if (ac.signal.aborted && res.destroyed) return;
        await reply(200, xml);
      } finally {
        stopping.signal.removeEventListener('abort', onClose);
        res.off('close', onClose);
      }
    } catch (e) {
      if (res.headersSent || res.destroyed) return;
      if (e instanceof WsmanFault) {
        await reply(500, buildFault({ ...e.spec, machine: name }, env?.messageId));
        return;
      }
      if (e instanceof XmlError) {
        await reply(500, buildFault({ ...faults.schemaValidation().spec, machine: name }, env?.messageId));
        return;
      }
      log(`${new Date().toISOString()} conn#${st.id} ${clientIp} internal error: ${safeMsg(e)}`);
      await reply(
        500,
        buildFault(
          { ...faults.provider(2150858752, `The WS-Management service cannot process the request: ${safeMsg(e)} `).spec, machine: name },
          env?.messageId,
        ),
      );
    } finally {
      if (counted) bump(operations, user, -1);
      if (creatingShell) bump(creating, user, -1);
    }
  };

  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
    handler(req, res).catch((e) => {
      log(`internal error: ${safeMsg(e)}`);
      if (!res.headersSent) {
        try {
          res.writeHead(500, { 'Content-Length': '0' });
          res.end();
        } catch {
          /* gone */
        }
      } else res.destroy();
    });
  };
  const httpOpts: http.ServerOptions = {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    // how often Node checks the two timeouts above
    connectionsCheckingInterval: Math.max(50, Math.min(30_000, Math.floor(limits.headersTimeoutMs / 4))),
    maxHeaderSize: 16384,
  };
  const server: http.Server = o.https
    ? https.createServer(
        {
          ...httpOpts,
          cert: o.cert,
          key: o.key,
          ...(o.clientCa ? { requestCert: true, rejectUnauthorized: false, ca: o.clientCa, crl: o.crl } : {}),
        },
        onRequest,
      )
    : http.createServer(httpOpts, onRequest);
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = limits.requestTimeoutMs;
  server.maxHeadersCount = 100;
  // beyond twice the global cap connections are dropped at once (no answer); below it, over-cap ones get a 503
  server.maxConnections = limits.maxConnections * 2;
  const sockets = new Set<net.Socket>();
  server.on('connection', (sock: net.Socket) => {
    sockets.add(sock);
    sock.once('close', () => sockets.delete(sock));
    const addr = addrOf(sock);
    const key = `${sock.remoteAddress}:${sock.remotePort}`;
    const n = perAddress.get(addr) ?? 0;
    if (n >= limits.maxConnectionsPerAddress || openConns >= limits.maxConnections) {
      const why =
        n >= limits.maxConnectionsPerAddress
          ? `winrm-ts serve: too many connections from ${addr} (${n} open; limit ${limits.maxConnectionsPerAddress}, ` +
            `serve --max-connections-per-address). Close idle connections or retry later.`
          : `winrm-ts serve: too many connections (${openConns} open; limit ${limits.maxConnections}, serve ` +
            `--max-connections). Retry later.`;
      overCap.set(key, why);
      log(`${new Date().toISOString()} ${addr} connection refused: ${why}`);
      // it must send its request soon, or it is dropped
      sock.setTimeout(Math.min(5000, limits.headersTimeoutMs), () => sock.destroy());
      sock.once('close', () => overCap.delete(key));
      return;
    }
    perAddress.set(addr, n + 1);
    openConns++;
    // keep-alive: a connection with no request in progress for keepAliveTimeoutMs is closed
    const idle = {
      busy: 0,
      timer: undefined as NodeJS.Timeout | undefined,
      arm() {
        clearTimeout(this.timer);
        if (this.busy === 0) {
          this.timer = setTimeout(() => sock.destroy(), limits.keepAliveTimeoutMs);
          this.timer.unref();
        }
      },
    };
    idle.arm();
    idleOf.set(key, idle);
    sock.once('close', () => {
      clearTimeout(idle.timer);
      idleOf.delete(key);
      openConns--;
      const v = (perAddress.get(addr) ?? 1) - 1;
      if (v > 0) perAddress.set(addr, v);
      else perAddress.delete(addr);
    });
  });
  server.on('clientError', (e: NodeJS.ErrnoException, socket) => {
    const status = e.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : e.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
    log(`${new Date().toISOString()} ${addrOf(socket as net.Socket)} -> ${status} (${e.code ?? e.message})`);
    try {
      if (socket.writable) socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
      else socket.destroy();
    } catch {
      /* gone */
    }
  });
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
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(new InvalidArgumentError(`cannot listen on ${host}:${port}: ${e.code ?? e.message}`)),
    );
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as net.AddressInfo;
  const urlHost = addr.address.includes(':') ? `[${addr.address}]` : addr.address;
  const url = `${o.https ? 'https' : 'http'}://${urlHost}:${addr.port}/wsman`;
  endpoint.url = url;
  return {
    url,
    port: addr.port,
    host: addr.address,
    fingerprint,
    server,
    accounts,
    limits,
    stats: () => ({ connections: openConns, ...winrs.stats() }),
    close: async () => {
      stopping.abort();
      winrs.closeAll();
      await new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
        for (const x of sockets) x.destroy();
      });
    },
  };
}

let staleRemoved: Promise<void> | undefined;

function safeMsg(e: unknown): string {
  if (e instanceof WinRMError || e instanceof AuthError || e instanceof EncryptionError) return e.message;
  return (e as Error)?.message ?? String(e);
}

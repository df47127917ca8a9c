/**
 * Proxies for the client transport: which proxy a target uses (explicit `--proxy`, else the environment as curl reads
 * it), and a raw TCP tunnel through it to the WinRM host.
 *
 *   const proxy = proxyFor({ https, host, port }, { proxy: opts.proxy, noProxy: opts.noProxy });   // undefined = direct
 *   const sock = await openTunnel(proxy, host, port, { timeoutMs, signal });   // then tls.connect({ socket: sock }) or HTTP on it
 *
 * - `http://[user:pass@]host:port`: HTTP CONNECT (RFC 9110 9.3.6) for HTTP and HTTPS targets alike, so the WinRM
 *   connection stays ONE end-to-end TCP stream: connection-bound NTLM/Kerberos/CredSSP, message encryption and TLS
 *   channel binding (the target's certificate) work through it unchanged. Proxy authentication: Basic (sent up
 *   front when the URL has credentials, as curl does), and NTLM / Negotiate (NTLM inside) when the proxy asks for it
 *   with `Proxy-Authenticate` (the project's NTLM initiator; connection-bound, so the legs share the connection).
 * - `socks5://` (names resolved locally, as curl) and `socks5h://` (the proxy resolves them), user/password auth
 *   (RFC 1929), through the `socks` package.
 * - Environment (curl's rules): `https_proxy`/`HTTPS_PROXY` for https:// targets, `http_proxy`/`HTTP_PROXY` for
 *   http:// ones (curl reads only the lower-case `http_proxy`; we accept both), `all_proxy`/`ALL_PROXY` otherwise; the
 *   lower-case variable wins; an empty value means none. `no_proxy`/`NO_PROXY` (and `--noproxy`): comma- or
 *   space-separated; `*` = everything; a name matches itself and its subdomains (`example.test` and
 *   `.example.test` both match `a.example.test`); an IP address matches exactly, `10.0.0.0/8` / `fd00::/8` by prefix.
 * - A proxy's refusal is the proxy's (ProxyError with its status: 403 access rules, 407 authentication, 502/503/504
 *   the proxy could not reach the host), never reported as the WinRM host's. Proxy credentials never appear in
 *   errors or logs.
 */
import net from 'node:net';
import { lookup } from 'node:dns/promises';
import { AbortError, InvalidArgumentError, ProxyError, TimeoutError } from '../errors.js';
import { createInitiator } from '../auth/registry.js';
import type { AuthContext } from '../auth/types.js';
import { fromBase64, toBase64 } from '../util/bytes.js';
import { debug } from '../util/debug.js';

export interface ProxySpec {
  kind: 'http' | 'socks5' | 'socks5h';
  host: string;
  port: number;
  username?: string;
  password?: string;
  /** for messages: scheme://host:port, never the credentials */
  label: string;
}

export interface ProxyChoice {
  /** an explicit proxy URL; '' or false = none (ignore the environment); undefined = from the environment */
  proxy?: string | false;
  /** extra no-proxy list (like curl --noproxy); replaces NO_PROXY when given */
  noProxy?: string;
  env?: NodeJS.ProcessEnv;
}

/** Parse a proxy URL ("http://user:pass@host:3128", "socks5://host:1080", or "host:port" = http). */
export function parseProxyUrl(s: string, env: NodeJS.ProcessEnv = process.env): ProxySpec {
  const text = /^[a-z][a-z0-9+.-]*:\/\//i.test(s) ? s : `http://${s}`;
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new InvalidArgumentError(`not a proxy URL: ${redact(s)} (expected http://[user:pass@]host:port or socks5://host:port)`);
  }
  const scheme = u.protocol.replace(/:$/, '').toLowerCase();
  const kind =
    scheme === 'http' ? 'http' : scheme === 'socks5' || scheme === 'socks' ? 'socks5' : scheme === 'socks5h' ? 'socks5h' : undefined;
  if (!kind)
    throw new InvalidArgumentError(
      `proxy scheme ${scheme}:// is not supported (use http://host:port for HTTP CONNECT, or socks5:// / socks5h://)`,
    );
  if (!u.hostname) throw new InvalidArgumentError(`the proxy URL ${redact(s)} has no host`);
  const host = u.hostname.replace(/^\[|\]$/g, '');
  const port = Number(u.port || 1080); // curl's default proxy port
  const spec: ProxySpec = { kind, host, port, label: `${kind}://${host.includes(':') ? `[${host}]` : host}:${port}` };
  if (u.username) spec.username = decodeURIComponent(u.username);
  if (u.password) spec.password = decodeURIComponent(u.password);
  // a user without a password in the URL: the password from env WINRM_PROXY_PASSWORD (keeps it out of argv)
  else if (spec.username !== undefined && env.WINRM_PROXY_PASSWORD !== undefined) spec.password = env.WINRM_PROXY_PASSWORD;
  return spec;
}

/** A proxy URL with its password blanked, for messages. */
function redact(s: string): string {
  return s.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@');
}

function envVar(env: NodeJS.ProcessEnv, name: string): string | undefined {
  const v = env[name.toLowerCase()] ?? env[name.toUpperCase()];
  return v === undefined ? undefined : v.trim();
}

/** The proxy for a target, or undefined to connect directly. */
export function proxyFor(target: { https: boolean; host: string; port: number }, o: ProxyChoice = {}): ProxySpec | undefined {
  const env = o.env ?? process.env;
  const noProxy = o.noProxy ?? envVar(env, 'no_proxy') ?? '';
  if (o.proxy === false || o.proxy === '') return undefined;
  let url = o.proxy;
  if (url === undefined) {
    url = envVar(env, target.https ? 'https_proxy' : 'http_proxy');
    if (url === undefined) url = envVar(env, 'all_proxy');
    if (!url) return undefined;
  }
  if (noProxyMatches(target.host, target.port, noProxy)) {
    debug('proxy: %s is in no_proxy: direct', target.host);
    return undefined;
  }
  return parseProxyUrl(url, env);
}

/** curl's NO_PROXY matching (see the module comment). */
export function noProxyMatches(host: string, port: number, list: string): boolean {
  const h = host
    .replace(/^\[|\]$/g, '')
    .replace(/\.$/, '')
    .toLowerCase();
  for (let entry of list.split(/[\s,]+/).filter(Boolean)) {
    entry = entry.toLowerCase();
    if (entry === '*') return true;
    // an optional :port (host:port, [v6]:port)
    let ePort: number | undefined;
    const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry) ?? (/^[^:]+:(\d+)$/.test(entry) ? /^([^:]+):(\d+)$/.exec(entry) : null);
    if (m) {
      entry = m[1]!;
      ePort = m[2] ? Number(m[2]) : undefined;
    }
    if (ePort !== undefined && ePort !== port) continue;
    const slash = entry.indexOf('/');
    if (slash > 0 && net.isIP(entry.slice(0, slash)) && net.isIP(h)) {
      if (inCidr(h, entry.slice(0, slash), Number(entry.slice(slash + 1)))) return true;
      continue;
    }
    if (net.isIP(entry) || net.isIP(h)) {
      if (net.isIP(entry) && net.isIP(h) && sameIp(entry, h)) return true;
      continue;
    }
    const name = entry.replace(/^\*?\./, '').replace(/\.$/, '');
    if (h === name || h.endsWith(`.${name}`)) return true;
  }
  return false;
}

function ipBytes(ip: string): number[] | undefined {
  if (net.isIPv4(ip)) return ip.split('.').map(Number);
  if (!net.isIPv6(ip)) return undefined;
  let s = ip;
  const v4 = /:(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const b = v4[1]!.split('.').map(Number);
    s = `${s.slice(0, v4.index)}:${(b[0]! * 256 + b[1]!).toString(16)}:${(b[2]! * 256 + b[3]!).toString(16)}`;
  }
  const [a, b] = s.split('::') as [string, string | undefined];
  const head = a ? a.split(':').map((x) => parseInt(x, 16)) : [];
  const back = b ? b.split(':').map((x) => parseInt(x, 16)) : [];
  const words = b === undefined ? head : [...head, ...new Array<number>(Math.max(0, 8 - head.length - back.length)).fill(0), ...back];
  return words.flatMap((w) => [w >> 8, w & 0xff]);
}
function sameIp(a: string, b: string): boolean {
  const x = ipBytes(a);
  const y = ipBytes(b);
  return !!x && !!y && x.length === y.length && x.every((v, i) => v === y[i]);
}
function inCidr(ip: string, base: string, bits: number): boolean {
  const x = ipBytes(ip);
  const y = ipBytes(base);
  if (!x || !y || x.length !== y.length || !Number.isInteger(bits) || bits < 0 || bits > x.length * 8) return false;
  for (let i = 0; i < bits; i++) {
    const m = 0x80 >> (i % 8);
    if ((x[i >> 3]! & m) !== (y[i >> 3]! & m)) return false;
  }
  return true;
}

export interface TunnelOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

/** Open a TCP stream to host:port through the proxy (the returned socket is not flowing; use it as it is). */
export async function openTunnel(proxy: ProxySpec, host: string, port: number, o: TunnelOptions = {}): Promise<net.Socket> {
  if (o.signal?.aborted) throw new AbortError();
  debug('proxy: tunnel to %s:%d through %s', host, port, proxy.label);
  return proxy.kind === 'http' ? connectTunnel(proxy, host, port, o) : socksTunnel(proxy, host, port, o);
}

async function socksTunnel(proxy: ProxySpec, host: string, port: number, o: TunnelOptions): Promise<net.Socket> {
  // loaded when a SOCKS proxy is used, not at every start-up
  const { SocksClient } = await import('socks');
  let dest = host;
  if (proxy.kind === 'socks5' && !net.isIP(host)) {
    try {
      dest = (await lookup(host)).address;
    } catch (e) {
      throw new ProxyError(
        `cannot resolve ${host} for the SOCKS proxy ${proxy.label}: ${(e as Error).message} (socks5h:// lets the proxy resolve names)`,
        proxy.label,
        undefined,
        { cause: e },
      );
    }
  }
  const ac = new AbortController();
  const onAbort = () => ac.abort();
  o.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const p = SocksClient.createConnection({
      proxy: { host: proxy.host, port: proxy.port, type: 5, userId: proxy.username, password: proxy.password },
      command: 'connect',
      destination: { host: dest, port },
      timeout: o.timeoutMs ?? 30000,
      set_tcp_nodelay: true,
    });
    const aborted = new Promise<never>((_, rej) => ac.signal.addEventListener('abort', () => rej(new AbortError()), { once: true }));
    const { socket } = await Promise.race([p, aborted]);
    return socket;
  } catch (e) {
    if (e instanceof AbortError) throw e;
    const msg = (e as Error).message;
    if (/timed out|timeout/i.test(msg))
      throw new TimeoutError(
        `the SOCKS proxy ${proxy.label} did not connect to ${host}:${port} within ${(o.timeoutMs ?? 30000) / 1000} s`,
        { cause: e },
      );
    const hint = /auth/i.test(msg)
      ? ' (check the user and password in the proxy URL)'
      : /ECONNREFUSED|connect/i.test(msg)
        ? ' (is the proxy running?)'
        : '';
    throw new ProxyError(
      `the SOCKS proxy ${proxy.label} could not open a connection to ${host}:${port}: ${msg}${hint}`,
      proxy.label,
      undefined,
      { cause: e },
    );
  } finally {
    o.signal?.removeEventListener('abort', onAbort);
  }
}

interface ProxyResponse {
  status: number;
  reason: string;
  headers: Map<string, string[]>;
  closes: boolean;
}

/** HTTP CONNECT with Basic / NTLM / Negotiate proxy authentication. */
async function connectTunnel(proxy: ProxySpec, host: string, port: number, o: TunnelOptions): Promise<net.Socket> {
  const authority = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  const deadline = Date.now() + (o.timeoutMs ?? 30000);
  const creds = proxy.username !== undefined ? { username: proxy.username, password: proxy.password ?? '' } : undefined;
  let authz = creds ? `Basic ${Buffer.from(`${creds.username}:${creds.password}`, 'utf8').toString('base64')}` : undefined;
  let ntlm: { ctx: AuthContext; scheme: string } | undefined;
  let sock: net.Socket | undefined;
  try {
    for (let leg = 0; leg < 6; leg++) {
      sock ??= await dial(proxy, deadline, o.signal);
      const head = [`CONNECT ${authority} HTTP/1.1`, `Host: ${authority}`, 'Proxy-Connection: Keep-Alive', 'User-Agent: winrm-ts/0.1'];
      if (authz) head.push(`Proxy-Authorization: ${authz}`);
      sock.write(head.join('\r\n') + '\r\n\r\n');
      const res = await readResponse(sock, proxy, deadline, o.signal);
      debug('proxy: CONNECT %s -> %d', authority, res.status);
      if (res.status >= 200 && res.status < 300) return sock;
      // 407, or 401 as some proxies (tinyproxy) answer a CONNECT with wrong credentials
      if (res.status === 407 || res.status === 401) {
        const offered = (res.headers.get('proxy-authenticate') ?? res.headers.get('www-authenticate') ?? [])
          .map((v) => /^\s*(\S+)(?:\s+(.*))?$/.exec(v))
          .filter((m): m is RegExpExecArray => !!m);
        if (!creds)
          throw new ProxyError(
            `the proxy ${proxy.label} requires authentication (it offers: ${offered.map((m) => m[1]).join(', ') || 'nothing'}): put the credentials in the proxy URL, http://user:password@host:port`,
            proxy.label,
            407,
          );
        if (ntlm) {
          const tok = offered.find((m) => m[1]!.toLowerCase() === ntlm!.scheme.toLowerCase() && m[2])?.[2];
          if (!tok || res.closes)
            throw new ProxyError(
              `the proxy ${proxy.label} rejected the ${ntlm.scheme} credentials of ${creds.username} (407)`,
              proxy.label,
              407,
            );
          const out = await ntlm.ctx.step(fromBase64(tok.trim()));
          authz = `${ntlm.scheme} ${toBase64(out ?? new Uint8Array())}`;
          continue;
        }
        const conn = offered.find((m) => /^ntlm$/i.test(m[1]!)) ?? offered.find((m) => /^negotiate$/i.test(m[1]!));
        const basicOffered = offered.some((m) => /^basic$/i.test(m[1]!));
        if (conn && !basicOffered) {
          const ctx = createInitiator('ntlm', { username: creds.username, password: creds.password }, { targetHost: proxy.host });
          ntlm = { ctx, scheme: conn[1]! };
          authz = `${ntlm.scheme} ${toBase64((await ctx.step()) ?? new Uint8Array())}`;
          if (res.closes) {
            sock.destroy();
            sock = undefined;
          }
          continue;
        }
        throw new ProxyError(
          `the proxy ${proxy.label} rejected the credentials of ${creds.username} (${res.status} ${res.reason})`,
          proxy.label,
          res.status,
        );
      }
      const why =
        res.status === 403
          ? 'its access rules do not allow a tunnel to this host and port (e.g. tinyproxy ConnectPort/Allow, squid http_access)'
          : res.status === 502 || res.status === 503 || res.status === 504
            ? 'the proxy could not reach the host (check the host name and port as the proxy sees them)'
            : res.status === 405 || res.status === 501
              ? 'the proxy does not support CONNECT tunnels'
              : 'the proxy refused the tunnel';
      throw new ProxyError(
        `the proxy ${proxy.label} refused to connect to ${authority}: ${res.status} ${res.reason}: ${why}`,
        proxy.label,
        res.status,
      );
    }
    throw new ProxyError(`the proxy ${proxy.label} did not open a tunnel after 6 round trips`, proxy.label);
  } catch (e) {
    sock?.destroy();
    throw e;
  }
}

function dial(proxy: ProxySpec, deadline: number, signal?: AbortSignal): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: proxy.host, port: proxy.port });
    const timer = setTimeout(
      () => {
        s.destroy();
        reject(new TimeoutError(`could not connect to the proxy ${proxy.label} in time (connect timeout)`));
      },
      Math.max(1, deadline - Date.now()),
    );
    const onAbort = () => {
      clearTimeout(timer);
      s.destroy();
      reject(new AbortError());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    s.once('connect', () => {
      done();
      s.off('error', onErr);
      s.setNoDelay(true);
      resolve(s);
    });
    const onErr = (e: Error) => {
      done();
      reject(new ProxyError(`could not connect to the proxy ${proxy.label}: ${e.message}`, proxy.label, undefined, { cause: e }));
    };
    s.once('error', onErr);
  });
}

const MAX_HEAD = 64 * 1024;
const MAX_BODY = 1024 * 1024;

/** Read one response to CONNECT (head, and the body of a refusal so the connection can carry the next leg). */
function readResponse(sock: net.Socket, proxy: ProxySpec, deadline: number, signal?: AbortSignal): Promise<ProxyResponse> {
  return new Promise((resolve, reject) => {
    let buf = Buffer.alloc(0);
    let res: ProxyResponse | undefined;
    let bodyLeft = 0;
    const timer = setTimeout(
      () => fail(new TimeoutError(`the proxy ${proxy.label} did not answer CONNECT in time`)),
      Math.max(1, deadline - Date.now()),
    );
    const onAbort = () => fail(new AbortError());
    signal?.addEventListener('abort', onAbort, { once: true });
    const cleanup = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      sock.off('readable', onReadable);
      sock.off('end', onEnd);
      sock.off('error', onError);
    };
    const fail = (e: Error) => {
      cleanup();
      reject(e);
    };
    const finish = (r: ProxyResponse, rest: Buffer) => {
      cleanup();
      if (rest.length) sock.unshift(rest);
      resolve(r);
    };
    const onEnd = () => {
      if (res) {
        res.closes = true;
        finish(res, Buffer.alloc(0));
        return;
      }
      fail(new ProxyError(`the proxy ${proxy.label} closed the connection without answering CONNECT`, proxy.label));
    };
    const onError = (e: Error) =>
      fail(new ProxyError(`the connection to the proxy ${proxy.label} failed: ${e.message}`, proxy.label, undefined, { cause: e }));
    const onReadable = () => {
      let chunk: Buffer | null;
      while ((chunk = sock.read() as Buffer | null) !== null) {
        if (res) {
          const take = Math.min(bodyLeft, chunk.length);
          bodyLeft -= take;
          if (bodyLeft === 0) {
            finish(res, chunk.subarray(take));
            return;
          }
          continue;
        }
        buf = Buffer.concat([buf, chunk]);
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) {
          if (buf.length > MAX_HEAD) {
            fail(new ProxyError(`the proxy ${proxy.label} sent an oversized response head`, proxy.label));
            return;
          }
          continue;
        }
        const lines = buf.subarray(0, end).toString('latin1').split('\r\n');
        const m = /^HTTP\/1\.[01] (\d{3})(?: (.*))?$/.exec(lines[0]!);
        if (!m) {
          fail(
            new ProxyError(
              `the proxy ${proxy.label} did not answer CONNECT with HTTP (got ${JSON.stringify(lines[0]!.slice(0, 40))})`,
              proxy.label,
            ),
          );
          return;
        }
        const headers = new Map<string, string[]>();
        for (const l of lines.slice(1)) {
          const c = l.indexOf(':');
          if (c <= 0) continue;
          const k = l.slice(0, c).trim().toLowerCase();
          headers.set(k, [...(headers.get(k) ?? []), l.slice(c + 1).trim()]);
        }
        const status = Number(m[1]);
        const conn = (headers.get('proxy-connection') ?? headers.get('connection') ?? []).join(',').toLowerCase();
        res = { status, reason: m[2] ?? '', headers, closes: /close/.test(conn) };
        const rest = buf.subarray(end + 4);
        if (status >= 200 && status < 300) {
          finish(res, rest);
          return;
        }
        const cl = headers.get('content-length')?.[0];
        if (cl !== undefined && /^\d+$/.test(cl) && Number(cl) <= MAX_BODY) bodyLeft = Number(cl);
        else if (cl === undefined && !headers.has('transfer-encoding')) bodyLeft = 0;
        else {
          res.closes = true;
          finish(res, Buffer.alloc(0));
          return;
        }
        if (res.status !== 407 && bodyLeft === 0) {
          finish(res, Buffer.alloc(0));
          return;
        }
        if (bodyLeft === 0) {
          finish(res, rest);
          return;
        }
        const take = Math.min(bodyLeft, rest.length);
        bodyLeft -= take;
        if (bodyLeft === 0) {
          finish(res, rest.subarray(take));
          return;
        }
      }
    };
    sock.on('readable', onReadable);
    sock.once('end', onEnd);
    sock.once('error', onError);
    onReadable();
  });
}

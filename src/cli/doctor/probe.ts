/**
 * The unauthenticated probes of `winrm-ts doctor` (I/O at the edge, each bounded by a timeout, none throws):
 * DNS, a TCP connect, a TLS handshake that records what it saw instead of failing, and raw HTTP(S) requests (the
 * WS-Man Identify of DSP0226 11 with `WSMANIDENTIFY: unauthenticated`, and an empty POST whose 401 lists the schemes).
 * They connect as the client would: directly, or through its proxy (a Dialer).
 */
import { lookup } from 'node:dns/promises';
import net from 'node:net';
import tls from 'node:tls';
import http from 'node:http';
import { createHash } from 'node:crypto';
import { NS } from '../../wsman/ns.js';

export interface DnsResult {
  ok: boolean;
  addresses: string[];
  isIp: boolean;
  error?: string;
  ms: number;
}

export async function resolveHost(host: string): Promise<DnsResult> {
  const t0 = Date.now();
  if (net.isIP(host)) return { ok: true, addresses: [host], isIp: true, ms: 0 };
  try {
    const all = await lookup(host, { all: true });
    return { ok: true, addresses: all.map((a) => a.address), isIp: false, ms: Date.now() - t0 };
  } catch (e) {
    return { ok: false, addresses: [], isIp: false, error: (e as NodeJS.ErrnoException).code ?? (e as Error).message, ms: Date.now() - t0 };
  }
}

/** Opens a TCP connection to the target: directly, or a tunnel through the client's proxy. Rejects with the cause. */
export type Dialer = () => Promise<net.Socket>;

/** A direct TCP connection (error code as the message: ECONNREFUSED, ETIMEDOUT, ...). */
export function directDialer(host: string, port: number, timeoutMs: number): Dialer {
  return () =>
    new Promise((resolve, reject) => {
      const s = net.connect({ host, port });
      const timer = setTimeout(() => {
        s.destroy();
        reject(Object.assign(new Error('ETIMEDOUT'), { code: 'ETIMEDOUT' }));
      }, timeoutMs);
      s.once('connect', () => {
        clearTimeout(timer);
        s.removeAllListeners('error');
        resolve(s);
      });
      s.once('error', (e) => {
        clearTimeout(timer);
        s.destroy();
        reject(e);
      });
    });
}

export interface TcpResult {
  ok: boolean;
  ms: number;
  error?: string;
  timedOut?: boolean;
  cause?: unknown;
}

export async function tcpConnect(dial: Dialer): Promise<TcpResult> {
  const t0 = Date.now();
  try {
    const s = await dial();
    s.destroy();
    return { ok: true, ms: Date.now() - t0 };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { ok: false, ms: Date.now() - t0, error: code ?? (e as Error).message, timedOut: code === 'ETIMEDOUT', cause: e };
  }
}

/** tls.connect over a dialed socket, without verification (the probe records it) */
function tlsOver(sock: net.Socket, host: string, o: { ca?: string | Buffer; servername?: string }): tls.TLSSocket {
  const sni = o.servername ?? (net.isIP(host) ? undefined : host);
  return tls.connect({ socket: sock, rejectUnauthorized: false, ...(sni ? { servername: sni } : {}), ...(o.ca ? { ca: o.ca } : {}) });
}

export interface TlsResult {
  /** the handshake completed */
  ok: boolean;
  error?: string;
  ms: number;
  protocol?: string;
  cipher?: string;
  /** chain verified against the system store (or --ca) */
  authorized?: boolean;
  authorizationError?: string;
  /** the certificate's names match the host connected to */
  nameMatches?: boolean;
  nameError?: string;
  subject?: string;
  issuer?: string;
  subjectAltName?: string;
  validFrom?: Date;
  validTo?: Date;
  /** SHA256:<hex> of the leaf certificate (DER) */
  sha256?: string;
  /** SHA-1 thumbprint (Windows' CertificateThumbprint) */
  sha1?: string;
  raw?: Buffer;
}

/** A TLS handshake that does not reject: it records the chain verification and the name check. */
export async function tlsProbe(
  dial: Dialer,
  host: string,
  o: { ca?: string | Buffer; timeoutMs: number; servername?: string },
): Promise<TlsResult> {
  const t0 = Date.now();
  let sock: net.Socket;
  try {
    sock = await dial();
  } catch (e) {
    return { ok: false, ms: Date.now() - t0, error: (e as Error).message };
  }
  return new Promise((resolve) => {
    const s = tlsOver(sock, host, o);
    const done = (r: TlsResult) => {
      clearTimeout(timer);
      s.destroy();
      sock.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done({ ok: false, ms: Date.now() - t0, error: 'no TLS handshake answer (timeout)' }), o.timeoutMs);
    s.once('secureConnect', () => {
      const x = s.getPeerX509Certificate();
      // RFC 6125 as tls.checkServerIdentity: an address must be an IP SAN, a name a DNS SAN (or the CN without SANs)
      const name = o.servername ?? host;
      const matched = x ? (net.isIP(name) ? x.checkIP(name) : x.checkHost(name)) : undefined;
      const nameErr = matched ? undefined : new Error(x ? `${name} is not among its names` : 'no certificate');
      const r: TlsResult = {
        ok: true,
        ms: Date.now() - t0,
        protocol: s.getProtocol() ?? undefined,
        cipher: s.getCipher()?.name,
        authorized: s.authorized,
        authorizationError: s.authorizationError ? String(s.authorizationError) : undefined,
        nameMatches: !nameErr,
        nameError: nameErr?.message,
      };
      if (x) {
        Object.assign(r, {
          subject: x.subject.replace(/\n/g, ', '),
          issuer: x.issuer.replace(/\n/g, ', '),
          subjectAltName: x.subjectAltName,
          validFrom: new Date(x.validFrom),
          validTo: new Date(x.validTo),
          raw: x.raw,
          sha256: 'SHA256:' + createHash('sha256').update(x.raw).digest('hex'),
          sha1: createHash('sha1').update(x.raw).digest('hex').toUpperCase(),
        });
      }
      done(r);
    });
    s.once('error', (e: NodeJS.ErrnoException) =>
      done({ ok: false, ms: Date.now() - t0, error: e.code ? `${e.code}: ${e.message}` : e.message }),
    );
  });
}

export interface HttpProbe {
  ok: boolean;
  status?: number;
  headers?: http.IncomingHttpHeaders;
  body?: string;
  error?: string;
  errorCode?: string;
}

/** One POST to /wsman (path given) without credentials; the body is read up to 64 KiB. */
export function httpPost(o: ProbeTarget & { headers: Record<string, string>; body: string }): Promise<HttpProbe> {
  return new Promise((resolve) => {
    const req = http.request(
      {
        host: o.host,
        port: o.port,
        path: o.path,
        method: 'POST',
        headers: {
          Host: `${o.host.includes(':') ? `[${o.host}]` : o.host}:${o.port}`,
          ...o.headers,
          'Content-Length': String(Buffer.byteLength(o.body)),
        },
        // the connection comes from the dialer (direct or through the proxy), TLS on top for HTTPS
        createConnection: (_opts: unknown, cb: (err: Error | null, s?: net.Socket) => void) => {
          o.dial().then(
            (sock) => cb(null, o.https ? tlsOver(sock, o.host, o) : sock),
            (e: Error) => cb(e),
          );
          return undefined;
        },
      } as http.RequestOptions,
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          if (body.length < 65536) body += d;
        });
        res.on('end', () => done({ ok: true, status: res.statusCode, headers: res.headers, body }));
        res.on('error', (e: NodeJS.ErrnoException) => done({ ok: false, error: e.message, errorCode: e.code }));
      },
    );
    let finished = false;
    const done = (r: HttpProbe) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      req.destroy();
      resolve(r);
    };
    const timer = setTimeout(() => done({ ok: false, error: 'no HTTP answer (timeout)', errorCode: 'ETIMEDOUT' }), o.timeoutMs);
    req.on('error', (e: NodeJS.ErrnoException) => done({ ok: false, error: e.message, errorCode: e.code }));
    req.end(o.body);
  });
}

export interface ProbeTarget {
  https: boolean;
  host: string;
  port: number;
  path: string;
  timeoutMs: number;
  dial: Dialer;
  ca?: string | Buffer;
  servername?: string;
}

const IDENTIFY = `<s:Envelope xmlns:s="${NS.s}" xmlns:wsmid="${NS.wsmid}"><s:Header/><s:Body><wsmid:Identify/></s:Body></s:Envelope>`;
const SOAP = 'application/soap+xml;charset=UTF-8';

export interface ListenerProbe {
  identify: HttpProbe;
  /** the empty unauthenticated POST (its 401 lists the schemes) */
  challenge: HttpProbe;
  /** from the IdentifyResponse */
  vendor?: string;
  productVersion?: string;
  protocolVersion?: string;
  /** WWW-Authenticate schemes of the 401, in order */
  schemes: string[];
}

/** Identify + the unauthenticated POST, over HTTP or HTTPS. */
export async function probeListener(o: ProbeTarget): Promise<ListenerProbe> {
  const identify = await httpPost({ ...o, headers: { 'Content-Type': SOAP, WSMANIDENTIFY: 'unauthenticated' }, body: IDENTIFY });
  const challenge = await httpPost({ ...o, headers: { 'Content-Type': SOAP }, body: '' });
  const tag = (name: string) => (identify.body ? new RegExp(`<(?:\\w+:)?${name}>([^<]*)</`).exec(identify.body)?.[1]?.trim() : undefined);
  const isIdentify = identify.status === 200 && /IdentifyResponse/.test(identify.body ?? '');
  const raw = challenge.headers?.['www-authenticate'];
  const values = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  const schemes = values
    .flatMap((v) => v.split(/,(?=\s*[A-Za-z][A-Za-z0-9-]*(?:\s|$))/))
    .map((v) => v.trim().split(/\s+/)[0]!)
    .filter(Boolean);
  return {
    identify,
    challenge,
    schemes,
    ...(isIdentify ? { vendor: tag('ProductVendor'), productVersion: tag('ProductVersion'), protocolVersion: tag('ProtocolVersion') } : {}),
  };
}

/**
 * The KDC exchange over the network (RFC 4120 7.2.1 UDP, 7.2.2 TCP), outside auth/: the Kerberos initiator takes it
 * as an injected `KdcSend` (src/auth/kerberos/client.ts). TCP (4-byte big-endian length prefix) and UDP, KDCs from
 * krb5.conf, explicit flags (`kdc` option / WINRM_TS_KDC), or DNS SRV (_kerberos._tcp.REALM / _kerberos._udp.REALM) when
 * dns_lookup_kdc is on. UDP replies KRB_ERR_RESPONSE_TOO_BIG -> retry over TCP. Every failure is a KerberosError.
 */
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { promises as dns } from 'node:dns';
import { KerberosError } from '../errors.js';
import { debug } from '../util/debug.js';
import { configBool, kdcsForRealm, loadKrb5Config, type Krb5Config } from '../auth/kerberos/config.js';
import { messageTag, decodeKrbError } from '../auth/kerberos/messages.js';
import type { KdcSend } from '../auth/kerberos/client.js';

export type { KdcSend };

export interface KdcTransportOptions {
  config?: Krb5Config;
  /** explicit KDCs ("host[:port]"), tried before the configuration */
  kdcs?: string[];
  timeoutMs?: number;
  /** messages longer than this go over TCP (krb5.conf udp_preference_limit, default 1465) */
  udpPreferenceLimit?: number;
  /**
   * DNS servers ("ip[:port]") for the SRV lookups and their targets' addresses instead of the system resolver
   * (default: env WINRM_TS_DNS_SERVER, comma-separated)
   */
  dnsServers?: string[];
}

const MAX_REPLY = 1 << 20;

function tcpExchange(host: string, port: number, req: Uint8Array, timeoutMs: number, signal?: AbortSignal): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    const chunks: Buffer[] = [];
    let got = 0;
    const done = (err?: Error, v?: Uint8Array) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      sock.destroy();
      if (err) reject(err);
      else resolve(v!);
    };
    const onAbort = () => done(new KerberosError('KDC request aborted'));
    signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(
      () => done(new KerberosError(`the KDC ${host}:${port} did not answer within ${timeoutMs} ms (TCP)`)),
      timeoutMs,
    );
    sock.on('connect', () => {
      const len = Buffer.alloc(4);
      len.writeUInt32BE(req.length);
      sock.write(Buffer.concat([len, Buffer.from(req)]));
    });
    sock.on('data', (d) => {
      chunks.push(d);
      got += d.length;
      if (got >= 4) {
        const all = Buffer.concat(chunks);
        const n = all.readUInt32BE(0);
        if (n > MAX_REPLY) {
          done(new KerberosError(`the KDC ${host}:${port} announced a ${n}-byte reply: refused`));
          return;
        }
        if (all.length >= 4 + n) done(undefined, new Uint8Array(all.subarray(4, 4 + n)));
      }
    });
    sock.on('error', (e) =>
      done(new KerberosError(`cannot reach the KDC ${host}:${port} over TCP: ${(e as NodeJS.ErrnoException).code ?? e.message}`)),
    );
    sock.on('close', () => done(new KerberosError(`the KDC ${host}:${port} closed the TCP connection without a complete reply`)));
  });
}

function udpExchange(host: string, port: number, req: Uint8Array, timeoutMs: number, signal?: AbortSignal): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
    const done = (err?: Error, v?: Uint8Array) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      try {
        sock.close();
      } catch {
        /* closed */
      }
      if (err) reject(err);
      else resolve(v!);
    };
    const onAbort = () => done(new KerberosError('KDC request aborted'));
    signal?.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(
      () => done(new KerberosError(`the KDC ${host}:${port} did not answer within ${timeoutMs} ms (UDP)`)),
      timeoutMs,
    );
    sock.on('message', (m) => done(undefined, new Uint8Array(m)));
    sock.on('error', (e) =>
      done(new KerberosError(`cannot reach the KDC ${host}:${port} over UDP: ${(e as NodeJS.ErrnoException).code ?? e.message}`)),
    );
    sock.send(req, port, host);
  });
}

type Target = { host: string; port: number; proto?: 'tcp' | 'udp' };

/** _kerberos._tcp.REALM and _kerberos._udp.REALM (RFC 4120 7.2.3.2), by priority then weight. */
async function srvKdcs(realm: string, servers: string[]): Promise<Target[]> {
  const r = new dns.Resolver({ timeout: 2000, tries: 2 });
  if (servers.length) r.setServers(servers);
  const out: Target[] = [];
  for (const proto of ['tcp', 'udp'] as const) {
    try {
      const recs = await r.resolveSrv(`_kerberos._${proto}.${realm}`);
      recs.sort((a, b) => a.priority - b.priority || b.weight - a.weight);
      for (const rec of recs) {
        if (!rec.name || rec.name === '.') continue; // "service decidedly not available"
        let host = rec.name;
        if (servers.length && !net.isIP(host)) {
          // the target's address from the same DNS server (the system resolver does not know it)
          host = (await r.resolve4(host).catch(() => r.resolve6(host).catch(() => [] as string[])))[0] ?? host;
        }
        out.push({ host, port: rec.port, proto });
      }
    } catch (e) {
      debug('kerberos: no SRV records _kerberos._%s.%s: %s', proto, realm, (e as NodeJS.ErrnoException).code ?? (e as Error).message);
    }
  }
  return out;
}

/** A KdcSend over the network: tries each KDC of the realm in turn. */
export function networkKdc(o: KdcTransportOptions = {}): KdcSend {
  return async (realm, req, opts) => {
    const cfg = o.config ?? loadKrb5Config();
    const timeoutMs = o.timeoutMs ?? 10_000;
    const limit = o.udpPreferenceLimit ?? (cfg.libdefaults.udp_preference_limit ? Number(cfg.libdefaults.udp_preference_limit) : 1465);
    const explicit = (o.kdcs ?? (process.env.WINRM_TS_KDC ? process.env.WINRM_TS_KDC.split(',') : [])).map((s) => {
      const m = /^(?:\[([^\]]+)\]|([^:]+))(?::(\d+))?$/.exec(s.trim());
      return { host: m?.[1] ?? m?.[2] ?? s, port: m?.[3] ? Number(m[3]) : 88 };
    });
    let targets: Target[] = [...explicit, ...kdcsForRealm(cfg, realm)];
    const dnsServers = o.dnsServers ?? (process.env.WINRM_TS_DNS_SERVER ? process.env.WINRM_TS_DNS_SERVER.split(',') : []);
    if (!targets.length && configBool(cfg.libdefaults.dns_lookup_kdc, true)) targets = await srvKdcs(realm, dnsServers);
    if (!targets.length) {
      throw new KerberosError(
        `no KDC known for realm ${realm}: add "${realm} = { kdc = host }" under [realms] in krb5.conf (KRB5_CONFIG), ` +
          `publish _kerberos._tcp.${realm} SRV records, or set WINRM_TS_KDC=host[:port]`,
      );
    }
    const errors: string[] = [];
    for (const t of targets) {
      const useTcp = t.proto === 'tcp' || (t.proto !== 'udp' && req.length > limit);
      try {
        debug('kerberos: %s request of %d bytes to KDC %s:%d for %s', useTcp ? 'TCP' : 'UDP', req.length, t.host, t.port, realm);
        let rep: Uint8Array;
        if (useTcp) rep = await tcpExchange(t.host, t.port, req, timeoutMs, opts?.signal);
        else {
          // UDP first with a short wait (no answer is the only failure signal), then TCP on the same KDC
          try {
            rep = await udpExchange(t.host, t.port, req, Math.min(timeoutMs, 2000), opts?.signal);
          } catch (e) {
            if (opts?.signal?.aborted || t.proto === 'udp') throw e;
            rep = await tcpExchange(t.host, t.port, req, timeoutMs, opts?.signal);
          }
        }
        if (!useTcp && messageTag(rep) === 30) {
          try {
            if (decodeKrbError(rep).errorCode === 52) rep = await tcpExchange(t.host, t.port, req, timeoutMs, opts?.signal);
          } catch {
            /* let the caller decode it */
          }
        }
        return rep;
      } catch (e) {
        if (opts?.signal?.aborted) throw e;
        errors.push((e as Error).message);
      }
    }
    throw new KerberosError(
      `no KDC of realm ${realm} is reachable: ${errors.join('; ')}. Check the kdc lines in krb5.conf (KRB5_CONFIG) ` +
        `and that port 88 is open`,
    );
  };
}

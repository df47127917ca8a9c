/**
 * A fault-injecting HTTP proxy for tests (loopback only): sits between the client and a plain-HTTP endpoint and
 * breaks connections in the ways a network does. Each client connection gets its own upstream connection.
 *
 *   const p = await startFaultProxy(upstreamPort, { mode: 'rst-after-forward', trigger: '/Command' });
 *   ... connect({ host: `127.0.0.1:${p.port}`, ... }) ...;   p.fired; p.count('/Command'); await p.close();
 *
 * Modes:
 *  - 'pass': forward everything;
 *  - 'rst-after-forward': the nth request whose body contains `trigger` is forwarded, the upstream answers, and the
 *    client connection is reset (TCP RST) instead of relaying the answer (the server did the work; the client never
 *    learns the outcome);
 *  - 'idle-close': relay everything, and close (FIN) a client connection idle for `idleMs` (a server's keep-alive
 *    timeout), also answering with `Keep-Alive: timeout=` unless `announce` is false.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type FaultMode = 'pass' | 'rst-after-forward' | 'idle-close';
export interface FaultProxyOptions {
  mode: FaultMode;
  trigger?: string;
  nth?: number;
  idleMs?: number;
  announce?: boolean;
  /** 'rst-after-forward': awaited between the upstream's answer and the reset (e.g. until the command has run) */
  beforeReset?: () => Promise<void>;
}
export interface FaultProxy {
  port: number;
  /** whether the fault was injected */
  readonly fired: boolean;
  /** requests seen whose body contained `needle` */
  count(needle: string): number;
  /** client connections accepted */
  readonly connections: number;
  close(): Promise<void>;
}

export async function startFaultProxy(upstreamPort: number, o: FaultProxyOptions): Promise<FaultProxy> {
  const bodies: string[] = [];
  let hits = 0;
  let fired = false;
  let connections = 0;
  const sockets = new Set<Socket>();
  const idleArm = new WeakMap<Socket, () => void>();
  const srv = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const text = body.toString('latin1');
    bodies.push(text);
    const sock = req.socket;
    const match = !!o.trigger && text.includes(o.trigger);
    const trigger = o.mode === 'rst-after-forward' && match && !fired && ++hits === (o.nth ?? 1);
    if (trigger) fired = true;
    const agent = agentFor(sock);
    const up = http.request(
      { host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers: req.headers, agent },
      async (ur) => {
        const uc: Buffer[] = [];
        for await (const c of ur) uc.push(c as Buffer);
        const ub = Buffer.concat(uc);
        if (trigger) {
          await o.beforeReset?.().catch(() => undefined);
          sock.resetAndDestroy();
          return;
        }
        const h: http.OutgoingHttpHeaders = { ...ur.headers };
        delete h['transfer-encoding'];
        delete h['keep-alive'];
        delete h.connection;
        h['content-length'] = String(ub.length);
        // Node announces its keep-alive timeout; a server that does not (Windows' http.sys) is played with `max=` only
        if (o.mode === 'idle-close')
          h['keep-alive'] = o.announce === false ? 'max=1000' : `timeout=${Math.max(1, Math.round((o.idleMs ?? 1000) / 1000))}`;
        res.writeHead(ur.statusCode ?? 502, h);
        res.end(ub, () => idleArm.get(sock)?.());
      },
    );
    up.on('error', () => sock.resetAndDestroy());
    up.end(body);
  });
  const agents = new WeakMap<Socket, http.Agent>();
  const agentFor = (sock: Socket): http.Agent => {
    let a = agents.get(sock);
    if (!a) {
      a = new http.Agent({ keepAlive: true, maxSockets: 1 });
      agents.set(sock, a);
      const ag = a;
      sock.once('close', () => ag.destroy());
    }
    return a;
  };
  srv.on('connection', (s: Socket) => {
    connections++;
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
    if (o.mode !== 'idle-close') return;
    // a server's keep-alive timer: a connection idle (no request in flight) for idleMs is closed with a FIN
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => s.end(), o.idleMs ?? 1000);
    };
    s.on('data', () => clearTimeout(timer));
    s.on('close', () => clearTimeout(timer));
    idleArm.set(s, arm);
    arm();
  });
  srv.keepAliveTimeout = 120_000;
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  return {
    port: (srv.address() as AddressInfo).port,
    get fired() {
      return fired;
    },
    get connections() {
      return connections;
    },
    count: (needle) => bodies.filter((b) => b.includes(needle)).length,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        srv.close(() => r());
      }),
  };
}

/**
 * The logon-session credential broker (LSASS in miniature). A logon session that holds the user's credentials
 * (Basic, CredSSP: interactive logons) gets, the first time a process is started for it, a broker listening on a
 * Unix socket in a private 0700 directory; its children get WINRM_TS_LOGON_BROKER (the socket path) and
 * WINRM_TS_LOGON_TOKEN (a random per-session capability) — never the password. The broker runs initiator contexts
 * (negotiate, ntlm, credssp) inside the endpoint with the stored credentials and exposes only
 * open(mechanism, target) -> step(token) -> wrap/unwrap (src/broker/wire.ts has the wire codec, src/broker/client.ts the client).
 * Network logons (NTLM; Kerberos without delegation) get no broker: their children connect onward anonymously and
 * meet NT AUTHORITY\ANONYMOUS LOGON, as on Windows.
 *
 * Bounds: MAX_CONTEXTS connections per session, frames of BROKER_MAX_JSON / BROKER_MAX_BINARY, an open timeout,
 * an idle timeout, MAX_STEPS per context, one request at a time per connection. Torn down with the session
 * (`session.onClose`) or the endpoint (`closeAllBrokers`).
 *
 * Ownership: the socket belongs to the logon's local account (mode 0600) and lives in a directory of its own
 * (`winrm-ts-broker-<endpoint pid>-*`): 0700 when the logon runs as the endpoint's account; owned by root, group =
 * the account's group, 0710 when it runs as another account (only that account reaches the socket, nobody lists the
 * directory, and root never has to remove a tree another account could change). Each use (logon, mechanism,
 * target) is written to the endpoint log. Directories left by an endpoint that died are removed at the next start
 * (`removeStaleRunFiles`).
 *
 * Every child (with or without credentials) also gets a shim directory first on PATH with Windows-like helpers:
 * `whoami` (prints `example\alice` for the session's user) and `winrm-ts` (this same CLI), so a script on hostA can
 * run `winrm-ts run -H hostB -- whoami`.
 */
import net from 'node:net';
import { chmodSync, chownSync, existsSync, lstatSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { AuthContext, Credentials } from '../auth/types.js';
import type { InitiatorOptions } from '../auth/registry.js';
import {
  BROKER_MAX_JSON,
  BROKER_SOCKET_ENV,
  BROKER_TOKEN_ENV,
  BROKERED_MECHANISMS,
  BrokerFrameDecoder,
  bindingsFromWire,
  encodeBrokerFrame,
  errorToWire,
  type BrokerMessage,
} from '../broker/wire.js';
import { AuthError, InvalidArgumentError, LocalProtocolError } from '../errors.js';
import { debug } from '../util/debug.js';
import type { LogonSession } from './logon.js';
import { accountOf, accountPath } from './spawn.js';

/** Concurrent security contexts (socket connections) per logon session. */
export const MAX_CONTEXTS = 16;
/** Steps per context (NTLM needs 2-3, CredSSP ~6). */
export const MAX_STEPS = 16;
const OPEN_TIMEOUT_MS = 10_000;
const IDLE_TIMEOUT_MS = 15 * 60_000;

/** Creates an initiator (src/auth/registry.ts createInitiator), injected by the endpoint. */
export type InitiatorFactory = (mechanism: string, creds: Credentials, opts: InitiatorOptions) => AuthContext;

export interface BrokerHandle {
  socketPath: string;
  token: string;
  /** security contexts currently open */
  readonly contexts: number;
  close(): Promise<void>;
}

/**
 * Start a broker for one logon session that holds credentials. `log` gets one line per context (never secrets).
 * The password is read from the session when a context is opened and handed only to the initiator.
 */
export async function startBroker(session: LogonSession, factory: InitiatorFactory, log?: (line: string) => void): Promise<BrokerHandle> {
  if (!session.hasCredentials) throw new LocalProtocolError('a network logon session holds no credentials: no broker');
  const account = accountOf(session);
  const who = `${session.name} (logon ${session.id.slice(0, 8)}, account ${account.name})`;
  const say = (line: string) => (log ?? session.log)?.(`${new Date().toISOString()} broker: ${line}`);
  const dir = mkdtempSync(join(tmpdir(), `winrm-ts-broker-${process.pid}-`)); // mode 0700
  const socketPath = join(dir, 'lsa');
  const token = randomBytes(32).toString('base64url');
  const tokenBuf = Buffer.from(token);
  const sockets = new Set<net.Socket>(); // connections that hold (or may open) a context
  const all = new Set<net.Socket>();
  const server = net.createServer({ pauseOnConnect: false }, (sock) => {
    all.add(sock);
    sock.on('close', () => all.delete(sock));
    sock.on('error', () => sock.destroy());
    if (sockets.size >= MAX_CONTEXTS) {
      sock.end(
        encodeBrokerFrame(
          errorToWire(new InvalidArgumentError(`too many security contexts open in this logon session (the limit is ${MAX_CONTEXTS})`)),
        ),
      );
      sock.setTimeout(1000, () => sock.destroy());
      return;
    }
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    serveConnection(sock);
  });
  server.maxConnections = MAX_CONTEXTS + 4;

  function serveConnection(sock: net.Socket): void {
    const decoder = new BrokerFrameDecoder();
    let ctx: AuthContext | undefined;
    let steps = 0;
    let busy = false;
    let refused = false;
    const queue: Array<{ msg: BrokerMessage; bin: Uint8Array }> = [];
    sock.setTimeout(OPEN_TIMEOUT_MS, () => sock.destroy());
    const send = (msg: BrokerMessage, bin?: Uint8Array) => {
      if (!sock.destroyed) sock.write(encodeBrokerFrame(msg, bin));
    };

    const handle = async (msg: BrokerMessage, bin: Uint8Array): Promise<void> => {
      if (!ctx) {
        // the first frame must be a valid open with the capability
        const given = Buffer.from(typeof msg.token === 'string' ? msg.token : '');
        if (msg.op !== 'open' || given.length !== tokenBuf.length || !timingSafeEqual(given, tokenBuf)) {
          say(`${who}: refused a connection without the session's capability`);
          sock.end(
            encodeBrokerFrame(
              errorToWire(
                new AuthError(
                  'the credential broker refused the request: the capability (WINRM_TS_LOGON_TOKEN) does not match this logon session',
                ),
              ),
            ),
          );
          sock.setTimeout(1000, () => sock.destroy());
          queue.length = 0;
          refused = true;
          return;
        }
        const mechanism = String(msg.mechanism ?? '').toLowerCase();
        if (!BROKERED_MECHANISMS[mechanism])
          throw new InvalidArgumentError(
            `the credential broker cannot do '${mechanism}' (it can: ${Object.keys(BROKERED_MECHANISMS).join(', ')})`,
          );
        const targetHost = String(msg.targetHost ?? '');
        if (!targetHost || targetHost.length > 255) throw new InvalidArgumentError('the credential broker needs the target host');
        const delegateTo = Array.isArray(msg.delegateTo)
          ? msg.delegateTo.filter((x): x is string => typeof x === 'string').slice(0, 64)
          : undefined;
        const password = session.identity.password;
        if (password === undefined) throw new LocalProtocolError('the logon session no longer holds credentials');
        ctx = factory(
          mechanism,
          { username: session.name, password },
          {
            targetHost,
            spn: typeof msg.spn === 'string' ? msg.spn : undefined,
            delegateTo,
            credsspMinVersion: typeof msg.credsspMinVersion === 'number' ? msg.credsspMinVersion : undefined,
            tls: msg.tls === true,
          },
        );
        sock.setTimeout(IDLE_TIMEOUT_MS, () => sock.destroy());
        say(
          `${who}: ${mechanism} context for ${targetHost}${
            delegateTo?.length ? ` (delegate ` + `to ${delegateTo.join(',')})` : ''
          }; the password stays in the endpoint`,
        );
        send({ ok: true });
        return;
      }
      switch (msg.op) {
        case 'step': {
          if (++steps > MAX_STEPS) throw new InvalidArgumentError(`too many authentication steps (${MAX_STEPS})`);
          const out = await ctx.step(bin.length ? bin : undefined, { channelBindings: bindingsFromWire(msg.cb) });
          send({ ok: true, complete: ctx.complete, hasToken: out !== undefined }, out);
          return;
        }
        case 'wrap': {
          const w = await ctx.wrapWinrm(bin);
          const all = new Uint8Array(w.header.length + w.data.length);
          all.set(w.header);
          all.set(w.data, w.header.length);
          send({ ok: true, headerLength: w.header.length, ...(w.padding !== undefined ? { padding: w.padding } : {}) }, all);
          return;
        }
        case 'unwrap': {
          const hl = Number(msg.headerLength);
          if (!Number.isInteger(hl) || hl < 0 || hl > bin.length) throw new InvalidArgumentError('unwrap: bad headerLength');
          send({ ok: true }, await ctx.unwrapWinrm(bin.subarray(0, hl), bin.subarray(hl)));
          return;
        }
        default:
          sock.destroy();
      }
    };

    const pump = async () => {
      if (busy) return;
      busy = true;
      try {
        for (let f = queue.shift(); f && !sock.destroyed && !refused; f = queue.shift()) {
          try {
            await handle(f.msg, f.bin);
          } catch (e) {
            send(errorToWire(e));
          }
        }
      } finally {
        busy = false;
      }
    };

    sock.on('data', (d: Buffer) => {
      if (refused) return;
      decoder.push(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
      // before the capability is checked, nothing larger than an open frame is buffered
      if (!ctx && decoder.pending > BROKER_MAX_JSON + 8 + 1024) {
        sock.destroy();
        return;
      }
      try {
        for (let f = decoder.next(); f; f = decoder.next()) queue.push(f);
      } catch {
        sock.destroy();
        return;
      }
      if (queue.length > 4) {
        sock.destroy();
        return;
      } // one request at a time: a client that floods is dropped
      void pump();
    });
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => {
      server.off('error', reject);
      resolve();
    });
  });
  try {
    chmodSync(socketPath, 0o600);
    if (!account.own) {
      // the logon's account owns the socket; the directory stays root's, reachable only through the account's group
      chownSync(socketPath, account.uid, account.gid);
      chownSync(dir, 0, account.gid);
      chmodSync(dir, 0o710);
    }
  } catch (e) {
    server.close();
    rmSync(dir, { recursive: true, force: true });
    throw new LocalProtocolError(`cannot give the credential broker's socket to ${account.name}: ${(e as Error).message}`);
  }
  debug('broker for %s at %s', session.name, socketPath);
  say(`${who}: started`);
  let closed = false;
  const handle: BrokerHandle = {
    socketPath,
    token,
    get contexts() {
      return sockets.size;
    },
    close: async () => {
      if (closed) return;
      closed = true;
      live.delete(handle);
      for (const s of all) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      rmSync(dir, { recursive: true, force: true });
      liveDirs.delete(dir);
    },
  };
  live.add(handle);
  liveDirs.add(dir);
  return handle;
}

const live = new Set<BrokerHandle>();
/** Socket directories to remove even if the endpoint exits without closing its sessions. */
const liveDirs = new Set<string>();
process.once('exit', () => {
  for (const d of liveDirs) {
    try {
      rmSync(d, { recursive: true, force: true });
    } catch {
      /* best effort */
    }
  }
});
const bySession = new WeakMap<LogonSession, Promise<BrokerHandle>>();

/** Close every broker of this process (the endpoint is stopping). */
export async function closeAllBrokers(): Promise<void> {
  await Promise.all([...live].map((b) => b.close()));
}

/** The broker of a session, started on first use and closed with the session. */
export function brokerFor(session: LogonSession, factory: InitiatorFactory, log?: (line: string) => void): Promise<BrokerHandle> {
  let b = bySession.get(session);
  if (!b) {
    b = startBroker(session, factory, log);
    bySession.set(session, b);
    session.onClose(async () => {
      await (await b!).close();
    });
  }
  return b;
}

// ------------------------------------------------------------------------------------------------------------
// The shim directory: Windows-like helpers on the child's PATH
// ------------------------------------------------------------------------------------------------------------

let shimDir: string | undefined;

/** How to run this same CLI: node (+ the tsx loader when running from source) + the CLI entry. */
export function cliCommand(): string[] {
  const here = dirname(fileURLToPath(import.meta.url)); // src/server or dist/src/server
  const js = join(here, '..', 'cli', 'main.js');
  if (existsSync(js)) return [process.execPath, js];
  const ts = join(here, '..', 'cli', 'main.ts');
  let loader = 'tsx';
  try {
    loader = import.meta.resolve('tsx');
  } catch {
    /* node resolves it from the cwd */
  }
  return [process.execPath, '--import', loader, ts];
}

const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Create (once per process) the shim directory (readable by every account); removed when the process exits. */
export function shimDirectory(): string {
  if (shimDir && existsSync(shimDir)) return shimDir;
  const dir = mkdtempSync(join(tmpdir(), `winrm-ts-shims-${process.pid}-`));
  chmodSync(dir, 0o755);
  // whoami: DOMAIN\user of the logon session, lower-case like Windows
  writeFileSync(
    join(dir, 'whoami'),
    '#!/bin/sh\n' +
      'if [ -n "$USERDOMAIN" ]; then printf \'%s\\\\%s\\n\' "$USERDOMAIN" "$USERNAME"; else printf \'%s\\n\' ' +
      "\"$USERNAME\"; fi | tr '[:upper:]' '[:lower:]'\n",
    { mode: 0o755 },
  );
  writeFileSync(join(dir, 'winrm-ts'), `#!/bin/sh\nexec ${cliCommand().map(sq).join(' ')} "$@"\n`, { mode: 0o755 });
  shimDir = dir;
  process.once('exit', () => {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      /* best effort */
    }
  });
  return dir;
}

/**
 * The endpoint's child-env hook (src/server/logon.ts registerChildEnvHook): PATH with the shims first for every
 * session; the broker's socket and capability for sessions that hold credentials.
 */
export function logonBrokerEnv(factory: InitiatorFactory, log?: (line: string) => void) {
  return async (session: LogonSession): Promise<Record<string, string>> => {
    const env: Record<string, string> = { PATH: `${shimDirectory()}:${accountPath(accountOf(session))}` };
    if (!session.hasCredentials || session.closed) return env;
    const b = await brokerFor(session, factory, log);
    env[BROKER_SOCKET_ENV] = b.socketPath;
    env[BROKER_TOKEN_ENV] = b.token;
    return env;
  };
}

/**
 * Remove what an endpoint that died left in the temp directory: `winrm-ts-broker-<pid>-*` and
 * `winrm-ts-shims-<pid>-*` of processes that no longer run, and unnamed broker directories (older versions) whose
 * socket nobody listens on. Only entries owned by this account (or by root when root) are touched.
 */
export async function removeStaleRunFiles(dir = tmpdir()): Promise<string[]> {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return removed;
  }
  const me = typeof process.getuid === 'function' ? process.getuid() : -1;
  for (const name of names) {
    const m = /^winrm-ts-(broker|shims)-(?:(\d+)-)?[A-Za-z0-9]{6}$/.exec(name);
    if (!m) continue;
    const p = join(dir, name);
    try {
      const st = lstatSync(p);
      if (!st.isDirectory() || st.uid !== me) continue;
      if (m[2] !== undefined) {
        if (Number(m[2]) === process.pid || alive(Number(m[2]))) continue;
      } else if (m[1] === 'broker') {
        if (await listening(join(p, 'lsa'))) continue;
      } else continue;
      rmSync(p, { recursive: true, force: true });
      removed.push(p);
    } catch {
      /* gone meanwhile, or not ours */
    }
  }
  return removed;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function listening(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(socketPath);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
    s.setTimeout(1000, () => {
      s.destroy();
      resolve(true);
    });
  });
}

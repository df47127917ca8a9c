/**
 * The spawn helper: process creation off the endpoint's event loop.
 *
 * Node's `child_process.spawn` forks the whole endpoint and waits, synchronously, until the child has exec'd: on a
 * busy machine that blocks the event loop for milliseconds per command (the fork's page-table copy, and the
 * copy-on-write faults the endpoint takes afterwards cost ~6 ms of CPU per process even for a small Node process).
 * Here a small long-lived Python 3 process (standard library only: src/server/spawn-helper-source.ts) started
 * next to the endpoint creates the processes instead, with vfork (~0.5 ms), and:
 *
 *  - the process gets the argv, working directory and environment the endpoint computed (spawn.ts: the logon's
 *    account through setpriv, the clean environment), in a new session (setsid: its own process group), exactly
 *    what `spawn(..., { detached: true })` did;
 *  - its stdin/stdout/stderr are unix-socket connections to the endpoint (a listening socket in a private 0700
 *    directory; each connection announces the spawn's random 128-bit token), so the endpoint reads and writes the
 *    process directly with Node's own back-pressure: nothing is relayed;
 *  - its pid and exit status come back over the helper's stdout; signals are sent by the endpoint itself to the
 *    process group, as before.
 *
 * The helper runs as the endpoint's own account (it is a part of the endpoint, nothing crosses an account
 * boundary in it); a process for another account is still started through setpriv. When the endpoint goes away
 * (the helper's stdin ends) the helper kills every process group it started that still runs. If the helper dies,
 * the processes it started are killed and reported as killed, and the next spawn starts a new helper.
 *
 * No python3 (or WINRM_TS_SPAWN_HELPER=off): `spawnViaHelper` is not available and spawn.ts uses Node's spawn.
 * WINRM_TS_SPAWN_HELPER=/path/to/python3 names the interpreter.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { constants, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { debuglog } from 'node:util';
import { HELPER_SOURCE } from './spawn-helper-source.js';

const debug = debuglog('winrm');
const HEADER = 33; // 32 hex characters of token + the stdio index

/** What the endpoint uses of a started process (a ChildProcess has all of it). */
export interface LogonChild extends EventEmitter {
  readonly pid?: number | undefined;
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  kill(signal?: NodeJS.Signals | number): boolean;
}

const SIGNAL_NAMES = new Map<number, NodeJS.Signals>(
  Object.entries(constants.signals).map(([name, n]) => [n, name as NodeJS.Signals] as [number, NodeJS.Signals]),
);

/** A process started by the helper: a ChildProcess look-alike ('exit' and 'close' with (code, signal)). */
class HelperChild extends EventEmitter implements LogonChild {
  pid: number;
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  killed = false;
  private exited = false;
  private openStreams = 2;
  constructor(
    pid: number,
    readonly stdin: Socket,
    readonly stdout: Socket,
    readonly stderr: Socket,
  ) {
    super();
    this.pid = pid;
    // the process writing to its stdin socket (which it may, it is a socket) is not read: only the endpoint writes
    stdin.on('error', () => undefined);
    // a socket may have closed already (a quick process) while the endpoint waited for the pid or another socket
    for (const s of [stdout, stderr]) {
      if (s.closed) this.openStreams--;
      else s.once('close', () => this.streamClosed());
    }
  }

  kill(signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
    if (this.exited) return false;
    try {
      process.kill(this.pid, signal);
      this.killed = true;
      return true;
    } catch {
      return false;
    }
  }

  /** The exit status arrived (from the helper). As Node's ChildProcess: stdin is destroyed, 'exit', then 'close'
   *  once stdout and stderr have closed too. */
  exit(code: number | null, signal: NodeJS.Signals | null): void {
    if (this.exited) return;
    this.exited = true;
    this.exitCode = code;
    this.signalCode = signal;
    this.stdin.destroy();
    this.emit('exit', code, signal);
    this.maybeClose();
  }

  private streamClosed(): void {
    this.openStreams--;
    this.maybeClose();
  }

  private maybeClose(): void {
    if (this.exited && this.openStreams === 0) this.emit('close', this.exitCode, this.signalCode);
  }
}

interface Pending {
  resolve: (c: HelperChild) => void;
  reject: (e: Error) => void;
  socks: Array<Socket | undefined>;
  pid?: number;
  child?: HelperChild;
  /** an exit reported before the child object existed */
  exit?: [number | null, NodeJS.Signals | null];
}

class SpawnHelper {
  private readonly pending = new Map<string, Pending>();
  private readonly running = new Map<string, HelperChild>();
  private proc: ChildProcess | undefined;
  private server: Server | undefined;
  private dir: string | undefined;
  private starting: Promise<void> | undefined;
  private lineBuf = '';
  /** the helper could not be started: spawn.ts uses Node's spawn from now on */
  failed = false;
  /** processes started, helper processes started (figures for tests and the log) */
  spawned = 0;
  starts = 0;

  constructor(private readonly python: string) {}

  async spawn(argv: readonly string[], cwd: string | undefined, env: Record<string, string>): Promise<HelperChild> {
    await this.ensure();
    const token = randomBytes(16).toString('hex');
    this.spawned++;
    const done = new Promise<HelperChild>((resolve, reject) => {
      this.pending.set(token, { resolve, reject, socks: [undefined, undefined, undefined] });
    });
    this.refresh();
    this.proc!.stdin!.write(JSON.stringify({ t: token, a: argv, c: cwd ?? null, e: env }) + '\n');
    return done;
  }

  /** The helper process runs (started if needed). */
  ensure(): Promise<void> {
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) return Promise.resolve();
    return (this.starting ??= this.start().finally(() => (this.starting = undefined)));
  }

  private async start(): Promise<void> {
    if (!this.server) {
      this.dir = mkdtempSync(join(tmpdir(), 'winrm-ts-spawn-')); // 0700: only this account can connect
      const path = join(this.dir, 's');
      const server = createServer((s) => this.accept(s));
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(path, () => resolve());
      });
      server.unref();
      this.server = server;
      process.once('exit', () => this.dispose());
    }
    const proc = spawn(this.python, ['-I', '-S', '-X', 'utf8', '-c', HELPER_SOURCE, join(this.dir!, 's')], {
      stdio: ['pipe', 'pipe', 'inherit'],
      detached: true, // no terminal signals: it ends when its stdin does
      env: { PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8' },
    });
    this.proc = proc;
    this.starts++;
    this.lineBuf = '';
    await new Promise<void>((resolve, reject) => {
      proc.once('error', reject);
      proc.once('spawn', () => resolve());
    });
    proc.stdin!.on('error', () => undefined);
    proc.stdout!.setEncoding('utf8').on('data', (d: string) => this.onControl(d));
    proc.once('exit', (code, sig) => this.onHelperExit(proc, code, sig));
    proc.unref();
    this.refresh();
    debug(`spawn helper ${proc.pid} started (${this.python})`);
  }

  /** Keep the event loop alive only while something waits for the helper. */
  private refresh(): void {
    const busy = this.pending.size > 0 || this.running.size > 0;
    const p = this.proc;
    if (!p) return;
    for (const s of [p.stdout, p.stdin] as Array<{ ref?: () => void; unref?: () => void } | null>) {
      if (busy) s?.ref?.();
      else s?.unref?.();
    }
  }

  private accept(s: Socket): void {
    s.on('error', () => undefined);
    const onReadable = (): void => {
      const head = s.read(HEADER) as Buffer | null;
      if (head === null) return;
      s.off('readable', onReadable);
      s.off('end', onEnd);
      const token = head.toString('latin1', 0, 32);
      const i = head[32]! - 48;
      const p = this.pending.get(token);
      if (!p || i < 0 || i > 2 || p.socks[i]) {
        s.destroy();
        return;
      }
      p.socks[i] = s;
      this.complete(token, p);
    };
    const onEnd = (): void => {
      s.destroy(); // closed before announcing itself
    };
    s.on('readable', onReadable);
    s.once('end', onEnd);
  }

  private onControl(d: string): void {
    this.lineBuf += d;
    let nl: number;
    while ((nl = this.lineBuf.indexOf('\n')) >= 0) {
      const line = this.lineBuf.slice(0, nl);
      this.lineBuf = this.lineBuf.slice(nl + 1);
      const [kind, token, a, b] = line.split(' ');
      if (kind === 's' && token) {
        const p = this.pending.get(token);
        if (p) {
          p.pid = Number(a);
          this.complete(token, p);
        }
      } else if (kind === 'e' && token) {
        const p = this.pending.get(token);
        if (p) {
          this.pending.delete(token);
          for (const s of p.socks) s?.destroy();
          p.reject(Object.assign(new Error(`spawn ${a}`), { code: a }));
        }
      } else if (kind === 'x' && token) {
        const code = Number(a);
        const sig = Number(b) > 0 ? (SIGNAL_NAMES.get(Number(b)) ?? 'SIGKILL') : null;
        const exit: [number | null, NodeJS.Signals | null] = sig ? [null, sig] : [code, null];
        const c = this.running.get(token);
        if (c) {
          this.running.delete(token);
          c.exit(...exit);
        } else {
          const p = this.pending.get(token);
          if (p) p.exit = exit;
        }
      }
    }
    this.refresh();
  }

  /** The pid and all three sockets are there: the child exists. */
  private complete(token: string, p: Pending): void {
    if (p.pid === undefined || !p.socks[0] || !p.socks[1] || !p.socks[2]) return;
    this.pending.delete(token);
    const c = new HelperChild(p.pid, p.socks[0], p.socks[1], p.socks[2]);
    if (p.exit) {
      const exit = p.exit;
      // after the caller's continuation has attached its listeners
      setImmediate(() => c.exit(...exit));
    } else this.running.set(token, c);
    this.refresh();
    p.resolve(c);
  }

  private onHelperExit(proc: ChildProcess, code: number | null, sig: NodeJS.Signals | null): void {
    if (this.proc === proc) this.proc = undefined;
    debug(`spawn helper ${proc.pid} exited (${code ?? sig})`);
    const err = Object.assign(new Error(`the spawn helper exited (${code ?? sig})`), { code: 'EHELPER' });
    for (const [token, p] of this.pending) {
      this.pending.delete(token);
      for (const s of p.socks) s?.destroy();
      if (p.pid) killTree(p.pid);
      p.reject(err);
    }
    for (const [token, c] of this.running) {
      this.running.delete(token);
      killTree(c.pid);
      c.exit(null, 'SIGKILL');
    }
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  dispose(): void {
    try {
      this.proc?.stdin?.end();
    } catch {
      /* gone */
    }
    this.server?.close();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
  }
}

function killTree(pgid: number): void {
  try {
    process.kill(-pgid, 'SIGKILL');
  } catch {
    /* gone */
  }
}

let helper: SpawnHelper | undefined;
let resolved = false;

/** The interpreter for the helper: WINRM_TS_SPAWN_HELPER (a path, or off), else python3 in the usual places. */
function findPython(): string | undefined {
  const v = process.env.WINRM_TS_SPAWN_HELPER;
  if (v && /^(off|0|false|no|none)$/i.test(v)) return undefined;
  if (v) return v;
  // the system's interpreter first (a version manager's shim is a shell script: slower to start)
  for (const p of ['/usr/bin/python3', '/usr/local/bin/python3', '/bin/python3']) if (existsSync(p)) return p;
  return undefined;
}

/** The helper, started on first use; undefined when there is none (Node's spawn is used). */
function getHelper(): SpawnHelper | undefined {
  if (!resolved) {
    resolved = true;
    const py = process.platform === 'linux' ? findPython() : undefined;
    if (py) helper = new SpawnHelper(py);
  }
  return helper && !helper.failed ? helper : undefined;
}

/** The helper's figures: its pid (undefined when none runs), processes it started, times it was started. */
export function spawnHelperStats(): { pid: number | undefined; spawned: number; starts: number } | undefined {
  const h = getHelper();
  return h && { pid: h.pid, spawned: h.spawned, starts: h.starts };
}

/** Start the helper now (serve's start-up), so that the first command does not wait for it. */
export async function startSpawnHelper(): Promise<boolean> {
  const h = getHelper();
  if (!h) return false;
  try {
    await h.ensure();
    return true;
  } catch (e) {
    h.failed = true;
    debug(`spawn helper unavailable (${(e as Error).message}): using Node's spawn`);
    return false;
  }
}

/**
 * Start `argv` (argv[0] found on env.PATH as execvp does) in a new session with socket stdio through the helper.
 * Undefined when there is no helper (the caller uses Node's spawn). Rejects with an Error whose `code` is the errno
 * name (ENOENT...) when the process could not be started.
 */
export async function spawnViaHelper(
  argv: readonly string[],
  cwd: string | undefined,
  env: Record<string, string>,
): Promise<LogonChild | undefined> {
  const h = getHelper();
  if (!h) return undefined;
  if (!(await startSpawnHelper())) return undefined; // no interpreter after all: Node's spawn from now on
  return h.spawn(argv, cwd, env);
}

/**
 * The child-process edge of the OutOfProc transport: starts `pwsh -s -NoLogo -NoProfile` and exposes its
 * stdin/stdout as a DuplexLike for OutOfProcTransport. Stderr is kept (bounded) for error messages.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { ConnectError } from '../errors.js';
import { findPwshExecutable } from '../util/pwsh.js';
import { OutOfProcTransport, type DuplexLike } from './outofproc.js';

export { findPwshExecutable };

export interface ProcessTransportOptions {
  /** path to pwsh (default: findPwshExecutable()) */
  pwsh?: string;
  /** extra arguments after `-s -NoLogo -NoProfile` */
  args?: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** bytes of PSRP fragments per <Data> packet (default 32 KiB; any size down to MIN_FRAGMENT_SIZE works) */
  fragmentSize?: number;
  /** coalesce the reads of a fast output stream (default true; see coalesceReads) */
  coalesceReads?: boolean;
}

/** Start `pwsh -s` and return an OutOfProc transport over its stdio. */
export function spawnPwshTransport(opts: ProcessTransportOptions = {}): OutOfProcTransport {
  const exe = opts.pwsh ?? findPwshExecutable();
  if (!exe) throw new ConnectError('PowerShell (pwsh) was not found: pass --pwsh PATH, set WINRM_TS_PWSH, or install PowerShell 7');
  const child = spawn(exe, ['-s', '-NoLogo', '-NoProfile', ...(opts.args ?? [])], {
    stdio: ['pipe', 'pipe', 'pipe'],
    cwd: opts.cwd,
    env: { ...process.env, POWERSHELL_TELEMETRY_OPTOUT: '1', POWERSHELL_UPDATECHECK: 'Off', ...opts.env },
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => {
    if (stderr.length < 8192) stderr += d;
  });
  let spawnError: Error | undefined;
  const duplex = childDuplex(child, (e) => {
    spawnError = e;
  });
  if (opts.coalesceReads !== false) {
    const onRead = coalesceReads(child.stdout!);
    child.stdout!.on('data', (c: Buffer) => onRead(c.length));
  }
  let exitCode: number | null = null;
  child.on('exit', (code) => {
    exitCode = code;
  });
  return new OutOfProcTransport(duplex, {
    kind: 'process',
    fragmentSize: opts.fragmentSize,
    describeClose: () => {
      if (spawnError) return `could not start ${exe}: ${spawnError.message}`;
      const tail = stderr.trim().split('\n').slice(-3).join(' ').slice(0, 500);
      return `pwsh exited${exitCode !== null ? ` with code ${exitCode}` : ''}${tail ? `: ${tail}` : ''}`;
    },
    destroy: () => killChild(child),
  });
}

/** What coalesceReads needs of a socket: its libuv handle, where Node has one (a child's stdio pipe does). */
interface HandleSocket {
  readonly destroyed: boolean;
  _handle?: { reading?: boolean; readStop?(): number; readStart?(): number } | null;
}

/**
 * Read coalescing for a fast output stream. pwsh writes and flushes one line per object, so while output streams its
 * stdout becomes readable every few tens of µs, and every read wakes this process: on a VM that wake-up costs more
 * CPU (30-40 µs) than the client's whole work on an object (about 7 µs). After `burst` small reads within
 * `windowMs`, reading stops for `pauseMs`: the lines queue in the pipe and the next read takes them all (several KB
 * instead of a few hundred bytes). A reply to a command (one or two reads) is never delayed; a stream's output
 * arrives at most `pauseMs` later. Node has no public way to stop a child's pipe from being polled, so this uses the
 * socket's handle (`readStop`/`readStart`) where it has one, only while Node itself is reading (its own backpressure
 * untouched), and does nothing otherwise. Returns the function to call with the size of each read.
 */
export function coalesceReads(
  sock: HandleSocket,
  o: { burst?: number; windowMs?: number; pauseMs?: number; now?: () => number; later?: (f: () => void, ms: number) => void } = {},
): (bytes: number) => void {
  const burst = o.burst ?? 3;
  const windowMs = o.windowMs ?? 2;
  const pauseMs = o.pauseMs ?? 1;
  const now = o.now ?? (() => performance.now());
  const later = o.later ?? ((f, ms) => void setTimeout(f, ms));
  let since = -Infinity;
  let count = 0;
  return (bytes) => {
    if (bytes >= 16384) {
      count = 0; // reads are large already
      return;
    }
    const t = now();
    if (t - since > windowMs) {
      since = t;
      count = 0;
    }
    if (++count < burst) return;
    count = 0;
    const h = sock._handle;
    if (!h || h.reading !== true || typeof h.readStop !== 'function' || typeof h.readStart !== 'function' || sock.destroyed) return;
    if (h.readStop() !== 0) return;
    later(() => {
      // Node's own view (reading) was left as it was: restart only the handle we stopped, if the socket lives on
      if (!sock.destroyed && sock._handle === h && h.reading === true) h.readStart!();
    }, pauseMs);
  };
}

function childDuplex(child: ChildProcess, onSpawnError: (e: Error) => void): DuplexLike {
  const listeners: { close: Array<() => void>; error: Array<(e: Error) => void> } = { close: [], error: [] };
  let closed = false;
  const fireClose = () => {
    if (closed) return;
    closed = true;
    for (const f of listeners.close) f();
  };
  child.on('error', (e) => {
    onSpawnError(e);
    for (const f of listeners.error) f(e);
    fireClose();
  });
  child.on('close', fireClose);
  child.stdin!.on('error', () => {
    /* EPIPE when the child died: reported through close */
  });
  return {
    write: (c) => child.stdin!.write(c),
    on: ((event: string, cb: (...a: never[]) => void) => {
      if (event === 'data') child.stdout!.on('data', cb as (c: Buffer) => void);
      else if (event === 'close' || event === 'end') listeners.close.push(cb as () => void);
      else if (event === 'error') listeners.error.push(cb as (e: Error) => void);
    }) as DuplexLike['on'],
    end: () => child.stdin!.end(),
    pause: () => child.stdout!.pause(),
    resume: () => child.stdout!.resume(),
  };
}

/** The server never exits on its own after Close (docs/protocol.md, "OutOfProc"): close stdin, then SIGKILL if it lingers. */
function killChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve();
      return;
    }
    const t = setTimeout(() => {
      child.kill('SIGKILL');
    }, 2000);
    child.once('close', () => {
      clearTimeout(t);
      resolve();
    });
    try {
      child.stdin!.end();
    } catch {
      /* ignore */
    }
    child.kill('SIGTERM');
  });
}

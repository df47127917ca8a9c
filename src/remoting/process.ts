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

/**
 * `winrm-ts ps --local [--pwsh PATH] -c SCRIPT [--json]` and `-f FILE [-- ARGS...]`: run PowerShell through PSRP.
 * Output objects go to stdout (text, or NDJSON with --json), error records to stderr, warnings/verbose/debug to
 * stderr with a prefix; the exit code is non-zero when the pipeline had errors (or the script's `exit N`).
 * The transport is chosen from the flags by `SESSION_SOURCES` (--local now; -H for WinRM and --ssh plug in here).
 * Uses only the public API.
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import {
  AbortError, InvalidArgumentError, PSInvocationState, PSObject, PSPrimitive, PSList, PSDict, Session, toPlain,
  type ClixmlValue, type PSHostHandler, type SessionOptions, type InvokeEvent,
} from '../../index.js';
import { cliHost } from './ps-host.js';
import { addSshOptions, SSH_SESSION_SOURCE } from './ps-ssh.js';
import { addWinrmOptions, WINRM_SESSION_SOURCE } from './ps-winrm.js';
import { addFanoutOptions, exitWith } from '../fanout-run.js';
import { psFanout, wantsPsFanout } from '../fanout-ps.js';

export interface PsFlags {
  local?: boolean; pwsh?: string; command?: string; file?: string; json?: boolean;
  [flag: string]: unknown;
}

/** How `ps` turns flags into Session.open options. The first source whose `matches` is true is used. */
export interface PsSessionSource { name: string; matches(flags: PsFlags): boolean; options(flags: PsFlags): Promise<SessionOptions> | SessionOptions }
export const SESSION_SOURCES: PsSessionSource[] = [
  SSH_SESSION_SOURCE,
  WINRM_SESSION_SOURCE,
  { name: 'local', matches: (f) => !!f.local, options: (f) => ({ transport: 'process', pwsh: f.pwsh }) },
];

export function register(program: Command): void {
  const cmd = program.command('ps')
    .description('run PowerShell through PSRP (--local: a local pwsh -s process)')
    .argument('[args...]', 'arguments for the -f script (after --)')
    .option('--local', 'run against a local PowerShell process (pwsh -s) over the OutOfProc transport')
    .option('--pwsh <path>', 'pwsh to start for --local (default: $WINRM_TS_PWSH, the peer install, or PATH)')
    .option('-c, --command <script>', 'the script to run')
    .option('-f, --file <file.ps1>', 'a local script file to run (its param() block takes the arguments after --)')
    .option('--json', 'print each output object as one JSON line (NDJSON)');
  addWinrmOptions(cmd);
  addSshOptions(cmd);
  cmd.action(async (args: string[], flags: PsFlags) => {
    if (wantsPsFanout(flags)) { await exitWith(await psFanout(args, flags, formatValue)); return; } // many hosts: src/cli/fanout-ps.ts
    process.exitCode = await runPs(args, flags);
  });
  addFanoutOptions(cmd, { queue: false });
}

export async function runPs(args: string[], flags: PsFlags): Promise<number> {
  if (!!flags.command === !!flags.file) throw new InvalidArgumentError('give exactly one of -c SCRIPT or -f FILE');
  if (flags.command && args.length) throw new InvalidArgumentError(`unexpected arguments ${JSON.stringify(args)}: arguments go with -f FILE`);
  const source = SESSION_SOURCES.find((s) => s.matches(flags));
  if (!source) throw new InvalidArgumentError('say where to run: --local (a local pwsh), or -H HOST for WinRM');
  let script = flags.command;
  if (flags.file) {
    try { script = (await readFile(flags.file, 'utf8')).replace(/^\uFEFF/, ''); } catch (e) { throw new InvalidArgumentError(`cannot read ${flags.file}: ${(e as Error).message}`); }
  }
  let exitRequest: number | undefined;
  const host: PSHostHandler = cliHost({ json: !!flags.json, onExit: (c) => { exitRequest = c; } });
  const ac = new AbortController();
  const onSig = () => ac.abort();
  process.once('SIGINT', onSig); process.once('SIGTERM', onSig);
  let session: Session;
  try {
    session = await Session.open({ ...(await source.options(flags)), host, signal: ac.signal });
  } catch (e) {
    process.off('SIGINT', onSig); process.off('SIGTERM', onSig);
    (host as { dispose?: () => void }).dispose?.();
    if (ac.signal.aborted) { process.stderr.write('winrm-ts: interrupted\n'); return 130; }
    throw e;
  }
  let hadErrors = false;
  let stopped = false;
  try {
    for await (const ev of session.stream(script!, { args: flags.file ? args : undefined, signal: ac.signal })) {
      if (ev.type === 'state' && ev.state === PSInvocationState.Stopped) stopped = true;
      if (emit(ev, !!flags.json)) hadErrors = true;
    }
  } catch (e) {
    // Ctrl+C: the Stopped state already said so; the AbortError that follows is not printed again
    if (!(e instanceof AbortError && ac.signal.aborted)) throw e;
    if (!stopped) process.stderr.write('winrm-ts: the pipeline was stopped\n');
    hadErrors = true;
  } finally {
    process.off('SIGINT', onSig); process.off('SIGTERM', onSig);
    // the pool is closed on the host in every case (WinRM: Delete, bounded by the transport; a lost connection is
    // replaced for it), so no PowerShell is left behind
    await session.close().catch(() => undefined);
    host.ui && (host as { dispose?: () => void }).dispose?.();
  }
  if (ac.signal.aborted) return 130; // Ctrl+C, as for `run` (the shell's convention: 128 + SIGINT)
  if (exitRequest !== undefined) return exitRequest;
  return hadErrors ? 1 : 0;
}

/** Print one event; returns true when it is an error. */
function emit(ev: InvokeEvent, json: boolean): boolean {
  switch (ev.type) {
    case 'output':
      if (json) process.stdout.write(JSON.stringify(toPlain(ev.value)) + '\n');
      else { const t = formatValue(ev.value); if (t !== undefined) process.stdout.write(t + '\n'); }
      return false;
    case 'error': process.stderr.write(formatError(ev.record) + '\n'); return true;
    // warnings, verbose, debug and Write-Host text reach the terminal through the host (WriteWarningLine, WriteLine ...)
    // exactly as the server's preferences decide; the records themselves are not printed again
    case 'warning': case 'verbose': case 'debug': case 'information':
      return false;
    case 'progress': return false;
    case 'state':
      if (ev.state === PSInvocationState.Failed) {
        if (ev.error !== undefined) process.stderr.write(formatError(ev.error) + '\n');
        return true;
      }
      if (ev.state === PSInvocationState.Stopped) { process.stderr.write('winrm-ts: the pipeline was stopped\n'); return true; }
      return false;
  }
}

function formatError(r: ClixmlValue): string {
  if (!(r instanceof PSObject)) return String(r);
  const msg = r.toStringValue ?? String(r.get('Message') ?? 'error');
  const inv = r.get('InvocationInfo') as ClixmlValue | undefined;
  const cmd = r.get('InvocationInfo_MyCommand') ?? (inv instanceof PSObject ? inv.get('MyCommand') : undefined);
  const name = typeof cmd === 'string' && cmd && !/\s/.test(cmd) ? `${cmd}: ` : '';
  return `${name}${msg}`;
}

/** Bounds of the text formatting (as `--json`'s toPlain bounds its walk): nesting, values visited, list items shown. */
export const FORMAT_LIMITS = { depth: 16, nodes: 100_000, shortItems: 4, shortDepth: 3 };

interface FormatWalk { budget: number; stack: Set<object> }

/**
 * PowerShell-like default formatting, kept simple: scalars as text, objects as `Name : Value` lists. Safe on any
 * deserialized value: a cycle prints `[Circular]`, nesting past FORMAT_LIMITS.depth prints `…`, and a value that
 * expands past FORMAT_LIMITS.nodes (shared references can grow exponentially) ends with `… (truncated)`.
 */
export function formatValue(v: ClixmlValue, walk: FormatWalk = { budget: FORMAT_LIMITS.nodes, stack: new Set() }, depth = 0): string | undefined {
  if (v === null) return undefined;
  if (typeof v !== 'object') return scalarText(v);
  if (--walk.budget < 0) return '… (truncated)';
  if (v instanceof PSPrimitive) { const p = toPlain(v); return typeof p === 'string' ? p : typeof p === 'boolean' ? scalarText(p) : JSON.stringify(p); }
  if (walk.stack.has(v)) return '[Circular]';
  if (depth > FORMAT_LIMITS.depth) return '…';
  walk.stack.add(v);
  try {
    if (v instanceof PSObject) {
      if (v.collection instanceof PSList) {
        const lines: string[] = [];
        for (const i of v.collection.items) {
          if (walk.budget <= 0) { lines.push('… (truncated)'); break; }
          lines.push(formatValue(i as ClixmlValue, walk, depth + 1) ?? '');
        }
        return lines.join('\n');
      }
      if (v.collection instanceof PSDict) {
        const rows: Array<readonly [string, string]> = [];
        for (const [k, val] of v.collection.entries) {
          if (walk.budget <= 0) { rows.push(['…', '(truncated)']); break; }
          rows.push([short(k as ClixmlValue, walk), short(val as ClixmlValue, walk)] as const);
        }
        const w = Math.max(4, ...rows.map((r) => r[0].length));
        return ['', `${'Name'.padEnd(w)} Value`, `${'----'.padEnd(w)} -----`, ...rows.map(([k, val]) => `${k.padEnd(w)} ${val}`), ''].join('\n');
      }
      const props = [...v.adapted, ...v.extended];
      if (v.value !== undefined && !v.collection && !v.adapted.size) return formatValue(v.value as ClixmlValue, walk, depth + 1);
      const custom = v.isType('System.Management.Automation.PSCustomObject');
      if (props.length && (custom || v.toStringValue === undefined || v.typeNames.some((t) => t.startsWith('Deserialized.')))) {
        const w = Math.max(...props.map(([k]) => k.length));
        return ['', ...props.map(([k, val]) => `${k.padEnd(w)} : ${short(val as ClixmlValue, walk)}`), ''].join('\n');
      }
      if (v.toStringValue !== undefined) return v.toStringValue;
      if (v.value !== undefined) return formatValue(v.value as ClixmlValue, walk, depth + 1);
      return v.typeNames[0] ?? '';
    }
    return String(v);
  } finally { walk.stack.delete(v); }
}

/** A scalar as PowerShell prints it (booleans are `True` / `False`). */
function scalarText(v: unknown): string {
  return typeof v === 'boolean' ? (v ? 'True' : 'False') : String(v);
}

/** A value inside a property list or a table cell: one line, lists abbreviated (`{a, b, c, d…}`), bounded. */
function short(v: ClixmlValue, walk: FormatWalk, depth = 0): string {
  if (v === null) return '';
  if (typeof v !== 'object') return scalarText(v);
  if (--walk.budget < 0) return '…';
  if (v instanceof PSPrimitive) { const p = toPlain(v); return typeof p === 'string' ? p : typeof p === 'boolean' ? scalarText(p) : JSON.stringify(p); }
  if (walk.stack.has(v)) return '[Circular]';
  if (depth > FORMAT_LIMITS.shortDepth) return '…';
  walk.stack.add(v);
  try {
    if (v instanceof PSObject) {
      if (v.collection instanceof PSList) {
        const items = v.collection.items;
        return `{${items.slice(0, FORMAT_LIMITS.shortItems).map((i) => short(i as ClixmlValue, walk, depth + 1)).join(', ')}${items.length > FORMAT_LIMITS.shortItems ? '…' : ''}}`;
      }
      return v.toStringValue ?? (v.value !== undefined ? short(v.value as ClixmlValue, walk, depth + 1) : v.typeNames[0] ?? '');
    }
    return String(v);
  } finally { walk.stack.delete(v); }
}

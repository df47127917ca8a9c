/**
 * Text output of `ps`: PowerShell's own formatter, run where the format data lives (the remote runspace), as
 * Enter-PSSession does. The user's command is followed by `Out-Default` in the same pipeline with its error
 * stream merged into the output (what pwsh's console host does for `pwsh -c`), so tables, lists, `Directory:`
 * headers, Format-*, dates in the server's culture and the error view come back as host `WriteLine` /
 * `WriteErrorLine` calls, line by line, in order. The width is the terminal's (or $COLUMNS, or 120 when piped);
 * colours only on a terminal without NO_COLOR (otherwise escape sequences are removed).
 *
 * Where nothing remote can format (an endpoint without Out-Default, e.g. a bare NoLanguage configuration), the
 * small JS formatter below prints the deserialized objects. Uses only the public API.
 */
import {
  PSObject,
  PSPrimitive,
  PSList,
  PSDict,
  toPlain,
  PSInvocationState,
  type ClixmlValue,
  type CommandSpec,
  type PipelineSpec,
  type PSHostHandler,
  type PSHostUI,
  type Session,
} from '../index.js';

/** Columns the remote formatter gets: the terminal's, else $COLUMNS, else 120 (as Out-String's default). */
export function outputWidth(stream: NodeJS.WriteStream = process.stdout, env: NodeJS.ProcessEnv = process.env): number {
  if (stream.isTTY && stream.columns > 0) return stream.columns;
  const c = Number(env.COLUMNS);
  return Number.isInteger(c) && c >= 20 && c <= 10_000 ? c : 120;
}

/** Colours: only on a terminal, and not with NO_COLOR (https://no-color.org: set and not empty). */
export function colorWanted(stream: NodeJS.WriteStream = process.stdout, env: NodeJS.ProcessEnv = process.env): boolean {
  return !!stream.isTTY && !env.NO_COLOR && env.TERM !== 'dumb';
}

// CSI (ESC [ ... final), OSC (ESC ] ... BEL | ESC \), and two-character escapes
const ANSI = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]/g;
/** Text without terminal escape sequences (what `$PSStyle.OutputRendering = 'PlainText'` prints). */
export function stripAnsi(s: string): string {
  return s.includes('\x1b') ? s.replace(ANSI, '') : s;
}

export interface TextHostState {
  /** the remote wrote an error line (an error record through Out-Default, or $host.UI.WriteErrorLine) */
  errorLines: number;
}

/**
 * The CLI host for text output: the remote formatter gets `width` columns (RawUI BufferSize / WindowSize), escape
 * sequences are removed unless `color`, and error lines are counted (they decide the exit code). When stdin is the
 * pipeline's input, Read-Host and prompts fail as they do in `pwsh -c` with redirected input, instead of
 * waiting on a stream that is already taken.
 */
export function textHost<H extends PSHostHandler>(
  base: H,
  opts: { width: number; color: boolean; stdinIsInput?: boolean },
): H & { state: TextHostState; ui: PSHostUI } {
  const state: TextHostState = { errorLines: 0 };
  const ui = base.ui ?? {};
  const clean = (t: string) => (opts.color ? t : stripAnsi(t));
  const taken = () => {
    throw new Error('stdin is the pipeline input of this command: Read-Host and prompts cannot read from it');
  };
  const size = { width: opts.width, height: 9999 };
  return {
    ...base,
    state,
    ui: {
      ...ui,
      rawUI: {
        ...(ui.rawUI ?? {}),
        bufferSize: size,
        windowSize: { width: opts.width, height: 50 },
        maxWindowSize: size,
        maxPhysicalWindowSize: size,
      },
      write: (t, c) => ui.write?.(clean(t), c),
      writeLine: (t, c) => ui.writeLine?.(clean(t), c),
      writeErrorLine: (t) => {
        state.errorLines++;
        const text = clean(t);
        ui.writeErrorLine?.(opts.color && !text.includes('\x1b') ? `\x1b[31;1m${text}\x1b[0m` : text);
      },
      writeWarningLine: (t) => ui.writeWarningLine?.(clean(t)),
      writeVerboseLine: (t) => ui.writeVerboseLine?.(clean(t)),
      writeDebugLine: (t) => ui.writeDebugLine?.(clean(t)),
      ...(opts.stdinIsInput
        ? { readLine: taken, readLineAsSecureString: taken, prompt: taken, promptForChoice: taken, promptForCredential: taken }
        : {}),
    },
  };
}

/**
 * A native program's stderr lines arrive as error records; pwsh's console lets them through to stderr as plain
 * text, so they go to the host's error line here too (Out-Default would write them to stdout).
 */
const NATIVE_STDERR =
  "process { if ($_ -is [System.Management.Automation.ErrorRecord] -and $_.FullyQualifiedErrorId -like 'NativeCommandError*') { " +
  '$Host.UI.WriteErrorLine([string]$_.Exception.Message) } else { $_ } }';

/**
 * The pipeline that prints `cmd`'s output as PowerShell does: `cmd 2>&1 | Out-Default` (a script also passes its
 * native programs' stderr to the host's error line on the way; command mode sends no script: NoLanguage
 * endpoints refuse one).
 */
export function formattedPipeline(cmd: CommandSpec): PipelineSpec {
  const merged: CommandSpec = { ...cmd, mergeToOutput: { ...cmd.mergeToOutput, error: true } };
  const out: CommandSpec = { cmd: 'Out-Default', isScript: false };
  return { statements: [cmd.isScript ? [merged, { cmd: NATIVE_STDERR, isScript: true }, out] : [merged, out]] };
}

/** The pipeline for the many-hosts path: `cmd | Out-String -Stream -Width N` (one output string per line). */
export function outStringPipeline(cmd: CommandSpec, width: number): PipelineSpec {
  return {
    statements: [
      [
        cmd,
        {
          cmd: 'Out-String',
          isScript: false,
          args: [
            { name: 'Stream', value: true },
            { name: 'Width', value: width },
          ],
        },
      ],
    ],
  };
}

/** The pipeline failed because the endpoint has no `name` command (the formatter is not available there). */
export function isMissingCommand(err: ClixmlValue | undefined, name: string): boolean {
  if (!(err instanceof PSObject)) return false;
  const id = String(err.get('FullyQualifiedErrorId') ?? '');
  const text = `${err.toStringValue ?? ''} ${String(err.get('Message') ?? '')} ${String(err.get('TargetObject') ?? '')}`;
  return /CommandNotFound/i.test(id) && text.includes(name);
}

/**
 * The error view of the terminating error that failed the last pipeline (`throw`, a parse error), as the remote
 * prints it: `$Error[0] | Out-String`. Undefined when the runspace cannot run it (NoLanguage) or `$Error[0]` is
 * not that error.
 */
export async function remoteErrorView(session: Session, err: ClixmlValue, width: number): Promise<string[] | undefined> {
  if (!(err instanceof PSObject)) return undefined;
  const id = err.get('FullyQualifiedErrorId');
  if (typeof id !== 'string') return undefined;
  try {
    const r = await session.invoke(
      'param($id, $w) $e = $Error[0]; if ($e -is [System.Management.Automation.ErrorRecord] -and $e.FullyQualifiedErrorId -eq ' +
        '$id) { $e | Out-String -Stream -Width $w }',
      { args: [id, width] },
    );
    if (r.state !== PSInvocationState.Completed || r.hadErrors || !r.output.length) return undefined;
    const lines = r.output.map((l) => (typeof l === 'string' ? l : String(toPlain(l))));
    while (lines.length && !lines[0]!.trim()) lines.shift();
    while (lines.length && !lines[lines.length - 1]!.trim()) lines.pop();
    return lines.length ? lines : undefined;
  } catch {
    return undefined;
  }
}

/** An error record as one line (where no remote view is available): `Command: message`. */
export function formatError(r: ClixmlValue): string {
  if (!(r instanceof PSObject)) return String(r);
  const msg = r.toStringValue ?? String(r.get('Message') ?? 'error');
  const inv = r.get('InvocationInfo') as ClixmlValue | undefined;
  const cmd = r.get('InvocationInfo_MyCommand') ?? (inv instanceof PSObject ? inv.get('MyCommand') : undefined);
  const name = typeof cmd === 'string' && cmd && !/\s/.test(cmd) ? `${cmd}: ` : '';
  return `${name}${msg}`;
}

// ------------------------------------------------------------------ the fallback formatter (deserialized objects)

/** Bounds of the fallback formatting (as `--json`'s toPlain bounds its walk): nesting, values visited, list items shown. */
export const FORMAT_LIMITS = { depth: 16, nodes: 100_000, shortItems: 4, shortDepth: 3 };

interface FormatWalk {
  budget: number;
  stack: Set<object>;
}

/**
 * A simple PowerShell-like rendering of a deserialized value (only where the remote cannot format): scalars as
 * text, objects as `Name : Value` lists. Safe on any value: a cycle prints `[Circular]`, nesting past
 * FORMAT_LIMITS.depth prints `…`, and a value that expands past FORMAT_LIMITS.nodes ends with `… (truncated)`.
 */
export function formatValue(
  v: ClixmlValue,
  walk: FormatWalk = { budget: FORMAT_LIMITS.nodes, stack: new Set() },
  depth = 0,
): string | undefined {
  if (v === null) return undefined;
  if (typeof v !== 'object') return scalarText(v);
  if (--walk.budget < 0) return '… (truncated)';
  if (v instanceof PSPrimitive) {
    const p = toPlain(v);
    return typeof p === 'string' ? p : typeof p === 'boolean' ? scalarText(p) : JSON.stringify(p);
  }
  if (walk.stack.has(v)) return '[Circular]';
  if (depth > FORMAT_LIMITS.depth) return '…';
  walk.stack.add(v);
  try {
    if (v instanceof PSObject) {
      if (v.collection instanceof PSList) {
        const lines: string[] = [];
        for (const i of v.collection.items) {
          if (walk.budget <= 0) {
            lines.push('… (truncated)');
            break;
          }
          lines.push(formatValue(i as ClixmlValue, walk, depth + 1) ?? '');
        }
        return lines.join('\n');
      }
      if (v.collection instanceof PSDict) {
        const rows: Array<readonly [string, string]> = [];
        for (const [k, val] of v.collection.entries) {
          if (walk.budget <= 0) {
            rows.push(['…', '(truncated)']);
            break;
          }
          rows.push([short(k as ClixmlValue, walk), short(val as ClixmlValue, walk)] as const);
        }
        const w = Math.max(4, ...rows.map((r) => r[0].length));
        return ['', `${'Name'.padEnd(w)} Value`, `${'----'.padEnd(w)} -----`, ...rows.map(([k, val]) => `${k.padEnd(w)} ${val}`), ''].join(
          '\n',
        );
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
  } finally {
    walk.stack.delete(v);
  }
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
  if (v instanceof PSPrimitive) {
    const p = toPlain(v);
    return typeof p === 'string' ? p : typeof p === 'boolean' ? scalarText(p) : JSON.stringify(p);
  }
  if (walk.stack.has(v)) return '[Circular]';
  if (depth > FORMAT_LIMITS.shortDepth) return '…';
  walk.stack.add(v);
  try {
    if (v instanceof PSObject) {
      if (v.collection instanceof PSList) {
        const items = v.collection.items;
        return `{${items
          .slice(0, FORMAT_LIMITS.shortItems)
          .map((i) => short(i as ClixmlValue, walk, depth + 1))
          .join(', ')}${items.length > FORMAT_LIMITS.shortItems ? '…' : ''}}`;
      }
      return v.toStringValue ?? (v.value !== undefined ? short(v.value as ClixmlValue, walk, depth + 1) : (v.typeNames[0] ?? ''));
    }
    return String(v);
  } finally {
    walk.stack.delete(v);
  }
}

/**
 * Arguments and input of `ps`, as pwsh takes them.
 *
 * - `-f FILE -- ARGS`: `pwsh -File` semantics. `-Name value` and `-Name:value` bind named parameters, a switch
 *   parameter takes no value (`-Loud`, `-Loud:$false`), everything else binds by position; values are strings (the
 *   script's parameter types convert them). Which parameters are switches is asked from the remote's own parser
 *   (one round trip, only when a `-Name` token is present), so `-Loud there` binds as pwsh binds it.
 * - `-c SCRIPT -- ARGS`: the arguments of `& { SCRIPT } ARGS` typed at a prompt (Invoke-Command -ArgumentList):
 *   the same named binding, and number-looking values are numbers (`-- 6 7` gives Int32 6 and 7).
 * - `--cmd NAME --param K=V -- ARGS`: a command (not a script), for NoLanguage / JEA endpoints.
 * - stdin: lines as pipeline input (`$input`, a process block), or JSON values with --input-json; streamed.
 *
 * Uses only the public API.
 */
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { InvalidArgumentError, PSObject, ps, type CommandArgument, type CommandSpec, type PSValue, type Session } from '../index.js';

/** Parameters of a script as the remote parser sees them: lower-cased name or alias -> { name, isSwitch }. */
export type ParamTable = Map<string, { name: string; isSwitch: boolean }>;

/** A token that names a parameter: `-Name` or `-Name:value` (not `-`, `--`, or a negative number). */
const PARAM_TOKEN = /^-([\p{L}_?][\p{L}\p{N}_?-]*)(?::([\s\S]*))?$/u;

export function hasParameterTokens(args: string[]): boolean {
  return args.some((a) => PARAM_TOKEN.test(a));
}

/**
 * What PowerShell makes of a bare word typed as an argument: a number when it reads as one (decimal or 0x hex
 * integer: Int32, else Int64; a decimal point or exponent: Double), else the string.
 */
export function literalArg(s: string): PSValue {
  if (/^[+-]?\d+$/.test(s)) {
    const n = BigInt(s);
    if (n >= -2147483648n && n <= 2147483647n) return Number(n);
    if (n >= -(2n ** 63n) && n < 2n ** 63n) return ps.int64(n);
    return ps.double(Number(s));
  }
  if (/^0x[0-9a-f]{1,8}$/i.test(s)) {
    const n = Number.parseInt(s.slice(2), 16);
    return n > 0x7fffffff ? n - 0x1_0000_0000 : n;
  }
  if (/^[+-]?(\d+\.\d*|\.\d+|\d+)(e[+-]?\d+)?$/i.test(s) && /[.e]/i.test(s)) return ps.double(Number(s));
  return s;
}

const SWITCH_VALUE: Record<string, boolean> = { $true: true, true: true, '1': true, $false: false, false: false, '0': false };

/**
 * Bind `args` the way pwsh -File binds them to a script whose parameters are `params` (undefined: unknown, then a
 * `-Name` token takes the next token as its value unless that is another `-Name` token or the end).
 * `literal`: values are typed like arguments at a prompt (see literalArg), else they stay strings.
 */
export function bindArgs(args: string[], params: ParamTable | undefined, literal: boolean): CommandArgument[] {
  const value = (s: string): PSValue => (literal ? literalArg(s) : s);
  const out: CommandArgument[] = [];
  const advanced = !!params?.has('verbose');
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const m = PARAM_TOKEN.exec(a);
    if (!m) {
      out.push({ name: null, value: value(a) });
      continue;
    }
    const given = m[1]!;
    const inline = m[2];
    let p = params?.get(given.toLowerCase());
    if (params && !p) {
      const matches = [...new Set([...params.values()].filter((x) => x.name.toLowerCase().startsWith(given.toLowerCase())))];
      if (matches.length === 1) p = matches[0];
      else if (!matches.length && !advanced) {
        out.push({ name: null, value: a });
        continue;
      } // a simple script: into $args, as pwsh -File does
    }
    const name = p?.name ?? given;
    if (p?.isSwitch) {
      if (inline === undefined) {
        out.push({ name, value: true });
        continue;
      }
      const b = SWITCH_VALUE[inline.toLowerCase()];
      if (b === undefined) throw new InvalidArgumentError(`-${given}:${inline}: a switch takes $true or $false`);
      out.push({ name, value: b });
      continue;
    }
    if (inline !== undefined) {
      out.push({ name, value: value(inline) });
      continue;
    }
    const next = args[i + 1];
    if (next === undefined || PARAM_TOKEN.test(next)) {
      if (!p) {
        out.push({ name, value: true });
        continue;
      } // not a known parameter: a lone -Name is a switch
      throw new InvalidArgumentError(`missing an argument for parameter -${name}: give -${name} VALUE`);
    }
    out.push({ name, value: value(next) });
    i++;
  }
  return out;
}

// the script's parameters as its own command metadata (common parameters and aliases included), in a child scope
const PARAMS_QUERY = `param([string]$__text)
& {
  param($t)
  \${function:__winrm_ts_params} = [scriptblock]::Create($t)
  foreach ($p in (Get-Command __winrm_ts_params -CommandType Function).Parameters.Values) {
    @([int]$p.SwitchParameter, $p.Name) + @($p.Aliases) -join [char]9
  }
} $__text`;

/** The script's parameters, asked from the remote parser; undefined when it cannot tell (a restricted endpoint). */
export async function remoteParams(session: Session, script: string): Promise<ParamTable | undefined> {
  try {
    const r = await session.invoke(PARAMS_QUERY, { args: [script] });
    if (r.hadErrors) return undefined;
    const t: ParamTable = new Map();
    for (const line of r.output) {
      if (typeof line !== 'string') return undefined;
      const [sw, name, ...aliases] = line.split('\t');
      if (!name) continue;
      const p = { name, isSwitch: sw === '1' };
      for (const n of [name, ...aliases]) if (n) t.set(n.toLowerCase(), p);
    }
    return t;
  } catch {
    return undefined;
  }
}

/** Arguments of a script: named tokens resolved against the remote's view of its param() block. */
export async function scriptArgs(session: Session, script: string, args: string[], literal: boolean): Promise<CommandArgument[]> {
  if (!args.length) return [];
  const params = hasParameterTokens(args) ? await remoteParams(session, script) : undefined;
  return bindArgs(args, params, literal);
}

/** `--param Name=Value` (repeatable) for command mode; `--param Name` is a switch. */
export function commandParams(list: string[] | undefined): CommandArgument[] {
  return (list ?? []).map((kv) => {
    const m = /^-?([^=\s]+)(?:=([\s\S]*))?$/.exec(kv);
    if (!m) throw new InvalidArgumentError(`--param ${JSON.stringify(kv)}: give NAME=VALUE (or NAME alone for a switch)`);
    return { name: m[1]!, value: m[2] === undefined ? true : m[2] };
  });
}

/** Whether a script reads pipeline input: `$input`, a process block, or a ValueFromPipeline parameter. */
export function readsPipelineInput(script: string): boolean {
  return /\$(?:input\b|\{input\})|\bprocess\s*\{|ValueFromPipeline/i.test(script);
}

/** stdin as lines, read as they come (no buffering of the whole input). */
export async function* stdinLines(stdin: NodeJS.ReadableStream = process.stdin): AsyncGenerator<PSValue> {
  const rl = createInterface({ input: stdin, crlfDelay: Infinity, terminal: false });
  try {
    for await (const line of rl) yield line;
  } finally {
    rl.close();
  }
}

/** A JSON value as a PowerShell value: objects become PSCustomObjects (as ConvertFrom-Json makes them). */
export function jsonToPS(v: unknown): PSValue {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number')
    return Number.isInteger(v) && Math.abs(v) <= 2147483647 ? v : Number.isSafeInteger(v) ? ps.int64(BigInt(v)) : ps.double(v);
  if (Array.isArray(v)) return PSObject.list(v.map(jsonToPS));
  return PSObject.custom(Object.entries(v as object).map(([k, x]) => [k, jsonToPS(x)] as [string, PSValue]));
}

/**
 * stdin as JSON input objects: NDJSON (one value a line, streamed), or one JSON document (an array gives its
 * elements). A line that is not a whole JSON value starts a document that is read to the end.
 */
export async function* stdinJson(stdin: NodeJS.ReadableStream = process.stdin): AsyncGenerator<PSValue> {
  let doc: string[] | undefined;
  let n = 0;
  for await (const line of stdinLines(stdin)) {
    n++;
    if (doc) {
      doc.push(line as string);
      continue;
    }
    const t = (line as string).trim();
    if (!t) continue;
    let v: unknown;
    try {
      v = JSON.parse(t);
    } catch {
      doc = [line as string];
      continue;
    }
    if (Array.isArray(v) && n === 1) {
      for (const x of v) yield jsonToPS(x);
      continue;
    }
    yield jsonToPS(v);
  }
  if (doc) {
    let v: unknown;
    try {
      v = JSON.parse(doc.join('\n'));
    } catch (e) {
      throw new InvalidArgumentError(`--input-json: stdin is not JSON or NDJSON (${(e as Error).message})`);
    }
    if (Array.isArray(v)) for (const x of v) yield jsonToPS(x);
    else yield jsonToPS(v);
  }
}

/** The flags of `ps` that say what to run. */
export interface ModeFlags {
  command?: string;
  file?: string;
  cmd?: string;
  param?: string[];
  inputJson?: boolean;
  inputLines?: boolean;
}

/** Check the mode flags; returns the script text (undefined in command mode). */
export async function scriptOf(args: string[], flags: ModeFlags): Promise<string | undefined> {
  const modes = [flags.command, flags.file, flags.cmd].filter((m) => m !== undefined).length;
  if (modes !== 1) throw new InvalidArgumentError('give exactly one of -c SCRIPT, -f FILE or --cmd NAME');
  if (flags.param?.length && flags.cmd === undefined)
    throw new InvalidArgumentError('--param goes with --cmd NAME (a script takes its arguments after --: -Name value)');
  if (flags.inputJson && flags.inputLines) throw new InvalidArgumentError('give one of --input-json and --input-lines');
  if (flags.cmd !== undefined) {
    if (!/^[\w.\\:-]+$/.test(flags.cmd))
      throw new InvalidArgumentError(`--cmd ${JSON.stringify(flags.cmd)}: give a command name (e.g. Get-Date); a script goes with -c`);
    return undefined;
  }
  if (flags.file === undefined) return flags.command!;
  try {
    return (await readFile(flags.file, 'utf8')).replace(/^\uFEFF/, '');
  } catch (e) {
    throw new InvalidArgumentError(`cannot read ${flags.file}: ${(e as Error).message}`);
  }
}

/** The command to run: the script with its arguments bound as pwsh binds them, or --cmd with --param. */
export async function commandOf(session: Session, script: string | undefined, args: string[], flags: ModeFlags): Promise<CommandSpec> {
  if (script === undefined) {
    return { cmd: flags.cmd!, isScript: false, args: [...commandParams(flags.param), ...args.map((a) => ({ name: null, value: a }))] };
  }
  return { cmd: script, isScript: true, args: await scriptArgs(session, script, args, flags.file === undefined) };
}

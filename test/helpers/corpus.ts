/**
 * The CLIXML corpus: PowerShell expressions covering every CLIXML type, judged against the real PowerShell.
 *
 * Method (documented normalisation): for each case the SAME pwsh evaluates the expression, serializes it with
 * `[PSSerializer]::Serialize($v, depth)`, deserializes that CLIXML with its own `[PSSerializer]::Deserialize`
 * and writes a canonical dump of the result (C#, test/peers/fixtures/clixml-dump.cs). Our side deserializes the
 * very same CLIXML and `canonicalDump`s it here with the same rules, so the comparison is "our deserializer vs
 * PowerShell's deserializer" on identical bytes. The rules, in both languages:
 *  - null -> `N`; primitives -> `TAG:text` with TAG the CLIXML tag; strings -> `S:` + ESC, where ESC keeps
 *    [A-Za-z0-9 _.-] and writes every other UTF-16 unit as \uXXXX (over 256 units: `#len:sha256(UTF-16LE)`)
 *  - Single/Double as their IEEE-754 bits in hex (NaN -> `NaN`); Decimal as its text; DateTime `DT:Kind:ticks`
 *    (Local -> UTC ticks: pwsh converts a Local DateTime to its own zone); TimeSpan ticks; Guid lower case;
 *    byte[] base64; Uri OriginalString; XmlDocument OuterXml; ScriptBlock as a string (pwsh deserializes SBK
 *    to a String by design); SecureString `SS:#len:sha256` (never the plaintext); ProgressRecord `PR:` fields;
 *    PSCredential `CRED:user:#len:sha256` (pwsh rehydrates both to live objects)
 *  - an object -> `O<type names, "Deserialized." stripped>` then `{ts=ToString}`, `{v=base value}`,
 *    `{L|STK|QUE|D[...]}` (IE -> L; dictionary entries sorted unless it is an OrderedDictionary),
 *    `{a:adapted (<Props>)}` (only for property bags), `{p:extended (<MS>)}`; an object with no `<TN>` and a
 *    primitive base takes that primitive's .NET type names (pwsh does)
 *  - a reference back to an object still being dumped -> `CYCLE`; the dump ends with ` #objs=N` (distinct objects),
 *    which checks that shared references stay shared.
 *
 * `runCorpus(getValue)` lets other transports (pwsh -s, WinRM, SSH) run the same cases: they return the
 * deserialized value of `EXPR` however they obtained it, and it is compared with the pwsh reference.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PSDict, PSList, PSObject, PSPrimitive, PSSecureString, PSDateTime, PSTimeSpan, type ClixmlValue } from '../../src/clixml/index.js';
import { toBase64 } from '../../src/util/bytes.js';
import type { Session } from '../../src/index.js';
import { PROJECT_ROOT } from './peers.js';

export interface CorpusCase {
  name: string;
  /** a PowerShell expression assigned as `$v = EXPR` (use `& { ...; ,$x }` for statements) */
  expr: string;
  /** PSSerializer depth (default 2) */
  depth?: number;
  /** what the case covers (for the README / reports) */
  covers: string;
  /**
   * why the case cannot match across transports (runCorpus skips it unless `all`): the value depends on
   * where/when it is evaluated, or PSRP serializes it differently from PSSerializer
   */
  localOnly?: string;
}

const S = (name: string, expr: string, covers: string, depth?: number, localOnly?: string): CorpusCase => ({
  name,
  expr,
  covers,
  ...(depth ? { depth } : {}),
  ...(localOnly ? { localOnly } : {}),
});

export const CORPUS: CorpusCase[] = [
  // strings and escaping
  S('str-simple', `'hello world'`, 'S'),
  S('str-empty', `''`, 'S empty'),
  S('str-controls', '"tab`tnl`ncr`r nul" + [char]0 + [char]0x1f + [char]0x7f + [char]0x85 + [char]0x9f + "end"', 'S C0/C1 escaping'),
  S('str-literal-x', `'_x000A_ and _X0041_ and _x and _xZZZZ_ and __x0041__'`, 'S literal _x escaping'),
  S('str-japanese', `'こんにちは世界 - 日本語テキスト'`, 'S non-ASCII'),
  S('str-emoji', '"emoji 😀 👍🏽 family 👨‍👩‍👧 flag 🇯🇵"', 'S surrogate pairs'),
  S('str-lone-surrogates', '"lo" + [char]0xd800 + "hi" + [char]0xdfff + [char]0xdc00 + [char]0xd83d', 'S lone surrogates'),
  S('str-xml-specials', `'<a href="x">&amp; ''q'' </a> ]]> &#x41;'`, 'S XML specials'),
  S('str-whitespace', '"  lead and trail  `r`n  "', 'S whitespace kept'),
  S('str-1mb', `('abcdé' * 209716) + 'こ'`, 'S 1 MB'),
  // primitives
  S('char', `[char]'A'`, 'C'),
  S('char-nul', '[char]0', 'C 0'),
  S('char-surrogate', '[char]0xd83d', 'C surrogate'),
  S('bool-true', '$true', 'B'),
  S('bool-false', '$false', 'B'),
  S('null', '$null', 'Nil'),
  S('byte', '[byte]255', 'By'),
  S('sbyte', '[sbyte]-128', 'SB'),
  S('int16', '[int16]::MinValue', 'I16'),
  S('uint16', '[uint16]::MaxValue', 'U16'),
  S('int32-min', '[int32]::MinValue', 'I32'),
  S('int32-max', '[int32]::MaxValue', 'I32'),
  S('uint32', '[uint32]::MaxValue', 'U32'),
  S('int64-min', '[int64]::MinValue', 'I64'),
  S('int64-max', '[int64]::MaxValue', 'I64'),
  S('uint64', '[uint64]::MaxValue', 'U64'),
  S('single', '[single]3.14159', 'Sg'),
  S('single-tiny', '[single]1e-45', 'Sg denormal'),
  S('single-inf', '[single]::NegativeInfinity', 'Sg -INF'),
  S('single-nan', '[single]::NaN', 'Sg NaN'),
  S('double', '[double]0.1', 'Db'),
  S('double-big', '[double]1.2345678901234568e300', 'Db E notation'),
  S('double-negzero', '[double]"-0"', 'Db -0'),
  S('double-nan', '[double]::NaN', 'Db NaN'),
  S('double-inf', '[double]::PositiveInfinity', 'Db INF'),
  S('double-eps', '[double]::Epsilon', 'Db denormal'),
  S('decimal', '[decimal]"1.50"', 'D scale'),
  S('decimal-max', '[decimal]::MaxValue', 'D'),
  S('decimal-min-frac', '[decimal]"-0.0000000000000000000000000001"', 'D'),
  S('datetime-utc', '[datetime]::new(2024,2,29,23,59,59,999,[DateTimeKind]::Utc).AddTicks(9999)', 'DT Utc ticks'),
  S('datetime-local', '[datetime]::new(2020,1,1,8,30,0,[DateTimeKind]::Local)', 'DT Local offset'),
  S('datetime-unspec', '[datetime]::new(638000000000000001)', 'DT Unspecified'),
  S('datetime-min', '[datetime]::MinValue', 'DT min'),
  S('datetime-max', '[datetime]::MaxValue', 'DT max'),
  S('get-date', `Get-Date '2021-06-01T12:00:00.5Z'`, 'DT in Obj with DisplayHint note'),
  S('timespan', '[timespan]::new(1,2,3,4,5)', 'TS'),
  S('timespan-neg', '[timespan]::FromTicks(-123456789)', 'TS negative'),
  S('timespan-max', '[timespan]::MaxValue', 'TS max'),
  S('timespan-min', '[timespan]::MinValue', 'TS min'),
  S('timespan-zero', '[timespan]::Zero', 'TS zero'),
  S('guid', `[guid]'792E5B37-4505-47EF-B7D2-8711BB7AFFA8'`, 'G'),
  S('guid-empty', '[guid]::Empty', 'G'),
  S('bytes', '[byte[]](0..255)', 'BA'),
  S('bytes-empty', '[byte[]]@()', 'BA empty'),
  S('uri', `[uri]'https://example.com/a b?q=1&r=2#frag'`, 'URI'),
  S('uri-relative', `[uri]::new('rel/pa th', [System.UriKind]::Relative)`, 'URI relative'),
  S('version-2', `[version]'2.3'`, 'Version'),
  S('version-4', `[version]'1.2.3.4'`, 'Version'),
  S('xml', `[xml]'<root a="1"><c>t &amp; u</c><d/></root>'`, 'XD'),
  S('scriptblock', '{ param($a) "x`n$a" ; \'_x0041_\' }', 'SBK'),
  S('securestring', `ConvertTo-SecureString 'not-a-real-secret' -AsPlainText -Force`, 'SS'),
  S('pscredential', `[pscredential]::new('user', (ConvertTo-SecureString 'not-a-real-secret' -AsPlainText -Force))`, 'SS in Props'),
  // collections
  S('array', '@(1, "two", 3.5, $null, $true)', 'LST Object[]'),
  S('array-empty', '@()', 'LST empty'),
  S('array-nested', '@(1, @(2, @(3, @(4))))', 'LST nested'),
  S('arraylist', '[System.Collections.ArrayList]@(1, "a", $null)', 'LST ArrayList'),
  S('list-generic', '[System.Collections.Generic.List[string]]@("x", "y")', 'LST generic'),
  S('hashset', '[System.Collections.Generic.HashSet[int]]@(3, 1, 2)', 'IE + Props'),
  S('char-array', `[char[]]'abc'`, 'LST of C'),
  S('double-array', '[double[]]@(1.5, -2, 1e-300)', 'LST of Db'),
  S('hashtable', `@{ a = 1; b = 'two'; c = @(3, 4) }`, 'DCT Hashtable'),
  S('hashtable-empty', '@{}', 'DCT empty'),
  S('hashtable-keys', `@{ 1 = 'one'; [guid]::Empty = 'g'; 'k' = $null }`, 'DCT non-string keys, null value'),
  S('ordered', `[ordered]@{ z = 1; y = 2; x = [ordered]@{ n = 1 } }`, 'DCT OrderedDictionary order'),
  S(
    'dictionary-generic',
    '& { $d = [System.Collections.Generic.Dictionary[int,string]]::new(); $d[5] = "five"; $d[1] = "one"; $d }',
    'DCT generic',
  ),
  S('stack', '[System.Collections.Stack]::new(@(1, 2, 3))', 'STK'),
  S('queue', '[System.Collections.Queue]::new(@("a", "b"))', 'QUE'),
  // objects
  S('pscustomobject', `[pscustomobject]@{ a = 1; b = 'x'; c = $null }`, 'PSCustomObject MS'),
  S('pscustomobject-nested', `[pscustomobject]@{ inner = [pscustomobject]@{ deeper = [pscustomobject]@{ v = 1 } } }`, 'nested', 3),
  S('prop-names', `[pscustomobject]@{ 'a b' = 1; "new\`nline" = 2; '_x0041_' = 3; '名前' = 'テスト'; 'emoji😀' = 4 }`, 'N= escaping'),
  S('enum', '[ConsoleColor]::Red', 'enum'),
  S('enum-flags', `[System.IO.FileAttributes]'ReadOnly, Hidden'`, 'flags enum'),
  S('enum-byte', '[System.Security.AccessControl.AceFlags]::ObjectInherit', 'enum By underlying'),
  S('enum-zero', '[System.IO.FileAttributes]0', 'enum 0'),
  S('string-with-note', `'abc' | Add-Member -NotePropertyName n -NotePropertyValue 1 -PassThru`, 'S base + MS'),
  S('int-with-note', `5 | Add-Member -NotePropertyName tag -NotePropertyValue 'x' -PassThru`, 'I32 base + MS'),
  S('directoryinfo', '& { Set-Location /; Get-Item / }', 'Props + MS, ToString', 1, 'PSDrive Used/Free change while other work runs'),
  S(
    'stringbuilder-note',
    `[System.Text.StringBuilder]::new('abc') | Add-Member -NotePropertyName Note -NotePropertyValue 'n' -PassThru`,
    'Props + MS + ToString',
  ),
  S('bigint', '[System.Numerics.BigInteger]::Pow(2, 100)', 'Obj with ToString + Props'),
  S(
    'errorrecord',
    `try { throw [System.InvalidOperationException]::new('boom') } catch { $_ }`,
    'ErrorRecord',
    2,
    'InvocationInfo names the script and line it ran in',
  ),
  S(
    'errorrecord-new',
    `[System.Management.Automation.ErrorRecord]::new([System.ArgumentException]::new('bad arg'), 'MyId', 'InvalidArgument', 42)`,
    'ErrorRecord target',
    2,
  ),
  S('warningrecord', `[System.Management.Automation.WarningRecord]::new('careful')`, 'WarningRecord'),
  S(
    'informationrecord',
    `[System.Management.Automation.InformationRecord]::new('msg', 'src')`,
    'InformationRecord',
    undefined,
    'TimeGenerated is the time of evaluation',
  ),
  S(
    'progressrecord',
    `& { $p = [System.Management.Automation.ProgressRecord]::new(7, 'act', 'status'); $p.PercentComplete = 42; ` +
      `$p.CurrentOperation = 'op'; $p.SecondsRemaining = 9; $p.ParentActivityId = 3; $p }`,
    'PR',
  ),
  S(
    'progressrecord-completed',
    `& { $p = [System.Management.Automation.ProgressRecord]::new(1, 'a', 's'); $p.RecordType = 'Completed'; $p }`,
    'PR Completed',
  ),
  S('depth-truncated', `[pscustomobject]@{ a = [pscustomobject]@{ b = [pscustomobject]@{ c = 1 } } }`, 'depth 1 -> ToString', 1),
  // references, size, depth
  S('shared-refs', `& { $o = [pscustomobject]@{ n = 1 }; ,@($o, $o, [pscustomobject]@{ o = $o }) }`, 'Ref'),
  S('shared-hashtable', `& { $h = @{ k = 'v' }; ,@($h, $h) }`, 'Ref to DCT'),
  S(
    'cycle',
    `& { $h = @{}; $h.self = $h; $h }`,
    'Ref cycle',
    3,
    'PSRP writes a top-level output object once more before the first Ref to it',
  ),
  S('deep-nesting', `& { $x = 'leaf'; foreach ($i in 1..40) { $x = @{ n = $x } }; $x }`, 'deep nesting', 45),
  S('array-100k', '1..100000', 'LST 100 000 items'),
  S('objects-5k', `& { ,@(1..5000 | % { [pscustomobject]@{ i = $_; s = "x$_" } }) }`, 'TNRef reuse'),
  S(
    'mixed-primitives',
    `@([byte]1, [sbyte]-1, [int16]2, [uint16]3, 4, [uint32]5, [int64]6, [uint64]7, [single]8.5, 9.5, [decimal]10.5, [char]'c', ` +
      `'str', $true, [guid]::Empty)`,
    'LST mixed',
  ),
];

// ---- TypeScript side of the canonical dump ---------------------------------------------------------------

function sha(s: string): string {
  return `#${s.length}:` + createHash('sha256').update(Buffer.from(s, 'utf16le')).digest('hex');
}
export function esc(s: string): string {
  if (s.length > 256) return sha(s);
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 32 || c === 95 || c === 46 || c === 45) out += s[i];
    else out += '\\u' + c.toString(16).toUpperCase().padStart(4, '0');
  }
  return out;
}
function bitsDouble(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  const dv = new DataView(new ArrayBuffer(8));
  dv.setFloat64(0, v);
  return dv.getBigUint64(0).toString(16).padStart(16, '0');
}
function bitsSingle(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  const dv = new DataView(new ArrayBuffer(4));
  dv.setFloat32(0, v);
  return dv.getUint32(0).toString(16).padStart(8, '0');
}

const NET_TYPES: Record<string, string[]> = {
  S: ['System.String'],
  SBK: ['System.String'],
  C: ['System.Char', 'System.ValueType'],
  B: ['System.Boolean', 'System.ValueType'],
  DT: ['System.DateTime', 'System.ValueType'],
  TS: ['System.TimeSpan', 'System.ValueType'],
  By: ['System.Byte', 'System.ValueType'],
  SB: ['System.SByte', 'System.ValueType'],
  U16: ['System.UInt16', 'System.ValueType'],
  I16: ['System.Int16', 'System.ValueType'],
  U32: ['System.UInt32', 'System.ValueType'],
  I32: ['System.Int32', 'System.ValueType'],
  U64: ['System.UInt64', 'System.ValueType'],
  I64: ['System.Int64', 'System.ValueType'],
  Sg: ['System.Single', 'System.ValueType'],
  Db: ['System.Double', 'System.ValueType'],
  D: ['System.Decimal', 'System.ValueType'],
  BA: ['System.Byte[]', 'System.Array'],
  G: ['System.Guid', 'System.ValueType'],
  URI: ['System.Uri'],
  Version: ['System.Version'],
  XD: ['System.Xml.XmlDocument', 'System.Xml.XmlNode'],
  SS: ['System.Security.SecureString'],
};
function tagOf(v: ClixmlValue): string | undefined {
  if (typeof v === 'string') return 'S';
  if (typeof v === 'boolean') return 'B';
  if (typeof v === 'number') return 'I32';
  if (v instanceof PSPrimitive) return v.tag;
  return undefined;
}

export function primDump(v: ClixmlValue): string {
  if (v === null) return 'N';
  if (typeof v === 'string') return 'S:' + esc(v);
  if (typeof v === 'boolean') return `B:${v}`;
  if (typeof v === 'number') return Number.isInteger(v) ? `I32:${v}` : `Db:${bitsDouble(v)}`;
  if (!(v instanceof PSPrimitive)) throw new Error('not a primitive');
  const x = v.value;
  switch (v.tag) {
    case 'S':
    case 'SBK':
      return 'S:' + esc(x as string);
    case 'Sg':
      return 'Sg:' + bitsSingle(x as number);
    case 'Db':
      return 'Db:' + bitsDouble(x as number);
    case 'D':
      return 'D:' + String(x).replace(/^\+/, '');
    case 'B':
      return `B:${x}`;
    case 'DT': {
      const d = x as PSDateTime;
      return `DT:${d.kind}:${d.kind === 'Local' ? d.utcTicks : d.ticks}`;
    }
    case 'TS':
      return `TS:${(x as PSTimeSpan).ticks}`;
    case 'BA':
      return 'BA:' + toBase64(x as Uint8Array);
    case 'URI':
    case 'XD':
      return `${v.tag}:` + esc(x as string);
    case 'SS':
      return 'SS:' + sha((x as PSSecureString).reveal());
    default:
      return `${v.tag}:${String(x)}`;
  }
}

function isPR(o: PSObject): boolean {
  return o.typeNames[0] === 'System.Management.Automation.ProgressRecord' && o.adapted.has('Activity');
}

/** Canonical dump of a value WE deserialized (same rules as clixml-dump.cs). */
export function canonicalDump(v: ClixmlValue): string {
  const stack = new Set<PSObject>();
  const all = new Set<PSObject>();
  const go = (x: ClixmlValue): string => {
    if (!(x instanceof PSObject)) return primDump(x);
    if (x.isType('System.Management.Automation.PSCredential') && x.adapted.has('UserName')) {
      const pw = x.adapted.get('Password');
      const u = x.adapted.get('UserName');
      const secret = pw instanceof PSPrimitive && pw.tag === 'SS' ? sha((pw.value as PSSecureString).reveal()) : 'N';
      return `CRED:${typeof u === 'string' ? esc(u) : 'N'}:${secret}`;
    }
    if (isPR(x)) {
      const a = (n: string) => x.adapted.get(n) as ClixmlValue;
      const co = a('CurrentOperation');
      return (
        `PR:${esc(a('Activity') as string)}:${a('ActivityId')}:` +
        `${co === null || co === undefined ? 'N' : esc(co as string)}:${a('ParentActivityId')}` +
        `:${a('PercentComplete')}:${a('RecordType') ?? 'Processing'}:${a('SecondsRemaining')}:${esc(a('StatusDescription') as string)}`
      );
    }
    if (stack.has(x)) return 'CYCLE';
    stack.add(x);
    all.add(x);
    try {
      let tn = x.typeNames;
      if (!tn.length && x.value !== undefined && x.value !== null) {
        const t = tagOf(x.value as ClixmlValue);
        if (t) tn = [...NET_TYPES[t]!, 'System.Object'];
      }
      let s = 'O<' + tn.map((t) => esc(t.startsWith('Deserialized.') ? t.slice(13) : t)).join(',') + '>';
      if (x.toStringValue !== undefined) s += `{ts=${esc(x.toStringValue)}}`;
      const c = x.collection;
      if (c instanceof PSDict) {
        const entries = c.entries.map(([k, val]) => go(k as ClixmlValue) + '=>' + go(val as ClixmlValue));
        if (!x.isType('System.Collections.Specialized.OrderedDictionary')) entries.sort((p, q) => (p < q ? -1 : p > q ? 1 : 0));
        s += `{D[${entries.join(';')}]}`;
      } else if (c instanceof PSList) {
        s += `{${c.kind === 'STK' ? 'STK' : c.kind === 'QUE' ? 'QUE' : 'L'}[${c.items.map((i) => go(i as ClixmlValue)).join(';')}]}`;
      } else if (x.value !== undefined) {
        s += `{v=${go(x.value as ClixmlValue)}}`;
      }
      const bag = !c && x.value === undefined;
      if (bag && x.adapted.size) s += `{a:${[...x.adapted].map(([k, val]) => esc(k) + '=' + go(val as ClixmlValue)).join(';')}}`;
      if (x.extended.size) s += `{p:${[...x.extended].map(([k, val]) => esc(k) + '=' + go(val as ClixmlValue)).join(';')}}`;
      return s;
    } finally {
      stack.delete(x);
    }
  };
  const d = go(v);
  return `${d} #objs=${all.size}`;
}

// ---- running pwsh ----------------------------------------------------------------------------------------

export const DUMPER_CS = join(PROJECT_ROOT, 'test', 'peers', 'fixtures', 'clixml-dump.cs');

function psQuote(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

export function runPwsh(
  pwsh: string,
  script: string,
  opts: { timeoutMs?: number } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const dir = mkdtempSync(join(tmpdir(), 'winrm-ts-pwsh-'));
    const file = join(dir, 'run.ps1');
    writeFileSync(file, '\uFEFF' + script);
    const child = spawn(pwsh, ['-NoLogo', '-NoProfile', '-NonInteractive', '-File', file], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 240_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
      reject(e);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      rmSync(dir, { recursive: true, force: true });
      resolve({ code, stdout, stderr });
    });
  });
}

const prelude = (): string => `$ErrorActionPreference = 'Stop'\nAdd-Type -TypeDefinition ([IO.File]::ReadAllText(${psQuote(DUMPER_CS)}))\n`;

export interface Reference {
  clixml?: string;
  dump?: string;
  error?: string;
}

/**
 * ONE pwsh run: for each case, CLIXML from [PSSerializer]::Serialize and the canonical dump of pwsh's own
 * deserialization of it.
 */
export async function pwshReference(pwsh: string, cases: CorpusCase[] = CORPUS, depthOverride?: number): Promise<Map<string, Reference>> {
  const out = mkdtempSync(join(tmpdir(), 'winrm-ts-corpus-'));
  try {
    let script = prelude();
    script += `$out = ${psQuote(out)}\n`;
    cases.forEach((c, i) => {
      const depth = depthOverride ?? c.depth ?? 2;
      script +=
        `try { $v = ${c.expr}\n  $x = [WinrmTsClixmlDump]::Serialize($v, ${depth})\n` +
        `  [IO.File]::WriteAllText("$out/${i}.xml", $x)\n  [IO.File]::WriteAllText("$out/${i}.dump", [WinrmTsClixmlDump]::DumpXml($x))\n` +
        `} catch { [IO.File]::WriteAllText("$out/${i}.err", "$_") }\n`;
    });
    const r = await runPwsh(pwsh, script);
    if (r.code !== 0) throw new Error(`pwsh failed (${r.code}): ${r.stderr.slice(0, 2000)}`);
    const res = new Map<string, Reference>();
    cases.forEach((c, i) => {
      const p = (ext: string) => join(out, `${i}.${ext}`);
      res.set(
        c.name,
        existsSync(p('err'))
          ? { error: readFileSync(p('err'), 'utf8') }
          : { clixml: readFileSync(p('xml'), 'utf8'), dump: readFileSync(p('dump'), 'utf8') },
      );
    });
    return res;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/** ONE pwsh run: pwsh deserializes each CLIXML document (ours) and dumps it. */
export async function pwshDumpDocuments(pwsh: string, docs: Array<[string, string]>): Promise<Map<string, Reference>> {
  const dir = mkdtempSync(join(tmpdir(), 'winrm-ts-corpus-rev-'));
  try {
    let script = prelude() + `$dir = ${psQuote(dir)}\n`;
    docs.forEach(([, xml], i) => {
      writeFileSync(join(dir, `${i}.xml`), xml);
      script +=
        `try { [IO.File]::WriteAllText("$dir/${i}.dump", [WinrmTsClixmlDump]::DumpXml([IO.File]::ReadAllText("$dir/${i}.xml"))) } ` +
        `catch { [IO.File]::WriteAllText("$dir/${i}.err", "$_") }\n`;
    });
    const r = await runPwsh(pwsh, script);
    if (r.code !== 0) throw new Error(`pwsh failed (${r.code}): ${r.stderr.slice(0, 2000)}`);
    const res = new Map<string, Reference>();
    docs.forEach(([name], i) => {
      const p = (ext: string) => join(dir, `${i}.${ext}`);
      res.set(name, existsSync(p('err')) ? { error: readFileSync(p('err'), 'utf8') } : { dump: readFileSync(p('dump'), 'utf8') });
    });
    return res;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface CorpusResult {
  name: string;
  ok: boolean;
  expected?: string;
  actual?: string;
  error?: string;
}

/**
 * Run the corpus through any transport. `getValue(c)` returns the deserialized value of `c.expr` as the
 * transport delivered it (e.g. the single output object of `Write-Output -NoEnumerate (EXPR)`); the reference
 * is pwsh's own deserialization of `[PSSerializer]::Serialize(EXPR, depth)` (use `depth` to match the
 * transport: PSRP output is serialized at depth 1). Values are compared through `canonicalDump`.
 */
export async function runCorpus(
  getValue: (c: CorpusCase) => Promise<ClixmlValue>,
  opts: { pwsh: string; cases?: CorpusCase[]; depth?: number; all?: boolean; reference?: Map<string, Reference> },
): Promise<CorpusResult[]> {
  const cases = (opts.cases ?? CORPUS).filter((c) => opts.all || !c.localOnly);
  // `reference`: pwshReference(pwsh, cases, depth) computed beforehand (e.g. while the session opens)
  const ref = opts.reference ?? (await pwshReference(opts.pwsh, cases, opts.depth));
  const out: CorpusResult[] = [];
  for (const c of cases) {
    const r = ref.get(c.name)!;
    if (r.error !== undefined) {
      out.push({ name: c.name, ok: false, error: `pwsh: ${r.error}` });
      continue;
    }
    try {
      const actual = canonicalDump(await getValue(c));
      out.push({ name: c.name, ok: actual === r.dump, expected: r.dump, actual });
    } catch (e) {
      out.push({ name: c.name, ok: false, expected: r.dump, error: String((e as Error).stack ?? e) });
    }
  }
  return out;
}

/**
 * `getValue` for a PSRP session: invokes `$v = EXPR` then `,$v`, which emits $v as ONE object (Write-Output
 * -NoEnumerate wraps scalars in a List in PowerShell 7); remote errors or another number of objects fail the case.
 */
export const sessionValue =
  (s: Pick<Session, 'invoke'>) =>
  async (c: CorpusCase): Promise<ClixmlValue> => {
    const r = await s.invoke(`$v = ${c.expr}\n,$v`);
    if (r.hadErrors) throw new Error(`remote errors: ${r.streams.error.length}`);
    if (r.output.length !== 1) throw new Error(`expected one output object, got ${r.output.length}`);
    return r.output[0] as ClixmlValue;
  };

/** One line per failed case (`name: error or first difference`), for `assert.deepEqual(corpusFailures(results), [])`. */
export function corpusFailures(results: CorpusResult[], except: (name: string) => boolean = () => false): string[] {
  return results.filter((r) => !r.ok && !except(r.name)).map((r) => `${r.name}: ${r.error ?? diffAt(r.expected, r.actual)}`);
}

/** First differing position of two dumps, for readable failures. */
export function diffAt(a = '', b = ''): string {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return `at ${i}: expected …${a.slice(Math.max(0, i - 80), i + 120)}… got …${b.slice(Math.max(0, i - 80), i + 120)}…`;
}

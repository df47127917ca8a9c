/**
 * Bench: CLIXML deserialization throughput (objects/s, MB/s) for the output of
 *   1..200000 | % { [pscustomobject]@{ i = $_; s = "x$_" } }
 * serialized ONCE by the real PowerShell, then deserialized (a) by us and (b) by PowerShell itself in the same
 * kind of loop (the limit), in two shapes:
 *   document: one Export-Clixml document with 200 000 top-level objects (TNRefs shared across the document)
 *   messages: 200 000 separate CLIXML strings, one per object (what PSRP delivers: one message per object)
 * Each side is warmed up, then timed twice; the best run counts. CPU time is reported with wall time.
 * Run: node --import tsx bench/clixml-deserialize.ts [--count 200000] [--json bench/results/<date>-clixml.json]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deserializeDocument } from '../src/clixml/index.js';
import { findPwsh } from '../test/helpers/peers.js';

const args = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const COUNT = Number(opt('--count') ?? 200_000);
const pwsh = findPwsh();
if (!pwsh) {
  console.error('PowerShell 7.6.9 not found (npm run peers:install)');
  process.exit(2);
}

const dir = mkdtempSync(join(tmpdir(), 'winrm-ts-bench-clixml-'));
const psLimit = `
Add-Type -TypeDefinition @'
using System; using System.Diagnostics; using System.Management.Automation;
public static class WinrmTsBench {
  public static double Doc(string xml) {
    var sw = Stopwatch.StartNew(); var l = PSSerializer.DeserializeAsList(xml);
    if (l.Length == 0) throw new Exception(); return sw.Elapsed.TotalMilliseconds;
  }
  public static double Msgs(string[] xs) {
    var sw = Stopwatch.StartNew(); int n = 0;
    foreach (var x in xs) { if (PSSerializer.Deserialize(x) != null) n++; }
    if (n != xs.Length) throw new Exception(); return sw.Elapsed.TotalMilliseconds;
  }
  public static double Cpu() { return Process.GetCurrentProcess().TotalProcessorTime.TotalMilliseconds; }
}
'@
$dir = '${dir}'
$objs = 1..${COUNT} | % { [pscustomobject]@{ i = $_; s = "x$_" } }
$objs | Export-Clixml -Path "$dir/doc.xml" -Depth 1 -Encoding utf8NoBOM
$msgs = [string[]]($objs | % { [System.Management.Automation.PSSerializer]::Serialize($_, 1) })
[IO.File]::WriteAllLines("$dir/msgs.txt", [string[]]($msgs | % { $_.Replace("\`r", '').Replace("\`n", ' ') }))
$doc = [IO.File]::ReadAllText("$dir/doc.xml")
# warm-up (JIT) on a prefix
$null = [WinrmTsBench]::Doc(($doc.Substring(0, 0) + (Get-Content "$dir/doc.xml" -TotalCount 2000 | Out-String) + '</Objs>'))
$null = [WinrmTsBench]::Msgs($msgs[0..1999])
$r = @{}
$c0 = [WinrmTsBench]::Cpu(); $d1 = [WinrmTsBench]::Doc($doc); $d2 = [WinrmTsBench]::Doc($doc); $c1 = [WinrmTsBench]::Cpu()
$m1 = [WinrmTsBench]::Msgs($msgs); $m2 = [WinrmTsBench]::Msgs($msgs); $c2 = [WinrmTsBench]::Cpu()
@{ docMs = [math]::Min($d1, $d2); docCpuMs = ($c1 - $c0) / 2
   msgMs = [math]::Min($m1, $m2); msgCpuMs = ($c2 - $c1) / 2 } | ConvertTo-Json -Compress
`;
writeFileSync(join(dir, 'bench.ps1'), psLimit);
console.error(`pwsh: serializing ${COUNT} objects and timing its own deserializer ...`);
const r = spawnSync(pwsh, ['-NoLogo', '-NoProfile', '-NonInteractive', '-File', join(dir, 'bench.ps1')], {
  encoding: 'utf8',
  maxBuffer: 1 << 26,
  timeout: 900_000,
});
if (r.status !== 0) {
  console.error(r.stderr);
  process.exit(1);
}
const lim = JSON.parse(r.stdout.trim().split('\n').pop()!) as { docMs: number; docCpuMs: number; msgMs: number; msgCpuMs: number };
const doc = readFileSync(join(dir, 'doc.xml'), 'utf8');
const msgs = readFileSync(join(dir, 'msgs.txt'), 'utf8').split('\n').filter(Boolean);
rmSync(dir, { recursive: true, force: true });
if (msgs.length !== COUNT) throw new Error(`expected ${COUNT} messages, got ${msgs.length}`);

function time(fn: () => void): { ms: number; cpuMs: number } {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  fn();
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  const c = process.cpuUsage(c0);
  return { ms, cpuMs: (c.user + c.system) / 1000 };
}
const opts = { maxLength: 1 << 30 };
// warm-up
deserializeDocument(doc.slice(0, doc.indexOf('</Obj>', 200_000) + 6) + '</Objs>', opts);
for (let i = 0; i < 2000; i++) deserializeDocument(msgs[i]!);
let n = 0;
const docRuns = [
  time(() => {
    n = deserializeDocument(doc, opts).length;
  }),
  time(() => {
    n = deserializeDocument(doc, opts).length;
  }),
];
if (n !== COUNT) throw new Error(`document gave ${n} objects`);
const msgRuns = [
  time(() => {
    for (const m of msgs) deserializeDocument(m);
  }),
  time(() => {
    for (const m of msgs) deserializeDocument(m);
  }),
];
const best = (xs: Array<{ ms: number; cpuMs: number }>) => xs.reduce((a, b) => (b.ms < a.ms ? b : a));
const docMb = Buffer.byteLength(doc) / 1048576;
const msgMb = msgs.reduce((a, m) => a + Buffer.byteLength(m), 0) / 1048576;
const row = (name: string, ms: number, mb: number) => ({
  name,
  ms: Math.round(ms),
  objectsPerSec: Math.round(COUNT / (ms / 1000)),
  mbPerSec: Number((mb / (ms / 1000)).toFixed(1)),
});
const ours = { doc: best(docRuns), msg: best(msgRuns) };
const result = {
  date: new Date().toISOString(),
  node: process.version,
  pwsh: '7.6.9',
  count: COUNT,
  documentMB: Number(docMb.toFixed(1)),
  messagesMB: Number(msgMb.toFixed(1)),
  rows: [
    row('winrm-ts deserializeDocument, one document', ours.doc.ms, docMb),
    row('pwsh PSSerializer.DeserializeAsList, one document (limit)', lim.docMs, docMb),
    row('winrm-ts, 200k separate messages', ours.msg.ms, msgMb),
    row('pwsh PSSerializer.Deserialize, 200k separate messages (limit)', lim.msgMs, msgMb),
  ],
  ratioDocument: Number((ours.doc.ms / lim.docMs).toFixed(2)),
  ratioMessages: Number((ours.msg.ms / lim.msgMs).toFixed(2)),
  note: 'ratio = our time / pwsh time (1.0 = as fast as PowerShell itself; lower is better). 2-core VM shared with other work.',
};
console.log(JSON.stringify(result, null, 2));
const out = opt('--json');
if (out) {
  writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  const md = [
    `# CLIXML deserialization bench (${result.date.slice(0, 10)}, Node ${result.node}, pwsh ${result.pwsh})`,
    '',
    `Input: \`1..${COUNT} | % { [pscustomobject]@{ i = $_; s = "x$_" } }\`, serialized once by pwsh (depth 1).`,
    `Document ${result.documentMB} MB (Export-Clixml); messages ${result.messagesMB} MB (one PSSerializer string per object).`,
    '',
    '| what | ms | objects/s | MB/s |',
    '|---|---:|---:|---:|',
    ...result.rows.map((x) => `| ${x.name} | ${x.ms} | ${x.objectsPerSec} | ${x.mbPerSec} |`),
    '',
    `Ratio (ours / pwsh): document ${result.ratioDocument}, messages ${result.ratioMessages}. ${result.note}`,
    `Load average during the run: ${(await import('node:os'))
      .loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')}.`,
    '',
  ].join('\n');
  writeFileSync(out.replace(/\.json$/, '.md'), md);
}

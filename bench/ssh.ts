/**
 * Bench: PSRP over SSH, our client vs real PowerShell as the client, over the same private OpenSSH sshd
 * (test/peers/fixtures/sshd, `powershell` subsystem → pwsh 7.6.9 -sshs), key auth, one session each:
 *  1. warm invoke latency of `1+1` (median and p90 of N invokes after warm-up);
 *  2. object throughput of `1..20000 | % { [pscustomobject]@{ i = $_ } }` (objects/s, best of R runs).
 * Real pwsh is started once; its timings are measured inside pwsh with a Stopwatch around each
 * `Invoke-Command -Session $s` on one PSSession (New-PSSession -HostName). Ours: process.hrtime around each
 * `session.invoke`. The two run one after the other, never at the same time.
 * Run: node --import tsx bench/ssh.ts [--n 50] [--runs 3] [--objects 20000] [--out bench/results]
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { Session } from '../src/index.js';
import { startSshd, sshdPresent, type SshdPeer, sshSessionOptions } from '../test/peers/fixtures/sshd/sshd.js';
import { arg, invokeLatencies, outDir, quantile, throughputRuns } from './lib.js';

const N = Number(arg('--n', '50'));
const RUNS = Number(arg('--runs', '3'));
const OBJECTS = Number(arg('--objects', '20000'));
const OUT = outDir();
const THROUGHPUT = `1..${OBJECTS} | ForEach-Object { [pscustomobject]@{ i = $_ } }`;

interface Side {
  latencyMedianMs: number;
  latencyP90Ms: number;
  latencyMinMs: number;
  objectsPerSec: number;
  throughputRunsMs: number[];
  openMs: number;
}

async function ours(peer: SshdPeer): Promise<Side> {
  const t0 = performance.now();
  const s = await Session.open({
    ...sshSessionOptions(peer),
  });
  const openMs = performance.now() - t0;
  try {
    const lat = await invokeLatencies(s, N);
    const runs = await throughputRuns(s, THROUGHPUT, RUNS, OBJECTS);
    return {
      latencyMedianMs: quantile(lat, 0.5),
      latencyP90Ms: quantile(lat, 0.9),
      latencyMinMs: Math.min(...lat),
      objectsPerSec: OBJECTS / (Math.min(...runs) / 1000),
      throughputRunsMs: runs,
      openMs,
    };
  } finally {
    await s.close();
  }
}

function pwshSide(peer: SshdPeer): Promise<Side> {
  const script =
    `
$ErrorActionPreference = 'Stop'
$sw = [Diagnostics.Stopwatch]::StartNew()
$s = New-PSSession -HostName 127.0.0.1 -Port ${peer.port} -UserName ${peer.user} -KeyFilePath '${peer.keyPath}' ` +
    `-Options @{ UserKnownHostsFile = '${peer.knownHosts}'; StrictHostKeyChecking = 'yes'; BatchMode = 'yes' }
$openMs = $sw.Elapsed.TotalMilliseconds
try {
  1..5 | ForEach-Object { $null = Invoke-Command -Session $s -ScriptBlock { 1+1 } }
  $lat = foreach ($i in 1..${N}) { $sw.Restart(); $r = Invoke-Command -Session $s -ScriptBlock { 1+1 }; ` +
    `$sw.Elapsed.TotalMilliseconds; if ($r -ne 2) { throw '1+1' } }
  $sb = [scriptblock]::Create('${THROUGHPUT}')
  $null = Invoke-Command -Session $s -ScriptBlock $sb
  $runs = foreach ($i in 1..${RUNS}) { $sw.Restart(); $r = Invoke-Command -Session $s -ScriptBlock $sb; ` +
    `$sw.Elapsed.TotalMilliseconds; if ($r.Count -ne ${OBJECTS}) { throw "count $($r.Count)" } }
  [pscustomobject]@{ lat = @($lat); runs = @($runs); openMs = $openMs } | ConvertTo-Json -Compress
} finally { Remove-PSSession $s }
`;
  const dir = mkdtempSync(join(tmpdir(), 'winrm-ts-bench-ssh-'));
  writeFileSync(join(dir, 'bench.ps1'), script);
  return new Promise<Side>((resolve, reject) => {
    const c = spawn(peer.pwsh, ['-NoLogo', '-NoProfile', '-NonInteractive', '-File', join(dir, 'bench.ps1')], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    c.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    c.stderr.setEncoding('utf8').on('data', (d: string) => {
      err += d;
    });
    c.on('error', reject);
    c.on('close', (code) => {
      const line = out
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .pop();
      if (code !== 0 || !line) {
        reject(new Error(`pwsh failed (${code}): ${err.slice(0, 2000)}${out.slice(0, 500)}`));
        return;
      }
      const j = JSON.parse(line) as { lat: number[]; runs: number[]; openMs: number };
      resolve({
        latencyMedianMs: quantile(j.lat, 0.5),
        latencyP90Ms: quantile(j.lat, 0.9),
        latencyMinMs: Math.min(...j.lat),
        objectsPerSec: OBJECTS / (Math.min(...j.runs) / 1000),
        throughputRunsMs: j.runs,
        openMs: j.openMs,
      });
    });
  }).finally(() => rmSync(dir, { recursive: true, force: true }));
}

if (!sshdPresent()) {
  console.error('bench ssh: needs /usr/sbin/sshd, pwsh (npm run peers:install) and root');
  process.exit(1);
}
const load0 = loadavg();
const peer = await startSshd();
let a: Side, b: Side;
try {
  a = await ours(peer);
  b = await pwshSide(peer);
} finally {
  await peer.stop();
}
const load1 = loadavg();
const date = new Date();
const f = (x: number, d = 1) => x.toFixed(d);
const md =
  `# PSRP over SSH bench (${date.toISOString()})

Node ${process.version}, ${cpus().length} x ${cpus()[0]?.model.trim()}, ${Math.round(totalmem() / 2 ** 30)} GB; load ` +
  `average ${load0.map((x) => f(x, 1)).join(' ')} → ${load1.map((x) => f(x, 1)).join(' ')} (a shared machine: absolute ` +
  `figures are noisy, the ratio less so).
Server: OpenSSH sshd (Debian) on 127.0.0.1, \`Subsystem powershell pwsh -sshs -NoLogo -NoProfile\` (PowerShell ` +
  `7.6.9); key auth; one session per client.
Ours: \`Session.open({ transport: 'ssh' })\` (ssh2). pwsh: \`New-PSSession -HostName\` once, Stopwatch around ` +
  `each \`Invoke-Command -Session\`.

| metric | winrm-ts (ssh2) | pwsh 7.6.9 Invoke-Command -HostName | ratio (ours / pwsh) |
|---|---|---|---|
| warm \`1+1\` latency, median of ${N} (ms) | ${f(a.latencyMedianMs)} | ${f(b.latencyMedianMs)} ` +
  `| ${f(a.latencyMedianMs / b.latencyMedianMs, 2)}x (lower is better) |
| warm \`1+1\` latency, p90 (ms) | ${f(a.latencyP90Ms)} | ${f(b.latencyP90Ms)} | ${f(a.latencyP90Ms / b.latencyP90Ms, 2)}x |
| warm \`1+1\` latency, min (ms) | ${f(a.latencyMinMs)} | ${f(b.latencyMinMs)} | ${f(a.latencyMinMs / b.latencyMinMs, 2)}x |
| ${OBJECTS} pscustomobjects, best of ${RUNS} (objects/s) | ${Math.round(a.objectsPerSec)} ` +
  `| ${Math.round(b.objectsPerSec)} | ${f(a.objectsPerSec / b.objectsPerSec, 2)}x (higher is better) |
| throughput runs (ms) | ${a.throughputRunsMs.map((x) => Math.round(x)).join(', ')} ` +
  `| ${b.throughputRunsMs.map((x) => Math.round(x)).join(', ')} | |
| session open incl. SSH handshake + remote pwsh start (ms, one sample) | ${Math.round(a.openMs)} | ${Math.round(b.openMs)} | |
`;
mkdirSync(OUT, { recursive: true });
const stem = join(OUT, `${date.toISOString().slice(0, 10)}-ssh`);
writeFileSync(stem + '.md', md);
writeFileSync(
  stem + '.json',
  JSON.stringify(
    {
      date: date.toISOString(),
      node: process.version,
      cpus: cpus().length,
      loadavg: [load0, load1],
      n: N,
      runs: RUNS,
      objects: OBJECTS,
      ours: a,
      pwsh: b,
    },
    null,
    2,
  ) + '\n',
);
console.log(md);

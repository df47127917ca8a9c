/**
 * Bench: PSRP over OutOfProc against the real PowerShell (`pwsh -s`).
 *  1. warm invoke latency of `1+1` (pool already open; median and p90 of N invokes)
 *  2. throughput of `1..200000 | % { [pscustomobject]@{ i = $_; s = "x$_" } }` received and deserialized by us
 *     (objects/s, MB/s of PSRP payload), side by side with the same pwsh running the same script locally with its
 *     output discarded (the limit: producing the objects, no transport) -> ratio.
 *  3. PowerShell's own client over the same transport (Start-Job -> pwsh -s, Receive-Job) for the same script.
 * Run: node --import tsx bench/psrp-outofproc.ts [--count 200000] [--invokes 50] [--json bench/results/<date>-psrp.json]
 */
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { Session, OutOfProcTransport, type DuplexLike } from '../src/index.js';
import { findPwsh } from '../test/helpers/peers.js';
import { invokeLatencies, quantile } from './lib.js';

const args = process.argv.slice(2);
const opt = (n: string): string | undefined => {
  const i = args.indexOf(n);
  return i >= 0 ? args[i + 1] : undefined;
};
const COUNT = Number(opt('--count') ?? 200_000);
const INVOKES = Number(opt('--invokes') ?? 50);
const pwsh = findPwsh();
if (!pwsh) {
  console.error('PowerShell 7.6.9 not found (npm run peers:install)');
  process.exit(2);
}

// our own child edge so the bytes can be counted
const child = spawn(pwsh, ['-s', '-NoLogo', '-NoProfile'], {
  stdio: ['pipe', 'pipe', 'inherit'],
  env: { ...process.env, POWERSHELL_TELEMETRY_OPTOUT: '1' },
});
let bytesIn = 0;
const duplex: DuplexLike = {
  write: (c) => child.stdin.write(c),
  on: ((ev: string, cb: (...a: never[]) => void) => {
    if (ev === 'data')
      child.stdout.on('data', (d: Buffer) => {
        bytesIn += d.length;
        (cb as (d: Buffer) => void)(d);
      });
    else if (ev === 'close' || ev === 'end') child.on('close', cb as () => void);
    else if (ev === 'error') child.on('error', cb as (e: Error) => void);
  }) as DuplexLike['on'],
  end: () => child.stdin.end(),
};
const transport = new OutOfProcTransport(duplex, {
  kind: 'process',
  destroy: () => {
    child.kill();
  },
});

const t0 = performance.now();
const s = await Session.open({ transport });
const openMs = performance.now() - t0;
const lat = await invokeLatencies(s, INVOKES);
const median = quantile(lat, 0.5);
const p90 = quantile(lat, 0.9);

const script = `1..${COUNT} | % { [pscustomobject]@{ i = $_; s = "x$_" } }`;
await s.invoke(`1..1000 | % { [pscustomobject]@{ i = $_; s = "x$_" } }`); // warm the remote side too
let best = Infinity;
let bestBytes = 0;
let cpu = 0;
for (let run = 0; run < 2; run++) {
  const b0 = bytesIn;
  const c0 = process.cpuUsage();
  const a = performance.now();
  let n = 0;
  for await (const ev of s.stream(script)) if (ev.type === 'output') n++;
  const ms = performance.now() - a;
  if (n !== COUNT) throw new Error(`got ${n} objects`);
  if (ms < best) {
    best = ms;
    bestBytes = bytesIn - b0;
    const c = process.cpuUsage(c0);
    cpu = (c.user + c.system) / 1000;
  }
}
await s.close();

// the limit: the same pwsh producing the same objects locally, output discarded
const local = spawnSync(
  pwsh,
  [
    '-NoLogo',
    '-NoProfile',
    '-NonInteractive',
    '-c',
    `$null = ${script}; $best = [double]::MaxValue; foreach ($k in 1..2) { $t = Measure-Command { $null = ${script} }; if ` +
      `($t.TotalMilliseconds -lt $best) { $best = $t.TotalMilliseconds } }; $best`,
  ],
  { encoding: 'utf8' },
);
const localMs = Number(local.stdout.trim().split('\n').pop());
// PowerShell's own client over the same transport: Start-Job runs the script in a `pwsh -s` child over OutOfProc
const job = spawnSync(
  pwsh,
  [
    '-NoLogo',
    '-NoProfile',
    '-NonInteractive',
    '-c',
    `$null = Start-Job { 1 } | Receive-Job -Wait -AutoRemoveJob; $t = Measure-Command { $r = Start-Job { ${script} } | ` +
      `Receive-Job -Wait -AutoRemoveJob }; if ($r.Count -ne ${COUNT}) { throw 'count' }; $t.TotalMilliseconds`,
  ],
  { encoding: 'utf8' },
);
const jobMs = Number(job.stdout.trim().split('\n').pop());

const result = {
  date: new Date().toISOString(),
  pwsh,
  count: COUNT,
  openMs: Math.round(openMs),
  warmInvoke1plus1: { invokes: INVOKES, medianMs: +median.toFixed(2), p90Ms: +p90.toFixed(2) },
  throughput: {
    oursMs: Math.round(best),
    objectsPerS: Math.round(COUNT / (best / 1000)),
    mbPerS: +(bestBytes / 1e6 / (best / 1000)).toFixed(1),
    payloadMB: +(bestBytes / 1e6).toFixed(1),
    clientCpuMs: Math.round(cpu),
    pwshLocalMs: Math.round(localMs),
    ratioVsLocal: +(best / localMs).toFixed(2),
    pwshStartJobMs: Math.round(jobMs),
    ratioVsPwshClient: +(best / jobMs).toFixed(2),
  },
};
console.log(JSON.stringify(result, null, 2));
const out = opt('--json');
if (out) {
  writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  writeFileSync(
    out.replace(/\.json$/, '.md'),
    `# PSRP over OutOfProc (pwsh -s) — ${result.date}\n\n` +
      `| measure | value |\n|---|---|\n| pool open (process start included) | ${result.openMs} ms |\n` +
      `| warm invoke \`1+1\` median / p90 (${INVOKES} runs) | ${result.warmInvoke1plus1.medianMs} / ` +
      `${result.warmInvoke1plus1.p90Ms} ms |\n` +
      `| ${COUNT} pscustomobjects received + deserialized | ${result.throughput.oursMs} ms (${result.throughput.objectsPerS} ` +
      `objects/s, ${result.throughput.mbPerS} MB/s of ${result.throughput.payloadMB} MB OutOfProc text; client CPU ` +
      `${result.throughput.clientCpuMs} ms) |\n` +
      `| same script in pwsh locally, output discarded (the limit) | ${result.throughput.pwshLocalMs} ms |\n` +
      `| ratio ours / local | ${result.throughput.ratioVsLocal} |\n` +
      `| PowerShell's own client, same transport (Start-Job + Receive-Job) | ${result.throughput.pwshStartJobMs} ms |\n` +
      `| ratio ours / pwsh client | ${result.throughput.ratioVsPwshClient} |\n\n` +
      `Machine: 2 shared cores, other work running; best of 2 runs. Client CPU is ` +
      `${Math.round((100 * result.throughput.clientCpuMs) / result.throughput.oursMs)} % of the wall time: ` +
      'the rest is the remote pwsh serializing and writing one PSRP message per object.\n',
  );
}

/**
 * Bench: WinRS (cmd shell) over HTTP + Basic against one `winrm-ts serve` endpoint (a separate process), our
 * client side by side with pywinrm 0.3.0 and Go masterzen/winrm in the same run:
 *  1. round trips (HTTP requests) for a short `run`, shell open and close included;
 *  2. a command writing 200 MB to stdout: MB/s per client, and our client's peak RSS (no whole-output buffering);
 *  3. 200 sequential short commands on one shell: commands/s (ours vs pywinrm).
 * Run: node --import tsx bench/winrs.ts [--mb 200] [--n 200] [--out bench/results]
 * Writes <out>/<date>-winrs.md and .json with machine info. A missing peer is noted, not fatal.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { cpus, tmpdir, totalmem, release, platform, loadavg } from 'node:os';
import { join } from 'node:path';
// @ts-expect-error plain ESM helper without types
import { goPeer } from '../test/peers/fixtures/go/build.mjs';
import { arg, outDir, PASSWORD, ROOT, startServe, USER } from './lib.js';

const MB = Number(arg('--mb', '200'));
const N = Number(arg('--n', '200'));
const OUT = outDir();
const BYTES = MB * 1024 * 1024;

function run(cmd: string, args: string[], timeoutMs = 900_000): Promise<{ code: number; stdout: string; stderr: string; seconds: number }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, maxBuffer: 1 << 20, cwd: ROOT }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr, seconds: (performance.now() - t0) / 1000 });
    });
  });
}
const lastJson = (s: string) => JSON.parse(s.trim().split('\n').pop()!);

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'winrm-ts-bench-'));
  const { url, child: serve } = await startServe(dir, ['--auth', 'basic', '--allow-unencrypted']);
  // our client from the compiled build when there is one (`npm run bench` builds first), else through tsx
  const compiled = join(ROOT, 'dist/bench/winrs-client.js');
  const clientArgv = existsSync(compiled) ? [compiled] : ['--import', 'tsx', join(ROOT, 'bench/winrs-client.ts')];
  const ours = (mode: string, a = '', mes?: number) =>
    run(process.execPath, [...clientArgv, url, USER, PASSWORD, mode, a, ...(mes ? [String(mes)] : [])]);
  const hasPy = existsSync('/usr/lib/python3/dist-packages/winrm');
  const py = (...a: string[]) =>
    run('/usr/bin/python3', [join(ROOT, 'test/peers/fixtures/pywinrm_driver.py'), url, USER, PASSWORD, 'basic', ...a]);
  let go: string | undefined;
  try {
    go = goPeer();
  } catch {
    go = undefined;
  }
  const results: Record<string, unknown> = {};
  const notes: string[] = [];
  try {
    // 1. round trips
    const rtOurs = lastJson((await ours('roundtrips')).stdout).requests;
    const rtPy = hasPy ? lastJson((await py('roundtrips', 'echo', 'x')).stdout).requests : null;
    results.roundTrips = { ours: rtOurs, pywinrm: rtPy };
    // 2. 200 MB stdout
    const s1 = await ours('stream', String(BYTES));
    if (s1.code !== 0) throw new Error(`our stream failed: ${s1.stderr}`);
    const so = lastJson(s1.stdout);
    const stream: Record<string, unknown> = {
      ours: {
        MBps: +(so.bytes / 1048576 / so.seconds).toFixed(1),
        seconds: +so.seconds.toFixed(2),
        cpuSecondsPer100MB: +(so.cpuSeconds / (so.bytes / 104857600)).toFixed(2),
        peakRssMB: +so.maxRssMB.toFixed(1),
        bytes: so.bytes,
        requests: so.requests,
      },
    };
    const s2 = await ours('stream', String(BYTES), 512000);
    if (s2.code === 0) {
      const j = lastJson(s2.stdout);
      stream.ours512k = {
        MBps: +(j.bytes / 1048576 / j.seconds).toFixed(1),
        seconds: +j.seconds.toFixed(2),
        peakRssMB: +j.maxRssMB.toFixed(1),
        requests: j.requests,
      };
    }
    if (hasPy) {
      const p = await py('stream', 'head', '-c', String(BYTES), '/dev/zero');
      if (p.code === 0) {
        const j = lastJson(p.stdout);
        stream.pywinrm = {
          MBps: +(j.bytes / 1048576 / j.seconds).toFixed(1),
          seconds: +j.seconds.toFixed(2),
          cpuSecondsPer100MB: +(j.cpuSeconds / (j.bytes / 104857600)).toFixed(2),
          bytes: j.bytes,
        };
      } else notes.push(`pywinrm stream failed: ${p.stderr.slice(-200)}`);
    } else notes.push('pywinrm not installed');
    if (go) {
      const timed = existsSync('/usr/bin/time');
      const g = timed
        ? await run('/usr/bin/time', ['-f', 'cpu=%U+%S', go, '-count', url, USER, PASSWORD, 'head', '-c', String(BYTES), '/dev/zero'])
        : await run(go, ['-count', url, USER, PASSWORD, 'head', '-c', String(BYTES), '/dev/zero']);
      const m = /bytes=(\d+)/.exec(g.stderr);
      const cpu = /cpu=([\d.]+)\+([\d.]+)/.exec(g.stderr);
      if (g.code === 0 && m)
        stream.go = {
          MBps: +(Number(m[1]) / 1048576 / g.seconds).toFixed(1),
          seconds: +g.seconds.toFixed(2),
          bytes: Number(m[1]),
          note: 'includes process start',
          ...(cpu ? { cpuSecondsPer100MB: +((Number(cpu[1]) + Number(cpu[2])) / (Number(m[1]) / 104857600)).toFixed(2) } : {}),
        };
      else notes.push(`go stream failed: ${g.stderr.slice(-200)}`);
    } else notes.push('Go masterzen/winrm not available');
    results.stream200MB = stream;
    // 3. N sequential short commands on one shell
    const mo = lastJson((await ours('many', String(N))).stdout);
    const many: Record<string, unknown> = { ours: { commandsPerSec: +(mo.n / mo.seconds).toFixed(1), seconds: +mo.seconds.toFixed(2) } };
    if (hasPy) {
      const mp = lastJson((await py('many', String(N), 'echo', 'x')).stdout);
      many.pywinrm = { commandsPerSec: +(mp.n / mp.seconds).toFixed(1), seconds: +mp.seconds.toFixed(2) };
    }
    results.sequentialCommands = many;
  } finally {
    serve.kill('SIGTERM');
  }
  const machine = {
    loadAverage1m: +loadavg()[0]!.toFixed(1),
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    memGB: +(totalmem() / 2 ** 30).toFixed(1),
    node: process.version,
    os: `${platform()} ${release()}`,
  };
  const date = new Date().toISOString().slice(0, 10);
  mkdirSync(OUT, { recursive: true });
  const json = {
    bench: 'winrs',
    date: new Date().toISOString(),
    machine,
    params: { MB, N, transport: 'HTTP + Basic (unencrypted), one endpoint process', maxEnvelopeSize: 153600 },
    results,
    notes,
  };
  writeFileSync(join(OUT, `${date}-winrs.json`), JSON.stringify(json, null, 2) + '\n');
  const r = results as {
    roundTrips: { ours: number; pywinrm: number | null };
    stream200MB: Record<string, { MBps: number; seconds: number; peakRssMB?: number; cpuSecondsPer100MB?: number } | undefined>;
    sequentialCommands: Record<string, { commandsPerSec: number; seconds: number }>;
  };
  const md = [
    `# WinRS bench (${date})`,
    '',
    `Machine: ${machine.cpus} × ${machine.cpuModel}, ${machine.memGB} GB, Node ${machine.node}, ${machine.os}. ` +
      `One \`winrm-ts serve\` endpoint (separate process), HTTP + Basic, MaxEnvelopeSize 153600; all clients measured ` +
      `in the same run. The machine is shared (load average ${machine.loadAverage1m} on ${machine.cpus} cores at the ` +
      `end): read ratios, not absolutes. Streaming is bound by the endpoint (the same one for all clients).`,
    '',
    '| measure | winrm-ts | pywinrm 0.3.0 | Go masterzen/winrm |',
    '|---|---|---|---|',
    `| HTTP requests for a short run (open, run, close) | ${r.roundTrips.ours} | ${r.roundTrips.pywinrm ?? 'n/a'} | – |`,
    `| ${MB} MB stdout, MB/s | ${r.stream200MB.ours?.MBps} | ${r.stream200MB.pywinrm?.MBps ?? 'n/a'} ` +
      `| ${r.stream200MB.go?.MBps ?? 'n/a'} |`,
    `| ${MB} MB stdout, seconds | ${r.stream200MB.ours?.seconds} | ${r.stream200MB.pywinrm?.seconds ?? 'n/a'} ` +
      `| ${r.stream200MB.go?.seconds ?? 'n/a'} |`,
    `| client CPU seconds per 100 MB of stdout (robust to a busy machine) | ${r.stream200MB.ours?.cpuSecondsPer100MB} ` +
      `| ${r.stream200MB.pywinrm?.cpuSecondsPer100MB ?? 'n/a'} | ${r.stream200MB.go?.cpuSecondsPer100MB ?? 'n/a'} |`,
    `| our client's peak RSS during the ${MB} MB run | ${r.stream200MB.ours?.peakRssMB} MB | | |`,
    `| ${MB} MB stdout with MaxEnvelopeSize 512000 (Windows 2012+ default), MB/s ` +
      `| ${r.stream200MB.ours512k?.MBps ?? 'n/a'} (RSS ${r.stream200MB.ours512k?.peakRssMB ?? '?'} MB) | | |`,
    `| ${N} sequential short commands on one shell, commands/s | ${r.sequentialCommands.ours?.commandsPerSec} ` +
      `| ${r.sequentialCommands.pywinrm?.commandsPerSec ?? 'n/a'} | – |`,
    '',
    notes.length ? `Notes: ${notes.join('; ')}` : '',
    '',
    `Our client ran ${
      existsSync(join(ROOT, 'dist/bench/winrs-client.js'))
        ? 'from the compiled build ' + '(dist/)'
        : 'under tsx (TypeScript compiled at load time, ~50 MB more RSS)'
    }; the Go figure includes its process start.`,
  ].join('\n');
  writeFileSync(join(OUT, `${date}-winrs.md`), md + '\n');
  console.log(md);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

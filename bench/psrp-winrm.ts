/**
 * Bench: PSRP over WinRM vs over SSH, our client both times, one after the other (never at once):
 *  - WinRM: our client -> `winrm-ts serve` (a separate process, hosting pwsh 7.6.9) over HTTP with Negotiate/NTLM
 *    and message encryption (Basic over unencrypted HTTP when Negotiate is not available);
 *  - SSH: our client -> the private OpenSSH sshd of the peers (`powershell` subsystem -> pwsh -sshs), key auth.
 * Measured: warm invoke latency of `1+1` (median, p90, min of N), object throughput of
 * `1..OBJECTS | % { [pscustomobject]@{ i = $_ } }` (objects/s, best of R), HTTP requests per warm invoke (WinRM).
 * Run: node --import tsx bench/psrp-winrm.ts [--n 40] [--runs 3] [--objects 20000] [--out bench/results]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { connect, Session, WSManTransport, mechanismNames } from '../src/index.js';
import { arg, invokeLatencies, outDir, PASSWORD, quantile, startServe, throughputRuns, USER } from './lib.js';

const N = Number(arg('--n', '40'));
const RUNS = Number(arg('--runs', '3'));
const OBJECTS = Number(arg('--objects', '20000'));
const OUT = outDir();
const THROUGHPUT = `1..${OBJECTS} | ForEach-Object { [pscustomobject]@{ i = $_ } }`;

interface Side {
  transport: string;
  openMs: number;
  latencyMedianMs: number;
  latencyP90Ms: number;
  latencyMinMs: number;
  objectsPerSec: number;
  throughputRunsMs: number[];
  requestsPerInvoke?: number;
}

async function measure(name: string, s: Session, openMs: number): Promise<Side> {
  const lat = await invokeLatencies(s, N);
  const runs = await throughputRuns(s, THROUGHPUT, RUNS, OBJECTS);
  return {
    transport: name,
    openMs,
    latencyMedianMs: quantile(lat, 0.5),
    latencyP90Ms: quantile(lat, 0.9),
    latencyMinMs: Math.min(...lat),
    objectsPerSec: OBJECTS / (Math.min(...runs) / 1000),
    throughputRunsMs: runs,
  };
}

async function winrm(): Promise<Side> {
  const auth = mechanismNames().includes('negotiate') ? 'negotiate' : 'basic';
  const dir = mkdtempSync(join(tmpdir(), 'winrm-ts-bench-psrp-'));
  const { port, child } = await startServe(dir, ['--auth', auth, ...(auth === 'basic' ? ['--allow-unencrypted'] : [])]);
  try {
    const client = connect({
      host: `127.0.0.1:${port}`,
      username: USER,
      password: PASSWORD,
      auth,
      maxConnections: 4,
      allowUnencrypted: auth === 'basic',
    });
    const t0 = performance.now();
    const s = await Session.open({
      transport: 'wsman',
      connection: {
        host: `127.0.0.1:${port}`,
        username: USER,
        password: PASSWORD,
        auth,
        maxConnections: 4,
        allowUnencrypted: auth === 'basic',
      },
    });
    const openMs = performance.now() - t0;
    // requests per invoke are counted on a second Session over this client's connections (a WSManTransport)
    const counted = await Session.open({ transport: new WSManTransport(client.wsman) });
    for (let i = 0; i < 3; i++) await counted.invoke('1+1');
    const r0 = client.stats.requests;
    for (let i = 0; i < 10; i++) await counted.invoke('1+1');
    const perInvoke = (client.stats.requests - r0) / 10;
    await counted.close();
    client.close();
    try {
      const side = await measure(`WinRM/HTTP ${auth}${auth === 'basic' ? '' : ' (encrypted)'}`, s, openMs);
      return { ...side, requestsPerInvoke: perInvoke };
    } finally {
      await s.close();
    }
  } finally {
    child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
}

async function ssh(): Promise<Side | string> {
  let mod: typeof import('../test/peers/fixtures/sshd/sshd.js');
  try {
    mod = await import('../test/peers/fixtures/sshd/sshd.js');
  } catch (e) {
    return `skipped: the sshd fixture is not available (${(e as Error).message})`;
  }
  if (!mod.sshdPresent()) return 'skipped: OpenSSH sshd or pwsh is not installed';
  const peer = await mod.startSshd();
  try {
    const t0 = performance.now();
    const s = await Session.open({
      ...mod.sshSessionOptions(peer),
    });
    const openMs = performance.now() - t0;
    try {
      return await measure('SSH (key auth)', s, openMs);
    } finally {
      await s.close();
    }
  } finally {
    await peer.stop();
  }
}

const w = await winrm();
const sh = await ssh();
const f = (n: number) => n.toFixed(1);
const lines = [
  `# PSRP over WinRM vs SSH (${new Date().toISOString()})`,
  '',
  `Machine: ${cpus().length} x ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, load ${loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}, Node ${process.version}. N=${N}, runs=${RUNS}, objects=${OBJECTS}.`,
  '',
  '| transport | open (ms) | 1+1 median (ms) | p90 | min | objects/s | HTTP requests per invoke |',
  '|---|---|---|---|---|---|---|',
];
for (const x of [w, sh]) {
  if (typeof x === 'string') {
    lines.push(`| SSH | ${x} | | | | | |`);
    continue;
  }
  lines.push(
    `| ${x.transport} | ${f(x.openMs)} | ${f(x.latencyMedianMs)} | ${f(x.latencyP90Ms)} | ${f(x.latencyMinMs)} | ` +
      `${Math.round(x.objectsPerSec)} | ${x.requestsPerInvoke ?? '-'} |`,
  );
}
if (typeof sh !== 'string') {
  lines.push(
    '',
    `Ratios (WinRM / SSH): latency ${(w.latencyMedianMs / sh.latencyMedianMs).toFixed(2)}x, throughput ` +
      `${(w.objectsPerSec / sh.objectsPerSec).toFixed(2)}x.`,
  );
}
lines.push(
  '',
  'WinRM round trips per warm invoke: Command + Receive (the output, PIPELINE_STATE and CommandState Done share one Receive reply).',
);
mkdirSync(OUT, { recursive: true });
const date = new Date().toISOString().slice(0, 10);
writeFileSync(join(OUT, `${date}-psrp-winrm.md`), lines.join('\n') + '\n');
writeFileSync(
  join(OUT, `${date}-psrp-winrm.json`),
  JSON.stringify(
    {
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
      N,
      RUNS,
      OBJECTS,
      winrm: w,
      ssh: sh,
    },
    null,
    2,
  ) + '\n',
);
console.log(lines.join('\n'));

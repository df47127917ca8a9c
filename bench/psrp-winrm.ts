/**
 * Bench: PSRP over WinRM vs over SSH, our client both times, one after the other (never at once):
 *  - WinRM: our client -> `winrm-ts serve` (a separate process, hosting pwsh 7.6.9) over HTTP with Negotiate/NTLM
 *    and message encryption (Basic over unencrypted HTTP when Negotiate is not available);
 *  - SSH: our client -> the private OpenSSH sshd of the peers (`powershell` subsystem -> pwsh -sshs), key auth.
 * Measured: warm invoke latency of `1+1` (median, p90, min of N), object throughput of
 * `1..OBJECTS | % { [pscustomobject]@{ i = $_ } }` (objects/s, best of R), HTTP requests per warm invoke (WinRM).
 * Run: node --import tsx bench/psrp-winrm.ts [--n 40] [--runs 3] [--objects 20000] [--out bench/results]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { connect, Session, mechanismNames } from '../src/index.js';
import { WSManRunspacePool } from '../src/remoting/wsman-pool.js';

const ROOT = new URL('..', import.meta.url).pathname;
const arg = (n: string, d: string) => { const i = process.argv.indexOf(n); return i > 0 ? process.argv[i + 1]! : d; };
const N = Number(arg('--n', '40'));
const RUNS = Number(arg('--runs', '3'));
const OBJECTS = Number(arg('--objects', '20000'));
const OUT = arg('--out', join(ROOT, 'bench', 'results'));
const THROUGHPUT = `1..${OBJECTS} | ForEach-Object { [pscustomobject]@{ i = $_ } }`;
const USER = 'EXAMPLE\\alice';
const PASSWORD = 'Passw0rd!';

interface Side { transport: string; openMs: number; latencyMedianMs: number; latencyP90Ms: number; latencyMinMs: number; objectsPerSec: number; throughputRunsMs: number[]; requestsPerInvoke?: number }
const quantile = (xs: number[], q: number) => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(q * s.length))]!; };

async function freePort(): Promise<number> {
  return new Promise((res, rej) => { const s = createServer(); s.once('error', rej); s.listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => res(p)); }); });
}

async function startServe(dir: string, auth: string): Promise<{ port: number; child: ChildProcess }> {
  writeFileSync(join(dir, 'users'), `${USER}:${PASSWORD}\n`);
  const port = await freePort();
  const args = ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), 'serve', '--listen', `127.0.0.1:${port}`, '--users', join(dir, 'users'), '--auth', auth, '--quiet'];
  if (auth === 'basic') args.push('--allow-unencrypted');
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.once('data', () => resolve());
    child.once('exit', (c) => reject(new Error(`serve exited ${c}`)));
  });
  return { port, child };
}

async function measure(name: string, s: Session, openMs: number, requests?: () => number): Promise<Side> {
  for (let i = 0; i < 5; i++) await s.invoke('1+1');
  const lat: number[] = [];
  const before = requests?.();
  for (let i = 0; i < N; i++) {
    const a = performance.now();
    const r = await s.invoke('1+1');
    lat.push(performance.now() - a);
    if (r.output[0] !== 2) throw new Error('1+1 did not return 2');
  }
  const requestsPerInvoke = before !== undefined ? (requests!() - before) / N : undefined;
  await s.invoke(THROUGHPUT);
  const runs: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const a = performance.now();
    const r = await s.invoke(THROUGHPUT);
    runs.push(performance.now() - a);
    if (r.output.length !== OBJECTS) throw new Error(`got ${r.output.length} objects`);
  }
  return { transport: name, openMs, latencyMedianMs: quantile(lat, 0.5), latencyP90Ms: quantile(lat, 0.9), latencyMinMs: Math.min(...lat), objectsPerSec: OBJECTS / (Math.min(...runs) / 1000), throughputRunsMs: runs, requestsPerInvoke };
}

async function winrm(): Promise<Side> {
  const auth = mechanismNames().includes('negotiate') ? 'negotiate' : 'basic';
  const dir = mkdtempSync(join(tmpdir(), 'winrm-ts-bench-psrp-'));
  const { port, child } = await startServe(dir, auth);
  try {
    const client = connect({ host: `127.0.0.1:${port}`, username: USER, password: PASSWORD, auth, maxConnections: 4 });
    const t0 = performance.now();
    const s = await Session.open({ transport: 'wsman', connection: { host: `127.0.0.1:${port}`, username: USER, password: PASSWORD, auth, maxConnections: 4 } });
    const openMs = performance.now() - t0;
    // requests per invoke are counted on a pool driven directly (the Session's client is internal)
    const rp = await WSManRunspacePool.open(client.wsman);
    for (let i = 0; i < 3; i++) await rp.invoke({ statements: [[{ cmd: '1+1', isScript: true }]] });
    const r0 = client.stats.requests;
    for (let i = 0; i < 10; i++) await rp.invoke({ statements: [[{ cmd: '1+1', isScript: true }]] });
    const perInvoke = (client.stats.requests - r0) / 10;
    await rp.close(); client.close();
    try {
      const side = await measure(`WinRM/HTTP ${auth}${auth === 'basic' ? '' : ' (encrypted)'}`, s, openMs);
      return { ...side, requestsPerInvoke: perInvoke };
    } finally { await s.close(); }
  } finally { child.kill('SIGTERM'); rmSync(dir, { recursive: true, force: true }); }
}

async function ssh(): Promise<Side | string> {
  let mod: typeof import('../test/peers/fixtures/sshd/sshd.js');
  try { mod = await import('../test/peers/fixtures/sshd/sshd.js'); } catch (e) { return `skipped: the sshd fixture is not available (${(e as Error).message})`; }
  if (!mod.sshdPresent()) return 'skipped: OpenSSH sshd or pwsh is not installed';
  const peer = await mod.startSshd();
  try {
    const t0 = performance.now();
    const s = await Session.open({ transport: 'ssh', computerName: `127.0.0.1:${peer.port}`, username: peer.user, privateKeyPath: peer.keyPath, knownHostsPath: peer.knownHosts });
    const openMs = performance.now() - t0;
    try { return await measure('SSH (key auth)', s, openMs); } finally { await s.close(); }
  } finally { await peer.stop(); }
}

const w = await winrm();
const sh = await ssh();
const f = (n: number) => n.toFixed(1);
const lines = [
  `# PSRP over WinRM vs SSH (${new Date().toISOString()})`, '',
  `Machine: ${cpus().length} x ${cpus()[0]?.model ?? '?'}, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, load ${loadavg().map((x) => x.toFixed(2)).join(' ')}, Node ${process.version}. N=${N}, runs=${RUNS}, objects=${OBJECTS}.`, '',
  '| transport | open (ms) | 1+1 median (ms) | p90 | min | objects/s | HTTP requests per invoke |',
  '|---|---|---|---|---|---|---|',
];
for (const x of [w, sh]) {
  if (typeof x === 'string') { lines.push(`| SSH | ${x} | | | | | |`); continue; }
  lines.push(`| ${x.transport} | ${f(x.openMs)} | ${f(x.latencyMedianMs)} | ${f(x.latencyP90Ms)} | ${f(x.latencyMinMs)} | ${Math.round(x.objectsPerSec)} | ${x.requestsPerInvoke ?? '-'} |`);
}
if (typeof sh !== 'string') {
  lines.push('', `Ratios (WinRM / SSH): latency ${(w.latencyMedianMs / sh.latencyMedianMs).toFixed(2)}x, throughput ${(w.objectsPerSec / sh.objectsPerSec).toFixed(2)}x.`);
}
lines.push('', 'WinRM round trips per warm invoke: Command + Receive (the output, PIPELINE_STATE and CommandState Done share one Receive reply).');
mkdirSync(OUT, { recursive: true });
const date = new Date().toISOString().slice(0, 10);
writeFileSync(join(OUT, `${date}-psrp-winrm.md`), lines.join('\n') + '\n');
writeFileSync(join(OUT, `${date}-psrp-winrm.json`), JSON.stringify({ date: new Date().toISOString(), machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version }, N, RUNS, OBJECTS, winrm: w, ssh: sh }, null, 2) + '\n');
console.log(lines.join('\n'));

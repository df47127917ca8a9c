/**
 * Bench: CredSSP vs Negotiate (NTLM) against one `winrm-ts serve --auth negotiate,credssp` endpoint (separate process,
 * HTTP, message encryption on):
 *  1. handshake: HTTP legs (401 round trips) per authentication, and time per fresh authenticated connection
 *     (handshake + open shell + delete shell), median of N;
 *  2. encrypted stdout throughput (MB/s) with each mechanism on the same endpoint;
 *  3. in-process handshake CPU time (no HTTP): CredSSP initiator<->acceptor vs SPNEGO/NTLM initiator<->acceptor.
 * Run: node --import tsx bench/credssp-winrm.ts [--mb 16] [--conns 20] [--out bench/results]
 */
import { mkdtempSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { connect } from '../src/index.js';
import { CredSSPInitiator } from '../src/auth/credssp/initiator.js';
import { CredSSPAcceptor } from '../src/auth/credssp/acceptor.js';
import { SpnegoAcceptor, SpnegoInitiator } from '../src/auth/spnego/context.js';
import type { AuthContext, UserDatabase } from '../src/auth/types.js';
import { arg, outDir, PASSWORD, quantile, startServe, stdoutThroughput, USER } from './lib.js';

const MB = Number(arg('--mb', '16'));
const CONNS = Number(arg('--conns', '20'));
const OUT = outDir();
type Mech = 'negotiate' | 'credssp';

const client = (port: number, auth: Mech) =>
  connect({ host: `127.0.0.1:${port}`, username: USER, password: PASSWORD, auth, delegateTo: ['wsman/127.0.0.1'] });

async function handshakes(port: number, auth: Mech, n: number): Promise<{ legs: number; msMedian: number }> {
  const times: number[] = [];
  let legs = 0;
  for (let i = 0; i < n; i++) {
    const c = client(port, auth);
    const t0 = process.hrtime.bigint();
    try {
      const sh = await c.openShell();
      await sh.close();
    } finally {
      c.close();
    }
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    legs = c.stats.authRequests;
  }
  return { legs, msMedian: quantile(times, 0.5) };
}

async function throughput(port: number, auth: Mech, bytes: number): Promise<number> {
  const c = client(port, auth);
  try {
    return await stdoutThroughput(c, bytes);
  } finally {
    c.close();
  }
}

const users: UserDatabase = { lookup: () => ({ domain: 'EXAMPLE', user: 'alice', password: PASSWORD }) };
async function inProcess(mech: Mech, n: number): Promise<{ legs: number; cpuMs: number }> {
  let legs = 0;
  const c0 = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    const [ini, acc]: [AuthContext, AuthContext] =
      mech === 'credssp'
        ? [
            new CredSSPInitiator({ credentials: { username: USER, password: PASSWORD }, targetHost: 'h', delegateTo: ['wsman/h'] }),
            new CredSSPAcceptor({ userDb: users, serverName: 'H' }),
          ]
        : [new SpnegoInitiator({ credentials: { username: USER, password: PASSWORD } }), new SpnegoAcceptor({ userDb: users })];
    let tok = await ini.step();
    legs = 0;
    while (tok && tok.length) {
      legs++;
      const back = await acc.step(tok);
      if (ini.complete) break;
      tok = await ini.step(back);
      if (ini.complete && !tok) break;
    }
  }
  const u = process.cpuUsage(c0);
  return { legs, cpuMs: (u.user + u.system) / 1000 / n };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'winrm-ts-bench-credssp-'));
  const ep = await startServe(dir, ['--auth', 'negotiate,credssp']);
  const json: Record<string, unknown> = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    cpu: cpus()[0]?.model,
    memGb: Math.round(totalmem() / 2 ** 30),
    mb: MB,
    conns: CONNS,
  };
  const rows: string[] = [];
  try {
    for (const m of ['negotiate', 'credssp'] as const) await handshakes(ep.port, m, 2); // warm-up
    const hs: Record<string, { legs: number; msMedian: number }> = {};
    const tp: Record<string, number> = {};
    const ip: Record<string, { legs: number; cpuMs: number }> = {};
    for (const m of ['negotiate', 'credssp'] as const) {
      hs[m] = await handshakes(ep.port, m, CONNS);
      await throughput(ep.port, m, 1048576);
      tp[m] = await throughput(ep.port, m, MB * 1048576);
      ip[m] = await inProcess(m, CONNS);
    }
    json.handshake = hs;
    json.throughput = tp;
    json.inProcess = ip;
    rows.push(`| HTTP legs (401 round trips) per authentication | ${hs.negotiate!.legs} | ${hs.credssp!.legs} |`);
    rows.push(
      `| fresh connection: auth + open/delete shell, median of ${CONNS} (ms) | ${hs.negotiate!.msMedian.toFixed(1)} ` +
        `| ${hs.credssp!.msMedian.toFixed(1)} |`,
    );
    rows.push(`| encrypted stdout, ${MB} MB (MB/s) | ${tp.negotiate!.toFixed(1)} | ${tp.credssp!.toFixed(1)} |`);
    rows.push(`| in-process handshake CPU, both sides (ms) | ${ip.negotiate!.cpuMs.toFixed(2)} | ${ip.credssp!.cpuMs.toFixed(2)} |`);
  } finally {
    ep.child.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  }
  const md = [
    `# CredSSP vs Negotiate bench (${json.date})`,
    '',
    `Node ${process.version}, ${json.cpus} x ${json.cpu}, ${json.memGb} GB. Endpoint: \`winrm-ts serve --auth ` +
      `negotiate,credssp\` (separate process, HTTP, encrypted).`,
    'CredSSP: TLS 1.2 inside (as Windows), SPNEGO/NTLM inside TLS, TSRequest v6.',
    '',
    '| metric | Negotiate (NTLM) | CredSSP |',
    '|---|---|---|',
    ...rows,
    '',
  ].join('\n');
  console.log(md);
  mkdirSync(OUT, { recursive: true });
  const stamp = new Date().toISOString().slice(0, 10);
  writeFileSync(join(OUT, `${stamp}-credssp.md`), md);
  writeFileSync(join(OUT, `${stamp}-credssp.json`), JSON.stringify(json, null, 2));
}

await main();

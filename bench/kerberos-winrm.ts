/**
 * Bench: Kerberos vs NTLM against one `winrm-ts serve --auth negotiate,kerberos --keytab` endpoint on loopback with a
 * private MIT KDC (scripts/kdc-start.sh):
 *  1. fresh authenticated connections (handshake + open shell + delete shell): HTTP auth round trips and ms,
 *     Kerberos from a warm ccache (kinit + kvno: no KDC traffic) vs NTLM (Negotiate with DOMAIN\user);
 *  2. encrypted stdout throughput (MB/s): RFC 4121 AES256 wrap vs NTLM seal.
 * Run: node --import tsx bench/kerberos-winrm.ts [--mb 16] [--conns 50] [--out bench/results]
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync, mkdirSync, rmSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { connect, type ConnectOptions } from '../src/index.js';
import { arg, outDir, ROOT, stdoutThroughput } from './lib.js';

const MB = Number(arg('--mb', '16'));
const CONNS = Number(arg('--conns', '50'));
const OUT = outDir();
const freePort = () =>
  new Promise<number>((r) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => r(p));
    });
  });

async function conns(o: ConnectOptions, n: number): Promise<{ ms: number; authRequests: number }> {
  let auth = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) {
    const c = connect(o);
    try {
      const sh = await c.openShell();
      await sh.close();
      auth += c.stats.authRequests;
    } finally {
      c.close();
    }
  }
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, authRequests: auth / n };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'winrm-ts-bench-krb-'));
  const krb = join(dir, 'krb');
  execFileSync('bash', [join(ROOT, 'scripts/kdc-start.sh'), krb], {
    env: { ...process.env, KDC_PORT: String(await freePort()) },
    stdio: 'ignore',
  });
  Object.assign(process.env, { KRB5_CONFIG: join(krb, 'krb5.conf'), KRB5CCNAME: `FILE:${join(krb, 'ccache')}` });
  delete process.env.KRB5_KTNAME;
  delete process.env.KRB5_CLIENT_KTNAME;
  execFileSync('kinit', ['alice@EXAMPLE.TEST'], { input: 'Passw0rd!\n', stdio: ['pipe', 'ignore', 'ignore'] });
  execFileSync('kvno', ['HTTP/localhost@EXAMPLE.TEST'], { stdio: 'ignore' }); // warm: the service ticket is in the ccache
  writeFileSync(join(dir, 'users'), 'EXAMPLE\\alice:Passw0rd!\nalice@EXAMPLE.TEST:*\n');
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(ROOT, 'src/cli/main.ts'),
      'serve',
      '--listen',
      '127.0.0.1:0',
      '--users',
      join(dir, 'users'),
      '--auth',
      'negotiate,kerberos',
      '--keytab',
      join(krb, 'http.keytab'),
      '--quiet',
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /listening on http:\/\/[^:]+:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (c) => reject(new Error(`serve exited ${c}`)));
  });
  const krbO: ConnectOptions = { host: `localhost:${port}`, auth: 'kerberos' };
  const ntlmO: ConnectOptions = { host: `localhost:${port}`, username: 'EXAMPLE\\alice', password: 'Passw0rd!' };
  const json: Record<string, unknown> = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: cpus().length,
    cpu: cpus()[0]?.model,
    memGb: Math.round(totalmem() / 2 ** 30),
    mb: MB,
    conns: CONNS,
  };
  try {
    await conns(krbO, 3);
    await conns(ntlmO, 3); // warm-up
    const k: Array<{ ms: number; authRequests: number }> = [];
    const n: Array<{ ms: number; authRequests: number }> = [];
    const tk: number[] = [];
    const tn: number[] = [];
    for (let rep = 0; rep < 2; rep++) {
      k.push(await conns(krbO, CONNS));
      n.push(await conns(ntlmO, CONNS));
      const ck = connect(krbO);
      try {
        tk.push(await stdoutThroughput(ck, MB * 1048576));
      } finally {
        ck.close();
      }
      const cn = connect(ntlmO);
      try {
        tn.push(await stdoutThroughput(cn, MB * 1048576));
      } finally {
        cn.close();
      }
    }
    const bestMs = (a: typeof k) => Math.min(...a.map((x) => x.ms));
    Object.assign(json, {
      kerberos: { connMs: bestMs(k) / CONNS, authRoundTrips: k[0]!.authRequests, mbps: Math.max(...tk) },
      ntlm: { connMs: bestMs(n) / CONNS, authRoundTrips: n[0]!.authRequests, mbps: Math.max(...tn) },
    });
    const j = json as {
      kerberos: { connMs: number; authRoundTrips: number; mbps: number };
      ntlm: { connMs: number; authRoundTrips: number; mbps: number };
    };
    const md = [
      `# Kerberos vs NTLM over WinRM (${json.date})`,
      '',
      `Node ${process.version}, ${json.cpus} × ${json.cpu}, ${json.memGb} GB; loopback; MIT KDC; endpoint = winrm-ts ` +
        `serve (HTTP, message encryption on); best of 2 runs.`,
      '',
      '| metric | Kerberos (warm ccache) | NTLM (Negotiate) |',
      '|---|---|---|',
      `| HTTP auth round trips per connection | ${j.kerberos.authRoundTrips} | ${j.ntlm.authRoundTrips} |`,
      `| fresh connection: auth + open + delete shell (ms, mean of ${CONNS}) | ${j.kerberos.connMs.toFixed(1)} ` +
        `| ${j.ntlm.connMs.toFixed(1)} |`,
      `| encrypted stdout, ${MB} MB (MB/s) | ${j.kerberos.mbps.toFixed(1)} | ${j.ntlm.mbps.toFixed(1)} |`,
      '',
    ].join('\n');
    mkdirSync(OUT, { recursive: true });
    const stem = join(OUT, `${new Date().toISOString().slice(0, 10)}-kerberos`);
    writeFileSync(`${stem}.md`, md);
    writeFileSync(`${stem}.json`, JSON.stringify(json, null, 2));
    process.stdout.write(md + '\n');
  } finally {
    child.kill();
    try {
      process.kill(Number(readFileSync(join(krb, 'kdc.pid'), 'utf8')));
    } catch {
      /* gone */
    }
    rmSync(dir, { recursive: true, force: true });
  }
}
main().catch((e) => {
  console.error(e);
  process.exit(1);
});

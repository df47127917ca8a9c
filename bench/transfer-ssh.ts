/**
 * copy / fetch over SSH, side by side: `winrm-ts copy/fetch --ssh` (a fresh CLI process each, Node start-up included)
 * against real pwsh's `New-PSSession -HostName; Copy-Item -ToSession / -FromSession; Remove-PSSession` (timed inside
 * pwsh between marks, its own start-up not counted), over the same private OpenSSH sshd (the test peer of test/peers:
 * `Subsystem powershell pwsh -sshs`, a fresh remote pwsh per connection), the same file of random bytes.
 *
 * This process samples /proc every 50 ms meanwhile and splits each operation's CPU seconds by process: the client
 * (our node / the pwsh client's dotnet), the client's `ssh` (pwsh uses OpenSSH's ssh as its transport), sshd, and the
 * remote pwsh (the subsystem's dotnet); plus the time their threads were runnable but waited for a core (run queue,
 * /proc/PID/task/TID/schedstat) and idle time (50 ms intervals in which none of them used 10 % of a core).
 * Runs alternate (ours, pwsh, ours, pwsh ...) so both see the same load.
 *
 *   npm run build && node --import tsx bench/transfer-ssh.ts [--mb 32] [--runs 2] [--out DIR]
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { arg, CLI_ARGS, outDir, ROOT } from './lib.js';
import { descendants, followMarks, processTree, procStat, runDelay } from './proc.js';
import { sshdPresent, startSshd } from '../test/peers/fixtures/sshd/sshd.js';

const MB = Number(arg('--mb', '32'));
const RUNS = Number(arg('--runs', '2'));
const CLI = CLI_ARGS;

if (!sshdPresent()) {
  console.log('transfer-ssh: sshd / pwsh missing or not root: skipped');
  process.exit(0);
}

// ------------------------------------------------------------------ /proc sampling
const ROLES = ['client', 'ssh', 'sshd', 'pwsh'] as const;
type Role = (typeof ROLES)[number];
interface Sample {
  t: number;
  cpu: Record<Role, number>;
  wait: number;
}
/**
 * Watches one client process tree and the sshd below `sshdPid`. CPU is cumulative per live process; a process that
 * exits keeps its last reading (at most 50 ms short), so totals never go down.
 */
class Sampler {
  private readonly last = new Map<number, { role: Role; cpu: number; wait: number }>();
  readonly samples: Sample[] = [];
  private timer: NodeJS.Timeout | undefined;
  constructor(
    private readonly client: number,
    private readonly sshdPid: number,
  ) {}
  start(): void {
    this.tick();
    this.timer = setInterval(() => this.tick(), 50);
  }
  stop(): void {
    clearInterval(this.timer);
    this.tick();
  }
  private tick(): void {
    const kids = processTree();
    const roles = new Map<number, Role>();
    roles.set(this.client, 'client');
    for (const p of descendants(this.client, kids)) roles.set(p, procStat(p)?.name === 'ssh' ? 'ssh' : 'client');
    for (const p of descendants(this.sshdPid, kids)) roles.set(p, procStat(p)?.name === 'sshd' ? 'sshd' : 'pwsh');
    for (const [pid, role] of roles) {
      const st = procStat(pid);
      if (st) this.last.set(pid, { role, cpu: st.cpu, wait: runDelay(pid) });
    }
    const cpu = { client: 0, ssh: 0, sshd: 0, pwsh: 0 };
    let wait = 0;
    for (const v of this.last.values()) {
      cpu[v.role] += v.cpu;
      wait += v.wait;
    }
    this.samples.push({ t: Date.now(), cpu, wait });
  }
  /** CPU per role, run-queue wait and idle time between two wall-clock times. */
  between(a: number, b: number): { cpu: Record<Role, number>; wait: number; idle: number } {
    const cpu = { client: 0, ssh: 0, sshd: 0, pwsh: 0 };
    let wait = 0;
    let idle = 0;
    for (let i = 1; i < this.samples.length; i++) {
      const p = this.samples[i - 1]!;
      const q = this.samples[i]!;
      const mid = (p.t + q.t) / 2;
      if (mid < a || mid >= b) continue;
      let busy = false;
      const dt = (q.t - p.t) / 1000;
      for (const r of ROLES) {
        const d = Math.max(0, q.cpu[r] - p.cpu[r]);
        cpu[r] += d;
        if (d > 0.1 * dt) busy = true;
      }
      wait += Math.max(0, q.wait - p.wait);
      if (!busy) idle += dt;
    }
    return { cpu, wait, idle };
  }
}

/** Run a command; its stdout lines `MARK name epoch-ms` become marks; it starts with a mark `begin` at spawn time. */
async function measured(cmd: string, args: string[], sshdPid: number): Promise<{ marks: Map<string, number>; sampler: Sampler }> {
  const marks = new Map<string, number>([['begin', Date.now()]]);
  const child = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const sampler = new Sampler(child.pid!, sshdPid);
  sampler.start();
  const output = followMarks(child, (name, t) => marks.set(name, t));
  const code = await new Promise<number | null>((r) => child.on('close', r));
  marks.set('end', Date.now());
  sampler.stop();
  if (code !== 0) throw new Error(`${cmd} ${args.slice(0, 3).join(' ')} failed (${code}): ${output.stderrTail()}`);
  return { marks, sampler };
}

interface Row {
  who: string;
  op: 'copy' | 'fetch';
  run: number;
  wall: number;
  cpu: Record<Role, number>;
  wait: number;
  idle: number;
  load: number;
}

const peer = await startSshd();
const sshdPid = Number(readFileSync(join(peer.dir, 'sshd.pid'), 'utf8').trim());
const dir = mkdtempSync(join(tmpdir(), 'winrm-ts-bench-transfer-ssh-'));
const rows: Row[] = [];
try {
  chmodSync(dir, 0o755);
  const rdir = join(dir, 'remote');
  mkdirSync(rdir);
  chmodSync(rdir, 0o777); // the sshd test user writes here
  const src = join(dir, 'f.bin');
  const h = createHash('sha256');
  const fd = openSync(src, 'w');
  for (let i = 0; i < MB; i++) {
    const b = randomBytes(1 << 20);
    h.update(b);
    writeSync(fd, b);
  }
  closeSync(fd);
  chmodSync(src, 0o644);
  const want = h.digest('hex');
  const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
  const conn = ['--ssh', '-H', `127.0.0.1:${peer.port}`, '-u', peer.user, '--ssh-key', peer.keyPath, '--known-hosts', peer.knownHosts];
  const ps1 = join(dir, 'copyitem.ps1');
  const mark = (name: string) => `[Console]::Out.WriteLine('MARK ${name} ' + [DateTimeOffset]::UtcNow.ToUnixTimeMilliseconds())`;
  writeFileSync(
    ps1,
    [
      'param($P, $U, $K, $KH, $Src, $Dst, $Back)',
      "$ErrorActionPreference = 'Stop'",
      "$o = @{ UserKnownHostsFile = $KH; StrictHostKeyChecking = 'yes'; BatchMode = 'yes' }",
      mark('copy-begin'),
      '$s = New-PSSession -HostName 127.0.0.1 -Port $P -UserName $U -KeyFilePath $K -Options $o',
      'Copy-Item -LiteralPath $Src -Destination $Dst -ToSession $s; Remove-PSSession $s',
      mark('copy-end'),
      mark('fetch-begin'),
      '$s = New-PSSession -HostName 127.0.0.1 -Port $P -UserName $U -KeyFilePath $K -Options $o',
      'Copy-Item -LiteralPath $Dst -Destination $Back -FromSession $s; Remove-PSSession $s',
      mark('fetch-end'),
    ].join('\n'),
  );
  const add = (who: string, op: 'copy' | 'fetch', run: number, s: Sampler, a: number, b: number) =>
    rows.push({ who, op, run, wall: (b - a) / 1000, ...s.between(a, b), load: loadavg()[0]! });

  for (let run = 1; run <= RUNS; run++) {
    for (const f of [join(rdir, 'ours.bin'), join(dir, 'back-ours.bin'), join(rdir, 'pwsh.bin'), join(dir, 'back-pwsh.bin')])
      rmSync(f, { force: true });
    const up = await measured(process.execPath, [...CLI, 'copy', ...conn, src, join(rdir, 'ours.bin')], sshdPid);
    add('winrm-ts', 'copy', run, up.sampler, up.marks.get('begin')!, up.marks.get('end')!);
    const dn = await measured(process.execPath, [...CLI, 'fetch', ...conn, join(rdir, 'ours.bin'), join(dir, 'back-ours.bin')], sshdPid);
    add('winrm-ts', 'fetch', run, dn.sampler, dn.marks.get('begin')!, dn.marks.get('end')!);
    if (sha(join(dir, 'back-ours.bin')) !== want) throw new Error('winrm-ts copy+fetch over SSH changed the bytes');
    const pw = await measured(
      peer.pwsh,
      [
        '-NoLogo',
        '-NoProfile',
        '-NonInteractive',
        '-File',
        ps1,
        String(peer.port),
        peer.user,
        peer.keyPath,
        peer.knownHosts,
        src,
        join(rdir, 'pwsh.bin'),
        join(dir, 'back-pwsh.bin'),
      ],
      sshdPid,
    );
    if (sha(join(dir, 'back-pwsh.bin')) !== want) throw new Error('pwsh Copy-Item changed the bytes');
    const m = (k: string) => pw.marks.get(k)!;
    add('pwsh Copy-Item', 'copy', run, pw.sampler, m('copy-begin'), m('copy-end'));
    add('pwsh Copy-Item', 'fetch', run, pw.sampler, m('fetch-begin'), m('fetch-end'));
    console.log(`run ${run} done`);
  }
} finally {
  await peer.stop();
  rmSync(dir, { recursive: true, force: true });
}

const f2 = (n: number) => n.toFixed(2);
const lines = [
  `# transfer over SSH: winrm-ts against pwsh Copy-Item (${new Date().toISOString().slice(0, 10)})`,
  '',
  `${MB} MiB of random bytes over a private OpenSSH sshd (\`Subsystem powershell pwsh -sshs\`), ${RUNS} run(s), alternating. ` +
    'CPU seconds per process from /proc (client = our node / the pwsh client; ssh = the OpenSSH client pwsh drives; ' +
    'remote = the subsystem pwsh); wait = run-queue wait of all of them; idle = 50 ms intervals where none used 10 % of a core.',
  '',
  '| who | op | run | load | wall s | MB/s | client CPU s | ssh CPU s | sshd CPU s | remote pwsh CPU s | total CPU s | wait s | idle s |',
  '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ...rows.map((r) => {
    const tot = ROLES.reduce((a, k) => a + r.cpu[k], 0);
    return (
      `| ${r.who} | ${r.op} | ${r.run} | ${r.load.toFixed(1)} | ${f2(r.wall)} | ${f2(MB / r.wall)} | ${f2(r.cpu.client)} | ` +
      `${f2(r.cpu.ssh)} | ${f2(r.cpu.sshd)} | ${f2(r.cpu.pwsh)} | ${f2(tot)} | ${f2(r.wait)} | ${f2(r.idle)} |`
    );
  }),
  '',
  '| op | run | ratio (pwsh wall / ours) | ratio (pwsh total CPU / ours) |',
  '|---|---|---|---|',
];
for (let run = 1; run <= RUNS; run++)
  for (const op of ['copy', 'fetch'] as const) {
    const o = rows.find((r) => r.who === 'winrm-ts' && r.op === op && r.run === run);
    const p = rows.find((r) => r.who !== 'winrm-ts' && r.op === op && r.run === run);
    if (!o || !p) continue;
    const tot = (r: Row) => ROLES.reduce((a, k) => a + r.cpu[k], 0);
    lines.push(`| ${op} | ${run} | ${f2(p.wall / o.wall)}x | ${f2(tot(p) / tot(o))}x |`);
  }
lines.push('');
const md = lines.join('\n');
const day = new Date().toISOString().slice(0, 10);
mkdirSync(outDir(), { recursive: true });
writeFileSync(join(outDir(), `${day}-transfer-ssh-run.md`), md);
writeFileSync(join(outDir(), `${day}-transfer-ssh-run.json`), JSON.stringify({ mb: MB, runs: RUNS, rows }, null, 2));
console.log(md);
process.exit(0);

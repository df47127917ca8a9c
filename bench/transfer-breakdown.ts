/**
 * Where the wall time of a copy goes: `winrm-ts copy` (the library, in a fresh Node process) against pypsrp's
 * Client.copy, one after the other on the same `winrm-ts serve --auth negotiate` endpoint (NTLM with message
 * encryption, real pwsh behind it), the same file. Each client prints phase marks (open, prepare, upload, verify,
 * close); this process samples /proc every 50 ms meanwhile and splits, per phase: wall time, CPU seconds of the
 * client, of the endpoint (node) and of the remote pwsh (its live processes + what the endpoint reaped), the time
 * those three spent runnable but waiting for a core (run queue, /proc/PID/task/TID/schedstat) and the idle time
 * (intervals where none of the three used more than 10 % of a core: round trips, acknowledgements, latency).
 *
 *   npm run build && node --import tsx bench/transfer-breakdown.ts [--mb 32] [--runs 1] [--out DIR]
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { descendants, followMarks, procStat, runDelay } from './proc.js';
import { arg, outDir, PASSWORD, ROOT, startServe, USER } from './lib.js';

/** The repository (this file runs from bench/ through tsx, or from dist/bench/ as the measured client). */
const REPO = ROOT.endsWith('/dist/') ? join(ROOT, '..') : ROOT;

// ------------------------------------------------------------------ child mode: one copy with phase marks
if (process.argv[2] === '--client-ours') {
  const [, , , port, src, dst] = process.argv;
  const mark = (p: string) => process.stdout.write(`MARK ${p} ${Date.now()}\n`);
  const { Session } = await import(join(REPO, 'dist/src/index.js'));
  const { numberOf } = await import(join(REPO, 'dist/src/transfer/remote.js'));
  mark('start');
  const s = await Session.open({
    transport: 'wsman',
    computerName: `127.0.0.1:${port}`,
    username: USER,
    password: PASSWORD,
    auth: 'negotiate',
  });
  mark('open');
  const total = readFileSync(src!).length; // small enough for a bench file; the copy itself streams
  // the remote acknowledges its running byte count per pipeline (segment): all bytes written = the upload phase's end
  let uploaded = false;
  let before = 0;
  const orig = s.stream.bind(s);
  s.stream = async function* (script: string, o: unknown) {
    let seg = 0;
    for await (const ev of orig(script, o)) {
      const n = ev.type === 'output' ? numberOf(ev.value) : undefined;
      if (n !== undefined) seg = n;
      if (!uploaded && before + seg === total) {
        uploaded = true;
        mark('upload');
      }
      yield ev;
    }
    before += seg;
  };
  await s.copy(src, dst, {
    onProgress: (e: { type: string }) => {
      if (e.type === 'start') mark('prepare');
      if (e.type === 'file-done') mark('verify');
    },
  });
  await s.close();
  mark('close');
  process.exit(0);
}

// ------------------------------------------------------------------ sampling
interface Sample {
  t: number;
  client: number;
  endpoint: number;
  pwsh: number;
  wait: number;
}
/** Cumulative CPU seconds: the client, the endpoint itself, pwsh (live below the endpoint + reaped by it); run-queue wait. */
function sample(client: number, endpoint: number, reapedBase: number, waitDone: Map<number, number>): Sample {
  const c = procStat(client);
  const e = procStat(endpoint);
  let pwsh = (e?.ccpu ?? 0) - reapedBase;
  let wait = 0;
  for (const p of [client, endpoint, ...descendants(endpoint)]) {
    const st = procStat(p);
    if (!st) continue;
    if (p !== client && p !== endpoint) pwsh += st.cpu + st.ccpu;
    const w = runDelay(p);
    waitDone.set(p, Math.max(waitDone.get(p) ?? 0, w));
  }
  for (const w of waitDone.values()) wait += w;
  return { t: Date.now(), client: c ? c.cpu + c.ccpu : NaN, endpoint: e?.cpu ?? 0, pwsh, wait };
}

interface PhaseRow {
  phase: string;
  wall: number;
  client: number;
  endpoint: number;
  pwsh: number;
  wait: number;
  idle: number;
}

/** Run one client process, sampling every 50 ms; per phase (between its marks) the wall time, CPU, waits and idle. */
async function measure(cmd: string, args: string[], env: NodeJS.ProcessEnv, endpoint: number): Promise<PhaseRow[]> {
  const reapedBase = procStat(endpoint)!.ccpu;
  const child = spawn(cmd, args, { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const marks: Array<{ phase: string; t: number }> = [];
  const output = followMarks(child, (phase, t) => marks.push({ phase, t }));
  const waits = new Map<number, number>();
  const samples: Sample[] = [];
  let last: Sample | undefined;
  const timer = setInterval(() => {
    const s = sample(child.pid!, endpoint, reapedBase, waits);
    if (Number.isNaN(s.client) && last) s.client = last.client; // exited: keep its last reading
    samples.push(s);
    last = s;
  }, 50);
  const code = await new Promise<number | null>((r) => child.on('close', r));
  clearInterval(timer);
  if (code !== 0) throw new Error(`${cmd} failed (${code}): ${output.stderrTail()}`);
  // the exited client: its total from the wait status is not at hand; the last sample is within 50 ms of the end
  const rows: PhaseRow[] = [];
  for (let i = 1; i < marks.length; i++) {
    const a = marks[i - 1]!.t;
    const b = marks[i]!.t;
    const row: PhaseRow = { phase: marks[i]!.phase, wall: (b - a) / 1000, client: 0, endpoint: 0, pwsh: 0, wait: 0, idle: 0 };
    for (let j = 1; j < samples.length; j++) {
      const p = samples[j - 1]!;
      const q = samples[j]!;
      const mid = (p.t + q.t) / 2;
      if (mid < a || mid >= b) continue;
      const dc = Math.max(0, q.client - p.client);
      const de = Math.max(0, q.endpoint - p.endpoint);
      const dp = Math.max(0, q.pwsh - p.pwsh);
      row.client += dc;
      row.endpoint += de;
      row.pwsh += dp;
      row.wait += Math.max(0, q.wait - p.wait);
      if (dc + de + dp < 0.1 * ((q.t - p.t) / 1000)) row.idle += (q.t - p.t) / 1000;
    }
    rows.push(row);
  }
  return rows;
}

const MB = Number(arg('--mb', '32'));
const RUNS = Number(arg('--runs', '1'));
const dir = mkdtempSync(join(tmpdir(), 'winrm-ts-bench-breakdown-'));
const SHARED =
  process.env.WINRM_TS_SHARED ??
  [join(ROOT, '..', 'shared'), join(ROOT, '..', '..', 'shared')].find((d) => existsSync(join(d, 'peers', 'python'))) ??
  join(ROOT, '..', 'shared');
const PY = join(SHARED, 'peers', 'python');

// pypsrp's Client.copy with phase marks: pool open, the pipeline's input sent, its end (remote hash compared), pool close
const PY_CLIENT = String.raw`
import sys, time
from pypsrp import powershell
from pypsrp.client import Client
def mark(p): sys.stdout.write('MARK %s %d\n' % (p, int(time.time() * 1000))); sys.stdout.flush()
for cls, name, after in ((powershell.RunspacePool, 'open', 'open'), (powershell.RunspacePool, 'close', 'close')):
    def wrap(f, after=after):
        def g(*a, **k):
            r = f(*a, **k); mark(after); return r
        return g
    setattr(cls, name, wrap(getattr(cls, name)))
orig_end = powershell.PowerShell.end_invoke
def end_invoke(self, *a, **k):
    mark('upload'); r = orig_end(self, *a, **k); mark('verify'); return r
powershell.PowerShell.end_invoke = end_invoke
mark('start')
c = Client('127.0.0.1', port=int(sys.argv[1]), username='EXAMPLE\\alice', password=sys.argv[4], ssl=False, auth='negotiate')
c.copy(sys.argv[2], sys.argv[3])
`;

function randomFile(path: string, mb: number): void {
  const fd = openSync(path, 'w');
  try {
    for (let i = 0; i < mb; i++) writeSync(fd, randomBytes(1 << 20));
  } finally {
    closeSync(fd);
  }
}

const fmt = (n: number) => n.toFixed(2);
const table = (title: string, rows: PhaseRow[]): string[] => {
  const sum = rows.reduce(
    (a, r) => ({
      phase: 'total',
      wall: a.wall + r.wall,
      client: a.client + r.client,
      endpoint: a.endpoint + r.endpoint,
      pwsh: a.pwsh + r.pwsh,
      wait: a.wait + r.wait,
      idle: a.idle + r.idle,
    }),
    { phase: 'total', wall: 0, client: 0, endpoint: 0, pwsh: 0, wait: 0, idle: 0 },
  );
  return [
    `${title}`,
    '',
    '| phase | wall s | client CPU s | endpoint CPU s | pwsh CPU s | run-queue wait s | idle s |',
    '|---|---|---|---|---|---|---|',
    ...[...rows, sum].map(
      (r) => `| ${r.phase} | ${fmt(r.wall)} | ${fmt(r.client)} | ${fmt(r.endpoint)} | ${fmt(r.pwsh)} | ${fmt(r.wait)} | ${fmt(r.idle)} |`,
    ),
    '',
  ];
};

const PWSH = process.env.WINRM_TS_PWSH ?? '/opt/winrm-ts-peers/pwsh/pwsh';
const serve = await startServe(dir, ['--auth', 'negotiate', '--pwsh', PWSH]);
const md: string[] = [];
const json: Record<string, unknown> = { mb: MB, date: new Date().toISOString(), runs: [] as unknown[] };
try {
  const src = join(dir, 'f.bin');
  randomFile(src, MB);
  const pyEnv = { ...process.env, PYTHONPATH: [join(PY, 'pypsrp'), join(PY, 'pyspnego'), join(PY, 'requests-credssp')].join(':') };
  const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
  for (let run = 1; run <= RUNS; run++) {
    const loadBefore = load();
    const ours = await measure(
      process.execPath,
      [join(REPO, 'dist/bench/transfer-breakdown.js'), '--client-ours', String(serve.port), src, join(dir, `r-ours-${run}.bin`)],
      process.env,
      serve.child.pid!,
    );
    await new Promise((r) => setTimeout(r, 2000)); // the pool's pwsh exits
    const py = await measure(
      '/usr/bin/python3',
      ['-c', PY_CLIENT, String(serve.port), src, join(dir, `r-py-${run}.bin`), PASSWORD],
      pyEnv,
      serve.child.pid!,
    );
    await new Promise((r) => setTimeout(r, 2000));
    (json.runs as unknown[]).push({ ours, pypsrp: py, load: loadBefore });
    md.push(...table(`Run ${run} (load average before: ${loadBefore}), winrm-ts copy ${MB} MiB:`, ours));
    md.push(...table(`Run ${run}, pypsrp Client.copy ${MB} MiB:`, py));
  }
} finally {
  serve.child.kill();
  rmSync(dir, { recursive: true, force: true });
}
console.log(md.join('\n'));
const day = new Date().toISOString().slice(0, 10);
mkdirSync(outDir(), { recursive: true });
writeFileSync(join(outDir(), `${day}-transfer-breakdown.json`), JSON.stringify(json, null, 2));
process.exit(0);

/**
 * Bench: the endpoint's WinRS command rate. C concurrent clients (the library, in this process) each run N short
 * commands (`true`) against one `winrm-ts serve` (a separate process), Basic over HTTP so that the clients cost
 * little. Measured: commands/s (wall), the endpoint's CPU per command (its own utime+stime from /proc, and its
 * long-lived children's: the spawn helper; the commands' own CPU excluded), and the machine's load.
 *
 * Side by side in one run: `--before DIR` names a built checkout of another revision (e.g. `git archive main | tar -x
 * -C DIR`, node_modules linked, `npm run build`); its endpoint and this worktree's run in alternating rounds, each
 * against the same clients (this worktree's library). Without --before only this worktree is measured.
 *
 * Modes: `shell` (default) each client opens one shell and runs its N commands on it (Command + Receive per
 * command: the endpoint's process creation and WinRS path); `run` each command opens and deletes its own shell, as
 * `winrm-ts run -- true` does.
 *
 * Run: npm run build && node --import tsx bench/endpoint-throughput.ts [--before DIR] [--clients 20] [--n 25]
 *      [--rounds 3] [--mode shell|run] [--cpu-prof DIR] [--out bench/results]
 * Writes <out>/<date>-endpoint.md and .json.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { connect } from '../src/client/client.js';
import { arg, outDir, PASSWORD, quantile, ROOT, startServe, USER } from './lib.js';

const CLIENTS = Number(arg('--clients', '20'));
const N = Number(arg('--n', '25'));
const ROUNDS = Number(arg('--rounds', '3'));
const MODE = arg('--mode', 'shell');
const BEFORE = arg('--before', '');
const PROF = arg('--cpu-prof', '');
const OUT = outDir();
const CLK = 100; // USER_HZ: /proc/<pid>/stat times are in 1/100 s on Linux

interface Side {
  name: string;
  cli: string;
}

function cliOf(dir: string): string {
  for (const p of ['dist/src/bundle/main.js', 'dist/src/cli/main.js']) if (existsSync(join(dir, p))) return join(dir, p);
  throw new Error(`no built CLI under ${dir} (npm run build there first)`);
}

/** utime+stime of one process, seconds (0 when it is gone). */
function cpuOf(pid: number): number {
  let s: string;
  try {
    s = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return 0;
  }
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK;
}

/** The endpoint's child processes with their CPU seconds. */
function childrenOf(pid: number): Map<number, number> {
  let kids: string;
  try {
    kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'latin1');
  } catch {
    return new Map();
  }
  return new Map(
    kids
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map((k) => [Number(k), cpuOf(Number(k))]),
  );
}

function startSide(side: Side, dir: string, tag: string): Promise<{ url: string; child: ChildProcess }> {
  const nodeArgs = PROF ? ['--cpu-prof', '--cpu-prof-dir', PROF, '--cpu-prof-name', `${tag}.cpuprofile`] : [];
  return startServe(dir, ['--auth', 'basic', '--allow-unencrypted'], { cli: side.cli, nodeArgs });
}

async function stopServe(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const gone = new Promise((r) => child.once('exit', r));
  child.kill('SIGINT'); // --cpu-prof writes its profile on a clean exit
  const t = setTimeout(() => child.kill('SIGKILL'), 5000);
  await gone;
  clearTimeout(t);
}

/** One client: N commands (`true`), each checked for exit 0. Returns per-command latencies (ms). */
async function client(url: string): Promise<number[]> {
  const u = new URL(url);
  const c = connect({ host: `${u.hostname}:${u.port}`, username: USER, password: PASSWORD, auth: 'basic', allowUnencrypted: true });
  const lat: number[] = [];
  try {
    if (MODE === 'run') {
      for (let i = 0; i < N; i++) {
        const t0 = performance.now();
        const r = await c.exec('true');
        if (r.exitCode !== 0) throw new Error(`exit ${r.exitCode}`);
        lat.push(performance.now() - t0);
      }
    } else {
      const shell = await c.openShell();
      for (let i = 0; i < N; i++) {
        const t0 = performance.now();
        const r = await shell.exec('true');
        if (r.exitCode !== 0) throw new Error(`exit ${r.exitCode}`);
        lat.push(performance.now() - t0);
      }
      await shell.close();
    }
  } finally {
    c.close();
  }
  return lat;
}

interface Round {
  side: string;
  round: number;
  commands: number;
  seconds: number;
  commandsPerSec: number;
  endpointCpuMsPerCommand: number;
  helperCpuMsPerCommand: number;
  latencyP50Ms: number;
  latencyP90Ms: number;
  load1: number;
}

async function measure(side: Side, round: number, dir: string): Promise<Round> {
  const { url, child } = await startSide(side, dir, `${side.name}-${round}`);
  try {
    // warm-up: the endpoint's code paths, the clients' modules
    await Promise.all(Array.from({ length: 2 }, () => client(url)));
    const cpu0 = cpuOf(child.pid!);
    const helpers0 = childrenOf(child.pid!);
    const t0 = performance.now();
    const lats = (await Promise.all(Array.from({ length: CLIENTS }, () => client(url)))).flat();
    const seconds = (performance.now() - t0) / 1000;
    const cpu = cpuOf(child.pid!) - cpu0;
    // a child present before and after (the spawn helper; commands come and go): its CPU is the endpoint's too
    let helperCpu = 0;
    for (const [pid, c] of childrenOf(child.pid!)) if (helpers0.has(pid)) helperCpu += c - helpers0.get(pid)!;
    const commands = CLIENTS * N;
    return {
      side: side.name,
      round,
      commands,
      seconds: +seconds.toFixed(2),
      commandsPerSec: +(commands / seconds).toFixed(1),
      endpointCpuMsPerCommand: +((cpu * 1000) / commands).toFixed(2),
      helperCpuMsPerCommand: +((helperCpu * 1000) / commands).toFixed(2),
      latencyP50Ms: Math.round(quantile(lats, 0.5)),
      latencyP90Ms: Math.round(quantile(lats, 0.9)),
      load1: +loadavg()[0]!.toFixed(1),
    };
  } finally {
    await stopServe(child);
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

async function main(): Promise<void> {
  const sides: Side[] = [];
  if (BEFORE) sides.push({ name: 'before', cli: cliOf(BEFORE) });
  sides.push({ name: 'after', cli: cliOf(ROOT) });
  if (PROF) mkdirSync(PROF, { recursive: true });
  const dir = mkdtempSync(join(tmpdir(), 'winrm-ts-bench-endpoint-'));
  const rounds: Round[] = [];
  for (let r = 1; r <= ROUNDS; r++) {
    // alternate the order each round so that neither side always runs on a warmer (or busier) machine
    const order = r % 2 ? sides : [...sides].reverse();
    for (const s of order) {
      const m = await measure(s, r, dir);
      rounds.push(m);
      console.log(JSON.stringify(m));
    }
  }
  type Summary = { commandsPerSec: number; endpointCpuMsPerCommand: number; helperCpuMsPerCommand: number; latencyP50Ms: number };
  const summary: Record<string, Summary> = {};
  for (const s of sides) {
    const mine = rounds.filter((x) => x.side === s.name);
    summary[s.name] = {
      commandsPerSec: +median(mine.map((x) => x.commandsPerSec)).toFixed(1),
      endpointCpuMsPerCommand: +median(mine.map((x) => x.endpointCpuMsPerCommand)).toFixed(2),
      helperCpuMsPerCommand: +median(mine.map((x) => x.helperCpuMsPerCommand)).toFixed(2),
      latencyP50Ms: median(mine.map((x) => x.latencyP50Ms)),
    };
  }
  const ratio = BEFORE ? +(summary.after!.commandsPerSec / summary.before!.commandsPerSec).toFixed(2) : undefined;
  const total = (x: Summary) => x.endpointCpuMsPerCommand + x.helperCpuMsPerCommand;
  const cpuRatio = BEFORE ? +(total(summary.before!) / total(summary.after!)).toFixed(2) : undefined;
  const machine = {
    cpus: `${cpus().length} × ${cpus()[0]?.model ?? '?'}`,
    memGB: +(totalmem() / 2 ** 30).toFixed(1),
    node: process.version,
    kernel: release(),
  };
  const date = new Date().toISOString().slice(0, 10);
  mkdirSync(OUT, { recursive: true });
  const json = { date, machine, clients: CLIENTS, perClient: N, mode: MODE, before: BEFORE || undefined, rounds, summary, ratio, cpuRatio };
  writeFileSync(join(OUT, `${date}-endpoint${MODE === 'shell' ? '' : `-${MODE}`}.json`), JSON.stringify(json, null, 2) + '\n');
  const lines = [
    `# Endpoint throughput bench (${date})`,
    '',
    `Machine: ${machine.cpus}, ${machine.memGB} GB, Node ${machine.node}. ${CLIENTS} concurrent clients (this worktree's library, one`,
    `process) × ${N} \`true\` commands each (mode ${MODE}), Basic over HTTP, against one \`winrm-ts serve\` process; the`,
    `endpoint CPU is its own plus its spawn helper's (the commands' CPU excluded). ${ROUNDS} rounds, before/after`,
    `alternating; medians below. Load average ${loadavg()[0]!.toFixed(1)} at the end (other work shares the machine).`,
    '',
    '| endpoint | commands/s | endpoint CPU ms / command | spawn helper CPU ms / command | latency p50 ms |',
    '|---|---|---|---|---|',
    ...sides.map((s) => {
      const x = summary[s.name]!;
      return `| ${s.name} | ${x.commandsPerSec} | ${x.endpointCpuMsPerCommand} | ${x.helperCpuMsPerCommand} | ${x.latencyP50Ms} |`;
    }),
    '',
    ...(ratio !== undefined
      ? [`after / before: **${ratio}x** commands/s; CPU per command (endpoint + helper) ${cpuRatio}x lower.`, '']
      : []),
    '| side | round | commands | s | commands/s | endpoint CPU ms / cmd | helper CPU ms / cmd | p50 ms | p90 ms | load1 |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rounds.map(
      (x) =>
        `| ${x.side} | ${x.round} | ${x.commands} | ${x.seconds} | ${x.commandsPerSec} | ${x.endpointCpuMsPerCommand} | ` +
        `${x.helperCpuMsPerCommand} | ${x.latencyP50Ms} | ${x.latencyP90Ms} | ${x.load1} |`,
    ),
    '',
    'Re-measure: `npm run build && node --import tsx bench/endpoint-throughput.ts --before DIR` (DIR: a built checkout of the',
    'revision to compare with).',
  ];
  writeFileSync(join(OUT, `${date}-endpoint${MODE === 'shell' ? '' : `-${MODE}`}.md`), lines.join('\n') + '\n');
  console.log(lines.join('\n'));
}

await main();

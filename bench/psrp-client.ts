/**
 * Bench: the PSRP client's CPU per object, against what the same objects cost PowerShell itself.
 *  1. end to end: `pwsh -s` (OutOfProc) streams COUNT `[pscustomobject]@{ i = $_; s = "x$_" }`; objects/s and this
 *     process's CPU (user + system) per object, best of --runs;
 *  2. the receive path alone (stable on a loaded machine): the bytes pwsh wrote for one run, recorded, then replayed
 *     through the OutOfProc decoder, fragment reassembly, message decoding and CLIXML deserialization, in this process
 *     (µs per object, minimum and median of 9 passes);
 *  3. the server-side limit: inside pwsh, building the same objects and `[PSSerializer]::Serialize`-ing each one
 *     (µs per object), i.e. what pwsh spends on each object before a client sees a byte.
 * Writes bench/results/<date>-psrp-client.{json,md}.
 * Run: node --import tsx bench/psrp-client.ts [--count 20000] [--runs 3] [--name psrp-client]
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { Session, OutOfProcTransport, type DuplexLike } from '../src/index.js';
import { OutOfProcDecoder } from '../src/psrp/outofproc-codec.js';
import { Defragmenter, FragmentReader } from '../src/psrp/fragment.js';
import { decodeMessage, MessageType } from '../src/psrp/message.js';
import { deserialize } from '../src/clixml/deserialize.js';
import { findPwsh } from '../test/helpers/peers.js';
import { arg, outDir } from './lib.js';

const COUNT = Number(arg('--count', '20000'));
const RUNS = Number(arg('--runs', '3'));
const NAME = arg('--name', 'psrp-client');
const SCRIPT = `1..${COUNT} | % { [pscustomobject]@{ i = $_; s = "x$_" } }`;
const pwsh = findPwsh();
if (!pwsh) {
  console.error('PowerShell 7.6.9 not found (npm run peers:install)');
  process.exit(2);
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
const loads: number[] = [loadavg()[0]!];

// 1. end to end over pwsh -s, recording what pwsh writes during the last run
const child = spawn(pwsh, ['-s', '-NoLogo', '-NoProfile'], {
  stdio: ['pipe', 'pipe', 'inherit'],
  env: { ...process.env, POWERSHELL_TELEMETRY_OPTOUT: '1' },
});
let recording: Buffer[] | undefined;
const duplex: DuplexLike = {
  write: (c) => child.stdin.write(c),
  on: ((ev: string, cb: (...a: never[]) => void) => {
    if (ev === 'data')
      child.stdout.on('data', (d: Buffer) => {
        recording?.push(Buffer.from(d));
        (cb as (d: Buffer) => void)(d);
      });
    else if (ev === 'close' || ev === 'end') child.on('close', cb as () => void);
    else if (ev === 'error') child.on('error', cb as (e: Error) => void);
  }) as DuplexLike['on'],
  end: () => child.stdin.end(),
  pause: () => child.stdout.pause(),
  resume: () => child.stdout.resume(),
};
const s = await Session.open({ transport: new OutOfProcTransport(duplex, { kind: 'process', destroy: () => void child.kill() }) });
await s.invoke(`1..2000 | % { [pscustomobject]@{ i = $_; s = "x$_" } }`); // warm both sides
const e2e: Array<{ ms: number; cpuUsPerObject: number }> = [];
for (let run = 0; run < RUNS; run++) {
  if (run === RUNS - 1) recording = [];
  const c0 = process.cpuUsage();
  const a = performance.now();
  let n = 0;
  for await (const ev of s.stream(SCRIPT)) if (ev.type === 'output') n++;
  const ms = performance.now() - a;
  const c = process.cpuUsage(c0);
  if (n !== COUNT) throw new Error(`got ${n} objects`);
  e2e.push({ ms, cpuUsPerObject: (c.user + c.system) / COUNT });
  loads.push(loadavg()[0]!);
}
const recorded = Buffer.concat(recording!);
recording = undefined;
await s.close();

// 2. the receive path alone, on the recorded bytes
const td = new TextDecoder();
function replay(): number {
  const dec = new OutOfProcDecoder();
  const readers = new Map<string, FragmentReader>();
  const defrag = new Defragmenter();
  let objects = 0;
  for (let o = 0; o < recorded.length; o += 65536) {
    for (const p of dec.push(recorded.subarray(o, Math.min(o + 65536, recorded.length)))) {
      if (p.type !== 'Data') continue;
      let fr = readers.get(p.psGuid);
      if (!fr) readers.set(p.psGuid, (fr = new FragmentReader({ views: true })));
      for (const f of fr.push(p.data)) {
        const m = defrag.add(f);
        if (!m) continue;
        const msg = decodeMessage(m);
        const v = deserialize(td.decode(msg.data));
        if (msg.messageType === MessageType.PIPELINE_OUTPUT && v !== undefined) objects++;
      }
    }
  }
  return objects;
}
if (replay() !== COUNT) throw new Error('the replay did not give every object');
const passes: number[] = [];
for (let i = 0; i < 9; i++) {
  const c0 = process.cpuUsage();
  replay();
  const c = process.cpuUsage(c0);
  passes.push((c.user + c.system) / COUNT);
}

// 3. what the objects cost pwsh itself: build them, and serialize each (what the server does per output object)
const ps = spawnSync(
  pwsh,
  [
    '-NoLogo',
    '-NoProfile',
    '-NonInteractive',
    '-c',
    `$o = ${SCRIPT}; $b = [double]::MaxValue; $z = [double]::MaxValue; foreach ($k in 1..3) { ` +
      `$t = Measure-Command { $null = ${SCRIPT} }; if ($t.TotalMilliseconds -lt $b) { $b = $t.TotalMilliseconds }; ` +
      `$t = Measure-Command { foreach ($x in $o) { $null = [System.Management.Automation.PSSerializer]::Serialize($x, 1) } }; ` +
      `if ($t.TotalMilliseconds -lt $z) { $z = $t.TotalMilliseconds } }; "$b $z"`,
  ],
  { encoding: 'utf8' },
);
const [buildMs, serializeMs] = ps.stdout.trim().split('\n').pop()!.split(' ').map(Number) as [number, number];
loads.push(loadavg()[0]!);

const best = e2e.reduce((a, b) => (b.ms < a.ms ? b : a));
const result = {
  bench: 'psrp-client',
  date: new Date().toISOString(),
  machine: { cpus: cpus().length, node: process.version, loadAverage1m: { min: Math.min(...loads), max: Math.max(...loads) } },
  params: { count: COUNT, runs: RUNS, script: SCRIPT, recordedBytes: recorded.length },
  endToEnd: {
    bestMs: Math.round(best.ms),
    objectsPerSecond: Math.round(COUNT / (best.ms / 1000)),
    clientCpuUsPerObject: {
      best: +Math.min(...e2e.map((x) => x.cpuUsPerObject)).toFixed(1),
      median: +median(e2e.map((x) => x.cpuUsPerObject)).toFixed(1),
    },
  },
  receivePathUsPerObject: { min: +Math.min(...passes).toFixed(2), median: +median(passes).toFixed(2) },
  pwsh: {
    buildUsPerObject: +((buildMs * 1000) / COUNT).toFixed(1),
    serializeUsPerObject: +((serializeMs * 1000) / COUNT).toFixed(1),
  },
};
const OUT = outDir();
mkdirSync(OUT, { recursive: true });
const day = result.date.slice(0, 10);
writeFileSync(join(OUT, `${day}-${NAME}.json`), JSON.stringify(result, null, 2) + '\n');
const md = [
  `# PSRP client CPU per object (${day})`,
  '',
  `\`node --import tsx bench/psrp-client.ts --count ${COUNT} --runs ${RUNS}\`: \`pwsh -s\` (OutOfProc) streams ${COUNT} ` +
    `\`[pscustomobject]@{ i = $_; s = "x$_" }\`. ` +
    `${result.machine.cpus} shared cores, 1-minute load average ` +
    `${result.machine.loadAverage1m.min.toFixed(1)}–${result.machine.loadAverage1m.max.toFixed(1)} (other work running).`,
  '',
  '| measure | value |',
  '|---|---|',
  `| end to end, objects/s (best of ${RUNS}) | ${result.endToEnd.objectsPerSecond} |`,
  `| client CPU per object, end to end (user + system; best / median) | ${result.endToEnd.clientCpuUsPerObject.best} / ` +
    `${result.endToEnd.clientCpuUsPerObject.median} µs |`,
  `| receive path alone (OutOfProc decode, fragments, message, CLIXML), replayed; min / median | ` +
    `${result.receivePathUsPerObject.min} / ${result.receivePathUsPerObject.median} µs |`,
  `| pwsh: building one object (the script with its output discarded) | ${result.pwsh.buildUsPerObject} µs |`,
  `| pwsh: \`[PSSerializer]::Serialize\` of one object (the server's own cost per output object) | ` +
    `${result.pwsh.serializeUsPerObject} µs |`,
  '',
].join('\n');
writeFileSync(join(OUT, `${day}-${NAME}.md`), md);
console.log(md);

/**
 * Bench: the PSRP client's CPU per object, against what the same objects cost PowerShell itself.
 *  1. end to end: `pwsh -s` (OutOfProc) streams COUNT `[pscustomobject]@{ i = $_; s = "x$_" }`; objects/s and this
 *     process's CPU (user + system) per object, best of --runs;
 *  2. the receive path alone (stable on a loaded machine): the bytes pwsh wrote for one run, recorded, then replayed
 *     through the OutOfProc decoder, fragment reassembly, message decoding and CLIXML deserialization, in this process
 *     (µs per object, minimum and median of 9 passes);
 *  2b. the whole client path replayed: the same bytes, cut at the sizes pwsh's reads had, fed one read per event-loop
 *     turn through a Session and its OutOfProcTransport (events, the stream() generator) to a `for await` consumer:
 *     what end to end costs minus the pipe reads and their wake-ups (µs per object, minimum and median of 9 passes);
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
import * as processTransport from '../src/remoting/process.js';
import { OutOfProcDecoder } from '../src/psrp/outofproc-codec.js';
import { Defragmenter, FragmentReader } from '../src/psrp/fragment.js';
import { decodeMessage, MessageType } from '../src/psrp/message.js';
import { deserialize } from '../src/clixml/deserialize.js';
import { findPwsh } from '../test/helpers/peers.js';
import { arg, outDir } from './lib.js';

// (absent before read coalescing: the same bench then measures the tree it runs in without it)
const coalesceReads = (processTransport as { coalesceReads?: typeof processTransport.coalesceReads }).coalesceReads;
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
let recording: Buffer[] | undefined = [];
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
// no key exchange: the replay (2b) answers the opening with what pwsh wrote for it, which must not hold a session key
// the read coalescing spawnPwshTransport applies to pwsh's stdout (src/remoting/process.ts), where the library has it
if (typeof coalesceReads === 'function') {
  const onRead = coalesceReads(child.stdout);
  child.stdout.on('data', (d: Buffer) => onRead(d.length));
}
const s = await Session.open({
  transport: new OutOfProcTransport(duplex, { kind: 'process', destroy: () => void child.kill() }),
  exchangeKeys: false,
});
const opening = Buffer.concat(recording);
recording = undefined;
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
const reads = recording!.map((b) => b.length);
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

// 2b. the whole client path on the recorded bytes: a Session over a stand-in for pwsh that answers the opening and
// each pipeline with what pwsh wrote, one recorded read size per event-loop turn
const lines = (b: Buffer) => b.toString('latin1').split('\n');
const openData = Buffer.from(
  lines(opening)
    .filter((l) => l.startsWith('<Data '))
    .join('\n') + '\n',
  'latin1',
);
const runLines = lines(recorded);
const pipelineGuid = /PSGuid='([^']+)'/.exec(runLines.find((l) => l.startsWith('<Data '))!)![1]!;
const body = Buffer.from(runLines.filter((l) => l.startsWith('<Data ') && l.includes(pipelineGuid)).join('\n') + '\n', 'latin1');
const bodyReads: Buffer[] = [];
for (let o = 0, k = 0; o < body.length; k++) {
  const n = reads[k % reads.length]!;
  bodyReads.push(body.subarray(o, o + n));
  o += n;
}
let fakeOnData: ((c: Buffer) => void) | undefined;
let fakePaused = false;
let fakeBlocked: (() => void) | undefined;
function feed(list: Buffer[]): void {
  let i = 0;
  const step = (): void => {
    if (fakePaused) {
      fakeBlocked = step;
      return;
    }
    if (i < list.length) {
      fakeOnData!(list[i++]!);
      setImmediate(step);
    }
  };
  setImmediate(step);
}
let fakeOpened = false;
const fake: DuplexLike = {
  write: (c) => {
    for (const line of (typeof c === 'string' ? c : Buffer.from(c).toString('latin1')).split('\n')) {
      const g = /PSGuid='([^']+)'/.exec(line)?.[1];
      if (!g) continue;
      const ack = (t: string) => Buffer.from(`<${t} PSGuid='${g}' />\n`);
      if (line.startsWith('<Data ') && !fakeOpened) {
        fakeOpened = true;
        feed([ack('DataAck'), openData]);
      } else if (line.startsWith('<Data ')) feed([ack('DataAck'), ...bodyReads]);
      else if (line.startsWith('<Command ')) feed([ack('CommandAck')]);
      else if (line.startsWith('<Close ')) feed([ack('CloseAck')]);
      else if (line.startsWith('<Signal ')) feed([ack('SignalAck')]);
    }
  },
  on: ((ev: string, cb: (...a: never[]) => void) => {
    if (ev === 'data') fakeOnData = cb as (d: Buffer) => void;
  }) as DuplexLike['on'],
  pause: () => {
    fakePaused = true;
  },
  resume: () => {
    fakePaused = false;
    const b = fakeBlocked;
    fakeBlocked = undefined;
    if (b) setImmediate(b);
  },
};
const rs = await Session.open({ transport: new OutOfProcTransport(fake, { kind: 'replay' }), exchangeKeys: false });
// every replayed pipeline takes the recorded pipeline's id (the bytes carry it); the previous one is closed by then
const createPipeline = rs.pool.createPipeline.bind(rs.pool);
rs.pool.createPipeline = (spec, o) => createPipeline(spec, { ...o, pipelineId: pipelineGuid });
const sessionPasses: number[] = [];
for (let i = 0; i < 12; i++) {
  const c0 = process.cpuUsage();
  let n = 0;
  for await (const ev of rs.stream('replayed')) if (ev.type === 'output') n++;
  const c = process.cpuUsage(c0);
  if (n !== COUNT) throw new Error(`the session replay gave ${n} objects`);
  await new Promise((r) => setTimeout(r, 10)); // the previous pipeline's Close is answered
  if (i >= 3) sessionPasses.push((c.user + c.system) / COUNT); // the first passes warm the JIT up
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
  sessionReplayUsPerObject: {
    min: +Math.min(...sessionPasses).toFixed(2),
    median: +median(sessionPasses).toFixed(2),
    reads: bodyReads.length,
    bytesPerRead: Math.round(body.length / bodyReads.length),
  },
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
  `| whole client path (Session, events, stream()), replayed at pwsh's read sizes ` +
    `(${result.sessionReplayUsPerObject.bytesPerRead} B/read); min / median | ` +
    `${result.sessionReplayUsPerObject.min} / ${result.sessionReplayUsPerObject.median} µs |`,
  `| pwsh: building one object (the script with its output discarded) | ${result.pwsh.buildUsPerObject} µs |`,
  `| pwsh: \`[PSSerializer]::Serialize\` of one object (the server's own cost per output object) | ` +
    `${result.pwsh.serializeUsPerObject} µs |`,
  '',
].join('\n');
writeFileSync(join(OUT, `${day}-${NAME}.md`), md);
console.log(md);

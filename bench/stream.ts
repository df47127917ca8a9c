/**
 * Bench: stdout streaming side by side, one endpoint (`winrm-ts serve`, separate process), rounds interleaved so
 * every client sees the same machine load:
 *   - Basic over HTTP, --mb MB (default 100): the winrm-ts CLI (`run`), pywinrm, Go masterzen/winrm, and a minimal
 *     client (bench/minimal-client.mjs: no XML parser, no checks; the floor for this endpoint), and the library in a
 *     process of its own (bench/stream-library.mjs: no CLI; also reports the CPU of the streaming alone);
 *   - NTLM with message encryption, --ntlm-mb MB (default 50): the winrm-ts CLI (--auth negotiate) and pywinrm
 *     (transport ntlm). Go's masterzen NTLM client does not encrypt, so it is not in this row.
 * Each run is a separate process under /usr/bin/time: wall seconds (MB/s), client CPU seconds (user + system), peak
 * RSS; and the endpoint's own CPU around each run. Medians over --rounds (default 3). Writes bench/results/<date>-stream.{json,md}.
 * Run: npm run build && node --import tsx bench/stream.ts [--mb 100] [--ntlm-mb 50] [--rounds 3] [--name stream]
 * (--name: the results' file name after the date, e.g. stream-2 for a second run on one day)
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, platform, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
// @ts-expect-error plain ESM helper without types
import { goPeer } from '../test/peers/fixtures/go/build.mjs';
import { arg, outDir, PASSWORD, ROOT, startServe, USER } from './lib.js';

const MB = Number(arg('--mb', '100'));
const NTLM_MB = Number(arg('--ntlm-mb', '50'));
const ROUNDS = Number(arg('--rounds', '3'));
const NAME = arg('--name', 'stream');
const OSSL = join(ROOT, 'test/peers/fixtures/openssl-legacy.cnf');
const CLI = join(ROOT, 'dist/src/bundle/main.js');

interface Sample {
  seconds: number;
  cpu: number;
  rssMB: number;
  bytes: number;
  /** CPU seconds of the streaming alone, when the client reports it (the library row) */
  streamCpu?: number;
}

function timed(
  cmd: string,
  args: string[],
  outFile: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
): Promise<{ sample?: Sample; stderr: string }> {
  return new Promise((resolve) => {
    // stdout to a file (its size is checked), or kept when the client counts the bytes itself and prints the count
    const sh = `exec /usr/bin/time -f 'TIME %e %U %S %M' "$@"${outFile ? ` > '${outFile}'` : ''}`;
    execFile('sh', ['-c', sh, 'sh', cmd, ...args], { env, maxBuffer: 1 << 22, timeout: 900_000 }, (err, _o, stderr) => {
      const m = /TIME ([\d.]+) ([\d.]+) ([\d.]+) (\d+)/.exec(stderr);
      if (err || !m) {
        resolve({ stderr });
        return;
      }
      const bytes = outFile ? statSync(outFile).size : Number(/bytes["=:]+(\d+)/.exec(stderr + _o)?.[1] ?? 0);
      const sc = /"streamCpu":([\d.]+)/.exec(_o)?.[1];
      const sample = { seconds: Number(m[1]), cpu: Number(m[2]) + Number(m[3]), rssMB: Number(m[4]) / 1024, bytes };
      resolve({ sample: sc === undefined ? sample : { ...sample, streamCpu: Number(sc) }, stderr });
    });
  });
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)]! : NaN;
};

async function main(): Promise<void> {
  if (!existsSync(CLI)) throw new Error('run `npm run build` first (the bench runs the CLI from dist/)');
  const dir = mkdtempSync(join(tmpdir(), 'winrm-ts-stream-'));
  // the endpoint as installed (the built CLI), its own CPU measured around each run (Linux /proc)
  const { url, child: serve } = await startServe(dir, ['--auth', 'basic,negotiate', '--allow-unencrypted'], { cli: CLI });
  const serveCpu = (): number => {
    try {
      const f = readFileSync(`/proc/${serve.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, in clock ticks of 1/100 s
    } catch {
      return NaN;
    }
  };
  const endpointCpu = new Map<string, number[]>();
  const host = new URL(url).host;
  const hasPy = existsSync('/usr/lib/python3/dist-packages/winrm');
  let go: string | undefined;
  try {
    go = goPeer();
  } catch {
    go = undefined;
  }
  const out = join(dir, 'out');
  const line = (bytes: number) => `head -c ${bytes} /dev/zero | tr '\\0' x`;
  const py = (transport: string, bytes: number) =>
    [
      '/usr/bin/python3',
      [
        '-c',
        `import sys, winrm\ns = winrm.Session(sys.argv[1], auth=(sys.argv[2], sys.argv[3]), transport=sys.argv[4], ` +
          `server_cert_validation='ignore')\nr = s.run_cmd(sys.argv[5]); sys.stdout.buffer.write(r.std_out)`,
        url,
        USER,
        PASSWORD,
        transport,
        line(bytes),
      ],
    ] as const;
  type Row = { name: string; bytes: number; run: () => Promise<{ sample?: Sample; stderr: string }> };
  const basic = MB * 1048576;
  const ntlm = NTLM_MB * 1048576;
  const rows: Row[] = [
    {
      name: 'basic/winrm-ts',
      bytes: basic,
      run: () =>
        timed(
          process.execPath,
          [CLI, 'run', '-H', host, '-u', USER, '-p', PASSWORD, '--auth', 'basic', '--allow-unencrypted', '--', 'sh', '-c', line(basic)],
          out,
        ),
    },
    ...(hasPy
      ? [{ name: 'basic/pywinrm', bytes: basic, run: () => timed(py('plaintext', basic)[0], [...py('plaintext', basic)[1]], out) }]
      : []),
    // the library in its own process (dist/, no CLI): prints its byte count and the CPU of the streaming alone
    {
      name: 'basic/library',
      bytes: basic,
      run: () => timed(process.execPath, [join(ROOT, 'bench/stream-library.mjs'), url, USER, PASSWORD, line(basic)], undefined),
    },
    // masterzen/winrm joins its arguments unquoted: the command line goes as one argument
    ...(go ? [{ name: 'basic/go', bytes: basic, run: () => timed(go!, ['-count', url, USER, PASSWORD, line(basic)], undefined) }] : []),
    {
      name: 'basic/minimal',
      bytes: basic,
      run: () => timed(process.execPath, [join(ROOT, 'bench/minimal-client.mjs'), url, USER, PASSWORD, '512000', line(basic)], undefined),
    },
    {
      name: 'ntlm/winrm-ts',
      bytes: ntlm,
      run: () =>
        timed(
          process.execPath,
          [CLI, 'run', '-H', host, '-u', USER, '-p', PASSWORD, '--auth', 'negotiate', '--', 'sh', '-c', line(ntlm)],
          out,
        ),
    },
    ...(hasPy
      ? [
          {
            name: 'ntlm/pywinrm',
            bytes: ntlm,
            run: () => timed(py('ntlm', ntlm)[0], [...py('ntlm', ntlm)[1]], out, { ...process.env, OPENSSL_CONF: OSSL }),
          },
        ]
      : []),
  ];
  const samples = new Map<string, Sample[]>(rows.map((r) => [r.name, []]));
  const notes: string[] = [];
  const loads: number[] = [];
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const r of rows) {
        loads.push(loadavg()[0]!);
        const before = serveCpu();
        const { sample, stderr } = await r.run();
        const used = serveCpu() - before;
        if (sample && Number.isFinite(used)) endpointCpu.set(r.name, [...(endpointCpu.get(r.name) ?? []), used / (r.bytes / 104857600)]);
        if (!sample) {
          notes.push(`${r.name} round ${round + 1} failed: ${stderr.trim().split('\n').slice(-2).join(' ').slice(0, 200)}`);
          continue;
        }
        if (sample.bytes !== r.bytes) {
          notes.push(`${r.name} round ${round + 1}: ${sample.bytes} of ${r.bytes} bytes`);
          continue;
        }
        samples.get(r.name)!.push(sample);
        console.error(
          `${r.name} round ${round + 1}: ${(r.bytes / 1048576 / sample.seconds).toFixed(1)} MB/s, CPU ${sample.cpu.toFixed(2)} s`,
        );
      }
    }
  } finally {
    serve.kill('SIGTERM');
  }
  const results: Record<
    string,
    { MBps: number; seconds: number; cpuSecondsPer100MB: number; streamCpuSecondsPer100MB?: number; peakRssMB: number; runs: number }
  > = {};
  for (const r of rows) {
    const s = samples.get(r.name)!;
    if (!s.length) continue;
    results[r.name] = {
      MBps: +median(s.map((x) => r.bytes / 1048576 / x.seconds)).toFixed(1),
      seconds: +median(s.map((x) => x.seconds)).toFixed(2),
      cpuSecondsPer100MB: +median(s.map((x) => x.cpu / (r.bytes / 104857600))).toFixed(2),
      ...(s[0]!.streamCpu !== undefined
        ? { streamCpuSecondsPer100MB: +median(s.map((x) => x.streamCpu! / (r.bytes / 104857600))).toFixed(2) }
        : {}),
      peakRssMB: +median(s.map((x) => x.rssMB)).toFixed(0),
      runs: s.length,
    };
  }
  const ratio = (a: string, b: string) => (results[a] && results[b] ? +(results[a]!.MBps / results[b]!.MBps).toFixed(2) : null);
  const ratios = {
    basicVsPywinrm: ratio('basic/winrm-ts', 'basic/pywinrm'),
    basicVsGo: ratio('basic/winrm-ts', 'basic/go'),
    libraryVsPywinrm: ratio('basic/library', 'basic/pywinrm'),
    basicPercentOfMinimal:
      results['basic/minimal'] && results['basic/winrm-ts']
        ? Math.round((100 * results['basic/winrm-ts']!.MBps) / results['basic/minimal']!.MBps)
        : null,
    ntlmVsPywinrm: ratio('ntlm/winrm-ts', 'ntlm/pywinrm'),
  };
  const machine = {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    memGB: +(totalmem() / 2 ** 30).toFixed(1),
    node: process.version,
    os: `${platform()} ${release()}`,
    loadAverage1m: { min: +Math.min(...loads).toFixed(1), median: +median(loads).toFixed(1), max: +Math.max(...loads).toFixed(1) },
  };
  const date = new Date().toISOString().slice(0, 10);
  const OUT = outDir();
  mkdirSync(OUT, { recursive: true });
  writeFileSync(
    join(OUT, `${date}-${NAME}.json`),
    JSON.stringify(
      {
        bench: 'stream',
        date: new Date().toISOString(),
        machine,
        params: { MB, NTLM_MB, rounds: ROUNDS, endpoint: 'winrm-ts serve (one process), MaxEnvelopeSize 512000' },
        results,
        endpointCpuSecondsPer100MB: Object.fromEntries([...endpointCpu].map(([k, v]) => [k, +median(v).toFixed(2)])),
        ratios,
        notes,
      },
      null,
      2,
    ) + '\n',
  );
  const cell = (k: string, f: 'MBps' | 'cpuSecondsPer100MB' | 'peakRssMB') => results[k]?.[f] ?? 'n/a';
  const md = [
    `# stdout streaming bench (${date})`,
    '',
    `Machine: ${machine.cpus} × ${machine.cpuModel}, ${machine.memGB} GB, Node ${machine.node}, ${machine.os}; shared with ` +
      `other work (1-minute load average ${machine.loadAverage1m.min}–${machine.loadAverage1m.max}, median ` +
      `${machine.loadAverage1m.median}, on ${machine.cpus} cores). ` +
      `One \`winrm-ts serve\` endpoint; every client a separate process, ${ROUNDS} interleaved rounds, medians. Wall-clock MB/s ` +
      `include process start; CPU is the client process's user + system time.`,
    '',
    '| client | Basic/HTTP MB/s | CPU s per 100 MB | peak RSS MB | NTLM-encrypted MB/s | CPU s per 100 MB |',
    '|---|---|---|---|---|---|',
    `| winrm-ts CLI | ${cell('basic/winrm-ts', 'MBps')} | ${cell('basic/winrm-ts', 'cpuSecondsPer100MB')} | ` +
      `${cell('basic/winrm-ts', 'peakRssMB')} | ${cell('ntlm/winrm-ts', 'MBps')} | ${cell('ntlm/winrm-ts', 'cpuSecondsPer100MB')} ` +
      `|`,
    `| winrm-ts library (own process) | ${cell('basic/library', 'MBps')} | ${cell('basic/library', 'cpuSecondsPer100MB')} ` +
      `(streaming alone: ${results['basic/library']?.streamCpuSecondsPer100MB ?? 'n/a'}) | ${cell('basic/library', 'peakRssMB')} | – | – |`,
    `| pywinrm | ${cell('basic/pywinrm', 'MBps')} | ${cell('basic/pywinrm', 'cpuSecondsPer100MB')} | ` +
      `${cell('basic/pywinrm', 'peakRssMB')} | ${cell('ntlm/pywinrm', 'MBps')} | ${cell('ntlm/pywinrm', 'cpuSecondsPer100MB')} |`,
    `| Go masterzen/winrm | ${cell('basic/go', 'MBps')} | ${cell('basic/go', 'cpuSecondsPer100MB')} | ` +
      `${cell('basic/go', 'peakRssMB')} | – | – |`,
    `| minimal client (floor) | ${cell('basic/minimal', 'MBps')} | ${cell('basic/minimal', 'cpuSecondsPer100MB')} | ` +
      `${cell('basic/minimal', 'peakRssMB')} | – | – |`,
    '',
    `Ratios (MB/s): Basic ${ratios.basicVsPywinrm ?? 'n/a'}x pywinrm, ${ratios.basicVsGo ?? 'n/a'}x Go, ` +
      `${ratios.basicPercentOfMinimal ?? 'n/a'} % of the minimal client; NTLM-encrypted ${ratios.ntlmVsPywinrm ?? 'n/a'}x ` +
      `pywinrm.`,
    '',
    `Endpoint (\`winrm-ts serve\`, its own process; the commands and the spawn helper not counted), CPU s per 100 MB: ` +
      [...endpointCpu].map(([k, v]) => `${k} ${median(v).toFixed(2)}`).join(', ') +
      '.',
    notes.length ? `\nNotes: ${notes.join('; ')}` : '',
  ].join('\n');
  writeFileSync(join(OUT, `${date}-${NAME}.md`), md + '\n');
  console.log(md);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});

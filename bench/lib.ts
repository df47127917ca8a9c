/**
 * What the benches share: command-line flags, the bench user, a `winrm-ts serve` endpoint in a separate process,
 * and the measuring loops (stdout throughput over WinRS, `1+1` latency and object throughput over a PSRP Session).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Session, WinRMClient } from '../src/index.js';

export const ROOT = new URL('..', import.meta.url).pathname;
export const USER = 'EXAMPLE\\alice';
export const PASSWORD = 'Passw0rd!';
/** node arguments that run the winrm-ts CLI: the tsc build when there is one, else the sources through tsx. */
export const CLI_ARGS = existsSync(join(ROOT, 'dist/src/cli/main.js'))
  ? [join(ROOT, 'dist/src/cli/main.js')]
  : ['--import', 'tsx', join(ROOT, 'src/cli/main.ts')];

/** The value after flag `name` on the command line, else `def`. */
export const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1]! : def;
};
/** `--out DIR`: where a bench writes its .md/.json (default bench/results). */
export const outDir = (): string => arg('--out', join(ROOT, 'bench', 'results'));
/** The q-quantile (0..1) of xs, nearest rank below. */
export const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};

/**
 * Start `winrm-ts serve --listen 127.0.0.1:0 --users DIR/users --quiet ...serveArgs` (USER:PASSWORD in DIR/users)
 * and wait for its "listening on URL" line. Kill `child` when done. `o.cli`: a built CLI to run instead of the
 * sources (e.g. another revision's dist); `o.nodeArgs`: flags for node (e.g. --cpu-prof).
 */
export async function startServe(
  dir: string,
  serveArgs: string[],
  o: { cli?: string; nodeArgs?: string[] } = {},
): Promise<{ url: string; port: number; child: ChildProcess }> {
  writeFileSync(join(dir, 'users'), `${USER}:${PASSWORD}\n`, { mode: 0o600 });
  const cli = o.cli ? [o.cli] : ['--import', 'tsx', join(ROOT, 'src/cli/main.ts')];
  const child = spawn(
    process.execPath,
    [...(o.nodeArgs ?? []), ...cli, 'serve', '--listen', '127.0.0.1:0', '--users', join(dir, 'users'), ...serveArgs, '--quiet'],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /listening on (\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (c) => reject(new Error(`serve exited ${c}`)));
  });
  return { url, port: Number(new URL(url).port), child };
}

/** MB/s of one command writing `bytes` of text to stdout in a fresh shell of `c` (checks the byte count). */
export async function stdoutThroughput(c: WinRMClient, bytes: number): Promise<number> {
  const shell = await c.openShell();
  const t0 = process.hrtime.bigint();
  const cmd = await shell.run('sh', ['-c', `head -c ${bytes} /dev/zero | tr '\\0' 'x'`]);
  let n = 0;
  cmd.stderr.resume();
  for await (const chunk of cmd.stdout) n += (chunk as Buffer).length;
  await cmd.exitCode;
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  await shell.close();
  if (n !== bytes) throw new Error(`got ${n} bytes, expected ${bytes}`);
  return bytes / 1048576 / s;
}

/** Milliseconds of each of `n` invokes of `1+1` (after 5 warm-up invokes; checks the result). */
export async function invokeLatencies(s: Session, n: number): Promise<number[]> {
  for (let i = 0; i < 5; i++) await s.invoke('1+1');
  const lat: number[] = [];
  for (let i = 0; i < n; i++) {
    const a = performance.now();
    const r = await s.invoke('1+1');
    lat.push(performance.now() - a);
    if (r.output[0] !== 2) throw new Error('1+1 did not return 2');
  }
  return lat;
}

/** Milliseconds of each of `runs` invokes of `script` (after one warm-up invoke; checks it returned `objects` objects). */
export async function throughputRuns(s: Session, script: string, runs: number, objects: number): Promise<number[]> {
  await s.invoke(script);
  const out: number[] = [];
  for (let i = 0; i < runs; i++) {
    const a = performance.now();
    const r = await s.invoke(script);
    out.push(performance.now() - a);
    if (r.output.length !== objects) throw new Error(`got ${r.output.length} objects`);
  }
  return out;
}

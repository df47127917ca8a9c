/**
 * The spawn helper (src/server/spawn-helper.ts): processes started through it behave as Node's spawn did — stdio,
 * exit codes and signals, the exact environment and working directory, a new session — and are killed when the
 * endpoint or the helper goes away.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnForLogon, type LogonChild } from '../../src/server/spawn.js';
import { spawnHelperStats, startSpawnHelper } from '../../src/server/spawn-helper.js';
import { peerSkip } from '../helpers/peers.js';

const skip = peerSkip('python3', existsSync('/usr/bin/python3'), 'the spawn helper needs /usr/bin/python3 (apt-get install python3)');

async function collect(c: LogonChild): Promise<{ out: string; err: string; code: number | null; signal: string | null }> {
  let out = '';
  let err = '';
  c.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  c.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const [code, signal] = await new Promise<[number | null, string | null]>((r) => c.once('close', (a, b) => r([a, b])));
  return { out, err, code, signal };
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const waitFor = async (pred: () => boolean, ms: number): Promise<boolean> => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (pred()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return pred();
};

test('processes are started by the helper: stdio, exit codes, environment, directory, own session', { skip }, async () => {
  assert.equal(await startSpawnHelper(), true);
  const before = spawnHelperStats()!;
  assert.ok(before.pid, 'the helper runs');

  const c = await spawnForLogon(undefined, 'sh', ['-c', 'cat; echo err >&2; exit 3']);
  c.stdin!.end('hello\n');
  assert.deepEqual(await collect(c), { out: 'hello\n', err: 'err\n', code: 3, signal: null });

  const dir = realpathSync(mkdtempSync(join(tmpdir(), 'winrm-ts-spawn-test-')));
  const e = await spawnForLogon(undefined, 'sh', ['-c', 'pwd; env; ps -o sid= -p $$; echo $$'], { cwd: dir, env: { ONLY_ME: 'x y' } });
  const r = await collect(e);
  assert.equal(r.code, 0);
  const lines = r.out.trim().split('\n');
  assert.equal(lines[0], dir);
  assert.ok(lines.includes('ONLY_ME=x y'), r.out);
  // nothing of the endpoint's (or the helper's) environment beyond the account's base and the caller's additions
  const names = lines.filter((l) => /^[A-Za-z_][A-Za-z0-9_]*=/.test(l)).map((l) => l.slice(0, l.indexOf('=')));
  for (const n of names) assert.match(n, /^(PATH|HOME|USER|LOGNAME|SHELL|LANG|LANGUAGE|LC_[A-Z]+|TZ|ONLY_ME|PWD|SHLVL|_)$/, n);
  // a session leader: its session id is its pid (so killing the group -pid reaches what it started)
  const sid = Number(lines[lines.length - 2]!.trim());
  const pid = Number(lines[lines.length - 1]);
  assert.equal(sid, pid);
  assert.equal(e.pid, pid);
  assert.equal(spawnHelperStats()!.spawned, before.spawned + 2);
});

test('a missing program rejects with ENOENT; a signal is reported as the signal', { skip }, async () => {
  await assert.rejects(spawnForLogon(undefined, '/nonexistent/prog', []), (e: NodeJS.ErrnoException) => e.code === 'ENOENT');
  const c = await spawnForLogon(undefined, 'sleep', ['30']);
  const done = collect(c);
  c.kill('SIGTERM');
  assert.deepEqual(await done, { out: '', err: '', code: null, signal: 'SIGTERM' });
});

test('many short processes started at once all report their exit and close', { skip }, async () => {
  // a quick process's sockets may close before the endpoint has its pid: the close must still be reported
  const results = await Promise.all(
    Array.from({ length: 40 }, async (_, i) => collect(await spawnForLogon(undefined, 'sh', ['-c', `echo ${i}; exit ${i % 7}`]))),
  );
  results.forEach((r, i) => assert.deepEqual(r, { out: `${i}\n`, err: '', code: i % 7, signal: null }));
});

test('large output arrives whole, with back-pressure (the reader pauses)', { skip }, async () => {
  const c = await spawnForLogon(undefined, 'head', ['-c', String(16 * 1024 * 1024), '/dev/zero']);
  let n = 0;
  let paused = false;
  c.stdout!.on('data', (d: Buffer) => {
    n += d.length;
    if (!paused && n > 1024 * 1024) {
      paused = true;
      c.stdout!.pause();
      setTimeout(() => c.stdout!.resume(), 200);
    }
  });
  const [code] = await new Promise<[number | null]>((r) => c.once('close', (a) => r([a])));
  assert.equal(code, 0);
  assert.equal(n, 16 * 1024 * 1024);
});

test('when the helper dies, its processes are killed and reported killed; the next spawn starts a new helper', { skip }, async () => {
  await startSpawnHelper();
  const s0 = spawnHelperStats()!;
  const c = await spawnForLogon(undefined, 'sleep', ['30']);
  const done = collect(c);
  process.kill(s0.pid!, 'SIGKILL');
  const r = await done;
  assert.equal(r.signal, 'SIGKILL');
  assert.equal(await waitFor(() => !alive(c.pid!), 5000), true, 'the process is gone');
  const n = await spawnForLogon(undefined, 'echo', ['again']);
  assert.equal((await collect(n)).out, 'again\n');
  assert.equal(spawnHelperStats()!.starts, s0.starts + 1);
});

test('when the endpoint is killed outright, the helper kills what it started and exits', { skip }, async () => {
  // a separate "endpoint" process that starts `sleep` through the helper, prints the pids, then waits to be killed
  const dir = mkdtempSync(join(tmpdir(), 'winrm-ts-spawn-test-'));
  const script =
    `import { spawnForLogon } from ${JSON.stringify(new URL('../../src/server/spawn.ts', import.meta.url).pathname)};\n` +
    `import { spawnHelperStats } from ${JSON.stringify(new URL('../../src/server/spawn-helper.ts', import.meta.url).pathname)};\n` +
    `const c = await spawnForLogon(undefined, 'sleep', ['60']);\n` +
    `console.log(JSON.stringify({ sleep: c.pid, helper: spawnHelperStats().pid }));\n` +
    `setInterval(() => {}, 1000);\n`;
  const file = join(dir, 'endpoint.mts');
  writeFileSync(file, script);
  const ep = spawn(process.execPath, ['--import', 'tsx', file], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    ep.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.includes('\n')) resolve(out.split('\n')[0]!);
    });
    ep.once('exit', (c) => reject(new Error(`endpoint exited ${c}`)));
  });
  const { sleep, helper } = JSON.parse(line) as { sleep: number; helper: number };
  try {
    assert.ok(alive(sleep) && alive(helper));
    // the pid is known from the fork: the exec of `sleep` may still be under way
    const cmdline = () => {
      try {
        return readFileSync(`/proc/${sleep}/cmdline`, 'latin1');
      } catch {
        return '';
      }
    };
    assert.equal(
      await waitFor(() => /^sleep\0/.test(cmdline()), 10_000),
      true,
      `the helper ran sleep (cmdline ${JSON.stringify(cmdline())})`,
    );
    ep.kill('SIGKILL');
    assert.equal(await waitFor(() => !alive(sleep), 10_000), true, 'the command died with the endpoint');
    assert.equal(await waitFor(() => !alive(helper), 10_000), true, 'the helper exited');
  } finally {
    ep.kill('SIGKILL'); // a failed check above must not leave the endpoint (and this test file) running
  }
});

test('the helper does not keep an endpoint process alive once nothing runs', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'winrm-ts-spawn-test-'));
  const file = join(dir, 'endpoint.mts');
  writeFileSync(
    file,
    `import { spawnForLogon } from ${JSON.stringify(new URL('../../src/server/spawn.ts', import.meta.url).pathname)};\n` +
      `const closed = (c) => { c.stdout.resume(); c.stderr.resume(); return new Promise((r) => c.once('close', r)); };\n` +
      `await Promise.all(Array.from({ length: 20 }, async () => closed(await spawnForLogon(undefined, 'true', []))));\n` +
      `console.log('done');\n`,
  );
  const ep = spawn(process.execPath, ['--import', 'tsx', file], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  ep.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const killer = setTimeout(() => ep.kill('SIGKILL'), 30_000);
  const [code, signal] = await new Promise<[number | null, string | null]>((r) => ep.once('exit', (c, s) => r([c, s])));
  clearTimeout(killer);
  assert.equal(out, 'done\n');
  assert.deepEqual([code, signal], [0, null], 'it exited by itself');
});

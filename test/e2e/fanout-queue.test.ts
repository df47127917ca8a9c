/**
 * The fan-out job queue end to end: a real redis-server (Debian), `winrm-ts run --queue` submitting one BullMQ job
 * per host, two `winrm-ts worker` processes of which one is killed (SIGKILL) mid-run. Every host is answered or
 * reported "outcome unknown"; no host's command runs twice (counted on each endpoint); no password in Redis.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { runCli, cliArgv } from '../helpers/cli.js';
import { PROJECT_ROOT, hasCommand, peerSkip } from '../helpers/peers.js';
import { startEndpoint, PASSWORD } from '../helpers/server-fixture.js';

const skip = peerSkip('redis-server', hasCommand('redis-server'), 'apt-get install redis-server, or npm run peers:install');
const HOSTS = 10;
let redis: ChildProcess | undefined;
let url = '';
const endpoints: Awaited<ReturnType<typeof startEndpoint>>[] = [];
const procs: ChildProcess[] = [];

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}
async function waitPort(port: number, ms: number): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((r) => {
      const c = net.connect(port, '127.0.0.1', () => {
        c.destroy();
        r(true);
      });
      c.on('error', () => r(false));
    });
    if (ok) return;
    if (Date.now() > end) throw new Error(`nothing listens on ${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
function startWorker(args: string[]): { proc: ChildProcess; out: () => string } {
  const proc = spawn(process.execPath, cliArgv(['worker', '--queue', url, ...args]), {
    cwd: PROJECT_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, WINRM_PASSWORD: PASSWORD },
  });
  let out = '';
  proc.stdout!.setEncoding('utf8').on('data', (d) => {
    out += d;
  });
  proc.stderr!.setEncoding('utf8').on('data', (d) => {
    out += d;
  });
  procs.push(proc);
  return { proc, out: () => out };
}
async function until(what: string, cond: () => boolean, ms = 60000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
/** every value stored in Redis, as one string */
async function redisDump(): Promise<string> {
  const { Redis } = await import('ioredis');
  const r = new Redis(url);
  try {
    const parts: string[] = [];
    for (const k of await r.keys('*')) {
      const type = await r.type(k);
      parts.push(k);
      if (type === 'string') parts.push(String(await r.get(k)));
      else if (type === 'hash') parts.push(JSON.stringify(await r.hgetall(k)));
      else if (type === 'list') parts.push(JSON.stringify(await r.lrange(k, 0, -1)));
      else if (type === 'set') parts.push(JSON.stringify(await r.smembers(k)));
      else if (type === 'zset') parts.push(JSON.stringify(await r.zrange(k, 0, -1)));
      else if (type === 'stream') parts.push(JSON.stringify(await r.xrange(k, '-', '+')));
    }
    return parts.join('\n');
  } finally {
    r.disconnect();
  }
}
const commandsRun = (e: { lines: string[] }) => e.lines.filter((l) => / Command -> 200 /.test(l)).length;

before(async () => {
  if (skip) return;
  const port = await freePort();
  redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  url = `redis://127.0.0.1:${port}`;
  await waitPort(port, 10000);
  for (let i = 0; i < HOSTS; i++) endpoints.push(await startEndpoint({ auth: ['basic'], allowUnencrypted: true, name: `host${i}` }));
});
after(async () => {
  for (const p of procs) p.kill('SIGKILL');
  redis?.kill('SIGKILL');
  await Promise.all(endpoints.map((e) => e.close()));
});

test("queue: the password stays out of the submitter's job; -p is refused with --queue", { skip }, async () => {
  const r = await runCli(['run', '--queue', url, '-H', 'a,b', '-u', 'EXAMPLE\\alice', '-p', PASSWORD, '--', 'echo'], { timeoutMs: 60000 });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /password does not go into the queue.*WINRM_PASSWORD/);
  assert.ok(!r.stderr.includes(PASSWORD));
});

test('queue: two workers, one killed mid-run: every host answered or "outcome unknown", none run twice', { skip }, async () => {
  const hosts = endpoints.map((e) => `127.0.0.1:${e.port}`);
  const env = { ...process.env };
  delete env.WINRM_PASSWORD;
  const sub = runCli(
    [
      'run',
      '--queue',
      url,
      '-H',
      hosts.join(','),
      '--json',
      '-u',
      'EXAMPLE\\alice',
      '--auth',
      'basic',
      '--allow-unencrypted',
      '--',
      'sh',
      '-c',
      'sleep 3; echo pong',
    ],
    { timeoutMs: 180000, env },
  );
  // the jobs wait in Redis: no password in there
  for (let i = 0; i < 100; i++) {
    if ((await redisDump()).includes('sleep 3; echo pong')) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const waiting = await redisDump();
  assert.ok(waiting.includes('sleep 3; echo pong'), 'the jobs are in Redis');
  assert.ok(!waiting.includes(PASSWORD), 'no password in Redis');

  const a = startWorker(['--throttle', '3', '--lock-duration', '2', '--allow-unencrypted']);
  await until('worker A to start 3 hosts', () => (a.out().match(/: started \(run/g) ?? []).length >= 3);
  const b = startWorker(['--throttle', '3', '--lock-duration', '2', '--allow-unencrypted']);
  a.proc.kill('SIGKILL');
  assert.ok(!(await redisDump()).includes(PASSWORD), 'no password in Redis mid-run');
  const r = await sub;
  const lines = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  let answered = 0;
  let unknown = 0;
  hosts.forEach((h, i) => {
    const last = lines.filter((l) => l.PSComputerName === h).at(-1);
    assert.ok(last, `${h}: no result\n${r.stdout}\n${r.stderr}\n${b.out()}`);
    if (last.exitCode === 0) {
      answered++;
      assert.ok(
        lines.some((l) => l.PSComputerName === h && l.line === 'pong'),
        h,
      );
      assert.equal(commandsRun(endpoints[i]!), 1, `${h} answered: its command ran exactly once`);
    } else {
      assert.equal(last.outcome, 'unknown', `${h}: ${JSON.stringify(last)}`);
      assert.equal((last.error as { code: string }).code, 'WINRM_ERR_OUTCOME_UNKNOWN');
      unknown++;
      assert.ok(commandsRun(endpoints[i]!) <= 1, `${h} (outcome unknown) was not run again`);
    }
  });
  assert.equal(answered + unknown, HOSTS);
  assert.ok(unknown >= 1 && unknown <= 3, `the killed worker had 3 hosts running; unknown=${unknown}`);
  assert.equal(r.code, 1, 'outcome unknown counts as failed');
  assert.match(r.stderr, /UNKNOWN WINRM_ERR_OUTCOME_UNKNOWN/);
  assert.match(b.out(), /lost: reported as outcome unknown, not run again/);
});

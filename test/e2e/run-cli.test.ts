/** The CLI end to end: `winrm-ts serve` and `winrm-ts run` as the acceptance scripts spell them. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, cliArgv } from '../helpers/cli.js';
import { PROJECT_ROOT } from '../helpers/peers.js';
import { selfSigned } from '../helpers/server-fixture.js';

const dir = mkdtempSync(join(tmpdir(), 'winrm-ts-cli-'));
const users = join(dir, 'users');
writeFileSync(users, 'EXAMPLE\\alice:Passw0rd!\n', { mode: 0o600 }); // serve refuses a users file others can read

async function startServe(args: string[]): Promise<{ proc: ChildProcess; port: number; out: () => string }> {
  const proc = spawn(process.execPath, cliArgv(['serve', '--listen', '127.0.0.1:0', '--users', users, '--name', 'hostA', ...args]), {
    cwd: PROJECT_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.setEncoding('utf8').on('data', (d) => {
    out += d;
  });
  proc.stderr!.setEncoding('utf8').on('data', (d) => {
    out += d;
  });
  const port = await new Promise<number>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`serve did not start: ${out}`)), 30000);
    const check = () => {
      const m = /listening on https?:\/\/127\.0\.0\.1:(\d+)\/wsman/.exec(out);
      if (m) {
        clearTimeout(t);
        resolve(Number(m[1]));
      }
    };
    proc.stdout!.on('data', check);
    proc.on('exit', () => reject(new Error(`serve exited: ${out}`)));
  });
  return { proc, port, out: () => out };
}

let plain: Awaited<ReturnType<typeof startServe>>;
let tls: Awaited<ReturnType<typeof startServe>>;
before(async () => {
  const c = selfSigned();
  [plain, tls] = await Promise.all([
    startServe(['--auth', 'basic', '--allow-unencrypted']),
    startServe(['--https', '--cert', c.certFile, '--key', join(c.dir, 'k.pem'), '--auth', 'basic']),
  ]);
});
after(() => {
  plain?.proc.kill('SIGTERM');
  tls?.proc.kill('SIGTERM');
});

const R = () => [
  'run',
  '-H',
  `127.0.0.1:${plain.port}`,
  '-u',
  'EXAMPLE\\alice',
  '-p',
  'Passw0rd!',
  '--auth',
  'basic',
  '--allow-unencrypted',
];

test('run: stdout, stderr apart, exit code, UTF-8, stdin', async () => {
  const a = await runCli([...R(), '--', 'echo', 'hi']);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(a.stdout, 'hi\n');
  const b = await runCli([...R(), '--', 'sh', '-c', 'exit 7']);
  assert.equal(b.code, 7);
  const c = await runCli([...R(), '--', 'sh', '-c', 'echo out; echo err 1>&2']);
  assert.equal(c.stdout, 'out\n');
  assert.equal(c.stderr, 'err\n');
  const d = await runCli([...R(), '--', 'echo', '日本語 ✓']);
  assert.equal(d.stdout, '日本語 ✓\n');
  const e = await runCli([...R(), '--', 'cat'], { input: 'line1\nline2\n' });
  assert.equal(e.stdout, 'line1\nline2\n');
  const f = await runCli([...R(), '--', 'wc -c'], { input: Buffer.alloc(200_000, 0x62) });
  assert.equal(f.stdout.trim(), '200000');
  const g = await runCli([...R(), '--cwd', '/tmp', '--env', 'GREETING=hello there', '--', 'sh', '-c', 'echo "$GREETING from $(pwd)"']);
  assert.equal(g.stdout, 'hello there from /tmp\n');
});

test('run: stdin from /dev/null ends the remote stdin with the command, on the one connection', async () => {
  const from = plain.out().length;
  const child = spawn(process.execPath, cliArgv([...R(), '--', 'sh', '-c', 'cat; echo "eof $?"']), {
    cwd: PROJECT_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'], // 'ignore': stdin is /dev/null
  });
  let stdout = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(code, 0);
  assert.equal(stdout, 'eof 0\n'); // cat saw the end of its input
  // Create, Command, Send (End), Receive, Delete: no second connection for a Send while the Receive waits
  const log = plain.out().slice(from);
  assert.match(log, /Send -> 200/);
  assert.deepEqual(new Set(log.match(/conn#\d+/g)).size, 1, log);
});

test('run: password from WINRM_PASSWORD; errors are clear and exit non-zero', async () => {
  const a = await runCli(
    [
      'run',
      '-H',
      `127.0.0.1:${plain.port}`,
      '-u',
      'EXAMPLE\\alice',
      '--auth',
      'basic',
      '--allow-unencrypted',
      '--',
      'printenv',
      'USERNAME',
    ],
    { env: { ...process.env, WINRM_PASSWORD: 'Passw0rd!' } },
  );
  assert.equal(a.stdout, 'alice\n');
  const anon = await runCli(['run', '-H', `127.0.0.1:${plain.port}`, '--', 'printenv', 'USERNAME']);
  assert.notEqual(anon.code, 0);
  assert.match(anon.stderr, /ANONYMOUS LOGON/);
  const bad = await runCli([
    'run',
    '-H',
    `127.0.0.1:${plain.port}`,
    '-u',
    'EXAMPLE\\alice',
    '-p',
    'Zq9-notmine',
    '--auth',
    'basic',
    '--allow-unencrypted',
    '--',
    'echo',
  ]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /denied/i);
  assert.ok(!bad.stderr.includes('Zq9-notmine'));
  const down = await runCli([
    'run',
    '-H',
    '127.0.0.1:1',
    '-u',
    'EXAMPLE\\alice',
    '-p',
    'x',
    '--auth',
    'basic',
    '--allow-unencrypted',
    '--',
    'echo',
  ]);
  assert.notEqual(down.code, 0);
  assert.match(down.stderr, /connect/i);
});

test('run over HTTPS: untrusted refused with advice, --ca accepted', async () => {
  const H = ['run', '-H', `127.0.0.1:${tls.port}`, '--https', '-u', 'EXAMPLE\\alice', '-p', 'Passw0rd!', '--auth', 'basic'];
  const a = await runCli([...H, '--', 'echo', 'hi']);
  assert.notEqual(a.code, 0);
  assert.match(a.stderr, /--ca/);
  const b = await runCli([...H, '--ca', selfSigned().certFile, '--', 'echo', 'hi']);
  assert.equal(b.code, 0, b.stderr);
  assert.equal(b.stdout, 'hi\n');
  const c = await runCli([...H, '--insecure', '--', 'echo', 'hi']);
  assert.equal(c.stdout, 'hi\n');
  assert.match(c.stderr, /warning/);
});

test('serve: logs a line per request, never the password; unknown --auth is an error', async () => {
  assert.match(plain.out(), /EXAMPLE\\alice/);
  assert.ok(!plain.out().includes('Passw0rd!'));
  const r = await runCli(['serve', '--listen', '127.0.0.1:0', '--users', users, '--auth', 'basic,bogus']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /bogus/);
});

test('run: Ctrl-C terminates the remote command and exits 130', async () => {
  const child = spawn(process.execPath, cliArgv([...R(), '--', 'sh', '-c', 'echo started; sleep 30']), {
    cwd: PROJECT_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d) => {
    err += d;
  });
  await new Promise<void>((resolve) =>
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      if (d.includes('started')) resolve();
    }),
  );
  child.kill('SIGINT');
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  assert.equal(code, 130);
  assert.match(err, /interrupted/);
});

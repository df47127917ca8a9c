/**
 * Many hosts from one process: `winrm-ts serve` with many --listen (one process, one "host" per port) and
 * `winrm-ts run|ps -H a,b,c | -H @file` against them, some hosts dead (closed ports) or hung (a TCP server that
 * accepts and never answers), with short timeouts. CredSSP's delegate list is checked per host.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, cliArgv } from '../helpers/cli.js';
import { PROJECT_ROOT, findPwsh, peerSkip } from '../helpers/peers.js';

const dir = mkdtempSync(join(tmpdir(), 'winrm-ts-fanout-'));
const users = join(dir, 'users');
writeFileSync(users, 'EXAMPLE\\alice:Passw0rd!\n', { mode: 0o600 });
chmodSync(users, 0o600);

/** Ports handed out in this process: the kernel may give the same free port twice, and a host list must not repeat one. */
const taken = new Set<number>();
export async function freePort(): Promise<number> {
  for (;;) {
    const p = await new Promise<number>((resolve, reject) => {
      const s = net.createServer().listen(0, '127.0.0.1', () => {
        const port = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(port));
      });
      s.on('error', reject);
    });
    if (!taken.has(p)) {
      taken.add(p);
      return p;
    }
  }
}

const LIVE = 24;
let serveProc: ChildProcess;
let serveOut = '';
const live: string[] = [];
const dead: string[] = [];
const hung: string[] = [];
const hangServers: net.Server[] = [];
const hangSockets: net.Socket[] = [];
let credsspRefusedProbe: { server: net.Server; connections: number; host: string };

before(async () => {
  const args = ['serve', '--users', users, '--auth', 'negotiate,credssp', '--quiet', '--name', 'fleet'];
  for (let i = 0; i < LIVE; i++) {
    const p = await freePort();
    live.push(`127.0.0.1:${p}`);
    args.push('--listen', `127.0.0.1:${p}`);
  }
  for (let i = 0; i < 3; i++) dead.push(`127.0.0.1:${await freePort()}`);
  for (let i = 0; i < 2; i++) {
    const s = net.createServer((c) => {
      hangSockets.push(c);
      c.on('error', () => undefined);
    }); // accepts, never answers
    for (;;) {
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
      const port = (s.address() as net.AddressInfo).port;
      if (!taken.has(port)) {
        taken.add(port);
        break;
      }
      await new Promise<void>((r) => s.close(() => r())); // a port already listed as live or dead: take another
    }
    hangServers.push(s);
    hung.push(`127.0.0.1:${(s.address() as net.AddressInfo).port}`);
  }
  const probe = {
    server: net.createServer((c) => {
      probe.connections++;
      c.destroy();
    }),
    connections: 0,
    host: '',
  };
  await new Promise<void>((r) => probe.server.listen(0, '127.0.0.1', () => r()));
  probe.host = `localhost:${(probe.server.address() as net.AddressInfo).port}`;
  credsspRefusedProbe = probe;
  serveProc = spawn(process.execPath, cliArgv(args), { cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  serveProc.stdout!.setEncoding('utf8').on('data', (d) => {
    serveOut += d;
  });
  serveProc.stderr!.setEncoding('utf8').on('data', (d) => {
    serveOut += d;
  });
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`serve did not start: ${serveOut}`)), 60000);
    const check = () => {
      if ((serveOut.match(/listening on/g) ?? []).length >= LIVE) {
        clearTimeout(t);
        resolve();
      }
    };
    serveProc.stdout!.on('data', check);
    serveProc.on('exit', () => reject(new Error(`serve exited: ${serveOut}`)));
  });
});
after(() => {
  serveProc?.kill('SIGTERM');
  for (const c of hangSockets) c.destroy();
  for (const s of hangServers) s.close();
  credsspRefusedProbe?.server.close();
});

const AUTH = ['-u', 'EXAMPLE\\alice', '-p', 'Passw0rd!'];
// short enough that the hung hosts end soon, long enough that a live host on a loaded machine is never cut off
const SHORT = ['--connect-timeout', '5', '--operation-timeout', '2', '--read-timeout', '8'];

test('serve --listen repeated: one process answers on every port', () => {
  for (const h of live) assert.ok(serveOut.includes(`listening on http://${h}/wsman`), h);
});

test('run over a host file with dead and hung hosts: live hosts answer, the others are reported, exit 1', async () => {
  const all = [...live.slice(0, 10), dead[0]!, hung[0]!, ...live.slice(10), dead[1]!, dead[2]!, hung[1]!];
  const file = join(dir, 'hosts.txt');
  writeFileSync(file, `# the fleet\n${all.map((h, i) => (i % 5 === 0 ? `${h}   # comment` : h)).join('\n')}\n\n`);
  const r = await runCli(
    ['run', '-H', `@${file}`, '--throttle', '8', '--json', ...AUTH, ...SHORT, '--', 'sh', '-c', 'echo pong; echo to-stderr >&2; exit 0'],
    { timeoutMs: 120000 },
  );
  assert.equal(r.code, 1, r.stderr);
  const lines = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  for (const h of live) {
    const mine = lines.filter((l) => l.PSComputerName === h);
    const sorted = (a: unknown[]) => a.map((x) => JSON.stringify(x)).sort();
    assert.deepEqual(
      sorted(mine),
      sorted([
        { PSComputerName: h, stream: 'stdout', line: 'pong' },
        { PSComputerName: h, stream: 'stderr', line: 'to-stderr' },
        { PSComputerName: h, exitCode: 0 },
      ]),
      h,
    );
    assert.equal(mine.length, 3, `${h}: ${JSON.stringify(mine)}`);
    assert.deepEqual(mine.at(-1), { PSComputerName: h, exitCode: 0 });
  }
  for (const h of dead) {
    const end = lines.find((l) => l.PSComputerName === h)!;
    assert.equal((end.error as { code: string }).code, 'WINRM_ERR_CONNECT', JSON.stringify(end));
  }
  for (const h of hung) {
    const end = lines.find((l) => l.PSComputerName === h)!;
    assert.equal((end.error as { code: string }).code, 'WINRM_ERR_TIMEOUT', JSON.stringify(end));
  }
  // the closing table: every host, its exit code or error
  for (const h of live) assert.match(r.stderr, new RegExp(`^${h.replace(/\./g, '\\.')} +exit 0$`, 'm'));
  for (const h of [...dead, ...hung])
    assert.match(r.stderr, new RegExp(`^${h.replace(/\./g, '\\.')} +ERROR WINRM_ERR_(CONNECT|TIMEOUT): `, 'm'));
  assert.match(r.stderr, new RegExp(`${LIVE} of ${LIVE + 5} hosts succeeded, 5 failed`));
  assert.ok(!r.stderr.includes('\x1b['), 'no live summary when stderr is not a terminal');
});

test('run -H a,b text output: [host]-prefixed lines; --group keeps each host together; exit codes per host', async () => {
  const [a, b] = live;
  const r = await runCli(['run', '-H', `${a},${b}`, ...AUTH, '--', 'sh', '-c', 'echo one; echo two; echo warn >&2; exit 4'], {
    timeoutMs: 60000,
  });
  assert.equal(r.code, 1);
  for (const h of [a, b]) {
    assert.match(r.stdout, new RegExp(`^\\[${h!.replace(/\./g, '\\.')}\\] one\n\\[${h!.replace(/\./g, '\\.')}\\] two$`, 'm'));
    assert.ok(r.stderr.includes(`[${h}] warn\n`));
    assert.match(r.stderr, new RegExp(`^${h!.replace(/\./g, '\\.')} +exit 4$`, 'm'));
  }
  const g = await runCli(['run', '-H', `${a},${b}`, '--group', ...AUTH, '--', 'sh', '-c', 'echo one; sleep 0.2; echo two'], {
    timeoutMs: 60000,
  });
  assert.equal(g.code, 0, g.stderr);
  const blocks = g.stdout.split(/^=== /m).filter(Boolean).sort();
  assert.deepEqual(blocks, [`${a} ===\none\ntwo\n`, `${b} ===\none\ntwo\n`].sort());
});

test('ps over many hosts: objects carry PSComputerName; a dead host is reported', { skip: peerSkip('pwsh', !!findPwsh()) }, async () => {
  const hosts = [live[0]!, live[1]!, dead[0]!];
  const r = await runCli(['ps', '-H', hosts.join(','), '--json', ...AUTH, ...SHORT, '-c', '[pscustomobject]@{ n = 1 }; "text"'], {
    timeoutMs: 120000,
  });
  assert.equal(r.code, 1, r.stderr);
  const lines = r.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  for (const h of [live[0], live[1]]) {
    assert.ok(
      lines.some((l) => l.PSComputerName === h && l.n === 1),
      r.stdout,
    );
    assert.ok(
      lines.some((l) => l.PSComputerName === h && l.value === 'text'),
      r.stdout,
    );
  }
  assert.ok(
    lines.some((l) => l.PSComputerName === dead[0] && (l.error as { code: string })?.code === 'WINRM_ERR_CONNECT'),
    r.stdout,
  );
});

test('credentials once, CredSSP delegate list per host: the refused host gets not one byte', async () => {
  const ok = live[2]!;
  const r = await runCli(
    [
      'run',
      '-H',
      `${ok},${credsspRefusedProbe.host}`,
      '--auth',
      'credssp',
      '--delegate-to',
      'wsman/127.0.0.1',
      '-u',
      'EXAMPLE\\alice',
      '--',
      'echo',
      'pong',
    ],
    { timeoutMs: 60000, env: { ...process.env, WINRM_PASSWORD: 'Passw0rd!' } },
  );
  assert.equal(r.code, 1);
  assert.equal(r.stdout, `[${ok}] pong\n`);
  assert.match(r.stderr, new RegExp(`\\[${credsspRefusedProbe.host}\\] winrm-ts: .*delegat`, 'i'));
  assert.match(r.stderr, /ERROR WINRM_ERR_DELEGATION_REFUSED/);
  assert.equal(credsspRefusedProbe.connections, 0);
});

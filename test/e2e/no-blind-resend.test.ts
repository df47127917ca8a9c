/**
 * The client never resends a request the server may have carried out: a fault proxy (test/helpers/fault-proxy.ts)
 * resets the connection after the endpoint answered a Command or a Receive. The command runs once, the run fails
 * with OutcomeUnknownError (never exit 0 with partial output), and the shell is still deleted. A kept-alive
 * connection the server closed while idle is replaced transparently (nothing was sent on it); repeatable requests
 * (Get) are resent once.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, OutcomeUnknownError, Session } from '../../src/index.js';
import { startEndpoint, USER, PASSWORD } from '../helpers/server-fixture.js';
import { startFaultProxy } from '../helpers/fault-proxy.js';
import { runCli } from '../helpers/cli.js';
import { findPwsh, peerSkip } from '../helpers/peers.js';
import { PsrpEndpoint } from '../../src/server/psrp-shell.js';

let ep: Awaited<ReturnType<typeof startEndpoint>>;
const dir = mkdtempSync(join(tmpdir(), 'winrm-ts-resend-'));
before(async () => {
  ep = await startEndpoint();
});
after(async () => {
  await ep?.close();
});

const runArgs = (port: number) => ['run', '-H', `127.0.0.1:${port}`, '-u', USER, '-p', PASSWORD, '--auth', 'basic', '--allow-unencrypted'];
const deletes = () => ep.lines.filter((l) => /\bDelete\b/.test(l)).length;

test(
  'connection reset after the Command reached the host: the command runs once, run fails with the outcome unknown, the shell is ' +
    'deleted',
  async () => {
    const marker = join(dir, 'ran-command');
    writeFileSync(marker, '');
    // the reset comes once the command has written its marker: the Delete the client sends after the failure must not
    // kill it before its first line (a race on a loaded machine), so "ran once" is about resending, not timing
    const ranOnce = async () => {
      for (let i = 0; i < 200 && readFileSync(marker, 'utf8') === ''; i++) await new Promise((r) => setTimeout(r, 50));
    };
    const proxy = await startFaultProxy(ep.port, { mode: 'rst-after-forward', trigger: '/Command', beforeReset: ranOnce });
    const before = deletes();
    try {
      const r = await runCli([...runArgs(proxy.port), '--', 'sh', '-c', `echo ran >> ${marker}; echo part1; sleep 1; echo part2`]);
      assert.ok(proxy.fired);
      assert.equal(readFileSync(marker, 'utf8'), 'ran\n', 'the command must run exactly once');
      assert.equal(proxy.count('/Command'), 1, 'the Command must not be resent');
      assert.notEqual(r.code, 0, r.stderr);
      assert.match(r.stderr, /outcome is unknown/i);
      assert.match(r.stderr, /Command/);
      assert.ok(deletes() > before, `the shell must be deleted on the host:\n${ep.lines.slice(-5).join('\n')}`);
    } finally {
      await proxy.close();
    }
  },
);

test('connection reset after a Receive answered: never exit 0 with partial output', async () => {
  const proxy = await startFaultProxy(ep.port, { mode: 'rst-after-forward', trigger: '/Receive' });
  try {
    const r = await runCli([...runArgs(proxy.port), '--', 'sh', '-c', 'echo part1; sleep 2; echo part2']);
    assert.ok(proxy.fired);
    if (r.code === 0) assert.equal(r.stdout, 'part1\npart2\n');
    else assert.match(r.stderr, /outcome is unknown|output .*incomplete/i);
    assert.notEqual(r.code, 0, 'the lost Receive is not recoverable with this endpoint: the run must fail');
  } finally {
    await proxy.close();
  }
});

test('connection reset after stdin (Send) reached the host: the run fails instead of finishing on partial input', async () => {
  const proxy = await startFaultProxy(ep.port, { mode: 'rst-after-forward', trigger: '/Send' });
  try {
    const r = await runCli([...runArgs(proxy.port), '--', 'cat'], { input: 'line1\nline2\n' });
    assert.ok(proxy.fired);
    assert.notEqual(r.code, 0, r.stdout);
    assert.match(r.stderr, /outcome is unknown/i);
    assert.equal(proxy.count('/Send'), 1, 'the Send must not be resent');
  } finally {
    await proxy.close();
  }
});

test('library: a lost Command rejects with OutcomeUnknownError (code OUTCOME_UNKNOWN, action Command)', async () => {
  const proxy = await startFaultProxy(ep.port, { mode: 'rst-after-forward', trigger: '/Command' });
  const c = connect({ host: `127.0.0.1:${proxy.port}`, username: USER, password: PASSWORD, auth: 'basic', allowUnencrypted: true });
  try {
    const shell = await c.openShell();
    await assert.rejects(shell.run('true'), (e: Error) => {
      assert.ok(e instanceof OutcomeUnknownError, String(e));
      assert.equal(e.code, 'WINRM_ERR_OUTCOME_UNKNOWN');
      assert.equal(e.action, 'Command');
      return true;
    });
    await shell.close(); // on a new connection
  } finally {
    c.close();
    await proxy.close();
  }
});

for (const announce of [false, true]) {
  test(
    `a kept-alive connection the server closed while idle is replaced transparently (server ` +
      `${announce ? 'announces' : 'does not announce'} its keep-alive timeout)`,
    async () => {
      const proxy = await startFaultProxy(ep.port, { mode: 'idle-close', idleMs: 300, announce });
      const c = connect({
        host: `127.0.0.1:${proxy.port}`,
        username: USER,
        password: PASSWORD,
        auth: 'basic',
        allowUnencrypted: true,
        maxConnections: 1,
      });
      try {
        const shell = await c.openShell();
        assert.equal((await shell.exec('echo', ['one'])).stdout.toString(), 'one\n');
        await new Promise((r) => setTimeout(r, 900)); // longer than the server keeps an idle connection
        assert.equal((await shell.exec('echo', ['two'])).stdout.toString(), 'two\n');
        await shell.close();
        assert.ok(proxy.connections >= 2, 'the idle connection was replaced');
        assert.equal(proxy.count('/Command'), 2, 'each Command was sent once');
      } finally {
        c.close();
        await proxy.close();
      }
    },
  );
}

test('a repeatable request (Get) lost before any response byte is resent once', async () => {
  const proxy = await startFaultProxy(ep.port, { mode: 'rst-after-forward', trigger: '/transfer/Get' });
  const c = connect({ host: `127.0.0.1:${proxy.port}`, username: USER, password: PASSWORD, auth: 'basic', allowUnencrypted: true });
  try {
    const cfg = await c.getConfig();
    assert.ok(proxy.fired);
    assert.equal(proxy.count('/transfer/Get'), 2);
    assert.equal(cfg.allowUnencrypted, true);
  } finally {
    c.close();
    await proxy.close();
  }
});

const pwsh = findPwsh();
test(
  'a PowerShell pool whose connection is lost while opening fails at once with the real cause, and is deleted',
  { skip: peerSkip('pwsh (PowerShell 7)', !!pwsh) },
  async () => {
    const ps = new PsrpEndpoint({ pwsh });
    const psEp = await startEndpoint({ resources: ps.resources() });
    const proxy = await startFaultProxy(psEp.port, { mode: 'rst-after-forward', trigger: '/Receive' });
    try {
      await assert.rejects(
        Session.open({
          transport: 'wsman',
          computerName: `127.0.0.1:${proxy.port}`,
          username: USER,
          password: PASSWORD,
          auth: 'basic',
          allowUnencrypted: true,
          openTimeoutMs: 600_000,
        }),
        (e: Error) => {
          assert.ok(e instanceof OutcomeUnknownError, String(e));
          assert.doesNotMatch(e.message, /PowerShell remoting endpoint/);
          return true;
        },
      );
      assert.ok(
        psEp.lines.some((l) => /\bDelete\b/.test(l)),
        `the pool must be deleted on the host:\n${psEp.lines.slice(-5).join('\n')}`,
      );
    } finally {
      await proxy.close();
      await psEp.close();
      await ps.close();
    }
  },
);

test(
  'ps: connection reset after a pipeline Receive answered: exit non-zero, never partial output with 0, the pool deleted',
  { skip: peerSkip('pwsh (PowerShell 7)', !!pwsh) },
  async () => {
    const ps = new PsrpEndpoint({ pwsh });
    const psEp = await startEndpoint({ resources: ps.resources() });
    // a pipeline's Receive names its CommandId (the pool's own Receive does not)
    const proxy = await startFaultProxy(psEp.port, { mode: 'rst-after-forward', trigger: 'DesiredStream CommandId' });
    try {
      const r = await runCli([
        'ps',
        '-H',
        `127.0.0.1:${proxy.port}`,
        '-u',
        USER,
        '-p',
        PASSWORD,
        '--auth',
        'basic',
        '--allow-unencrypted',
        '-c',
        '"part1"; Start-Sleep -Milliseconds 500; "part2"',
      ]);
      assert.ok(proxy.fired);
      if (r.code === 0) assert.equal(r.stdout, 'part1\npart2\n');
      assert.notEqual(r.code, 0, r.stdout);
      assert.match(r.stderr, /outcome is unknown/i);
      assert.ok(
        psEp.lines.some((l) => /\bDelete\b/.test(l)),
        `the pool must be deleted on the host:\n${psEp.lines.slice(-5).join('\n')}`,
      );
    } finally {
      await proxy.close();
      await psEp.close();
      await ps.close();
    }
  },
);

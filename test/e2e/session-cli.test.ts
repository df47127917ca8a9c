// `winrm-ts session disconnect|list|connect|remove` against our endpoint and real pwsh (Negotiate): a job started
// disconnected keeps running on the host while no client is there, is listed, and a later process reattaches and
// prints the rest of its output, formatted by PowerShell; nothing is lost or repeated. The job waits for a file
// this test creates, so what happens while it is disconnected does not depend on timing.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PsrpEndpoint } from '../../src/server/psrp-shell.js';
import { runCli } from '../helpers/cli.js';
import { findPwsh, peerSkip } from '../helpers/peers.js';
import { startEndpoint, USER, PASSWORD } from '../helpers/server-fixture.js';

const pwsh = findPwsh();
const skip = peerSkip('pwsh', !!pwsh);
let ps: PsrpEndpoint;
let ep: Awaited<ReturnType<typeof startEndpoint>>;
let dir: string;
before(async () => {
  if (skip) return;
  dir = mkdtempSync(join(tmpdir(), 'winrm-ts-session-'));
  ps = new PsrpEndpoint({ pwsh });
  ep = await startEndpoint({ auth: ['negotiate'], allowUnencrypted: false, resources: ps.resources() });
});
after(async () => {
  if (skip) return;
  await ps.close();
  await ep.close();
  rmSync(dir, { recursive: true, force: true });
});

const cli = (...args: string[]) =>
  runCli(['session', ...args, '-H', `127.0.0.1:${ep.port}`, '-u', USER], {
    env: { ...process.env, WINRM_PASSWORD: PASSWORD },
    timeoutMs: 120_000,
  });
const lines = (s: string) =>
  s
    .replace(/\r/g, '')
    .split('\n')
    .filter((l) => l.length);

test(
  'session disconnect -> list -> connect: the job goes on while nobody is connected; the rest arrives once',
  { skip, timeout: 300_000 },
  async () => {
    const gate = join(dir, 'gate');
    const script =
      `"before"; while (-not (Test-Path '${gate}')) { Start-Sleep -Milliseconds 100 }; 1..3 | ForEach-Object { "after $_" }; ` +
      `[pscustomobject]@{ Name = 'x'; Size = 42 } | Format-Table`;
    const started = await cli('disconnect', '-c', script);
    assert.equal(started.code, 0, started.stderr);
    const out = lines(started.stdout);
    const id = out.pop()!;
    assert.match(id, /^[0-9A-F-]{36}$/i);
    assert.match(started.stderr, new RegExp(`session connect -H 127\\.0\\.0\\.1:${ep.port} ${id}`));

    const listed = await cli('list', '--json');
    assert.equal(listed.code, 0, listed.stderr);
    const mine = lines(listed.stdout)
      .map((l) => JSON.parse(l) as { shellId: string; state: string; commands: Array<{ commandId: string }> })
      .find((s) => s.shellId === id);
    assert.ok(mine, listed.stdout);
    assert.equal(mine!.state, 'Disconnected');
    assert.equal(mine!.commands.length, 1);
    const table = await cli('list');
    assert.match(table.stdout, new RegExp(`^${id}  Disconnected  `, 'm'));

    writeFileSync(gate, ''); // the job goes on while no client is connected
    const resumed = await cli('connect', id);
    assert.equal(resumed.code, 0, resumed.stderr);
    const all = [...out, ...lines(resumed.stdout)];
    // PowerShell's table formatting, done on the host
    assert.deepEqual(all, ['before', 'after 1', 'after 2', 'after 3', 'Name Size', '---- ----', 'x      42']);

    const gone = await cli('list', '--json');
    assert.ok(!gone.stdout.includes(id), 'connect removes the session when its commands are done');
  },
);

test(
  'a job with errors: connect exits 1; session remove ends a disconnected job; an unknown id says what to do',
  { skip, timeout: 240_000 },
  async () => {
    const failing = await cli('disconnect', '-c', "Write-Error 'job failed'; 'rest'");
    assert.equal(failing.code, 0, failing.stderr);
    const fid = lines(failing.stdout).pop()!;
    const got = await cli('connect', fid);
    assert.equal(got.code, 1, 'a job with errors: exit 1');
    assert.match(lines(failing.stdout).concat(lines(got.stdout)).join('\n'), /Write-Error: job failed\nrest$/);

    const started = await cli('disconnect', '-c', 'while ($true) { Start-Sleep -Milliseconds 200 }');
    assert.equal(started.code, 0, started.stderr);
    const id = lines(started.stdout).pop()!;
    const removed = await cli('remove', id);
    assert.equal(removed.code, 0, removed.stderr);
    assert.ok(!(await cli('list', '--json')).stdout.includes(id));
    const unknown = await cli('connect', '11111111-2222-3333-4444-555555555555');
    assert.notEqual(unknown.code, 0);
    assert.match(unknown.stderr, /no session 11111111-2222-3333-4444-555555555555 .*session list/);
    const bad = await cli('connect', 'not-an-id');
    assert.match(bad.stderr, /not a session id/);
  },
);

// Disconnect / Connect (Disconnect-PSSession, Connect-PSSession, Receive-PSSession) across processes: a pipeline
// printing 1..N slowly is disconnected mid-run, the client process is killed, the shell is listed (Enumerate) as
// Disconnected with its running command, and a NEW process connects, picks the pipeline up and receives the rest.
// Output produced meanwhile arrives; nothing is lost, nothing is duplicated (the exact sequence is asserted).
// The client process uses Session; the refusals, the idle timeout and the vanished client drive the WS-Man verbs one
// at a time (test/helpers/wsman-pool-driver.ts) to pin what the endpoint answers to each.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { connect, WSManFaultError } from '../../src/index.js';
import { PsrpEndpoint } from '../../src/server/psrp-shell.js';
import { WSManRunspacePool } from '../../src/remoting/wsman-pool.js';
import { openPool, connectPool } from '../helpers/wsman-pool-driver.js';
import { startEndpoint, USER, PASSWORD } from '../helpers/server-fixture.js';
import { findPwsh, peerSkip, PROJECT_ROOT } from '../helpers/peers.js';

const pwsh = findPwsh();
const skip = peerSkip('pwsh', !!pwsh);
const CLIENT = join(PROJECT_ROOT, 'test', 'e2e', 'fixtures', 'psrp-disconnect-client.ts');

let ps: PsrpEndpoint;
let ep: Awaited<ReturnType<typeof startEndpoint>>;
before(async () => {
  if (skip) return;
  ps = new PsrpEndpoint({ pwsh, abandonedAfterMs: 3000 });
  ep = await startEndpoint({ resources: ps.resources() });
});
after(async () => {
  if (skip) return;
  await ps.close();
  await ep.close();
});

/** Run the client fixture; resolve with its first JSON line (and the child, still running). */
function client(args: string[]): Promise<{ line: unknown; child: ReturnType<typeof spawn>; stderr: () => string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CLIENT, ...args], {
    cwd: PROJECT_ROOT,
    env: { ...process.env, WINRM_PASSWORD: PASSWORD },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.setEncoding('utf8').on('data', (d) => {
    err += d;
  });
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.once('line', (l) => {
      try {
        resolve({ line: JSON.parse(l), child, stderr: () => err });
      } catch (e) {
        reject(e);
      }
    });
    child.once('exit', (code) => reject(new Error(`client ${args[0]} exited with ${code} before answering: ${err}`)));
  });
}

test('disconnect mid-pipeline, kill the client, connect from a new process: the exact sequence 1..N', { skip }, async () => {
  const N = 12;
  const a = await client(['start', ep.url, String(N)]);
  const first = a.line as { shellId: string; pipelineId: string; got: number[] };
  a.child.kill('SIGKILL'); // the first client is gone for good
  assert.ok(first.got.length >= 3 && first.got.length < N, `the first client saw ${first.got.join(',')}`);
  assert.deepEqual(
    first.got,
    Array.from({ length: first.got.length }, (_, i) => i + 1),
  );

  await sleep(1000); // the pipeline keeps running on the host meanwhile

  const listed = (await client(['list', ep.url])).line as Array<{ shellId: string; state: string; commands: Array<{ commandId: string }> }>;
  const mine = listed.find((s) => s.shellId === first.shellId);
  assert.ok(mine, `Enumerate lists the shell: ${JSON.stringify(listed)}`);
  assert.equal(mine!.state, 'Disconnected');
  assert.deepEqual(
    mine!.commands.map((c) => c.commandId),
    [first.pipelineId],
  );

  const b = await client(['resume', ep.url, first.shellId, first.pipelineId]);
  const second = b.line as { got: number[]; state: string; after: string[] };
  assert.deepEqual(
    [...first.got, ...second.got],
    Array.from({ length: N }, (_, i) => i + 1),
    `first ${first.got} then ${second.got}`,
  );
  assert.equal(second.state, 'Completed');
  assert.deepEqual(second.after, ['pool still usable']);
  await new Promise((r) => b.child.once('exit', r));
  assert.equal(ps.shells.size, 0);
});

test('Connect refuses a shell that is still connected, another user, and an unknown shell', { skip }, async () => {
  const c = connect({ host: `127.0.0.1:${ep.port}`, username: USER, password: PASSWORD, auth: 'basic', allowUnencrypted: true });
  const bob = connect({
    host: `127.0.0.1:${ep.port}`,
    username: 'EXAMPLE\\bob',
    password: 'B0b-secret',
    auth: 'basic',
    allowUnencrypted: true,
  });
  try {
    const rp = await openPool(c.wsman);
    await assert.rejects(
      connectPool(c.wsman, { shellId: rp.shellId }),
      (e: unknown) => e instanceof WSManFaultError && /in use/.test(e.message),
    );
    await rp.disconnect();
    await assert.rejects(
      connectPool(bob.wsman, { shellId: rp.shellId }),
      (e: unknown) => e instanceof WSManFaultError && e.wsmanFaultCode === 2147942405,
    );
    assert.equal((await WSManRunspacePool.list(bob.wsman)).length, 0, "bob does not see alice's shells");
    await assert.rejects(
      connectPool(c.wsman, { shellId: '11111111-2222-3333-4444-555555555555' }),
      (e: unknown) => e instanceof WSManFaultError && e.wsmanFaultCode === 2150858843,
    );
    // the same client may Reconnect and go on
    await rp.reconnect();
    const r = await rp.invoke({ statements: [[{ cmd: '"back"', isScript: true }]] }); // the test driver's invoke
    assert.equal(r.output[0], 'back');
    await rp.close();
  } finally {
    c.close();
    bob.close();
  }
});

test('a disconnected shell is closed after its IdleTimeOut', { skip }, async () => {
  const c = connect({ host: `127.0.0.1:${ep.port}`, username: USER, password: PASSWORD, auth: 'basic', allowUnencrypted: true });
  try {
    const rp = await openPool(c.wsman);
    await rp.disconnect({ idleTimeout: 1 });
    assert.ok(ps.shells.has(rp.shellId));
    for (let i = 0; i < 100 && ps.shells.has(rp.shellId); i++) await sleep(100);
    assert.ok(!ps.shells.has(rp.shellId), 'the endpoint dropped the shell after the idle timeout');
    await assert.rejects(rp.reconnect(), (e: unknown) => e instanceof WSManFaultError && e.wsmanFaultCode === 2150858843);
  } finally {
    c.close();
  }
});

test('Session API: s.disconnect(), Session.list(), Session.connect() + receive() pick the pipeline up', { skip }, async () => {
  const { Session } = await import('../../src/client/session.js');
  const opts = {
    transport: 'wsman' as const,
    computerName: `127.0.0.1:${ep.port}`,
    username: USER,
    password: PASSWORD,
    auth: 'basic',
    allowUnencrypted: true,
  };
  const s1 = await Session.open(opts);
  const first: unknown[] = [];
  let info: { shellId: string; pipelineIds: string[] } | undefined;
  await assert.rejects(async () => {
    for await (const e of s1.stream('1..8 | ForEach-Object { $_; Start-Sleep -Milliseconds 250 }')) {
      if (e.type === 'output') {
        first.push(e.value);
        if (first.length === 2 && !info) info = await s1.disconnect({ idleTimeout: 60 });
      }
    }
  }, /disconnected/);
  assert.ok(info && info.pipelineIds.length === 1);
  const listed = await Session.list(opts);
  assert.ok(listed.some((x) => x.shellId === info!.shellId && x.state === 'Disconnected' && x.commands.length === 1));
  const s2 = await Session.connect({ ...opts, shellId: info!.shellId });
  const rest: unknown[] = [];
  for await (const e of s2.receive(info!.pipelineIds[0]!)) if (e.type === 'output') rest.push(e.value);
  assert.deepEqual([...first, ...rest], [1, 2, 3, 4, 5, 6, 7, 8]);
  const after = await s2.invoke('"again"');
  assert.deepEqual(after.output, ['again']);
  await s2.close();
});

test(
  'a client killed without Disconnect: once the shell is abandoned, another process connects and receives the rest',
  { skip },
  async () => {
    const c = connect({ host: `127.0.0.1:${ep.port}`, username: USER, password: PASSWORD, auth: 'basic', allowUnencrypted: true });
    try {
      const rp = await openPool(c.wsman);
      const p = rp.pool.createPipeline({
        statements: [[{ cmd: '1..4 | ForEach-Object { $_; Start-Sleep -Milliseconds 200 }', isScript: true }]],
      });
      await rp.start(p);
      c.close(); // vanishes: no Disconnect, no Delete
      await assert.rejects(
        connectPool(
          connect({ host: `127.0.0.1:${ep.port}`, username: USER, password: PASSWORD, auth: 'basic', allowUnencrypted: true }).wsman,
          { shellId: rp.shellId },
        ),
        (e: unknown) => e instanceof WSManFaultError && /in use/.test(e.message),
        'still Connected right after',
      );
      await sleep(3500); // abandonedAfterMs of this endpoint: 3 s
      const c2 = connect({ host: `127.0.0.1:${ep.port}`, username: USER, password: PASSWORD, auth: 'basic', allowUnencrypted: true });
      try {
        const listed = await WSManRunspacePool.list(c2.wsman);
        assert.equal(listed.find((s) => s.shellId === rp.shellId)?.state, 'Disconnected');
        const rp2 = await connectPool(c2.wsman, { shellId: rp.shellId });
        const p2 = await rp2.attach(p.id);
        const got: unknown[] = [];
        for await (const e of rp2.follow(p2)) if (e.type === 'Output') got.push(e.value);
        assert.deepEqual(got, [1, 2, 3, 4], 'nothing was delivered to the vanished client, so everything arrives here');
        await rp2.close();
      } finally {
        c2.close();
      }
    } finally {
      c.close();
    }
  },
);

// Independent peer: pypsrp 0.9.1's RunspacePool (Python sources in ../shared/peers/python, MIT) against our endpoint
// and the real pwsh 7.6.9: a pool disconnected and connected from new clients (get_runspace_pools; Opened again with
// its state, disconnected and connected again), is_alive (a WS-Man Get of the shell), pool calls (min/max/available
// runspaces, command metadata, reset) and a running command picked up by a new client after a disconnect.
// The rest of the RunspacePool checks are in pypsrp-pool.test.ts.
//
// Platform differences from a Windows host: none in these checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pypsrpFixture, runPypsrp } from './fixtures/pypsrp/run.js';

const f = pypsrpFixture(() => ({ auth: ['negotiate', 'ntlm'], allowUnencrypted: false }));
const { skip, py, log } = f;

test(
  'disconnect, then connect from new clients (get_runspace_pools): Opened, state kept, disconnect and connect again',
  { skip },
  async () => {
    const r = await runPypsrp(py!, 'reconnect', f.endpoint.port);
    const opened = r.opened_value;
    const disconnected = r.disconnected_value;
    assert.equal(r.alive, true, 'is_alive: a Get of the shell answers with its state');
    assert.equal(r.alive_after_close, false, 'is_alive after close: the shell is gone (InvalidSelectors)');
    assert.equal(r.after_disconnect, disconnected);
    assert.deepEqual(r.listed, [disconnected], 'a new client lists the pool as Disconnected');
    assert.equal(r.state_after_connect, opened, 'the first Receive after Connect carries RUNSPACEPOOL_STATE Opened');
    const [pid] = r.pid as number[];
    assert.deepEqual(r.kept, [42, pid], 'the same pwsh, with its variables');
    assert.equal(r.second_disconnect, disconnected);
    assert.equal(r.third_state, opened);
    assert.deepEqual(r.third_kept, [41]);
    assert.ok(
      log.some((l) => /connected by EXAMPLE\\alice/.test(l)),
      log.join('\n'),
    );
  },
);

test('pool calls (runspaces, command metadata, reset) and a running command picked up by a new client', { skip }, async () => {
  const r = await runPypsrp(py!, 'commands', f.endpoint.port);
  assert.deepEqual(r.runspaces, [2, 3, 3]);
  assert.deepEqual(r.metadata, ['Get-Date']);
  assert.equal(r.disconnected_commands, 1);
  assert.deepEqual(r.picked_up, [[1, 2, 3, 4, 5]], 'every output of the command, none twice');
});

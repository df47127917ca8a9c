// A pipeline that fails while its input is still arriving (a copy onto a full disk does this) must leave the Session
// usable. pwsh does not acknowledge the `<Data>` it was reading when the pipeline failed, so the endpoint's Sends
// queued behind it waited for ever: the client's next command hung until its 30 s read timeout. Now they fault
// InvalidSelectors (the command has ended, as on Windows) and every Send is bounded by its OperationTimeout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PSValue } from '../../src/index.js';
import { PSInvocationState } from '../../src/psrp/state.js';
import { describeValue } from '../../src/transfer/remote.js';
import { useEndpoint, skip, session } from './transfer-fixture.js';

useEndpoint();

/** 256 KiB byte[] chunks, more than the client keeps in flight, so Sends are queued when the script throws. */
async function* chunks(n: number): AsyncGenerator<PSValue> {
  for (let i = 0; i < n; i++) yield new Uint8Array(256 * 1024).fill(i);
}

const FAILING = 'begin { $n = 0 } process { $n++; if ($n -ge 3) { throw "failed at input $n" } }';

test('a pipeline that fails mid-input: the same Session runs the next command at once, over and over', { skip }, async () => {
  for (let round = 0; round < 3; round++) {
    const failed = await session.invoke(FAILING, { input: chunks(64) });
    assert.equal(failed.state, PSInvocationState.Failed, `round ${round}: the pipeline failed`);
    assert.match(failed.streams.error.map(describeValue).join(' '), /failed at input 3/, `round ${round}: with its own error`);
    // the next command on the same Session: it hung for the read timeout (30 s) before the fix
    const r = await session.invoke('21 * 2');
    assert.deepEqual(r.output, [42], `round ${round}: the next command answers`);
  }
});

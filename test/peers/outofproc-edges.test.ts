/** OutOfProc edge cases against the real pwsh: the process dies mid-pipeline, cannot start, the smallest fragments. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { findPwsh, peerSkip } from '../helpers/peers.js';
import { Session } from '../../src/client/session.js';
import { RunspacePoolState } from '../../src/psrp/state.js';
import { TransportError, WinRMError, ConnectError, TimeoutError } from '../../src/errors.js';
import { MIN_FRAGMENT_SIZE } from '../../src/psrp/fragment.js';
import { PassThrough } from 'node:stream';
import { OutOfProcTransport, type DuplexLike } from '../../src/remoting/outofproc.js';

const pwsh = findPwsh();
const skip = peerSkip('pwsh', !!pwsh);

test('the server process is killed while a pipeline runs', { skip }, async () => {
  const s = await Session.open({ transport: 'process', pwsh });
  try {
    const pid = (await s.invoke('$PID')).output[0] as number;
    assert.ok(Number.isInteger(pid));
    const running = s.stream('"up"; Start-Sleep -Seconds 60');
    assert.equal((await running.next()).value?.type, 'output');
    process.kill(pid, 'SIGKILL');
    await assert.rejects(
      async () => {
        for await (const _ of running) {
          /* drain */
        }
      },
      (e: unknown) => {
        assert.ok(e instanceof TransportError, String(e));
        assert.match((e as Error).message, /closed unexpectedly|exited/);
        return true;
      },
    );
    assert.equal(s.state, RunspacePoolState.Broken);
    await assert.rejects(s.invoke('1'), WinRMError);
  } finally {
    await s.close();
  }
});

test('a pwsh that cannot be started is a typed error', async () => {
  await assert.rejects(Session.open({ transport: 'process', pwsh: '/nonexistent/pwsh' }), (e: unknown) => {
    assert.ok(e instanceof WinRMError, String(e));
    assert.match((e as Error).message, /ENOENT|not found/);
    return true;
  });
  void ConnectError;
});

test('the smallest fragment size (22 bytes: one byte of blob per fragment) works against the real server', { skip }, async () => {
  const s = await Session.open({ transport: 'process', pwsh, fragmentSize: MIN_FRAGMENT_SIZE });
  try {
    const r = await s.invoke('param($a) "got $a"', { args: ['é✓'] });
    assert.deepEqual(r.output, ['got é✓']);
  } finally {
    await s.close();
  }
});

test('a peer that never answers makes open time out with a typed error', async () => {
  const silent = new PassThrough(); // swallows what we write, never answers
  const duplex: DuplexLike = {
    write: () => true,
    on: ((ev: string, cb: (...a: unknown[]) => void) => {
      silent.on(ev, cb);
    }) as DuplexLike['on'],
    end: () => {
      silent.end();
    },
  };
  await assert.rejects(
    Session.open({ transport: new OutOfProcTransport(duplex, { kind: 'test', closeTimeoutMs: 200 }), openTimeoutMs: 300 }),
    TimeoutError,
  );
});

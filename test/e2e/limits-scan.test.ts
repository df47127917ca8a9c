/**
 * The shared /proc scan of the endpoint's process quotas (src/server/limits.ts SessionScanner): reused while it is
 * young, redone when asked for a fresh one; a session it has not seen counts as its leader.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { sampleSessions, SessionScanner } from '../../src/server/limits.js';

test('SessionScanner: one scan serves readers within its TTL; fresh rescans; an unseen session is one process', async () => {
  let now = 0;
  const sc = new SessionScanner(250, () => now);
  // a session leader that starts two more processes in its session
  const leader = spawn('sh', ['-c', 'sleep 30 & sleep 30 & echo ready; wait'], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
  try {
    await new Promise((r) => leader.stdout!.once('data', r));
    const sid = leader.pid!;
    assert.deepEqual(sc.get(sid), { processes: 1, rssBytes: 0 }, 'not scanned yet: its leader');
    sc.refresh();
    assert.equal(sc.scans, 1);
    assert.equal(sc.get(sid).processes, 3);
    assert.ok(sc.get(sid).rssBytes > 0);
    now += 100;
    sc.refresh();
    assert.equal(sc.scans, 1, 'reused within the TTL');
    process.kill(-sid, 'SIGKILL');
    await new Promise((r) => leader.once('exit', r));
    // SIGKILL reaches the group's other processes asynchronously: wait (bounded) until /proc shows none of them
    for (const end = Date.now() + 10_000; sampleSessions(new Set([sid])).size && Date.now() < end;)
      await new Promise((r) => setTimeout(r, 20));
    assert.equal(sc.get(sid).processes, 3, 'the cached scan still shows them');
    sc.refresh(true);
    assert.equal(sc.scans, 2);
    assert.equal(sc.snapshot().has(sid), false, 'a fresh scan sees the session gone');
    now += 1000;
    sc.refresh();
    assert.equal(sc.scans, 3, 'rescanned after the TTL');
  } finally {
    try {
      process.kill(-leader.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
});

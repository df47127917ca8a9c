/**
 * Read coalescing of pwsh's stdout (src/remoting/process.ts): the handle stops being read after a burst of small
 * reads and starts again after the pause, a single read or large reads never stop it, and Node's own state (its
 * backpressure, a destroyed socket, a replaced handle) is never overridden.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { coalesceReads } from '../../src/remoting/process.js';

function fake() {
  const calls: string[] = [];
  const h = {
    reading: true,
    readStop: () => {
      calls.push('stop');
      return 0;
    },
    readStart: () => {
      calls.push('start');
      return 0;
    },
  };
  const sock = { destroyed: false, _handle: h as typeof h | null };
  let t = 0;
  const timers: Array<() => void> = [];
  const onRead = coalesceReads(sock, { now: () => t, later: (f) => void timers.push(f) });
  return { calls, h, sock, timers, onRead, tick: (ms: number) => (t += ms) };
}

test('a burst of small reads stops the handle for a pause, then it is read again', () => {
  const f = fake();
  f.onRead(600);
  f.tick(0.1);
  f.onRead(600);
  assert.deepEqual(f.calls, []);
  f.tick(0.1);
  f.onRead(600);
  assert.deepEqual(f.calls, ['stop']);
  assert.equal(f.timers.length, 1);
  f.timers.shift()!();
  assert.deepEqual(f.calls, ['stop', 'start']);
});

test('replies spread out in time and large reads never stop the handle', () => {
  const f = fake();
  for (let i = 0; i < 10; i++) {
    f.onRead(300);
    f.tick(5); // one read every 5 ms: a conversation, not a stream
  }
  for (let i = 0; i < 10; i++) f.onRead(65536);
  assert.deepEqual(f.calls, []);
});

test('Node keeps the last word: no stop unless it is reading, no restart of a destroyed socket or another handle', () => {
  const f = fake();
  f.h.reading = false; // Node stopped it (backpressure)
  for (let i = 0; i < 6; i++) f.onRead(100);
  assert.deepEqual(f.calls, []);
  f.h.reading = true;
  for (let i = 0; i < 3; i++) f.onRead(100);
  assert.deepEqual(f.calls, ['stop']);
  f.sock.destroyed = true;
  f.timers.shift()!();
  assert.deepEqual(f.calls, ['stop'], 'a destroyed socket is not started again');
  const g = fake();
  for (let i = 0; i < 3; i++) g.onRead(100);
  g.sock._handle = null;
  g.timers.shift()!();
  assert.deepEqual(g.calls, ['stop']);
});

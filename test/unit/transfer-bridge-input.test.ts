// The endpoint's pwsh bridge when a command's input is still arriving as the command ends (a copy onto a full disk):
// every Send must be answered. Against a scripted stand-in for `pwsh -s` (a tiny Node program speaking the OutOfProc
// framing) that withholds DataAcks, so the orderings are exact:
//  - a Send queued behind an un-acknowledged `<Data>` when the client closes the command is refused (InputEndedError,
//    the endpoint's InvalidSelectors) instead of waiting for ever (the client's next command hung 30 s);
//  - pwsh's late output for a command it already freed (after its CloseAck) is dropped, not fed to a fresh
//    defragmenter (which failed on a fragment without its start and killed pwsh with every other command);
//  - a command that ends (Failed) with input queued refuses that input and any later input;
//  - a Send still queued when its OperationTimeout runs out is taken off the queue (SendTimeoutError → w:TimedOut).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InputEndedError, POOL, PsrpBridge, SendTimeoutError } from '../../src/server/psrp-bridge.js';
import { isBase64Text } from '../../src/xml/base64-cut.js';
import { encodeFragment } from '../../src/psrp/fragment.js';
import { Destination, encodeMessage, MessageType } from '../../src/psrp/message.js';
import { toBase64 } from '../../src/util/bytes.js';

const RPID = '11111111-2222-3333-4444-555555555555';
const HELD = 'aaaaaaaa-0000-0000-0000-000000000001'; // its Data is never acknowledged; its Close brings late output
const FAILS = 'aaaaaaaa-0000-0000-0000-000000000002'; // fails on its first Data (no DataAck)
const OTHER = 'aaaaaaaa-0000-0000-0000-000000000003';
const line = (guid: string, oid: bigint, fid: bigint, start: boolean, end: boolean, blob: Uint8Array) =>
  `<Data Stream='Default' PSGuid='${guid}'>${toBase64(encodeFragment({ objectId: oid, fragmentId: fid, start, end, blob }))}</Data>`;
const msg = (type: number, data: string, pid?: string) =>
  encodeMessage({ destination: Destination.Client, messageType: type, rpid: RPID, pid, data });

const failed = line(
  FAILS,
  1n,
  0n,
  true,
  true,
  msg(MessageType.PIPELINE_STATE, '<Obj><MS><I32 N="PipelineState">5</I32></MS></Obj>', FAILS),
);
// the middle of an object whose start went out before the Close: what a freed command's late output looks like
const late = line(HELD, 7n, 3n, false, false, new Uint8Array(100).fill(65));
const caps = line(
  POOL,
  2n,
  0n,
  true,
  true,
  msg(MessageType.SESSION_CAPABILITY, '<Obj><MS><Version N="protocolversion">2.3</Version></MS></Obj>'),
);

function fakePwsh(dir: string): string {
  const p = join(dir, 'fake-pwsh');
  writeFileSync(
    p,
    `#!${process.execPath}
const HELD = ${JSON.stringify(HELD)}, FAILS = ${JSON.stringify(FAILS)};
const failed = ${JSON.stringify(failed)}, late = ${JSON.stringify(late)}, caps = ${JSON.stringify(caps)};
require('readline').createInterface({ input: process.stdin }).on('line', (l) => {
  const m = /^<(Command|Close|Signal) PSGuid='([^']+)'/.exec(l);
  if (m) {
    process.stdout.write('<' + m[1] + "Ack PSGuid='" + m[2] + "' />\\n");
    if (m[1] === 'Close' && m[2] === HELD) setTimeout(() => process.stdout.write(late + '\\n' + caps + '\\n'), 50);
    return;
  }
  const d = /^<Data Stream='\\w+' PSGuid='([^']+)'/.exec(l);
  if (!d || d[1] === HELD) return;
  if (d[1] === FAILS) { process.stdout.write(failed + '\\n'); return; }
  process.stdout.write("<DataAck PSGuid='" + d[1] + "' />\\n");
}).on('close', () => process.exit(0));
`,
  );
  chmodSync(p, 0o755);
  return p;
}

/** The promise's outcome, or 'pending' after `ms` (a Send that is never answered must fail the test, not hang it). */
async function settled(p: Promise<unknown>, ms = 5000): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const pending = new Promise((r) => (timer = setTimeout(() => r('pending'), ms)));
  try {
    return await Promise.race([
      p.then(
        () => 'written',
        (e: unknown) => e,
      ),
      pending,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function withBridge(fn: (b: PsrpBridge) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'winrm-ts-bridge-input-'));
  const b = new PsrpBridge({ pwsh: fakePwsh(dir), args: [], env: { PATH: process.env.PATH ?? '' }, maxFragmentSize: 100_000 });
  try {
    await b.start();
    await fn(b);
  } finally {
    await b.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('closing a command refuses the Sends queued behind its un-acknowledged Data; its late output does not kill pwsh', async () => {
  await withBridge(async (b) => {
    await b.command(HELD);
    assert.equal(await settled(b.sendData(HELD, new Uint8Array([1]))), 'written', 'the first Data goes out at once');
    const queued = b.sendData(HELD, new Uint8Array([2])); // waits for a DataAck that never comes
    const { acked } = b.abandon(HELD); // the client closed the command (its pipeline failed)
    const r = await settled(queued);
    assert.ok(r instanceof InputEndedError, `the queued Send is refused, not left waiting (got ${String(r)})`);
    await acked;
    // pwsh then writes the rest of an object of the freed command, and a pool message
    for (let i = 0; i < 500 && !b.sessionCapability && !b.exited; i++) await new Promise((res) => setTimeout(res, 10));
    assert.ok(b.sessionCapability, 'the pool message after the late output was read');
    assert.equal(b.exited, false, 'pwsh was not killed over the late output');
    await b.command(OTHER);
    assert.equal(await settled(b.sendData(OTHER, new Uint8Array([3]))), 'written', 'the shell goes on');
  });
});

test('a command that fails with input queued refuses that input and any later input', async () => {
  await withBridge(async (b) => {
    await b.command(FAILS);
    assert.equal(await settled(b.sendData(FAILS, new Uint8Array([1]))), 'written');
    const queued = b.sendData(FAILS, new Uint8Array([2]));
    const r = await settled(queued);
    assert.ok(r instanceof InputEndedError, `refused once the command failed (got ${String(r)})`);
    assert.ok(b.target(FAILS).terminal);
    assert.ok((await settled(b.sendData(FAILS, new Uint8Array([3])))) instanceof InputEndedError, 'later input too');
  });
});

test('a Send still queued when its OperationTimeout runs out is taken off the queue: SendTimeoutError', async () => {
  await withBridge(async (b) => {
    await b.command(HELD);
    assert.equal(await settled(b.sendData(HELD, new Uint8Array([1]))), 'written');
    const r = await settled(b.sendData(HELD, new Uint8Array([2]), 'Default', 100));
    assert.ok(r instanceof SendTimeoutError, `got ${String(r)}`);
    // the timed-out Data was not written: a Close still finds the queue empty and nothing else waiting
    const { acked } = b.abandon(HELD);
    await acked;
  });
});

test('isBase64Text: only strict base64 goes to pwsh as it came (the rest is decoded and re-encoded)', () => {
  const ok = ['QUFB', 'QUE=', 'QQ==', Buffer.from(new Uint8Array(100_000).map((_, i) => i * 7)).toString('base64')];
  for (const s of ok) assert.equal(isBase64Text(s), true, s.slice(0, 20));
  const bad = ['', 'QUF', 'QQ==QUFB', 'QU B', 'QU\nB', 'QUFB\n', 'QU*B', 'QUFBQ===', '====', '-_AA', 'QU<B'];
  for (const s of bad) assert.equal(isBase64Text(s), false, JSON.stringify(s));
});

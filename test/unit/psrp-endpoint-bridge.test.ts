// The endpoint's pwsh bridge (src/server/psrp-bridge.ts) against a scripted stand-in for `pwsh -s` (a tiny Node
// program speaking the OutOfProc framing), so the edge cases are exact: a fragment larger than the client's envelope
// is re-split (same ObjectId, FragmentIds renumbered) and reassembles to the same message; a Receive budget that
// stops mid-message delivers the rest next time; a new client (rewind after Connect) gets every message it has not
// received whole, from its start, and nothing it already had; the terminal PIPELINE_STATE is seen; Command/Close
// wait for their acks; a child that writes garbage is stopped with a typed error for the next caller.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, chmodSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PsrpBridge, POOL } from '../../src/server/psrp-bridge.js';
import { decodeFragments, Defragmenter, encodeFragment } from '../../src/psrp/fragment.js';
import { decodeMessage, encodeMessage, Destination, MessageType } from '../../src/psrp/message.js';
import { fromUtf8, toBase64 } from '../../src/util/bytes.js';

const RPID = '11111111-2222-3333-4444-555555555555';
const PID = 'AAAAAAAA-BBBB-CCCC-DDDD-EEEEEEEEEEEE';
const msg = (type: number, data: string, pid?: string) =>
  encodeMessage({ destination: Destination.Client, messageType: type, rpid: RPID, pid, data });
const line = (guid: string, frag: Uint8Array) => `<Data Stream='Default' PSGuid='${guid.toLowerCase()}'>${toBase64(frag)}</Data>`;

/** A fake pwsh: prints `lines` after its first stdin line, acks Command/Close, then waits for EOF. */
function fakePwsh(dir: string, lines: string[]): string {
  const p = join(dir, 'fake-pwsh');
  writeFileSync(
    p,
    `#!${process.execPath}
const out = ${JSON.stringify(lines)};
let first = true;
require('readline').createInterface({ input: process.stdin }).on('line', (l) => {
  if (first) { first = false; for (const o of out) process.stdout.write(o + '\\n'); }
  const m = /^<(Command|Close|Signal) PSGuid='([^']+)'/.exec(l);
  if (m) process.stdout.write('<' + m[1] + "Ack PSGuid='" + m[2] + "' />\\n");
  const d = /^<Data Stream='\\w+' PSGuid='([^']+)'/.exec(l);
  if (d) process.stdout.write("<DataAck PSGuid='" + d[1] + "' />\\n");
}).on('close', () => process.exit(0));
`,
  );
  chmodSync(p, 0o755);
  return p;
}

function reassemble(chunks: Uint8Array[]): Array<{ type: number; text: string }> {
  const d = new Defragmenter();
  const out: Array<{ type: number; text: string }> = [];
  for (const c of chunks)
    for (const f of decodeFragments(c)) {
      const b = d.add(f);
      if (b) {
        const m = decodeMessage(b);
        out.push({ type: m.messageType, text: fromUtf8(m.data) });
      }
    }
  return out;
}

async function until(pred: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !pred(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(pred(), 'condition not reached');
}

test('re-split, partial delivery, rewind for a new client, terminal state, acks', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'winrm-ts-bridge-'));
  const big = 'x'.repeat(5000);
  const caps = msg(MessageType.SESSION_CAPABILITY, '<Obj RefId="0"><MS><Version N="protocolversion">2.3</Version></MS></Obj>');
  const out1 = msg(MessageType.PIPELINE_OUTPUT, `<S>${big}</S>`, PID);
  const out2 = msg(MessageType.PIPELINE_OUTPUT, '<S>two</S>', PID);
  const done = msg(MessageType.PIPELINE_STATE, '<Obj RefId="0"><MS><I32 N="PipelineState">4</I32></MS></Obj>', PID);
  const one = (oid: bigint, b: Uint8Array) => encodeFragment({ objectId: oid, fragmentId: 0n, start: true, end: true, blob: b });
  const pwsh = fakePwsh(dir, [line(POOL, one(1n, caps)), line(PID, one(2n, out1)), line(PID, one(3n, out2)), line(PID, one(4n, done))]);
  const b = new PsrpBridge({ pwsh, args: [], env: { PATH: process.env.PATH ?? '' }, maxFragmentSize: 1000 });
  try {
    await b.start();
    await b.command(PID); // the fake acks it
    await b.sendData(POOL, new Uint8Array([1, 2, 3]));
    await until(() => b.target(PID).terminal);
    assert.ok(b.sessionCapability, 'SESSION_CAPABILITY kept for Connect');
    const t = b.target(PID);
    assert.ok(t.frags.length > 6, `the 5 kB message was re-split into fragments of <= 1000 bytes (${t.frags.length})`);
    assert.ok(t.frags.every((f) => f.bytes.length <= 1000));

    // first client: a small budget stops in the middle of the big message
    const a1 = b.take(PID, 2500);
    assert.ok(a1.fragments >= 2 && !a1.terminalDelivered);
    // that client goes away; a new one connects: rewind hands out the partial message again from its start
    b.rewind();
    const rest: Uint8Array[] = [];
    for (let i = 0; i < 20; i++) {
      const r = b.take(PID, 100_000);
      if (r.fragments) rest.push(r.data);
      if (r.terminalDelivered) break;
    }
    const msgs = reassemble(rest);
    assert.deepEqual(
      msgs.map((m) => m.type),
      [MessageType.PIPELINE_OUTPUT, MessageType.PIPELINE_OUTPUT, MessageType.PIPELINE_STATE],
    );
    assert.equal(msgs[0]!.text, `<S>${big}</S>`);
    assert.equal(msgs[1]!.text, '<S>two</S>');
    assert.equal(b.target(PID).frags.length, 0, 'everything delivered whole was dropped');
    b.rewind();
    assert.equal(b.take(PID, 100_000).fragments, 0, 'nothing is handed out twice');
    await b.closePipeline(PID);
  } finally {
    await b.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  assert.ok(b.exited);
});

test('a child that writes garbage is stopped; later calls get a typed error', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'winrm-ts-bridge-'));
  const pwsh = fakePwsh(dir, ['this is not OutOfProc']);
  const logs: string[] = [];
  const b = new PsrpBridge({ pwsh, args: [], env: { PATH: process.env.PATH ?? '' }, maxFragmentSize: 1000, log: (l) => logs.push(l) });
  try {
    await b.start();
    await b.sendData(POOL, new Uint8Array([1]));
    await until(() => b.exited);
    assert.ok(logs.some((l) => /not OutOfProc framing/.test(l)));
    await assert.rejects(b.command(PID), /exited/);
  } finally {
    await b.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** A fake pwsh that acks Command and Close, floods one pipeline after its Command, and on Signal sends Stopped (no SignalAck). */
function floodingPwsh(dir: string, floodPid: string, line: string, count: number, stopped: string): string {
  const p = join(dir, 'flood-pwsh');
  writeFileSync(
    p,
    `#!${process.execPath}
const flood = ${JSON.stringify(floodPid.toLowerCase())}, line = ${JSON.stringify(line)}, stopped = ${JSON.stringify(stopped)};
require('readline').createInterface({ input: process.stdin }).on('line', (l) => {
  const m = /^<(Command|Close|Signal) PSGuid='([^']+)'/.exec(l);
  if (!m) return;
  if (m[1] === 'Signal') { process.stdout.write(stopped + '\\n'); return; } // stops, never acknowledges
  process.stdout.write('<' + m[1] + "Ack PSGuid='" + m[2] + "' />\\n");
  // blocks while the bridge pauses
  if (m[1] === 'Command' && m[2] === flood) for (let i = 0; i < ${count}; i++) process.stdout.write(line + '\\n');
}).on('close', () => process.exit(0));
`,
  );
  chmodSync(p, 0o755);
  return p;
}

test(
  'a command with more unread output than its bound pauses pwsh; a stop drops it at once, is not held by the ack, and the shell ' +
    'goes on',
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'winrm-ts-bridge-'));
    const PID2 = '99999999-8888-7777-6666-555555555555';
    const one = (oid: bigint, b: Uint8Array) => encodeFragment({ objectId: oid, fragmentId: 0n, start: true, end: true, blob: b });
    const chunk = line(PID, one(1n, msg(MessageType.PIPELINE_OUTPUT, `<S>${'x'.repeat(65536)}</S>`, PID)));
    const stopped = line(
      PID,
      one(2n, msg(MessageType.PIPELINE_STATE, '<Obj RefId="0"><MS><I32 N="PipelineState">3</I32></MS></Obj>', PID)),
    );
    const pwsh = floodingPwsh(dir, PID, chunk, 320, stopped); // 320 x 64 KiB: 20 MiB for one command
    const b = new PsrpBridge({ pwsh, args: [], env: { PATH: process.env.PATH ?? '' }, maxFragmentSize: 500_000 });
    try {
      await b.start();
      await b.command(PID);
      await until(() => b.outputPaused);
      const held = b.target(PID).bytes;
      assert.ok(held > 16 * 1024 * 1024, `paused with ${held} bytes unread for the command`);
      // a client read a little of it, then stopped it
      const first = b.take(PID, 100_000);
      assert.equal(reassemble([first.data])[0]!.type, MessageType.PIPELINE_OUTPUT);
      const { acked } = b.signal(PID);
      assert.equal(b.outputPaused, false, 'the stop dropped the unread output: pwsh runs again at once');
      assert.equal(b.target(PID).bytes, 0);
      let ackState = 'pending';
      acked.then(
        () => {
          ackState = 'acked';
        },
        () => {
          ackState = 'failed';
        },
      );
      // the shell is usable: the rest of the flood is dropped as it arrives, another command is acknowledged
      await b.command(PID2);
      await until(() => b.target(PID).terminal);
      const rest: Uint8Array[] = [];
      for (let r = b.take(PID, 1 << 20); r.fragments; r = b.take(PID, 1 << 20)) rest.push(r.data);
      assert.deepEqual(
        reassemble(rest).map((m) => m.type),
        [MessageType.PIPELINE_STATE],
        'only the final state is kept after the stop',
      );
      assert.ok(b.target(PID).droppedBytes > 16 * 1024 * 1024, `${b.target(PID).droppedBytes} bytes dropped`);
      assert.equal(ackState, 'pending', 'pwsh never acknowledged the Signal; nobody waited for it');
      // a closed command: its unread output goes, late output is not kept, the id can be used again
      await b.closePipeline(PID);
      b.dropTarget(PID);
      const { acked: closeAcked } = b.abandon(PID2);
      await closeAcked;
      assert.equal(b.hasTarget(PID2), false);
      await b.command(PID2);
      assert.equal(b.hasTarget(PID2), true, 'a closed id can be used again');
    } finally {
      await b.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  'one output object larger than the 16 MiB pause mark still ' + 'arrives whole (delivered fragments do not hold back its ' + 'rest)',
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'winrm-ts-bridge-'));
    const size = 20 * 1024 * 1024;
    const blob = msg(MessageType.PIPELINE_OUTPUT, `<S>${'y'.repeat(size)}</S>`, PID);
    const done = msg(MessageType.PIPELINE_STATE, '<Obj RefId="0"><MS><I32 N="PipelineState">4</I32></MS></Obj>', PID);
    const lines: string[] = [];
    const room = 32 * 1024 - 21;
    for (let off = 0, fid = 0n; off < blob.length; off += room, fid++) {
      lines.push(
        line(
          PID,
          encodeFragment({
            objectId: 7n,
            fragmentId: fid,
            start: off === 0,
            end: off + room >= blob.length,
            blob: blob.subarray(off, off + room),
          }),
        ),
      );
    }
    lines.push(line(PID, encodeFragment({ objectId: 8n, fragmentId: 0n, start: true, end: true, blob: done })));
    const data = join(dir, 'out.txt');
    writeFileSync(data, lines.join('\n') + '\n');
    const p = join(dir, 'fake-pwsh');
    writeFileSync(
      p,
      `#!${process.execPath}
const fs = require('fs'); let first = true;
require('readline').createInterface({ input: process.stdin }).on('line', (l) => {
  if (first) { first = false; fs.createReadStream(${JSON.stringify(data)}).pipe(process.stdout, { end: false }); }
  const m = /^<(Command|Close|Signal) PSGuid='([^']+)'/.exec(l);
  if (m) process.stdout.write('<' + m[1] + "Ack PSGuid='" + m[2] + "' />\\n");
}).on('close', () => process.exit(0));
`,
    );
    chmodSync(p, 0o755);
    const b = new PsrpBridge({ pwsh: p, args: [], env: { PATH: process.env.PATH ?? '' }, maxFragmentSize: 400_000 });
    try {
      await b.start();
      await b.command(PID);
      await b.sendData(POOL, new Uint8Array([1])).catch(() => undefined); // starts the output (no DataAck from this fake)
      const got: Uint8Array[] = [];
      const deadline = Date.now() + 60_000;
      for (;;) {
        const r = b.take(PID, 400_000);
        if (r.fragments) got.push(r.data);
        if (r.terminalDelivered) break;
        assert.ok(Date.now() < deadline, 'the rest of the big object never came (the child stayed paused)');
        if (!r.fragments) await new Promise((res) => setTimeout(res, 5));
      }
      const msgs = reassemble(got);
      assert.deepEqual(
        msgs.map((m) => m.type),
        [MessageType.PIPELINE_OUTPUT, MessageType.PIPELINE_STATE],
      );
      assert.equal(msgs[0]!.text.length, size + 7);
    } finally {
      await b.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

/**
 * Bad input to every PSRP parser of remote data: fragments, messages, the pool's message handlers, the OutOfProc
 * codec. Random, truncated and mutated input must give RemoteProtocolError (ClixmlError is one), never a crash,
 * a hang or unbounded memory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FragmentReader, decodeFragments, fragmentMessage, encodeFragment } from '../../src/psrp/fragment.js';
import { decodeMessage, encodeMessage, Destination, MessageType } from '../../src/psrp/message.js';
import { ClientRunspacePool } from '../../src/psrp/pool.js';
import { OutOfProcDecoder, decodePacketLine } from '../../src/psrp/outofproc-codec.js';
import { RemoteProtocolError } from '../../src/errors.js';
import { concatBytes, utf8 } from '../../src/util/bytes.js';
import { fuzzRandom } from '../helpers/fuzz.js';

const fz = fuzzRandom('psrp-fuzz.test.ts');

function rng(seed: number) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}
function expectTyped(f: () => void, what: string): void {
  try {
    f();
  } catch (e) {
    if (!(e instanceof RemoteProtocolError)) throw new Error(`${what}: ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
  }
}

const SAMPLES: Array<[MessageType, string]> = [
  [
    MessageType.SESSION_CAPABILITY,
    '<Obj RefId="0"><MS><Version N="protocolversion">2.3</Version><Version N="PSVersion">2.0</Version><Version ' +
      'N="SerializationVersion">1.1.0.1</Version></MS></Obj>',
  ],
  [MessageType.RUNSPACEPOOL_STATE, '<Obj RefId="0"><MS><I32 N="RunspaceState">2</I32></MS></Obj>'],
  [
    MessageType.PIPELINE_OUTPUT,
    '<Obj RefId="0"><TN RefId="0"><T>System.Management.Automation.PSCustomObject</T><T>System.Object</T></TN><MS><I32 ' +
      'N="a">1</I32><S N="b">x_x000A_</S></MS></Obj>',
  ],
  [
    MessageType.PIPELINE_HOST_CALL,
    '<Obj RefId="0"><MS><I64 N="ci">1</I64><Obj N="mi" RefId="1"><TN RefId="0">' +
      '<T>System.Management.Automation.Remoting.RemoteHostMethodId</T><T>System.Enum</T><T>System.ValueType</T>' +
      '<T>System.Object</T></TN><ToString>ReadLine</ToString><I32>11</I32></Obj><Obj N="mp" RefId="2"><TN RefId="1">' +
      '<T>System.Collections.ArrayList</T><T>System.Object</T></TN><LST /></Obj></MS></Obj>',
  ],
  [MessageType.PIPELINE_STATE, '<Obj RefId="0"><MS><I32 N="PipelineState">4</I32></MS></Obj>'],
  [MessageType.ENCRYPTED_SESSION_KEY, '<Obj RefId="0"><MS><S N="EncryptedSessionKey">AQIAABBmAAAApAAA</S></MS></Obj>'],
];

function freshPool(): { pool: ClientRunspacePool; pid: string } {
  const pool = new ClientRunspacePool();
  pool.open();
  pool.dataToSend();
  const open = concatBytes(
    ...[SAMPLES[0]!, SAMPLES[1]!].map(([t, b], i) =>
      concatBytes(
        ...fragmentMessage(BigInt(i + 1), encodeMessage({ destination: Destination.Client, messageType: t, rpid: pool.id, data: b })).map(
          encodeFragment,
        ),
      ),
    ),
  );
  pool.receiveData({ data: open });
  const p = pool.createPipeline({ statements: [[{ cmd: 'x' }]] });
  p.start();
  pool.dataToSend(1 << 20, { pipelineId: p.id });
  while (pool.nextEvent());
  return { pool, pid: p.id };
}

test('random bytes into the fragment reader and the pool', () => {
  const r = rng(fz.int31());
  for (let i = 0; i < 400; i++) {
    const len = Math.floor(r() * 200);
    const b = new Uint8Array(len).map(() => Math.floor(r() * 256));
    expectTyped(() => decodeFragments(b), 'decodeFragments');
    expectTyped(() => decodeMessage(b), 'decodeMessage');
    const { pool, pid } = freshPool();
    expectTyped(() => pool.receiveData({ data: b, pipelineId: i % 2 ? pid : undefined }), 'receiveData');
  }
});

test('mutated and truncated valid messages', () => {
  const r = rng(fz.int31());
  for (let i = 0; i < 600; i++) {
    const { pool, pid } = freshPool();
    const [type, body] = SAMPLES[i % SAMPLES.length]!;
    const msg = encodeMessage({
      destination: Destination.Client,
      messageType: type,
      rpid: pool.id,
      pid: type >= 0x41000 ? pid : undefined,
      data: body,
    });
    const bytes = concatBytes(...fragmentMessage(50n, msg, 22 + Math.floor(r() * 80)).map(encodeFragment));
    const m = bytes.slice();
    const flips = 1 + Math.floor(r() * 4);
    for (let k = 0; k < flips; k++) m[Math.floor(r() * m.length)] = Math.floor(r() * 256);
    const cut = m.subarray(0, Math.floor(r() * m.length));
    expectTyped(
      () => pool.receiveData({ data: i % 3 ? m : cut, pipelineId: type >= 0x41000 ? pid : undefined }),
      `mutated ${MessageType[type]}`,
    );
    while (pool.nextEvent());
  }
});

test('a huge declared fragment length is refused, not buffered', () => {
  const { pool } = freshPool();
  const hdr = encodeFragment({ objectId: 9n, fragmentId: 0n, start: true, end: true, blob: new Uint8Array(0) });
  new DataView(hdr.buffer).setUint32(17, 0xfffffff0, false);
  assert.throws(() => pool.receiveData({ data: hdr }), RemoteProtocolError);
  const reader = new FragmentReader({ maxBlob: 1000 });
  const h2 = hdr.slice();
  new DataView(h2.buffer).setUint32(17, 1001, false);
  assert.throws(() => reader.push(h2), RemoteProtocolError);
});

test('random and mutated OutOfProc lines', () => {
  const r = rng(fz.int31());
  const good = `<Data Stream='Default' PSGuid='00000000-0000-0000-0000-000000000000'>AAAAAAAAAAEAAAAAAAAAAAMAAAAB</Data>`;
  const alphabet = `<>/='" DataAckPSGuidStreamCommand0123456789abcdef-`;
  for (let i = 0; i < 2000; i++) {
    let s: string;
    if (i % 2) {
      s = good
        .split('')
        .map((c) => (r() < 0.05 ? alphabet[Math.floor(r() * alphabet.length)]! : c))
        .join('');
    } else {
      s = Array.from({ length: Math.floor(r() * 80) }, () => alphabet[Math.floor(r() * alphabet.length)]).join('');
    }
    expectTyped(() => decodePacketLine(s), `line ${s}`);
    const d = new OutOfProcDecoder({ maxLineLength: 4096 });
    expectTyped(() => d.push(utf8(s + '\n' + s.slice(0, 10))), 'decoder');
  }
});

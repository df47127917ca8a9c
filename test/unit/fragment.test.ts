/** MS-PSRP 2.2.4 fragments and 2.2.1 messages: encode/decode, reassembly at every split point, bounds. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  encodeFragment,
  decodeFragments,
  fragmentMessage,
  FragmentReader,
  Defragmenter,
  FRAGMENT_HEADER_SIZE,
  MIN_FRAGMENT_SIZE,
} from '../../src/psrp/fragment.js';
import { encodeMessage, decodeMessage, Destination, MessageType, EMPTY_GUID } from '../../src/psrp/message.js';
import { LocalProtocolError, RemoteProtocolError } from '../../src/errors.js';
import { concatBytes, fromHex, toHex, utf8, fromUtf8 } from '../../src/util/bytes.js';

test('fragment header is big-endian (MS-PSRP 2.2.4)', () => {
  const f = encodeFragment({ objectId: 1n, fragmentId: 0n, start: true, end: true, blob: fromHex('aabb') });
  assert.equal(toHex(f), '0000000000000001' + '0000000000000000' + '03' + '00000002' + 'aabb');
  assert.equal(f.length, FRAGMENT_HEADER_SIZE + 2);
  const [d] = decodeFragments(f);
  assert.deepEqual({ ...d!, blob: toHex(d!.blob) }, { objectId: 1n, fragmentId: 0n, start: true, end: true, blob: 'aabb' });
  // ids over 2^53 and at the 64-bit limit read back exactly
  for (const id of [2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, 0x123456789abcdef0n, 2n ** 64n - 1n]) {
    const [e] = decodeFragments(encodeFragment({ objectId: id, fragmentId: id ^ 0xffn, start: true, end: true, blob: fromHex('00') }));
    assert.deepEqual([e!.objectId, e!.fragmentId], [id, id ^ 0xffn]);
  }
});

test('message header is little-endian with .NET GUID order (MS-PSRP 2.2.1)', () => {
  const rpid = '12345678-9ABC-DEF0-1122-334455667788';
  const m = encodeMessage({ destination: Destination.Server, messageType: MessageType.SESSION_CAPABILITY, rpid, data: '<x/>' });
  assert.equal(toHex(m.subarray(0, 8)), '02000000' + '02000100');
  assert.equal(toHex(m.subarray(8, 24)), '78563412bc9af0de1122334455667788');
  assert.equal(toHex(m.subarray(24, 40)), '00'.repeat(16));
  const d = decodeMessage(m);
  assert.equal(d.rpid, rpid);
  assert.equal(d.pid, EMPTY_GUID);
  assert.equal(fromUtf8(d.data), '<x/>');
  // a server message carries a UTF-8 BOM: stripped
  const withBom = concatBytes(m.subarray(0, 40), fromHex('efbbbf'), utf8('<y/>'));
  assert.equal(fromUtf8(decodeMessage(withBom).data), '<y/>');
});

test('message decode refuses short input and bad destinations', () => {
  assert.throws(() => decodeMessage(new Uint8Array(39)), RemoteProtocolError);
  const m = encodeMessage({ destination: Destination.Client, messageType: 1, rpid: EMPTY_GUID, data: '' });
  m[0] = 7;
  assert.throws(() => decodeMessage(m), RemoteProtocolError);
});

test('fragmentMessage honours every maximum size down to the minimum, and reassembles', () => {
  const msg = utf8('x'.repeat(300) + 'é'.repeat(50));
  for (const max of [MIN_FRAGMENT_SIZE, MIN_FRAGMENT_SIZE + 1, 50, 64, 200, 1000]) {
    const frags = fragmentMessage(9n, msg, max);
    for (const f of frags) assert.ok(encodeFragment(f).length <= max);
    assert.ok(frags[0]!.start && frags.at(-1)!.end);
    const d = new Defragmenter();
    let out: Uint8Array | undefined;
    for (const f of frags) out = d.add(f) ?? out;
    assert.deepEqual(out, msg);
  }
  assert.throws(() => fragmentMessage(1n, msg, MIN_FRAGMENT_SIZE - 1), LocalProtocolError);
});

test('empty message is one fragment with both flags', () => {
  const f = fragmentMessage(3n, new Uint8Array(0));
  assert.equal(f.length, 1);
  assert.ok(f[0]!.start && f[0]!.end);
});

test('FragmentReader: every split point of a multi-fragment stream yields the same fragments', () => {
  const a = fragmentMessage(1n, utf8('hello world, this is message one'), 30);
  const b = fragmentMessage(2n, utf8('two'), 100);
  const stream = concatBytes(...[...a, ...b].map(encodeFragment));
  const expect = decodeFragments(stream).map((f) => `${f.objectId}/${f.fragmentId}/${toHex(f.blob)}`);
  for (let i = 0; i <= stream.length; i++) {
    for (const j of [i, Math.min(stream.length, i + 7)]) {
      const r = new FragmentReader();
      const got = [...r.push(stream.subarray(0, i)), ...r.push(stream.subarray(i, j)), ...r.push(stream.subarray(j))];
      assert.deepEqual(
        got.map((f) => `${f.objectId}/${f.fragmentId}/${toHex(f.blob)}`),
        expect,
        `split at ${i},${j}`,
      );
      assert.equal(r.buffered, 0);
    }
  }
  // byte by byte
  const r = new FragmentReader();
  const got = [];
  for (const byte of stream) got.push(...r.push(Uint8Array.of(byte)));
  assert.equal(got.length, expect.length);
});

test('Defragmenter: interleaved objects, order and bounds', () => {
  const d = new Defragmenter({ maxMessageSize: 10, maxPending: 2 });
  const f = (objectId: bigint, fragmentId: bigint, start: boolean, end: boolean, s: string) => ({
    objectId,
    fragmentId,
    start,
    end,
    blob: utf8(s),
  });
  assert.equal(d.add(f(1n, 0n, true, false, 'ab')), undefined);
  assert.equal(d.add(f(2n, 0n, true, false, 'xy')), undefined);
  assert.equal(fromUtf8(d.add(f(1n, 1n, false, true, 'cd'))!), 'abcd');
  assert.throws(() => d.add(f(2n, 2n, false, true, 'z')), RemoteProtocolError); // gap
  assert.throws(() => d.add(f(5n, 1n, false, true, 'z')), RemoteProtocolError); // no start
  assert.throws(() => d.add(f(6n, 3n, true, true, 'z')), RemoteProtocolError); // start with id != 0
  const d2 = new Defragmenter({ maxMessageSize: 4 });
  d2.add(f(1n, 0n, true, false, 'abc'));
  assert.throws(() => d2.add(f(1n, 1n, false, true, 'de')), /larger than the limit/);
  const d3 = new Defragmenter({ maxPending: 1 });
  d3.add(f(1n, 0n, true, false, 'a'));
  assert.throws(() => d3.add(f(2n, 0n, true, false, 'b')), /partially received/);
});

test('decodeFragments: truncated and oversize fragments are RemoteProtocolError', () => {
  const full = encodeFragment({ objectId: 1n, fragmentId: 0n, start: true, end: true, blob: utf8('hello') });
  for (let i = 1; i < full.length; i++) assert.throws(() => decodeFragments(full.subarray(0, i)), RemoteProtocolError);
  assert.throws(() => decodeFragments(full, 4), /exceeds the limit/);
  const badFlags = full.slice();
  badFlags[16] = 0x84;
  assert.throws(() => decodeFragments(badFlags), /unknown flag/);
});

/** OutOfProc packet codec (PowerShell OutOfProcessUtils framing): exact strings, line splitting, bad input. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  encodePacket,
  encodePacketBytes,
  decodePacketLine,
  OutOfProcDecoder,
  OUTOFPROC_POOL_GUID,
} from '../../src/psrp/outofproc-codec.js';
import { RemoteProtocolError } from '../../src/errors.js';
import { utf8 } from '../../src/util/bytes.js';

const G = '0d4e2b7c-1f0a-4c5e-9b2d-3a4b5c6d7e8f';

test('packets are written exactly as PowerShell writes them', () => {
  assert.equal(
    encodePacket({ type: 'Data', stream: 'Default', psGuid: OUTOFPROC_POOL_GUID, data: utf8('hi') }),
    `<Data Stream='Default' PSGuid='00000000-0000-0000-0000-000000000000'>aGk=</Data>\n`,
  );
  assert.equal(encodePacket({ type: 'Command', psGuid: G.toUpperCase() }), `<Command PSGuid='${G}' />\n`);
  assert.equal(
    encodePacket({ type: 'Data', stream: 'PromptResponse', psGuid: G, data: utf8('x') }),
    `<Data Stream='PromptResponse' PSGuid='${G}'>eA==</Data>\n`,
  );
  assert.throws(() => encodePacket({ type: 'Data', stream: 'Default', psGuid: G, data: new Uint8Array(0) }));
});

test('decode: every packet kind, both quote styles, several per line', () => {
  for (const t of ['DataAck', 'Command', 'CommandAck', 'Signal', 'SignalAck', 'Close', 'CloseAck'] as const) {
    assert.deepEqual(decodePacketLine(`<${t} PSGuid='${G}' />`), [{ type: t, psGuid: G }]);
    assert.deepEqual(decodePacketLine(`<${t} PSGuid="${G.toUpperCase()}"></${t}>`), [{ type: t, psGuid: G }]);
  }
  const two = decodePacketLine(`<DataAck PSGuid='${G}' /><Data Stream="Default" PSGuid='${G}'>aGk=</Data>`);
  assert.equal(two.length, 2);
  assert.equal(two[1]!.type, 'Data');
});

test('decoder splits lines at any chunk boundary, CRLF tolerated', () => {
  const text =
    encodePacket({ type: 'Data', stream: 'Default', psGuid: G, data: utf8('hello') }) +
    `<CloseAck PSGuid='${G}' />\r\n` +
    encodePacket({ type: 'SignalAck', psGuid: G });
  const bytes = utf8(text);
  for (let i = 0; i <= bytes.length; i++) {
    const d = new OutOfProcDecoder();
    const got = [...d.push(bytes.subarray(0, i)), ...d.push(bytes.subarray(i))];
    assert.deepEqual(
      got.map((p) => p.type),
      ['Data', 'CloseAck', 'SignalAck'],
      `split ${i}`,
    );
  }
});

test('bad lines are RemoteProtocolError', () => {
  const bad = [
    'hello',
    `<Data PSGuid='${G}'>aGk=</Data>`,
    `<Data Stream='Default' PSGuid='${G}'></Data>`,
    `<Data Stream='Other' PSGuid='${G}'>aGk=</Data>`,
    `<Data Stream='Default' PSGuid='${G}'>!!</Data>`,
    `<Foo PSGuid='${G}' />`,
    `<Close />`,
    `<Close PSGuid='nope' />`,
    `<Close PSGuid='${G}' X='1' />`,
    `<Data Stream='Default' PSGuid='${G}'>aGk=`,
    `<Close PSGuid='${G}'>x</Close>`,
  ];
  for (const l of bad) assert.throws(() => decodePacketLine(l), RemoteProtocolError, l);
});

test('a line longer than the bound is refused without buffering it all', () => {
  const d = new OutOfProcDecoder({ maxLineLength: 100 });
  d.push(utf8('<Data '.padEnd(90, 'x')));
  assert.throws(() => d.push(utf8('y'.repeat(20))), RemoteProtocolError);
});

test('the byte-level decoding of the usual <Data> line gives what decodePacketLine gives (differential, mutations)', () => {
  const line = encodePacket({ type: 'Data', stream: 'Default', psGuid: G, data: utf8('<Obj RefId="0"><S>x</S></Obj>') }).trimEnd();
  const prompt = encodePacket({ type: 'Data', stream: 'PromptResponse', psGuid: G.toUpperCase(), data: utf8('ab') }).trimEnd();
  // payloads of every padding, a short one decoded in one pass and a long one (over 4 KiB of text) by Node's decoder
  const sized = [1, 2, 3, 100, 4000].map((n) =>
    encodePacket({
      type: 'Data',
      stream: 'Default',
      psGuid: G,
      data: Uint8Array.from({ length: n }, (_, i) => (i * 7 + n) & 0xff),
    }).trimEnd(),
  );
  const outcome = (f: () => unknown) => {
    try {
      return { v: f() };
    } catch (e) {
      assert.ok(e instanceof RemoteProtocolError, String(e));
      return { e: true };
    }
  };
  let seed = 11;
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const alphabet = '<>/=\'" -_=+AZaz09\r\t\u00e9\uFEFFData</Data>';
  for (let n = 0; n < 6000; n++) {
    let s = n % 2 ? sized[(n >> 1) % sized.length]! : rnd() < 0.5 ? line : prompt;
    for (let k = Math.floor(rnd() * 3); k > 0; k--) {
      const p = Math.floor(rnd() * s.length);
      const c = alphabet[Math.floor(rnd() * alphabet.length)]!;
      s = rnd() < 0.5 ? s.slice(0, p) + c + s.slice(p + 1) : rnd() < 0.5 ? s.slice(0, p) + c + s.slice(p) : s.slice(0, p) + s.slice(p + 1);
    }
    const slow = outcome(() => decodePacketLine(s.replace(/\r$/, '')));
    const fast = outcome(() => new OutOfProcDecoder().push(utf8(s + '\n')));
    assert.deepEqual(fast, s.trim() === '' ? { v: [] } : slow, `line ${JSON.stringify(s)}`);
  }
});

test('encodePacketBytes writes the bytes of encodePacket, for every size and kind', () => {
  const g = 'D7A5C8E1-1111-2222-3333-444455556666';
  const src = new Uint8Array(70_000).map((_, i) => (i * 131 + 7) & 0xff);
  // 1 byte, each base64 padding case, a fragment-sized payload, a view at an odd offset of a larger buffer
  for (const data of [src.subarray(0, 1), src.subarray(0, 2), src.subarray(0, 3), src.subarray(3, 65_539), src.subarray(5, 70_000)]) {
    for (const stream of ['Default', 'PromptResponse'] as const) {
      const p = { type: 'Data' as const, stream, psGuid: g, data };
      assert.deepEqual(encodePacketBytes(p), Buffer.from(encodePacket(p), 'utf8'));
    }
  }
  assert.equal(
    encodePacketBytes({ type: 'Data', stream: 'Default', psGuid: g, data: Uint8Array.of(0xff) }).toString('latin1'),
    "<Data Stream='Default' PSGuid='d7a5c8e1-1111-2222-3333-444455556666'>/w==</Data>\n",
  );
  for (const type of ['DataAck', 'Command', 'CommandAck', 'Signal', 'SignalAck', 'Close', 'CloseAck'] as const)
    assert.deepEqual(encodePacketBytes({ type, psGuid: g }), Buffer.from(encodePacket({ type, psGuid: g }), 'utf8'));
  assert.throws(() => encodePacketBytes({ type: 'Data', stream: 'Default', psGuid: g, data: new Uint8Array(0) }), RemoteProtocolError);
});

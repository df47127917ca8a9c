/**
 * Differential fuzz of the WinRS Receive fast path: stream data decoded straight from the reply's bytes
 * (src/xml/base64-cut.ts via WSManClient cutBase64) against the whole-body XML parse. Random replies (many streams,
 * empty ones, other prefixes, line-wrapped base64, comments, entities) and mutated, truncated ones must give the same
 * streams and state through both paths, or both paths must throw a typed WinRMError.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { WSManClient } from '../../src/wsman/client.js';
import { buildResponse } from '../../src/wsman/envelope.js';
import { Action } from '../../src/wsman/ns.js';
import { WinRMError } from '../../src/errors.js';
import { parseReceiveResponse, receiveResponseBody, type StreamChunk } from '../../src/winrs/messages.js';
import { cutBase64Elements, decodeStrictBase64 } from '../../src/xml/base64-cut.js';

let seed = 20261130;
const rnd = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]!;
const bytes = (n: number): Buffer => {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rnd() * 256);
  return b;
};

type Outcome = { ok: string } | { err: string };

function outcome(f: () => ReturnType<typeof parseReceiveResponse>): Outcome {
  try {
    const r = f();
    return { ok: JSON.stringify({ streams: r.streams.map((s) => ({ ...s, data: Buffer.from(s.data).toString('hex') })), state: r.state }) };
  } catch (e) {
    assert.ok(e instanceof WinRMError, `untyped error: ${String(e)}`);
    return { err: (e as Error).name };
  }
}

/** A reply as our endpoint writes it, sometimes reshaped as other servers might. */
function reply(): Buffer {
  const id = 'C0FFEE00-1111-2222-3333-444455556666';
  const chunks: StreamChunk[] = [];
  const n = Math.floor(rnd() * 6);
  for (let i = 0; i < n; i++)
    chunks.push({
      name: pick(['stdout', 'stderr']),
      commandId: rnd() < 0.8 ? id : undefined,
      data: bytes(pick([0, 1, 2, 3, 4, 5, 57, 300, 4096])),
      end: rnd() < 0.1,
    });
  const done = rnd() < 0.4;
  let xml = buildResponse(
    Action.ReceiveResponse,
    undefined,
    receiveResponseBody(chunks, {
      commandId: id,
      state: done ? 'Done' : 'Running',
      exitCode: done ? Math.floor(rnd() * 300) - 5 : undefined,
    }),
  );
  const r = rnd();
  if (r < 0.1)
    xml = xml.replace(/rsp:/g, 'r:').replace('xmlns:rsp=', 'xmlns:r='); // another prefix, same namespace
  else if (r < 0.15)
    xml = xml.replace(/<rsp:Stream /g, '<rsp:Stream xmlns:rsp="urn:other" '); // another namespace
  else if (r < 0.22)
    xml = xml.replace(/>([A-Za-z0-9+/=]{8,})</g, (_m, b: string) => `>${b.replace(/(.{4})/g, '$1\r\n')}<`); // line-wrapped
  else if (r < 0.26) xml = xml.replace('<s:Body>', '<s:Body><!-- <rsp:Stream>QUJD</rsp:Stream> -->');
  else if (r < 0.3)
    xml = xml.replace(/>([A-Za-z0-9+/=]{4})/, '>&#81;$1'); // a character reference inside the data
  else if (r < 0.33) xml = `<?xml version="1.0" encoding="utf-8"?>${xml}`;
  else if (r < 0.36) xml = xml.replace(/<\/rsp:Stream>/, '</rsp:Stream >');
  else if (r < 0.4) xml = xml.replace(/(<rsp:Stream[^>]*)>/, '$1 Extra="a>b">');
  return Buffer.from(xml, 'utf8');
}

const NOISE = Buffer.from('<>/&=-_ \n\t"\':!?xQ+A0\u00e9', 'utf8');
function mutate(b: Buffer): Buffer {
  const r = rnd();
  if (r < 0.25) return b.subarray(0, Math.floor(rnd() * b.length));
  const out = Buffer.from(b);
  const k = 1 + Math.floor(rnd() * 3);
  for (let i = 0; i < k; i++)
    out[Math.floor(rnd() * out.length)] = rnd() < 0.8 ? NOISE[Math.floor(rnd() * NOISE.length)]! : Math.floor(rnd() * 256);
  return out;
}

test('Receive: the bytes fast path and the whole-body parse agree on random, split and mutated replies', async () => {
  let next: Buffer = Buffer.alloc(0);
  const transport = {
    exchange: async () => next.toString('utf8'),
    exchangeBytes: async () => next,
    stats: { requests: 0, authRequests: 0, connections: 0 },
    close() {},
  };
  const ws = new WSManClient(transport, { to: 'http://127.0.0.1/wsman' });
  const slowWs = new WSManClient({ ...transport, exchangeBytes: undefined }, { to: 'http://127.0.0.1/wsman' });
  let fast = 0;
  let whole = 0;
  let same = 0;
  let bothThrew = 0;
  for (let i = 0; i < 3000; i++) {
    next = i % 3 === 0 ? reply() : mutate(reply());
    const cut = cutBase64Elements(next, 'Stream');
    if (cut?.payloads.length) fast++;
    else whole++;
    const a = await ws.invoke(Action.Receive, 'x', '', { cutBase64: 'Stream' }).then(
      (env) => outcome(() => parseReceiveResponse(env)),
      (e) =>
        outcome(() => {
          throw e;
        }),
    );
    const b = await slowWs.invoke(Action.Receive, 'x', '', { cutBase64: 'Stream' }).then(
      (env) => outcome(() => parseReceiveResponse(env)),
      (e) =>
        outcome(() => {
          throw e;
        }),
    );
    assert.deepEqual(a, b, `reply ${i} differs between the paths:\n${next.toString('utf8').slice(0, 3000)}`);
    if ('ok' in a) same++;
    else bothThrew++;
  }
  // both outcomes and both paths were exercised
  assert.ok(fast > 600 && whole > 300 && same > 600 && bothThrew > 300, JSON.stringify({ fast, whole, same, bothThrew }));
});

test('strict base64: what Node decodes leniently is refused (left to the full parse)', () => {
  const d = (s: string) => decodeStrictBase64(Buffer.from(s, 'latin1'), 0, s.length)?.toString('latin1');
  assert.equal(d('QUJD'), 'ABC');
  assert.equal(d('QUI='), 'AB');
  assert.equal(d('QQ=='), 'A');
  assert.equal(d(''), '');
  for (const bad of ['QQ', 'QQ-_', 'QQ_A', 'QQ==QUJD', 'Q===', 'QU=D', 'QU D', 'QUJ\n', 'QUJ\u00e9', 'QUJ!', 'QUJD===='])
    assert.equal(d(bad), undefined, bad);
});

test('cut: elements named Stream in any prefix, self-closing and empty ones kept, end tag checked', () => {
  const x =
    '<a xmlns:r="u"><r:Stream N="1">QUJD</r:Stream><r:Stream/><Stream></Stream><r:Streams>QUJD</r:Streams><r:Stream ' +
    'a=">">QQ==</r:Stream ></a>';
  const c = cutBase64Elements(Buffer.from(x), 'Stream')!;
  assert.equal(
    c.xml,
    '<a xmlns:r="u"><r:Stream N="1">0</r:Stream><r:Stream/><Stream></Stream><r:Streams>QUJD</r:Streams><r:Stream a=">">1</r:Stream ></a>',
  );
  assert.deepEqual(
    c.payloads.map((p) => p.toString()),
    ['ABC', 'A'],
  );
  for (const bad of [
    '<a><r:Stream>QUJD</r:Strea></a>',
    '<a><r:Stream>QU<b/>JD</r:Stream></a>',
    '<a><r:Stream>QUJD',
    '<a><!--x--><r:Stream>QUJD</r:Stream></a>',
    '<a><r:Stream x="<">QUJD</r:Stream></a>',
  ]) {
    assert.equal(cutBase64Elements(Buffer.from(bad), 'Stream'), undefined, bad);
  }
});

test('endpoint: a Receive reply built as bytes equals the text one, for any chunk sizes and pieces', async () => {
  const { responseEnvelopeParts } = await import('../../src/wsman/envelope.js');
  const { receiveResponseBytes } = await import('../../src/winrs/messages.js');
  for (let i = 0; i < 60; i++) {
    const chunks: StreamChunk[] = [];
    for (let k = Math.floor(rnd() * 4); k > 0; k--)
      chunks.push({
        name: pick(['stdout', 'stderr']),
        commandId: 'ID-1',
        data: bytes(pick([0, 1, 2, 3, 49151, 49152, 49153, 150001])),
        end: rnd() < 0.2,
      });
    // an endpoint's pipe reads, encoded without joining: split anywhere (1-2 bytes carried between parts)
    for (const c of chunks) {
      if (rnd() < 0.5) continue;
      const parts: Uint8Array[] = [];
      for (let p = 0; p < c.data.length;) {
        const n = Math.min(c.data.length - p, pick([1, 2, 3, 4, 5, 49151, 49153, 65536]));
        parts.push(c.data.subarray(p, p + n));
        p += n;
      }
      c.parts = parts;
    }
    const state = rnd() < 0.5 ? { commandId: 'ID-1', state: 'Done', exitCode: 3 } : rnd() < 0.5 ? { state: 'Running' } : undefined;
    const { head, tail } = responseEnvelopeParts(Action.ReceiveResponse, 'uuid:X', '');
    assert.equal(receiveResponseBytes(head, chunks, state, tail).toString('utf8'), head + receiveResponseBody(chunks, state) + tail);
  }
});

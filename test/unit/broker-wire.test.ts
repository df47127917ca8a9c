// The logon-session broker's wire codec (src/auth/brokered.ts): frames round-trip whatever way the bytes are split;
// bounds are enforced; channel bindings and typed errors survive the trip.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BrokerFrameDecoder,
  encodeBrokerFrame,
  bindingsFromWire,
  bindingsToWire,
  errorFromWire,
  errorToWire,
  BROKER_MAX_BINARY,
  BROKER_MAX_JSON,
} from '../../src/broker/wire.js';
import { anonymousLogonHint } from '../../src/broker/client.js';
import { CredSSPError, DelegationRefusedError, AuthError, RemoteProtocolError, InvalidArgumentError } from '../../src/errors.js';

const frames = [
  { msg: { op: 'open', token: 'abc', mechanism: 'negotiate', targetHost: 'hostb' }, bin: new Uint8Array() },
  { msg: { op: 'step' }, bin: new Uint8Array([0x60, 0x48, 0x06]) },
  { msg: { op: 'unwrap', headerLength: 16 }, bin: new Uint8Array(70_000).map((_, i) => i & 0xff) },
  { msg: { ok: true, text: 'é ünïcode ✓' }, bin: new Uint8Array([1]) },
];

test('broker wire: frames round-trip through every split point of the stream', () => {
  const stream = Buffer.concat(frames.map((f) => encodeBrokerFrame(f.msg, f.bin)));
  const small = Buffer.concat(frames.slice(0, 2).map((f) => encodeBrokerFrame(f.msg, f.bin)));
  // every split of the small stream into two pieces, and 1-byte feeding of the whole stream
  for (let cut = 0; cut <= small.length; cut++) {
    const d = new BrokerFrameDecoder();
    d.push(small.subarray(0, cut));
    const got = [];
    for (let f = d.next(); f; f = d.next()) got.push(f);
    d.push(small.subarray(cut));
    for (let f = d.next(); f; f = d.next()) got.push(f);
    assert.equal(got.length, 2, `cut ${cut}`);
    assert.deepEqual(
      got.map((g) => g.msg),
      frames.slice(0, 2).map((f) => f.msg),
    );
    assert.equal(d.pending, 0);
  }
  const d = new BrokerFrameDecoder();
  const got = [];
  for (let i = 0; i < stream.length; i += 997) {
    d.push(stream.subarray(i, i + 997));
    for (let f = d.next(); f; f = d.next()) got.push(f);
  }
  assert.equal(got.length, frames.length);
  got.forEach((g, i) => {
    assert.deepEqual(g.msg, frames[i]!.msg);
    assert.deepEqual(g.bin, frames[i]!.bin);
  });
});

test('broker wire: bounds and malformed frames are typed errors', () => {
  assert.throws(() => encodeBrokerFrame({ x: 'y'.repeat(BROKER_MAX_JSON) }), InvalidArgumentError);
  const head = (jl: number, bl: number) => {
    const b = new Uint8Array(8);
    const dv = new DataView(b.buffer);
    dv.setUint32(0, jl);
    dv.setUint32(4, bl);
    return b;
  };
  const feed = (b: Uint8Array) => {
    const d = new BrokerFrameDecoder();
    d.push(b);
    return d.next();
  };
  assert.throws(() => feed(head(BROKER_MAX_JSON + 1, 0)), RemoteProtocolError);
  assert.throws(
    () => feed(head(10, BROKER_MAX_BINARY + 1)),
    RemoteProtocolError,
    'an oversized frame is refused from its header, before buffering it',
  );
  assert.throws(() => feed(head(0, 0)), RemoteProtocolError);
  const notJson = Buffer.concat([head(3, 0), Buffer.from('{x}')]);
  assert.throws(() => feed(notJson), RemoteProtocolError);
  const array = Buffer.concat([head(2, 0), Buffer.from('[]')]);
  assert.throws(() => feed(array), /not a JSON object/);
  assert.equal(feed(head(100, 5)), undefined, 'an incomplete frame waits for more bytes');
});

test('broker wire: channel bindings and typed errors cross intact', () => {
  const cb = { initiatorAddrType: 0, acceptorAddrType: 0, applicationData: new Uint8Array([1, 2, 3, 250]) };
  const back = bindingsFromWire(JSON.parse(JSON.stringify(bindingsToWire(cb))));
  assert.deepEqual(back?.applicationData, cb.applicationData);
  assert.equal(back?.initiatorAddrType, 0);
  assert.equal(bindingsFromWire(undefined), undefined);
  const round = (e: Error) => errorFromWire((JSON.parse(JSON.stringify(errorToWire(e))) as { error: unknown }).error);
  const c = round(new CredSSPError('logon failure', 0xc000006d));
  assert.ok(c instanceof CredSSPError);
  assert.equal((c as CredSSPError).ntStatus, 0xc000006d);
  assert.ok(round(new DelegationRefusedError('not allowed')) instanceof DelegationRefusedError);
  const plain = round(new TypeError('boom'));
  assert.ok(plain instanceof AuthError);
  assert.equal(errorFromWire(42).constructor, AuthError, 'garbage error objects still become a typed error');
});

test('the ANONYMOUS LOGON hint explains the double hop only inside a network logon session', () => {
  const hint = anonymousLogonHint({
    WINRM_TS_LOGON_TYPE: 'network',
    USERDOMAIN: 'EXAMPLE',
    USERNAME: 'alice',
    WINRM_TS_LOGON_MECHANISM: 'ntlm',
  });
  assert.match(hint, /double hop/);
  assert.match(hint, /network logon session of EXAMPLE\\alice \(ntlm\)/);
  assert.match(hint, /--auth credssp --delegate-to wsman\//);
  assert.equal(anonymousLogonHint({ WINRM_TS_LOGON_TYPE: 'interactive' }), '');
  assert.equal(anonymousLogonHint({}), '');
});

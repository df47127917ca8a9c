/** ClientRunspacePool / ClientPipeline sans-IO: messages queued, state machine misuse, server messages consumed. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClientRunspacePool } from '../../src/psrp/pool.js';
import { RunspacePoolState, PSInvocationState } from '../../src/psrp/state.js';
import { decodeFragments, Defragmenter, fragmentMessage, encodeFragment } from '../../src/psrp/fragment.js';
import { decodeMessage, encodeMessage, Destination, MessageType, messageTypeName } from '../../src/psrp/message.js';
import { LocalProtocolError, RemoteProtocolError } from '../../src/errors.js';
import { concatBytes, fromUtf8 } from '../../src/util/bytes.js';
import { generateRsaKeyPair, encryptSessionKeyForBlob } from '../../src/psrp/crypto.js';
import { deserialize, PSObject, ps, serialize } from '../../src/clixml/index.js';
import { fromBase64, toBase64 } from '../../src/util/bytes.js';

/** The messages in a payload. */
function messages(data: Uint8Array) {
  const d = new Defragmenter();
  return decodeFragments(data)
    .map((f) => d.add(f))
    .filter((b): b is Uint8Array => !!b)
    .map(decodeMessage);
}
let serverObj = 100n;
function fromServer(pool: ClientRunspacePool, type: MessageType, body: string, pid?: string, max = 32768): Uint8Array {
  const m = encodeMessage({ destination: Destination.Client, messageType: type, rpid: pool.id, pid, data: body });
  return concatBytes(...fragmentMessage(serverObj++, m, max).map(encodeFragment));
}
function openPool(): ClientRunspacePool {
  const pool = new ClientRunspacePool();
  pool.open();
  pool.dataToSend();
  pool.receiveData({
    data: fromServer(
      pool,
      MessageType.SESSION_CAPABILITY,
      serialize(
        new PSObject({
          extended: [
            ['protocolversion', ps.version('2.3')],
            ['PSVersion', ps.version('2.0')],
            ['SerializationVersion', ps.version('1.1.0.1')],
          ],
        }),
      ),
    ),
  });
  pool.receiveData({
    data: fromServer(pool, MessageType.RUNSPACEPOOL_STATE, '<Obj RefId="0"><MS><I32 N="RunspaceState">2</I32></MS></Obj>'),
  });
  while (pool.nextEvent());
  return pool;
}

test('open queues SESSION_CAPABILITY + INIT_RUNSPACEPOOL in one payload; Opened after the server says so', () => {
  const pool = new ClientRunspacePool({ minRunspaces: 1, maxRunspaces: 3 });
  assert.equal(pool.state, RunspacePoolState.BeforeOpen);
  pool.open();
  const p = pool.dataToSend()!;
  assert.equal(p.pipelineId, undefined);
  const ms = messages(p.data);
  assert.deepEqual(
    ms.map((m) => messageTypeName(m.messageType)),
    ['SESSION_CAPABILITY', 'INIT_RUNSPACEPOOL'],
  );
  assert.ok(ms.every((m) => m.destination === Destination.Server && m.rpid === pool.id));
  const init = deserialize(fromUtf8(ms[1]!.data)) as PSObject;
  assert.equal(init.get('MaxRunspaces'), 3);
  assert.equal(pool.dataToSend(), undefined);
  assert.throws(() => pool.open(), LocalProtocolError);
  assert.throws(() => pool.createPipeline({ statements: [[{ cmd: '1' }]] }), LocalProtocolError);
  pool.receiveData({
    data: fromServer(
      pool,
      MessageType.SESSION_CAPABILITY,
      '<Obj RefId="0"><MS><Version N="protocolversion">2.3</Version><Version N="PSVersion">2.0</Version><Version ' +
        'N="SerializationVersion">1.1.0.1</Version></MS></Obj>',
    ),
  });
  assert.equal(pool.state, RunspacePoolState.NegotiationSucceeded);
  pool.receiveData({
    data: fromServer(pool, MessageType.RUNSPACEPOOL_STATE, '<Obj RefId="0"><MS><I32 N="RunspaceState">2</I32></MS></Obj>'),
  });
  assert.equal(pool.state, RunspacePoolState.Opened);
  assert.deepEqual(
    [pool.nextEvent()?.type, pool.nextEvent()?.type, pool.nextEvent()],
    ['SessionCapability', 'RunspacePoolState', undefined],
  );
});

test('dataToSend packs fragments no larger than asked, down to the minimum', () => {
  for (const max of [22, 23, 100, 1000]) {
    const pool = new ClientRunspacePool();
    pool.open();
    const parts: Uint8Array[] = [];
    for (let p = pool.dataToSend(max); p; p = pool.dataToSend(max)) {
      assert.ok(p.data.length <= max);
      parts.push(p.data);
    }
    assert.equal(messages(concatBytes(...parts)).length, 2);
  }
  assert.throws(() => new ClientRunspacePool().dataToSend(21), LocalProtocolError);
});

test('pipeline lifecycle: output, streams, state; misuse is LocalProtocolError', () => {
  const pool = openPool();
  const p = pool.createPipeline({
    statements: [[{ cmd: 'Get-Date', args: [{ name: 'Year', value: 2020 }, { value: 'pos' }, { name: 'Switch' }] }]],
    noInput: false,
  });
  assert.throws(() => p.sendInput([1]), LocalProtocolError); // not started
  p.start();
  assert.throws(() => p.start(), LocalProtocolError);
  const create = messages(pool.dataToSend(32768, { pipelineId: p.id })!.data)[0]!;
  assert.equal(create.messageType, MessageType.CREATE_PIPELINE);
  assert.equal(create.pid, p.id);
  const body = fromUtf8(create.data);
  assert.match(body, /<S N="Cmd">Get-Date<\/S><B N="IsScript">false<\/B>/);
  assert.match(body, /<S N="N">Year<\/S><I32 N="V">2020<\/I32>/);
  assert.match(body, /<Nil N="N" \/><S N="V">pos<\/S>/);
  assert.match(body, /<S N="N">Switch<\/S><Nil N="V" \/>/);
  p.sendInput([1, 'two']);
  p.endInput();
  assert.throws(() => p.sendInput([3]), LocalProtocolError);
  const inputs = messages(pool.dataToSend(32768, { pipelineId: p.id })!.data);
  assert.deepEqual(
    inputs.map((m) => m.messageType),
    [MessageType.PIPELINE_INPUT, MessageType.PIPELINE_INPUT, MessageType.END_OF_PIPELINE_INPUT],
  );
  pool.receiveData({ pipelineId: p.id, data: fromServer(pool, MessageType.PIPELINE_OUTPUT, '<I32>7</I32>', p.id, 22) });
  pool.receiveData({
    pipelineId: p.id,
    data: fromServer(pool, MessageType.WARNING_RECORD, '<Obj RefId="0"><ToString>w</ToString></Obj>', p.id),
  });
  pool.receiveData({
    pipelineId: p.id,
    data: fromServer(pool, MessageType.PIPELINE_STATE, '<Obj RefId="0"><MS><I32 N="PipelineState">4</I32></MS></Obj>', p.id),
  });
  const evs = [];
  for (let e = pool.nextEvent(); e; e = pool.nextEvent()) evs.push(e);
  assert.deepEqual(
    evs.map((e) => e.type),
    ['Output', 'Warning', 'PipelineState'],
  );
  assert.equal((evs[0] as { value: unknown }).value, 7);
  assert.equal(p.state, PSInvocationState.Completed);
  assert.throws(() => p.endInput(), LocalProtocolError);
  // the server may not move a completed pipeline back to Running
  assert.throws(
    () =>
      pool.receiveData({
        pipelineId: p.id,
        data: fromServer(pool, MessageType.PIPELINE_STATE, '<Obj RefId="0"><MS><I32 N="PipelineState">1</I32></MS></Obj>', p.id),
      }),
    RemoteProtocolError,
  );
});

test('host call event and response on the pr stream', () => {
  const pool = openPool();
  const p = pool.createPipeline({ statements: [[{ cmd: 'Read-Host', isScript: true }]] });
  p.start();
  pool.dataToSend(32768, { pipelineId: p.id });
  pool.receiveData({
    pipelineId: p.id,
    data: fromServer(
      pool,
      MessageType.PIPELINE_HOST_CALL,
      '<Obj RefId="0"><MS><I64 N="ci">5</I64><Obj N="mi" RefId="1"><TN RefId="0">' +
        '<T>System.Management.Automation.Remoting.RemoteHostMethodId</T><T>System.Enum</T><T>System.ValueType</T>' +
        '<T>System.Object</T></TN><ToString>ReadLine</ToString><I32>11</I32></Obj><Obj N="mp" RefId="2"><TN RefId="1">' +
        '<T>System.Collections.ArrayList</T><T>System.Object</T></TN><LST /></Obj></MS></Obj>',
      p.id,
    ),
  });
  const e = pool.nextEvent();
  assert.ok(e?.type === 'HostCall');
  assert.equal(e.call.ci, 5n);
  assert.equal(e.call.methodName, 'ReadLine');
  assert.equal(e.call.pipelineId, p.id);
  pool.hostResponse(e.call, { value: 'answer' });
  const out = pool.dataToSend(32768, { pipelineId: p.id })!;
  assert.equal(out.stream, 'pr');
  const m = messages(out.data)[0]!;
  assert.equal(m.messageType, MessageType.PIPELINE_HOST_RESPONSE);
  assert.match(fromUtf8(m.data), /<I64 N="ci">5<\/I64>.*<S N="mr">answer<\/S>/);
  pool.hostResponse(e.call, { error: 'nope' });
  assert.match(fromUtf8(messages(pool.dataToSend()!.data)[0]!.data), /N="me".*FullyQualifiedErrorId/);
  assert.throws(() => pool.hostResponse({ ...e.call, ci: -100n }, { value: 1 }), LocalProtocolError);
});

test('session key exchange (MS-PSRP 3.1.4.11) and SecureString both ways', () => {
  const pool = openPool();
  assert.throws(() => new ClientRunspacePool().exchangeKey(), LocalProtocolError);
  pool.exchangeKey(generateRsaKeyPair());
  const pk = messages(pool.dataToSend()!.data)[0]!;
  assert.equal(pk.messageType, MessageType.PUBLIC_KEY);
  const blobB64 = (deserialize(fromUtf8(pk.data)) as PSObject).get('PublicKey') as string;
  assert.match(blobB64, /^BgIAAACkAABSU0ExAAgAAAEAAQ/); // the PUBLICKEYBLOB prefix of a real client
  const sessionKey = new Uint8Array(32).map((_, i) => i + 1);
  const enc = encryptSessionKeyForBlob(fromBase64(blobB64), sessionKey);
  assert.match(toBase64(enc), /^AQIAABBmAAAApAAA/);
  pool.receiveData({
    data: fromServer(
      pool,
      MessageType.ENCRYPTED_SESSION_KEY,
      `<Obj RefId="0"><MS><S N="EncryptedSessionKey">${toBase64(enc)}</S></MS></Obj>`,
    ),
  });
  assert.equal(pool.nextEvent()?.type, 'SessionKeyReady');
  assert.ok(pool.hasSessionKey);
  const ct = pool.cipher!.encrypt(new Uint8Array(Buffer.from('pw', 'utf16le')));
  assert.equal(Buffer.from(pool.cipher!.decrypt(ct)).toString('utf16le'), 'pw');
  // a fresh zero IV per value: same plaintext, same ciphertext
  assert.equal(pool.cipher!.encrypt(new Uint8Array(Buffer.from('pw', 'utf16le'))), ct);
});

test('garbage from the server is RemoteProtocolError', () => {
  const pool = openPool();
  assert.throws(
    () =>
      pool.receiveData({
        data: fromServer(pool, MessageType.RUNSPACEPOOL_STATE, '<Obj RefId="0"><MS><S N="RunspaceState">x</S></MS></Obj>'),
      }),
    RemoteProtocolError,
  );
  assert.throws(
    () =>
      pool.receiveData({
        data: fromServer(pool, MessageType.RUNSPACEPOOL_STATE, '<Obj RefId="0"><MS><I32 N="RunspaceState">77</I32></MS></Obj>'),
      }),
    RemoteProtocolError,
  );
  const p = pool.createPipeline({ statements: [[{ cmd: '1' }]] });
  p.start();
  assert.throws(
    () => pool.receiveData({ pipelineId: p.id, data: fromServer(pool, MessageType.PIPELINE_OUTPUT, '<not xml', p.id) }),
    RemoteProtocolError,
  );
  const m = encodeMessage({
    destination: Destination.Server,
    messageType: MessageType.PIPELINE_OUTPUT,
    rpid: pool.id,
    data: '<I32>1</I32>',
  });
  assert.throws(() => pool.receiveData({ data: concatBytes(...fragmentMessage(999n, m).map(encodeFragment)) }), RemoteProtocolError);
});

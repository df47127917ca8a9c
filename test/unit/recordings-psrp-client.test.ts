// The WinRM PSRP client against real Windows answers: ../shared/recordings/pypsrp/test_psrp_*.yml (and the
// envelope-size config reads) replayed through the client code path. A replay EnvelopeExchange answers each request
// with the next recorded response of the same WS-Man action (recorded requests our client does not make, such as
// pypsrp's extra Signals, are skipped), with RelatesTo set to our MessageID. Requests need not be byte-identical;
// the responses must be consumed correctly: states, outputs, errors, faults, envelope sizes are asserted.
// The recordings stay in ../shared (never copied here); the suite skips when they are absent.
// The pool's WS-Man verbs are strung together one at a time by test/helpers/wsman-pool-driver.ts, so the order of
// requests is the recorded one (a Session receives and sends concurrently).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { WSManClient } from '../../src/wsman/client.js';
import type { EnvelopeExchange, TransportStats } from '../../src/http/transport.js';
import { WSManFaultError, RemoteProtocolError, toPlain, PSObject } from '../../src/index.js';
import { WSManRunspacePool, readServerMaxEnvelopeSize, SAFE_ENVELOPE_SIZE, PSV3_ENVELOPE_SIZE } from '../../src/remoting/wsman-pool.js';
import { openPool, connectPool, type PoolDriver } from '../helpers/wsman-pool-driver.js';
import { RunspacePoolState, PSInvocationState } from '../../src/psrp/state.js';
import { recordingsDir, recordingsSkip } from '../helpers/peers.js';
import { decodeFragments } from '../../src/psrp/fragment.js';
import { bytesToGuid, fromBase64 } from '../../src/util/bytes.js';

const dir = recordingsDir();
const skip = recordingsSkip(dir);

interface Recorded {
  request: string;
  response?: string;
}
const actionOf = (xml: string) => /<(?:\w+:)?Action\b[^>]*>([^<]+)</.exec(xml)?.[1]?.replace(/^.*\//, '') ?? '?';

class ReplayExchange implements EnvelopeExchange {
  readonly stats: TransportStats = { requests: 0, authRequests: 0, connections: 1 };
  readonly sent: string[] = [];
  readonly skipped: string[] = [];
  private i = 0;
  constructor(readonly messages: Recorded[]) {}
  async exchange(xml: string): Promise<string> {
    this.stats.requests++;
    const action = actionOf(xml);
    this.sent.push(action);
    let j = this.i;
    while (j < this.messages.length && actionOf(this.messages[j]!.request) !== action) j++;
    // not recorded (e.g. our config Get for the envelope size): answer like a host that refuses it, skip nothing
    if (j >= this.messages.length) throw new Error(`the recording has no ${action} left (sent: ${this.sent.join(' ')})`);
    while (this.i < j) this.skipped.push(actionOf(this.messages[this.i++]!.request));
    const m = this.messages[this.i++]!;
    const id = /<(?:\w+:)?MessageID>([^<]+)</.exec(xml)![1]!;
    return (m.response ?? '').replace(/(<(?:\w+:)?RelatesTo>)[^<]*(<\/(?:\w+:)?RelatesTo>)/, `$1${id}$2`);
  }
  get remaining(): string[] {
    return this.messages.slice(this.i).map((m) => actionOf(m.request));
  }
  close(): void {
    /* nothing */
  }
}

function load(name: string): { ex: ReplayExchange; wsman: WSManClient; rec: Recorded[] } {
  const doc = parse(readFileSync(join(dir!, `${name}.yml`), 'utf8')) as { messages: Recorded[] };
  const ex = new ReplayExchange(doc.messages);
  return { ex, rec: doc.messages, wsman: new WSManClient(ex, { to: 'https://127.0.0.1:55986/wsman' }) };
}
/** The ShellId / CommandIds the recording used (so our ids match the PSRP messages inside). */
const shellIds = (rec: Recorded[]) =>
  rec.filter((m) => actionOf(m.request) === 'Create').map((m) => /ShellId="([^"]+)"/.exec(m.request)![1]!);
/** The PID inside each recorded CREATE_PIPELINE (pypsrp wrote it in RFC byte order, so it differs from the CommandId). */
const commandIds = (rec: Recorded[]) =>
  rec
    .filter((m) => actionOf(m.request) === 'Command')
    .map((m) => {
      const args = fromBase64(/<(?:\w+:)?Arguments>([^<]+)</.exec(m.request)![1]!);
      return bytesToGuid(decodeFragments(args)[0]!.blob.subarray(24, 40));
    });
const wsmanCommandIds = (rec: Recorded[]) =>
  rec.filter((m) => actionOf(m.request) === 'Command').map((m) => /<(?:\w+:)?CommandId>([^<]+)</.exec(m.response ?? '')![1]!);
const script = (cmd: string) => ({ statements: [[{ cmd, isScript: true }]] });
const plain = (v: unknown[]) => v.map((x) => toPlain(x as never));

test('open_runspace: Create, Receive until Opened, the envelope grows to 500 KiB, Delete', { skip }, async () => {
  const { ex, wsman, rec } = load('test_psrp_open_runspace');
  const rp = await openPool(wsman, { pool: { runspacePoolId: shellIds(rec)[0] } });
  assert.equal(rp.state, RunspacePoolState.Opened);
  assert.equal(rp.pool.serverProtocolVersion, '2.3');
  assert.equal(rp.maxEnvelopeSize, PSV3_ENVELOPE_SIZE);
  const apd = rp.pool.applicationPrivateData as PSObject;
  assert.ok(apd instanceof PSObject, 'APPLICATION_PRIVATE_DATA was decoded');
  await rp.close();
  // the config Get for MaxEnvelopeSizekb is not in this recording (refused, as for a non-admin): protocol rule
  assert.deepEqual(ex.sent, ['Create', 'Receive', 'Receive', 'Get', 'Delete']);
  assert.deepEqual(ex.remaining, []);
});

test('with_no_history: two pipelines, outputs and states', { skip }, async () => {
  const { ex, wsman, rec } = load('test_psrp_with_no_history');
  const rp = await openPool(wsman, { pool: { runspacePoolId: shellIds(rec)[0] } });
  const [a, b] = commandIds(rec);
  const r1 = await rp.invoke(script('Write-Output 1; Write-Output 2'), { pipelineId: a });
  assert.deepEqual(plain(r1.output), [1, 2]);
  assert.equal(r1.state, PSInvocationState.Completed);
  const r2 = await rp.invoke(script('$null'), { pipelineId: b });
  assert.deepEqual(r2.output, []);
  assert.equal(r2.state, PSInvocationState.Completed);
  await rp.close();
  assert.deepEqual(ex.remaining, []);
  assert.deepEqual(ex.skipped, []);
});

test("multiple_invocations: the same pipeline id twice (pypsrp's extra Signals are not needed: Done was reported)", { skip }, async () => {
  const { ex, wsman, rec } = load('test_psrp_multiple_invocations');
  const rp = await openPool(wsman, { pool: { runspacePoolId: shellIds(rec)[0] } });
  const [id] = commandIds(rec);
  for (let i = 0; i < 2; i++) assert.deepEqual(plain((await rp.invoke(script('1+1'), { pipelineId: id })).output), [2]);
  await rp.close();
  assert.deepEqual(ex.skipped, ['Signal', 'Signal']);
  assert.deepEqual(ex.remaining, []);
});

test('with_input: input by Send, deserialized output (Deserialized.* types)', { skip }, async () => {
  const { ex, wsman, rec } = load('test_psrp_with_input');
  const rp = await openPool(wsman, { pool: { runspacePoolId: shellIds(rec)[0] } });
  const r = await rp.invoke(script('$input'), { pipelineId: commandIds(rec)[0], input: ['1', 2] });
  assert.equal(r.output.length, 4);
  assert.deepEqual(plain(r.output.slice(0, 2)), ['1', 2]);
  assert.ok((r.output[2] as PSObject).typeNames.includes('Deserialized.System.Collections.Hashtable'));
  assert.deepEqual(toPlain(r.output[3]!), ['a', 'b']);
  await rp.close();
  assert.ok(ex.sent.includes('Send'));
  assert.deepEqual(ex.remaining, []);
});

test('small_msg_size: MaxEnvelopeSizekb read by a config Get, small fragments reassembled', { skip }, async () => {
  const { ex, wsman, rec } = load('test_psrp_small_msg_size');
  const mes = await readServerMaxEnvelopeSize(wsman);
  assert.equal(typeof mes, 'number');
  const rp = await openPool(wsman, { pool: { runspacePoolId: shellIds(rec)[0] } });
  const r = await rp.invoke(script('$input; "a" * 20000; "a" * 20000'), { pipelineId: commandIds(rec)[0], input: ['input'] });
  const out = plain(r.output) as string[];
  assert.equal(out[0], 'input');
  assert.equal(out.length, 3);
  assert.ok(
    out.slice(1).every((s) => /^a+$/.test(s) && s.length > 1000),
    'long strings arrived whole',
  );
  await rp.close();
  assert.deepEqual(ex.remaining, []);
});

test('long_running_cmdlet: w:TimedOut long polls are retried silently', { skip }, async () => {
  const { ex, wsman, rec } = load('test_psrp_long_running_cmdlet');
  const rp = await openPool(wsman, { pool: { runspacePoolId: shellIds(rec)[0] } });
  const r = await rp.invoke(script('Start-Sleep 40; "hi"'), { pipelineId: commandIds(rec)[0] });
  assert.deepEqual(plain(r.output), ['hi']);
  await rp.close();
  assert.equal(ex.sent.filter((a) => a === 'Receive').length, 5, 'two TimedOut faults, then the output');
  assert.deepEqual(ex.remaining, []);
});

test('run_protocol_version_2.1: an older protocol announced, the envelope is not raised by the client', { skip }, async () => {
  const { ex, wsman, rec } = load('test_psrp_run_protocol_version_2.1');
  const rp = await openPool(wsman, { pool: { runspacePoolId: shellIds(rec)[0], protocolVersion: '2.1' } });
  const r = await rp.invoke(script('$input'), { pipelineId: commandIds(rec)[0], input: ['message 1', 2] });
  assert.equal(r.output.length, 4);
  assert.equal(toPlain(r.output[1]!), 'message 1');
  await rp.close();
  assert.deepEqual(ex.remaining, []);
});

test('receive_failure: a Receive for a command the host does not know is a WSManFaultError (InvalidSelectors)', { skip }, async () => {
  const { ex, wsman, rec } = load('test_psrp_receive_failure');
  const rp = await openPool(wsman, { pool: { runspacePoolId: shellIds(rec)[0] } });
  await assert.rejects(
    rp.receive('D1BF48DA-B26C-4F4A-BE52-B382AC20DD1F'),
    (e: unknown) =>
      e instanceof WSManFaultError && e.wsmanFaultCode === 2150858843 && /command identifier that does not exist/.test(e.message),
  );
  await rp.close();
  assert.deepEqual(ex.remaining, []);
});

test('with_jea_configuration: the JEARole resource URI, a command output and a Failed pipeline', { skip }, async () => {
  const { ex, wsman, rec } = load('test_psrp_with_jea_configuration');
  const rp = await openPool(wsman, { configurationName: 'JEARole', pool: { runspacePoolId: shellIds(rec)[0] } });
  assert.equal(rp.resourceUri, 'http://schemas.microsoft.com/powershell/JEARole');
  const [a, b] = commandIds(rec);
  const r1 = await rp.invoke(
    { statements: [[{ cmd: 'Get-Item', args: [{ name: null, value: 'WSMan:\\localhost\\Service\\AllowUnencrypted' }] }]] },
    { pipelineId: a },
  );
  assert.equal(r1.output.length, 1);
  assert.ok((r1.output[0] as PSObject).typeNames[0]!.includes('WSManConfigLeafElement'));
  const r2 = await rp.invoke({ statements: [[{ cmd: 'Get-Item', args: [{ name: null, value: 'C:\\Windows' }] }]] }, { pipelineId: b });
  assert.equal(r2.state, PSInvocationState.Failed);
  assert.equal(r2.hadErrors, true);
  assert.match((r2.errors[0] as PSObject).toStringValue ?? '', /FileSystem/);
  await rp.close();
  assert.deepEqual(ex.remaining, []);
});

test('disconnect_runspaces: Disconnect, Reconnect, Enumerate, Connect from another client', { skip }, async () => {
  const { ex, wsman, rec } = load('test_psrp_disconnect_runspaces');
  const [idA, idB] = shellIds(rec);
  const a = await openPool(wsman, { pool: { runspacePoolId: idA } });
  await a.disconnect();
  await a.reconnect();
  await a.disconnect();
  const b = await openPool(wsman, { pool: { runspacePoolId: idB } });
  await b.disconnect();
  const shells = await WSManRunspacePool.list(wsman);
  assert.deepEqual(
    shells.map((s) => [s.shellId, s.state, s.commands.length]),
    [
      [idA, 'Disconnected', 0],
      [idB, 'Disconnected', 0],
    ],
  );
  const a2 = await connectPool(wsman, { shellId: idA! });
  assert.equal(a2.state, RunspacePoolState.Opened);
  assert.equal(a2.pool.serverProtocolVersion, '2.3');
  const b2 = await connectPool(wsman, { shellId: idB! });
  await a2.close();
  await b2.close();
  assert.deepEqual(ex.remaining, []);
});

test('disconnected_commands: pipelines left running are listed, connected and received to the end', { skip }, async () => {
  const { ex, wsman, rec } = load('test_psrp_disconnected_commands');
  const [idA, idB] = shellIds(rec);
  const [cmdA, cmdB] = commandIds(rec);
  const [wsA, wsB] = wsmanCommandIds(rec);
  const spec = script('Write-Progress x; "a"; Start-Sleep 10; "b"');
  for (const [id, cmd] of [
    [idA, cmdA],
    [idB, cmdB],
  ] as const) {
    const rp = await openPool(wsman, { pool: { runspacePoolId: id } });
    const p = rp.pool.createPipeline(spec, { pipelineId: cmd });
    await rp.start(p);
    await rp.disconnect();
  }
  const shells = await WSManRunspacePool.list(wsman);
  assert.deepEqual(
    shells.map((s) => [s.shellId, s.commands.map((c) => [c.commandId, c.state])]),
    [
      [idB, [[wsB, 'Running']]],
      [idA, [[wsA, 'Running']]],
    ],
  );
  const pools: PoolDriver[] = [];
  for (const [id, cmd, ws] of [
    [idB, cmdB, wsB],
    [idA, cmdA, wsA],
  ] as const) {
    const rp = await connectPool(wsman, { shellId: id! });
    pools.push(rp);
    const p = await rp.attach(ws!, { pipelineId: cmd! });
    const got: unknown[] = [];
    let state: PSInvocationState | undefined;
    let progress = 0;
    for await (const e of rp.follow(p)) {
      if (e.type === 'Output') got.push(toPlain(e.value));
      if (e.type === 'Progress') progress++;
      if (e.type === 'PipelineState') state = e.state;
    }
    assert.deepEqual(got, ['a', 'b']);
    assert.equal(progress, 1);
    assert.equal(state, PSInvocationState.Completed);
  }
  for (const rp of pools) await rp.close();
  assert.deepEqual(ex.remaining, []);
});

test('key exchange: PUBLIC_KEY goes out, an ENCRYPTED_SESSION_KEY for another key is refused with a typed error', { skip }, async () => {
  const { wsman, rec } = load('test_psrp_multiple_commands');
  const rp = await openPool(wsman, { pool: { runspacePoolId: shellIds(rec)[0] } });
  rp.pool.exchangeKey();
  await rp.flush();
  // the recorded session key was encrypted to pypsrp's RSA key, not ours: it must fail cleanly, not crash
  await assert.rejects(rp.receive(), (e: unknown) => e instanceof RemoteProtocolError && /session key/.test((e as Error).message));
});

test('update_envelope_size: cfg:MaxEnvelopeSizekb 150 / 500 / 4096', { skip }, async () => {
  for (const [kb, bytes] of [
    [150, SAFE_ENVELOPE_SIZE],
    [500, PSV3_ENVELOPE_SIZE],
    [4096, 4096 * 1024],
  ] as const) {
    const { wsman } = load(`test_wsman_update_envelope_size_${kb}`);
    assert.equal(await readServerMaxEnvelopeSize(wsman), bytes);
  }
});

test('pshost_methods: a void host call (SetShouldExit 1) reaches the host handler and needs no answer', { skip }, async () => {
  const { ex, wsman, rec } = load('test_psrp_pshost_methods');
  const calls: Array<[string, unknown[]]> = [];
  const rp = await openPool(wsman, {
    pool: {
      runspacePoolId: shellIds(rec)[0],
      host: { isHostNull: false, isHostUINull: false, isHostRawUINull: true, useRunspaceHost: false },
    },
    onHostCall: (call) => {
      calls.push([call.methodName, call.params.map((p) => toPlain(p as never))]);
      return undefined;
    },
  });
  const r = await rp.invoke(script('$host.CurrentCulture; $host.SetShouldExit(1)'), { pipelineId: commandIds(rec)[0] });
  assert.equal((r.output[0] as PSObject).toStringValue, 'en-US');
  assert.deepEqual(calls, [['SetShouldExit', [1]]]);
  assert.equal(r.state, PSInvocationState.Completed);
  await rp.close();
  assert.ok(!ex.sent.includes('Send'), 'a void call is not answered');
  assert.deepEqual(ex.remaining, []);
});

/** WS-Man envelopes: the header set (protocol.md 6.3), namespace-correct parsing, faults, durations. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildRequest,
  parseEnvelope,
  faultFromEnvelope,
  buildFault,
  buildResponse,
  parseDuration,
  formatDuration,
  isTimedOutFault,
} from '../../src/wsman/envelope.js';
import { Action, NS } from '../../src/wsman/ns.js';
import { WSManFaultError, RemoteProtocolError } from '../../src/errors.js';
import { WSManClient } from '../../src/wsman/client.js';
import {
  parseReceiveResponse,
  receiveResponseBody,
  commandLineBody,
  parseCommandLineRequest,
  sendBody,
  parseSendRequest,
  shellBody,
  parseShellRequest,
} from '../../src/winrs/messages.js';

test('request header set as protocol.md 6.3, parsed back', () => {
  const { xml, messageId } = buildRequest(
    {
      action: Action.Create,
      resourceUri: 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd',
      to: 'http://h:5985/wsman',
      sessionId: 'uuid:S',
      operationTimeout: 20,
      selectors: { ShellId: 'X' },
      options: [{ name: 'WINRS_NOPROFILE', value: 'TRUE', mustComply: true }],
    },
    shellBody({ environment: { A: '<&>' }, workingDirectory: 'C:\\x' }),
  );
  assert.match(xml, /<wsman:MaxEnvelopeSize s:mustUnderstand="true">153600<\/wsman:MaxEnvelopeSize>/);
  assert.match(xml, /<wsman:OperationTimeout>PT20S<\/wsman:OperationTimeout>/);
  assert.match(xml, /<wsman:Option Name="WINRS_NOPROFILE" MustComply="true">TRUE<\/wsman:Option>/);
  const env = parseEnvelope(xml);
  assert.equal(env.action, Action.Create);
  assert.equal(env.messageId, messageId);
  assert.match(messageId, /^uuid:[0-9A-F-]{36}$/);
  assert.equal(env.selectors.get('ShellId'), 'X');
  assert.equal(env.options.get('WINRS_NOPROFILE'), 'TRUE');
  assert.equal(env.operationTimeoutMs, 20000);
  assert.equal(env.maxEnvelopeSize, 153600);
  assert.equal(env.sessionId, 'uuid:S');
  const sh = parseShellRequest(env.payload);
  assert.deepEqual(sh.environment, { A: '<&>' });
  assert.equal(sh.workingDirectory, 'C:\\x');
});

test('prefixes do not matter, namespaces do', () => {
  const xml = `<E:Envelope xmlns:E="${NS.s}" xmlns:Q="${NS.wsa}"><E:Header><Q:Action>A</Q:Action><Q:RelatesTo>uuid:1</Q:RelatesTo></E:Header><E:Body><z:ReceiveResponse xmlns:z="${NS.rsp}"><z:Stream Name="stdout" CommandId="C">aGk=</z:Stream><z:CommandState CommandId="C" State="http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Done"><z:ExitCode>4294967295</z:ExitCode></z:CommandState></z:ReceiveResponse></E:Body></E:Envelope>`;
  const env = parseEnvelope(xml);
  assert.equal(env.action, 'A');
  const r = parseReceiveResponse(env);
  assert.equal(Buffer.from(r.streams[0]!.data).toString(), 'hi');
  assert.deepEqual(r.state, { commandId: 'C', state: 'Done', exitCode: 4294967295 });
  // same local names in another namespace are not matched
  const wrong = xml.replaceAll(NS.rsp, 'urn:other');
  assert.throws(() => parseReceiveResponse(parseEnvelope(wrong)), RemoteProtocolError);
  assert.throws(() => parseEnvelope(`<Envelope xmlns="urn:x"/>`), RemoteProtocolError);
  assert.throws(() => parseEnvelope(`<!DOCTYPE x [<!ENTITY a "b">]><s:Envelope xmlns:s="${NS.s}"/>`), RemoteProtocolError);
});

test('faults: built as Windows does, parsed with code, machine, reason; TimedOut recognised', () => {
  const xml = buildFault(
    { code: 's:Receiver', subcode: 'w:TimedOut', reason: 'too slow', wsmanCode: 2150858793, machine: 'hostA' },
    'uuid:R',
  );
  const env = parseEnvelope(xml);
  assert.equal(env.relatesTo, 'uuid:R');
  const f = faultFromEnvelope(env)!;
  assert.ok(f instanceof WSManFaultError);
  assert.equal(f.wsmanFaultCode, 2150858793);
  assert.equal(f.machine, 'hostA');
  assert.equal(f.reason, 'too slow');
  assert.equal(f.faultSubcode, 'w:TimedOut');
  assert.ok(isTimedOutFault(f));
  const ws = new WSManClient(
    { exchange: async () => xml, stats: { requests: 0, authRequests: 0, connections: 0 }, close() {} },
    { to: 'x' },
  );
  assert.throws(() => ws.parseReply(xml), WSManFaultError);
  assert.throws(
    () => ws.parseReply(buildResponse('A', 'uuid:other', ''), 'uuid:mine'),
    (e: unknown) => e instanceof RemoteProtocolError,
  );
  assert.throws(() => ws.parseReply('not xml'), RemoteProtocolError);
  // provider fault text
  const pf = buildFault(
    {
      code: 's:Receiver',
      subcode: 'w:InternalError',
      reason: 'x',
      wsmanCode: 2147942402,
      machine: 'm',
      providerFault: `<f:ProviderFault provider="p">The system cannot find the file specified. </f:ProviderFault>`,
    },
    undefined,
  );
  assert.match(faultFromEnvelope(parseEnvelope(pf))!.message, /cannot find the file/);
});

test('durations', () => {
  assert.equal(parseDuration('PT20S'), 20000);
  assert.equal(parseDuration('PT7200.000S'), 7200000);
  assert.equal(parseDuration('P0DT0H1M5S'), 65000);
  assert.equal(parseDuration('PT-1S'), undefined);
  assert.equal(parseDuration('x'), undefined);
  assert.equal(formatDuration(20000), 'PT20S');
  assert.equal(formatDuration(1500), 'PT1.500S');
});

test('WinRS bodies round-trip through the endpoint parsers', () => {
  const wrap = (b: string) => parseEnvelope(buildRequest({ action: 'a', resourceUri: 'r', to: 't' }, b).xml).payload;
  assert.deepEqual(parseCommandLineRequest(wrap(commandLineBody('cmd.exe', ['/c', 'echo "x" & y']))), {
    command: 'cmd.exe',
    args: ['/c', 'echo "x" & y'],
    commandId: undefined,
  });
  const s = parseSendRequest(wrap(sendBody('C', new Uint8Array([0, 1, 255]), true)));
  assert.deepEqual([...s[0]!.data], [0, 1, 255]);
  assert.equal(s[0]!.end, true);
  const rr = parseReceiveResponse(
    parseEnvelope(
      buildResponse(
        'x',
        undefined,
        receiveResponseBody([{ name: 'stderr', commandId: 'C', data: new Uint8Array([65]), end: false }], {
          commandId: 'C',
          state: 'Running',
        }),
      ),
    ),
  );
  assert.equal(rr.streams[0]!.name, 'stderr');
  assert.equal(rr.state!.state, 'Running');
  assert.equal(rr.state!.exitCode, undefined);
});

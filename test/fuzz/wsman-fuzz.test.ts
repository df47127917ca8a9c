/** The client's reply parsers on damaged Windows replies: a typed WinRMError, never a crash or a hang. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { recordingsDir, recordingsSkip } from '../helpers/peers.js';
import { WSManClient } from '../../src/wsman/client.js';
import { WinRMError } from '../../src/errors.js';
import { parseReceiveResponse, parseCreateResponse, parseCommandResponse } from '../../src/winrs/messages.js';
import { fuzzRandom } from '../helpers/fuzz.js';

const fz = fuzzRandom('wsman-fuzz.test.ts');

const dir = recordingsDir();
test('mutated and truncated recorded replies', { skip: recordingsSkip(dir) }, () => {
  const ws = new WSManClient(
    { exchange: async () => '', stats: { requests: 0, authRequests: 0, connections: 0 }, close() {} },
    { to: 'x' },
  );
  const replies: string[] = [];
  for (const f of readdirSync(dir!).filter((x) => /^test_winrs_.*\.yml$/.test(x))) {
    for (const m of (parseYaml(readFileSync(join(dir!, f), 'utf8')) as { messages: Array<{ response: string }> }).messages)
      replies.push(m.response);
  }
  let seed = fz.int31();
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  let typed = 0;
  for (let i = 0; i < 1500; i++) {
    const base = replies[i % replies.length]!;
    let s: string;
    if (i % 3 === 0) s = base.slice(0, Math.floor(rnd() * base.length));
    else {
      const a = [...base];
      for (let k = 0; k < 4; k++) a[Math.floor(rnd() * a.length)] = String.fromCharCode(Math.floor(rnd() * 128));
      s = a.join('');
    }
    try {
      const env = ws.parseReply(s);
      for (const p of [parseReceiveResponse, parseCreateResponse, parseCommandResponse]) {
        try {
          p(env);
        } catch (e) {
          assert.ok(e instanceof WinRMError, String(e));
        }
      }
    } catch (e) {
      assert.ok(e instanceof WinRMError, `${String(e)}`);
      typed++;
    }
  }
  assert.ok(typed > 100);
});

test('XML fast path and saxes give the same element tree or the same error (differential, mutations)', async () => {
  const { parseXml } = await import('../../src/xml/dom.js');
  const { isDeepStrictEqual } = await import('node:util');
  const samples = [
    '<s:Envelope xml:lang="en-US" xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" ' +
      'xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell">' +
      '<s:Header><a:Action>http://schemas.microsoft.com/wbem/wsman/1/windows/shell/ReceiveResponse</a:Action>' +
      '<a:MessageID>uuid:9D5A8F2B-1B0E-4F43-9E0F-7C1A2B3C4D5E</a:MessageID><a:To>http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:To>' +
      '<a:RelatesTo>uuid:1C2D3E4F-5A6B-7C8D-9E0F-A1B2C3D4E5F6</a:RelatesTo></s:Header><s:Body><rsp:ReceiveResponse>' +
      '<rsp:Stream Name="stdout" CommandId="0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0">0</rsp:Stream>' +
      '<rsp:Stream Name="stderr" CommandId="0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0" End="true"></rsp:Stream>' +
      '<rsp:CommandState CommandId="0F1E2D3C-4B5A-6978-8796-A5B4C3D2E1F0" State="http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Done">' +
      '<rsp:ExitCode>0</rsp:ExitCode></rsp:CommandState></rsp:ReceiveResponse></s:Body></s:Envelope>',
    '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:f="http://schemas.microsoft.com/wbem/wsman/1/wsmanfault"><s:Body>' +
      '<s:Fault><s:Code><s:Value>s:Receiver</s:Value><s:Subcode><s:Value>w:TimedOut</s:Value></s:Subcode></s:Code>' +
      '<s:Reason><s:Text xml:lang="">The WS-Management service cannot complete the operation within the time specified in ' +
      'OperationTimeout.  </s:Text></s:Reason>' +
      '<s:Detail><f:WSManFault Code="2150858793" Machine="host" xmlns="urn:default"><f:Message>a &lt;b&gt; &amp; c</f:Message>' +
      '<x/></f:WSManFault></s:Detail></s:Fault></s:Body></s:Envelope>',
  ];
  const inserts = [
    '&lt;',
    '&#65;',
    '&x;',
    '&',
    '\r',
    '\t',
    ']]>',
    '<!-- c -->',
    '<![CDATA[x]]>',
    '<?pi?>',
    ' xmlns="urn:d"',
    ' xmlns:p="urn:p"',
    ' xmlns:p=""',
    ' xmlns:xml="urn:x"',
    'p:',
    'q:',
    ' a:x="1"',
    ' x="2"',
    "'",
    '"',
    '\uFEFF',
    '\u0001',
    '/>',
    '</x>',
    '<x>',
    '>',
    ':',
  ];
  const strip = (el: unknown): unknown =>
    JSON.parse(JSON.stringify(el, (k, v) => (k === 'parent' ? undefined : v instanceof Map ? [...v] : v)));
  const outcome = (xml: string, full: boolean) => {
    try {
      return { tree: strip(parseXml(xml, { fullParser: full })) };
    } catch (e) {
      return { error: `${(e as Error).constructor.name}: ${(e as Error).message}` };
    }
  };
  for (const s of samples) assert.ok(!outcome(s, false).error && isDeepStrictEqual(outcome(s, false), outcome(s, true)));
  for (let n = 0; n < 3000; n++) {
    let s = samples[fz.int(samples.length)]!;
    for (let e = 1 + fz.int(3); e > 0; e--) {
      const p = fz.int(s.length);
      const c = inserts[fz.int(inserts.length)]!;
      const k = fz.int(10);
      s = k < 4 ? s.slice(0, p) + c + s.slice(p + 1) : k < 8 ? s.slice(0, p) + c + s.slice(p) : s.slice(0, p) + s.slice(p + 1);
    }
    const a = outcome(s, false);
    const b = outcome(s, true);
    assert.ok(
      isDeepStrictEqual(a, b),
      `mutation ${n}: ${JSON.stringify(s)}\n${JSON.stringify(a).slice(0, 300)}\n${JSON.stringify(b).slice(0, 300)}`,
    );
  }
});

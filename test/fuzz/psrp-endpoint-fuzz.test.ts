// Bad input for the PowerShell resource of the endpoint and the PSRP-over-WS-Man parsers: every request gets a
// WS-Man fault (never a crash or a hang), pwsh fed garbage fails that shell only, and the endpoint keeps serving.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, WSManFaultError, RemoteProtocolError } from '../../src/index.js';
import { PsrpEndpoint } from '../../src/server/psrp-shell.js';
import { openPool } from '../helpers/wsman-pool-driver.js';
import { Session } from '../../src/client/session.js';
import { WSManTransport } from '../../src/remoting/wsman-transport.js';
import { Action } from '../../src/wsman/ns.js';
import { parseXml } from '../../src/xml/dom.js';
import { parseEnvelope } from '../../src/wsman/envelope.js';
import {
  parseConnectRequest,
  parseConnectResponse,
  parseDisconnectRequest,
  parseEnumerateFilter,
  parsePsrpCommandRequest,
  parsePsrpShellRequest,
  parseShellEnumeration,
  parseCommandEnumeration,
} from '../../src/winrs/psrp-messages.js';
import { startEndpoint, USER, PASSWORD } from '../helpers/server-fixture.js';
import { findPwsh, peerSkip } from '../helpers/peers.js';
import { fuzzRandom } from '../helpers/fuzz.js';

const fz = fuzzRandom('psrp-endpoint-fuzz.test.ts');

const pwsh = findPwsh();
const skip = peerSkip('pwsh', !!pwsh);
const URI = 'http://schemas.microsoft.com/powershell/Microsoft.PowerShell';
const RSP = 'xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell"';

let ps: PsrpEndpoint;
let ep: Awaited<ReturnType<typeof startEndpoint>>;
before(async () => {
  if (skip) return;
  ps = new PsrpEndpoint({ pwsh });
  ep = await startEndpoint({ resources: ps.resources() });
});
after(async () => {
  if (skip) return;
  await ps.close();
  await ep.close();
});

const isFault = (code?: number) => (e: unknown) => e instanceof WSManFaultError && (code === undefined || e.wsmanFaultCode === code);

test(
  'endpoint: malformed Create / Command / Send / Receive / Connect bodies get faults and the endpoint keeps serving',
  { skip },
  async () => {
    const c = connect({ host: `127.0.0.1:${ep.port}`, username: USER, password: PASSWORD, auth: 'basic', allowUnencrypted: true });
    try {
      const ws = c.wsman;
      const bad = [
        '<rsp:Shell><rsp:InputStreams>stdin pr</rsp:InputStreams></rsp:Shell>', // no creationXml
        '<rsp:Shell><creationXml xmlns="http://schemas.microsoft.com/powershell">!!notbase64!!</creationXml></rsp:Shell>',
        `<rsp:Shell><creationXml xmlns="http://schemas.microsoft.com/powershell">${fz.bytes(10).toString('base64')}</creationXml></rsp:Shell>`, // truncated fragment
        `<rsp:Shell ShellId="not-a-guid"><creationXml xmlns="http://schemas.microsoft.com/powershell">AAAA</creationXml></rsp:Shell>`,
        '<rsp:NotAShell/>',
      ];
      for (const body of bad) await assert.rejects(ws.invoke(Action.Create, URI, body), isFault(), body);
      const sel = { selectors: { ShellId: '11111111-2222-3333-4444-555555555555' } };
      for (const [action, body] of [
        [Action.Receive, '<rsp:Receive><rsp:DesiredStream>stdout</rsp:DesiredStream></rsp:Receive>'],
        [Action.Command, '<rsp:CommandLine><rsp:Arguments>AAAA</rsp:Arguments></rsp:CommandLine>'],
        [Action.Send, '<rsp:Send><rsp:Stream Name="stdin">AAAA</rsp:Stream></rsp:Send>'],
        [Action.Connect, '<rsp:Connect/>'],
        [Action.Disconnect, '<rsp:Disconnect/>'],
        [Action.Delete, ''],
      ] as const)
        await assert.rejects(ws.invoke(action, URI, body, sel), isFault(2150858843), action);
      await assert.rejects(ws.invoke(Action.Get, URI, ''), isFault(2150858771), 'unsupported action');

      // a real shell, then garbage for pwsh: bad fragments in Arguments and Send, a Signal for no command
      const rp = (await openPool(ws)).rp;
      const shell = { selectors: { ShellId: rp.shellId } };
      await assert.rejects(
        ws.invoke(Action.Command, URI, '<rsp:CommandLine CommandId="zz"><rsp:Arguments>%%%</rsp:Arguments></rsp:CommandLine>', shell),
        isFault(),
      );
      await assert.rejects(
        ws.invoke(
          Action.Send,
          URI,
          '<rsp:Send><rsp:Stream Name="stdin" CommandId="99999999-2222-3333-4444-555555555555">AAAA</rsp:Stream></rsp:Send>',
          shell,
        ),
        isFault(2150858843),
      );
      await assert.rejects(
        ws.invoke(Action.Signal, URI, '<rsp:Signal><rsp:Code>powershell/signal/crtl_c</rsp:Code></rsp:Signal>', shell),
        isFault(2150858843),
      );
      await assert.rejects(
        ws.invoke(
          Action.Connect,
          URI,
          `<rsp:Connect ${RSP}><connectXml xmlns="http://schemas.microsoft.com/powershell">AAAA</connectXml></rsp:Connect>`,
          shell,
        ),
        isFault(),
        'a connected shell cannot be connected',
      );
      await assert.rejects(
        ws.invoke(Action.Enumerate, 'http://schemas.microsoft.com/wbem/wsman/1/windows/shell', '<rsp:Nope/>'),
        isFault(),
      );
      // random fragment bytes for the pool: pwsh may reject them; whatever happens, the answer is an answer
      await ws
        .invoke(Action.Send, URI, `<rsp:Send><rsp:Stream Name="stdin">${fz.bytes(200).toString('base64')}</rsp:Stream></rsp:Send>`, shell)
        .catch((e) => assert.ok(e instanceof WSManFaultError));
      await rp.close().catch((e) => assert.ok(e instanceof WSManFaultError));

      // the endpoint still serves a clean session
      const ok = await Session.open({ transport: new WSManTransport(ws), exchangeKeys: false });
      const r = await ok.invoke('"alive"');
      assert.equal(r.output[0], 'alive');
      await ok.close();
    } finally {
      c.close();
    }
  },
);

const bodyOf = (x: string) =>
  parseEnvelope(`<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>${x}</s:Body></s:Envelope>`);

test('parsers of PSRP-over-WS-Man bodies: random and truncated input -> RemoteProtocolError or a value, never a crash', () => {
  const samples = [
    `<rsp:Shell ${RSP} ShellId="B6631D8E-65A0-49F2-9053-A1B156C95777"><creationXml xmlns="http://schemas.microsoft.com/powershell">AAAA</creationXml><rsp:IdleTimeOut>PT60S</rsp:IdleTimeOut></rsp:Shell>`,
    `<rsp:CommandLine ${RSP} CommandId="X"><rsp:Command/><rsp:Arguments>QUJD</rsp:Arguments></rsp:CommandLine>`,
    `<rsp:Connect ${RSP}><connectXml xmlns="http://schemas.microsoft.com/powershell">QUJD</connectXml></rsp:Connect>`,
    `<rsp:Disconnect ${RSP}><rsp:IdleTimeOut>PT1S</rsp:IdleTimeOut></rsp:Disconnect>`,
    `<n:Enumerate xmlns:n="http://schemas.xmlsoap.org/ws/2004/09/enumeration" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"><w:Filter><w:SelectorSet><w:Selector Name="ShellId">A</w:Selector></w:SelectorSet></w:Filter></n:Enumerate>`,
  ];
  const parsers = [parsePsrpShellRequest, parsePsrpCommandRequest, parseConnectRequest, parseDisconnectRequest, parseEnumerateFilter];
  let n = 0;
  for (let round = 0; round < 300; round++) {
    const s = samples[round % samples.length]!;
    const cut =
      round < 100
        ? s.slice(0, (round * 37) % s.length)
        : s.replace(/QUJD|AAAA|PT60S|PT1S/, fz.bytes(6).toString('latin1').replace(/[<&]/g, '?'));
    let payload;
    try {
      payload = parseXml(cut);
    } catch (e) {
      assert.ok(e instanceof RemoteProtocolError);
      continue;
    }
    for (const p of parsers) {
      try {
        p(payload as never);
        n++;
      } catch (e) {
        assert.ok(e instanceof RemoteProtocolError, `${p.name}: ${(e as Error).message}`);
      }
    }
  }
  assert.ok(n > 0);
  // client-side response parsers
  for (const x of [
    '<rsp:ConnectResponse ' +
      RSP +
      '><connectResponseXml xmlns="http://schemas.microsoft.com/powershell">%%</connectResponseXml></rsp:ConnectResponse>',
    '<x/>',
  ]) {
    assert.throws(() => parseConnectResponse(bodyOf(x)), RemoteProtocolError);
  }
  assert.throws(() => parseShellEnumeration(bodyOf('<x/>')), RemoteProtocolError);
  assert.deepEqual(
    parseCommandEnumeration(bodyOf('<n:EnumerateResponse xmlns:n="http://schemas.xmlsoap.org/ws/2004/09/enumeration"/>')),
    [],
  );
});

/** Bad input to the endpoint: the right fault or HTTP status, never a crash; the server keeps serving. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startEndpoint, USER, PASSWORD } from '../helpers/server-fixture.js';
import { buildRequest, parseEnvelope, faultFromEnvelope } from '../../src/wsman/envelope.js';
import { Action } from '../../src/wsman/ns.js';
import { SHELL_CMD_URI, shellBody, receiveBody, parseCreateResponse } from '../../src/winrs/messages.js';
import { connect } from '../../src/index.js';
import { fuzzRandom } from '../helpers/fuzz.js';

const fz = fuzzRandom('server-fuzz.test.ts');

let ep: Awaited<ReturnType<typeof startEndpoint>>;
before(async () => {
  ep = await startEndpoint({ maxEnvelopeSize: 65536 });
});
after(async () => {
  await ep.close();
});

const AUTH = 'Basic ' + Buffer.from(`${USER}:${PASSWORD}`).toString('base64');
function post(body: Buffer | string, headers: Record<string, string> = {}, method = 'POST'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const b = typeof body === 'string' ? Buffer.from(body) : body;
    const req = http.request(
      {
        host: '127.0.0.1',
        port: ep.port,
        path: '/wsman',
        method,
        agent: false,
        headers: {
          'Content-Type': 'application/soap+xml;charset=UTF-8',
          Authorization: AUTH,
          'Content-Length': String(b.length),
          ...headers,
        },
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (d) => parts.push(d));
        res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(parts).toString() }));
        res.on('error', reject);
      },
    );
    req.on('error', (e) => resolve({ status: -1, body: String(e) }));
    req.end(b);
  });
}
const faultCode = (body: string) => faultFromEnvelope(parseEnvelope(body))?.wsmanFaultCode;
const env = (
  action: string,
  body: string,
  o: { resourceUri?: string; selectors?: Record<string, string>; operationTimeout?: number } = {},
) =>
  buildRequest(
    { action, resourceUri: o.resourceUri ?? SHELL_CMD_URI, to: ep.url, selectors: o.selectors, operationTimeout: o.operationTimeout },
    body,
  ).xml;

async function stillServes(): Promise<void> {
  const c = connect({ host: `127.0.0.1:${ep.port}`, username: USER, password: PASSWORD, auth: 'basic', allowUnencrypted: true });
  try {
    assert.equal((await c.exec('echo', ['alive'])).stdout.toString(), 'alive\n');
  } finally {
    c.close();
  }
}

test('malformed XML, DOCTYPE/entities, not XML -> w:SchemaValidationError fault (500), as Windows answers', async () => {
  for (const bad of [
    '<s:Envelope',
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope">&lol2;</s:Envelope>',
    '<!DOCTYPE x SYSTEM "file:///etc/passwd"><x/>',
    '<x/>',
    Buffer.from([0xff, 0xfe, 0, 1, 2, 3]),
  ]) {
    const r = await post(bad);
    assert.equal(r.status, 500);
    assert.equal(faultCode(r.body), 2150858817);
    assert.match(r.body, /w:SchemaValidationError/);
    assert.doesNotMatch(r.body, /passwd|lol2/);
  }
  await stillServes();
});

test('faults with Windows codes: unknown resource, unknown action, wrong ShellId, bad timeout, missing headers', async () => {
  let r = await post(env(Action.Get, '', { resourceUri: 'http://schemas.example/nope' }));
  assert.equal(r.status, 500);
  assert.equal(faultCode(r.body), 2150858811);
  r = await post(env('http://schemas.example/Frobnicate', ''));
  assert.equal(r.status, 500);
  assert.equal(faultCode(r.body), 2150858771);
  r = await post(env(Action.Receive, receiveBody('X'), { selectors: { ShellId: 'NOT-A-SHELL' } }));
  assert.equal(r.status, 500);
  assert.equal(faultCode(r.body), 2150858843);
  r = await post(env(Action.Create, shellBody()).replace('PT20S', 'PT-1S'));
  assert.equal(r.status, 500);
  assert.equal(faultCode(r.body), 2150858767);
  r = await post(`<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header/><s:Body/></s:Envelope>`);
  assert.equal(r.status, 500);
  assert.equal(faultCode(r.body), 2150858767);
  r = await post(env(Action.Create, '<bogus/>'));
  assert.equal(r.status, 500);
  assert.equal(faultCode(r.body), 2150858791);
  await stillServes();
});

test('envelope too large -> w:EncodingLimit fault; far too large -> refused without reading it all', async () => {
  const big = env(Action.Create, shellBody({ environment: { PAD: 'x'.repeat(70000) } }));
  let r = await post(big);
  assert.equal(r.status, 500);
  assert.equal(faultCode(r.body), 2150858805);
  r = await post(Buffer.alloc(1_000_000, 0x20));
  assert.ok(r.status === 500 || r.status === -1, `status ${r.status}`);
  await stillServes();
});

test('auth and protocol misuse: garbage Authorization, unknown scheme, encrypted body over Basic, GET, wrong path', async () => {
  assert.equal((await post(env(Action.Create, shellBody()), { Authorization: 'Basic !!!notbase64' })).status, 401);
  assert.equal((await post(env(Action.Create, shellBody()), { Authorization: 'Frob abc' })).status, 401);
  assert.equal((await post(env(Action.Create, shellBody()), { Authorization: 'Basic' })).status, 401);
  assert.equal(
    (
      await post(env(Action.Create, shellBody()), {
        'Content-Type': 'multipart/encrypted;protocol="application/HTTP-SPNEGO-session-encrypted";boundary="Encrypted Boundary"',
      })
    ).status,
    400,
  );
  assert.equal((await post('', {}, 'GET')).status, 405);
  await stillServes();
});

test('random mutations of valid requests: a status, never a crash or hang', async () => {
  const create = env(Action.Create, shellBody({ environment: { A: 'b' }, workingDirectory: '/tmp' }));
  let seed = fz.int31();
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  for (let i = 0; i < 60; i++) {
    const b = Buffer.from(create);
    const n = 1 + Math.floor(rnd() * 6);
    for (let k = 0; k < n; k++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
    const r = await post(b);
    assert.ok([200, 400, 500].includes(r.status), `mutation ${i}: ${r.status}`);
    if (r.status === 200) {
      const sid = parseCreateResponse(parseEnvelope(r.body)).shellId;
      await post(env(Action.Delete, '', { selectors: { ShellId: sid } }));
    }
  }
  await stillServes();
});

test('Send with random End values and stream attributes: xs:boolean or ignored, never a crash; quotas keep serving', async () => {
  const c = await post(env(Action.Create, shellBody()));
  const shellId = parseCreateResponse(parseEnvelope(c.body)).shellId;
  let seed = fz.int31();
  const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const pick = (s: string) => s[Math.floor(rnd() * s.length)]!;
  for (let i = 0; i < 40; i++) {
    let end = '';
    for (let k = Math.floor(rnd() * 6); k > 0; k--) end += pick('tTrRuUeE01fFaAlsS \t&<>"\'');
    const attr = end.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
    const r = await post(
      env(Action.Send, `<rsp:Send><rsp:Stream Name="stdin" CommandId="NOPE-${i}" End="${attr}">YQ==</rsp:Stream></rsp:Send>`, {
        selectors: { ShellId: shellId },
      }),
    );
    assert.equal(r.status, 500, `End=${JSON.stringify(end)}`);
    assert.equal(faultCode(r.body), 2150858843); // unknown command, whatever End says
  }
  await post(env(Action.Delete, '', { selectors: { ShellId: shellId } }));
  await stillServes();
});

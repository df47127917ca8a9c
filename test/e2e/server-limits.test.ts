/**
 * The endpoint's limits against a live `serve()` (small configured values): what an unauthenticated peer may cost,
 * HTTP timeouts, connection caps, Windows' quotas with their fault codes and texts, WinRS Send back-pressure,
 * End="True", malformed XML and a too-small MaxEnvelopeSize.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { startEndpoint, USER, PASSWORD } from '../helpers/server-fixture.js';
import { buildRequest, parseEnvelope, faultFromEnvelope } from '../../src/wsman/envelope.js';
import { Action, NS } from '../../src/wsman/ns.js';
import {
  SHELL_CMD_URI,
  shellBody,
  commandLineBody,
  receiveBody,
  signalBody,
  SIGNAL,
  parseCreateResponse,
  parseCommandResponse,
  parseReceiveResponse,
} from '../../src/winrs/messages.js';
import { CONFIG_URI } from '../../src/server/config.js';
import type { EndpointLimits } from '../../src/server/limits.js';

const AUTH = 'Basic ' + Buffer.from(`${USER}:${PASSWORD}`).toString('base64');
const endpoints: Array<{ close(): Promise<void> }> = [];
after(async () => {
  for (const e of endpoints) await e.close();
});

async function endpoint(limits: Partial<EndpointLimits> = {}) {
  const ep = await startEndpoint({ limits });
  endpoints.push(ep);
  const post = (body: Buffer | string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      const b = typeof body === 'string' ? Buffer.from(body) : body;
      const req = http.request(
        {
          host: '127.0.0.1',
          port: ep.port,
          path: '/wsman',
          method: 'POST',
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
      req.on('error', reject);
      req.end(b);
    });
  const env = (
    action: string,
    body: string,
    o: { selectors?: Record<string, string>; operationTimeout?: number; resourceUri?: string; maxEnvelopeSize?: number } = {},
  ) =>
    buildRequest(
      {
        action,
        resourceUri: o.resourceUri ?? SHELL_CMD_URI,
        to: ep.url,
        selectors: o.selectors,
        operationTimeout: o.operationTimeout,
        maxEnvelopeSize: o.maxEnvelopeSize,
      },
      body,
    ).xml;
  const createShell = async (spec: Parameters<typeof shellBody>[0] = {}) => {
    const r = await post(env(Action.Create, shellBody(spec)));
    assert.equal(r.status, 200, r.body);
    return { shellId: parseCreateResponse(parseEnvelope(r.body)).shellId, body: r.body };
  };
  const command = async (shellId: string, line: string) => {
    const r = await post(env(Action.Command, commandLineBody(line), { selectors: { ShellId: shellId } }));
    return r.status === 200 ? { id: parseCommandResponse(parseEnvelope(r.body)), r } : { id: undefined, r };
  };
  const receiveAll = async (shellId: string, commandId: string) => {
    let stdout = '';
    let stderr = '';
    let exitCode: number | undefined;
    for (let i = 0; i < 200 && exitCode === undefined; i++) {
      const r = await post(env(Action.Receive, receiveBody(commandId), { selectors: { ShellId: shellId }, operationTimeout: 5 }));
      if (r.status !== 200) {
        assert.equal(faultCode(r.body), 2150858793, r.body);
        continue;
      }
      const rr = parseReceiveResponse(parseEnvelope(r.body));
      for (const s of rr.streams) {
        if (s.name === 'stdout') stdout += Buffer.from(s.data).toString();
        else stderr += Buffer.from(s.data).toString();
      }
      if (rr.state?.state === 'Done') exitCode = rr.state.exitCode;
    }
    return { stdout, stderr, exitCode };
  };
  const del = (shellId: string) => post(env(Action.Delete, '', { selectors: { ShellId: shellId } }));
  return { ep, post, env, createShell, command, receiveAll, del };
}

const faultCode = (body: string) => faultFromEnvelope(parseEnvelope(body))?.wsmanFaultCode;
const faultMessage = (body: string) => faultFromEnvelope(parseEnvelope(body))?.message ?? '';

/** Raw HTTP over a socket: write `head` then `body` (as fast as the socket takes it); collect what comes back
 *  until the server closes. */
function raw(port: number, head: string, body?: Buffer): Promise<{ response: string; wrote: number }> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let response = '';
    let wrote = 0;
    s.on('data', (d) => {
      response += d.toString('latin1');
    });
    s.on('error', () => undefined);
    s.on('close', () => resolve({ response, wrote }));
    s.on('connect', () => {
      s.write(head);
      if (!body) return;
      const step = 16384;
      const pump = () => {
        while (wrote < body.length && !s.destroyed) {
          const more = s.write(body.subarray(wrote, wrote + step));
          wrote += Math.min(step, body.length - wrote);
          if (!more) {
            s.once('drain', pump);
            return;
          }
        }
      };
      pump();
    });
  });
}
const bytesReadFromLog = (lines: string[]) => {
  const l = lines.filter((x) => /bytes read from the connection/.test(x)).pop();
  return l ? Number(/\((\d+) bytes read/.exec(l)![1]) : undefined;
};

test('before authentication at most a few KB of a body are read: 1 MB anonymous, bad Basic, chunked, handshake leg', async () => {
  const { ep } = await endpoint();
  const MB = Buffer.alloc(1024 * 1024, 0x41);
  const cases: Array<[string, string, number]> = [
    [
      'anonymous, Content-Length',
      `POST /wsman HTTP/1.1\r\nHost: x\r\nContent-Type: application/soap+xml\r\nContent-Length: ${MB.length}\r\n\r\n`,
      401,
    ],
    [
      'wrong Basic password',
      `POST /wsman HTTP/1.1\r\nHost: x\r\nAuthorization: ` +
        `Basic ${Buffer.from(`${USER}:nope`).toString('base64')}\r\nContent-Length: ${MB.length}\r\n\r\n`,
      401,
    ],
    ['anonymous, chunked', 'POST /wsman HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n', 401],
  ];
  for (const [what, head, status] of cases) {
    ep.lines.length = 0;
    const body = what.includes('chunked')
      ? Buffer.concat([Buffer.from(`${MB.length.toString(16)}\r\n`), MB, Buffer.from('\r\n0\r\n\r\n')])
      : MB;
    const r = await raw(ep.port, head, body);
    assert.match(r.response, new RegExp(`^HTTP/1.1 ${status} `), `${what}: ${r.response.slice(0, 100)}`);
    if (status === 401) assert.match(r.response, /WWW-Authenticate: Basic realm="WSMAN"/);
    const read = bytesReadFromLog(ep.lines);
    assert.ok(read !== undefined && read < 256 * 1024, `${what}: the server read ${read} bytes of a 1 MB body before authentication`);
  }
  // handshake legs: pypsrp and requests-ntlm resend the request body on every leg; it is dropped as it comes (a leg
  // answers with the challenge), and beyond the envelope bound the connection is closed unread (413)
  const negotiate = 'TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAKAGFKAAAADw==';
  const ntlm = await startEndpoint({ auth: ['negotiate'] });
  endpoints.push(ntlm);
  const leg = await raw(
    ntlm.port,
    `POST /wsman HTTP/1.1\r\nHost: x\r\nAuthorization: Negotiate ${negotiate}\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n`,
    Buffer.alloc(100000, 0x20),
  );
  assert.match(leg.response, /^HTTP\/1.1 401 [^]*WWW-Authenticate: Negotiate TlRMTVNTUAAC/);
  const r = await raw(
    ntlm.port,
    `POST /wsman HTTP/1.1\r\nHost: x\r\nAuthorization: Negotiate ${negotiate}\r\nContent-Length: ${4 * MB.length}\r\n\r\n`,
    Buffer.concat([MB, MB, MB, MB]),
  );
  assert.match(r.response, /^HTTP\/1.1 413 /);
  assert.ok((bytesReadFromLog(ntlm.lines) ?? Infinity) < 256 * 1024);
  // a small unauthenticated body keeps the connection usable (the normal 401 round of a handshake)
  const small = await raw(
    ep.port,
    'POST /wsman HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nConnection: close\r\n\r\n',
    Buffer.alloc(100, 0x20),
  );
  assert.match(small.response, /^HTTP\/1.1 401 /);
});

test('slow headers (slowloris) are cut off by the header timeout; an idle kept-alive connection is closed', async () => {
  const { ep } = await endpoint({ headersTimeoutMs: 400, requestTimeoutMs: 800, keepAliveTimeoutMs: 1500 });
  const closed = await new Promise<string>((resolve) => {
    const s = net.connect(ep.port, '127.0.0.1');
    let got = '';
    let timer: NodeJS.Timeout | undefined;
    s.on('data', (d) => {
      got += d.toString();
    });
    s.on('error', () => undefined);
    s.on('close', () => {
      clearInterval(timer);
      resolve(got);
    });
    s.on('connect', () => {
      s.write('POST /wsman HTTP/1.1\r\nHost: x\r\n');
      let i = 0;
      timer = setInterval(() => {
        if (!s.destroyed) s.write(`X-Slow-${i++}: a\r\n`);
      }, 100); // never ends the headers
    });
  });
  assert.match(closed, /^HTTP\/1.1 408 /, closed);
  assert.ok(ep.lines.some((l) => /-> 408 \(ERR_HTTP_REQUEST_TIMEOUT\)/.test(l)));
  // keep-alive: a finished request's connection is closed by the server when idle
  const idle = await new Promise<boolean>((resolve) => {
    const s = net.connect(ep.port, '127.0.0.1');
    s.on('error', () => undefined);
    s.on('close', () => resolve(true));
    s.resume(); // read what comes, so that the server's close is seen
    s.on('connect', () => s.write('GET /wsman HTTP/1.1\r\nHost: x\r\n\r\n'));
  });
  assert.equal(idle, true);
});

test('connections per remote address are capped: the next one gets 503 with the reason; a freed slot is reusable', async () => {
  const { ep } = await endpoint({ maxConnectionsPerAddress: 2 });
  // two kept-alive connections, each proven registered by a full request/response
  const open: net.Socket[] = [];
  for (let i = 0; i < 2; i++) {
    const s = net.connect(ep.port, '127.0.0.1');
    s.on('error', () => undefined);
    await new Promise<void>((resolve) => {
      s.once('data', () => resolve());
      s.on('connect', () => s.write('GET /wsman HTTP/1.1\r\nHost: x\r\n\r\n'));
    });
    open.push(s);
  }
  const third = await raw(ep.port, 'POST /wsman HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n');
  assert.match(third.response, /^HTTP\/1.1 503 /);
  assert.match(third.response, /too many connections from 127\.0\.0\.1 \(2 open; limit 2/);
  assert.ok(ep.lines.some((l) => /connection refused: .*too many connections/.test(l)));
  for (const s of open) s.destroy();
  let status = '';
  for (let i = 0; i < 50 && !status.startsWith('HTTP/1.1 405'); i++) {
    status = (await raw(ep.port, 'GET /wsman HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).response;
    if (!status.startsWith('HTTP/1.1 405')) await sleep(50);
  }
  assert.match(status, /^HTTP\/1.1 405 /);
});

test(
  'MaxShellsPerUser: the next Create faults as Windows does (2150859173, w:QuotaLimit); a Delete frees a slot; ' + 'config shows it',
  async () => {
    const { ep, post, env, createShell, del } = await endpoint({ maxShellsPerUser: 2 });
    const a = await createShell();
    await createShell();
    const r = await post(env(Action.Create, shellBody()));
    assert.equal(r.status, 500);
    assert.equal(faultCode(r.body), 2150859173);
    assert.match(r.body, /w:QuotaLimit/);
    assert.match(
      faultMessage(r.body),
      /This user is allowed a maximum number of 2 concurrent shells, which has been exceeded\. Close existing shells or raise the quota for this user\./,
    );
    assert.equal((await del(a.shellId)).status, 200);
    await createShell();
    const cfg = await post(env(Action.Get, '', { resourceUri: CONFIG_URI }));
    assert.match(cfg.body, /<cfg:MaxShellsPerUser>2<\/cfg:MaxShellsPerUser>/);
    assert.match(cfg.body, /<cfg:MaxConcurrentOperationsPerUser>1500</);
    assert.match(cfg.body, /<cfg:MaxProcessesPerShell>25</);
    assert.match(cfg.body, /<cfg:MaxMemoryPerShellMB>1024</);
    assert.match(cfg.body, /<cfg:IdleTimeout>7200000</);
    assert.equal(ep.stats().shells, 2);
  },
);

test('MaxConcurrentOperationsPerUser: requests beyond it fault (2150859174) while the others wait', async () => {
  const { post, env, createShell, command, del } = await endpoint({ maxConcurrentOperationsPerUser: 2 });
  const { shellId } = await createShell();
  const { id } = await command(shellId, 'sleep 30');
  assert.ok(id);
  const polls = [0, 1].map(() => post(env(Action.Receive, receiveBody(id!), { selectors: { ShellId: shellId }, operationTimeout: 3 })));
  let third = { status: 0, body: '' };
  for (let i = 0; i < 40; i++) {
    // until both long polls are being processed
    third = await post(env(Action.Signal, signalBody(id!, SIGNAL.ctrl_break + 'x'), { selectors: { ShellId: shellId } }));
    if (faultCode(third.body) === 2150859174) break;
    await sleep(50);
  }
  assert.equal(faultCode(third.body), 2150859174);
  assert.match(
    faultMessage(third.body),
    /maximum number of 2 concurrent operations, which has been exceeded\. Close existing operations for this user, or raise the quota for this user\./,
  );
  for (const p of await Promise.all(polls)) assert.equal(faultCode(p.body), 2150858793); // w:TimedOut, as usual
  assert.equal((await del(shellId)).status, 200);
});

test('IdleTimeout: a client asking 99999999 days gets the endpoint IdleTimeout, and the shell is closed after it', async () => {
  const { ep, createShell, command } = await endpoint({ idleTimeoutMs: 1500 });
  const { shellId, body } = await createShell({ idleTimeout: 99999999 * 86400 });
  assert.match(body, /<rsp:IdleTimeOut>PT1\.500S<\/rsp:IdleTimeOut>/);
  const { id } = await command(shellId, 'sleep 60');
  assert.ok(id);
  for (let i = 0; i < 100 && ep.stats().shells > 0; i++) await sleep(100);
  assert.equal(ep.stats().shells, 0);
  assert.equal(ep.stats().commands, 0);
  assert.ok(ep.lines.some((l) => /closed after IdleTimeout 1500 ms/.test(l)));
});

test('Send back-pressure: stdin for a command that never reads stays bounded, Send faults w:TimedOut, Delete frees it', async () => {
  const bound = 1024 * 1024;
  const { ep, post, env, createShell, command, del } = await endpoint({ maxStdinBufferBytes: bound });
  const { shellId } = await createShell();
  const { id } = await command(shellId, 'sleep 600');
  assert.ok(id);
  const chunk = Buffer.alloc(200 * 1024, 0x61);
  let refused: { status: number; body: string } | undefined;
  let sent = 0;
  for (let i = 0; i < 40 && !refused; i++) {
    const x = env(Action.Send, `<rsp:Send><rsp:Stream Name="stdin" CommandId="${id}">${chunk.toString('base64')}</rsp:Stream></rsp:Send>`, {
      selectors: { ShellId: shellId },
      operationTimeout: 1,
    });
    const r = await post(x);
    if (r.status === 200) sent += chunk.length;
    else refused = r;
    assert.ok(ep.stats().stdinBufferedBytes <= bound, `buffered ${ep.stats().stdinBufferedBytes}`);
  }
  assert.ok(refused, `every Send of ${sent} bytes was accepted`);
  assert.equal(faultCode(refused.body), 2150858793);
  assert.ok(sent < 4 * bound, `${sent} bytes accepted for a command that never reads`);
  assert.ok(ep.stats().stdinBufferedBytes > 0);
  assert.equal((await del(shellId)).status, 200);
  assert.deepEqual({ ...ep.stats(), connections: 0 }, { connections: 0, shells: 0, commands: 0, stdinBufferedBytes: 0 });
});

test('End="True", "TRUE" and "1" end stdin (xs:boolean, as pypsrp and Windows write it); "false" does not', async () => {
  const { post, env, createShell, command, receiveAll, del } = await endpoint();
  const { shellId } = await createShell();
  for (const end of ['True', 'TRUE', '1', ' true ']) {
    const { id } = await command(shellId, 'cat');
    const data = Buffer.from(`x-${end}\n`).toString('base64');
    const r = await post(
      env(Action.Send, `<rsp:Send><rsp:Stream Name="stdin" CommandId="${id}" End="${end}">${data}</rsp:Stream></rsp:Send>`, {
        selectors: { ShellId: shellId },
      }),
    );
    assert.equal(r.status, 200);
    const out = await receiveAll(shellId, id!);
    assert.deepEqual(out, { stdout: `x-${end}\n`, stderr: '', exitCode: 0 });
  }
  const { id } = await command(shellId, 'cat');
  await post(
    env(
      Action.Send,
      `<rsp:Send><rsp:Stream Name="stdin" CommandId="${id}" End="false">${Buffer.from('y').toString('base64')}</rsp:Stream></rsp:Send>`,
      { selectors: { ShellId: shellId } },
    ),
  );
  const r = await post(env(Action.Receive, receiveBody(id!), { selectors: { ShellId: shellId }, operationTimeout: 1 }));
  assert.doesNotMatch(r.body, /CommandState\/Done/);
  assert.equal((await del(shellId)).status, 200);
});

test(
  'malformed XML gets w:SchemaValidationError (500); MaxEnvelopeSize under 8192 gets w:EncodingLimit; unknown ' + 'shell as Windows',
  async () => {
    const { post, env } = await endpoint();
    let r = await post('<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body>');
    assert.equal(r.status, 500);
    assert.equal(faultCode(r.body), 2150858817);
    assert.match(faultMessage(r.body), /does not match the corresponding XML schema definition/);
    r = await post(env(Action.Create, shellBody(), { maxEnvelopeSize: 4096 }));
    assert.equal(r.status, 500);
    assert.equal(faultCode(r.body), 2150858823);
    assert.match(r.body, /w:EncodingLimit/);
    assert.match(r.body, /faultDetail\/MinimumEnvelopeLimit/);
    r = await post(env(Action.Create, shellBody(), { maxEnvelopeSize: 8192 }));
    assert.equal(r.status, 200);
    // Windows' shapes (test_psrp_is_alive_invalid_selectors.yml, test_psrp_is_alive_other_wsman_error.yml)
    r = await post(env(Action.Receive, receiveBody('X'), { selectors: { ShellId: 'NOT-A-SHELL' } }));
    assert.match(
      r.body,
      /<s:Text xml:lang="en-US">The WS-Management service cannot process the request because the request contained invalid selectors for the resource. <\/s:Text>/,
    );
    assert.match(
      r.body,
      /<f:ProviderFault provider="Shell provider" path="%systemroot%\\system32\\WsmSvc.dll"><f:WSManFault xmlns:f="[^"]+" Code="2150858843" Machine="hostA">/,
    );
    r = await post(env(Action.Create, shellBody()).replace('PT20S', 'PT-1S'));
    assert.match(
      r.body,
      /<s:Text xml:lang="en-US">The WS-Management service cannot process the request. The request contains one or more invalid SOAP headers. <\/s:Text>/,
    );
    assert.match(
      r.body,
      /<f:Message>The WS-Management service cannot process the request. The XML contains an invalid timeout field in the SOAP header: PT-1S. <\/f:Message>/,
    );
    assert.equal(NS.s, 'http://www.w3.org/2003/05/soap-envelope');
  },
);

test('MaxProcessesPerShell: a Command beyond it faults; a command that forks beyond it is stopped with a note on stderr', async () => {
  const { post, env, createShell, command, receiveAll, del } = await endpoint({ maxProcessesPerShell: 4 });
  const { shellId } = await createShell();
  // each `sleep 60` is one or two processes (sh may exec it): commands start until the shell holds 4 processes
  let started = 0;
  let refused: Awaited<ReturnType<typeof command>> | undefined;
  for (let i = 0; i < 5 && !refused; i++) {
    const c = await command(shellId, 'sleep 60');
    if (c.id) started++;
    else refused = c;
  }
  assert.ok(started >= 2 && refused, `${started} commands started`);
  assert.equal(faultCode(refused.r.body), 2147944216);
  assert.match(faultMessage(refused.r.body), /Not enough quota is available to process this command/);
  await del(shellId);
  const s2 = (await createShell()).shellId;
  const { id } = await command(s2, 'sleep 60 & sleep 60 & sleep 60 & sleep 60 & wait');
  const out = await receiveAll(s2, id!);
  assert.match(out.stderr, /over MaxProcessesPerShell \(4\); the command was stopped/);
  assert.notEqual(out.exitCode, 0);
  assert.equal((await post(env(Action.Delete, '', { selectors: { ShellId: s2 } }))).status, 200);
});

test('MaxMemoryPerShellMB: a shell whose processes grow beyond it has its commands stopped', async () => {
  const { createShell, command, receiveAll, del } = await endpoint({ maxMemoryPerShellMB: 40 });
  const { shellId } = await createShell();
  const { id } = await command(
    shellId,
    `${process.execPath} -e "const b = Buffer.alloc(120 * 1024 * 1024, 1); setTimeout(() => b, 60000)"`,
  );
  const out = await receiveAll(shellId, id!);
  assert.match(out.stderr, /over MaxMemoryPerShellMB \(40\); the command was stopped/);
  assert.notEqual(out.exitCode, 0);
  await del(shellId);
});

test('a request whose client went away is still logged', async () => {
  const { ep, env, createShell, command, del } = await endpoint();
  const { shellId } = await createShell();
  const { id } = await command(shellId, 'sleep 30');
  const x = Buffer.from(env(Action.Receive, receiveBody(id!), { selectors: { ShellId: shellId }, operationTimeout: 20 }));
  const s = net.connect(ep.port, '127.0.0.1');
  s.on('error', () => undefined);
  await new Promise<void>((resolve) => s.on('connect', () => resolve()));
  s.write(
    `POST /wsman HTTP/1.1\r\nHost: x\r\nAuthorization: ${AUTH}\r\nContent-Type: application/soap+xml;` +
      `charset=UTF-8\r\nContent-Length: ${x.length}\r\n\r\n`,
  );
  s.write(x);
  for (let i = 0; i < 40 && !ep.lines.some((l) => /auth ok/.test(l)); i++) await sleep(25);
  await sleep(100);
  s.destroy();
  for (let i = 0; i < 40 && !ep.lines.some((l) => /Receive -> client went away/.test(l)); i++) await sleep(50);
  assert.ok(
    ep.lines.some((l) => /EXAMPLE\\alice Receive -> client went away/.test(l)),
    ep.lines.join('\n'),
  );
  assert.equal((await del(shellId)).status, 200);
});

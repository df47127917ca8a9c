// Our client <-> our endpoint with Negotiate (SPNEGO/NTLM) and raw NTLM over real sockets on 127.0.0.1:
// sealed HTTP, HTTPS with channel binding (CBT strict), the refusal of unencrypted NTLM on HTTP, wrong password /
// domain errors without secrets, and transparent re-authentication when the keep-alive connection is replaced.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, AccessDeniedError, type AuthContext } from '../../src/index.js';
import type { StepOptions } from '../../src/auth/types.js';
import { createInitiator } from '../../src/auth/registry.js';
import { startEndpoint, selfSigned, USER, PASSWORD } from '../helpers/server-fixture.js';

let http: Awaited<ReturnType<typeof startEndpoint>>;
let https: Awaited<ReturnType<typeof startEndpoint>>;
before(async () => {
  http = await startEndpoint({ auth: ['negotiate'], allowUnencrypted: false });
  const c = selfSigned();
  https = await startEndpoint({ auth: ['negotiate'], allowUnencrypted: false, https: true, cert: c.cert, key: c.key, cbt: 'strict' });
});
after(async () => {
  await http.close();
  await https.close();
});

test('Negotiate over HTTP: sealed requests and replies (multipart/encrypted), network logon', async () => {
  const c = connect({ host: `127.0.0.1:${http.port}`, username: USER, password: PASSWORD });
  try {
    assert.equal(c.authName, 'negotiate', 'negotiate is the default when a user is given');
    const r = await c.exec('echo', ['sealed', 'é✓']);
    assert.equal(r.exitCode, 0);
    assert.equal(r.stdout.toString().trim(), 'sealed é✓');
    assert.equal(c.stats.connections, 1);
    assert.equal(c.stats.authRequests, 2, 'SPNEGO/NTLM: two legs');
    assert.ok(
      http.lines.some((l) => /auth ok EXAMPLE\\alice via negotiate \(network\)/.test(l)),
      http.lines.join('\n'),
    );
    assert.ok(!http.lines.some((l) => /unencrypted|decrypt-failed/.test(l)));
  } finally {
    c.close();
  }
});

test('raw NTLM (--auth ntlm) over HTTP: sealed, accepted under the Negotiate scheme', async () => {
  const c = connect({ host: `127.0.0.1:${http.port}`, username: USER, password: PASSWORD, auth: 'ntlm' });
  try {
    const r = await c.exec('echo', ['raw']);
    assert.equal(r.stdout.toString().trim(), 'raw');
  } finally {
    c.close();
  }
});

test('Negotiate over HTTP with encryption never: refused by default with an error that says why', async () => {
  const c = connect({ host: `127.0.0.1:${http.port}`, username: USER, password: PASSWORD, encryption: 'never' });
  try {
    await assert.rejects(
      c.exec('echo', ['x']),
      (e: Error) => e instanceof AccessDeniedError && /encryption/i.test(e.message) && !e.message.includes(PASSWORD),
    );
  } finally {
    c.close();
  }
});

test('wrong password and wrong domain -> AccessDeniedError naming the user, no password anywhere', async () => {
  for (const [u, p] of [
    [USER, 'Zq9-notmine'],
    ['OTHERDOM\\alice', PASSWORD],
  ] as const) {
    for (const auth of ['negotiate', 'ntlm']) {
      const c = connect({ host: `127.0.0.1:${http.port}`, username: u, password: p, auth });
      try {
        await assert.rejects(c.exec('echo', ['x']), (e: Error) => {
          assert.ok(e instanceof AccessDeniedError, String(e));
          assert.ok(e.message.includes(u), e.message);
          assert.match(e.message, /denied|credential|password/i);
          assert.ok(!e.message.includes(p) && !e.message.includes(PASSWORD));
          return true;
        });
      } finally {
        c.close();
      }
    }
  }
  assert.ok(http.lines.some((l) => /access denied for OTHERDOM\\alice \(NTLM\)/.test(l)));
  assert.ok(!http.lines.some((l) => l.includes('Zq9-notmine') || l.includes(PASSWORD)), 'the endpoint never logs a password');
});

test('HTTPS with channel binding, endpoint CBT strict: accepted; a client without CBT is refused', async () => {
  const ca = selfSigned().cert;
  const c = connect({ host: `127.0.0.1:${https.port}`, https: true, username: USER, password: PASSWORD, ca });
  try {
    const r = await c.exec('echo', ['bound']);
    assert.equal(r.stdout.toString().trim(), 'bound');
  } finally {
    c.close();
  }

  // the same initiator with its channel bindings withheld (a client without Extended Protection)
  const inner = createInitiator('negotiate', { username: USER, password: PASSWORD }, { targetHost: '127.0.0.1' });
  const noCbt = (ctx: AuthContext): AuthContext => ({
    protocol: ctx.protocol,
    httpScheme: ctx.httpScheme,
    canEncrypt: ctx.canEncrypt,
    encryptionProtocol: ctx.encryptionProtocol,
    get complete() {
      return ctx.complete;
    },
    step: (tok?: Uint8Array, o?: StepOptions) => ctx.step(tok, { ...o, channelBindings: undefined }),
    wrapWinrm: (d) => ctx.wrapWinrm(d),
    unwrapWinrm: (h, d) => ctx.unwrapWinrm(h, d),
    newContext: () => noCbt(ctx.newContext()),
  });
  const c2 = connect({ host: `127.0.0.1:${https.port}`, https: true, username: USER, ca, authContext: noCbt(inner) });
  try {
    await assert.rejects(c2.exec('echo', ['x']), AccessDeniedError);
    assert.ok(
      https.lines.some((l) => /requires channel binding/.test(l)),
      https.lines.join('\n'),
    );
  } finally {
    c2.close();
  }
});

test('the endpoint closes the keep-alive connection mid-session -> the client re-authenticates transparently', async () => {
  const c = connect({ host: `127.0.0.1:${http.port}`, username: USER, password: PASSWORD });
  try {
    const shell = await c.openShell();
    assert.equal((await shell.exec('echo', ['one'])).stdout.toString().trim(), 'one');
    assert.equal(c.stats.connections, 1);
    http.server.closeIdleConnections(); // the server drops the idle keep-alive connection
    await new Promise((r) => setImmediate(r));
    assert.equal((await shell.exec('echo', ['two'])).stdout.toString().trim(), 'two');
    await shell.close();
    assert.equal(c.stats.connections, 2, 'a second TCP connection');
    assert.equal(c.stats.authRequests, 4, 'and a second NTLM handshake on it');
  } finally {
    c.close();
  }
});

// The logon-session credential broker (src/server/broker.ts + src/auth/brokered.ts) in process, against real
// acceptors: Negotiate and CredSSP initiators run inside the "endpoint" with the session's password, the client
// side relays tokens and sealed bytes only. Capability, bounds, teardown, the child env and the shims.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { statSync, existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { startBroker, logonBrokerEnv, shimDirectory, MAX_CONTEXTS } from '../../src/server/broker.js';
import { BrokeredContext, brokeredAmbientAuth } from '../../src/broker/client.js';
import { BROKER_SOCKET_ENV, BROKER_TOKEN_ENV } from '../../src/broker/wire.js';
import { LogonSession, childEnv } from '../../src/server/logon.js';
import { createInitiator, createAcceptor } from '../../src/auth/registry.js';
import { parseUsers } from '../../src/server/users.js';
import { AuthError, DelegationRefusedError, InvalidArgumentError } from '../../src/errors.js';
import type { AuthContext } from '../../src/auth/types.js';

const PASSWORD = 'Passw0rd!';
const userDb = parseUsers(`EXAMPLE\\alice:${PASSWORD}\n`);
const factory = (m: string, c: Parameters<typeof createInitiator>[1], o: Parameters<typeof createInitiator>[2]) => createInitiator(m, c, o);
const interactive = () =>
  new LogonSession({ domain: 'EXAMPLE', user: 'alice', logonType: 'interactive', password: PASSWORD, mechanism: 'credssp' });

async function handshake(ini: AuthContext, acc: AuthContext): Promise<void> {
  let tok = await ini.step();
  for (let i = 0; tok && i < 12; i++) {
    const back = await acc.step(tok);
    if (ini.complete && !back) break;
    tok = back ? await ini.step(back) : undefined;
  }
  assert.ok(acc.complete, 'acceptor complete');
  assert.ok(ini.complete, 'initiator complete');
}

test('broker: Negotiate through the broker against a real acceptor; seal/unseal both ways; two contexts at once', async () => {
  const s = interactive();
  const b = await startBroker(s, factory);
  try {
    assert.equal(statSync(dirname(b.socketPath)).mode & 0o777, 0o700, 'the socket lives in a private 0700 directory');
    const addr = { socketPath: b.socketPath, token: b.token };
    const one = new BrokeredContext(addr, 'negotiate', { targetHost: 'hostb' });
    const two = one.newContext(); // a second connection must not disturb the first (the transport opens two)
    const acc1 = createAcceptor('negotiate', { userDb, serverName: 'hostB' });
    const acc2 = createAcceptor('negotiate', { userDb, serverName: 'hostB' });
    await Promise.all([handshake(one, acc1), handshake(two, acc2)]);
    assert.equal((acc1 as { identity?: { user: string } }).identity?.user, 'alice');
    assert.equal(b.contexts, 2);
    for (const [ini, acc] of [
      [one, acc1],
      [two, acc2],
    ] as const) {
      const w = await ini.wrapWinrm(Buffer.from('<s:Envelope/>'));
      assert.equal(Buffer.from(await acc.unwrapWinrm(w.header, w.data)).toString(), '<s:Envelope/>');
      const r = await acc.wrapWinrm(Buffer.from('reply'));
      assert.equal(Buffer.from(await ini.unwrapWinrm(r.header, r.data)).toString(), 'reply');
    }
    const big = new Uint8Array(1_000_000).map((_, i) => (i * 7) & 0xff);
    const w = await one.wrapWinrm(big);
    assert.deepEqual(new Uint8Array(await acc1.unwrapWinrm(w.header, w.data)), big);
  } finally {
    await b.close();
  }
});

test('broker: CredSSP onward through the broker, and its delegate list still applies', async () => {
  const s = interactive();
  const b = await startBroker(s, factory);
  try {
    const addr = { socketPath: b.socketPath, token: b.token };
    const ini = new BrokeredContext(addr, 'credssp', { targetHost: '127.0.0.1', delegateTo: ['wsman/127.0.0.1'] });
    const acc = createAcceptor('credssp', { userDb, serverName: 'hostB' });
    await handshake(ini, acc);
    const id = (acc as { identity?: { user: string; logonType: string } }).identity;
    assert.equal(id?.user, 'alice');
    assert.equal(id?.logonType, 'interactive');
    const refused = new BrokeredContext(addr, 'credssp', { targetHost: 'hostc', delegateTo: ['wsman/*.corp.example'] });
    await assert.rejects(
      refused.step(),
      (e: unknown) => e instanceof DelegationRefusedError && /--delegate-to wsman\/hostc/.test((e as Error).message),
    );
  } finally {
    await b.close();
  }
});

test('broker: wrong capability, Basic, too many contexts -> refused; session end tears it down', async () => {
  const s = interactive();
  const b = await startBroker(s, factory);
  const addr = { socketPath: b.socketPath, token: b.token };
  await assert.rejects(
    new BrokeredContext({ ...addr, token: 'A'.repeat(b.token.length) }, 'negotiate', { targetHost: 'x' }).step(),
    AuthError,
  );
  assert.throws(
    () => new BrokeredContext(addr, 'basic', { targetHost: 'x' }),
    InvalidArgumentError,
    'Basic would hand the password to the child',
  );
  const open: BrokeredContext[] = [];
  for (let i = 0; i < MAX_CONTEXTS; i++) {
    const c = new BrokeredContext(addr, 'negotiate', { targetHost: 'x' });
    await c.step();
    open.push(c);
  }
  await assert.rejects(new BrokeredContext(addr, 'negotiate', { targetHost: 'x' }).step(), /too many security contexts/);
  await s.close(); // the logon session ends (shell deleted / connection closed)
  await b.close();
  assert.equal(existsSync(b.socketPath), false);
  await assert.rejects(open[0]!.wrapWinrm(new Uint8Array([1])), AuthError);
  await assert.rejects(new BrokeredContext(addr, 'negotiate', { targetHost: 'x' }).step(), /not reachable/);
});

test('broker: child env — socket + capability for interactive logons, nothing for network logons, never the password', async () => {
  const hook = logonBrokerEnv(factory);
  const s = interactive();
  const env = await hook(s);
  assert.ok(env[BROKER_SOCKET_ENV] && env[BROKER_TOKEN_ENV]);
  assert.equal((await hook(s))[BROKER_TOKEN_ENV], env[BROKER_TOKEN_ENV], 'one broker per session');
  assert.ok(env.PATH!.startsWith(shimDirectory() + ':'));
  assert.ok(!JSON.stringify(env).includes(PASSWORD));
  const net = new LogonSession({ domain: 'EXAMPLE', user: 'alice', logonType: 'network', mechanism: 'ntlm' });
  const nenv = await hook(net);
  assert.equal(nenv[BROKER_SOCKET_ENV], undefined);
  assert.equal(nenv[BROKER_TOKEN_ENV], undefined);
  // the ambient provider finds the broker only in a session that has one
  const saved = { ...process.env };
  try {
    Object.assign(process.env, env);
    const ctx = brokeredAmbientAuth({ targetHost: 'hostb' });
    assert.ok(ctx instanceof BrokeredContext);
    assert.equal(ctx.protocol, 'negotiate');
    delete process.env[BROKER_SOCKET_ENV];
    assert.equal(brokeredAmbientAuth({ targetHost: 'hostb' }), undefined);
  } finally {
    process.env = saved;
  }
  // the shim whoami prints the session's user the way Windows does
  const full = { ...(await childEnv(net)), ...nenv };
  const out = execFileSync('whoami', { env: { ...full } as NodeJS.ProcessEnv }).toString();
  assert.equal(out, 'example\\alice\n');
  await s.close();
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CredSSPInitiator, type CredSSPInitiatorOptions } from '../../src/auth/credssp/initiator.js';
import { CredSSPAcceptor, type CredSSPAcceptorOptions } from '../../src/auth/credssp/acceptor.js';
import type { UserDatabase } from '../../src/auth/types.js';
import { AccessDeniedError, CredSSPError, DelegationRefusedError } from '../../src/errors.js';

const users: UserDatabase = {
  lookup(domain, user) {
    if (user.toLowerCase() === 'alice' && (domain === '' || domain.toUpperCase() === 'EXAMPLE'))
      return { domain: 'EXAMPLE', user: 'alice', password: 'Passw0rd!' };
    return undefined;
  },
};

function pair(iopts: Partial<CredSSPInitiatorOptions> = {}, aopts: Partial<CredSSPAcceptorOptions> = {}) {
  const init = new CredSSPInitiator({
    credentials: { username: 'EXAMPLE\\alice', password: 'Passw0rd!' },
    targetHost: 'hosta.corp.example',
    delegateTo: ['wsman/*.corp.example'],
    ...iopts,
  });
  const acc = new CredSSPAcceptor({ userDb: users, serverName: 'HOSTA', ...aopts });
  return { init, acc };
}

/** Run the header-carried exchange like the HTTP 401 loop does; returns the number of legs (HTTP round trips). */
async function run(init: CredSSPInitiator, acc: CredSSPAcceptor): Promise<number> {
  let tok = await init.step();
  let legs = 0;
  while (tok && tok.length) {
    legs++;
    if (legs > 12) throw new Error('too many legs');
    const back = await acc.step(tok);
    if (init.complete) break;
    tok = await init.step(back);
  }
  return legs;
}

for (const [tls, inner] of [
  ['TLSv1.2', 'negotiate'],
  ['TLSv1.3', 'negotiate'],
  ['TLSv1.2', 'ntlm'],
  ['TLSv1.3', 'ntlm'],
] as const) {
  test(`credssp pair: v6 over ${tls} with ${inner} inside, credentials recovered, encryption both ways`, async () => {
    const { init, acc } = pair({ tlsMaxVersion: tls, inner }, { tlsMaxVersion: tls });
    const legs = await run(init, acc);
    assert.ok(init.complete && acc.complete);
    assert.equal(init.version, 6);
    assert.deepEqual(
      { ...acc.identity },
      { domain: 'EXAMPLE', user: 'alice', logonType: 'interactive', password: 'Passw0rd!', mechanism: 'credssp' },
    );
    assert.equal(init.tlsInfo!.protocol, tls);
    assert.ok(legs >= 4 && legs <= 5, `legs ${legs}`);
    for (const n of [1, 100, 16384]) {
      const msg = new Uint8Array(n).map((_, i) => i * 7);
      const w = await init.wrapWinrm(msg);
      assert.equal(w.header.length, tls === 'TLSv1.3' ? 17 : 16);
      assert.deepEqual(await acc.unwrapWinrm(w.header, w.data), msg);
      const w2 = await acc.wrapWinrm(msg);
      assert.deepEqual(await init.unwrapWinrm(w2.header, w2.data), msg);
    }
  });
}

for (const v of [2, 3, 4, 5]) {
  test(`credssp pair: server speaks v${v} (allowed by minVersion ${v})`, async () => {
    const { init, acc } = pair({ minVersion: v }, { version: v });
    await run(init, acc);
    assert.equal(acc.version, v);
    assert.equal(init.version, v);
    assert.equal(acc.identity?.password, 'Passw0rd!');
  });
}

test('credssp pair: server version below the minimum -> CredSSPError naming the versions, no credentials sent', async () => {
  const { init, acc } = pair({}, { version: 2 });
  await assert.rejects(
    run(init, acc),
    (e: unknown) =>
      e instanceof CredSSPError && /version 2, below the minimum 6/.test(e.message) && /--credssp-min-version 2/.test(e.message),
  );
  assert.equal(acc.identity, undefined);
});

test('credssp pair: wrong password -> errorCode STATUS_LOGON_FAILURE shown as text; no secret in the message', async () => {
  const { init, acc } = pair({ credentials: { username: 'EXAMPLE\\alice', password: 'wrong-secret' } });
  await assert.rejects(run(init, acc), (e: unknown) => {
    assert.ok(e instanceof CredSSPError, String(e));
    assert.match(e.message, /0xC000006D STATUS_LOGON_FAILURE/);
    assert.equal(e.ntStatus, 0xc000006d);
    assert.doesNotMatch(e.message, /wrong-secret|Passw0rd/);
    return true;
  });
  assert.equal(acc.identity, undefined);
  await assert.rejects(acc.step(new Uint8Array([1])), AccessDeniedError);
});

test('credssp pair: target outside the delegate list -> DelegationRefusedError before any token', async () => {
  for (const delegateTo of [[], ['wsman/*.corp.example'], ['wsman/other.corp.example']]) {
    let err: unknown;
    let produced: Uint8Array | undefined;
    try {
      const init = new CredSSPInitiator({
        credentials: { username: 'EXAMPLE\\alice', password: 'Passw0rd!' },
        targetHost: '10.0.0.5',
        delegateTo,
      });
      produced = await init.step();
    } catch (e) {
      err = e;
    }
    assert.equal(produced, undefined, 'nothing may be produced');
    assert.ok(err instanceof DelegationRefusedError);
    assert.match((err as Error).message, /--delegate-to wsman\/10\.0\.0\.5/);
    assert.match((err as Error).message, /WINRM_TS_DELEGATE_TO/);
    assert.match((err as Error).message, /delegateTo/);
    assert.doesNotMatch((err as Error).message, /Passw0rd/);
  }
});

test('credssp pair: pubKeyAuth made for another key -> the acceptor refuses (man in the middle)', async () => {
  const { init, acc } = pair();
  (init as any).pubKeyAuthOverride = true;
  // simulate a MITM: the client computes pubKeyAuth over a different public key
  const realStep = init.step.bind(init);
  let swapped = false;
  init.step = async (t?: Uint8Array) => {
    if (!swapped && (init as any).pubKey) {
      (init as any).pubKey = new Uint8Array((init as any).pubKey.length).fill(1);
      swapped = true;
    }
    return realStep(t);
  };
  await assert.rejects(
    run(init, acc),
    (e: unknown) => e instanceof CredSSPError && /0x80090330 SEC_E_MESSAGE_ALTERED/.test((e as Error).message),
  );
  assert.equal(acc.identity, undefined);
});

test('credssp pair: garbage and broken framing give typed errors, no hangs', async () => {
  // garbage TLS from the server
  {
    const { init } = pair();
    await init.step();
    await assert.rejects(init.step(new Uint8Array(50).fill(0x42)), CredSSPError);
  }
  // a truncated server flight
  {
    const { init, acc } = pair();
    const t1 = await init.step();
    const back = (await acc.step(t1!))!;
    await assert.rejects(init.step(back.subarray(0, back.length - 10)), /stalled|TLS/);
  }
  // garbage TLS from the client
  {
    const { acc } = pair();
    await assert.rejects(acc.step(Uint8Array.from(Buffer.from('GET / HTTP/1.1\r\n\r\n'))), CredSSPError);
  }
  // no token where one is needed
  {
    const { init, acc } = pair();
    await init.step();
    await assert.rejects(init.step(undefined), /may not offer CredSSP/);
    await assert.rejects(acc.step(new Uint8Array()), CredSSPError);
  }
});

test('credssp pair: garbage TSRequest DER inside valid TLS -> CredSSPError', async () => {
  const { init, acc } = pair();
  let tok = await init.step();
  while (!acc['pipe'].secure) tok = await init.step((await acc.step(tok!))!);
  // the initiator's TLS is up; its first TSRequest is in `tok`. Instead of answering, the server writes garbage DER.
  await acc.step(tok!);
  const pipe = (acc as any).pipe;
  for (const garbage of [Uint8Array.of(0x30, 0x03, 0x02, 0x01), Uint8Array.of(0x04, 0x00), Uint8Array.of(0x30, 0x03, 0xa0, 0x01, 0x05)]) {
    const { init: i2, acc: a2 } = pair();
    let t = await i2.step();
    while (!(a2 as any).pipe.secure) t = await i2.step((await a2.step(t!))!);
    await a2.step(t!);
    (a2 as any).pipe.write(garbage);
    await (a2 as any).pipe.settle();
    await assert.rejects(i2.step((a2 as any).pipe.takeOutput()), CredSSPError);
  }
  void pipe;
});

test('credssp pair: wrap/unwrap 1 byte .. 10 MB in 16 KiB chunks', async () => {
  const { init, acc } = pair();
  await run(init, acc);
  const big = new Uint8Array(10 * 1024 * 1024);
  for (let i = 0; i < big.length; i += 4096) big[i] = i & 0xff;
  let got = 0;
  for (let off = 0; off < big.length; off += 16384) {
    const chunk = big.subarray(off, off + 16384);
    const w = await init.wrapWinrm(chunk);
    const p = await acc.unwrapWinrm(w.header, w.data);
    assert.equal(p.length, chunk.length);
    if (p[0] !== chunk[0]) assert.fail('mismatch at ' + off);
    got += p.length;
  }
  assert.equal(got, big.length);
  const one = await acc.wrapWinrm(Uint8Array.of(9));
  assert.deepEqual(await init.unwrapWinrm(one.header, one.data), Uint8Array.of(9));
  // a tampered record is refused
  const w = await init.wrapWinrm(Uint8Array.of(1, 2, 3));
  const bad = Uint8Array.from(w.data);
  bad[bad.length - 1]! ^= 1;
  await assert.rejects(acc.unwrapWinrm(w.header, bad), /decrypted|TLS/);
});

test('credssp pair: a server answering pubKeyAuth for another key -> the initiator stops before sending credentials', async () => {
  const { init, acc } = pair();
  const real: Uint8Array = (acc as any).pubKey;
  let reads = 0;
  // first read: the acceptor checks the client's hash against its real key; second read: it answers for another key
  Object.defineProperty(acc, 'pubKey', { get: () => (++reads === 1 ? real : new Uint8Array(real.length).fill(7)) });
  const sent: Uint8Array[] = [];
  const realStep = init.step.bind(init);
  init.step = async (t?: Uint8Array) => {
    const out = await realStep(t);
    if (out) sent.push(out);
    return out;
  };
  await assert.rejects(
    run(init, acc),
    (e: unknown) =>
      e instanceof CredSSPError && /does not match the TLS public key/.test((e as Error).message) && /NOT sent/.test((e as Error).message),
  );
  assert.equal(acc.identity, undefined);
  assert.equal(init.complete, false);
});

test('credssp pair: stream framing (RDP) with every flight split into small random pieces', async () => {
  const { init, acc } = pair({ framing: 'stream', inner: 'ntlm' }, { framing: 'stream' });
  const pieces = (b: Uint8Array) => {
    const out: Uint8Array[] = [];
    for (let o = 0; o < b.length;) {
      const n = 1 + Math.floor(Math.random() * 60);
      out.push(b.subarray(o, o + n));
      o += n;
    }
    return out;
  };
  let toAcc = await init.step();
  for (let round = 0; round < 12 && !(init.complete && acc.complete); round++) {
    const fromAcc: Uint8Array[] = [];
    for (const p of pieces(toAcc ?? new Uint8Array())) {
      const o = await acc.step(p);
      if (o?.length) fromAcc.push(o);
    }
    if (init.complete) break;
    const outs: Uint8Array[] = [];
    for (const f of fromAcc)
      for (const p of pieces(f)) {
        const o = await init.step(p);
        if (o?.length) outs.push(o);
      }
    toAcc = Buffer.concat(outs);
    if (init.complete && toAcc.length) {
      for (const p of pieces(toAcc)) await acc.step(p);
    }
  }
  assert.ok(init.complete && acc.complete);
  assert.equal(acc.identity?.password, 'Passw0rd!');
});

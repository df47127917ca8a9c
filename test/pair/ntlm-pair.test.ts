// In-process NTLM and SPNEGO initiator <-> acceptor pairs: authentication, errors, CBT, sealing in both directions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AccessDeniedError, AuthError, EncryptionError } from '../../src/errors.js';
import type { AuthContext, AcceptorContext, ChannelBindings, UserDatabase } from '../../src/auth/types.js';
import { NtlmInitiator, type NtlmInitiatorOptions } from '../../src/auth/ntlm/initiator.js';
import { NtlmAcceptor, type NtlmAcceptorOptions } from '../../src/auth/ntlm/acceptor.js';
import { SpnegoInitiator, SpnegoAcceptor } from '../../src/auth/spnego/context.js';
import { ntHash } from '../../src/auth/ntlm/crypto.js';
import { decodeNegotiationToken, encodeMechTypes, encodeNegTokenInit, encodeNegTokenResp, MechOid } from '../../src/auth/spnego/tokens.js';
import { utf8, fromUtf8 } from '../../src/util/bytes.js';

const PASSWORD = 'Passw0rd!';
export const users: UserDatabase = {
  lookup(domain, user) {
    if (domain.toLowerCase() === 'example' && user.toLowerCase() === 'alice')
      return { domain: 'EXAMPLE', user: 'alice', password: PASSWORD };
    return undefined;
  },
};

async function handshake(ini: AuthContext, acc: AcceptorContext, cbIni?: ChannelBindings, cbAcc?: ChannelBindings): Promise<number> {
  let tok = await ini.step(undefined, cbIni ? { channelBindings: cbIni } : undefined);
  let legs = 0;
  while (tok) {
    legs++;
    const back = await acc.step(tok, cbAcc ? { channelBindings: cbAcc } : undefined);
    if (!back) break;
    tok = await ini.step(back, cbIni ? { channelBindings: cbIni } : undefined);
  }
  return legs;
}

async function exchangeMany(ini: AuthContext, acc: AuthContext, n = 25): Promise<void> {
  for (let i = 0; i < n; i++) {
    const msg = utf8(`<s:Envelope>message ${i} ${'x'.repeat(i * 37)}</s:Envelope>`);
    const a = await ini.wrapWinrm(msg);
    assert.equal(a.header.length, 16);
    assert.equal(a.data.length, msg.length);
    assert.equal(fromUtf8(await acc.unwrapWinrm(a.header, a.data)), fromUtf8(msg));
    const reply = utf8(`reply ${i}`);
    const b = await acc.wrapWinrm(reply);
    assert.equal(fromUtf8(await ini.unwrapWinrm(b.header, b.data)), `reply ${i}`);
  }
}

const cred = (username: string, password = PASSWORD): NtlmInitiatorOptions => ({
  credentials: { username, password },
  spn: 'HTTP/server.example',
});
const accOpts = (o: Partial<NtlmAcceptorOptions> = {}): NtlmAcceptorOptions => ({ userDb: users, netbiosDomain: 'EXAMPLE', ...o });
const cbt = (s: string): ChannelBindings => ({ applicationData: utf8('tls-server-end-point:' + s) });

test('raw NTLM: DOMAIN\\user authenticates, network logon, seals both ways from sequence 0', async () => {
  const ini = new NtlmInitiator(cred('EXAMPLE\\alice'));
  const acc = new NtlmAcceptor(accOpts());
  assert.equal(await handshake(ini, acc), 2);
  assert.ok(ini.complete && acc.complete);
  assert.deepEqual(acc.identity, { domain: 'EXAMPLE', user: 'alice', logonType: 'network', mechanism: 'ntlm' });
  assert.equal(acc.identity!.password, undefined, 'an NTLM logon holds no reusable credentials');
  assert.ok(acc.micReceived, 'the AUTHENTICATE carried a MIC (the CHALLENGE had a timestamp)');
  const first = await ini.wrapWinrm(utf8('a'));
  assert.deepEqual([...first.header.subarray(12)], [0, 0, 0, 0], 'raw NTLM seals its first message with sequence 0');
  await acc.unwrapWinrm(first.header, first.data);
  await exchangeMany(ini, acc);
  assert.equal(ini.encryptionProtocol, 'application/HTTP-SPNEGO-session-encrypted');
});

test('raw NTLM: user@domain (UPN), bare user with local domain, and an NT hash instead of the password', async () => {
  for (const o of [cred('alice@EXAMPLE'), cred('alice'), { credentials: { username: 'EXAMPLE\\alice', ntHash: ntHash(PASSWORD) } }]) {
    const ini = new NtlmInitiator(o);
    const acc = new NtlmAcceptor(accOpts());
    await handshake(ini, acc);
    assert.equal(acc.identity?.user, 'alice', o.credentials.username);
    await exchangeMany(ini, acc, 3);
  }
});

test('wrong password, wrong domain, unknown user -> AccessDeniedError naming user and mechanism, never the password', async () => {
  for (const [u, p] of [
    ['EXAMPLE\\alice', 'Zq9-notmine'],
    ['OTHER\\alice', PASSWORD],
    ['EXAMPLE\\bob', PASSWORD],
  ] as const) {
    for (const spnego of [false, true]) {
      const ini = spnego ? new SpnegoInitiator(cred(u, p)) : new NtlmInitiator(cred(u, p));
      const acc = spnego ? new SpnegoAcceptor(accOpts()) : new NtlmAcceptor(accOpts());
      const err = await handshake(ini, acc).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(err instanceof AccessDeniedError, `${u} ${spnego}: ${String(err)}`);
      assert.match(err.message, /NTLM/);
      assert.ok(err.message.includes(u), err.message);
      assert.ok(!err.message.includes(p) && !err.message.includes(PASSWORD), 'no password in the message');
      assert.equal(acc.complete, false);
    }
  }
});

test('SPNEGO: NegTokenInit -> CHALLENGE -> AUTHENTICATE+mechListMIC -> accept-completed+MIC; sealing starts at sequence 1', async () => {
  const ini = new SpnegoInitiator(cred('EXAMPLE\\alice'));
  const acc = new SpnegoAcceptor(accOpts());
  const t1 = (await ini.step())!;
  assert.equal(t1[0], 0x60);
  const d1 = decodeNegotiationToken(t1);
  assert.ok(d1.kind === 'init' && d1.mechTypes[0] === MechOid.NTLM);
  const t2 = (await acc.step(t1))!;
  const d2 = decodeNegotiationToken(t2);
  assert.ok(d2.kind === 'resp' && d2.negState === 1 && d2.supportedMech === MechOid.NTLM && d2.responseToken);
  const t3 = (await ini.step(t2))!;
  const d3 = decodeNegotiationToken(t3);
  assert.ok(d3.kind === 'resp' && d3.mechListMIC?.length === 16 && d3.responseToken);
  assert.equal(ini.complete, false, 'the initiator waits for the acceptor mechListMIC');
  const t4 = (await acc.step(t3))!;
  const d4 = decodeNegotiationToken(t4);
  assert.ok(d4.kind === 'resp' && d4.negState === 0 && d4.mechListMIC?.length === 16);
  assert.ok(acc.complete);
  assert.equal(await ini.step(t4), undefined);
  assert.ok(ini.complete);
  const w = await ini.wrapWinrm(utf8('first'));
  assert.deepEqual([...w.header.subarray(12)], [1, 0, 0, 0], 'after the mechListMIC the first sealed message uses sequence 1');
  assert.equal(fromUtf8(await acc.unwrapWinrm(w.header, w.data)), 'first');
  await exchangeMany(ini, acc);
  assert.equal(acc.identity?.user, 'alice');
});

test('SPNEGO initiator whose transport drops the final token still seals in step (sequence 1, reset handles)', async () => {
  const ini = new SpnegoInitiator(cred('EXAMPLE\\alice'));
  const acc = new SpnegoAcceptor(accOpts());
  const t2 = (await acc.step((await ini.step())!))!;
  await acc.step((await ini.step(t2))!); // the final token is "lost"
  await exchangeMany(ini, acc, 5);
});

test('Negotiate acceptor takes a raw NTLMSSP token under "Negotiate" (pywinrm/pypsrp style) and answers raw', async () => {
  const ini = new NtlmInitiator(cred('EXAMPLE\\alice'));
  const acc = new SpnegoAcceptor(accOpts());
  assert.equal(ini.httpScheme, 'Negotiate');
  await handshake(ini, acc);
  assert.ok(acc.complete && acc.raw);
  await exchangeMany(ini, acc);
});

test('SPNEGO acceptor when NTLM is not the preferred mechanism: request-mic, then NTLM, MICs both ways', async () => {
  const ntlm = new NtlmInitiator(cred('EXAMPLE\\alice'));
  const acc = new SpnegoAcceptor(accOpts());
  const mechTypesRaw = encodeMechTypes([MechOid.MS_KRB5, MechOid.KRB5, MechOid.NTLM]);
  const r1 = decodeNegotiationToken((await acc.step(encodeNegTokenInit({ mechTypesRaw, mechToken: utf8('optimistic kerberos token') })))!);
  assert.ok(r1.kind === 'resp' && r1.negState === 3 && r1.supportedMech === MechOid.NTLM && !r1.responseToken);
  const r2 = decodeNegotiationToken((await acc.step(encodeNegTokenResp({ responseToken: (await ntlm.step())! })))!);
  assert.ok(r2.kind === 'resp' && r2.responseToken);
  const auth = (await ntlm.step(r2.responseToken))!;
  // a missing mechListMIC is refused
  const lazy = new SpnegoAcceptor(accOpts());
  const err = await (async () => {
    const n2 = new NtlmInitiator(cred('EXAMPLE\\alice'));
    await lazy.step(encodeNegTokenInit({ mechTypesRaw, mechToken: utf8('x') }));
    const c = decodeNegotiationToken((await lazy.step(encodeNegTokenResp({ responseToken: (await n2.step())! })))!);
    assert.ok(c.kind === 'resp');
    await lazy.step(encodeNegTokenResp({ responseToken: (await n2.step(c.responseToken))! }));
  })().then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof AuthError && /mechListMIC/.test(err.message), String(err));
  const mic = ntlm.session.sign(mechTypesRaw);
  const r3 = decodeNegotiationToken((await acc.step(encodeNegTokenResp({ responseToken: auth, mechListMIC: mic })))!);
  assert.ok(r3.kind === 'resp' && r3.negState === 0 && r3.mechListMIC);
  ntlm.session.verify(mechTypesRaw, r3.mechListMIC);
  ntlm.session.resetHandles();
  await exchangeMany(ntlm, acc, 5);
});

test('channel bindings: strict match ok; mismatch denied (strict and relaxed); missing denied only when strict; none ignores', async () => {
  const run = async (mode: 'none' | 'relaxed' | 'strict', cbIni: ChannelBindings | undefined, cbAcc: ChannelBindings | undefined) => {
    const ini = new SpnegoInitiator(cred('EXAMPLE\\alice'));
    const acc = new SpnegoAcceptor(accOpts({ cbt: mode }));
    return handshake(ini, acc, cbIni, cbAcc).then(
      () => 'ok',
      (e: unknown) => e as Error,
    );
  };
  assert.equal(await run('strict', cbt('AAAA'), cbt('AAAA')), 'ok');
  for (const mode of ['strict', 'relaxed'] as const) {
    const e = await run(mode, cbt('AAAA'), cbt('BBBB'));
    assert.ok(e instanceof AccessDeniedError && /channel binding/.test(e.message), String(e));
  }
  const missing = await run('strict', undefined, cbt('AAAA'));
  assert.ok(missing instanceof AccessDeniedError && /requires channel binding/.test(missing.message), String(missing));
  assert.equal(await run('relaxed', undefined, cbt('AAAA')), 'ok');
  assert.equal(await run('none', cbt('AAAA'), cbt('BBBB')), 'ok');
  // plain HTTP: the acceptor has no bindings, so whatever the client sends is not checked
  assert.equal(await run('strict', cbt('AAAA'), undefined), 'ok');
});

test(
  'tampering: altered sealed data or signature -> ' + 'EncryptionError; altered mechListMIC -> AuthError; replay -> ' + 'EncryptionError',
  async () => {
    const ini = new SpnegoInitiator(cred('EXAMPLE\\alice'));
    const acc = new SpnegoAcceptor(accOpts());
    await handshake(ini, acc);
    const a = await ini.wrapWinrm(utf8('hello'));
    const bad = a.data.slice();
    bad[0] ^= 1;
    await assert.rejects(acc.unwrapWinrm(a.header, bad), EncryptionError);

    const ini2 = new NtlmInitiator(cred('EXAMPLE\\alice'));
    const acc2 = new NtlmAcceptor(accOpts());
    await handshake(ini2, acc2);
    const m = await ini2.wrapWinrm(utf8('once'));
    await acc2.unwrapWinrm(m.header, m.data);
    await assert.rejects(acc2.unwrapWinrm(m.header, m.data), EncryptionError);
    await assert.rejects(acc2.unwrapWinrm(new Uint8Array(5), m.data), EncryptionError);

    const ini3 = new SpnegoInitiator(cred('EXAMPLE\\alice'));
    const acc3 = new SpnegoAcceptor(accOpts());
    const t2 = (await acc3.step((await ini3.step())!))!;
    const t3 = (await ini3.step(t2))!;
    const d3 = decodeNegotiationToken(t3);
    assert.ok(d3.kind === 'resp');
    d3.mechListMIC![5] ^= 0xff;
    await assert.rejects(acc3.step(encodeNegTokenResp({ responseToken: d3.responseToken!, mechListMIC: d3.mechListMIC! })), AuthError);
  },
);

test('newContext() gives a fresh context with the same credentials (re-auth on a new connection)', async () => {
  const ini = new SpnegoInitiator(cred('EXAMPLE\\alice'));
  await handshake(ini, new SpnegoAcceptor(accOpts()));
  const again = ini.newContext();
  assert.equal(again.complete, false);
  const acc = new SpnegoAcceptor(accOpts());
  await handshake(again, acc);
  await exchangeMany(again, acc, 3);
});

test('an NT hash of the wrong length is refused up front (InvalidArgumentError), without echoing it', async () => {
  const { InvalidArgumentError } = await import('../../src/errors.js');
  assert.throws(
    () => new NtlmInitiator({ credentials: { username: 'EXAMPLE\\alice', ntHash: new Uint8Array(15).fill(0xab) } }),
    (e: Error) => e instanceof InvalidArgumentError && !/abab/i.test(e.message),
  );
});

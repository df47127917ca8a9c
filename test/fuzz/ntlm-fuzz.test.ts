// Bad input for every NTLM / SPNEGO decoder and for both roles' step(): random bytes, every truncation, bit flips.
// Expected: a typed AuthError / EncryptionError (never a crash, RangeError, hang or silent acceptance).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AuthError, EncryptionError, WinRMError } from '../../src/errors.js';
import {
  decodeAuthenticate,
  decodeAvPairs,
  decodeChallenge,
  decodeNegotiate,
  decodeClientChallenge,
} from '../../src/auth/ntlm/messages.js';
import { decodeNegotiationToken } from '../../src/auth/spnego/tokens.js';
import { NtlmInitiator } from '../../src/auth/ntlm/initiator.js';
import { NtlmAcceptor } from '../../src/auth/ntlm/acceptor.js';
import { SpnegoAcceptor, SpnegoInitiator } from '../../src/auth/spnego/context.js';
import type { UserDatabase } from '../../src/auth/types.js';
import { fuzzRandom } from '../helpers/fuzz.js';

const fz = fuzzRandom('ntlm-fuzz.test.ts');

const users: UserDatabase = {
  lookup: (d, u) => (u.toLowerCase() === 'alice' ? { domain: 'EXAMPLE', user: 'alice', password: 'Passw0rd!' } : undefined),
};
const creds = { credentials: { username: 'EXAMPLE\\alice', password: 'Passw0rd!' } };

// deterministic PRNG (xorshift32) so failures reproduce
function prng(seed: number) {
  let s = seed >>> 0 || 1;
  return (n: number) => {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      s ^= s << 13;
      s >>>= 0;
      s ^= s >>> 17;
      s ^= s << 5;
      s >>>= 0;
      b[i] = s & 0xff;
    }
    return b;
  };
}

function expectTyped(f: () => unknown, what: string): void {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof WinRMError, `${what}: ${e instanceof Error ? e.stack : String(e)}`);
    assert.ok(e instanceof AuthError || e instanceof EncryptionError, `${what}: ${(e as Error).name} ${(e as Error).message}`);
    assert.ok((e as Error).message.length > 10);
  }
}

/** Real tokens of a full handshake to mutate. */
async function realTokens(): Promise<{
  neg: Uint8Array;
  chal: Uint8Array;
  auth: Uint8Array;
  sInit: Uint8Array;
  sChal: Uint8Array;
  sAuth: Uint8Array;
  sFinal: Uint8Array;
}> {
  const i = new NtlmInitiator(creds);
  const a = new NtlmAcceptor({ userDb: users });
  const neg = (await i.step())!;
  const chal = (await a.step(neg))!;
  const auth = (await i.step(chal))!;
  const si = new SpnegoInitiator(creds);
  const sa = new SpnegoAcceptor({ userDb: users });
  const sInit = (await si.step())!;
  const sChal = (await sa.step(sInit))!;
  const sAuth = (await si.step(sChal))!;
  const sFinal = (await sa.step(sAuth))!;
  return { neg, chal, auth, sInit, sChal, sAuth, sFinal };
}

const decoders: Array<[string, (b: Uint8Array) => unknown]> = [
  ['decodeNegotiate', decodeNegotiate],
  ['decodeChallenge', decodeChallenge],
  ['decodeAuthenticate', decodeAuthenticate],
  ['decodeAvPairs', (b) => decodeAvPairs(b)],
  ['decodeClientChallenge', decodeClientChallenge],
  ['decodeNegotiationToken', decodeNegotiationToken],
];

test('decoders: random bytes (with and without a valid NTLMSSP/SPNEGO prefix) -> typed error or a value', () => {
  const rnd = prng(fz.int31());
  const prefixes = [
    new Uint8Array(0),
    new Uint8Array([0x4e, 0x54, 0x4c, 0x4d, 0x53, 0x53, 0x50, 0, 1, 0, 0, 0]),
    new Uint8Array([0x4e, 0x54, 0x4c, 0x4d, 0x53, 0x53, 0x50, 0, 2, 0, 0, 0]),
    new Uint8Array([0x4e, 0x54, 0x4c, 0x4d, 0x53, 0x53, 0x50, 0, 3, 0, 0, 0]),
    new Uint8Array([0x60, 0x30, 0x06, 0x06, 0x2b, 6, 1, 5, 5, 2]),
    new Uint8Array([0xa1, 0x81]),
  ];
  for (let k = 0; k < 300; k++) {
    const p = prefixes[k % prefixes.length]!;
    const r = rnd(1 + (k % 130));
    const b = new Uint8Array(p.length + r.length);
    b.set(p);
    b.set(r, p.length);
    for (const [name, d] of decoders) expectTyped(() => d(b), `${name} #${k}`);
  }
});

test('decoders and step(): every truncation and single bit flips of real tokens', async () => {
  const t = await realTokens();
  const cases: Array<[string, Uint8Array, (b: Uint8Array) => unknown]> = [
    ['NEGOTIATE', t.neg, decodeNegotiate],
    ['CHALLENGE', t.chal, decodeChallenge],
    ['AUTHENTICATE', t.auth, decodeAuthenticate],
    ['NegTokenInit', t.sInit, decodeNegotiationToken],
    ['NegTokenResp(chal)', t.sChal, decodeNegotiationToken],
    ['NegTokenResp(auth)', t.sAuth, decodeNegotiationToken],
    ['NegTokenResp(final)', t.sFinal, decodeNegotiationToken],
  ];
  for (const [name, tok, dec] of cases) {
    for (let n = 0; n < tok.length; n++) expectTyped(() => dec(tok.subarray(0, n)), `${name} cut at ${n}`);
    for (let bit = 0; bit < tok.length * 8; bit += 3) {
      const m = tok.slice();
      m[bit >> 3]! ^= 1 << (bit & 7);
      expectTyped(() => dec(m), `${name} bit ${bit}`);
    }
  }
});

test('initiator fed a garbage / truncated / flipped CHALLENGE -> AuthError, never an exception of another kind', async () => {
  const t = await realTokens();
  for (let n = 0; n < t.chal.length; n += 1) {
    const i = new NtlmInitiator(creds);
    await i.step();
    await i.step(t.chal.subarray(0, n)).catch((e: unknown) => assert.ok(e instanceof AuthError, `cut ${n}: ${String(e)}`));
  }
  for (let n = 0; n < t.sChal.length; n += 1) {
    const i = new SpnegoInitiator(creds);
    await i.step();
    await i.step(t.sChal.subarray(0, n)).catch((e: unknown) => assert.ok(e instanceof AuthError, `spnego cut ${n}: ${String(e)}`));
  }
});

test('acceptor fed truncated / flipped AUTHENTICATE -> AuthError (AccessDenied for a wrong proof), never accepts', async () => {
  const t = await realTokens();
  let accepted = 0;
  const variants: Uint8Array[] = [];
  for (let n = 0; n < t.auth.length; n += 2) variants.push(t.auth.subarray(0, n));
  for (let byte = 0; byte < t.auth.length; byte++) {
    const m = t.auth.slice();
    m[byte]! ^= 0x41;
    variants.push(m);
  }
  for (const v of variants) {
    // replay against a fresh acceptor that issued a different challenge: must never succeed
    const a = new NtlmAcceptor({ userDb: users });
    await a.step(t.neg);
    try {
      await a.step(v);
      accepted++;
    } catch (e) {
      assert.ok(e instanceof AuthError, String(e));
    }
  }
  assert.equal(accepted, 0);
  const sa = new SpnegoAcceptor({ userDb: users });
  for (let n = 0; n < t.sInit.length; n++) {
    await new SpnegoAcceptor({ userDb: users })
      .step(t.sInit.subarray(0, n))
      .catch((e: unknown) => assert.ok(e instanceof AuthError, String(e)));
  }
  await assert.rejects(sa.step(new Uint8Array(0)), AuthError);
});

test('unwrapWinrm with garbage headers/data -> EncryptionError', async () => {
  const i = new NtlmInitiator(creds);
  const a = new NtlmAcceptor({ userDb: users });
  await a.step((await i.step(undefined))!).then(async (c) => a.step((await i.step(c))!));
  const rnd = prng(fz.int31());
  for (let k = 0; k < 50; k++) await assert.rejects(a.unwrapWinrm(rnd(k % 20), rnd(k * 3)), EncryptionError);
});
